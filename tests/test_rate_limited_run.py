"""End to end: a rate limit the suite cannot meet is a harness error, never a verdict.

The reference AS's ``rate-limited`` variant gets a fetch budget that the preflight spends and
a window far longer than the suite may wait; every check that needs a document fetched then
meets HTTP 429 on each try. Those checks must be harness errors naming the rate limit and
the fix, never a pass and never a fail.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conformance.report.model import Report
from conformance.target.reference import ReferenceTarget

pytestmark = pytest.mark.slow

# the budget covers the preflight (the plain request, the browser's, and the one its login
# sends the browser back to) and little more; the window outlasts the whole run
TIGHT_LIMITS = ("--rate-interval", "0", "--rate-budget", "4", "--rate-window", "3600")


def test_a_rate_limit_that_cannot_be_met_is_a_harness_error_never_a_pass(tmp_path: Path) -> None:
    state = tmp_path / "state"
    with ReferenceTarget(
        state_dir=state, variants=("rate-limited",), extra_args=TIGHT_LIMITS
    ) as target:
        done = subprocess.run(
            [
                *(sys.executable, "-m", "conformance.cli", "run", "--issuer", target.issuer),
                *("--pacing", "retries=1", "--pacing", "max_wait_s=0.1"),
                *("--report-dir", str(tmp_path / "out"), "--state-dir", str(state)),
            ],
            capture_output=True,
            text=True,
            timeout=600,
        )
    assert done.returncode == 2, done.stdout[-3000:] + done.stderr[-3000:]
    report = Report.load(tmp_path / "out" / "report.json")
    assert report.preflight["error"] is None  # the checks themselves met the limit
    pacing = report.preflight["pacing"]
    assert (pacing["retries"], pacing["max_wait_s"]) == (1, 0.1)
    assert pacing["waits"] and all("HTTP 429" in w for w in pacing["waits"])

    limited = [r for r in report.results if "rate limiting the suite" in r.observed]
    assert len(limited) >= 10
    assert {r.verdict for r in limited} == {"harness-error"}
    assert all("[pacing]" in r.observed and "--pacing" in r.observed for r in limited)
    # the window outlasts max_wait_s, and the message says so
    assert any("more than max_wait_s" in r.observed for r in limited)
    assert report.failed_requirements() == set()  # a 429 is never a refusal either
    for result in report.results:
        if result.verdict == "pass":  # judged without meeting the limit
            assert '"status": 429' not in json.dumps(result.evidence), result.requirement
