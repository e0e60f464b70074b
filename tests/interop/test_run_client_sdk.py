"""``run-client`` scores the official MCP Python SDK against its committed baseline.

examples/mcp-sdk-client/client.py is the SDK (``mcp==2.3.0``) driven by the run-client
contract; its known failures, each with the specification's reading, are in
examples/mcp-sdk-client/baseline.toml. The run must match the baseline exactly: every
failure listed (none new), no entry stale, so the exit code is 0.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from conformance.client.run import score
from conformance.report import baseline

pytest.importorskip("mcp")
pytestmark = pytest.mark.slow

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "mcp-sdk-client"
COMMAND = f"{sys.executable} {EXAMPLE / 'client.py'}"


def test_the_sdk_client_matches_its_baseline(state_dir: Path) -> None:
    known = baseline.load(EXAMPLE / "baseline.toml")
    report = score(COMMAND, profile="mcp-2026-07-28", state_dir=state_dir, baseline=known)
    scenarios = {s["name"]: s for s in report.preflight["scenarios"]}
    assert scenarios["clean"]["exit_code"] == 0, scenarios["clean"]["output"]
    assert scenarios["clean"]["tool_calls"] == 1  # through to a tool call
    assert "harness-error" not in {r.verdict for r in report.results}
    assert report.violated_requirements() == known.requirements
    assert report.baseline["stale"] == []
    assert report.exit_code() == 0


def test_without_the_baseline_the_sdk_fails_mcp_cli_04(state_dir: Path) -> None:
    report = score(COMMAND, profile="mcp-2026-07-28", state_dir=state_dir)
    assert report.failed_requirements() == {"MCP-CLI-04"}
    assert report.exit_code() == 1
