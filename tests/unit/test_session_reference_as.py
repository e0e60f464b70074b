"""TargetSession against the real reference AS, in-process, under each page-shaping variant.

The reference AS runs as an ASGI app behind a synchronous transport (see conftest), and
fetches its client documents over TLS from a loopback host. Each variant is a real server's
shape (script-built pages, consent before login, approve links, an upstream login, ``__Host-``
cookies on plain-http loopback, rate-limited fetches); the session must read each for what
it is, or hand it to the browser, and never take it for a refusal.
"""

from __future__ import annotations

import json
import secrets
import time
from urllib.parse import urlsplit

import pytest

from conformance.catalog.verdicts import HarnessError, NonConformance
from conformance.harness.outcome import OutcomeKind
from conformance.harness.verify import verify_refused
from conformance.redaction import SECRETS
from conformance.target.pacing import Pacer, Pacing

from .conftest import CALLBACK, FakeBrowser, MakeAS


def test_a_valid_client_in_a_live_session_gets_consent_then_a_code(reference_as: MakeAS) -> None:
    ref = reference_as()
    ref.login()
    client = ref.client()
    attempt = ref.session.attempt(client, CALLBACK)
    outcome = attempt.outcome
    assert outcome.kind is OutcomeKind.CONSENT and outcome.status == 200
    assert outcome.url.startswith(f"{ref.config.issuer}/authorize?") and len(outcome.hops) == 1
    form = outcome.consent_form
    assert form is not None and set(form.fields) == {"request_id", "csrf"}
    approved = ref.session.approve(attempt)
    assert approved.kind is OutcomeKind.CODE and approved.sent_to_redirect_uri
    assert approved.params["state"] == attempt.state
    assert approved.params["iss"] == ref.config.issuer
    code = approved.params["code"]
    assert code in SECRETS
    recorded = json.dumps(ref.session.exchanges + ref.session.attempts)
    assert code not in recorded
    for secret in (form.fields["csrf"], form.fields["request_id"]):
        assert secret not in recorded  # one-time form values are secrets by name


def test_without_a_session_the_login_page_is_an_acceptance(reference_as: MakeAS) -> None:
    ref = reference_as()
    outcome = ref.session.attempt(ref.client(), CALLBACK).outcome
    assert outcome.kind is OutcomeKind.LOGIN and outcome.accepted
    assert [h.split("?")[0] for h in outcome.hops] == [
        f"{ref.config.issuer}/authorize",
        f"{ref.config.issuer}/login",
    ]


def test_a_session_the_target_ended_is_signed_in_again_and_the_request_sent_again(
    reference_as: MakeAS,
) -> None:
    ref = reference_as()
    ref.login()
    browser = FakeBrowser(sign_in=ref.login)
    ref.session.browser = browser
    ref.session.client.cookies.clear()  # the target ended the session: its cookie is gone
    attempt = ref.session.attempt(ref.client(), CALLBACK)
    assert attempt.outcome.kind is OutcomeKind.CONSENT  # never judged as the login page
    assert browser.signed_in_again == [attempt.url]
    urls = [e["url"].split("?")[0] for e in ref.session.exchanges if e["method"] == "GET"]
    assert urls.count(f"{ref.config.issuer}/authorize") == 2  # sent once more, signed in
    assert len(ref.session.attempts) == 1
    assert ref.session.approve(attempt).kind is OutcomeKind.CODE


def test_a_login_page_stays_one_where_there_is_no_login_to_renew(reference_as: MakeAS) -> None:
    ref = reference_as()
    browser = FakeBrowser()  # no login of the run's own (the preflight's requests)
    ref.session.browser = browser
    outcome = ref.session.attempt(ref.client(), CALLBACK).outcome
    assert outcome.kind is OutcomeKind.LOGIN and browser.signed_in_again == []


@pytest.mark.parametrize(
    ("case", "error"),
    [("unknown-document", "invalid_client"), ("unregistered-redirect-uri", "invalid_request")],
)
def test_an_unverified_request_is_an_error_page_the_browser_is_not_asked_about(
    reference_as: MakeAS, case: str, error: str
) -> None:
    ref = reference_as()
    ref.login()
    browser = FakeBrowser()
    ref.session.browser = browser
    if case == "unknown-document":
        client, redirect_uri = ref.documents.base_url + "/c/missing.json", CALLBACK
    else:
        client, redirect_uri = ref.client(), "https://evil.test/cb"
    outcome = ref.session.attempt(client, redirect_uri).outcome
    assert outcome.kind is OutcomeKind.ERROR_PAGE and outcome.status == 400
    assert error in outcome.describe() and not outcome.sent_to_redirect_uri
    assert browser.classified == []


def test_a_request_error_after_verification_redirects_with_error_state_and_iss(
    reference_as: MakeAS,
) -> None:
    ref = reference_as()
    ref.login()
    attempt = ref.session.attempt(ref.client(), CALLBACK, with_pkce=False)
    outcome = attempt.outcome
    assert outcome.kind is OutcomeKind.ERROR_REDIRECT and outcome.sent_to_redirect_uri
    assert outcome.params["error"] == "invalid_request"
    assert (outcome.params["state"], outcome.params["iss"]) == (attempt.state, ref.config.issuer)


def test_refusals_count_only_against_an_accepted_control(reference_as: MakeAS) -> None:
    ref = reference_as()
    ref.login()
    session = ref.session
    session.make_control = lambda: session.attempt(ref.client(), CALLBACK)
    refused = session.attempt(ref.documents.base_url + "/c/missing.json", CALLBACK)
    verify_refused([("missing", refused)], "a client whose document is missing")
    assert session.control is not None and session.control.kind is OutcomeKind.CONSENT


@pytest.mark.parametrize("variant", ["script-pages", "approve-link"])
def test_consent_plain_http_cannot_read_goes_to_the_browser(
    reference_as: MakeAS, variant: str
) -> None:
    ref = reference_as(variant)
    ref.login()
    client = ref.client()
    alone = ref.session.attempt(client, CALLBACK)
    assert alone.outcome.kind is OutcomeKind.ERROR_PAGE and alone.outcome.status == 200
    with pytest.raises(HarnessError, match="no consent form to approve"):
        ref.session.approve(alone)

    browser = FakeBrowser(params={"code": "variant-code-1", "state": "s"})
    ref.session.browser = browser
    attempt = ref.session.attempt(client, CALLBACK)
    assert attempt.outcome.kind is OutcomeKind.CONSENT and attempt.outcome.seen_in == "browser"
    assert browser.classified == [(attempt.url, CALLBACK)]
    assert ref.session.approve(attempt).kind is OutcomeKind.CODE
    assert browser.approved == [(attempt.url, CALLBACK)]


def test_unreadable_consent_without_a_browser_cannot_pass_a_refusal_check(
    reference_as: MakeAS,
) -> None:
    """Script pages read as "error page" over plain HTTP; the control stops a false pass."""
    ref = reference_as("script-pages")
    ref.login()
    session = ref.session
    session.make_control = lambda: session.attempt(ref.client(), CALLBACK)
    hostile = session.attempt(ref.client(), CALLBACK)  # in truth accepted, but unreadable
    with pytest.raises(HarnessError, match="control") as caught:
        verify_refused([("unreadable", hostile)], "a client")
    assert not isinstance(caught.value, NonConformance)


def test_the_script_login_page_goes_to_the_browser_too(reference_as: MakeAS) -> None:
    ref = reference_as("script-pages")
    browser = FakeBrowser(kind=OutcomeKind.LOGIN)
    ref.session.browser = browser
    outcome = ref.session.attempt(ref.client(), CALLBACK).outcome
    assert outcome.kind is OutcomeKind.LOGIN and len(browser.classified) == 1


def test_consent_before_login_is_consent_and_approval_asks_for_the_login(
    reference_as: MakeAS,
) -> None:
    ref = reference_as("consent-before-login")
    attempt = ref.session.attempt(ref.client(), CALLBACK)
    assert attempt.outcome.kind is OutcomeKind.CONSENT  # held by an anonymous session
    approved = ref.session.approve(attempt)
    assert approved.kind is OutcomeKind.LOGIN  # the approval was kept; the sign-in follows
    assert "/login?next=" in approved.hops[-1] and "consent%2Fresume" in approved.hops[-1]

    ref.login()
    again = ref.session.attempt(ref.client(), CALLBACK)
    assert again.outcome.kind is OutcomeKind.CONSENT
    assert ref.session.approve(again).kind is OutcomeKind.CODE


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_host_cookies_on_a_plain_http_loopback_issuer_are_sent(
    reference_as: MakeAS, host: str
) -> None:
    """__Host- Secure cookies over http://loopback, as browsers send them."""
    ref = reference_as("host-cookies", "consent-before-login", issuer=f"http://{host}:8089")
    attempt = ref.session.attempt(ref.client(), CALLBACK)
    assert attempt.outcome.kind is OutcomeKind.CONSENT
    # the approval is tied to the anonymous session's __Host- cookie: without it, the AS
    # answers "your session has ended"
    assert ref.session.approve(attempt).kind is OutcomeKind.LOGIN

    ref.login()
    logged_in = ref.session.attempt(ref.client(), CALLBACK)
    assert logged_in.outcome.kind is OutcomeKind.CONSENT
    assert ref.session.approve(logged_in).kind is OutcomeKind.CODE


def test_an_upstream_login_is_another_origin_the_browser_reads(reference_as: MakeAS) -> None:
    idp = "https://127.0.0.1:9"
    ref = reference_as("upstream-login", upstream_origin=idp, upstream_key=secrets.token_bytes(32))
    outcome = ref.session.attempt(ref.client(), CALLBACK).outcome
    assert outcome.kind is OutcomeKind.OTHER_REDIRECT and not outcome.accepted
    assert outcome.location.startswith(idp + "/authorize?return_to=")

    browser = FakeBrowser(kind=OutcomeKind.LOGIN)
    ref.session.browser = browser
    attempt = ref.session.attempt(ref.client(), CALLBACK)
    assert attempt.outcome.kind is OutcomeKind.LOGIN and attempt.outcome.accepted
    assert browser.classified == [(attempt.url, CALLBACK)]


def test_a_rate_limited_fetch_is_waited_for_never_a_refusal(reference_as: MakeAS) -> None:
    ref = reference_as("rate-limited", rate_interval_s=1.0)
    ref.login()
    slept: list[float] = []

    def sleep(seconds: float) -> None:  # really waits: the AS's limit is on its own clock
        slept.append(seconds)
        time.sleep(seconds)

    ref.session.pacer = Pacer(Pacing(retries=2), sleep=sleep)
    client = ref.client()
    assert ref.session.attempt(client, CALLBACK).outcome.kind is OutcomeKind.CONSENT
    again = ref.session.attempt(client, CALLBACK)  # fetched again at once: 429, Retry-After 1
    assert again.outcome.kind is OutcomeKind.CONSENT
    assert slept == [1.0]
    assert ref.session.pacer.waits == ["an authorization request: HTTP 429; waited 1.0 s"]


def test_an_exhausted_fetch_budget_is_a_harness_error(reference_as: MakeAS) -> None:
    ref = reference_as("rate-limited", rate_budget=1, rate_window_s=600.0)
    ref.login()
    slept: list[float] = []
    ref.session.pacer = Pacer(Pacing(retries=2, max_wait_s=5.0), sleep=slept.append)
    assert ref.session.attempt(ref.client(), CALLBACK).outcome.kind is OutcomeKind.CONSENT
    with pytest.raises(HarnessError, match="rate limiting the suite") as caught:
        ref.session.attempt(ref.client(), CALLBACK)
    assert not isinstance(caught.value, NonConformance)
    assert "more than max_wait_s" in str(caught.value)
    assert slept == [5.0, 5.0]  # the AS asked for minutes; each wait is capped


def test_a_cached_document_is_not_rate_limited(reference_as: MakeAS) -> None:
    ref = reference_as("rate-limited", rate_interval_s=60.0)
    ref.login()
    ref.session.pacer = Pacer(Pacing(retries=0))
    client = ref.documents.client(cache_control="max-age=600")
    for _ in range(3):
        assert ref.session.attempt(client, CALLBACK).outcome.kind is OutcomeKind.CONSENT
    assert ref.session.pacer.waits == []
    assert ref.documents.fetched.count(urlsplit(client).path) == 1
