"""private_key_jwt checks on a server that takes only its issuer as the assertion's ``aud``.

RFC 7523bis narrows ``aud`` to the issuer identifier; the AUTHN checks find the audience a
target wants in their control (the token endpoint, then the issuer), so under the reference
AS's ``assertion-audience-issuer`` variant they stay green, and still fail its AUTHN faults.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from conformance.catalog import derived
from conformance.report.model import Report
from mock_servers.reference_as import FAULTS

pytestmark = pytest.mark.slow
VARIANT = ["--variant", "assertion-audience-issuer"]
# the faults that break private_key_jwt rows and nothing else, and the rows they break
AUTHN_FAULTS = [f for f in FAULTS if f.breaks and all("-AUTHN-" in r for r in f.breaks)]
AUTHN_ROWS = {row for fault in AUTHN_FAULTS for row in fault.breaks}


# the rows under test (the variant's other rows are judged by tests/test_variants_all_green.py)
ONLY = ["--only", "CIMD-AUTHN"]


def _demo(out: Path, *args: str) -> tuple[int, Report]:
    command = [sys.executable, "-m", "conformance.cli", "demo", "--strict", *VARIANT, *ONLY, *args]
    command += ["--report-dir", str(out), "--state-dir", str(out / "state")]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    return done.returncode, Report.load(out / "report.json")


def test_authn_checks_pass_when_aud_must_be_the_issuer(tmp_path: Path) -> None:
    code, report = _demo(tmp_path)
    verdicts = {r.requirement: r.verdict for r in report.results}
    assert code == 0, verdicts
    assert AUTHN_ROWS and {verdicts[row] for row in AUTHN_ROWS} == {"pass"}
    assert verdicts["CIMD-AUTHN-05"] == "pass"


def test_authn_faults_still_fail_when_aud_must_be_the_issuer(tmp_path: Path) -> None:
    faults = [arg for fault in AUTHN_FAULTS for arg in ("--fault", fault.name)]
    code, report = _demo(tmp_path, *faults)
    assert code == 1
    # Advisory rows show as advisory; MCP-AUTH-03 restates the CIMD-00 rows
    assert report.violated_requirements() == derived.expand(AUTHN_ROWS)
