"""The URLs on a consent page (conformance/harness/consent_pages.py), violated requirements in
the report model, and the corpus entries the document checks serve."""

from __future__ import annotations

from typing import Any

import pytest

from conformance.harness import corpus
from conformance.harness.consent_pages import unsafe_urls, without_request_values
from conformance.harness.pages import parse
from conformance.report.model import CheckResult, Report
from mock_servers.reference_as.pages import render

from .test_pages import CONSENT_CONTEXT

PLANTED = {"javascript:alert(1)", "data:text/html,<b>x</b>", "file:///etc/passwd"}


def _consent(**context: Any) -> str:
    return bytes(render("consent.html", **{**CONSENT_CONTEXT, **context}).body).decode()


def test_parse_keeps_every_url_attribute_as_written() -> None:
    page = parse(
        '<a href=" javascript:go()">x</a><img src="data:image/png;base64,AA" alt="">'
        '<form action="/consent"><button formaction="/other">go</button></form>'
        '<iframe src="https://app.test/"></iframe>'
    )
    assert page.urls == (
        ("a", "href", " javascript:go()"),
        ("img", "src", "data:image/png;base64,AA"),
        ("form", "action", "/consent"),
        ("button", "formaction", "/other"),
        ("iframe", "src", "https://app.test/"),
    )


@pytest.mark.parametrize(
    ("html", "unsafe"),
    [
        ('<a href="https://app.test/tos">terms</a>', False),
        ('<img src="data:image/png;base64,AAAA" alt="">', False),  # the AS's own embedded logo
        ('<a href="data:image/png;base64,AAAA">logo</a>', True),  # a data: link navigates
        ('<iframe src="data:text/html,&lt;b&gt;x&lt;/b&gt;"></iframe>', True),
        ('<a href="java\tscript:alert(2)">x</a>', True),  # browsers drop tabs in URLs
        ('<a href="  JavaScript:alert(2)">x</a>', True),
        ('<img src="file:///etc/hosts" alt="">', True),
        ('<a href="vbscript:msgbox(1)">x</a>', True),
        ('<a href="data:text/html,<b>x</b>">x</a>', True),  # a planted value
    ],
)
def test_unsafe_urls(html: str, unsafe: bool) -> None:
    assert bool(unsafe_urls(parse(html), PLANTED)) is unsafe


def test_reference_consent_links_only_what_it_was_given() -> None:
    clean = parse(_consent(document_links=[{"label": "Terms", "href": "https://app.test/tos"}]))
    assert unsafe_urls(clean, PLANTED) == []
    assert ("a", "href", "https://app.test/tos") in clean.urls
    faulty = parse(_consent(document_links=[{"label": "Terms", "href": "javascript:alert(1)"}]))
    assert unsafe_urls(faulty, PLANTED) == ["<a href='javascript:alert(1)'>"]


def test_anonymous_consent_names_no_host() -> None:
    named, anonymous = parse(_consent()), parse(_consent(anonymous=True))
    assert "127.0.0.1" in named.text
    assert "127.0.0.1" not in anonymous.text and "this application" in anonymous.text


def test_violated_requirements_include_every_tier_but_pass_and_na() -> None:
    verdicts = ["pass", "fail", "non-strict", "advisory", "informational", "not-applicable"]
    checks = [CheckResult(f"CIMD-DOC-{i:02d}", "t", "", "R", v) for i, v in enumerate(verdicts)]
    report = Report("https://as.test", "latest", False, "0", "now", results=checks)
    assert report.violated_requirements() == {"CIMD-DOC-01", "CIMD-DOC-02", "CIMD-DOC-03"}
    assert report.failed_requirements() == {"CIMD-DOC-01"}


@pytest.mark.parametrize(
    "requirement",
    [
        "CIMD-DOC-05",
        "CIMD-DOC-06",
        "CIMD-DOC-07",
        "CIMD-DOC-09",
        "CIMD-DOC-10",
        "CIMD-DOC-11",
        "CIMD-DOC-12",
        "CIMD-DOC-13",
        "CIMD-DOC-14",
        "CIMD-DOC-15",
        "CIMD-DOC-16",
        "CIMD-DOC-17",
    ],
)
def test_each_document_row_has_corpus_entries_that_load(requirement: str) -> None:
    names = corpus.names("documents", requirement) + corpus.names("variants", requirement)
    assert names
    for name in names:
        document = corpus.load(
            name,
            client_id="https://m.test:8443/c/1.json",
            metadata_host="https://m.test:8443",
            metadata_host_plain="http://m.test:8080",
        )
        assert document["client_id"] == "https://m.test:8443/c/1.json"
        assert "{{" not in repr(document)


def test_plain_listener_template_defaults_to_the_host_over_http() -> None:
    kwargs = {"client_id": "https://m.test/c.json", "metadata_host": "https://m.test:8443"}
    document = corpus.load("private-key-jwt-http-jwks-uri", **kwargs)
    assert document["jwks_uri"].startswith("http://m.test:8443/jwks/")
    assert "jwks" not in document


def test_request_values_are_no_evidence_of_a_host() -> None:
    text = "Authorize this application? For resource: HTTPS://127.0.0.1:8443/MCP Signed in"
    values = ["https://127.0.0.1:8443/mcp", "", "read"]
    assert "127.0.0.1" not in without_request_values(text, values)
    assert "127.0.0.1" in without_request_values(text + " published at 127.0.0.1", values)
