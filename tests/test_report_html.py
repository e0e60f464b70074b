"""The HTML report escapes everything that came from the target and fits a 1280 px screen."""

from __future__ import annotations

import base64
import re
import secrets
from pathlib import Path
from typing import Any

from conformance.browser.driver import Browser
from conformance.catalog.coverage import scope_line
from conformance.redaction import SECRETS
from conformance.report import html, junit, view, writers
from conformance.report.compare import compare
from conformance.report.model import CheckResult, Report
from conformance.run.consent_page import png
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


def test_an_attempt_sent_apart_or_shared_says_so_in_html() -> None:
    report = _report()
    report.results[0].evidence["attempts"] = [
        {"client_id": "https://m.test/c1", "outcome": "consent shown", "shared": "by <UI-01>"},
        {"client_id": "https://m.test/c2", "outcome": "error page", "sent": "without session"},
    ]
    page = html.render(report)
    assert "shared: by &lt;UI-01&gt;" in page and "sent: without session" in page


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
    assert (
        "https://2130706433:9/c.json" in page
        and 'error page <span class="st">(HTTP 400)</span>' in page
    )
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


SAMPLE = Path(__file__).resolve().parent.parent / "reports" / "sample" / "report.json"
HOSTILE = '<img src=x onerror="window.pwned=1"><script>window.pwned=2</script><b>bold</b>'


def _regressed_sample() -> tuple[Report, Report]:
    """The sample report, and a later run of the same target where two rows got worse."""
    old = Report.load(SAMPLE)
    new = Report.load(SAMPLE)
    new.issuer = f"https://as.test/{HOSTILE}"
    for result in new.results:
        if result.requirement == "CIMD-URL-03":
            result.verdict, result.observed = "fail", f"consent shown: {HOSTILE}"
            result.evidence["attempts"][0]["page_text"] = HOSTILE
        if result.requirement == "CIMD-SEC-06":  # a Recommended row under "latest"
            result.verdict, result.observed = "non-strict", "no rate limit"
    return old, new


def _visible_rows(page: Any) -> list[str]:
    script = "[...document.querySelectorAll('tr.row')].filter(r => r.offsetParent).map(r => r.id)"
    rows: list[str] = page.evaluate(script)
    return rows


def test_report_page_in_chromium_filters_groups_escapes_and_compares(tmp_path: Path) -> None:
    old, new = _regressed_sample()
    writers.prepare(new)
    text = html.render(new, tmp_path, compare(old, new))
    # without script every row is shown: the filter form is hidden, no row is
    assert '<form id="filters" hidden>' in text and not re.search(r"<tr [^>]*hidden", text)
    page_file = tmp_path / "report.html"
    page_file.write_text(text, "utf-8")
    chromium = Browser(TestCA.load_or_create(tmp_path / "state").cert_path).start()
    dialogs: list[str] = []
    try:
        context = chromium.new_context()
        page = context.new_page()
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.set_viewport_size({"width": 1280, "height": 900})
        page.goto(page_file.as_uri())
        # the target's markup is text: no script of its own ran, no element of its own exists
        assert page.evaluate("window.pwned") is None and not dialogs
        assert page.evaluate("document.scripts.length") == 1
        assert page.locator("[onerror]").count() == 0 and page.locator("td b").count() == 0
        assert HOSTILE in page.locator("#failures").inner_text()
        assert HOSTILE in page.locator("#verdict ~ dl").inner_text()
        # the verdict and its scope come first
        assert (
            page.locator("#verdict")
            .inner_text()
            .startswith(f"Non-conformant {scope_line(new.coverage)}")
        )
        # the groups are in catalog order
        headings = page.locator("section.group h2").all_inner_texts()
        keys = [h.rsplit("(", 1)[1].rstrip(")") for h in headings]
        assert keys == list(view.GROUP_TITLES)
        # draft sections link to the draft's anchors
        disc = page.locator('tr.row[id^="CIMD-DISC-01--"] a').first.get_attribute("href")
        assert disc == (
            "https://datatracker.ietf.org/doc/html/draft-ietf-oauth-client-id-metadata-document-02"
        )
        # the filters: everything, failures only, then failures only without Required rows
        every = _visible_rows(page)
        assert len(every) == page.locator("tr.row").count() > 100
        page.locator("input[name=failures]").check()
        failing = _visible_rows(page)
        assert sorted(r.split("--")[0] for r in failing) == ["CIMD-SEC-06", "CIMD-URL-03"]
        assert not page.locator("#group-CIMD-DISC").is_visible()
        page.locator("input[name=tier][value=R]").uncheck()
        assert [r.split("--")[0] for r in _visible_rows(page)] == ["CIMD-SEC-06"]
        page.locator("input[name=failures]").uncheck()
        rows = page.locator("tr.row:visible")
        assert "R" not in {rows.nth(i).get_attribute("data-tier") for i in range(rows.count())}
        page.locator("input[name=tier][value=R]").check()
        page.locator("input[name=untested]").uncheck()  # the rows this version does not test
        assert len(_visible_rows(page)) == len(new.results) < len(every)
        # the comparison lists the regression, the warning as a changed verdict
        assert "CIMD-URL-03" in page.locator("#compare table.newly-failing").inner_text()
        assert "CIMD-SEC-06" in page.locator("#compare table.changed").inner_text()
        assert page.evaluate("document.documentElement.scrollWidth") <= 1280
        context.close()
    finally:
        chromium.stop()


def test_screenshots_are_embedded_whole_after_the_text_is_redacted(tmp_path: Path) -> None:
    # an image's base64 is never searched for secrets: a registered value that happens to
    # appear in it must leave the image whole, while the page's text is still redacted
    shots = tmp_path / "screenshots"
    shots.mkdir()
    images = {"a-consent": png(7), "b-framed": png(9)}
    for name, data in images.items():
        (shots / f"{name}.png").write_bytes(data)
    in_image = base64.b64encode(images["a-consent"]).decode()[20:60]
    secret = "tok-" + secrets.token_urlsafe(24)
    report = _report()
    report.results[0].observed = f"the page said {secret}"
    SECRETS.add(in_image, secret)
    try:
        writers.write(report, tmp_path, ["html"])
    finally:
        SECRETS.clear()
    page = (tmp_path / "report.html").read_text("utf-8")
    assert secret not in page and "the page said [redacted]" in page
    embedded = re.findall(r'<img alt="([^"]+)" src="data:image/png;base64,([^"]+)"', page)
    assert {name: base64.b64decode(data) for name, data in embedded} == images
    assert "screenshot:" not in page


def test_each_of_many_screenshots_goes_in_under_its_own_name(tmp_path: Path) -> None:
    # screenshot 1 and screenshot 10 are named alike until embedded: each finds its own
    shots = tmp_path / "screenshots"
    shots.mkdir()
    images = {f"shot-{n:02d}": png(n + 1) for n in range(12)}
    for name, data in images.items():
        (shots / f"{name}.png").write_bytes(data)
    writers.write(_report(), tmp_path, ["html"])
    page = (tmp_path / "report.html").read_text("utf-8")
    embedded = re.findall(r'<img alt="([^"]+)" src="data:image/png;base64,([^"]+)"', page)
    assert {name: base64.b64decode(data) for name, data in embedded} == images
    assert len(embedded) == 12 and "screenshot:" not in page
