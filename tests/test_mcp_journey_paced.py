"""End to end: the MCP journey's requests go through the run's pacer.

The reference AS's ``rate-limited`` variant refuses a second fetch of one client's document
within ``--rate-interval`` with HTTP 429 and ``Retry-After``: the journey's client is fetched
at its authorization request and again at its token request, which meets the limit. The run
waits and asks again, as for every other request of a run, and the journey's rows pass.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from conformance.report.model import Report
from conformance.target.reference import ReferenceTarget
from tests.test_mcp_journey import CLI, ROWS, _free_port

pytestmark = pytest.mark.slow


def test_a_rate_limited_journey_is_waited_for_and_passes(tmp_path: Path) -> None:
    state = tmp_path / "state"
    port = _free_port()
    resource = f"https://127.0.0.1:{port}/mcp"
    limits = ("--rate-interval", "2", "--rate-budget", "1000", "--resource", resource)
    with ReferenceTarget(state_dir=state, variants=("rate-limited",), extra_args=limits) as target:
        only = json.dumps({target.issuer: ROWS})
        journey = ["--issuer", target.issuer, "--mcp", "--mcp-port", str(port)]
        where = ["--state-dir", str(state), "--report-dir", str(tmp_path / "out")]
        done = subprocess.run(
            [*CLI, "run", *journey, *where, "--judge-only", only],
            capture_output=True,
            text=True,
            timeout=300,
        )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-3000:]
    report = Report.load(tmp_path / "out" / "report.json")
    assert {r.requirement: r.verdict for r in report.results} == dict.fromkeys(ROWS, "pass")
    waits = report.preflight["pacing"]["waits"]
    journey_waits = [w for w in waits if w.startswith("the MCP client's ")]
    assert journey_waits, waits
    assert all("HTTP 429" in w and "waited" in w for w in journey_waits)
