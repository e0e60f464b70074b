"""What a server received: an ASGI wrapper that logs every request with its time."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from mock_servers.runner import ASGIApp, Message, Receive, Scope, Send

MAX_BODY = 1 << 20


@dataclass(frozen=True)
class Received:
    """One request as the server saw it.

    Attributes:
        at: ``time.monotonic()`` when it arrived (orders requests across servers).
        method: the HTTP method.
        path: the request path.
        query: the query parameters.
        form: the form parameters of an ``application/x-www-form-urlencoded`` body.
        headers: the headers, names lower-cased.
        status: the status the server answered with (0 when it answered nothing).
        answer: the start of the body it answered with.
    """

    at: float
    method: str
    path: str
    query: dict[str, list[str]]
    form: dict[str, list[str]]
    headers: dict[str, str]
    status: int = 0
    answer: bytes = b""

    def param(self, name: str) -> str | None:
        """The first value of a form parameter, else of a query parameter."""
        values = self.form.get(name) or self.query.get(name)
        return values[0] if values else None


class Recorder:
    """``app``, with every HTTP request it gets logged in :attr:`requests`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._lock = threading.Lock()
        self._requests: list[Received] = []

    @property
    def requests(self) -> list[Received]:
        """The requests so far, in arrival order."""
        with self._lock:
            return list(self._requests)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Log the request (its body read whole, then handed on), then let ``app`` answer."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        body, more = b"", True
        while more:
            message = await receive()
            if len(body) <= MAX_BODY:
                body += message.get("body", b"")
            more = message.get("more_body", False)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        form: dict[str, list[str]] = {}
        if "x-www-form-urlencoded" in headers.get("content-type", ""):
            form = parse_qs(body.decode("latin-1"), keep_blank_values=True)
        query = parse_qs(scope["query_string"].decode("latin-1"), keep_blank_values=True)
        at = time.monotonic()
        replayed = False
        status, answer = 0, b""

        async def replay() -> dict[str, Any]:
            nonlocal replayed
            if replayed:
                return dict(await receive())
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def keep(message: Message) -> None:
            nonlocal status, answer
            if message["type"] == "http.response.start":
                status = int(message["status"])
            elif message["type"] == "http.response.body" and len(answer) <= MAX_BODY:
                answer += message.get("body", b"")
            await send(message)

        try:
            await self.app(scope, replay, keep)
        finally:
            received = Received(
                at, scope["method"], scope["path"], query, form, headers, status, answer
            )
            with self._lock:
                self._requests.append(received)
                self._requests.sort(key=lambda r: r.at)
