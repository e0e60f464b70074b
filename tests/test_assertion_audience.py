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

from conformance.report.model import Report

pytestmark = pytest.mark.slow
VARIANT = ["--variant", "assertion-audience-issuer"]
AUTHN_FAULTS = {
    "private-key-jwt-optional": "CIMD-AUTHN-01",
    "assertion-claims-unchecked": "CIMD-AUTHN-02",
    "assertion-key-from-issuer": "CIMD-AUTHN-04",
    "jwks-uri-unchecked": "CIMD-AUTHN-07",
}


def _demo(out: Path, *args: str) -> tuple[int, Report]:
    command = [sys.executable, "-m", "conformance.cli", "demo", "--strict", *VARIANT, *args]
    command += ["--report-dir", str(out), "--state-dir", str(out / "state")]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    return done.returncode, Report.load(out / "report.json")


def test_authn_checks_pass_when_aud_must_be_the_issuer(tmp_path: Path) -> None:
    code, report = _demo(tmp_path)
    verdicts = {r.requirement: r.verdict for r in report.results}
    assert code == 0, verdicts
    assert {verdicts[row] for row in AUTHN_FAULTS.values()} == {"pass"}
    assert verdicts["CIMD-AUTHN-05"] == "pass"


def test_authn_faults_still_fail_when_aud_must_be_the_issuer(tmp_path: Path) -> None:
    faults = [arg for name in AUTHN_FAULTS for arg in ("--fault", name)]
    code, report = _demo(tmp_path, *faults)
    assert code == 1
    assert report.failed_requirements() == set(AUTHN_FAULTS.values())
