"""What the benchmark's floor is read from lands in a real run's report: each check's
unavoidable waits, the browser's start and the login, and the browser's page loads."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conformance.report.model import Report

pytestmark = pytest.mark.slow
CLI = [sys.executable, "-m", "conformance.cli"]


def test_report_carries_waits_launch_login_and_browser_page_loads(
    issuer: str, state_dir: Path, tmp_path: Path
) -> None:
    rows = ["CIMD-CACHE-04", "CIMD-UI-01"]  # a cache lifetime sat out; a rendered consent page
    args = ["run", "--issuer", issuer, "--state-dir", str(state_dir)]
    args += ["--judge-only", json.dumps({issuer: rows}), "--report-dir", str(tmp_path)]
    done = subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:]
    report = Report.load(tmp_path / "report.json")
    timing = report.preflight["timing"]
    assert timing["browser_start_s"] > 0 and timing["login_s"] > 0
    # started in the preflight, so its launch is what the preflight waited
    assert timing["browser_launch_s"] <= timing["browser_start_s"]
    assert report.preflight["browser_navigations"] >= 1  # the consent page UI-01 rendered
    (stale,) = [r for r in report.results if r.requirement == "CIMD-CACHE-04"]
    assert stale.verdict == "pass"
    (wait,) = stale.evidence["waits"]
    assert wait["why"] == "max-age=2 to run out" and wait["span_s"] == 2.5
    assert 0 < wait["slept_s"] <= 2.5
