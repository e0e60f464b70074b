"""The scope of a verdict: the rows this version checks, and the rows a run judged."""

from __future__ import annotations

import importlib
import inspect
import json
import pkgutil
from pathlib import Path

import pytest

from conformance import scenarios
from conformance.catalog import coverage, requirements
from conformance.report import console, junit
from conformance.report.model import CheckResult, Report


def _imported_requirement_marks() -> set[str]:
    found = set()
    for info in pkgutil.iter_modules(scenarios.__path__):
        module = importlib.import_module(f"conformance.scenarios.{info.name}")
        for _, func in inspect.getmembers(module, inspect.isfunction):
            for mark in getattr(func, "pytestmark", []):
                if mark.name == "requirement":
                    found.add(mark.args[0])
    return found


def test_checked_rows_are_read_without_importing_the_checks() -> None:
    assert coverage.checked_by_this_version() == _imported_requirement_marks()


def test_each_modules_marks_are_kept_by_its_sources_digest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    kept_in = tmp_path / "cimd-conformance" / coverage.MARKS_CACHE
    module = coverage.SCENARIOS / "test_fetching.py"
    read = coverage._module_marks(module)
    assert "CIMD-FETCH-04" in read
    [kept] = kept_in.glob("*.json")
    assert json.loads(kept.read_text("utf-8")) == read
    kept.write_text('["CIMD-KEPT-01"]', "utf-8")
    assert coverage._module_marks(module) == ["CIMD-KEPT-01"]  # read from the entry
    kept.write_text("[not json", "utf-8")
    assert coverage._module_marks(module) == read  # parsed again, and kept again
    assert json.loads(kept.read_text("utf-8")) == read
    edited = tmp_path / "test_edited.py"
    edited.write_text(module.read_text("utf-8") + "\n# edited\n", "utf-8")
    assert coverage._module_marks(edited) == read
    assert len(list(kept_in.glob("*.json"))) == 2  # another source, another entry
    not_a_directory = tmp_path / "file"
    not_a_directory.write_text("", "utf-8")
    monkeypatch.setenv("XDG_CACHE_HOME", str(not_a_directory))
    assert coverage._module_marks(module) == read  # a cache that cannot be written


def test_checked_and_not_tested_rows_partition_the_catalog() -> None:
    block = coverage.summarize([], "latest")
    checked = coverage.reported_by_this_version()  # derived rows are reported too
    not_tested = {row["id"] for row in block["not_tested"]}
    catalog = {row.id for row in requirements.CATALOG}
    assert checked <= catalog
    assert not_tested == catalog - checked
    assert sum(c["catalog"] for c in block["tiers"].values()) == len(catalog)
    assert sum(c["checked"] for c in block["tiers"].values()) == len(checked)
    scored = [r for r in requirements.CATALOG if r.tier.value in ("R", "Rec")]
    assert block["scored_rows"] == len(scored)


def test_only_observed_verdicts_count_as_judged() -> None:
    some = sorted(coverage.checked_by_this_version())[:3]
    block = coverage.summarize(
        [(some[0], "pass"), (some[1], "harness-error"), (some[2], "not-applicable")], "latest"
    )
    judged = sum(c["judged"] for c in block["tiers"].values())
    assert judged == 1
    not_judged = {row["id"]: row["verdict"] for row in block["not_judged"]}
    assert not_judged[some[1]] == "harness-error"
    assert not_judged[some[2]] == "not-applicable"
    assert all(
        not_judged[rid] == "not reached" for rid in coverage.checked_by_this_version() - set(some)
    )


def test_tiers_follow_the_profile() -> None:
    latest = coverage.summarize([], "latest")["tiers"]
    older = coverage.summarize([], "mcp-2025-11-25")["tiers"]
    assert sum(c["catalog"] for c in latest.values()) == sum(c["catalog"] for c in older.values())
    assert latest["R"]["catalog"] >= older["R"]["catalog"]


def _report_with_one_pass() -> Report:
    rid = sorted(coverage.checked_by_this_version())[0]
    report = Report("https://as.example.test", "latest", False, "0", started="")
    report.results = [CheckResult(rid, "test_x", "title", "R", "pass")]
    report.coverage = coverage.summarize([(rid, "pass")], "latest")
    return report


def test_console_states_the_scope_and_the_rows_not_tested() -> None:
    report = _report_with_one_pass()
    # this version checks every R and Rec row: an older report's rows not tested still show
    report.coverage["not_tested"].append({"id": "CIMD-UI-07", "tier": "R", "title": "t"})
    text = console.render(report)
    total = report.coverage["scored_rows"]
    assert f"on the 1 of {total} Required and Recommended rows judged" in text
    untested = [r["id"] for r in report.coverage["not_tested"] if r["tier"] in ("R", "Rec")]
    assert untested
    assert all(rid in text for rid in untested)


def test_junit_carries_the_scope() -> None:
    xml = junit.render([_report_with_one_pass()]).decode()
    assert 'name="scope"' in xml
    assert "Required and Recommended rows judged" in xml
    assert 'name="not tested by this version"' in xml


def test_the_verdict_word_survives_the_listed_failures() -> None:
    report = _report_with_one_pass()
    report.results[0].verdict = "fail"
    assert "verdict: NON-CONFORMANT on the" in console.render(report)
