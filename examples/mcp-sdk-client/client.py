"""The official MCP Python SDK (``mcp`` on PyPI) as a client scored by ``run-client``.

    cimd-conformance run-client --profile mcp-2026-07-28
        --command "python examples/mcp-sdk-client/client.py"
        --baseline examples/mcp-sdk-client/baseline.toml

(one command line).

It does what the run-client contract asks (README "Scoring an MCP client"): it writes its
client ID metadata document to ``$CIMD_CLIENT_DOCUMENT`` (the suite publishes it at
``$CIMD_CLIENT_ID``), connects to ``$CIMD_MCP_SERVER_URL`` with the SDK's streamable-HTTP
client and ``OAuthClientProvider`` (``client_metadata_url`` is the CIMD URL), trusts
``$CIMD_CA_FILE``, and calls the ``echo`` tool. Its redirect handler is the user's browser:
it hands the authorization URL to ``$CIMD_USER_AGENT`` and keeps the URL the user was sent
back to, which its callback handler reads (``code``, ``state``, ``iss``).

Exit codes: 0 a tool was called; 1 the SDK stopped (its error on stderr); 2 bad input.
"""

from __future__ import annotations

import json
import os
import ssl
import sys
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import anyio
import httpx2
from mcp.client.auth import OAuthClientProvider
from mcp.client.session import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import (
    AuthorizationCodeResult,
    OAuthClientInformationFull,
    OAuthClientMetadata,
    OAuthToken,
)

REDIRECT_URI = "http://127.0.0.1/callback"  # the user agent hands the redirect back
TIMEOUT_S = 20
NAMES = (
    "CIMD_MCP_SERVER_URL",
    "CIMD_CA_FILE",
    "CIMD_CLIENT_ID",
    "CIMD_CLIENT_DOCUMENT",
    "CIMD_USER_AGENT",
)


class MemoryStorage:
    """The SDK's token storage, in memory (``mcp.client.auth.TokenStorage``)."""

    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client_info: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        """The tokens stored, if any."""
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        """Store the tokens."""
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        """The client information stored, if any."""
        return self.client_info

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        """Store the client information."""
        self.client_info = client_info


async def call_a_tool(env: dict[str, str]) -> str:
    """Connect, authorize through the SDK, call echo; the tool's text."""
    tls = ssl.create_default_context(cafile=env["CIMD_CA_FILE"])
    document = {
        "client_id": env["CIMD_CLIENT_ID"],
        "client_name": "MCP Python SDK client (cimd-conformance run-client)",
        "redirect_uris": [REDIRECT_URI],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
    }
    Path(env["CIMD_CLIENT_DOCUMENT"]).write_text(json.dumps(document), "utf-8")
    returned: list[str] = []

    async def redirect_handler(authorization_url: str) -> None:
        async with httpx2.AsyncClient(timeout=TIMEOUT_S) as browser:
            answer = await browser.post(env["CIMD_USER_AGENT"], data={"url": authorization_url})
        if answer.status_code != 200:
            raise RuntimeError(f"not approved: {answer.text.strip()}")
        returned.append(answer.text.strip())

    async def callback_handler() -> AuthorizationCodeResult:
        params = dict(parse_qsl(urlsplit(returned[-1]).query))
        if "code" not in params:
            raise RuntimeError(f"no code: error {params.get('error')!r}")
        return AuthorizationCodeResult(
            code=params["code"], state=params.get("state"), iss=params.get("iss")
        )

    provider = OAuthClientProvider(
        server_url=env["CIMD_MCP_SERVER_URL"],
        client_metadata=OAuthClientMetadata.model_validate(document),
        storage=MemoryStorage(),
        redirect_handler=redirect_handler,
        callback_handler=callback_handler,
        client_metadata_url=env["CIMD_CLIENT_ID"],
    )
    http = httpx2.AsyncClient(auth=provider, verify=tls, timeout=TIMEOUT_S)
    with anyio.fail_after(3 * TIMEOUT_S):
        async with (
            http,
            streamable_http_client(env["CIMD_MCP_SERVER_URL"], http_client=http) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            result = await session.call_tool("echo", {"text": "hello from the MCP SDK"})
    return str(result.content)


def main() -> int:
    """Run the client once; see the module docstring for the exit codes."""
    missing = [name for name in NAMES if not os.environ.get(name)]
    if missing:
        print(
            f"mcp-sdk-client: {', '.join(missing)} not set (run me with run-client)",
            file=sys.stderr,
        )
        return 2
    try:
        text = anyio.run(call_a_tool, {name: os.environ[name] for name in NAMES})
    except BaseException as exc:  # the SDK's task groups wrap its errors
        print(f"mcp-sdk-client: stopped: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(f"mcp-sdk-client: called a tool: {text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
