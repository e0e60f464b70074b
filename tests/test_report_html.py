"""The HTML report escapes everything that came from the target and fits a 1280 px screen."""

from __future__ import annotations

from pathlib import Path

from conformance.browser.driver import Browser
from conformance.report import html, junit
from conformance.report.model import CheckResult, Report
from mock_servers.pki import TestCA


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


def test_canary_evidence_is_shown_and_escaped() -> None:
    hostile = "<script>alert(3)</script>"
    canaries = {
        "planted": [
            {"check": "c", "planted": "client_id on 127.0.0.2", "listens": ["127.0.0.2:1"]}
        ],
        "canary_connections": [
            {
                "check": "c",
                "planted": "client_id on 127.0.0.2",
                "connected_to": "127.0.0.2:1",
                "from": "127.0.0.1:5",
                "sent": f"request line GET /{hostile} HTTP/1.1",
            }
        ],
        "stray_attempts": ["TCP SYN from 10.0.0.1 to 10.0.0.1:443"],
    }
    attempts = [
        {"client_id": "https://2130706433:9/c.json", "outcome": "error page", "status": 400}
    ]
    evidence = {"canaries": canaries, "attempts": attempts}
    result = CheckResult("CIMD-SEC-02", "t", "title", "R", "fail", evidence=evidence)
    page = html.render(Report("https://as.test", "latest", False, "0", "now", results=[result]))
    assert "1 planted, 1 connection(s), 1 stray attempt(s)" in page
    assert "client_id on 127.0.0.2" in page and "TCP SYN from 10.0.0.1" in page
    assert "https://2130706433:9/c.json" in page and "error page (HTTP 400)" in page
    assert hostile not in page and "&lt;script&gt;alert(3)" in page


def _long_report() -> Report:
    """A report whose every long value is one unbroken word (URLs, page text, JSON)."""
    url = "https://metadata.example.test/c/" + "x" * 600 + "/client.json"
    word = "y" * 900
    canaries = {
        "planted": [{"check": "c", "planted": f"client_id {url}", "listens": [word]}],
        "canary_connections": [
            {"check": "c", "planted": url, "connected_to": word, "from": word, "sent": word}
        ],
        "stray_attempts": [word],
        "dns_queries": [word],
    }
    attempts = [{"client_id": url, "outcome": word, "status": 400, "page_text": word}]
    result = CheckResult(
        "CIMD-SEC-02",
        "test_with_a_long_name",
        "title",
        "R",
        "fail",
        expected=word,
        observed=f"page text {word} at {url}",
        evidence={"canaries": canaries, "attempts": attempts, "exchanges": [{"url": url}]},
    )
    return Report(url, "latest", False, "0", "now", preflight={"error": word}, results=[result])


def test_long_values_wrap_without_horizontal_scroll_at_1280_px(tmp_path: Path) -> None:
    page_file = tmp_path / "report.html"
    page_file.write_text(html.render(_long_report()), "utf-8")
    chromium = Browser(TestCA.load_or_create(tmp_path / "state").cert_path).start()
    try:
        context = chromium.new_context()
        page = context.new_page()
        page.set_viewport_size({"width": 1280, "height": 900})
        page.goto(page_file.as_uri())
        page.evaluate("document.querySelectorAll('details').forEach(d => { d.open = true })")
        width = page.evaluate("document.documentElement.scrollWidth")
        page.screenshot(path=str(tmp_path / "report-1280.png"), full_page=True)
        context.close()
    finally:
        chromium.stop()
    assert width <= 1280
