"""The fetch log: one record per request the target made to the metadata host."""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass, field

# Parameters whose values never reach a fetch log summary (the same names the suite redacts).
from cimd_rules.secret_params import SECRET_PARAMS as SECRET_PARAMS

_SECRET_PARAM = re.compile(rf"([?&#;]({'|'.join(SECRET_PARAMS)})=)[^&#]*", re.IGNORECASE)


def redact_secret_params(url: str) -> str:
    """``url`` (or a request target) with secret query and fragment values replaced."""
    return _SECRET_PARAM.sub(lambda m: m.group(1) + "[redacted]", url)


@dataclass
class Fetch:
    """One request the target made to the metadata host, and the answer it got.

    The request fields are set when the request arrives; the answer fields while it is sent
    (the server's thread writes them, a check reads them once the target has answered).

    Attributes:
        listener: which listener saw it: ``tls``, ``plain``, ``untrusted``, ``expired``,
            ``wrong-name`` or ``self-signed``.
        method: the request method.
        target: the raw request target as sent (path and query, or an absolute URL); a
            lone ``?`` with an empty query is not told apart from none.
        host: the Host header (or HTTP/2 ``:authority``).
        headers: all request headers, as received (names lower-case).
        client: the source address and port.
        at: monotonic time of arrival.
        http_version: the HTTP version used (``1.0``, ``1.1``, ``2``).
        answered: the status sent (``None``: no status line was sent, not yet or never, as
            for a silent hosting or a client that left first; 304 when a conditional request
            matched).
        sni: the TLS server name the connection's handshake sent (``None``: none was sent,
            as for an IP-literal host, or plain HTTP).
        bytes_sent: response body bytes handed to the connection (compressed bytes for a
            gzip body; the connection's buffers may still have held up to some 100 KiB).
        disconnected: the client closed the connection before the answer was complete.
        capped: the hosting's safety cap (bytes or seconds) ended the answer.
        step: which step of a hosting sequence answered (1-based; 1 for a single hosting).
        ended: monotonic time the answer ended (``None``: still being sent).
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
    bytes_sent: int = 0
    disconnected: bool = False
    capped: bool = False
    step: int = 1
    ended: float | None = None

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
            "bytes_sent": self.bytes_sent,
            "disconnected": self.disconnected,
            "capped": self.capped,
            "step": self.step,
            "duration_s": None if self.ended is None else round(self.ended - self.at, 3),
            "headers": headers,
        }

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (case-insensitive), if any."""
        lower = name.lower()
        return next((v for k, v in self.headers if k == lower), None)

    def header_values(self, name: str) -> list[str]:
        """Every value of header ``name`` (case-insensitive), in order."""
        lower = name.lower()
        return [v for k, v in self.headers if k == lower]

    @property
    def path(self) -> str:
        """The request target's path (an absolute-form target's path too)."""
        return self.target.split("?", 1)[0] if "://" not in self.target else _path(self.target)

    @property
    def query(self) -> str | None:
        """The raw query after ``?`` (``None``: no query)."""
        return self.target.split("?", 1)[1] if "?" in self.target else None

    @property
    def accept(self) -> str | None:
        """The ``Accept`` header (CIMD-FETCH-09 records it)."""
        return self.header("accept")

    @property
    def accept_encoding(self) -> str | None:
        """The ``Accept-Encoding`` header."""
        return self.header("accept-encoding")

    @property
    def user_agent(self) -> str | None:
        """The ``User-Agent`` header."""
        return self.header("user-agent")

    @property
    def if_none_match(self) -> str | None:
        """The ``If-None-Match`` header of a conditional request."""
        return self.header("if-none-match")

    @property
    def if_modified_since(self) -> str | None:
        """The ``If-Modified-Since`` header of a conditional request."""
        return self.header("if-modified-since")

    @property
    def conditional(self) -> bool:
        """Whether the request was conditional (``If-None-Match`` or ``If-Modified-Since``)."""
        return self.if_none_match is not None or self.if_modified_since is not None

    @property
    def complete(self) -> bool:
        """Whether the whole answer was sent (not cut short by the client or the cap)."""
        return self.ended is not None and not (self.disconnected or self.capped)


def hosting_key(url_or_target: str) -> str:
    """The key a URL is hosted and logged under: its raw path and query, without fragment.

    A request target in absolute form (``GET https://host/path``) has the same key as its
    path, so it is answered and found like one in origin form.
    """
    if "://" not in url_or_target:
        return url_or_target.split("#", 1)[0]
    rest = url_or_target.split("://", 1)[1].split("#", 1)[0]
    slash, query = rest.find("/"), rest.find("?")
    if slash == -1 or (query != -1 and query < slash):
        return "/" + (rest[query:] if query != -1 else "")
    return rest[slash:]


class FetchLog:
    """Every request in arrival order; safe to read while the servers' threads write."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._fetches: list[Fetch] = []

    def add(self, fetch: Fetch) -> None:
        """Log one request."""
        with self._lock:
            self._fetches.append(fetch)

    def fetches(self, url: str | None = None) -> list[Fetch]:
        """Every logged request, or only those whose key (path and query) is ``url``'s."""
        with self._lock:
            logged = list(self._fetches)
        if url is None:
            return logged
        key = hosting_key(url)
        return [f for f in logged if hosting_key(f.target) == key]

    def since(self, mark: int) -> list[Fetch]:
        """The requests logged after position ``mark``."""
        with self._lock:
            return list(self._fetches[mark:])

    def mark(self) -> int:
        """The current position in the log."""
        with self._lock:
            return len(self._fetches)

    def settle(self, url: str | None = None, *, timeout_s: float = 5.0) -> bool:
        """Wait until every logged answer (for ``url``) has ended; False on timeout.

        A client may hold the last byte before the server's thread has recorded it: call
        this before judging ``bytes_sent``, ``disconnected`` or ``capped``.
        """
        deadline = time.monotonic() + timeout_s
        while any(f.ended is None for f in self.fetches(url)):
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.01)
        return True


def _path(url: str) -> str:
    rest = url.split("://", 1)[1]
    slash = rest.find("/")
    return "/" if slash == -1 else rest[slash:].split("?", 1)[0]
