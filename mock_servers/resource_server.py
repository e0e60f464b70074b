"""A mock MCP server as a protected resource (RFC 9728): it names its authorization server.

An unauthenticated request to the MCP endpoint gets 401 with ``WWW-Authenticate: Bearer
resource_metadata="..."``, and the protected resource metadata lists the issuer in
``authorization_servers``, as MCP 2025-11-25 §4.2 asks of an MCP server. It serves nothing
else: it exists so a target can be named by its MCP server URL.
"""

from __future__ import annotations

import json
from pathlib import Path

from mock_servers.runner import Receive, Scope, Send, Server

WELL_KNOWN = "/.well-known/oauth-protected-resource"


class ResourceServer:
    """The MCP endpoint ``path`` and its protected resource metadata, over TLS.

    Args:
        issuer: the authorization server to name.
        certfile: the TLS key and certificate chain (PEM).
        path: the MCP endpoint's path.
        challenge: send ``resource_metadata`` in the 401 (else clients must use well-known).
    """

    def __init__(
        self, issuer: str, certfile: Path, path: str = "/mcp", *, challenge: bool = True
    ) -> None:
        self.issuer = issuer  # may be set once the AS, which must know this URL, is up
        self._path = path
        self._challenge = challenge
        self._server = Server(self._app, certfile=certfile)

    @property
    def url(self) -> str:
        """The MCP endpoint's URL (the resource identifier)."""
        return self._server.base_url + self._path

    @property
    def metadata_url(self) -> str:
        """Where the protected resource metadata is (path-inserted, RFC 9728 §3.1)."""
        return self._server.base_url + WELL_KNOWN + self._path

    def start(self) -> ResourceServer:
        """Start serving."""
        self._server.start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        self._server.stop()

    def __enter__(self) -> ResourceServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def _app(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        # read the whole request body first: an unread body makes the server close the
        # connection after answering, which races a client that reuses it
        while (await receive()).get("more_body", False):
            pass
        if scope["path"] == WELL_KNOWN + self._path:
            body = {"resource": self.url, "authorization_servers": [self.issuer]}
            await _send(send, 200, json.dumps(body).encode(), "application/json")
        elif scope["path"] == self._path:
            headers = [(b"www-authenticate", b'Bearer realm="mcp"')]
            if self._challenge:
                challenge = f'Bearer resource_metadata="{self.metadata_url}"'
                headers = [(b"www-authenticate", challenge.encode())]
            await _send(send, 401, b"", "text/plain", headers)
        else:
            await _send(send, 404, b"not found", "text/plain")


async def _send(
    send: Send,
    status: int,
    body: bytes,
    content_type: str,
    extra: list[tuple[bytes, bytes]] | None = None,
) -> None:
    headers = [(b"content-type", content_type.encode()), *(extra or [])]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
