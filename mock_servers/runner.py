"""One small runner that serves an ASGI app on loopback, over TLS or plain HTTP.

Each server runs hypercorn in its own thread with its own event loop. The listening socket
is bound before the thread starts (no port race), and a crash inside the app is kept and
re-raised in the caller's thread by :meth:`Server.raise_crash`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
import threading
import weakref
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from types import TracebackType
from typing import Any

from hypercorn.asyncio import serve
from hypercorn.config import Config

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


async def read_body(receive: Receive) -> bytes:
    """An HTTP request's whole body, from its ASGI ``http.request`` messages."""
    body = b""
    while True:
        message = await receive()
        chunk: bytes = message.get("body", b"")
        body += chunk
        if not message.get("more_body"):
            return body


STARTUP_TIMEOUT_S = 15.0
SHUTDOWN_TIMEOUT_S = 10.0
CLOSE_POLL_S = 0.02  # while stopping: how often connections whose close waits are cut


# The TLS server name (SNI) each handshake asked for, by its SSL object, until the
# connection is established and the name is filed under the client's address.
_SERVER_NAMES: weakref.WeakKeyDictionary[object, str | None] = weakref.WeakKeyDictionary()


def _remember_server_name(
    ssl_object: ssl.SSLObject | ssl.SSLSocket, server_name: str | None, context: ssl.SSLContext
) -> None:
    _SERVER_NAMES[ssl_object] = server_name


class Connections:
    """How many TCP connections a server accepted, and how many got past the TLS handshake.

    The difference tells "the client never connected" apart from "it connected and gave up
    during the handshake" (it does not trust the certificate), which no HTTP log can show.
    Each established TLS connection's server name (SNI) is kept under the client's address,
    and so is each live connection's transport (for answers written as bytes, or cut).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.accepted = 0
        self.established = 0
        self._server_names: dict[tuple[str, int], str | None] = {}
        self._transports: weakref.WeakValueDictionary[tuple[str, int], asyncio.BaseTransport]
        self._transports = weakref.WeakValueDictionary()

    def file_server_name(self, transport: asyncio.BaseTransport) -> None:
        """Keep the SNI an established TLS connection sent, and the transport, by peer."""
        ssl_object = transport.get_extra_info("ssl_object")
        peer = transport.get_extra_info("peername")
        if not peer:
            return
        with self._lock:
            self._transports[(peer[0], peer[1])] = transport
            if ssl_object is not None:
                self._server_names[(peer[0], peer[1])] = _SERVER_NAMES.get(ssl_object)

    def transport(self, client: tuple[str, int]) -> asyncio.BaseTransport | None:
        """The live connection from ``client`` (``None``: gone, or never seen)."""
        with self._lock:
            return self._transports.get((client[0], client[1]))

    def live(self) -> list[asyncio.BaseTransport]:
        """Every connection's transport not yet let go of."""
        with self._lock:
            return list(self._transports.values())

    def server_name(self, client: tuple[str, int]) -> str | None:
        """The SNI of the live TLS connection from ``client`` (``None``: none was sent)."""
        with self._lock:
            return self._server_names.get((client[0], client[1]))

    def count(self, established: bool) -> None:
        """Count one accept, or one connection the app protocol received."""
        with self._lock:
            if established:
                self.established += 1
            else:
                self.accepted += 1

    def snapshot(self) -> tuple[int, int]:
        """(accepted, established) so far."""
        with self._lock:
            return self.accepted, self.established


class _CountingLoop(asyncio.SelectorEventLoop):
    """An event loop whose servers count accepts and established connections.

    asyncio calls the protocol factory when it accepts a connection, and the protocol's
    ``connection_made`` only once the TLS handshake (if any) has completed.
    """

    def __init__(self, connections: Connections) -> None:
        super().__init__()
        self.connections = connections

    async def create_server(
        self, protocol_factory: Callable[[], asyncio.BaseProtocol], *args: Any, **kwargs: Any
    ) -> asyncio.Server:
        connections = self.connections

        def counting_factory() -> asyncio.BaseProtocol:
            connections.count(established=False)
            protocol = protocol_factory()
            made = protocol.connection_made

            def connection_made(transport: asyncio.BaseTransport) -> None:
                connections.count(established=True)
                connections.file_server_name(transport)
                made(transport)

            protocol.connection_made = connection_made  # type: ignore[method-assign]
            return protocol

        return await super().create_server(counting_factory, *args, **kwargs)


class _SniConfig(Config):
    """hypercorn's configuration, with a TLS context that notes each handshake's SNI."""

    def create_ssl_context(self) -> ssl.SSLContext | None:
        context = super().create_ssl_context()
        if context is not None:
            context.sni_callback = _remember_server_name
        return context


class Server:
    """An ASGI app served by hypercorn on ``host:port`` (port 0 picks a free one).

    Args:
        app: the ASGI application.
        host: the address to bind; loopback by default.
        port: the port, 0 for any free port.
        certfile: a PEM with key and certificate chain; ``None`` serves plain HTTP.
        name: the host name in :attr:`base_url` (default: the bound address).
    """

    def __init__(
        self,
        app: ASGIApp,
        host: str = "127.0.0.1",
        port: int = 0,
        certfile: Path | None = None,
        name: str | None = None,
    ) -> None:
        self._app = app
        self._certfile = certfile
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self._sock = socket.socket(family, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self._sock.bind((host, port))
            self._sock.listen(128)
        except OSError:
            self._sock.close()
            raise
        self._sock.set_inheritable(True)
        self.host = host
        self.name = name or host
        self.port: int = self._sock.getsockname()[1]
        self.connections = Connections()
        self._loop = _CountingLoop(self.connections)
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._started = threading.Event()
        self.crash: BaseException | None = None

    @property
    def scheme(self) -> str:
        """``https`` when served over TLS, else ``http``."""
        return "https" if self._certfile else "http"

    @property
    def base_url(self) -> str:
        """The origin, e.g. ``https://127.0.0.1:8443``, written as users write it.

        A default port (443 for https, 80 for http) is left out: ``https://metadata.test``.
        """
        host = f"[{self.name}]" if ":" in self.name else self.name
        default = 443 if self.scheme == "https" else 80
        return f"{self.scheme}://{host}" + ("" if self.port == default else f":{self.port}")

    def start(self) -> Server:
        """Start serving in a background thread; returns once the loop is running."""
        self._thread = threading.Thread(target=self._run, name=f"server-{self.port}", daemon=True)
        self._thread.start()
        if not self._started.wait(STARTUP_TIMEOUT_S):
            raise RuntimeError(f"server on port {self.port} did not start in time")
        return self

    def stop(self) -> None:
        """Stop serving and wait for the thread to end (a server never started: close it)."""
        if self._thread is None:
            if not self._loop.is_closed() and not self._loop.is_running():
                self._loop.close()
                self._sock.close()
            return
        if self._stop is not None:
            # a loop that already ended (its serving task finished) has nothing to stop
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(SHUTDOWN_TIMEOUT_S)
        self._thread = None
        # hypercorn was handed the descriptor (fd://N) and closes it with its own socket; by
        # now the number may belong to another server's new socket, so it is never closed
        # here again, only let go of
        self._sock.detach()

    def raise_crash(self) -> None:
        """Re-raise, in the caller's thread, an exception the app raised while serving."""
        if self.crash is not None:
            crash, self.crash = self.crash, None
            raise crash

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _config(self) -> Config:
        config = _SniConfig()
        config.bind = [f"fd://{self._sock.fileno()}"]
        config.accesslog = None
        config.errorlog = logging.getLogger("mock_servers.hypercorn")
        config.keep_alive_timeout = 5
        config.graceful_timeout = 1
        if self._certfile is not None:
            config.certfile = config.keyfile = str(self._certfile)
            config.alpn_protocols = ["h2", "http/1.1"]
        return config

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._stop = asyncio.Event()
        self._loop.call_soon(self._started.set)
        try:
            self._loop.run_until_complete(self._serve())
        except Exception:
            if not self._stop.is_set():
                raise  # asked to stop while still starting: its errors are the stop's
        finally:
            # as asyncio.run ends: the tasks still pending (hypercorn's lifespan) are
            # cancelled and awaited, so none is destroyed pending with its socket open
            pending = asyncio.all_tasks(self._loop)
            for task in pending:
                task.cancel()
            if pending:
                gathered = asyncio.gather(*pending, return_exceptions=True)
                self._loop.run_until_complete(gathered)
            self._loop.run_until_complete(self._loop.shutdown_asyncgens())
            self._loop.close()

    async def _serve(self) -> None:
        """Serve until stopped; then cut the connections whose close waits on the client.

        On stopping, hypercorn closes each idle connection; over TLS the close waits for the
        client's close_notify, which a client keeping the connection for its next request
        (an AS's connection pool) sends only when it next looks at it. Such a close is cut at
        once rather than left to hypercorn's grace time (and then to the garbage collector).
        """
        assert self._stop is not None
        serving = asyncio.ensure_future(
            serve(self._guarded, self._config(), shutdown_trigger=self._stop.wait)  # type: ignore[arg-type]
        )
        stopping = asyncio.ensure_future(self._stop.wait())
        try:
            await asyncio.wait({serving, stopping}, return_when=asyncio.FIRST_COMPLETED)
            while not serving.done():
                for transport in self.connections.live():
                    if transport.is_closing() and isinstance(transport, asyncio.Transport):
                        transport.abort()
                await asyncio.wait({serving}, timeout=CLOSE_POLL_S)
            await serving
        finally:
            stopping.cancel()

    async def _guarded(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self._app(scope, receive, send)
        except Exception as exc:  # kept for raise_crash; hypercorn answers 500
            self.crash = exc
            raise
