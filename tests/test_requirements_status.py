"""Each catalog row's standing, `cimd-conformance requirements`, and derived verdicts."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from conformance.catalog import coverage, derived, requirements, status
from conformance.catalog.status import Status
from conformance.catalog.untestable import UNTESTABLE
from conformance.plugin.judging import derived_results
from conformance.report.baseline import Baseline, KnownFailure
from conformance.report.model import CheckResult, Report
from mock_servers.reference_as.faults import FAULTS

SCORED = ("R", "Rec")


def _result(rid: str, verdict: str, tier: str = "R") -> CheckResult:
    return CheckResult(requirement=rid, check="c", title="t", tier=tier, verdict=verdict)


def _derived(results: list[CheckResult], strict: bool = True) -> dict[str, CheckResult]:
    return {r.requirement: r for r in derived_results(results, "latest", strict=strict)}


def test_every_required_and_recommended_row_is_covered_or_says_why_not() -> None:
    rows = status.table()
    open_rows = [(r.id, r.tier) for r in rows if r.tier in SCORED and r.status is Status.OPEN]
    assert open_rows == [], "R/Rec rows need a check, a derivation or an untestable reason"


def test_untestable_reasons_name_catalog_rows_without_checks() -> None:
    checked = coverage.reported_by_this_version()
    for rid, reason in UNTESTABLE.items():
        requirements.get(rid)  # a real row
        assert rid not in checked, f"{rid} has a check and an untestable reason"
        assert reason.strip() and "hard" not in reason.lower()


def test_every_checked_row_has_a_fault_in_the_listing() -> None:
    broken = {f.name: {*f.breaks_in("loopback"), *f.breaks_in("lab")} for f in FAULTS}
    rows = status.table("latest", status.faults_by_row(broken))
    scored = [r for r in rows if r.status in (Status.CHECKED, Status.DERIVED) and r.tier != "I"]
    assert [r.id for r in scored if not r.faults] == []


def test_requirements_command_prints_the_catalog_as_json() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "conformance.cli", "requirements", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    doc = json.loads(done.stdout)
    assert [r["id"] for r in doc["rows"]] == [r.id for r in requirements.CATALOG]
    by_id = {r["id"]: r for r in doc["rows"]}
    assert by_id["CIMD-DOC-03"]["status"] == "checked"
    assert "no-client-id-match" in by_id["CIMD-DOC-03"]["faults"]
    assert by_id["MCP-AUTH-04"]["status"] == "derived"
    assert by_id["MCP-AUTH-04"]["derived_from"] == ["CIMD-DOC-03", "CIMD-URL-08"]
    assert "no-client-id-match" in by_id["MCP-AUTH-04"]["faults"]


def test_requirements_command_prints_a_table_with_a_summary_per_tier() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "conformance.cli", "requirements", "--profile", "mcp-2025-11-25"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert done.stdout.startswith("Required (R): ")
    assert "MCP-AUTH-04    R   derived" in done.stdout
    assert "derived from: CIMD-DOC-03, CIMD-URL-08" in done.stdout


def test_a_derived_row_passes_when_its_rows_pass() -> None:
    rows = _derived([_result("CIMD-DOC-03", "pass"), _result("CIMD-URL-08", "pass")])
    mcp04 = rows["MCP-AUTH-04"]
    assert (mcp04.verdict, mcp04.check) == ("pass", derived.CHECK_NAME)
    assert mcp04.evidence == {"derived_from": {"CIMD-DOC-03": "pass", "CIMD-URL-08": "pass"}}
    assert "derived from 2 of 2 rows" in mcp04.observed


def test_a_derived_row_fails_with_its_source_at_the_weaker_tier() -> None:
    rows = _derived(
        [_result("CIMD-REDIR-08", "fail", tier="Rec"), _result("CIMD-REDIR-01", "pass")]
    )
    assert rows["MCP-AUTH-15"].verdict == "fail"  # strict: Rec fails
    assert rows["MCP-AUTH-15"].tier == "R"
    lenient = _derived([_result("CIMD-REDIR-08", "non-strict", tier="Rec")], strict=False)
    assert lenient["MCP-AUTH-15"].verdict == "non-strict"
    assert "violated by CIMD-REDIR-08 (non-strict)" in lenient["MCP-AUTH-15"].observed


def test_a_violation_outranks_other_checks_of_the_same_row() -> None:
    rows = _derived([_result("CIMD-DOC-03", "pass"), _result("CIMD-DOC-03", "fail")])
    assert rows["MCP-AUTH-04"].verdict == "fail"


def test_a_source_that_could_not_be_tested_leaves_the_derived_row_unjudged() -> None:
    rows = _derived([_result("CIMD-DOC-03", "harness-error"), _result("CIMD-URL-08", "pass")])
    assert "MCP-AUTH-04" not in rows  # not judged; CIMD-DOC-03's result says why
    only_na = _derived([_result("CIMD-DOC-10", "not-applicable")])
    assert only_na["MCP-AUTH-14"].verdict == "not-applicable"


def test_per_row_rows_record_their_sources_without_scoring_them() -> None:
    rows = _derived([_result("CIMD-UI-02", "fail")])
    assert rows["MCP-AUTH-17"].verdict == "informational"
    assert "MCP-AUTH-17" not in derived.expand({"CIMD-UI-02"})
    assert rows["MCP-AUTH-03"].verdict == "fail"  # UI-02 is a CIMD-00 row


def test_no_derived_row_without_a_reported_source() -> None:
    assert "MCP-AUTH-04" not in _derived([_result("CIMD-DOC-10", "pass")])


def test_a_partial_run_passes_no_derived_row_but_fails_one() -> None:
    assert "MCP-AUTH-04" not in _derived([_result("CIMD-DOC-03", "pass")])  # URL-08 not run
    assert _derived([_result("CIMD-DOC-03", "fail")])["MCP-AUTH-04"].verdict == "fail"


@pytest.mark.parametrize("rid", sorted(derived.derived_rows()))
def test_derived_rows_point_at_catalog_rows(rid: str) -> None:
    assert derived.sources(rid)
    for source in derived.sources(rid):
        assert requirements.get(source).id.startswith("CIMD-")


def test_the_baseline_knows_a_derived_failure_when_it_knows_its_source() -> None:
    report = Report(
        issuer="https://as.test", profile="latest", strict=True, tool_version="x", started=""
    )
    report.results = [_result("CIMD-DOC-03", "fail")]
    report.results += derived_results(report.results, "latest", strict=True)
    assert report.failed_requirements() == {"CIMD-DOC-03", "MCP-AUTH-04", "MCP-AUTH-03"}
    report.apply_baseline(Baseline(path="b.toml", entries=(KnownFailure("CIMD-DOC-03", "known"),)))
    assert set(report.baseline["known"]) == {"CIMD-DOC-03", "MCP-AUTH-04", "MCP-AUTH-03"}
    assert report.exit_code() == 0
