"""Naming the target by its MCP server: RFC 9728 discovery, resource=, and its failures."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from conformance.catalog.verdicts import HarnessError
from conformance.harness.session import ssl_context
from conformance.report.model import Report
from conformance.target import resource
from conformance.target.reference import ReferenceTarget
from mock_servers.pki import TestCA
from mock_servers.resource_server import McpServer

pytestmark = pytest.mark.slow
CLI = [sys.executable, "-m", "conformance.cli"]


def _resource_server(state_dir: Path, tmp_path: Path, issuer: str, **kw: bool) -> McpServer:
    ca = TestCA.load_or_create(state_dir)
    return McpServer(issuer, ca.issue_server_pem(tmp_path / "leaf"), trust_ca=ca.cert_path, **kw)


def test_a_target_named_by_its_mcp_server(state_dir: Path, tmp_path: Path) -> None:
    # the AS issues tokens only for resources it serves (RFC 8707): it is told this one
    with (
        _resource_server(state_dir, tmp_path, "") as mcp,
        ReferenceTarget(state_dir=state_dir, extra_args=("--resource", mcp.url)) as target,
    ):
        issuer = mcp.issuer = target.issuer
        out = tmp_path / "out"
        args = ["run", "--mcp-server", mcp.url, "--state-dir", str(state_dir)]
        done = subprocess.run(
            [*CLI, *args, "--report-dir", str(out)], capture_output=True, text=True, timeout=600
        )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    report = Report.load(out / "report.json")
    assert report.issuer == issuer
    assert report.preflight["mcp"]["resource_metadata"] == mcp.metadata_url
    assert report.preflight["mcp"]["authorization_server"] == issuer
    # every authorization request named the MCP server as the resource (RFC 8707), but for
    # MCP-AUTH-10's unknown one and the by-reference half of a pushed request (RFC 9126 §4)
    sent = [
        parse_qs(urlsplit(e["url"]).query)
        for r in report.results
        if r.requirement != "MCP-AUTH-10"
        for e in r.evidence.get("exchanges", [])
        if "/authorize?" in e["url"]
    ]
    sent = [q for q in sent if "request_uri" not in q]
    assert sent and all(q.get("resource") == [mcp.url] for q in sent)
    verdicts = {r.requirement: r.verdict for r in report.results}
    assert verdicts["MCP-AUTH-10"] == "pass"  # judged with the MCP server's URL
    # the MCP journey went to the user's MCP server, through a tool call and a step-up
    (journeyed,) = [r for r in report.results if r.requirement == "MCP-AUTH-10"]
    journey = journeyed.evidence["mcp_journey"]
    assert journey["mcp_server"] == mcp.url and journey["mock_mcp_server"] is False
    assert "stopped_at" not in journey and journey["steps"][-1]["name"] == "step-up"
    assert mcp.calls == [("echo", "alice"), ("admin_reset", "alice")]


def test_well_known_fallback_and_failures(issuer: str, state_dir: Path, tmp_path: Path) -> None:
    tls = ssl_context(str(TestCA.load_or_create(state_dir).cert_path))
    with (
        _resource_server(state_dir, tmp_path, issuer, challenge=False) as mcp,
        httpx.Client(verify=tls, timeout=10) as client,
    ):
        found = resource.discover(client, mcp.url)
        assert found.issuer == issuer and found.metadata_url == mcp.metadata_url
        with pytest.raises(HarnessError, match="is for resource"):
            resource.discover(client, mcp.url + "?tenant=other")
        with pytest.raises(HarnessError, match="no protected resource metadata"):
            resource.discover(client, issuer + "/mcp")


def test_an_unreachable_mcp_server_is_a_harness_error(tmp_path: Path) -> None:
    done = subprocess.run(
        [*CLI, "run", "--mcp-server", "https://127.0.0.1:9/mcp", "--report-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert "is unreachable" in Report.load(tmp_path / "report.json").preflight["error"]
