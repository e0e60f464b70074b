"""How the metadata host answers one URL: hosting is data, not code."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from typing import Any

# Parameters whose values never reach a fetch log summary (the same names the suite redacts).
from cimd_rules.secret_params import SECRET_PARAMS as SECRET_PARAMS  # re-exported for callers

_SECRET_PARAM = re.compile(rf"([?&#;]({'|'.join(SECRET_PARAMS)})=)[^&#]*", re.IGNORECASE)


def redact_secret_params(url: str) -> str:
    """``url`` (or a request target) with secret query and fragment values replaced."""
    return _SECRET_PARAM.sub(lambda m: m.group(1) + "[redacted]", url)


JSON_HEADERS: tuple[tuple[str, str], ...] = (
    ("content-type", "application/json"),
    ("cache-control", "no-store"),
)


@dataclass(frozen=True)
class Hosting:
    """One URL's answer: status, headers, body and timing.

    Attributes:
        status: the HTTP status code.
        headers: response headers, in order (names lower-case).
        body: the response body bytes.
        delay_s: seconds to wait before answering.
    """

    status: int = 200
    headers: tuple[tuple[str, str], ...] = JSON_HEADERS
    body: bytes = b""
    delay_s: float = 0.0

    @classmethod
    def document(cls, doc: Any, *, status: int = 200, **changes: Any) -> Hosting:
        """A JSON body (any JSON value) served with ``application/json`` and ``no-store``."""
        return replace(cls(status=status, body=json.dumps(doc).encode()), **changes)

    @classmethod
    def raw(
        cls, body: bytes, *, content_type: str = "application/json", status: int = 200
    ) -> Hosting:
        """An arbitrary body with the given content type."""
        return cls(
            status=status,
            body=body,
            headers=(("content-type", content_type), ("cache-control", "no-store")),
        )

    @classmethod
    def redirect(cls, to: str, *, status: int = 302) -> Hosting:
        """A redirect to ``to``."""
        return cls(
            status=status, body=b"", headers=(("location", to), ("cache-control", "no-store"))
        )


@dataclass
class Fetch:
    """One request the target made to the metadata host.

    Attributes:
        listener: which listener saw it: ``tls``, ``plain`` or ``untrusted``.
        method: the request method.
        target: the raw request target (path and query).
        host: the Host header (or HTTP/2 ``:authority``).
        headers: all request headers, as received.
        client: the source address and port.
        at: monotonic time of arrival.
        http_version: the HTTP version used.
        sni: the TLS server name the connection's handshake sent (``None``: none was sent,
            as for an IP-literal host, or plain HTTP).
    """

    listener: str
    method: str
    target: str
    host: str
    headers: list[tuple[str, str]]
    client: str
    at: float
    http_version: str = "1.1"
    answered: int | None = field(default=None)
    sni: str | None = None

    def summary(self) -> dict[str, object]:
        """A JSON-ready record, with credentials, cookies and secret parameters replaced.

        The request target and the Referer header lose the values of parameters named like
        secrets (a callback URL carries the authorization code, in its query or fragment).
        """
        secret = ("authorization", "cookie", "proxy-authorization")
        headers = [
            (k, "[redacted]" if k in secret else redact_secret_params(v) if k == "referer" else v)
            for k, v in self.headers
        ]
        return {
            "listener": self.listener,
            "method": self.method,
            "target": redact_secret_params(self.target),
            "host": self.host,
            "client": self.client,
            "http_version": self.http_version,
            "sni": self.sni,
            "answered": self.answered,
            "headers": headers,
        }

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (case-insensitive), if any."""
        lower = name.lower()
        return next((v for k, v in self.headers if k == lower), None)
