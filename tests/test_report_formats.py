"""The Markdown summary, the badge, the JUnit properties, draft links and the comparison."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from conformance.catalog import requirements
from conformance.catalog.coverage import GROUP_MODULES, group_of
from conformance.catalog.documents import section_links
from conformance.report import badge, junit, markdown, view, writers
from conformance.report.compare import compare
from conformance.report.model import CheckResult, Report
from conformance.report.paths import ReportPaths

HOSTILE = (
    "<script>alert(1)</script> | [click](https://evil.test) `x` *b* <img src=x onerror=alert(2)>"
)
DRAFT_02 = "https://datatracker.ietf.org/doc/html/draft-ietf-oauth-client-id-metadata-document-02"


def _report(*results: CheckResult, issuer: str = "https://as.test") -> Report:
    return Report(issuer, "latest", False, "0.1.0", "2026-12-01T00:00:00", results=list(results))


def _result(requirement: str, verdict: str, observed: str = "as expected") -> CheckResult:
    tier = requirements.tier_for(requirements.get(requirement), "latest").value
    return CheckResult(requirement, f"test_{requirement}", "title", tier, verdict, "e", observed)


def test_markdown_shows_verdict_scope_failures_and_escapes_the_target() -> None:
    report = _report(
        _result("CIMD-DISC-01", "pass"),
        _result("CIMD-URL-03", "fail", HOSTILE),
        issuer=f"https://as.test/`{HOSTILE}",
    )
    writers.prepare(report)
    text = markdown.render(report)
    assert text.startswith("## cimd-conformance: Non-conformant\n")
    assert "on the 2 of 84 Required and Recommended rows judged" in text
    assert "draft revision: draft-ietf-oauth-client-id-metadata-document-02" in text
    assert "| Required (R) | 2 | " in text  # the rows judged, from the report's coverage
    failure = next(line for line in text.splitlines() if line.startswith("| CIMD-URL-03"))
    assert failure.count(" | ") == 4  # the target's "|" did not add a column
    assert "&lt;script&gt;" in failure and "\\[click\\]" in failure and "\\`x\\`" in failure
    assert "<script>" not in text and "<img" not in text and "[click](" not in text
    groups = [line.split(" (")[0][2:] for line in text.splitlines() if line.startswith("| ")]
    assert groups.index("Discovery and advertisement") < groups.index(
        "MCP 2025-11-25 requirements on the AS"
    )


def test_badge_counts_and_colours() -> None:
    passing = _report(_result("CIMD-DISC-01", "pass"), _result("CIMD-DISC-02", "not-applicable"))
    failing = _report(_result("CIMD-DISC-01", "pass"), _result("CIMD-URL-03", "fail"))
    assert badge.message(passing) == ("conformant 1/1", 0)
    assert badge.message(failing) == ("non-conformant 1 failed, 1/2 passed", 1)
    assert badge.message(_report()) == ("not tested", 2)
    svg = ET.fromstring(badge.render(failing))  # well-formed XML
    assert svg.get("aria-label") == "cimd-conformance: non-conformant 1 failed, 1/2 passed"
    assert "#c62828" in badge.render(failing)


def test_junit_cases_carry_requirement_tier_verdict_and_sections() -> None:
    report = _report(_result("CIMD-DISC-01", "pass"), _result("CIMD-URL-03", "fail", HOSTILE))
    report.baseline = {"known": ["CIMD-URL-03"]}
    writers.prepare(report)
    suite = ET.fromstring(junit.render([report])).find("testsuite")
    assert suite is not None
    suite_props = {p.get("name"): p.get("value") for p in suite.find("properties") or []}
    assert suite_props["profile"] == "latest" and suite_props["mode"] == "loopback"
    assert "client-id-metadata-document-02" in (suite_props["draft revision"] or "")
    cases = {c.get("classname"): c for c in suite.iter("testcase")}
    case = cases["CIMD-URL-03"]
    assert case.get("name") == "CIMD-URL-03 test_CIMD-URL-03"
    props = {p.get("name"): p.get("value") for p in case.iter("property")}
    assert props["requirement"] == "CIMD-URL-03" and props["tier"] == "R"
    assert props["verdict"] == "fail" and props["known failure"] == "true"
    assert props["sections"] == requirements.get("CIMD-URL-03").sections
    failure = case.find("failure")
    assert failure is not None and HOSTILE in (failure.text or "")


def test_source_cells_link_to_the_draft_sections() -> None:
    links = {f.text: f.href for f in section_links("CIMD-02 §4.1, §8.2; O21 §4.1.3")}
    assert links["§4.1"] == f"{DRAFT_02}#section-4.1"
    assert links["§8.2"] == f"{DRAFT_02}#section-8.2"
    assert (
        links["§4.1.3"]
        == "https://datatracker.ietf.org/doc/html/draft-ietf-oauth-v2-1-13#section-4.1.3"
    )
    appendix = {f.text: f.href for f in section_links("CIMD-02 Appendix A, §8.10")}
    assert appendix["Appendix A"] == f"{DRAFT_02}#appendix-A"
    other = {f.text: f.href for f in section_links("RFC 7523 §3; OIDC Core §9")}
    assert other["§3"] == "https://www.rfc-editor.org/rfc/rfc7523#section-3"
    assert other["§9"] is None  # a document the catalog gives no address for
    every = [f for row in requirements.CATALOG for f in section_links(row.sections)]
    assert "".join(f.text for f in section_links(requirements.CATALOG[0].sections)) == (
        requirements.CATALOG[0].sections
    )
    assert all(f.href is None or f.href.startswith("https://") for f in every)


def test_groups_come_in_catalog_order_with_the_rows_not_tested() -> None:
    report = _report(
        _result("MCP-AUTH-02", "pass"),
        _result("CIMD-SEC-01", "fail"),
        _result("CIMD-DISC-01", "pass"),
    )
    writers.prepare(report)
    groups = view.groups(report)
    keys = [g.key for g in groups]
    assert keys == list(view.GROUP_TITLES)
    disc = groups[0]
    assert [r.id for r in disc.rows] == [
        r.id for r in requirements.CATALOG if r.id.startswith("CIMD-DISC-")
    ]
    assert disc.counts()["pass"] == 1 and disc.counts()["not tested"] >= 1
    assert disc.counts()["not reached"] >= 1  # rows this version checks, not in the report
    assert sum(len(g.rows) for g in groups) == len(requirements.CATALOG)
    untestable = next(r for g in groups for r in g.rows if r.id == "CIMD-SEC-07")
    assert untestable.verdict == "not tested" and "egress" in untestable.untestable


def test_compare_finds_newly_failing_newly_passing_and_changed() -> None:
    old = _report(
        _result("CIMD-DISC-01", "pass"),
        _result("CIMD-URL-03", "fail"),
        _result("CIMD-SEC-01", "pass"),
        _result("CIMD-DOC-01", "pass"),
    )
    new = _report(
        _result("CIMD-DISC-01", "fail", "flag missing"),
        _result("CIMD-URL-03", "pass"),
        _result("CIMD-SEC-01", "harness-error"),
        _result("CIMD-DOC-01", "pass"),
        _result("CIMD-DOC-02", "pass"),
    )
    diff = compare(old, new)
    assert [(c.requirement, c.before, c.after, c.observed) for c in diff.newly_failing] == [
        ("CIMD-DISC-01", "pass", "fail", "flag missing"),
        ("CIMD-SEC-01", "pass", "harness-error", "as expected"),
    ]
    assert [c.requirement for c in diff.newly_passing] == ["CIMD-URL-03"]
    assert [(c.requirement, c.before) for c in diff.changed] == [("CIMD-DOC-02", None)]
    assert compare(new, new).unchanged


def test_a_requirement_shows_its_most_severe_check() -> None:
    old = _report(_result("CIMD-URL-03", "pass"), _result("CIMD-URL-03", "pass"))
    new = _report(_result("CIMD-URL-03", "pass"), _result("CIMD-URL-03", "fail", "second check"))
    [change] = compare(old, new).newly_failing
    assert change.observed == "second check"


def test_step_summary_is_appended_by_a_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    reports = [
        _report(_result("CIMD-DISC-01", "pass"), issuer=f"https://as{n}.test") for n in (1, 2)
    ]
    writers.write_run(reports, ReportPaths.of(tmp_path / "out", [r.issuer for r in reports]))
    text = summary.read_text("utf-8")
    assert text.count("## cimd-conformance: Conformant") == 2
    assert (tmp_path / "out" / "as1.test-443" / "report.md").read_text("utf-8") in text
    assert json.loads((tmp_path / "out" / "index.json").read_text("utf-8"))


def test_a_source_cell_saying_same_links_what_the_row_above_cites() -> None:
    report = _report(_result("CIMD-SEC-02", "pass"))
    writers.prepare(report)
    [row] = [r for g in view.groups(report) for r in g.rows if r.id == "CIMD-SEC-02"]
    assert requirements.get("CIMD-SEC-02").sections == "same"
    assert [f.text for f in row.sections if f.href][:2] == ["CIMD-02", "§8.6"]


def test_the_group_titles_are_the_catalogs_groups_in_catalog_order() -> None:
    in_catalog = list(dict.fromkeys(group_of(row.id) for row in requirements.CATALOG))
    assert list(view.GROUP_TITLES) == in_catalog == list(GROUP_MODULES)
