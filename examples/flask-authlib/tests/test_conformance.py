"""The cimd-conformance checks against this server, through the pytest plugin.

The same run as ``pytest --pyargs conformance.scenarios --cimd-issuer URL`` by hand, with the
server started by this test session and the failures it knowingly has in a baseline.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conformance.report.model import Report

BASELINE = Path(__file__).resolve().parent.parent / "known-failures.toml"


@pytest.mark.browser
def test_the_conformance_checks_pass_but_for_the_known_failures(example_server, cimd_ca, tmp_path):
    """Every check passes, or fails as the baseline says; never a harness error."""
    out = tmp_path / "conformance"
    plugin = (
        ["-p", "conformance.plugin"] if os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD") else []
    )
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            *plugin,
            "--pyargs",
            "conformance.scenarios",
            "--cimd-issuer",
            example_server.issuer,
            "--cimd-user",
            "alice",
            "--cimd-password",
            "wonderland-test-only",
            "--cimd-state-dir",
            str(cimd_ca.cert_path.parent),
            "--cimd-report-dir",
            str(out),
            "--cimd-baseline",
            str(BASELINE),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    report = Report.load(out / "report.json")
    summary = done.stdout[-4000:]
    assert report.exit_code() == 0, summary
    assert report.baseline["known"] and not report.baseline["stale"], summary
    assert "harness-error" not in {r.verdict for r in report.results}, summary
    assert not report.partial and report.preflight["login"], summary
