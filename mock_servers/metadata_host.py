"""The metadata host (M): serves client documents over TLS and logs every fetch.

One ASGI app stands behind three listeners on loopback: TLS with a certificate from the
suite's CA (the one the target trusts), plain HTTP (for checks that an ``http`` client_id is
never fetched), and TLS with a certificate from a CA the target does not trust. Each check
asks for a fresh client URL, so the target's caches never leak between checks.
"""

from __future__ import annotations

import asyncio
import itertools
import secrets
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from mock_servers.hosting import JSON_HEADERS, Fetch, Hosting
from mock_servers.pki import TestCA
from mock_servers.runner import Receive, Scope, Send, Server

CALLBACK_PATH = "/cb"
CALLBACK_PAGE = Hosting(
    headers=(("content-type", "text/html; charset=utf-8"), ("cache-control", "no-store")),
    body=b"<!doctype html><title>Callback</title><p>Authorization response received.</p>",
)
NOT_FOUND = Hosting(status=404, headers=(("content-type", "text/plain"),), body=b"not found")


@dataclass(frozen=True)
class PublicUrls:
    """Where a remote target reaches the listeners (through a tunnel or a proxy).

    Attributes:
        tls: the base URL of the trusted TLS listener, e.g. ``https://m.example.test``.
        plain: the plain-HTTP listener's, if it is reachable too.
        untrusted: the untrusted-CA listener's, if it is reachable too.
    """

    tls: str
    plain: str | None = None
    untrusted: str | None = None

    def hosts(self) -> tuple[str, ...]:
        """The host names in the URLs (for the certificates)."""
        urls = (self.tls, self.plain, self.untrusted)
        return tuple(dict.fromkeys(urlsplit(u).hostname or "" for u in urls if u))


def _key(url_or_target: str) -> str:
    """The hosting key of a URL: its raw path and query, without any fragment."""
    if "://" not in url_or_target:
        return url_or_target.split("#", 1)[0]
    rest = url_or_target.split("://", 1)[1].split("#", 1)[0]
    slash, query = rest.find("/"), rest.find("?")
    if slash == -1 or (query != -1 and query < slash):
        return "/" + (rest[query:] if query != -1 else "")
    return rest[slash:]


class MetadataHost:
    """The suite's TLS server for client documents, with a fetch log.

    Args:
        ca: the CA the target trusts; the TLS listener's certificate comes from it.
        host: the address to bind (loopback, or the lab's metadata address).
        name: the DNS name in its URLs (default: the address itself); the certificate also
            covers every name under ``*.`` + ``name``'s parent zone, so lab names that the
            lab DNS points at this host are served with a valid certificate.
        alias: a second name for this host (``localhost`` on loopback), for checks that need
            "the same document on another host name".
        port: the TLS listener's port (0: any free port).
        plain_port: the plain-HTTP listener's port (0: any free port), for a tunnel.
        untrusted_port: the untrusted-CA listener's port (0: any free port), for a tunnel.
        cache_control: when given, sent instead of ``no-store`` with every document served
            with the default JSON headers (the run's pacing), so a target that limits its
            fetches may cache; documents with headers of their own keep them.
        public: the URLs a remote target reaches the listeners at, when they differ from the
            bound addresses; :attr:`base_url` and the others then use them.
    """

    def __init__(
        self,
        ca: TestCA,
        host: str = "127.0.0.1",
        name: str | None = None,
        alias: str = "localhost",
        *,
        port: int = 0,
        public: PublicUrls | None = None,
        plain_port: int = 0,
        untrusted_port: int = 0,
        cache_control: str = "",
    ) -> None:
        self._lock = threading.Lock()
        self._cache_control = cache_control
        self._hostings: dict[str, Hosting] = {CALLBACK_PATH: CALLBACK_PAGE}
        self._fetches: list[Fetch] = []
        self._counter = itertools.count(1)
        self._run = secrets.token_hex(3)
        self._dir = Path(tempfile.mkdtemp(prefix="cimd-metadata-host-"))
        self._untrusted_ca = TestCA.untrusted(self._dir)
        names: tuple[str, ...] = (host, alias) if host != alias else (host,)
        if name is not None:
            names = (name, "*." + name.split(".", 1)[1], *names)
        if public is not None:
            names = (*public.hosts(), *names)
        self.address = host
        self.alias = alias
        self.public = public
        bound: list[Server] = []
        try:  # a port that cannot be bound: close the listeners already bound
            self._tls = Server(
                self._app("tls"), host, port, ca.issue_server_pem(self._dir, names), name
            )
            bound.append(self._tls)
            self._plain = Server(self._app("plain"), host, plain_port, name=name)
            bound.append(self._plain)
            self._untrusted = Server(
                self._app("untrusted"),
                host,
                untrusted_port,
                self._untrusted_ca.issue_server_pem(self._dir, names),
                name,
            )
        except BaseException:
            for server in bound:
                server.stop()
            shutil.rmtree(self._dir, ignore_errors=True)
            raise

    @property
    def base_url(self) -> str:
        """The trusted TLS origin, e.g. ``https://127.0.0.1:40123`` (or the public URL)."""
        return self.public.tls.rstrip("/") if self.public else self._tls.base_url

    @property
    def alias_base_url(self) -> str:
        """The trusted TLS origin under :attr:`alias`, e.g. ``https://localhost:40123``."""
        if self.public:  # a remote target knows the host by its public name only
            return self.base_url
        return f"https://{self.alias}:{self.port}"

    @property
    def port(self) -> int:
        """The trusted TLS listener's port."""
        return self._tls.port

    @property
    def host_name(self) -> str:
        """The host in :attr:`base_url`: a DNS name in the lab, else the bound address."""
        if self.public:
            return urlsplit(self.public.tls).hostname or self._tls.name
        return self._tls.name

    @property
    def plain_base_url(self) -> str:
        """The plain-HTTP origin (same app, same fetch log)."""
        if self.public and self.public.plain:
            return self.public.plain.rstrip("/")
        return self._plain.base_url

    @property
    def untrusted_base_url(self) -> str:
        """A TLS origin whose certificate comes from a CA the target does not trust."""
        if self.public and self.public.untrusted:
            return self.public.untrusted.rstrip("/")
        return self._untrusted.base_url

    @property
    def reaches_plain(self) -> bool:
        """Whether the target can reach the plain-HTTP listener at :attr:`plain_base_url`."""
        return self.public is None or self.public.plain is not None

    @property
    def reaches_untrusted(self) -> bool:
        """Whether the target can reach the untrusted-CA listener."""
        return self.public is None or self.public.untrusted is not None

    def start(self) -> MetadataHost:
        """Start all three listeners."""
        for server in (self._tls, self._plain, self._untrusted):
            server.start()
        return self

    def stop(self) -> None:
        """Stop all listeners; remove their certificates and keys."""
        for server in (self._tls, self._plain, self._untrusted):
            server.stop()
        shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> MetadataHost:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def new_client_url(self, name: str = "client.json", *, base: str | None = None) -> str:
        """A fresh, never-used client URL on this host."""
        return f"{base or self.base_url}/c/{self._run}-{next(self._counter):04d}/{name}"

    def new_path(self, name: str = "cb") -> str:
        """A fresh path on this host (for callbacks and redirect targets)."""
        return f"/p/{self._run}-{next(self._counter):04d}/{name}"

    def serve(self, url: str, hosting: Hosting) -> None:
        """Answer requests for ``url`` (path and query; any listener) with ``hosting``."""
        with self._lock:
            self._hostings[_key(url)] = hosting

    def serve_document(self, url: str, doc: object, **changes: Any) -> None:
        """Serve ``doc`` as JSON at ``url`` (``changes`` override Hosting fields)."""
        self.serve(url, Hosting.document(doc, **changes))

    def serve_redirect(self, url: str, *, to: str, status: int = 302) -> None:
        """Answer ``url`` with a redirect to ``to``."""
        self.serve(url, Hosting.redirect(to, status=status))

    def fetches(self, url: str | None = None) -> list[Fetch]:
        """Every logged request, or only those whose target is exactly ``url``'s key."""
        with self._lock:
            logged = list(self._fetches)
        return logged if url is None else [f for f in logged if f.target == _key(url)]

    def fetch_count(self, url: str) -> int:
        """How many requests the target made for ``url``."""
        return len(self.fetches(url))

    def fetches_since(self, mark: int) -> list[Fetch]:
        """The requests logged after :meth:`mark` returned ``mark``."""
        with self._lock:
            return list(self._fetches[mark:])

    def mark(self) -> int:
        """A position in the fetch log, for :meth:`fetches_since`."""
        with self._lock:
            return len(self._fetches)

    def connections(self) -> tuple[int, int]:
        """(TCP connections accepted, connections past the TLS handshake) on the TLS listener."""
        return self._tls.connections.snapshot()

    def raise_crash(self) -> None:
        """Re-raise an exception the host's app raised while serving."""
        for server in (self._tls, self._plain, self._untrusted):
            server.raise_crash()

    def _headers(self, hosting: Hosting) -> tuple[tuple[str, str], ...]:
        """The headers to send: the pacing's ``Cache-Control`` with default JSON documents."""
        if self._cache_control and hosting.status == 200 and hosting.headers == JSON_HEADERS:
            return (JSON_HEADERS[0], ("cache-control", self._cache_control))
        return hosting.headers

    def _app(self, listener: str):  # type: ignore[no-untyped-def]
        async def app(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == "lifespan":
                await _lifespan(receive, send)
                return
            if scope["type"] != "http":
                return
            fetch = self._log(listener, scope)
            with self._lock:
                hosting = self._hostings.get(fetch.target, NOT_FOUND)
            fetch.answered = hosting.status
            if hosting.delay_s:
                await asyncio.sleep(hosting.delay_s)
            headers = [(k.encode(), v.encode()) for k, v in self._headers(hosting)]
            if not any(k == "content-length" for k, _ in hosting.headers):
                headers.append((b"content-length", str(len(hosting.body)).encode()))
            await send(
                {"type": "http.response.start", "status": hosting.status, "headers": headers}
            )
            await send({"type": "http.response.body", "body": hosting.body})

        return app

    def _log(self, listener: str, scope: Scope) -> Fetch:
        raw_path = scope.get("raw_path") or scope["path"].encode()
        query = scope.get("query_string", b"")
        target = raw_path.decode("latin-1") + ("?" + query.decode("latin-1") if query else "")
        headers = [(k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in scope["headers"]]
        host = next((v for k, v in headers if k in ("host", ":authority")), "")
        client = scope.get("client") or ("?", 0)
        server = {"tls": self._tls, "untrusted": self._untrusted}.get(listener)
        fetch = Fetch(
            listener=listener,
            method=scope["method"],
            target=target,
            host=host,
            headers=headers,
            client=f"{client[0]}:{client[1]}",
            at=time.monotonic(),
            http_version=scope.get("http_version", "1.1"),
            sni=server.connections.server_name(client) if server is not None else None,
        )
        with self._lock:
            self._fetches.append(fetch)
        return fetch


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
