"""Sending one :class:`~mock_servers.hosting.Hosting` as the answer to one request.

Most answers go through ASGI: hypercorn frames them (``Content-Length`` or chunked, HTTP/1.1
or HTTP/2). Two framings a correct server refuses to produce, a lying ``Content-Length`` and
a status line that drips, are written as bytes on the connection itself (HTTP/1.x only), then
the connection is closed. Every answer is bounded by its hosting's caps, stops as soon as the
client hangs up, and records in its :class:`~mock_servers.fetch_log.Fetch` what was sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import time
from collections.abc import Iterator
from http import HTTPStatus

from mock_servers.fetch_log import Fetch
from mock_servers.hosting import Hosting
from mock_servers.runner import Receive, Send

PIECE = 64 * 1024
BUFFER_LIMIT = 64 * 1024
"""Raw writes wait while more than this is buffered unsent (the client is not reading)."""
CLOSE_WAIT_S = 5.0
NOT_MODIFIED_HEADERS = ("cache-control", "expires", "vary", "content-location")


def not_modified(hosting: Hosting, fetch: Fetch) -> Hosting | None:
    """The 304 answer when ``fetch`` is a conditional request ``hosting``'s validators match.

    RFC 9110 §13.1.2 and §13.1.3: If-None-Match wins over If-Modified-Since; ETags compare
    weakly for If-None-Match.
    """
    if hosting.status != 200:
        return None
    inm, ims = fetch.if_none_match, fetch.if_modified_since
    if inm is not None:
        if hosting.etag is None:
            return None
        tags = {t.strip().removeprefix("W/") for t in inm.split(",")}
        matched = "*" in tags or hosting.etag.removeprefix("W/") in tags
    elif ims is not None and hosting.last_modified is not None:
        since, modified = _date(ims), _date(hosting.last_modified)
        matched = since is not None and modified is not None and modified <= since
    else:
        return None
    if not matched:
        return None
    kept = tuple((k, v) for k, v in hosting.headers if k in NOT_MODIFIED_HEADERS)
    return Hosting(
        status=304,
        headers=kept,
        etag=hosting.etag,
        last_modified=hosting.last_modified,
        expires_in_s=hosting.expires_in_s,
        cap_s=hosting.cap_s,
    )


def _date(value: str) -> float | None:
    try:
        return email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return None


def head_fields(hosting: Hosting) -> list[tuple[str, str]]:
    """The header fields to send: the hosting's, its validators, Expires and framing."""
    fields = list(hosting.headers)
    if hosting.etag is not None:
        fields.append(("etag", hosting.etag))
    if hosting.last_modified is not None:
        fields.append(("last-modified", hosting.last_modified))
    if hosting.expires_in_s is not None:
        fields.append(("expires", _http_date(time.time() + hosting.expires_in_s)))
    if hosting.status not in (204, 304) and not any(k == "content-length" for k, _ in fields):
        if hosting.declared_length is not None:
            fields.append(("content-length", str(hosting.declared_length)))
        elif not (hosting.endless or hosting.chunked):
            fields.append(("content-length", str(hosting.length)))
    return fields


def _http_date(at: float) -> str:
    return email.utils.formatdate(at, usegmt=True)


def body_pieces(hosting: Hosting) -> Iterator[bytes]:
    """The body in the pieces it is sent in (single bytes when dripping).

    The padding and the endless filler are made as they are sent, in pieces of the same
    size as the rest.
    """
    size = 1 if hosting.drip_ms else PIECE
    filler = b"a" * size
    piece = b""
    for part in (hosting.body, _Padding(hosting.padding, filler), hosting.tail):
        at = 0
        while at < len(part):
            take = size - len(piece)
            piece += part[at : at + take]
            at += take
            if len(piece) == size:
                yield piece
                piece = b""
    if piece:
        yield piece
    while hosting.endless:
        yield filler


class _Padding:
    """``length`` filler bytes, sliced like bytes without being held.

    A slice is never longer than ``filler`` (:func:`body_pieces` takes a piece at a time).
    """

    def __init__(self, length: int, filler: bytes) -> None:
        self._length, self._filler = length, filler

    def __len__(self) -> int:
        return self._length

    def __getitem__(self, span: slice) -> bytes:
        start, stop, _ = span.indices(self._length)
        return self._filler[: max(0, stop - start)]


class Answer:
    """One answer in progress: its deadline, the client's hang-up, and what was sent.

    Args:
        hosting: what to send.
        fetch: the request's log entry; the answer fields are written here.
        receive: the ASGI receive channel (watched for ``http.disconnect``).
        send: the ASGI send channel.
        transport: the connection's transport, for byte-exact writes and for cutting it.
    """

    def __init__(
        self,
        hosting: Hosting,
        fetch: Fetch,
        receive: Receive,
        send: Send,
        transport: asyncio.BaseTransport | None,
    ) -> None:
        self.hosting = hosting
        self.fetch = fetch
        self._receive = receive
        self._send = send
        self._transport = transport
        self._gone = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        self._deadline = self._loop.time() + hosting.cap_s

    async def run(self) -> None:
        """Send the answer; return once it is sent, cut off, or the client has gone."""
        watcher = asyncio.create_task(self._watch())
        try:
            if self.hosting.delay_s and not await self._pause(self.hosting.delay_s):
                return
            raw = self.fetch.http_version in ("1.0", "1.1")
            raw = raw and isinstance(self._transport, asyncio.WriteTransport)
            if self.hosting.byte_exact and raw:
                await self._write_raw()
            else:
                await self._send_asgi()
        except asyncio.CancelledError:
            # the server is stopping during the answer (a fetch left hanging when a run
            # ends early): its connection ends now, never by garbage collection, where its
            # unclosed transport would warn
            self._cut()
            raise
        finally:
            self.fetch.ended = time.monotonic()
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher

    async def _watch(self) -> None:
        while (await self._receive())["type"] != "http.disconnect":
            pass
        self._gone.set()

    def _left(self) -> float:
        return self._deadline - self._loop.time()

    async def _pause(self, seconds: float) -> bool:
        """Wait ``seconds`` (within the cap); False when the client left or the cap fired."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._gone.wait(), max(0.0, min(seconds, self._left())))
        return self._going_on()

    def _going_on(self) -> bool:
        """Whether to go on; records why not (the client's hang-up, or the cap)."""
        closing = self._transport is not None and self._transport.is_closing()
        if self._gone.is_set() or closing:
            self.fetch.disconnected = True
            return False
        if self._left() <= 0 or self.fetch.bytes_sent >= self.hosting.cap_bytes:
            self.fetch.capped = True
            self._cut()
            return False
        return True

    def _cut(self) -> None:
        """End the connection without ending the message, so it never looks complete."""
        if isinstance(self._transport, asyncio.WriteTransport):
            self._transport.abort()

    async def _send_asgi(self) -> None:
        hosting = self.hosting
        headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in head_fields(hosting)]
        start = {"type": "http.response.start", "status": hosting.status, "headers": headers}
        self.fetch.answered = hosting.status
        await self._send(start)
        for piece in self._body():
            if hosting.drip_ms and self.fetch.bytes_sent:
                if not await self._pause(hosting.drip_ms / 1000):
                    return
            elif not self._going_on():
                return
            message = {"type": "http.response.body", "body": piece, "more_body": True}
            try:
                await asyncio.wait_for(self._send(message), max(0.001, self._left()))
            except TimeoutError:  # the client stopped reading: the cap fires while blocked
                self.fetch.capped = True
                self._cut()
                return
            self.fetch.bytes_sent += len(piece)
        await self._send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _write_raw(self) -> None:
        """Write status line, headers and body as bytes, then close the connection."""
        transport = self._transport
        assert isinstance(transport, asyncio.WriteTransport)  # checked by the caller
        hosting = self.hosting
        head = self._raw_head()
        drip = hosting.drip_ms / 1000 if hosting.drip_ms else 0.0
        pieces: list[tuple[bytes, bool]] = [(head[i : i + 1], False) for i in range(len(head))]
        if not hosting.drip_head:
            pieces = [(head, False)]
        pieces += [(piece, True) for piece in self._body()]
        for number, (piece, in_body) in enumerate(pieces):
            dripped = drip and (in_body or hosting.drip_head)
            if dripped and number and not await self._pause(drip):
                return
            if not await self._drained(transport):
                return
            self.fetch.answered = hosting.status
            transport.write(piece)
            if in_body:
                self.fetch.bytes_sent += len(piece)
        if not await self._drained(transport):
            return
        transport.close()
        # hypercorn sees the connection end and tells the app; wait for it, so the app
        # never returns with a request hypercorn still thinks it must answer
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._gone.wait(), CLOSE_WAIT_S)

    def _body(self) -> Iterator[bytes]:
        """The body's pieces; none for HEAD, 204 and 304 (RFC 9110 §6.4.1)."""
        if self.fetch.method == "HEAD" or self.hosting.status in (204, 304):
            return iter(())
        return body_pieces(self.hosting)

    async def _drained(self, transport: asyncio.WriteTransport) -> bool:
        while transport.get_write_buffer_size() > BUFFER_LIMIT:
            if not await self._pause(0.01):
                return False
        return self._going_on()

    def _raw_head(self) -> bytes:
        hosting = self.hosting
        reason = _reason(hosting.status)
        version = "HTTP/1.0" if self.fetch.http_version == "1.0" else "HTTP/1.1"
        fields = [("date", _http_date(time.time())), *head_fields(hosting)]
        fields.append(("connection", "close"))
        lines = [f"{version} {hosting.status} {reason}"] + [f"{k}: {v}" for k, v in fields]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"
