"""TargetSession over plain HTTP (conformance/harness/session.py), on hand-written targets.

Each target here is an httpx ``MockTransport`` handler answering as one real server shape
does, so what is under test is how the session follows, classifies, approves and records,
not a server. ``test_session_reference_as.py`` runs the same session against the reference
AS itself, and ``test_session_tokens.py`` covers token requests.
"""

from __future__ import annotations

import base64
import hashlib
import json
import ssl
from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from conformance.catalog.verdicts import HarnessError, NonConformance
from conformance.harness.outcome import Outcome, OutcomeKind
from conformance.harness.session import MAX_HOPS, InTurnOnly, Pkce, TargetSession
from conformance.harness.verify import verify_refused
from conformance.redaction import SECRETS
from conformance.target.pacing import Pacer, Pacing

from .conftest import CALLBACK, FakeBrowser, make_target

ISSUER = "https://as.test"
CLIENT = "https://m.test/c/1.json"
Handler = Callable[[httpx.Request], httpx.Response]


TLS = ssl.create_default_context()  # unused by MockTransport; made once, it is slow to make


def _session(handler: Handler, browser: FakeBrowser | None = None) -> TargetSession:
    client = httpx.Client(transport=httpx.MockTransport(handler), follow_redirects=False)
    session = TargetSession(make_target(ISSUER), client, TLS)
    session.pacer = Pacer(Pacing(retries=2, backoff_s=0.25), sleep=Sleeps())
    session.browser = browser
    return session


class Sleeps(list[float]):
    """A pacer's sleep that only records how long it was asked to wait."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def _waits(session: TargetSession) -> list[float]:
    assert isinstance(session.pacer.sleep, Sleeps)
    return session.pacer.sleep


def _html(body: str, status: int = 200, **headers: str) -> httpx.Response:
    return httpx.Response(status, headers={"content-type": "text/html", **headers}, text=body)


def _redirect(location: str, status: int = 302, **headers: str) -> httpx.Response:
    return httpx.Response(status, headers={"location": location, **headers})


CONSENT = (
    '<form method="post" action="/consent"><input type="hidden" name="request_id" value="r1">'
    '<button type="submit" name="decision" value="deny">Deny</button>'
    '<button type="submit" name="decision" value="approve">Approve</button></form>'
)
LOGIN = (
    '<form method="post" action="/login"><input name="username">'
    '<input type="password" name="password"><button>Sign in</button></form>'
)


def _router(routes: dict[str, Handler], seen: list[httpx.Request] | None = None) -> Handler:
    """Answer by "METHOD path"; anything else is a 404 page."""

    def handle(request: httpx.Request) -> httpx.Response:
        if seen is not None:
            seen.append(request)
        key = f"{request.method} {request.url.path}"
        if request.url.host != "as.test":
            raise AssertionError(f"the session left the target: {request.url}")
        return routes.get(key, lambda r: _html("<p>not found</p>", 404))(request)

    return handle


# --- the authorization request as sent ---------------------------------------------------


def test_the_authorization_request_carries_pkce_state_and_the_run_parameters() -> None:
    seen: list[httpx.Request] = []
    session = _session(_router({"GET /authorize": lambda r: _html(CONSENT)}, seen))
    session.extra_params = {"scope": "mcp", "resource": "https://mcp.test/mcp"}
    attempt = session.attempt(CLIENT, CALLBACK, extra={"scope": "other", "prompt": "consent"})
    query = {k: v[0] for k, v in parse_qs(urlsplit(str(seen[0].url)).query).items()}
    assert attempt.pkce is not None
    challenge = hashlib.sha256(attempt.pkce.verifier.encode()).digest()
    assert query == {
        "response_type": "code",
        "client_id": CLIENT,
        "state": attempt.state,
        "redirect_uri": CALLBACK,
        "code_challenge": base64.urlsafe_b64encode(challenge).rstrip(b"=").decode(),
        "code_challenge_method": "S256",
        "scope": "other",  # a check's own parameters win over the run's
        "resource": "https://mcp.test/mcp",
        "prompt": "consent",
    }
    assert attempt.url == str(seen[0].url) and attempt.session is session
    assert attempt.pkce.verifier in SECRETS


def test_no_redirect_uri_and_no_pkce_leave_the_parameters_out() -> None:
    seen: list[httpx.Request] = []
    session = _session(_router({"GET /authorize": lambda r: _html(CONSENT)}, seen))
    pkce = Pkce.new()
    session.attempt(CLIENT, None, pkce=pkce)
    session.attempt(CLIENT, None, with_pkce=False)
    first, second = (parse_qs(urlsplit(str(r.url)).query) for r in seen)
    assert "redirect_uri" not in first and first["code_challenge"] == [pkce.challenge]
    assert "code_challenge" not in second and "code_challenge_method" not in second


def test_an_endpoint_with_a_query_gets_the_parameters_appended() -> None:
    seen: list[httpx.Request] = []
    session = _session(_router({"GET /authorize": lambda r: _html(CONSENT)}, seen))
    session.target.metadata["authorization_endpoint"] = f"{ISSUER}/authorize?tenant=t1"
    session.attempt(CLIENT, CALLBACK)
    query = parse_qs(urlsplit(str(seen[0].url)).query)
    assert query["tenant"] == ["t1"] and query["client_id"] == [CLIENT]


# --- classification of the answer ---------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "kind"),
    [
        (lambda r: _html(CONSENT), OutcomeKind.CONSENT),
        (lambda r: _html(LOGIN), OutcomeKind.LOGIN),
        (lambda r: _html(LOGIN, 401), OutcomeKind.LOGIN),
        (lambda r: _html("<p>invalid_client</p>", 400), OutcomeKind.ERROR_PAGE),
        (lambda r: _html(CONSENT, 400), OutcomeKind.ERROR_PAGE),  # consent needs success
        (lambda r: httpx.Response(400, json={"error": "invalid_client"}), OutcomeKind.ERROR_PAGE),
        (lambda r: _redirect(CALLBACK + "?code=c-123456&state=s"), OutcomeKind.CODE),
        (lambda r: _redirect(CALLBACK + "?error=invalid_request"), OutcomeKind.ERROR_REDIRECT),
        (lambda r: _redirect(CALLBACK + "#error=invalid_request"), OutcomeKind.ERROR_REDIRECT),
        (lambda r: _redirect("https://app.test/elsewhere"), OutcomeKind.OTHER_REDIRECT),
    ],
    ids=[
        "consent",
        "login",
        "login-401",
        "error-page",
        "consent-form-on-400",
        "json-error",
        "code",
        "error-redirect",
        "error-in-fragment",
        "client-origin-other-path",
    ],
)
def test_each_answer_is_classified(answer: Handler, kind: OutcomeKind) -> None:
    browser = FakeBrowser()
    session = _session(_router({"GET /authorize": answer}), browser)
    outcome = session.attempt(CLIENT, CALLBACK).outcome
    assert outcome.kind is kind
    assert browser.classified == []  # conclusive over plain HTTP: the browser is not asked


def test_same_origin_hops_are_followed_with_the_cookies_they_set() -> None:
    """A login hop that sets a cookie, then consent that needs it, as a real AS does."""
    seen: list[httpx.Request] = []

    def consent(request: httpx.Request) -> httpx.Response:
        if "sid=hop-cookie-1" not in request.headers.get("cookie", ""):
            return _html(LOGIN)
        return _html(CONSENT)

    routes: dict[str, Handler] = {
        "GET /authorize": lambda r: _redirect("/session?next=%2Fconsent"),
        "GET /session": lambda r: _redirect(
            f"{ISSUER}/consent", 303, **{"set-cookie": "sid=hop-cookie-1; Path=/; Secure"}
        ),
        "GET /consent": consent,
    }
    session = _session(_router(routes, seen))
    outcome = session.attempt(CLIENT, CALLBACK).outcome
    assert outcome.kind is OutcomeKind.CONSENT
    assert [r.url.path for r in seen] == ["/authorize", "/session", "/consent"]
    assert outcome.url == f"{ISSUER}/consent"
    assert [urlsplit(h).path for h in outcome.hops] == ["/authorize", "/session", "/consent"]
    assert [e["status"] for e in session.exchanges] == [302, 303, 200]
    assert "hop-cookie-1" in SECRETS  # cookie values never reach a report
    assert "hop-cookie-1" not in json.dumps(session.exchanges + session.attempts)


def test_a_hop_to_the_same_origin_spelt_with_its_default_port_stays_on_the_target() -> None:
    routes: dict[str, Handler] = {
        "GET /authorize": lambda r: _redirect("https://AS.test:443/consent"),
        "GET /consent": lambda r: _html(CONSENT),
    }
    browser = FakeBrowser(kind=OutcomeKind.ERROR_PAGE)
    outcome = _session(_router(routes), browser).attempt(CLIENT, CALLBACK).outcome
    assert outcome.kind is OutcomeKind.CONSENT and outcome.seen_in == "http"
    assert browser.classified == []


def test_a_post_redirect_get_after_a_form_is_followed_as_get() -> None:
    seen: list[httpx.Request] = []
    routes: dict[str, Handler] = {
        "GET /authorize": lambda r: _html(CONSENT),
        "POST /consent": lambda r: _redirect("/done", 303),
        "GET /done": lambda r: _redirect(CALLBACK + "?code=c-after-post&state=s"),
    }
    session = _session(_router(routes, seen))
    approved = session.approve(session.attempt(CLIENT, CALLBACK))
    assert approved.kind is OutcomeKind.CODE
    assert [(r.method, r.url.path, r.content) for r in seen[1:]] == [
        ("POST", "/consent", b"request_id=r1&decision=approve"),
        ("GET", "/done", b""),
    ]


def test_a_redirect_loop_is_a_harness_error_never_a_verdict() -> None:
    seen: list[httpx.Request] = []
    routes: dict[str, Handler] = {
        "GET /authorize": lambda r: _redirect("/a?code=loop-secret-1"),
        "GET /a": lambda r: _redirect("/b"),
        "GET /b": lambda r: _redirect("/a?code=loop-secret-1"),
    }
    session = _session(_router(routes, seen))
    with pytest.raises(HarnessError, match=f"redirected more than {MAX_HOPS} times") as caught:
        session.attempt(CLIENT, CALLBACK)
    assert not isinstance(caught.value, NonConformance)
    assert len(seen) == MAX_HOPS  # it stops, it does not go round for ever
    assert "loop-secret-1" not in str(caught.value)
    assert "loop-secret-1" not in json.dumps(session.exchanges)
    assert session.attempts == []  # nothing was concluded


def test_a_hop_to_a_third_origin_is_not_followed_and_the_browser_reads_it() -> None:
    """An upstream identity provider's login: plain HTTP stops at the redirect."""
    idp = "https://idp.test/authorize?return_to=https%3A%2F%2Fas.test%2Fcb&state=x"
    routes: dict[str, Handler] = {
        "GET /authorize": lambda r: _redirect("/login"),
        "GET /login": lambda r: _redirect(idp),
    }
    without = _session(_router(routes)).attempt(CLIENT, CALLBACK).outcome
    assert without.kind is OutcomeKind.OTHER_REDIRECT and not without.accepted
    assert without.location == idp and without.url == f"{ISSUER}/login"

    browser = FakeBrowser(kind=OutcomeKind.LOGIN)
    session = _session(_router(routes), browser)
    attempt = session.attempt(CLIENT, CALLBACK)
    assert attempt.outcome.kind is OutcomeKind.LOGIN and attempt.outcome.seen_in == "browser"
    assert browser.classified == [(attempt.url, CALLBACK)]
    assert session.attempts[-1]["classified_in"] == "browser"


def test_a_page_plain_http_cannot_read_is_given_to_the_browser() -> None:
    """A 200 page with no form (built by script, or consent behind links)."""
    script = "<div id=app></div><script>render()</script>"
    browser = FakeBrowser(kind=OutcomeKind.CONSENT)
    session = _session(_router({"GET /authorize": lambda r: _html(script)}), browser)
    assert session.attempt(CLIENT, CALLBACK).outcome.kind is OutcomeKind.CONSENT
    assert len(browser.classified) == 1

    alone = _session(_router({"GET /authorize": lambda r: _html(script)}))
    outcome = alone.attempt(CLIENT, CALLBACK).outcome
    assert outcome.kind is OutcomeKind.ERROR_PAGE and outcome.status == 200


@pytest.mark.parametrize(
    "page",
    [
        f'<meta http-equiv="refresh" content="0;url={CALLBACK}?error=invalid_client">',
        f"<script>location.replace('{CALLBACK}?error=invalid_client')</script>",
        f'<form method=post action="{CALLBACK}"><input type=hidden name=error value=x></form>'
        "<script>document.forms[0].submit()</script>",
    ],
    ids=["meta-refresh", "script", "form-auto-submit"],
)
def test_an_error_page_that_navigates_to_the_redirect_uri_sent_the_user_there(page: str) -> None:
    """Delivery by the page itself is delivery: CIMD-ERR-02 and -REDIR-06 judge it."""
    browser = FakeBrowser()
    session = _session(_router({"GET /authorize": lambda r: _html(page, 400)}), browser)
    outcome = session.attempt(CLIENT, CALLBACK).outcome
    assert outcome.kind is OutcomeKind.ERROR_PAGE and not outcome.accepted
    assert outcome.sent_to_redirect_uri and browser.classified == []
    other = _session(_router({"GET /authorize": lambda r: _html(page, 400)}))
    assert not other.attempt(CLIENT, "https://other.test/cb").outcome.sent_to_redirect_uri


def test_codes_the_browser_saw_are_registered_as_secrets() -> None:
    browser = FakeBrowser()
    redirected = Outcome(
        OutcomeKind.CODE, 302, "", "x", {"code": "browser-saw-code-1"}, redirect_uri=CALLBACK
    )
    browser.classify = lambda url, uri: redirected  # type: ignore[method-assign]
    session = _session(_router({"GET /authorize": lambda r: _html("<p>wait</p>")}), browser)
    assert session.attempt(CLIENT, CALLBACK).outcome is redirected
    assert "browser-saw-code-1" in SECRETS


def test_a_code_is_registered_and_never_recorded() -> None:
    code = "code-in-redirect-123"
    location = f"{CALLBACK}?code={code}&state=s"
    session = _session(_router({"GET /authorize": lambda r: _redirect(location)}))
    attempt = session.attempt(CLIENT, CALLBACK)
    assert attempt.outcome.params["code"] == code and code in SECRETS
    recorded = json.dumps(session.exchanges + session.attempts)
    assert code not in recorded and "[redacted]" in recorded
    assert session.attempts[-1]["client_id"] == CLIENT
    assert session.attempts[-1]["redirect_uri"] == CALLBACK


# --- transient answers and pacing ---------------------------------------------------------


def test_a_503_with_retry_after_is_waited_for_then_the_answer_counts() -> None:
    answers = [
        _html("<p>busy</p>", 503, **{"retry-after": "3"}),
        _html("<p>invalid_client</p>", 400),
    ]
    browser = FakeBrowser()
    session = _session(_router({"GET /authorize": lambda r: answers.pop(0)}), browser)
    outcome = session.attempt(CLIENT, CALLBACK).outcome
    assert outcome.kind is OutcomeKind.ERROR_PAGE and outcome.status == 400
    assert _waits(session) == [3.0]
    assert session.pacer.waits == ["an authorization request: HTTP 503; waited 3.0 s"]
    assert browser.classified == []  # a transient page is never the browser's to read
    assert len(session.attempts) == 1  # only the real answer is an attempt


def test_a_429_on_a_later_hop_retries_the_whole_request() -> None:
    seen: list[httpx.Request] = []
    hops = iter([_html("<p>slow</p>", 429, **{"retry-after": "1"}), _html(CONSENT)])
    routes: dict[str, Handler] = {
        "GET /authorize": lambda r: _redirect("/consent"),
        "GET /consent": lambda r: next(hops),
    }
    session = _session(_router(routes, seen))
    assert session.attempt(CLIENT, CALLBACK).outcome.kind is OutcomeKind.CONSENT
    assert [r.url.path for r in seen] == ["/authorize", "/consent"] * 2


def test_a_control_the_target_rate_limits_is_a_harness_error() -> None:
    """Refusals, then a control that only ever gets 429: the check cannot conclude."""

    def answer(request: httpx.Request) -> httpx.Response:
        if "valid" in str(request.url):
            return _html("<p>slow down</p>", 429, **{"retry-after": "2"})
        return _html("<p>invalid_client</p>", 400)

    session = _session(_router({"GET /authorize": answer}))
    session.make_control = lambda: session.attempt("https://m.test/valid.json", CALLBACK)
    refused = session.attempt(CLIENT, CALLBACK)
    with pytest.raises(HarnessError, match="rate limiting") as caught:
        verify_refused([("hostile", refused)], "a hostile client")
    assert not isinstance(caught.value, NonConformance)
    assert _waits(session) == [2.0, 2.0]


def test_a_failed_control_is_asked_again_but_an_accepted_one_is_not() -> None:
    answers = [_html("<p>session lost</p>", 400), _html(CONSENT)]
    calls: list[str] = []
    session = _session(_router({"GET /authorize": lambda r: answers.pop(0)}))

    def control() -> object:
        calls.append("control")
        return session.attempt("https://m.test/valid.json", CALLBACK)

    session.make_control = control  # type: ignore[assignment]
    with pytest.raises(HarnessError, match=r"the control .* was not accepted: error page"):
        session.require_control()
    session.require_control()  # the next check's control: accepted now
    session.require_control()  # and kept
    assert calls == ["control", "control"]


def test_a_session_without_a_run_has_no_control_to_ask() -> None:
    session = _session(_router({}))
    session.require_control()  # library use: the caller controls
    assert session.control is None and session.exchanges == []


# --- consent approval over plain HTTP ------------------------------------------------------


def _approving(form: str, seen: list[httpx.Request], path: str = "/consent") -> Handler:
    def code(request: httpx.Request) -> httpx.Response:
        return _redirect(CALLBACK + "?code=approved-code-1&state=s")

    return _router({"GET /authorize": lambda r: _html(form), f"POST {path}": code,
                    f"GET {path}": code}, seen)  # fmt: skip


def test_approval_submits_the_form_fields_and_the_approve_button() -> None:
    seen: list[httpx.Request] = []
    session = _session(_approving(CONSENT, seen))
    approved = session.approve(session.attempt(CLIENT, CALLBACK))
    assert approved.kind is OutcomeKind.CODE and approved.params["code"] == "approved-code-1"
    post = seen[-1]
    assert (post.method, str(post.url)) == ("POST", f"{ISSUER}/consent")
    assert parse_qs(post.content.decode()) == {"request_id": ["r1"], "decision": ["approve"]}


def test_approval_resolves_the_action_against_the_page_it_came_from() -> None:
    seen: list[httpx.Request] = []
    form = '<form method=post action="decide"><input type=submit value="Allow"></form>'
    routes: dict[str, Handler] = {
        "GET /authorize": lambda r: _redirect("/oauth/consent?id=1"),
        "GET /oauth/consent": lambda r: _html(form),
        "POST /oauth/decide": lambda r: _redirect(CALLBACK + "?code=c-relative&state=s"),
    }
    session = _session(_router(routes, seen))
    assert session.approve(session.attempt(CLIENT, CALLBACK)).kind is OutcomeKind.CODE
    assert seen[-1].content == b""  # an unnamed submit control adds no field


def test_approval_without_an_action_posts_to_the_page_itself() -> None:
    seen: list[httpx.Request] = []
    form = "<form method=post><input type=hidden name=t value=1><button>Approve</button></form>"
    routes: dict[str, Handler] = {
        "GET /authorize": lambda r: _html(form),
        "POST /authorize": lambda r: _redirect(CALLBACK + "?code=c-self&state=s"),
    }
    session = _session(_router(routes, seen))
    attempt = session.attempt(CLIENT, CALLBACK)
    assert session.approve(attempt).kind is OutcomeKind.CODE
    assert str(seen[-1].url) == attempt.url and seen[-1].content == b"t=1"


def test_a_get_consent_form_sends_its_fields_in_the_query() -> None:
    """A browser submits a GET form as the action's query, never as a body."""
    seen: list[httpx.Request] = []
    form = (
        '<form method="get" action="/consent?stale=1"><input type=hidden name=request_id '
        'value=r1><button name="decision" value="approve">Approve</button></form>'
    )
    session = _session(_approving(form, seen))
    assert session.approve(session.attempt(CLIENT, CALLBACK)).kind is OutcomeKind.CODE
    sent = seen[-1]
    assert sent.method == "GET" and sent.content == b""
    assert parse_qs(sent.url.query.decode()) == {"request_id": ["r1"], "decision": ["approve"]}


def test_submit_buttons_outside_the_form_approve_it() -> None:
    seen: list[httpx.Request] = []
    form = (
        '<form id="f" method="post" action="/consent"><input type=hidden name=csrf value=c1>'
        '</form><button form="f" name="decision" value="approve">Approve</button>'
    )
    session = _session(_approving(form, seen))
    attempt = session.attempt(CLIENT, CALLBACK)
    assert attempt.outcome.kind is OutcomeKind.CONSENT
    assert session.approve(attempt).kind is OutcomeKind.CODE
    assert parse_qs(seen[-1].content.decode()) == {"csrf": ["c1"], "decision": ["approve"]}


def test_a_deny_first_form_is_approved_not_denied() -> None:
    seen: list[httpx.Request] = []
    form = (
        "<form method=post action=/consent><button name=d value=0>Don't allow</button>"
        "<button name=d value=1>Allow</button></form>"
    )
    session = _session(_approving(form, seen))
    session.approve(session.attempt(CLIENT, CALLBACK))
    assert seen[-1].content == b"d=1"


def test_a_code_at_once_needs_no_approval() -> None:
    seen: list[httpx.Request] = []
    location = CALLBACK + "?code=skip-consent-1&state=s"
    session = _session(_router({"GET /authorize": lambda r: _redirect(location)}, seen))
    attempt = session.attempt(CLIENT, CALLBACK)
    assert session.approve(attempt) is attempt.outcome and len(seen) == 1


def test_a_denial_after_approval_is_reported_as_it_is_without_a_browser() -> None:
    routes: dict[str, Handler] = {
        "GET /authorize": lambda r: _html(CONSENT),
        "POST /consent": lambda r: _redirect(CALLBACK + "?error=access_denied&state=s"),
    }
    session = _session(_router(routes))
    approved = session.approve(session.attempt(CLIENT, CALLBACK))
    assert approved.kind is OutcomeKind.ERROR_REDIRECT
    assert approved.params["error"] == "access_denied"


def test_no_consent_form_and_no_browser_is_a_harness_error() -> None:
    links = '<p><a href="/consent?decision=approve">Approve</a> <a href="/deny">Deny</a></p>'
    session = _session(_router({"GET /authorize": lambda r: _html(links)}))
    attempt = session.attempt(CLIENT, CALLBACK)
    with pytest.raises(HarnessError, match="no consent form to approve: error page"):
        session.approve(attempt)


def test_the_browser_approves_what_plain_http_cannot() -> None:
    """Consent behind an approve link: the browser reads and approves it."""
    links = '<p><a href="/consent?decision=approve">Approve</a></p>'
    browser = FakeBrowser(params={"code": "link-code-123", "state": "s", "iss": ISSUER})
    session = _session(_router({"GET /authorize": lambda r: _html(links)}), browser)
    attempt = session.attempt(CLIENT, CALLBACK)
    assert attempt.outcome.kind is OutcomeKind.CONSENT  # the browser's reading
    approved = session.approve(attempt)
    assert browser.approved == [(attempt.url, CALLBACK)]
    assert approved.kind is OutcomeKind.CODE and approved.seen_in == "browser"
    assert approved.params == {"code": "link-code-123", "state": "s", "iss": ISSUER}
    assert approved.sent_to_redirect_uri
    assert session.exchanges[-1]["method"] == "BROWSER"
    assert "link-code-123" not in json.dumps(session.exchanges)


def test_the_browser_approves_when_the_form_did_not_give_a_code() -> None:
    """A form that leads to another login (consent before login): the browser goes on."""
    routes: dict[str, Handler] = {
        "GET /authorize": lambda r: _html(CONSENT),
        "POST /consent": lambda r: _redirect("/login?next=%2Fresume"),
        "GET /login": lambda r: _html(LOGIN),
    }
    browser = FakeBrowser()
    session = _session(_router(routes), browser)
    approved = session.approve(session.attempt(CLIENT, CALLBACK))
    assert approved.kind is OutcomeKind.CODE and len(browser.approved) == 1


def test_the_browser_approval_keeps_a_redirect_uri_query() -> None:
    """A redirect URI may have a query of its own (RFC 6749 §3.1.2); the code is still read."""
    redirect_uri = CALLBACK + "?tenant=t1"
    browser = FakeBrowser(params={"code": "query-uri-code-1", "state": "s"})
    session = _session(_router({"GET /authorize": lambda r: _html("<p>app</p>")}), browser)
    approved = session.approve(session.attempt(CLIENT, redirect_uri))
    assert approved.kind is OutcomeKind.CODE
    assert approved.params == {"tenant": "t1", "code": "query-uri-code-1", "state": "s"}


def test_the_browser_cannot_approve_without_a_redirect_uri() -> None:
    browser = FakeBrowser()
    session = _session(_router({"GET /authorize": lambda r: _html("<p>app</p>")}), browser)
    with pytest.raises(HarnessError, match="no consent form to approve"):
        session.approve(session.attempt(CLIENT, None))
    assert browser.approved == []


# --- cookies from the browser's login ------------------------------------------------------


def test_browser_cookies_reach_the_target_and_are_secrets() -> None:
    seen: list[httpx.Request] = []
    session = _session(_router({"GET /authorize": lambda r: _html(CONSENT)}, seen))
    session.add_cookies(
        [
            {"name": "sid", "value": "browser-session-1", "domain": "as.test", "path": "/"},
            {"name": "other", "value": "elsewhere-cookie", "domain": "b.test", "path": "/"},
            {"name": "scoped", "value": "scoped-cookie-1", "domain": "as.test", "path": "/x"},
        ]
    )
    session.attempt(CLIENT, CALLBACK)
    assert seen[0].headers["cookie"] == "sid=browser-session-1"
    assert "browser-session-1" in SECRETS and "elsewhere-cookie" in SECRETS


def _renewing(seen: list[httpx.Request]) -> Handler:
    """A target that moves the session to a new cookie when the user approves."""

    def approve(request: httpx.Request) -> httpx.Response:
        sid = request.headers.get("cookie", "")
        if "sid=s1" not in sid:
            return _html(LOGIN)
        return _redirect(CALLBACK + "?code=c&state=s", **{"set-cookie": "sid=s2; Path=/"})

    return _router({"GET /authorize": lambda r: _html(CONSENT), "POST /consent": approve}, seen)


def _forked(handler: Handler) -> tuple[TargetSession, TargetSession]:
    run = _session(handler)
    run.client.cookies.set("sid", "s1", domain="as.test", path="/")
    client = httpx.Client(transport=httpx.MockTransport(handler), follow_redirects=False)
    client.cookies.set("sid", "s1", domain="as.test", path="/")
    return run, run.fork(client=client)


def test_a_forks_approval_holds_the_run_session_and_hands_it_the_new_cookie() -> None:
    """A target renewing the session on approval must find the run signed in after."""
    seen: list[httpx.Request] = []
    run, fork = _forked(_renewing(seen))
    attempt = fork.attempt(CLIENT, CALLBACK)
    held: list[bool] = []
    original = fork._approve

    def approve(attempt: object) -> Outcome:
        held.append(run.signed_in._is_owned())  # type: ignore[attr-defined]
        return original(attempt)  # type: ignore[arg-type]

    fork._approve = approve  # type: ignore[method-assign]
    assert fork.approve(attempt).kind is OutcomeKind.CODE
    assert held == [True]
    assert run.client.cookies.get("sid") == "s2" and fork.client.cookies.get("sid") == "s2"


def test_a_fork_whose_run_session_moved_since_consent_leaves_the_approval_to_its_turn() -> None:
    seen: list[httpx.Request] = []
    run, fork = _forked(_renewing(seen))
    attempt = fork.attempt(CLIENT, CALLBACK)
    run.client.cookies.set("sid", "s9", domain="as.test", path="/")  # approved in turn meanwhile
    with pytest.raises(InTurnOnly):
        fork.approve(attempt)
    assert [r.method for r in seen] == ["GET"]  # nothing was approved


def test_a_fork_shown_the_login_page_takes_the_run_sessions_new_cookies() -> None:
    seen: list[httpx.Request] = []
    run, fork = _forked(_renewing(seen))
    assert not fork.take_run_cookies()  # the same session: nothing to take
    run.client.cookies.set("sid", "s3", domain="as.test", path="/")
    assert fork.take_run_cookies() and fork.client.cookies.get("sid") == "s3"


def test_a_fork_shown_the_login_page_again_with_new_cookies_leaves_the_check_to_its_turn() -> None:
    """The run's session moved again while the fork waited (a 429, an approval meanwhile)."""
    seen: list[httpx.Request] = []
    run, fork = _forked(_router({"GET /authorize": lambda r: _html(LOGIN)}, seen))

    class Browser(FakeBrowser):
        def sign_in_again(self, url: str) -> bool:
            return fork.take_run_cookies()

    fork.browser = Browser()
    run.client.cookies.set("sid", "s3", domain="as.test", path="/")
    with pytest.raises(InTurnOnly, match="login page again"):
        fork.attempt(CLIENT, CALLBACK)
    assert len(seen) == 2  # asked once more with the run's cookies, then left to its turn
