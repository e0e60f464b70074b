"""Reading the target's HTML without a browser (conformance/harness/pages.py).

Every page the reference AS can show is rendered from its real templates (the same Jinja2
environment and context keys the AS uses), then read as the harness reads a target's page.
Hand-written pages cover the shapes real servers use that the reference AS does not.
"""

from __future__ import annotations

from typing import Any

import pytest

from conformance.harness.pages import Page, parse
from mock_servers.reference_as.pages import error_page, render

REDIRECT_URI = "https://app.test/cb"

CONSENT_CONTEXT: dict[str, Any] = {
    "action": "/consent",
    "client_name": "Unit Probe",
    "anonymous": False,
    "unsafe_name": False,
    "client_host": "127.0.0.1",
    "client_id": "https://127.0.0.1:8443/c/1.json",
    "document_links": [],
    "logo": None,
    "redirect_host": "app.test",
    "redirect_uri": REDIRECT_URI,
    "loopback_warning": False,
    "scope": "read",
    "resources": ["https://mcp.test/mcp"],
    "user": "alice",
    "request_id": "req-123456",
    "csrf": "csrf-123456",
    "links": None,
    "prefix": "",
}
LINKS = {
    "approve": "/consent?request_id=req-123456&csrf=csrf-123456&decision=approve",
    "deny": "/consent?request_id=req-123456&csrf=csrf-123456&decision=deny",
}


def _rendered(template: str, status: int = 200, **context: Any) -> Page:
    return parse(bytes(render(template, status, **context).body).decode())


def test_reference_consent_page_is_a_consent_form_with_its_approve_button() -> None:
    page = _rendered("consent.html", **CONSENT_CONTEXT)
    form = page.consent_form()
    assert form is not None and page.login_form() is None
    assert (form.action, form.method, form.id) == ("/consent", "post", "consent-form")
    assert form.fields == {"request_id": "req-123456", "csrf": "csrf-123456"}
    button = form.approve_button()
    assert button is not None
    assert (button.name, button.value, button.id, button.label()) == (
        "decision",
        "approve",
        "approve",
        "Approve",
    )
    assert "Unit Probe" in page.text and not page.navigates_to(REDIRECT_URI)


def test_reference_consent_before_login_page_is_still_consent() -> None:
    page = _rendered("consent.html", **{**CONSENT_CONTEXT, "user": None})
    assert page.consent_form() is not None
    assert "You will be asked to sign in after you approve." in page.text


def test_reference_approve_link_page_has_no_form_for_plain_http() -> None:
    """Consent through links: plain HTTP sees no consent form (the browser must look)."""
    page = _rendered("consent.html", **{**CONSENT_CONTEXT, "links": LINKS})
    assert page.forms == () and page.consent_form() is None and page.login_form() is None
    assert "Approve" in page.text and "Deny" in page.text


@pytest.mark.parametrize("links", [None, LINKS], ids=["buttons", "approve-link"])
def test_reference_script_consent_page_has_no_form_and_no_navigation(links: Any) -> None:
    """Script pages build their controls at run time: nothing to parse, nothing auto-sent."""
    page = _rendered("consent_script.html", data={**CONSENT_CONTEXT, "links": links})
    assert page.forms == () and page.consent_form() is None and page.login_form() is None
    assert page.scripts == 2  # the page data and the code
    assert not page.navigates_to(REDIRECT_URI)


def test_reference_login_page_is_a_login_form() -> None:
    page = _rendered("login.html", prefix="", next="/authorize?x=1", error=None)
    form = page.login_form()
    assert form is not None and page.consent_form() is None
    assert form.password_fields == ["password"]
    assert form.text_fields == ["username"]  # an input without a type is a text field
    assert form.fields == {"username": "", "next": "/authorize?x=1"}
    assert [b.id for b in form.buttons] == ["sign-in"]


def test_reference_login_page_after_a_wrong_password_is_still_a_login_page() -> None:
    page = _rendered("login.html", 401, prefix="/faults/x", next="", error="Wrong password.")
    assert page.login_form() is not None and "Wrong password." in page.text


def test_reference_identifier_first_pages_are_login_forms() -> None:
    """``identifier-first``: the user name step is a login form of its own; the password
    step keeps the name in a hidden field."""
    first = _rendered("login.html", prefix="", next="/n", error=None, step="identifier")
    form = first.login_form()
    assert form is not None and form.asks_identifier() and first.consent_form() is None
    second = _rendered(
        "login.html", prefix="", next="/n", error=None, step="password", username="alice"
    )
    form = second.login_form()
    assert form is not None and form.password_fields == ["password"]
    assert form.fields["username"] == "alice" and form.text_fields == []


def test_reference_script_login_page_has_no_form() -> None:
    data = {"action": "/login", "next": "/authorize", "error": None}
    page = _rendered("login_script.html", data=data)
    assert page.login_form() is None and page.consent_form() is None and page.scripts == 2


def test_reference_upstream_login_page_is_a_login_form() -> None:
    page = _rendered(
        "upstream_login.html", return_to="https://as.test/login/callback", state="s", error=None
    )
    form = page.login_form()
    assert form is not None and form.action == "/authorize"
    assert form.fields["return_to"] == "https://as.test/login/callback"


def test_reference_error_page_is_neither_consent_nor_login() -> None:
    page = parse(bytes(error_page("invalid_client", "no such client").body).decode())
    assert page.forms == () and page.consent_form() is None and page.login_form() is None
    assert "invalid_client" in page.text and "no such client" in page.text
    assert not page.navigates_to(REDIRECT_URI)


@pytest.mark.parametrize(
    "buttons",
    [
        "<button name=d value=deny>Deny</button><button name=d value=ok>Allow</button>",
        "<button>Cancel</button><button>Authorize</button>",
        "<button>Don't allow</button><button>Allow</button>",
        "<button>Don\u2019t Allow</button><button>Allow</button>",
        "<button>Do not allow</button><button>Allow access</button>",
        "<input type=submit value='Reject'><input type=submit name=go value='Yes, continue'>",
    ],
)
def test_the_approve_button_is_never_a_refusal_whatever_the_order(buttons: str) -> None:
    page = parse(f"<form method=post action=/c>{buttons}</form>")
    form = page.consent_form()
    assert form is not None
    button = form.approve_button()
    assert button is not None
    assert button.label().lower() in ("allow", "authorize", "allow access", "yes, continue")


def test_a_form_without_an_approve_control_is_not_consent() -> None:
    page = parse(
        "<form method=post action=/c><button type=button>Approve</button>"
        "<button>Deny</button><input type=reset value=Approve></form>"
    )
    assert page.consent_form() is None  # a type=button control submits nothing


def test_submit_buttons_outside_their_form_belong_to_it() -> None:
    """HTML's form= attribute ties a control to a form anywhere in the page."""
    page = parse(
        '<button form="consent" name="decision" value="deny">Deny</button>'
        '<form id="consent" method="post" action="/consent">'
        '<input type="hidden" name="csrf" value="t1"></form>'
        '<input type="hidden" form="consent" name="request_id" value="r1">'
        '<button form="consent" name="decision" value="approve">Approve</button>'
    )
    form = page.consent_form()
    assert form is not None
    assert form.fields == {"csrf": "t1", "request_id": "r1"}
    button = form.approve_button()
    assert button is not None and (button.name, button.value) == ("decision", "approve")


def test_a_control_inside_one_form_may_belong_to_another() -> None:
    page = parse(
        '<form id="a" method="post" action="/a"><input name="q" value="1">'
        '<button form="b">Approve</button></form>'
        '<form id="b" method="post" action="/b"></form>'
    )
    assert [f.action for f in page.forms] == ["/a", "/b"]
    form = page.consent_form()
    assert form is not None and form.action == "/b" and form.fields == {}


def test_checkboxes_count_only_when_checked_and_passwords_make_a_login() -> None:
    page = parse(
        "<form method=post action=/c><input type=checkbox name=remember value=1>"
        "<input type=checkbox name=scope value=read checked><input type=radio name=r value=x>"
        "<input type=email name=user><input type=password name=pw><button>Allow</button></form>"
    )
    assert page.consent_form() is None  # a password field makes it a login form
    form = page.login_form()
    assert form is not None
    assert form.fields == {"scope": "read", "user": ""} and form.text_fields == ["user"]


def test_tags_and_methods_in_capitals_are_read() -> None:
    page = parse('<FORM ACTION="/c" METHOD="POST"><BUTTON>Approve</BUTTON></FORM>')
    form = page.consent_form()
    assert form is not None and form.method == "post"


@pytest.mark.parametrize(
    "html",
    [
        f'<form method="post" action="{REDIRECT_URI}"><input type=hidden name=code value=c>'
        "</form><script>document.forms[0].submit()</script>",
        f'<meta http-equiv="Refresh" content="0; url={REDIRECT_URI}?error=access_denied">',
        f"<script>window.location.assign('{REDIRECT_URI}?error=x&state=s')</script>",
        '<script>location.replace("https:\\/\\/app.test\\/cb?error=x")</script>',
        '<script>location.href = "https:\\u002F\\u002Fapp.test\\u002Fcb?error=x";</script>',
    ],
    ids=["form-post", "meta-refresh", "script", "script-json-escaped", "script-unicode-escaped"],
)
def test_auto_navigation_to_the_redirect_uri_is_seen(html: str) -> None:
    page = parse(html)
    assert page.navigates_to(REDIRECT_URI)
    assert page.navigates_to(REDIRECT_URI + "?state=ignored")  # the query is not compared
    assert not page.navigates_to("https://other.test/cb")


def test_text_leaves_out_scripts_and_styles_and_is_bounded() -> None:
    page = parse(
        "<style>p { color: red }</style><script>var secret = 1;</script>"
        f"<p>visible</p><p>{'x' * 5000}</p>"
    )
    assert page.text.startswith("visible ") and "color" not in page.text
    assert "secret" not in page.text and len(page.text) == 2000


def test_broken_html_is_read_leniently() -> None:
    page = parse("<form method=post action=/c><button>Approve<form><input type=password name=p>")
    assert len(page.forms) == 2 and page.login_form() is page.forms[1]  # no end tags at all
    assert page.consent_form() is page.forms[0]


def test_a_json_data_block_naming_the_redirect_uri_is_no_navigation() -> None:
    data = f'<script type="application/json" id="d">{{"redirect_uri": "{REDIRECT_URI}"}}</script>'
    assert not parse(f"<html><body>{data}</body></html>").navigates_to(REDIRECT_URI)
    code = f'<script type="text/javascript">location.href = "{REDIRECT_URI}?code=x";</script>'
    assert parse(f"<html><body>{code}</body></html>").navigates_to(REDIRECT_URI)
