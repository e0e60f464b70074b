"""Classifying what an authorization attempt led to (conformance/harness/outcome.py)."""

from __future__ import annotations

import json
import secrets

import pytest

from conformance.harness.outcome import Outcome, OutcomeKind, classify_redirect, origin
from conformance.harness.pages import parse
from conformance.redaction import REDACTED, SECRETS

URI = "https://app.test/cb"
AUTHORIZE = "https://as.test/authorize?client_id=x"


@pytest.mark.parametrize(
    ("location", "kind", "params"),
    [
        (URI + "?code=c1&state=s&iss=https%3A%2F%2Fas.test", OutcomeKind.CODE, {"code", "iss"}),
        (URI + "#code=c1&state=s", OutcomeKind.CODE, {"code", "state"}),
        (URI + "?error=access_denied&state=s", OutcomeKind.ERROR_REDIRECT, {"error", "state"}),
        (URI + "#error=invalid_request", OutcomeKind.ERROR_REDIRECT, {"error"}),
        ("https://idp.test/authorize?return_to=x", OutcomeKind.OTHER_REDIRECT, {"return_to"}),
        (URI, OutcomeKind.OTHER_REDIRECT, set()),
    ],
)
def test_a_redirect_is_classified_by_its_query_and_fragment(
    location: str, kind: OutcomeKind, params: set[str]
) -> None:
    outcome = classify_redirect(location, URI, 302, AUTHORIZE)
    assert outcome.kind is kind
    assert params <= set(outcome.params)
    assert (outcome.status, outcome.url, outcome.location) == (302, AUTHORIZE, location)
    assert outcome.redirect_uri == URI and outcome.seen_in == "http"


def test_query_parameters_win_over_fragment_ones() -> None:
    outcome = classify_redirect(URI + "?state=q#state=f&code=c1", URI, 302, "")
    assert outcome.params == {"state": "q", "code": "c1"}


@pytest.mark.parametrize(
    ("kind", "accepted", "approvable"),
    [
        (OutcomeKind.CONSENT, True, True),
        (OutcomeKind.LOGIN, True, False),
        (OutcomeKind.CODE, True, True),
        (OutcomeKind.ERROR_PAGE, False, False),
        (OutcomeKind.ERROR_REDIRECT, False, False),
        (OutcomeKind.OTHER_REDIRECT, False, False),
    ],
)
def test_which_outcomes_accept_the_request(
    kind: OutcomeKind, accepted: bool, approvable: bool
) -> None:
    """Login counts as accepted (the target went on); only consent or a code can be approved."""
    outcome = Outcome(kind, 200, AUTHORIZE)
    assert (outcome.accepted, outcome.approvable) == (accepted, approvable)


@pytest.mark.parametrize(
    ("outcome", "transient"),
    [
        (Outcome(OutcomeKind.ERROR_PAGE, 429, AUTHORIZE), "HTTP 429"),
        (Outcome(OutcomeKind.ERROR_PAGE, 503, AUTHORIZE), "HTTP 503"),
        (Outcome(OutcomeKind.LOGIN, 503, AUTHORIZE), "HTTP 503"),
        (Outcome(OutcomeKind.ERROR_PAGE, 500, AUTHORIZE), ""),
        (Outcome(OutcomeKind.ERROR_PAGE, 400, AUTHORIZE), ""),
        (classify_redirect(URI + "?error=temporarily_unavailable", URI, 302, ""), "error="),
        (classify_redirect(URI + "?error=server_error", URI, 302, ""), ""),
        (classify_redirect(URI + "?code=c1", URI, 429, ""), ""),  # a code is never "not now"
        (Outcome(OutcomeKind.CONSENT, 503, AUTHORIZE), ""),
    ],
)
def test_only_not_now_answers_are_transient(outcome: Outcome, transient: str) -> None:
    assert outcome.transient.startswith(transient) and bool(outcome.transient) == bool(transient)


def test_temporarily_unavailable_names_itself() -> None:
    outcome = classify_redirect(URI + "?error=temporarily_unavailable", URI, 302, "")
    assert outcome.transient == "error=temporarily_unavailable"
    assert not outcome.accepted


@pytest.mark.parametrize(
    ("location", "sent"),
    [
        (URI + "?error=invalid_client", True),
        ("https://APP.test:443/cb?error=invalid_client", True),  # the same origin, spelt out
        ("https://app.test:8443/cb?error=invalid_client", False),
        ("http://app.test/cb?error=invalid_client", False),
        ("https://app.test.evil.test/cb?error=x", False),
    ],
)
def test_sent_to_the_redirect_uri_compares_origins(location: str, sent: bool) -> None:
    assert classify_redirect(location, URI, 302, "").sent_to_redirect_uri is sent


def test_a_page_that_navigates_to_the_redirect_uri_sent_the_user_there() -> None:
    page = parse(f'<meta http-equiv="refresh" content="0;url={URI}?error=invalid_client">')
    outcome = Outcome(OutcomeKind.ERROR_PAGE, 400, AUTHORIZE, page=page, redirect_uri=URI)
    assert outcome.sent_to_redirect_uri
    assert outcome.describe().endswith("the page navigates to the redirect URI by itself")
    # without a presented redirect URI nothing can be sent there
    outcome.redirect_uri = ""
    assert not outcome.sent_to_redirect_uri


def test_the_consent_form_is_the_pages() -> None:
    page = parse("<form method=post action=/c><button>Approve</button></form>")
    assert Outcome(OutcomeKind.CONSENT, 200, AUTHORIZE, page=page).consent_form is page.forms[0]
    assert Outcome(OutcomeKind.CODE, 302, AUTHORIZE).consent_form is None


def test_describe_and_evidence_never_carry_secrets() -> None:
    code, token = secrets.token_urlsafe(12), secrets.token_urlsafe(16)
    SECRETS.add(token)
    location = f"{URI}?code={code}&state=st-1&iss=https%3A%2F%2Fas.test"
    outcome = classify_redirect(location, URI, 302, AUTHORIZE)
    outcome.hops = ["https://as.test/authorize?client_id=x"]
    text = outcome.describe() + json.dumps(outcome.evidence())
    assert code not in text
    assert outcome.describe().startswith("redirect with code (HTTP 302) to https://app.test/cb?")
    evidence = outcome.evidence()
    assert evidence["params"] == {"code": REDACTED, "state": "st-1", "iss": "https://as.test"}
    assert evidence["outcome"] == "redirect with code" and evidence["status"] == 302
    assert evidence["hops"] == outcome.hops and evidence["page_text"] is None
    assert "classified_in" not in evidence

    page = parse(f"<p>Bad request: {token} {'x' * 400}</p>")
    shown = Outcome(OutcomeKind.ERROR_PAGE, 400, AUTHORIZE, page=page, seen_in="browser")
    assert token not in shown.describe() + json.dumps(shown.evidence())
    assert shown.describe().startswith("error page (HTTP 400): 'Bad request: [redacted]")
    assert len(shown.describe()) < 220  # the page text is cut for one line
    assert len(str(shown.evidence()["page_text"])) == 300
    assert shown.evidence()["classified_in"] == "browser"


def test_origins_are_compared_with_default_ports_and_case_folded() -> None:
    assert origin("HTTPS://As.Test/x") == ("https", "as.test", 443)
    assert origin("http://127.0.0.1/cb") == ("http", "127.0.0.1", 80)
    assert origin("http://[::1]:8080/cb") == ("http", "::1", 8080)
    assert origin("urn:x")[2] is None
