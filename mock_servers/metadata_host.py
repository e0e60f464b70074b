"""The metadata host (M): serves client documents over TLS and logs every fetch.

One ASGI app stands behind several listeners on loopback: TLS with a certificate from the
suite's CA (the one the target trusts), plain HTTP (for checks that an ``http`` client_id is
never fetched), TLS with a certificate from a CA the target does not trust, and, started on
first use, TLS with an expired certificate, one for another host name and a self-signed one
(CIMD-FETCH-05). Each check asks for a fresh client URL, so the target's caches never leak
between checks. Every request is logged (:class:`~mock_servers.fetch_log.Fetch`) with the
answer it got, which :mod:`mock_servers.answer` sends as its hosting says.
"""

from __future__ import annotations

import contextlib
import itertools
import secrets
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from mock_servers.answer import Answer, not_modified
from mock_servers.claims import Claim, Claims
from mock_servers.fetch_log import FetchLog, hosting_key
from mock_servers.hosting import JSON_HEADERS, Fetch, Hosting, HostingSequence
from mock_servers.listeners import BAD_TLS, BAD_TLS_FIELDS, BadTls, PublicUrls, bad_certificate
from mock_servers.pki import TestCA
from mock_servers.runner import ASGIApp, Receive, Scope, Send, Server

__all__ = [
    "BAD_TLS",
    "BAD_TLS_FIELDS",
    "CALLBACK_PATH",
    "BadTls",
    "Claim",
    "Fetch",
    "MetadataHost",
    "PublicUrls",
]

CALLBACK_PATH = "/cb"
CALLBACK_PAGE = Hosting(
    headers=(("content-type", "text/html; charset=utf-8"), ("cache-control", "no-store")),
    body=b"<!doctype html><title>Callback</title><p>Authorization response received.</p>",
)
NOT_FOUND = Hosting(status=404, headers=(("content-type", "text/plain"),), body=b"not found")


@dataclass
class _Served:
    """A URL's hosting (or sequence) and how many requests it has answered since served."""

    hosting: Hosting | HostingSequence
    fetches: int = 0

    def next(self) -> tuple[int, Hosting]:
        """Count one request; the (step, hosting) that answers it."""
        self.fetches += 1
        if isinstance(self.hosting, HostingSequence):
            return self.hosting.step(self.fetches)
        return 1, self.hosting


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
        expired_port: the expired-certificate listener's port (0: any free port, bound on
            first use; a fixed port is bound at once).
        wrong_name_port: the wrong-name listener's port, likewise.
        self_signed_port: the self-signed listener's port, likewise.
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
        expired_port: int = 0,
        wrong_name_port: int = 0,
        self_signed_port: int = 0,
        cache_control: str = "",
    ) -> None:
        self._lock = threading.Lock()
        self._cache_control = cache_control
        self._hostings: dict[str, _Served] = {CALLBACK_PATH: _Served(CALLBACK_PAGE)}
        self._fetch_log = FetchLog()
        self._claims = Claims()
        self._counter = itertools.count(1)
        self._run = secrets.token_hex(3)
        self._dir = Path(tempfile.mkdtemp(prefix="cimd-metadata-host-"))
        self._ca = ca
        self._untrusted_ca = TestCA.untrusted(self._dir)
        names: tuple[str, ...] = (host, alias) if host != alias else (host,)
        if name is not None:
            names = (name, "*." + name.split(".", 1)[1], *names)
        if public is not None:
            names = (*public.hosts(), *names)
        self._names, self._name = names, name
        self.address = host
        self.alias = alias
        self.public = public
        self._bad_ports: dict[BadTls, int] = {
            "expired": expired_port,
            "wrong-name": wrong_name_port,
            "self-signed": self_signed_port,
        }
        self._servers: dict[str, Server] = {}
        self._started: set[str] = set()
        try:  # a port that cannot be bound: close the listeners already bound
            self._tls = self._bind("tls", port, ca.issue_server_pem(self._dir, names))
            self._plain = self._bind("plain", plain_port, None)
            self._untrusted = self._bind(
                "untrusted", untrusted_port, self._untrusted_ca.issue_server_pem(self._dir, names)
            )
            for kind, fixed in self._bad_ports.items():
                if fixed:
                    self._bad_listener(kind)
        except BaseException:
            self._stop_all()
            raise

    def _bind(self, listener: str, port: int, certfile: Path | None) -> Server:
        server = Server(self._app(listener), self.address, port, certfile, self._name)
        self._servers[listener] = server
        return server

    def _bad_listener(self, kind: BadTls) -> Server:
        """The listener for bad certificate ``kind``, bound (not started) on first use."""
        if kind in self._servers:
            return self._servers[kind]
        pem = bad_certificate(kind, self._ca, self._dir, self._names)
        return self._bind(kind, self._bad_ports[kind], pem)

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

    def bad_tls_base_url(self, kind: BadTls) -> str:
        """The origin of a TLS listener whose certificate the target must refuse.

        ``expired``: from the trusted CA, for the right names, expired a day ago;
        ``wrong-name``: from the trusted CA, valid, for :data:`~mock_servers.pki.WRONG_NAME`
        only; ``self-signed``: for the right names, signed by its own key; ``untrusted``: for
        the right names, from a CA the target was never told to trust. The listener starts
        on first use; its fetches carry ``kind`` as their listener.
        """
        if kind == "untrusted":
            return self.untrusted_base_url
        with self._lock:
            server = self._bad_listener(kind)
            if kind not in self._started and self._started:  # the host itself is running
                server.start()
                self._started.add(kind)
        public = self.public.bad_tls(kind) if self.public else None
        return public.rstrip("/") if public else server.base_url

    def reaches_bad_tls(self, kind: BadTls) -> bool:
        """Whether the target can reach bad-TLS listener ``kind`` (its public URL is known)."""
        return self.public is None or self.public.bad_tls(kind) is not None

    def start(self) -> MetadataHost:
        """Start the trusted, plain and untrusted listeners (and any bad-TLS ones made)."""
        with self._lock:
            for listener, server in self._servers.items():
                server.start()
                self._started.add(listener)
        return self

    def stop(self) -> None:
        """Stop all listeners; remove their certificates and keys."""
        self._stop_all()

    def _stop_all(self) -> None:
        with self._lock:
            self._started.clear()  # a bad-TLS listener asked for later is not started
        for server in list(self._servers.values()):
            server.stop()
        shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> MetadataHost:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def new_client_url(self, name: str = "client.json", *, base: str | None = None) -> str:
        """A fresh, never-used client URL on this host."""
        url = f"{base or self.base_url}/c/{self._run}-{next(self._counter):04d}/{name}"
        self._claims.add(url)
        return url

    def new_path(self, name: str = "cb") -> str:
        """A fresh path on this host (for callbacks and redirect targets)."""
        path = f"/p/{self._run}-{next(self._counter):04d}/{name}"
        self._claims.add(path)
        return path

    def serve(self, url: str, hosting: Hosting | HostingSequence) -> None:
        """Answer requests for ``url`` (path and query; any listener) with ``hosting``.

        A :class:`HostingSequence` answers the Nth request from now with its Nth step.
        """
        self._claims.add(url)
        with self._lock:
            self._hostings[hosting_key(url)] = _Served(hosting)

    def serve_document(self, url: str, doc: object, **changes: Any) -> None:
        """Serve ``doc`` as JSON at ``url`` (``changes`` override Hosting fields)."""
        self.serve(url, Hosting.document(doc, **changes))

    def serve_redirect(self, url: str, *, to: str, status: int = 302) -> None:
        """Answer ``url`` with a redirect to ``to``."""
        self.serve(url, Hosting.redirect(to, status=status))

    def serve_redirect_chain(
        self, url: str, *, to: str, hops: int = 3, status: int = 302, relative: bool = False
    ) -> list[str]:
        """``url`` redirects through ``hops - 1`` fresh URLs on this host, the last to ``to``.

        ``relative`` sends each Location on this host as a path (``/p/.../hop``). Returns
        the intermediate URLs, in order.
        """
        chain = [self.new_client_url(f"hop-{n}.json") for n in range(1, hops)]
        for here, there in zip([url, *chain], [*chain, to], strict=True):
            location = hosting_key(there) if relative and there in chain else there
            self.serve(here, Hosting.redirect(location, status=status))
        return chain

    def serve_redirect_loop(self, url: str, *, length: int = 2, status: int = 302) -> list[str]:
        """``url`` redirects through ``length - 1`` fresh URLs back to itself (1: to itself)."""
        loop = [self.new_client_url(f"loop-{n}.json") for n in range(1, length)]
        for here, there in zip([url, *loop], [*loop, url], strict=True):
            self.serve(here, Hosting.redirect(there, status=status))
        return loop

    def fetches(self, url: str | None = None) -> list[Fetch]:
        """Every logged request, or only those whose target is ``url``'s path and query."""
        return self._fetch_log.fetches(url)

    def fetch_count(self, url: str) -> int:
        """How many requests the target made for ``url``."""
        return len(self.fetches(url))

    def fetches_since(self, mark: int) -> list[Fetch]:
        """The requests logged after :meth:`mark` returned ``mark``."""
        return self._fetch_log.since(mark)

    def mark(self) -> int:
        """A position in the fetch log, for :meth:`fetches_since`."""
        return self._fetch_log.mark()

    def claiming(self, name: str) -> contextlib.AbstractContextManager[Claim]:
        """The URLs this thread makes and serves meanwhile are a new claim's (``name``).

        For checks that run at the same time: see :mod:`mock_servers.claims`.
        """
        return self._claims.claiming(name)

    def claimed_by(self, fetch: Fetch) -> Claim | None:
        """The claim ``fetch`` belongs to (None: no check running beside others made it)."""
        return self._claims.owner(fetch.target)

    def unclaimed(self, fetches: list[Fetch]) -> list[Fetch]:
        """``fetches`` that belong to no claim: a check's own when it runs alone."""
        return [f for f in fetches if self._claims.owner(f.target) is None]

    def settle(self, url: str | None = None, *, timeout_s: float = 5.0) -> bool:
        """Wait until every answer (for ``url``) has ended; see :meth:`FetchLog.settle`."""
        return self._fetch_log.settle(url, timeout_s=timeout_s)

    def app(self, listener: str = "tls") -> ASGIApp:
        """The ASGI app behind ``listener``, for use in-process (``httpx.ASGITransport``).

        Requests it answers are logged and served like the listener's own; answers that
        need the connection itself (byte-exact framing, cutting it) fall back to ASGI.
        """
        return self._app(listener)  # type: ignore[no-any-return]

    def connections(self, listener: str = "tls") -> tuple[int, int]:
        """(TCP connections accepted, connections past the TLS handshake) on ``listener``.

        For a bad-TLS listener the difference counts handshakes the target abandoned.
        """
        server = self._servers.get(listener)
        return server.connections.snapshot() if server is not None else (0, 0)

    def raise_crash(self) -> None:
        """Re-raise an exception the host's app raised while serving."""
        for server in list(self._servers.values()):
            server.raise_crash()

    def _hosting(self, hosting: Hosting) -> Hosting:
        """The pacing's ``Cache-Control`` replaces ``no-store`` with default JSON documents."""
        if self._cache_control and hosting.status == 200 and hosting.headers == JSON_HEADERS:
            headers = (JSON_HEADERS[0], ("cache-control", self._cache_control))
            return replace(hosting, headers=headers)
        return hosting

    def _app(self, listener: str):  # type: ignore[no-untyped-def]
        async def app(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == "lifespan":
                await _lifespan(receive, send)
                return
            if scope["type"] != "http":
                return
            fetch = self._log(listener, scope)
            with self._lock:
                served = self._hostings.get(hosting_key(fetch.target))
                fetch.step, hosting = served.next() if served else (1, NOT_FOUND)
            hosting = self._hosting(hosting)
            hosting = not_modified(hosting, fetch) or hosting
            server = self._servers.get(listener)
            client = scope.get("client")
            transport = server.connections.transport(client) if server and client else None
            await Answer(hosting, fetch, receive, send, transport).run()

        return app

    def _log(self, listener: str, scope: Scope) -> Fetch:
        raw_path = scope.get("raw_path") or scope["path"].encode()
        query = scope.get("query_string", b"")
        target = raw_path.decode("latin-1") + ("?" + query.decode("latin-1") if query else "")
        headers = [(k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in scope["headers"]]
        host = next((v for k, v in headers if k in ("host", ":authority")), "")
        client = scope.get("client") or ("?", 0)
        server = self._servers.get(listener) if listener != "plain" else None
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
        self._fetch_log.add(fetch)
        return fetch


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
