"""The mock MCP server: its challenges (401, 403) and its token checks (RFC 9068, RFC 8707).

Its authorization server here is a metadata host publishing AS metadata and the keys of a
reference-AS token signer, so each test can sign exactly the token it needs (expired, for
another resource, short of a scope, signed by another key).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from conformance.harness.session import ssl_context
from mock_servers.metadata_host import MetadataHost
from mock_servers.pki import TestCA
from mock_servers.reference_as.access_tokens import AccessTokenSigner
from mock_servers.resource_server import (
    ADMIN_SCOPE,
    BASE_SCOPE,
    PROTOCOL_VERSION,
    McpServer,
)

ACCEPT = "application/json, text/event-stream"


@dataclass
class Setup:
    mcp: McpServer
    issuer: str
    signer: AccessTokenSigner
    http: httpx.Client

    def token(self, *, scope: str = BASE_SCOPE, lifetime: int = 300, **claims: Any) -> str:
        defaults: dict[str, Any] = {
            "issuer": self.issuer,
            "subject": "alice",
            "client_id": "https://client.test/c.json",
            "audience": (self.mcp.url,),
        }
        defaults.update(claims)
        return self.signer.issue(scope=scope, lifetime_s=lifetime, **defaults)

    def post(
        self, body: dict[str, Any], token: str | None, session: str | None = None
    ) -> httpx.Response:
        headers = {"accept": ACCEPT}
        if token is not None:
            headers["authorization"] = f"Bearer {token}"
        if session is not None:
            headers["mcp-session-id"] = session
            headers["mcp-protocol-version"] = PROTOCOL_VERSION
        return self.http.post(self.mcp.url, json=body, headers=headers)

    def session(self, token: str) -> str:
        answer = self.post(_initialize(), token)
        assert answer.status_code == 200, answer.text
        assert answer.json()["result"]["protocolVersion"] == PROTOCOL_VERSION
        return answer.headers["mcp-session-id"]


def _initialize() -> dict[str, Any]:
    params = {
        "protocolVersion": PROTOCOL_VERSION,
        "capabilities": {},
        "clientInfo": {"name": "test", "version": "1"},
    }
    return {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": params}


def _call(name: str, **arguments: Any) -> dict[str, Any]:
    params = {"name": name, "arguments": arguments}
    return {"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": params}


def _challenge(response: httpx.Response) -> dict[str, str]:
    header = response.headers["www-authenticate"]
    assert header.startswith("Bearer ")
    return dict(re.findall(r'(\w+)="([^"]*)"', header))


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> TestCA:
    return TestCA.load_or_create(tmp_path_factory.mktemp("state"))


@pytest.fixture(scope="module")
def setup(ca: TestCA, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    signer = AccessTokenSigner()
    with MetadataHost(ca) as host:
        issuer = host.base_url + "/as"
        metadata = {
            "issuer": issuer,
            "authorization_endpoint": issuer + "/authorize",
            "token_endpoint": issuer + "/token",
            "jwks_uri": issuer + "/jwks",
        }
        host.serve_document(host.base_url + "/.well-known/oauth-authorization-server/as", metadata)
        host.serve_document(issuer + "/jwks", signer.jwks())
        leaf = ca.issue_server_pem(tmp_path_factory.mktemp("leaf"))
        with (
            McpServer(issuer, leaf, trust_ca=ca.cert_path) as mcp,
            httpx.Client(verify=ssl_context(str(ca.cert_path)), timeout=10) as http,
        ):
            yield Setup(mcp, issuer, signer, http)
            mcp.raise_crash()


def test_no_token_gets_401_with_the_metadata_and_scope(setup: Setup) -> None:
    answer = setup.post(_initialize(), None)
    assert answer.status_code == 401
    challenge = _challenge(answer)
    assert challenge == {"resource_metadata": setup.mcp.metadata_url, "scope": BASE_SCOPE}
    metadata = setup.http.get(setup.mcp.metadata_url).json()
    assert metadata["resource"] == setup.mcp.url
    assert metadata["authorization_servers"] == [setup.issuer]
    assert metadata["scopes_supported"] == [BASE_SCOPE, ADMIN_SCOPE]


def test_a_valid_token_initializes_lists_and_calls(setup: Setup) -> None:
    token = setup.token()
    session = setup.session(token)
    note = {"jsonrpc": "2.0", "method": "notifications/initialized"}
    assert setup.post(note, token, session).status_code == 202
    listed = setup.post({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}, token, session)
    assert [tool["name"] for tool in listed.json()["result"]["tools"]] == [
        "echo",
        "add",
        "admin_reset",
    ]
    called = setup.post(_call("add", a=2, b=3), token, session)
    assert called.status_code == 200
    assert called.json()["result"] == {"content": [{"type": "text", "text": "5"}], "isError": False}
    # a request after initialize needs the session
    assert setup.post(_call("echo", text="x"), token).status_code == 400
    assert setup.post(_call("echo", text="x"), token, "unknown").status_code == 404


def test_a_tool_needing_a_wider_scope_gets_403_insufficient_scope(setup: Setup) -> None:
    token = setup.token()
    session = setup.session(token)
    refused = setup.post(_call("admin_reset"), token, session)
    assert refused.status_code == 403
    challenge = _challenge(refused)
    assert challenge["error"] == "insufficient_scope"
    assert challenge["scope"] == f"{BASE_SCOPE} {ADMIN_SCOPE}"
    assert challenge["resource_metadata"] == setup.mcp.metadata_url
    wider = setup.token(scope=f"{BASE_SCOPE} {ADMIN_SCOPE}")
    assert setup.post(_call("admin_reset"), wider, session).status_code == 200


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"audience": ("https://other.test/mcp",)}, "not for this resource"),
        ({"lifetime": -60}, "expired"),
        ({"issuer": "https://evil.test"}, "not valid"),
    ],
)
def test_bad_tokens_get_401_invalid_token(
    setup: Setup, claims: dict[str, Any], reason: str
) -> None:
    answer = setup.post(_initialize(), setup.token(**claims))
    assert answer.status_code == 401
    challenge = _challenge(answer)
    assert challenge["error"] == "invalid_token"
    assert reason in challenge["error_description"]
    assert challenge["resource_metadata"] == setup.mcp.metadata_url


def test_a_token_signed_by_another_key_or_not_a_jwt_gets_401(setup: Setup) -> None:
    forged = AccessTokenSigner()
    forged.kid = setup.signer.kid  # the AS's key id, another key
    token = forged.issue(
        issuer=setup.issuer,
        subject="alice",
        client_id="c",
        audience=(setup.mcp.url,),
        scope=BASE_SCOPE,
        lifetime_s=300,
    )
    for bad in (token, "opaque-token"):
        answer = setup.post(_initialize(), bad)
        assert answer.status_code == 401
        assert _challenge(answer)["error"] == "invalid_token"


def test_server_faults(ca: TestCA, setup: Setup, tmp_path: Path) -> None:
    leaf = ca.issue_server_pem(tmp_path)
    faults = ("any-audience", "no-scope-check", "challenge-without-metadata")
    with McpServer(setup.issuer, leaf, trust_ca=ca.cert_path, faults=faults) as faulty:
        other = Setup(faulty, setup.issuer, setup.signer, setup.http)
        assert "resource_metadata" not in _challenge(other.post(_initialize(), None))
        session = other.session(other.token(audience=("https://other.test/mcp",)))
        called = other.post(_call("admin_reset"), other.token(), session)
        assert called.status_code == 200, json.dumps(called.json())
    with pytest.raises(ValueError, match="unknown MCP server faults"):
        McpServer(setup.issuer, leaf, faults=("nope",))


def test_keys_that_cannot_be_had_are_503_not_a_refused_token(
    ca: TestCA, setup: Setup, tmp_path: Path
) -> None:
    """A server that cannot fetch the AS's keys (here: it does not trust the AS) judges no token."""
    with McpServer(setup.issuer, ca.issue_server_pem(tmp_path)) as untrusting:
        other = Setup(untrusting, setup.issuer, setup.signer, setup.http)
        answer = other.post(_initialize(), other.token(audience=(untrusting.url,)))
        assert answer.status_code == 503
        assert "the AS's keys could not be had" in answer.json()["error"]["message"]
