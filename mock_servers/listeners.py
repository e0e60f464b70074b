"""The metadata host's listeners: which ones exist, their certificates, their public URLs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from mock_servers.pki import TestCA, self_signed_pem

BadTls = Literal["expired", "wrong-name", "self-signed", "untrusted"]
BAD_TLS: tuple[BadTls, ...] = ("expired", "wrong-name", "self-signed", "untrusted")
"""The TLS listeners a target must refuse (CIMD-FETCH-05), by the name their fetches carry."""
BAD_TLS_FIELDS = ("expired", "wrong_name", "self_signed")
"""The bad-TLS listeners made here, as field and setting names (``<field>_port``...)."""


@dataclass(frozen=True)
class PublicUrls:
    """Where a remote target reaches the listeners (through a tunnel or a proxy).

    Attributes:
        tls: the base URL of the trusted TLS listener, e.g. ``https://m.example.test``.
        plain: the plain-HTTP listener's, if it is reachable too.
        untrusted: the untrusted-CA listener's, if it is reachable too.
        expired: the expired-certificate listener's, if it is reachable too.
        wrong_name: the wrong-name listener's, if it is reachable too.
        self_signed: the self-signed listener's, if it is reachable too.
    """

    tls: str
    plain: str | None = None
    untrusted: str | None = None
    expired: str | None = None
    wrong_name: str | None = None
    self_signed: str | None = None

    def hosts(self) -> tuple[str, ...]:
        """The host names in the URLs (for the certificates)."""
        urls: tuple[str | None, ...] = (self.tls, self.plain, self.untrusted, self.expired)
        urls += (self.wrong_name, self.self_signed)
        return tuple(dict.fromkeys(urlsplit(u).hostname or "" for u in urls if u))

    def bad_tls(self, kind: BadTls) -> str | None:
        """The public URL of bad-TLS listener ``kind``, if it is reachable."""
        url: str | None = getattr(self, kind.replace("-", "_"))
        return url


def bad_certificate(kind: BadTls, ca: TestCA, directory: Path, names: tuple[str, ...]) -> Path:
    """Key and certificate (one PEM file) for bad-TLS listener ``kind`` serving ``names``.

    ``untrusted`` is made with the metadata host's own untrusted CA, not here.
    """
    if kind == "expired":
        return ca.issue_expired_pem(directory, names)
    if kind == "wrong-name":
        return ca.issue_wrong_name_pem(directory)
    if kind == "self-signed":
        return self_signed_pem(directory, names)
    raise ValueError(f"no bad certificate named {kind!r}")
