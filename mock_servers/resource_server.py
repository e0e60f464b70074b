"""A mock MCP server protecting itself with a given authorization server (MCP 2025-11-25).

It speaks the streamable HTTP transport with JSON answers: JSON-RPC 2.0 requests are POSTed
to the MCP endpoint; ``initialize`` negotiates the protocol version and opens a session
(``Mcp-Session-Id``), ``notifications/initialized`` is accepted (202), ``tools/list`` lists
the tools and ``tools/call`` runs one. It is a protected resource (RFC 9728, MCP §4.2):

- its metadata, at the path-inserted well-known URL, names the resource (the endpoint's
  URL), the authorization server and the scopes;
- a request without a usable bearer token gets 401 with ``WWW-Authenticate: Bearer
  resource_metadata="...", scope="..."`` (and ``error="invalid_token"`` when one was sent);
- a token is an RFC 9068 JWT checked for its signature (the AS's keys, from its metadata's
  ``jwks_uri``, fetched over TLS with a timeout), ``typ``, ``iss``, ``aud`` (must include
  this resource, RFC 8707), ``exp`` and scope; when the keys cannot be had, no token can
  be judged: 503;
- a tool that needs a scope the token lacks gets 403 with ``error="insufficient_scope"``
  and the scope to ask for (RFC 6750 §3.1, MCP §10.1 step-up).

Usage::

    with McpServer(issuer, certfile, trust_ca=ca_pem) as mcp:
        mcp.url           # the MCP endpoint, also the resource identifier
        mcp.metadata_url  # its protected resource metadata

``issuer`` may be set after construction (``mcp.issuer = ...``), for an AS that must know
the MCP server's URL before it starts. ``faults`` switches on the server's defects (the
names in :data:`SERVER_FAULTS`), for tests of MCP clients.
"""

from __future__ import annotations

import json
import secrets
import ssl
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from mock_servers.mcp_tokens import KeysUnavailable, TokenError, TokenVerifier, as_metadata_urls
from mock_servers.mcp_tools import ADMIN_SCOPE, BASE_SCOPE, TOOLS, scopes
from mock_servers.runner import Receive, Scope, Send, Server

__all__ = [
    "ADMIN_SCOPE",
    "BASE_SCOPE",
    "PROTOCOL_VERSION",
    "SERVER_FAULTS",
    "McpServer",
    "ResourceServer",
    "as_metadata_urls",
]

WELL_KNOWN = "/.well-known/oauth-protected-resource"
PROTOCOL_VERSION = "2025-11-25"
SUPPORTED_VERSIONS = (PROTOCOL_VERSION, "2025-06-18", "2025-03-26")
MAX_BODY = 1 << 20

# The server's own defects, each doing what its line says: tests of MCP clients switch them
# on (a client must fall back to the well-known URL, must not need a step-up it is not
# asked for). No catalog row is theirs: the catalog scores authorization servers.
SERVER_FAULTS = {
    "any-audience": "accepts a token whatever its aud (no RFC 8707 audience check)",
    "no-scope-check": "runs a tool whatever scope the token has (never answers 403)",
    "challenge-without-metadata": "its 401 challenge carries no resource_metadata",
}


class McpServer:
    """The MCP endpoint ``path``, its protected resource metadata, over TLS.

    Args:
        issuer: the authorization server (its issuer identifier) to name and trust.
        certfile: the TLS key and certificate chain (PEM).
        path: the MCP endpoint's path.
        challenge: send ``resource_metadata`` in the 401 (else clients must use well-known).
        trust_ca: the CA bundle trusted when fetching the AS's metadata and keys (``None``:
            the system's).
        faults: names from :data:`SERVER_FAULTS` to switch on.
        host: the loopback address to bind.
        port: the port to bind (0: any free one), for an AS that must be told the URL first.
    """

    def __init__(
        self,
        issuer: str,
        certfile: Path,
        path: str = "/mcp",
        *,
        challenge: bool = True,
        trust_ca: Path | None = None,
        faults: Iterable[str] = (),
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.issuer = issuer  # may be set once the AS, which must know this URL, is up
        self._path = path
        self._faults = frozenset(faults)
        unknown = self._faults - SERVER_FAULTS.keys()
        if unknown:
            raise ValueError(f"unknown MCP server faults {sorted(unknown)}: see SERVER_FAULTS")
        self._challenge = challenge and "challenge-without-metadata" not in self._faults
        self._tls = ssl.create_default_context()  # the system's roots, and the test CA
        if trust_ca is not None:
            self._tls.load_verify_locations(cafile=str(trust_ca))
        self._verifier = TokenVerifier(self._tls)
        self._sessions: dict[str, str] = {}  # session id -> negotiated protocol version
        self._lock = threading.Lock()
        self.calls: list[tuple[str, str]] = []  # (tool, subject) of every tool run
        # (time.monotonic(), method, path) of every request, for tests of MCP clients
        self.requests: list[tuple[float, str, str]] = []
        self._server = Server(self._app, host, port, certfile)

    @property
    def url(self) -> str:
        """The MCP endpoint's URL (the resource identifier)."""
        return self._server.base_url + self._path

    @property
    def metadata_url(self) -> str:
        """Where the protected resource metadata is (path-inserted, RFC 9728 §3.1)."""
        return self._server.base_url + WELL_KNOWN + self._path

    def start(self) -> McpServer:
        """Start serving."""
        self._server.start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        self._server.stop()

    def raise_crash(self) -> None:
        """Re-raise an exception the app raised, if any."""
        self._server.raise_crash()

    def __enter__(self) -> McpServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def _app(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        # read the whole request body first: an unread body makes the server close the
        # connection after answering, which races a client that reuses it
        body = b""
        while True:
            message = await receive()
            if len(body) <= MAX_BODY:
                body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        self.requests.append((time.monotonic(), scope["method"], scope["path"]))
        if scope["path"] == WELL_KNOWN + self._path:
            document = {
                "resource": self.url,
                "authorization_servers": [self.issuer],
                "scopes_supported": scopes(),
                "bearer_methods_supported": ["header"],
                "resource_name": "CIMD conformance mock MCP server",
            }
            await _send_json(send, 200, document)
        elif scope["path"] == self._path:
            await self._endpoint(scope["method"], headers, body, send)
        else:
            await _send(send, 404, b"not found", "text/plain")

    async def _endpoint(
        self, method: str, headers: dict[str, str], body: bytes, send: Send
    ) -> None:
        origin = headers.get("origin")
        if origin is not None and origin != _origin(self.url):  # DNS rebinding (transport §)
            await _send(send, 403, b"origin not allowed", "text/plain")
            return
        authorization = headers.get("authorization", "")
        if not authorization.lower().startswith("bearer ") or not authorization[7:].strip():
            await self._unauthorized(send, None)
            return
        try:
            resource = None if "any-audience" in self._faults else self.url
            token = authorization[7:].strip()
            claims = await self._verifier.claims(token, self.issuer, resource)
        except TokenError as exc:
            await self._unauthorized(send, str(exc))
            return
        except KeysUnavailable as exc:
            await _send_json(send, 503, _error(None, -32603, str(exc)))
            return
        if method == "DELETE":
            with self._lock:
                gone = self._sessions.pop(headers.get("mcp-session-id", ""), None)
            await _send(send, 200 if gone else 404, b"", "text/plain")
            return
        if method != "POST":  # no server-sent event stream is offered
            await _send(send, 405, b"", "text/plain", [(b"allow", b"POST, DELETE")])
            return
        try:
            message = json.loads(body)
        except ValueError:
            await _send_json(send, 400, _error(None, -32700, "parse error"))
            return
        if not isinstance(message, dict) or message.get("jsonrpc") != "2.0":
            await _send_json(send, 400, _error(None, -32600, "not a JSON-RPC 2.0 message"))
            return
        await self._rpc(message, headers, claims, send)

    async def _rpc(
        self, message: dict[str, Any], headers: dict[str, str], claims: dict[str, Any], send: Send
    ) -> None:
        method, rpc_id = message.get("method"), message.get("id")
        if method == "initialize":
            params = message.get("params") or {}
            asked = params.get("protocolVersion") if isinstance(params, dict) else None
            version = asked if asked in SUPPORTED_VERSIONS else PROTOCOL_VERSION
            session = secrets.token_urlsafe(16)
            with self._lock:
                self._sessions[session] = str(version)
            result = {
                "protocolVersion": version,
                "capabilities": {"tools": {"listChanged": False}},
                "serverInfo": {"name": "cimd-conformance-mock-mcp", "version": "1.0.0"},
            }
            extra = [(b"mcp-session-id", session.encode())]
            await _send_json(send, 200, {"jsonrpc": "2.0", "id": rpc_id, "result": result}, extra)
            return
        session = headers.get("mcp-session-id", "")
        if not session:
            await _send_json(send, 400, _error(rpc_id, -32600, "Mcp-Session-Id is required"))
            return
        with self._lock:
            known = session in self._sessions
        if not known:
            await _send_json(send, 404, _error(rpc_id, -32600, "unknown or ended session"))
            return
        version = headers.get("mcp-protocol-version")
        if version is not None and version not in SUPPORTED_VERSIONS:
            await _send_json(send, 400, _error(rpc_id, -32600, f"unsupported version {version}"))
            return
        if rpc_id is None:  # a notification (notifications/initialized, cancelled, ...)
            await _send(send, 202, b"", "text/plain")
            return
        if method == "ping":
            await _send_json(send, 200, {"jsonrpc": "2.0", "id": rpc_id, "result": {}})
        elif method == "tools/list":
            result = {"tools": [tool.listed() for tool in TOOLS]}
            await _send_json(send, 200, {"jsonrpc": "2.0", "id": rpc_id, "result": result})
        elif method == "tools/call":
            await self._call(rpc_id, message.get("params"), claims, send)
        else:
            await _send_json(send, 200, _error(rpc_id, -32601, f"method not found: {method}"))

    async def _call(self, rpc_id: Any, params: Any, claims: dict[str, Any], send: Send) -> None:
        params = params if isinstance(params, dict) else {}
        tool = next((t for t in TOOLS if t.name == params.get("name")), None)
        if tool is None:
            unknown = _error(rpc_id, -32602, f"unknown tool {params.get('name')}")
            await _send_json(send, 200, unknown)
            return
        granted = str(claims.get("scope") or "").split()
        if tool.scope not in granted and "no-scope-check" not in self._faults:
            wanted = " ".join(dict.fromkeys([*granted, tool.scope]))
            challenge = (
                f'Bearer error="insufficient_scope", scope="{wanted}", '
                f'resource_metadata="{self.metadata_url}", '
                f'error_description="the {tool.name} tool needs scope {tool.scope}"'
            )
            body = _error(rpc_id, -32001, f"insufficient scope: {tool.scope} is needed")
            await _send_json(send, 403, body, [(b"www-authenticate", challenge.encode())])
            return
        arguments = params.get("arguments") if isinstance(params.get("arguments"), dict) else {}
        text, failed = tool.run(arguments or {})
        self.calls.append((tool.name, str(claims.get("sub"))))
        result = {"content": [{"type": "text", "text": text}], "isError": failed}
        await _send_json(send, 200, {"jsonrpc": "2.0", "id": rpc_id, "result": result})

    async def _unauthorized(self, send: Send, problem: str | None) -> None:
        parts = []
        if problem is not None:
            description = problem.replace('"', "'")
            parts += ['error="invalid_token"', f'error_description="{description}"']
        if self._challenge:
            parts.append(f'resource_metadata="{self.metadata_url}"')
        parts.append(f'scope="{BASE_SCOPE}"')
        challenge = "Bearer " + ", ".join(parts)
        await _send(send, 401, b"", "text/plain", [(b"www-authenticate", challenge.encode())])


# The previous name, for code that names the server as a protected resource only.
ResourceServer = McpServer


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _error(rpc_id: Any, code: int, message: str) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": rpc_id, "error": {"code": code, "message": message}}


async def _send_json(
    send: Send, status: int, body: dict[str, Any], extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    await _send(send, status, json.dumps(body).encode(), "application/json", extra)


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
