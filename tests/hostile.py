"""Hostile HTTP servers on loopback: they drip, hang, flood, loop or babble, and stop themselves.

Each server is a raw asyncio server (byte-level control that an ASGI server would smooth
over) in its own thread, bound to 127.0.0.1, and it shuts down after ``lifetime_s`` even if
nobody stops it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import ssl
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import TracebackType
from typing import Any

from mock_servers.runner import ASGIApp, Message, Receive, Scope, Send

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def read_request(reader: asyncio.StreamReader) -> bytes:
    """The request line and headers (a request body, if any, is left unread)."""
    return await reader.readuntil(b"\r\n\r\n")


def drip_body(interval_s: float) -> Handler:
    """Answer 200 with a JSON content type, then one body byte every ``interval_s``."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100000\r\n\r\n"
        )
        while True:
            writer.write(b" ")
            await writer.drain()
            await asyncio.sleep(interval_s)

    return handle


def drip_headers(interval_s: float) -> Handler:
    """Send the status line, then one header byte every ``interval_s``."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nx-drip: ")
        while True:
            writer.write(b"a")
            await writer.drain()
            await asyncio.sleep(interval_s)

    return handle


async def hang(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Read the request and never answer."""
    await read_request(reader)
    await asyncio.Event().wait()


async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Answer every request on the connection with a small JSON object."""
    while True:
        try:
            await read_request(reader)
        except (asyncio.IncompleteReadError, ConnectionError):
            return
        body = b'{"ok": true}'
        head = f"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {len(body)}"
        writer.write(head.encode() + b"\r\n\r\n" + body)
        await writer.drain()


class RawServer:
    """``handler`` served on 127.0.0.1 (over TLS with ``certfile``) in a thread.

    Args:
        handler: called once per connection.
        certfile: a PEM with key and certificate chain, or None for plain HTTP.
        lifetime_s: the server stops itself this long after it started.
    """

    def __init__(
        self, handler: Handler, certfile: Path | None = None, lifetime_s: float = 120.0
    ) -> None:
        self._handler = handler
        self._tls: ssl.SSLContext | None = None
        if certfile is not None:
            self._tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            self._tls.load_cert_chain(certfile)
        self._lifetime_s = lifetime_s
        self._loop = asyncio.new_event_loop()
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.port = 0
        self.connections = 0

    @property
    def base_url(self) -> str:
        """The server's origin."""
        return f"{'https' if self._tls else 'http'}://127.0.0.1:{self.port}"

    def __enter__(self) -> RawServer:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the hostile server did not start")
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._serve())
        finally:
            self._loop.close()

    async def _serve(self) -> None:
        self._stop = asyncio.Event()

        async def counted(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self.connections += 1
            try:
                await self._handler(reader, writer)
            except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
                pass
            finally:
                writer.close()

        server = await asyncio.start_server(counted, "127.0.0.1", 0, ssl=self._tls)
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), self._lifetime_s)
        server.close()
        others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in others:
            task.cancel()
        await asyncio.gather(*others, return_exceptions=True)


def keep_alive_for(seconds: float) -> Handler:
    """Answer each request on the connection, keeping it open ``seconds`` between them.

    A request that comes once the connection has idled that long finds it closed, unanswered:
    the moment a server's keep-alive time runs out as a client reuses the connection.
    """

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        answered_at: float | None = None
        while True:
            try:
                await read_request(reader)
            except (asyncio.IncompleteReadError, ConnectionError):
                return
            if answered_at is not None and time.monotonic() - answered_at >= seconds:
                return  # closed as the request came
            await _respond(writer, "200 OK", {"content-type": "application/json"}, b'{"ok": true}')
            answered_at = time.monotonic()

    return handle


async def _respond(
    writer: asyncio.StreamWriter, status: str, headers: dict[str, str], body: bytes = b""
) -> None:
    head = f"HTTP/1.1 {status}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    writer.write(head.encode() + f"content-length: {len(body)}\r\n\r\n".encode() + body)
    await writer.drain()


def _target(request: bytes) -> tuple[str, str]:
    """The request's (path, host) from its request line and Host header."""
    lines = request.decode("latin-1").split("\r\n")
    path = lines[0].split(" ")[1] if len(lines[0].split(" ")) > 1 else "/"
    host = next((ln.split(":", 1)[1].strip() for ln in lines if ln.lower().startswith("host:")), "")
    return path, host


async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Answer the request with bytes that are not HTTP, then close."""
    await read_request(reader)
    writer.write(b"\x00\xffSSH-2.0-not-http\r\n\x1b[31m" + bytes(range(256)) * 4)
    await writer.drain()


async def answer_at_once(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Send a plain HTTP answer as soon as a client connects (to a TLS client: not TLS)."""
    await _respond(writer, "200 OK", {"content-type": "application/json"}, b"{}")
    await reader.read(65536)


async def invalid_json(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Answer 200 application/json with a body that is not JSON (a document cut short)."""
    while True:
        try:
            await read_request(reader)
        except (asyncio.IncompleteReadError, ConnectionError):
            return
        await _respond(
            writer, "200 OK", {"content-type": "application/json"}, b'{"issuer": "https://'
        )


async def endless_body(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Answer 200 application/json, then send JSON whitespace as fast as it is read, forever."""
    await read_request(reader)
    writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\r\n{")
    chunk = b" " * 65536
    while not writer.is_closing() and not reader.at_eof():  # until the client goes away
        writer.write(chunk)
        await writer.drain()
        await asyncio.sleep(0)  # let a lost connection be noticed (drain may not yield)


async def redirect_loop(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Redirect every request to the URL it asked for."""
    while True:
        try:
            path, host = _target(await read_request(reader))
        except (asyncio.IncompleteReadError, ConnectionError):
            return
        await _respond(writer, "302 Found", {"location": f"https://{host}{path}"})


def _replaying(request: bytes, reader: asyncio.StreamReader) -> asyncio.StreamReader:
    """A reader that gives ``request`` again, then whatever ``reader`` gets, then its end."""
    replay = asyncio.StreamReader()
    replay.feed_data(request)

    async def forward() -> None:
        with contextlib.suppress(ConnectionError):
            while data := await reader.read(65536):
                replay.feed_data(data)
        replay.feed_eof()

    _FORWARDS.add(task := asyncio.get_running_loop().create_task(forward()))
    task.add_done_callback(_FORWARDS.discard)
    return replay


_FORWARDS: set[asyncio.Task[None]] = set()  # kept alive until done (the loop holds weak refs)


def authorization_server(authorize: Handler) -> Handler:
    """Serve plausible metadata; requests to ``/authorize`` are handed to ``authorize``.

    The metadata names this server's own ``/authorize`` and ``/token``, so discovery succeeds
    and the first authorization request meets the hostile endpoint.
    """

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            try:
                request = await read_request(reader)
            except (asyncio.IncompleteReadError, ConnectionError):
                return
            path, host = _target(request)
            if path.startswith("/authorize"):
                await authorize(_replaying(request, reader), writer)
                return
            if not path.startswith("/.well-known/"):
                await _respond(writer, "404 Not Found", {"content-type": "text/plain"}, b"no")
                continue
            issuer = f"https://{host}"
            metadata = {
                "issuer": issuer,
                "authorization_endpoint": f"{issuer}/authorize",
                "token_endpoint": f"{issuer}/token",
                "response_types_supported": ["code"],
                "code_challenge_methods_supported": ["S256"],
                "client_id_metadata_document_supported": True,
                "token_endpoint_auth_methods_supported": ["none", "private_key_jwt"],
            }
            body = json.dumps(metadata).encode()
            await _respond(writer, "200 OK", {"content-type": "application/json"}, body)

    return handle


class InjectIntoAuthorizationPage:
    """ASGI middleware: ``html`` goes into every HTML page ``/authorize`` answers with.

    It is put right after ``<body>`` (or in front of the page), so a script in it runs
    before the login form is parsed, and padding makes the page as large as wanted.
    """

    def __init__(self, app: ASGIApp | None, html: bytes) -> None:
        self.app = app
        self.html = html

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert self.app is not None, "set the app before serving"
        if scope["type"] != "http" or not scope["path"].endswith("/authorize"):
            await self.app(scope, receive, send)
            return
        start: dict[str, Any] = {}
        body: list[bytes] = []

        async def keep(message: Message) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                body.append(message.get("body", b""))

        await self.app(scope, receive, keep)
        page = b"".join(body)
        headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
        kind = dict(headers).get(b"content-type", b"")
        if kind.startswith(b"text/html"):
            at = page.find(b"<body>")
            at = 0 if at < 0 else at + len(b"<body>")
            page = page[:at] + self.html + page[at:]
        headers.append((b"content-length", str(len(page)).encode()))
        await send({**start, "headers": headers})
        await send({"type": "http.response.body", "body": page})
