"""The report model's exit code with baselines and interrupts (conformance/report/model.py).

tests/test_baseline.py covers parsing baseline files and the basic known/stale/unlisted
cases; these tests cover how the baseline meets every other verdict.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from conformance.catalog.verdicts import Verdict
from conformance.report import writers
from conformance.report.baseline import Baseline, KnownFailure, load
from conformance.report.model import CheckResult, Report


def _report(*results: tuple[str, str]) -> Report:
    checks = [CheckResult(rid, f"test_{i}", "", "R", verdict) for i, (rid, verdict) in
              enumerate(results)]  # fmt: skip
    return Report("https://as.test", "latest", False, "0", "now", results=checks)


def _baseline(*ids: str) -> Baseline:
    return Baseline("baseline.toml", tuple(KnownFailure(i, f"why {i}") for i in ids))


def test_without_a_baseline_the_exit_code_is_the_verdicts() -> None:
    assert _report(("CIMD-URL-01", "pass"), ("CIMD-URL-02", "non-strict")).exit_code() == 0
    assert _report(("CIMD-URL-01", "pass"), ("CIMD-URL-02", "fail")).exit_code() == 1
    assert _report(("CIMD-URL-01", "fail"), ("CIMD-URL-02", "harness-error")).exit_code() == 2
    assert _report().exit_code() == 2


@pytest.mark.parametrize("verdict", ["non-strict", "advisory", "informational", "not-applicable"])
def test_a_listed_requirement_that_neither_fails_nor_passes_is_neither_known_nor_stale(
    verdict: str,
) -> None:
    report = _report(("CIMD-URL-01", verdict), ("CIMD-URL-02", "pass"))
    report.apply_baseline(_baseline("CIMD-URL-01"))
    assert report.baseline["known"] == [] and report.baseline["stale"] == []
    assert report.exit_code() == 0


def test_a_requirement_still_failing_in_one_check_is_not_stale() -> None:
    """Two checks of one requirement, one passing: the listed failure is still there."""
    report = _report(("CIMD-URL-01", "pass"), ("CIMD-URL-01", "fail"))
    report.apply_baseline(_baseline("CIMD-URL-01"))
    assert report.baseline["known"] == ["CIMD-URL-01"] and report.baseline["stale"] == []
    assert report.exit_code() == 0


def test_known_failures_never_hide_a_harness_error_or_an_empty_run() -> None:
    report = _report(("CIMD-URL-01", "fail"), ("CIMD-URL-02", "harness-error"))
    report.apply_baseline(_baseline("CIMD-URL-01", "CIMD-URL-02"))
    assert report.exit_code() == 2
    empty = _report()
    empty.apply_baseline(_baseline("CIMD-URL-01"))
    assert empty.baseline["known"] == [] and empty.exit_code() == 2


@pytest.mark.parametrize(("signal", "code"), [("SIGINT", 130), ("SIGTERM", 2)])
def test_an_interrupted_run_is_never_conformant_whatever_the_baseline(
    signal: str, code: int
) -> None:
    report = _report(("CIMD-URL-01", "fail"), ("CIMD-URL-02", "pass"))
    report.apply_baseline(_baseline("CIMD-URL-01"))
    assert report.exit_code() == 0  # before the signal: every failure is known
    report.interrupted = {"signal": signal, "exit_code": code}
    assert report.exit_code() == code


def test_an_interrupt_with_nothing_judged_is_not_conformant_either() -> None:
    report = _report()
    report.interrupted = {"signal": "SIGINT"}
    assert report.exit_code() == 2


def test_the_baseline_records_its_reasons_and_survives_the_json(tmp_path: Path) -> None:
    path = tmp_path / "baseline.toml"
    path.write_text(
        "[[known-failure]]\nrequirement = 'CIMD-URL-01'\nreason = 'upstream issue 1'\n"
        "[[known-failure]]\nrequirement = 'CIMD-URL-03'\nreason = 'fixed since'\n"
    )
    report = _report(("CIMD-URL-01", "fail"), ("CIMD-URL-03", "pass"), ("CIMD-URL-04", "pass"))
    report.apply_baseline(load(path))
    assert report.baseline == {
        "file": str(path),
        "known": ["CIMD-URL-01"],
        "stale": ["CIMD-URL-03"],
        "reasons": {"CIMD-URL-01": "upstream issue 1", "CIMD-URL-03": "fixed since"},
    }
    data = json.loads(json.dumps(report.to_json()))
    assert data["exit_code"] == 1  # the stale entry fails the run
    again = Report.from_json(data)
    assert again.baseline == report.baseline and again.exit_code() == 1


def test_the_summary_counts_every_verdict() -> None:
    verdicts = ["pass", "pass", "fail", "advisory", "harness-error"]
    report = _report(*(("CIMD-URL-01", v) for v in verdicts))
    summary = report.summary()
    assert list(summary) == [v.value for v in Verdict]
    assert summary["pass"] == 2 and summary["fail"] == 1 and summary["not-applicable"] == 0
    assert sum(summary.values()) == len(verdicts)
    assert report.to_json()["summary"] == summary and report.to_json()["exit_code"] == 2


def test_a_report_of_another_schema_is_refused() -> None:
    data = _report(("CIMD-URL-01", "pass")).to_json()
    data["schema"] = "cimd-conformance-report/0"
    with pytest.raises(ValueError, match="not a cimd-conformance-report/1 report"):
        Report.from_json(data)


@dataclass
class _Hop:
    url: str
    status: int


def test_the_json_form_holds_the_evidence_as_it_is_and_writes_dataclasses_as_fields() -> None:
    report = _report(("CIMD-URL-01", "pass"))
    evidence = {"hops": [_Hop("https://as.test/authorize", 302)], "attempts": ({"n": 1},)}
    report.results[0].evidence = evidence
    data = report.to_json()
    assert data["results"][0]["evidence"] is evidence  # no copy: the form is for writing
    assert list(data) == [
        "schema", "issuer", "profile", "strict", "tool_version", "started", "finished", "mode",
        "environment", "preflight", "results", "baseline", "coverage", "interrupted",
        "selection", "summary", "exit_code", "partial",
    ]  # fmt: skip
    written = json.loads(writers.FORMATS["json"].render(report, Path()))
    assert written["results"][0]["evidence"] == {
        "hops": [{"url": "https://as.test/authorize", "status": 302}],
        "attempts": [{"n": 1}],
    }
    report.results[0].evidence = {"odd": {1, 2}}
    with pytest.raises(TypeError, match="set in a report is not JSON"):
        writers.FORMATS["json"].render(report, Path())
