"""The official MCP Python SDK (``mcp`` on PyPI) as the client, against our ecosystem.

The SDK's streamable-HTTP client with its OAuth provider, given a client ID metadata document
URL (CIMD) on the suite's metadata host, meets the mock MCP server, discovers the reference AS
behind it, and calls a tool. The user's approval is a real sign-in and consent at the
reference AS, submitted as a browser would submit the forms; the redirect back to the SDK's
redirect URI carries the code, state and iss to its callback. Everything asserted is what the
SDK sent, as the servers saw it or as it left the SDK's HTTP client: the metadata host's log,
the authorization URL, the token request, the access token the MCP server accepted.

Where the SDK and the specification part ways, tests/interop/README.md says who is right.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlsplit

import anyio
import httpx
import jwt
import pytest

from conformance.harness.session import ssl_context
from conformance.target.reference import ReferenceTarget
from mock_servers.mcp_client import client_document
from mock_servers.metadata_host import MetadataHost
from mock_servers.pki import TestCA
from mock_servers.resource_server import (
    BASE_SCOPE,
    PROTOCOL_VERSION,
    McpServer,
    as_metadata_urls,
)
from tests.mcp_journey import http_approve

httpx2 = pytest.importorskip("httpx2")
pytest.importorskip("mcp")
from mcp.client.auth import OAuthClientProvider  # noqa: E402
from mcp.client.auth.exceptions import OAuthFlowError  # noqa: E402
from mcp.client.auth.utils import validate_authorization_response_iss  # noqa: E402
from mcp.client.session import ClientSession  # noqa: E402
from mcp.client.streamable_http import streamable_http_client  # noqa: E402
from mcp.shared.auth import (  # noqa: E402
    AuthorizationCodeResult,
    OAuthClientInformationFull,
    OAuthClientMetadata,
    OAuthMetadata,
    OAuthToken,
)

pytestmark = pytest.mark.slow
REDIRECT_URI = "http://127.0.0.1/callback"  # caught by the user agent, never listened on
TIMEOUT_S = 20


class Stopped(Exception):
    """The user agent stopped before approving (the flow had gone far enough)."""


class MemoryStorage:
    """The SDK's token storage, in memory (``mcp.client.auth.TokenStorage``)."""

    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client_info: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client_info

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client_info = client_info


@dataclass
class UserAgent:
    """The user: opens the authorization URL the SDK hands over, signs in and approves, and
    follows the redirect back to the SDK's redirect URI (whose parameters its callback reads).
    """

    http: httpx.Client
    stop_before_approving: bool = False
    opened: list[str] = field(default_factory=list)
    returned: list[str] = field(default_factory=list)

    async def redirect_handler(self, authorization_url: str) -> None:
        self.opened.append(authorization_url)
        if self.stop_before_approving:
            raise Stopped("the user closed the browser")
        approve = http_approve(self.http, REDIRECT_URI)
        self.returned.append(await anyio.to_thread.run_sync(approve, authorization_url))

    async def callback_handler(self) -> AuthorizationCodeResult:
        params = dict(parse_qsl(urlsplit(self.returned[-1]).query))
        return AuthorizationCodeResult(
            code=params["code"], state=params.get("state"), iss=params.get("iss")
        )


@dataclass
class Sdk:
    """One run of the SDK client: what it sent and what it got."""

    user: UserAgent
    storage: MemoryStorage = field(default_factory=MemoryStorage)
    sent: list[httpx2.Request] = field(default_factory=list)
    protocol: str = ""
    tools: list[str] = field(default_factory=list)
    result: Any = None


@dataclass
class World:
    mcp: McpServer
    host: MetadataHost
    http: httpx.Client
    ca_path: Path

    def client_id(self) -> str:
        """A fresh client URL on the metadata host, serving the client's document."""
        client_id = self.host.new_client_url("mcp-sdk-client.json")
        self.host.serve_document(client_id, client_document(client_id, REDIRECT_URI))
        return client_id


@contextmanager
def _world(state_dir: Path, tmp_path: Path, faults: tuple[str, ...] = ()) -> Iterator[World]:
    """The metadata host, the mock MCP server and the reference AS (with ``faults``) for it."""
    ca = TestCA.load_or_create(state_dir)
    with ExitStack() as stack:
        host = stack.enter_context(MetadataHost(ca))
        leaf = ca.issue_server_pem(tmp_path)
        mcp = stack.enter_context(McpServer("", leaf, trust_ca=ca.cert_path))
        target = ReferenceTarget(faults, state_dir=state_dir, extra_args=("--resource", mcp.url))
        mcp.issuer = stack.enter_context(target).issuer
        tls = ssl_context(str(ca.cert_path))
        http = stack.enter_context(httpx.Client(verify=tls, timeout=TIMEOUT_S))
        yield World(mcp, host, http, ca.cert_path)
        mcp.raise_crash()


@pytest.fixture(scope="module")
def world(state_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with _world(state_dir, tmp_path_factory.mktemp("mcp-sdk")) as world:
        yield world


async def _call_a_tool(world: World, client_id: str, sdk: Sdk) -> None:
    """The SDK connects to the MCP server, authorizes as ``client_id`` and calls echo."""
    metadata = OAuthClientMetadata.model_validate(client_document(client_id, REDIRECT_URI))
    provider = OAuthClientProvider(
        server_url=world.mcp.url,
        client_metadata=metadata,
        storage=sdk.storage,
        redirect_handler=sdk.user.redirect_handler,
        callback_handler=sdk.user.callback_handler,
        client_metadata_url=client_id,
    )

    async def record(request: httpx2.Request) -> None:
        sdk.sent.append(request)

    http = httpx2.AsyncClient(
        auth=provider,
        verify=ssl_context(str(world.ca_path)),
        timeout=TIMEOUT_S,
        event_hooks={"request": [record]},
    )
    with anyio.fail_after(3 * TIMEOUT_S):
        async with (
            http,
            streamable_http_client(world.mcp.url, http_client=http) as (read, write),
            ClientSession(read, write) as session,
        ):
            sdk.protocol = (await session.initialize()).protocol_version
            sdk.tools = [tool.name for tool in (await session.list_tools()).tools]
            sdk.result = await session.call_tool("echo", {"text": "hello from the SDK"})


def _run_sdk(world: World, user: UserAgent | None = None) -> Sdk:
    sdk = Sdk(user or UserAgent(world.http))
    anyio.run(_call_a_tool, world, world.client_id(), sdk)
    return sdk


def _failure(world: World, user: UserAgent | None = None) -> tuple[Sdk, str]:
    """Runs the SDK where it must stop; returns what it sent and every error message raised."""
    sdk = Sdk(user or UserAgent(world.http))
    # any type: the SDK's task groups wrap the error, which _messages unwraps
    with pytest.raises(BaseException) as raised:
        anyio.run(_call_a_tool, world, world.client_id(), sdk)
    return sdk, " | ".join(_messages(raised.value))


def _messages(error: BaseException) -> list[str]:
    """The messages of an error, of the groups' members and of its causes."""
    found = [f"{type(error).__name__}: {error}"]
    if isinstance(error, BaseExceptionGroup):
        for member in error.exceptions:
            found += _messages(member)
    for linked in (error.__cause__, error.__context__):
        if linked is not None:
            found += _messages(linked)
    return found


@pytest.fixture(scope="module")
def sdk(world: World) -> Sdk:
    return _run_sdk(world)


def test_the_sdk_calls_a_tool_through_cimd(world: World, sdk: Sdk) -> None:
    assert sdk.protocol == PROTOCOL_VERSION  # the mock server's revision, 2025-11-25
    assert "echo" in sdk.tools
    assert sdk.result.is_error is False
    assert "hello from the SDK" in str(sdk.result.content)
    assert [tool for tool, _subject in world.mcp.calls] == ["echo"]


def test_the_sdk_used_its_url_as_client_id_with_pkce_and_resource(world: World, sdk: Sdk) -> None:
    (opened,) = sdk.user.opened  # one approval
    query = parse_qs(urlsplit(opened).query)
    client_id = query["client_id"][0]
    assert client_id.startswith(world.host.base_url + "/c/")  # the CIMD URL, no registration
    assert query["code_challenge_method"] == ["S256"]
    assert query["resource"] == [world.mcp.url]
    assert query["redirect_uri"] == [REDIRECT_URI]
    assert query["scope"] == [BASE_SCOPE]  # the 401 challenge's scope
    assert not any(r.url.path.endswith("/register") for r in sdk.sent)
    # the reference AS fetched the document at that URL (it resolved the client by URL)
    assert world.host.fetches(client_id)
    # the token request: the same client_id and resource, and the verifier of the challenge
    (token,) = [r for r in sdk.sent if r.method == "POST" and r.url.path.endswith("/token")]
    form = dict(parse_qsl(token.content.decode()))
    assert form["grant_type"] == "authorization_code"
    assert form["client_id"] == client_id and form["resource"] == world.mcp.url
    digest = hashlib.sha256(form["code_verifier"].encode()).digest()
    challenge = base64.urlsafe_b64encode(digest).decode().rstrip("=")
    assert query["code_challenge"] == [challenge]
    # the redirect it accepted carried the AS's iss (RFC 9207), which it checked
    (returned,) = sdk.user.returned
    assert parse_qs(urlsplit(returned).query)["iss"] == [world.mcp.issuer]


def test_the_token_the_mcp_server_accepted_is_bound_to_it(world: World, sdk: Sdk) -> None:
    assert sdk.storage.tokens is not None
    claims = jwt.decode(sdk.storage.tokens.access_token, options={"verify_signature": False})
    assert claims["aud"] == world.mcp.url  # RFC 8707: the resource the SDK named
    assert claims["iss"] == world.mcp.issuer
    assert BASE_SCOPE in claims["scope"].split()  # the scope of the 401's challenge
    bearer = [r for r in sdk.sent if r.url == world.mcp.url and "authorization" in r.headers]
    assert bearer and all(r.headers["authorization"].startswith("Bearer ") for r in bearer)


def test_the_sdk_refuses_an_iss_that_is_not_the_issuer(state_dir: Path, tmp_path: Path) -> None:
    # MCP 2026-07-28 §Authorization Response Validation, RFC 9207 §2.4: compare as strings
    with _world(state_dir, tmp_path, ("response-iss-trailing-slash",)) as world:
        sdk, errors = _failure(world)
    assert "iss mismatch" in errors, errors
    assert len(sdk.user.returned) == 1  # approved: the code came back, with the wrong iss
    assert not [r for r in sdk.sent if r.url.path.endswith("/token")]  # the code was not used
    assert world.mcp.calls == []


def test_the_sdk_goes_on_without_iss_when_it_is_not_advertised(
    state_dir: Path, tmp_path: Path
) -> None:
    # the table's last row: flag absent, iss absent: proceed
    with _world(state_dir, tmp_path, ("no-response-iss",)) as world:
        sdk = _run_sdk(world)
    (returned,) = sdk.user.returned
    assert "iss" not in parse_qs(urlsplit(returned).query)
    assert sdk.result.is_error is False


def test_the_sdk_authorizes_with_an_as_that_does_not_advertise_pkce(
    world: World, state_dir: Path, tmp_path: Path
) -> None:
    """A deviation (tests/interop/README.md): MCP requires a client to refuse an AS whose
    metadata lacks code_challenge_methods_supported; the SDK sends the user there anyway."""
    real = world.http.get(as_metadata_urls(world.mcp.issuer)[0]).json()
    path = world.host.new_path("as")
    issuer = world.host.base_url + path
    copy = {k: v for k, v in real.items() if k != "code_challenge_methods_supported"}
    world.host.serve_document(
        world.host.base_url + "/.well-known/oauth-authorization-server" + path,
        {**copy, "issuer": issuer},
    )
    ca = TestCA.load_or_create(state_dir)
    with McpServer(issuer, ca.issue_server_pem(tmp_path), trust_ca=ca.cert_path) as mcp:
        elsewhere = World(mcp, world.host, world.http, world.ca_path)
        sdk, errors = _failure(elsewhere, UserAgent(world.http, stop_before_approving=True))
    assert "the user closed the browser" in errors, errors
    (opened,) = sdk.user.opened
    assert opened.startswith(real["authorization_endpoint"] + "?")
    assert parse_qs(urlsplit(opened).query)["code_challenge_method"] == ["S256"]


def test_the_sdk_normalizes_the_issuer_it_compares_iss_with() -> None:
    """A deviation (tests/interop/README.md): the SDK compares iss with the metadata issuer
    as pydantic renders it (host lower-cased, default port dropped), not as the AS wrote it.
    """
    written = "https://AS.example.test:443/tenant"
    metadata = OAuthMetadata.model_validate(
        {
            "issuer": written,
            "authorization_endpoint": "https://as.example.test/authorize",
            "token_endpoint": "https://as.example.test/token",
            "authorization_response_iss_parameter_supported": True,
        }
    )
    with pytest.raises(OAuthFlowError, match="iss mismatch"):
        validate_authorization_response_iss(written, metadata)  # the issuer, verbatim
    validate_authorization_response_iss("https://as.example.test/tenant", metadata)  # another
