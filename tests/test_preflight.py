"""Preflight failures that are not the target's fault to score: each ends the run with exit 2,
a message naming the fix, and a report of what was learned."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from conformance.report.model import Report
from conformance.target.reference import ReferenceTarget
from mock_servers.pki import TestCA
from mock_servers.runner import Receive, Scope, Send, Server

pytestmark = pytest.mark.slow
CLI = [sys.executable, "-m", "conformance.cli"]


def _run(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=600)


def _metadata_app(body: bytes, content_type: str):  # type: ignore[no-untyped-def]
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        headers = [(b"content-type", content_type.encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return app


@pytest.fixture
def broken_metadata(state_dir: Path, tmp_path: Path) -> Iterator[Server]:
    """An HTTPS issuer whose metadata is JSON without an authorization_endpoint."""
    ca = TestCA.load_or_create(state_dir)
    body = json.dumps({"issuer": "https://127.0.0.1", "token_endpoint": "x"}).encode()
    leaf = ca.issue_server_pem(tmp_path / "leaf")
    with Server(_metadata_app(body, "application/json"), certfile=leaf) as server:
        yield server


def test_invalid_metadata_is_a_harness_error(
    broken_metadata: Server, state_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    args = ["run", "--issuer", broken_metadata.base_url, "--state-dir", str(state_dir)]
    done = _run([*args, "--report-dir", str(out)])
    assert done.returncode == 2, done.stdout[-3000:]
    report = Report.load(out / "report.json")
    assert "has no usable authorization_endpoint" in report.preflight["error"]
    assert report.preflight["metadata_url"].endswith("/.well-known/oauth-authorization-server")
    # the metadata itself was read: its own defects are scored, nothing else is
    # (MCP-AUTH-03 restates the CIMD-00 rows, DISC-01 among them; "x" is no https endpoint)
    assert report.failed_requirements() == {
        "CIMD-DISC-01",
        "MCP-AUTH-02",
        "MCP-AUTH-03",
        "MCP-AUTH-09",
        "MCP-AUTH-13",
    }


def test_a_login_recipe_that_no_longer_matches_is_a_harness_error(
    state_dir: Path, tmp_path: Path
) -> None:
    with ReferenceTarget(state_dir=state_dir) as target:
        spec = tmp_path / "target.toml"
        spec.write_text(
            f'issuer = "{target.issuer}"\n'
            '[user]\nname = "alice"\npassword = "wonderland-test-only"\n'
            '[login]\napprove_selector = "#allow-access-button"\n'
        )
        out = tmp_path / "out"
        args = ["run", "--target", str(spec), "--state-dir", str(state_dir)]
        done = _run([*args, "--report-dir", str(out)])
    assert done.returncode == 2, done.stdout[-3000:]
    report = Report.load(out / "report.json")
    error = report.preflight["error"]
    assert "no approve button appeared" in error and "the page at" in error
    assert "approve_text or approve_selector" in error
    assert report.failed_requirements() == set()
    # what was learned before the login is kept
    assert report.preflight["valid_client"].startswith("login page")


def test_run_in_the_lab_needs_a_target_command(tmp_path: Path) -> None:
    done = _run(["run", "--lab", "--issuer", "https://127.0.0.1:9", "--report-dir", str(tmp_path)])
    assert done.returncode == 2
    error = Report.load(tmp_path / "report.json").preflight["error"]
    assert "--target-command" in error
