"""The MCP journey in a run: `run --issuer URL --mcp` against the reference AS.

The reference AS is told the mock MCP server's URL first (a resource it issues tokens for),
so the mock MCP server gets a fixed port; the run is judged on the journey's rows only.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from conformance.report.model import Report
from conformance.target.reference import ReferenceTarget

pytestmark = pytest.mark.slow
CLI = [sys.executable, "-m", "conformance.cli"]
ROWS = ["MCP-AUTH-02", "MCP-AUTH-10", "MCP-AUTH-11", "MCP-AUTH-13"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _run(state_dir: Path, out: Path, *faults: str) -> tuple[int, Report, str]:
    port = _free_port()
    resource = f"https://127.0.0.1:{port}/mcp"
    args = ("--resource", resource)
    with ReferenceTarget(faults, state_dir=state_dir, extra_args=args) as target:
        only = json.dumps({target.issuer: ROWS})
        journey = ["--issuer", target.issuer, "--mcp", "--mcp-port", str(port)]
        where = ["--state-dir", str(state_dir), "--report-dir", str(out)]
        done = subprocess.run(
            [*CLI, "run", *journey, *where, "--judge-only", only],
            capture_output=True,
            text=True,
            timeout=300,
        )
    return done.returncode, Report.load(out / "report.json"), done.stdout + done.stderr


def test_the_journey_passes_through_a_tool_call_and_is_evidence(
    state_dir: Path, tmp_path: Path
) -> None:
    code, report, output = _run(state_dir, tmp_path)
    assert code == 0, output[-3000:]
    summary = report.preflight["mcp_journey"]
    assert summary["tool_call"] is True and summary["step_up"] is True
    assert "stopped_at" not in summary
    assert "mcp journey: to https://127.0.0.1:" in output
    assert "/mcp: through a tool call and a step-up" in output
    verdicts = {r.requirement: r.verdict for r in report.results}
    assert verdicts == dict.fromkeys(ROWS, "pass")
    for result in report.results:
        journey = result.evidence["mcp_journey"]
        assert journey["mock_mcp_server"] is True and "stopped_at" not in journey
        names = [step["name"] for step in journey["steps"]]
        assert names[0] == "mcp-unauthenticated" and names[-1] == "step-up"
        assert "tools/call" in names
    page = (tmp_path / "report.html").read_text()
    assert "<dt>MCP journey</dt><dd>to <code>https://127.0.0.1:" in page
    assert "and a step-up" in page
    raw = (tmp_path / "report.json").read_text()
    assert "Bearer [redacted]" in raw and "eyJ" not in raw  # no JWT in the report


@pytest.mark.parametrize(
    ("fault", "row", "seen"),
    [
        ("refresh-audience-issuer", "MCP-AUTH-10", "the MCP server refused the access token"),
        ("refresh-not-rotated", "MCP-AUTH-11", "the old refresh token, used again"),
        ("token-rejects-resource", "MCP-AUTH-10", "the MCP client's token request"),
        ("issuer-trailing-slash", "MCP-AUTH-02", "issuer 'https://127.0.0.1:"),
        ("http-revocation-endpoint", "MCP-AUTH-13", "revocation_endpoint = 'http://"),
    ],
)
def test_a_fault_fails_exactly_its_row_through_the_journey(
    state_dir: Path, tmp_path: Path, fault: str, row: str, seen: str
) -> None:
    code, report, output = _run(state_dir, tmp_path, fault)
    assert code == 1, output[-3000:]
    failed = {r.requirement for r in report.results if r.verdict == "fail"}
    assert failed == {row}
    (result,) = [r for r in report.results if r.requirement == row]
    assert seen in result.observed  # judged from the journey's steps, its evidence
    assert "mcp_journey" in result.evidence


def test_the_mock_mcp_server_port_taken_is_a_harness_error(
    issuer: str, state_dir: Path, tmp_path: Path
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        journey = ["--issuer", issuer, "--mcp", "--mcp-port", str(port)]
        done = subprocess.run(
            [*CLI, "run", *journey, "--state-dir", str(state_dir), "--report-dir", str(tmp_path)],
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert done.returncode == 2, done.stdout[-2000:] + done.stderr[-2000:]
    assert "--mcp-port" in Report.load(tmp_path / "report.json").preflight["error"]


def test_demo_mcp_is_all_green(state_dir: Path, tmp_path: Path) -> None:
    """The reference AS and the mock MCP server, the whole suite and the journey."""
    done = subprocess.run(
        [*CLI, "demo", "--mcp", "--state-dir", str(state_dir), "--report-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    report = Report.load(tmp_path / "report.json")
    journeyed = [r for r in report.results if "mcp_journey" in r.evidence]
    assert {r.requirement for r in journeyed} == set(ROWS)
    assert all(r.verdict == "pass" for r in journeyed)


def test_a_target_that_does_not_know_the_mock_mcp_server_is_a_harness_error(
    issuer: str, state_dir: Path, tmp_path: Path
) -> None:
    """The AS refuses the resource it was never told (invalid_target): exit 2, naming the fix."""
    only = json.dumps({issuer: ROWS})
    where = ["--state-dir", str(state_dir), "--report-dir", str(tmp_path)]
    done = subprocess.run(
        [*CLI, "run", "--issuer", issuer, "--mcp", *where, "--judge-only", only],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 2, done.stdout[-2000:]
    error = Report.load(tmp_path / "report.json").preflight["error"]
    assert "does not issue tokens for the mock MCP server" in error and "--mcp-port" in error
