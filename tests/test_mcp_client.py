"""The mock MCP client's whole journey against the reference AS and the mock MCP server."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import httpx
import jwt
import pytest

from conformance.harness.session import ssl_context
from conformance.target.reference import ReferenceTarget
from mock_servers.mcp_client import McpClient, client_document
from mock_servers.mcp_record import JourneyError
from mock_servers.metadata_host import MetadataHost
from mock_servers.pki import TestCA
from mock_servers.resource_server import ADMIN_SCOPE, BASE_SCOPE, McpServer
from tests.mcp_journey import http_approve

pytestmark = pytest.mark.slow
pytest_plugins = ["pytester"]
REDIRECT_URI = "http://127.0.0.1/callback"


@dataclass
class World:
    mcp: McpServer
    host: MetadataHost
    http: httpx.Client
    bare: McpServer  # its 401 names no metadata; it never asks for a wider scope

    def client(self) -> McpClient:
        client_id = self.host.new_client_url("mcp-client.json")
        self.host.serve_document(client_id, client_document(client_id, REDIRECT_URI))
        return McpClient(self.http, client_id, REDIRECT_URI, http_approve(self.http, REDIRECT_URI))


def _world(state_dir: Path, tmp_path: Path, faults: tuple[str, ...] = ()) -> Iterator[World]:
    ca = TestCA.load_or_create(state_dir)
    with ExitStack() as stack:
        host = stack.enter_context(MetadataHost(ca))
        leaf = ca.issue_server_pem(tmp_path)
        mcp = stack.enter_context(McpServer("", leaf, trust_ca=ca.cert_path))
        bare_faults = ("challenge-without-metadata", "no-scope-check")
        bare = McpServer("", leaf, trust_ca=ca.cert_path, faults=bare_faults)
        stack.enter_context(bare)
        args = ("--resource", mcp.url, "--resource", bare.url)
        target = ReferenceTarget(faults, state_dir=state_dir, extra_args=args)
        mcp.issuer = bare.issuer = stack.enter_context(target).issuer
        http = stack.enter_context(httpx.Client(verify=ssl_context(str(ca.cert_path)), timeout=10))
        yield World(mcp, host, http, bare)
        mcp.raise_crash()
        bare.raise_crash()


@pytest.fixture(scope="module")
def world(state_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    yield from _world(state_dir, tmp_path_factory.mktemp("mcp"))


def test_the_whole_journey_to_a_tool_call_and_a_step_up(world: World) -> None:
    journey = world.client().journey(world.mcp.url)
    assert journey.challenge["resource_metadata"] == world.mcp.metadata_url
    assert journey.issuer == world.mcp.issuer
    assert journey.as_metadata_url.startswith(world.mcp.issuer.split("//")[0])
    assert journey.tools == ["echo", "add", "admin_reset"]
    assert journey.tool_result["isError"] is False
    assert journey.refreshed is not None and journey.old_refresh_reused is False
    first, wider = journey.grants
    assert (first.scope, wider.scope) == (BASE_SCOPE, f"{BASE_SCOPE} {ADMIN_SCOPE}")
    claims = jwt.decode(wider.access_token, options={"verify_signature": False})
    assert claims["aud"] == world.mcp.url and ADMIN_SCOPE in claims["scope"].split()
    assert journey.step_up_challenge["error"] == "insufficient_scope"
    assert journey.step_up_result["isError"] is False
    names = [step.name for step in journey.steps]
    assert names[:2] == ["mcp-unauthenticated", "resource-metadata"]
    for name in ("as-metadata", "authorize", "token", "refresh", "refresh-replay", "initialize"):
        assert name in names
    assert names[-3:] == ["authorize", "token", "step-up"]
    # the evidence names the resource in both requests, and holds no secret
    authorize = next(step for step in journey.steps if step.name == "authorize")
    token = next(step for step in journey.steps if step.name == "token")
    assert authorize.sent["resource"] == token.sent["resource"] == world.mcp.url
    evidence = json.dumps(journey.evidence())
    for grant in journey.grants:
        assert grant.access_token not in evidence
        assert grant.refresh_token is None or grant.refresh_token not in evidence
    assert "[redacted]" in evidence


def test_well_known_fallback_and_no_step_up_needed(world: World) -> None:
    """No resource_metadata in the 401: the path-inserted well-known URL (RFC 9728 §3.1)."""
    journey = world.client().journey(world.bare.url)
    assert "resource_metadata" not in journey.challenge
    assert journey.resource_metadata_url == world.bare.metadata_url
    assert len(journey.grants) == 1 and not journey.step_up_challenge
    assert journey.step_up_result["isError"] is False
    assert journey.steps[-1].note == "ran without a wider scope: no step-up"


def test_a_refresh_that_is_not_rotated_is_seen(state_dir: Path, tmp_path: Path) -> None:
    for world in _world(state_dir, tmp_path, ("refresh-not-rotated",)):
        journey = world.client().journey(world.mcp.url, step_up=False)
        assert journey.old_refresh_reused is True


def test_an_mcp_server_of_another_issuer_stops_before_authorizing(world: World) -> None:
    client = world.client()
    with pytest.raises(JourneyError, match="other-issuer: the MCP server names"):
        client.journey(world.mcp.url, issuer="https://127.0.0.1:9/other")
    assert [step.name for step in client.last.steps] == ["mcp-unauthenticated", "resource-metadata"]


def test_a_server_that_is_not_protected_stops_the_journey(world: World) -> None:
    with pytest.raises(
        JourneyError, match="mcp-unauthenticated: the MCP server answered 404, not 401"
    ):
        world.client().journey(world.mcp.issuer + "/mcp")


def test_the_mcp_client_fixture(pytester: pytest.Pytester, tmp_path: Path) -> None:
    """``cimd_mcp_client`` alone: a client whose document is on the run's metadata host.

    The AS is rate-limited (a second fetch of one document within 1 s is HTTP 429, as the
    token request's is): the fixture's client waits and asks again, as a run does.
    """
    pytester.makepyfile(
        """
        from mock_servers.resource_server import McpServer
        from conformance.target.reference import ReferenceTarget
        from tests.mcp_journey import http_approve

        def test_journey(cimd_mcp_client, cimd_ca, tmp_path):
            leaf = cimd_ca.issue_server_pem(tmp_path)
            with McpServer("", leaf, trust_ca=cimd_ca.cert_path) as mcp:
                args = ("--resource", mcp.url, "--rate-interval", "1", "--rate-budget", "100")
                state = cimd_ca.cert_path.parent
                limited = ("rate-limited",)
                with ReferenceTarget(state_dir=state, variants=limited, extra_args=args) as target:
                    mcp.issuer = target.issuer
                    client = cimd_mcp_client(lambda url: approve(url))
                    approve = http_approve(client.http, client.redirect_uri)
                    journey = client.journey(mcp.url)
            assert client.client_id.endswith("/mcp-client.json")
            assert journey.tool_result["isError"] is False
            assert journey.step_up_result["isError"] is False
        """
    )
    explicit = (
        ["-p", "conformance.plugin"] if os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD") else []
    )
    state = ["--cimd-state-dir", str(tmp_path / "state")]
    result = pytester.runpytest(*explicit, "-p", "no:asyncio", "-p", "no:cacheprovider", *state)
    result.assert_outcomes(passed=1)
