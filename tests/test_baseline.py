"""Known-failure baselines: strict parsing, known failures, stale entries."""

from __future__ import annotations

from pathlib import Path

import pytest

from conformance.report.baseline import BaselineError, load
from conformance.report.model import CheckResult, Report


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "baseline.toml"
    path.write_text(text)
    return path


def _report(**verdicts: str) -> Report:
    results = [CheckResult(rid.replace("_", "-"), "t", "", "R", v) for rid, v in verdicts.items()]
    return Report("https://as.test", "latest", False, "0", "now", results=results)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "[[known-failures]]\nrequirement='CIMD-URL-02'\nreason='x'\n",
            "unknown key 'known-failures'",
        ),
        (
            "[[known-failure]]\nrequirement='CIMD-URL-02'\nreason='x'\nwhy='y'\n",
            "unknown key 'why'",
        ),
        ("[[known-failure]]\nrequirement='CIMD-URL-02'\n", "missing key 'reason'"),
        ("[[known-failure]]\nrequirement='CIMD-NOPE-01'\nreason='x'\n", "unknown requirement"),
        ("[[known-failure]\n", "not valid TOML"),
    ],
)
def test_broken_baselines_name_the_problem(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(BaselineError, match=message):
        load(_write(tmp_path, text))


def test_known_failure_does_not_fail_and_stale_entry_does(tmp_path: Path) -> None:
    baseline = load(
        _write(
            tmp_path,
            "[[known-failure]]\nrequirement='CIMD-URL-02'\nreason='x'\n"
            "[[known-failure]]\nrequirement='CIMD-URL-01'\nreason='y'\n",
        )
    )
    report = _report(CIMD_URL_02="fail", CIMD_URL_01="fail")
    report.apply_baseline(baseline)
    assert report.exit_code() == 0
    assert report.baseline["known"] == ["CIMD-URL-01", "CIMD-URL-02"]

    stale = _report(CIMD_URL_02="fail", CIMD_URL_01="pass")
    stale.apply_baseline(baseline)
    assert stale.baseline["stale"] == ["CIMD-URL-01"]
    assert stale.exit_code() == 1

    unlisted = _report(CIMD_URL_02="fail", CIMD_URL_01="fail", CIMD_URL_03="fail")
    unlisted.apply_baseline(baseline)
    assert unlisted.exit_code() == 1

    harness = _report(CIMD_URL_02="fail", CIMD_URL_01="harness-error")
    harness.apply_baseline(baseline)
    assert harness.exit_code() == 2
