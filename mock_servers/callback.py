"""The loopback callback listener: receives authorization responses on redirect URIs."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from urllib.parse import parse_qs

from mock_servers.runner import Receive, Scope, Send, Server


@dataclass(frozen=True)
class Callback:
    """One request that reached the listener.

    Attributes:
        path: the request path.
        params: the query parameters (first value of each).
    """

    path: str
    params: dict[str, str]


class CallbackListener:
    """A plain-HTTP listener on loopback that logs every request it receives.

    Args:
        host: the loopback address to bind (``127.0.0.1`` or ``::1``).
    """

    def __init__(self, host: str = "127.0.0.1") -> None:
        self._lock = threading.Lock()
        self._received: list[Callback] = []
        self._server = Server(self._app, host, 0)

    @property
    def port(self) -> int:
        """The ephemeral port the listener is bound to."""
        return self._server.port

    def url(self, path: str = "/callback") -> str:
        """The redirect URI on this listener, with its port."""
        return f"{self._server.base_url}{path}"

    def start(self) -> CallbackListener:
        """Start listening."""
        self._server.start()
        return self

    def stop(self) -> None:
        """Stop listening."""
        self._server.stop()

    def received(self, path: str | None = None) -> list[Callback]:
        """Every request received, or those for ``path``."""
        with self._lock:
            got = list(self._received)
        return got if path is None else [c for c in got if c.path == path]

    async def _app(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        with self._lock:
            self._received.append(Callback(scope["path"], {k: v[0] for k, v in query.items()}))
        body = b"<!doctype html><title>Callback received</title><p>You may close this window.</p>"
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"text/html"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
