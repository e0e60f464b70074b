"""A partial run says so in every artifact: JUnit properties and the multi-target index.json.

report.json, the console and the HTML report carry the selection already (tests/test_progress.py);
here the two formats CI tools read without opening report.json.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

from conformance.report import junit
from conformance.report.model import CheckResult, Report
from conformance.report.paths import ReportPaths
from conformance.report.writers import write_run

SELECTION = {
    "only": ["CIMD-DOC"],
    "keyword": "not browser",
    "markexpr": "",
    "judge_only": [],
    "checks": 3,
    "collected": 111,
    "requirements": ["CIMD-DOC-01", "CIMD-DOC-02", "CIMD-DOC-03"],
    "meaning": "partial run: 3 of 111 checks; a partial run is never a conformance verdict",
}


def _report(issuer: str, *, partial: bool) -> Report:
    result = CheckResult("CIMD-DOC-01", "test_x", "title", "R", "pass", duration_s=0.1)
    report = Report(issuer, "latest", False, "0.1.0", "2026-12-01T00:00:00", results=[result])
    if partial:
        report.selection = dict(SELECTION)
    return report


def _properties(xml: bytes) -> list[dict[str, str]]:
    root = ET.fromstring(xml)
    return [
        {p.get("name", ""): p.get("value", "") for p in suite.findall("properties/property")}
        for suite in root.iter("testsuite")
    ]


def test_junit_says_whether_a_suite_is_partial_and_how_it_was_chosen() -> None:
    whole, partial = _properties(
        junit.render(
            [_report("https://a.test", partial=False), _report("https://b.test", partial=True)]
        )
    )
    assert whole["partial"] == "false" and "selection" not in whole
    assert partial["partial"] == "true"
    assert partial["selection"] == SELECTION["meaning"]
    assert partial["selected checks"] == "3 of 111"
    assert partial["selected by --only"] == "CIMD-DOC"
    assert partial["selected by -k"] == "not browser"
    assert "selected by -m" not in partial and "judged only on" not in partial
    assert partial["verdict"].startswith("Partial")


def test_a_targeted_matrix_names_the_rows_a_suite_is_judged_on() -> None:
    report = _report("https://a.test/faults/x", partial=True)
    report.selection = {**SELECTION, "only": [], "keyword": "", "judge_only": ["CIMD-FETCH-04"]}
    (found,) = _properties(junit.render([report]))
    assert found["judged only on"] == "CIMD-FETCH-04" and "selected by --only" not in found


def test_index_json_says_which_targets_were_partial(tmp_path: Path) -> None:
    reports = [
        _report("https://127.0.0.1:9/whole", partial=False),
        _report("https://127.0.0.1:9/some", partial=True),
    ]
    paths = ReportPaths.of(tmp_path, [r.issuer for r in reports])
    write_run(reports, paths)
    index = json.loads(paths.index.read_text("utf-8"))
    assert index == {
        "whole": {"issuer": "https://127.0.0.1:9/whole", "exit_code": 0, "partial": False},
        "some": {
            "issuer": "https://127.0.0.1:9/some",
            "exit_code": 0,
            "partial": True,
            "selection": SELECTION,
        },
    }
    suite = ET.parse(tmp_path / "some" / "junit.xml").getroot().find("testsuite")
    assert suite is not None
    names = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert names["partial"] == "true"
