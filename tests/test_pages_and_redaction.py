"""Reading target pages without a browser, and redaction of secrets in evidence."""

from __future__ import annotations

from conformance.harness import pages
from conformance.harness.outcome import OutcomeKind, classify_redirect
from conformance.harness.pages import Button, parse
from conformance.redaction import REDACTED, redact_headers, redact_url

CONSENT = """<form method=post action="/consent"><input type=hidden name=csrf value=t>
<button name=decision value=deny>Deny</button>
<button name=decision value=approve>Approve</button></form>"""
LOGIN = """<form method=post><input name=username><input type=password name=password>
<button>Sign in</button></form>"""


def test_consent_form_and_its_approve_button_are_found() -> None:
    page = parse(CONSENT)
    form = page.consent_form()
    assert form is not None and page.login_form() is None
    button = form.approve_button()
    assert button is not None and button.value == "approve"
    assert form.fields == {"csrf": "t"}


def test_a_page_parsed_again_is_the_same_and_its_forms_are_the_callers_own() -> None:
    first = parse(CONSENT)
    form = first.consent_form()
    assert form is not None
    form.fields["csrf"] = "changed"
    form.buttons.append(Button("extra"))
    form.buttons[0].text = "changed"
    form.password_fields.append("p")
    again = parse(CONSENT)  # a kept page: what the first caller changed is not in it
    assert again == parse(CONSENT.replace("<form", "<form ", 1)) == _without_changes()
    assert again.forms[0] is not form
    large = CONSENT + "<p>" + "x" * pages.KEPT_PAGE_SIZE + "</p>"
    assert parse(large).forms == again.forms  # a large page is parsed each time, alike


def _without_changes() -> pages.Page:
    return pages.Page(
        forms=(
            pages.Form(
                action="/consent",
                method="post",
                fields={"csrf": "t"},
                buttons=[
                    Button("decision", "deny", "", "Deny"),
                    Button("decision", "approve", "", "Approve"),
                ],
            ),
        ),
        navigations=(),
        text="Deny Approve",
        urls=(("form", "action", "/consent"),),
    )


def test_login_form_is_not_taken_for_consent() -> None:
    page = parse(LOGIN)
    assert page.login_form() is not None
    assert page.consent_form() is None


def test_an_identifier_first_step_is_a_login_whatever_its_button_says() -> None:
    """A form that asks a user name or e-mail alone is a login's first step, also with a
    "Continue" button (an approve word); a consent form with a hidden user field is not."""
    steps = (("username", "text", "Next"), ("email", "email", "Continue"), ("loginfmt", "", "Go"))
    for field, kind, button in steps:
        page = parse(
            f'<form method="post"><input name="{field}" type="{kind or "text"}">'
            f'<button type="submit">{button}</button></form>'
        )
        assert page.login_form() is not None and page.consent_form() is None, field
    consent = parse(
        '<form method="post"><input type="hidden" name="username" value="u">'
        '<button type="submit" id="approve">Approve</button></form>'
    )
    assert consent.login_form() is None and consent.consent_form() is not None
    two = parse('<form><input name="username"><input name="otp"><button>Next</button></form>')
    assert two.login_form() is None  # not a user name alone


def test_auto_navigation_to_the_redirect_uri_is_seen() -> None:
    html = (
        '<form method=post action="https://app.test/cb">'
        "<input type=hidden name=error value=x></form>"
    )
    assert parse(html).navigates_to("https://app.test/cb")
    assert parse(
        '<meta http-equiv="refresh" content="0;url=https://app.test/cb?e=1">'
    ).navigates_to("https://app.test/cb")
    assert not parse(CONSENT).navigates_to("https://app.test/cb")


def test_redirects_are_classified_by_their_parameters() -> None:
    uri = "https://app.test/cb"
    assert classify_redirect(uri + "?code=abc&state=s", uri, 302, "").kind is OutcomeKind.CODE
    assert (
        classify_redirect(uri + "?error=access_denied", uri, 302, "").kind
        is OutcomeKind.ERROR_REDIRECT
    )
    code = classify_redirect(uri + "?code=abc", uri, 302, "")
    assert code.sent_to_redirect_uri and "abc" not in code.describe()


def test_secrets_are_redacted() -> None:
    url = redact_url("https://u:pw@h.test/cb?code=abc&state=s&access_token=t")
    assert "abc" not in url and "pw" not in url and "t&" not in url and "state=s" in url
    assert redact_headers([("Cookie", "sid=1"), ("accept", "x")]) == [
        ("Cookie", REDACTED),
        ("accept", "x"),
    ]


def test_origins_fill_in_the_default_port() -> None:
    from conformance.browser.driver import reaches
    from conformance.harness.outcome import origin

    assert (
        origin("https://m.test:443/cb") == origin("https://M.test/cb") == ("https", "m.test", 443)
    )
    assert origin("http://m.test/cb") != origin("https://m.test/cb")
    assert reaches("https://m.test/cb?code=x", "https://m.test:443/cb")
    assert not reaches("https://m.test/cb2", "https://m.test:443/cb")
