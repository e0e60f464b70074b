"""The HTML report escapes everything that came from the target."""

from __future__ import annotations

from conformance.report import html, junit
from conformance.report.model import CheckResult, Report


def _report() -> Report:
    hostile = '<script>alert(1)</script><img src=x onerror="alert(2)">'
    result = CheckResult(
        "CIMD-DOC-01",
        "test_x",
        "title",
        "R",
        "fail",
        expected="e",
        observed=hostile,
        evidence={"attempts": [{"page_text": hostile}]},
    )
    return Report("https://as.test/<b>", "latest", False, "0", "now", results=[result])


def test_target_content_is_escaped_in_html() -> None:
    page = html.render(_report())
    assert "<script>alert(1)" not in page and 'onerror="alert' not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "Non-conformant" in page


def test_junit_round_trips_hostile_text() -> None:
    xml = junit.render([_report()]).decode()
    assert "<script>" not in xml and "&lt;script&gt;" in xml
