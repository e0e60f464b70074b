"""The target: the authorization server under test, found from its issuer (RFC 8414).

Discovery probes the well-known URLs in the order MCP clients use (MCP 2025-11-25 §4.3):
RFC 8414 with path insertion first, then the OpenID Connect variants. Every probe is kept as
evidence, so MCP-AUTH-02 and the preflight can say exactly what each URL answered.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx

from conformance.catalog.verdicts import HarnessError
from conformance.target.deadline import Clock, Unanswered, send


@dataclass(frozen=True)
class Probe:
    """One discovery request and what it answered."""

    url: str
    status: int | None
    content_type: str = ""
    error: str = ""
    document: dict[str, Any] | None = None
    body: str = ""

    def describe(self) -> str:
        """What the URL answered, in a few words."""
        if self.status is None:
            return self.error
        return f"{self.status}, {self.body}" if self.body else str(self.status)


@dataclass(frozen=True)
class Target:
    """The target as discovered: its issuer, metadata and where the metadata came from."""

    issuer: str
    metadata: dict[str, Any]
    metadata_url: str
    probes: tuple[Probe, ...] = field(default=())

    @property
    def authorization_endpoint(self) -> str:
        """The ``authorization_endpoint`` from the metadata."""
        return self._endpoint("authorization_endpoint")

    @property
    def token_endpoint(self) -> str:
        """The ``token_endpoint`` from the metadata."""
        return self._endpoint("token_endpoint")

    def published(self) -> list[tuple[str, dict[str, Any]]]:
        """Every metadata document discovery found, as (URL, document), in MCP §4.3 order.

        RFC 8414 metadata and OpenID Connect discovery may both be published (all the
        well-known URLs are probed); MCP clients may read either. A JSON object without an
        ``issuer`` (which both specifications require) is not taken for metadata.
        """
        found = [(p.url, p.document) for p in self.probes if p.document and "issuer" in p.document]
        return found or [(self.metadata_url, self.metadata)]

    def _endpoint(self, name: str) -> str:
        value = self.metadata.get(name)
        if not isinstance(value, str) or not value.startswith(("https://", "http://")):
            raise HarnessError(
                f"the target's metadata ({self.metadata_url}) has no usable {name}: {value!r}"
            )
        return value


def well_known_urls(issuer: str) -> list[str]:
    """The metadata URLs for ``issuer``, in MCP 2025-11-25 §4.3 order."""
    parts = urlsplit(issuer)
    origin = f"{parts.scheme}://{parts.netloc}"
    path = parts.path.rstrip("/")
    if not path:
        return [
            f"{origin}/.well-known/oauth-authorization-server",
            f"{origin}/.well-known/openid-configuration",
        ]
    return [
        f"{origin}/.well-known/oauth-authorization-server{path}",
        f"{origin}/.well-known/openid-configuration{path}",
        f"{origin}{path}/.well-known/openid-configuration",
    ]


def probe(client: httpx.Client, url: str, clock: Clock | None = None) -> Probe:
    """GET one well-known URL and keep what it answered.

    Raises:
        Unanswered: the check or run deadline fired (an exchange that ran out of time, or a
            failed connection, is kept as the probe's error instead).
    """
    clock = clock or Clock()
    try:
        response = send(
            client, "GET", url, clock.exchange(), headers={"accept": "application/json"}
        )
    except Unanswered as exc:
        if exc.deadline is not None and exc.deadline.name != "exchange":
            raise
        return Probe(url, None, error=str(exc))
    except HarnessError as exc:
        return Probe(url, None, error=str(exc))
    content_type = response.headers.get("content-type", "")
    document, body = None, ""
    if response.status_code == 200:
        try:
            parsed = response.json()
        except ValueError:
            parsed, body = None, f"not JSON ({content_type or 'no content-type'})"
        document = parsed if isinstance(parsed, dict) else None
        if document is None and not body:
            body = f"a JSON {_json_kind(parsed)}, not an object"
    return Probe(url, response.status_code, content_type, document=document, body=body)


def _json_kind(value: object) -> str:
    kinds: tuple[tuple[type, str], ...] = ((list, "array"), (str, "string"), (bool, "boolean"))
    kinds += ((int, "number"), (float, "number"))
    return next((name for kind, name in kinds if isinstance(value, kind)), "null")


def discover(client: httpx.Client, issuer: str, clock: Clock | None = None) -> Target:
    """Find the target's metadata from its issuer, each probe within ``clock``'s deadlines.

    Raises:
        HarnessError: no well-known URL answered with a JSON object; the message lists
            what each one answered.
    """
    probes = [probe(client, url, clock) for url in well_known_urls(issuer)]
    for found in probes:
        if found.document is not None:
            return Target(issuer, found.document, found.url, tuple(probes))
    lines = "; ".join(f"{p.url} -> {p.describe()}" for p in probes)
    untrusted = [p for p in probes if "CERTIFICATE_VERIFY_FAILED" in p.error]
    if untrusted:
        raise HarnessError(
            f"the suite does not trust the target's TLS certificate ({untrusted[0].url}: "
            f"{untrusted[0].error}). Give the target's CA with --target-ca FILE (or target_ca in "
            "the target file)."
        )
    unreachable = all(p.status is None for p in probes)
    cause = "the target is unreachable" if unreachable else "no authorization server metadata"
    if unreachable and any("deadline" in p.error for p in probes):
        cause = "the target did not answer in time"
    raise HarnessError(f"{cause} ({lines}). Check --issuer and that the target is running.")
