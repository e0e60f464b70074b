"""Approvals kept apart from other threads' requests (conformance/harness/approval_gate.py).

The last tests are the failures the gate prevents, on a hand-written server whose session
store keeps the last write (as oidc-provider's does): a request in one thread that straddles
an approval in another writes back the session without the approval's grant, and the
approval's fresh code is refused. Either thread may be the one approving.
"""

from __future__ import annotations

import ssl
import threading
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from conformance.harness.approval_gate import ApprovalGate
from conformance.harness.outcome import Outcome, OutcomeKind
from conformance.harness.session import (
    Attempt,
    InTurnOnly,
    TargetSession,
    TokenResult,
    refused_apart,
)
from conformance.target.pacing import Pacer, Pacing

from .conftest import CALLBACK, make_target

ISSUER = "https://as.test"
TLS = ssl.create_default_context()
SETTLE_S = 0.3  # long enough for a thread that is not held to get on


def _entered(gate_use: object, started: threading.Event, done: threading.Event) -> None:
    with gate_use:  # type: ignore[attr-defined]
        started.set()
        done.wait(5)


def test_an_approval_waits_for_the_fork_requests_in_flight() -> None:
    gate = ApprovalGate()
    in_flight, release = threading.Event(), threading.Event()
    fork = threading.Thread(target=_entered, args=(gate.request(), in_flight, release))
    fork.start()
    assert in_flight.wait(5)
    approving, approved = threading.Event(), threading.Event()
    run = threading.Thread(target=_entered, args=(gate.approval(), approving, approved))
    run.start()
    assert not approving.wait(SETTLE_S)  # held while the fork's request is in flight
    release.set()
    assert approving.wait(5)
    approved.set()
    fork.join(5)
    run.join(5)


def test_no_fork_request_begins_during_an_approval() -> None:
    gate = ApprovalGate()
    approving, approved = threading.Event(), threading.Event()
    run = threading.Thread(target=_entered, args=(gate.approval(), approving, approved))
    run.start()
    assert approving.wait(5)
    sending, sent = threading.Event(), threading.Event()
    fork = threading.Thread(target=_entered, args=(gate.request(), sending, sent))
    fork.start()
    assert not sending.wait(SETTLE_S)
    approved.set()
    assert sending.wait(5)
    sent.set()
    run.join(5)
    fork.join(5)


def test_requests_run_side_by_side_and_a_threads_approval_nests_in_its_request() -> None:
    gate = ApprovalGate()
    with gate.request(), gate.request():
        pass
    with gate.approval(), gate.approval(), gate.request():
        pass
    with gate.request(), gate.approval():  # a browser step's approval: its own request
        pass


def test_an_approval_waits_for_another_approval() -> None:
    gate = ApprovalGate()
    first, first_done = threading.Event(), threading.Event()
    one = threading.Thread(target=_entered, args=(gate.approval(), first, first_done))
    one.start()
    assert first.wait(5)
    second, second_done = threading.Event(), threading.Event()
    two = threading.Thread(target=_entered, args=(gate.approval(), second, second_done))
    two.start()
    assert not second.wait(SETTLE_S)
    first_done.set()
    assert second.wait(5)
    second_done.set()
    one.join(5)
    two.join(5)


def test_a_waiting_approval_holds_new_requests_of_other_threads_so_it_is_never_starved() -> None:
    gate = ApprovalGate()
    in_flight, release = threading.Event(), threading.Event()
    fork = threading.Thread(target=_entered, args=(gate.request(), in_flight, release))
    fork.start()
    assert in_flight.wait(5)
    approving, approved = threading.Event(), threading.Event()
    run = threading.Thread(target=_entered, args=(gate.approval(), approving, approved))
    run.start()
    assert not approving.wait(SETTLE_S)
    sending, sent = threading.Event(), threading.Event()
    late = threading.Thread(target=_entered, args=(gate.request(), sending, sent))
    late.start()
    assert not sending.wait(SETTLE_S)  # a new request waits behind the waiting approval
    release.set()
    assert approving.wait(5)
    assert not sending.is_set()
    approved.set()
    assert sending.wait(5)
    sent.set()
    for thread in (fork, run, late):
        thread.join(5)


class LastWriterWins:
    """An AS whose one signed-in session is read at each request's start, written at its end.

    Each code is bound to the grant the session records for its client when the code is
    issued; :meth:`redeemable` is the token endpoint's test (oidc-provider's session binding).
    The authorization request of ``slow_client`` holds its read copy until ``approved`` is
    set or ``SETTLE_S`` passes (the fetch of a client's document, made long).
    """

    def __init__(self, slow_client: str) -> None:
        self.grants: dict[str, str] = {}
        self.codes: dict[str, tuple[str, str]] = {}
        self.slow_client = slow_client
        self.slow_started = threading.Event()
        self.approved = threading.Event()
        self._lock = threading.Lock()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            read = dict(self.grants)  # the session, as this request read it
        query = {k: v[0] for k, v in parse_qs(urlsplit(str(request.url)).query).items()}
        response: httpx.Response
        if request.url.path == "/authorize":
            if query["client_id"] == self.slow_client:
                self.slow_started.set()
                self.approved.wait(SETTLE_S)
            form = (
                f'<form method=post action="/consent?client_id={query["client_id"]}'
                f'&state={query["state"]}"><button name=d value=yes>Approve</button></form>'
            )
            response = httpx.Response(200, headers={"content-type": "text/html"}, text=form)
        else:  # the consent form's post: a grant, and a code bound to it
            client = query["client_id"]
            read[client] = f"grant-{len(self.codes)}"
            code = f"code-{len(self.codes)}"
            self.codes[code] = (client, read[client])
            self.approved.set()
            location = f"{CALLBACK}?code={code}&state={query['state']}"
            response = httpx.Response(302, headers={"location": location})
        with self._lock:
            self.grants = read  # written back whole: the last writer wins
        return response

    def redeemable(self, code: str) -> bool:
        client, grant = self.codes[code]
        return self.grants.get(client) == grant


def test_a_fork_request_never_straddles_an_approval() -> None:
    server = LastWriterWins(slow_client="https://m.test/slow.json")
    run = TargetSession(
        make_target(ISSUER),
        httpx.Client(transport=httpx.MockTransport(server), follow_redirects=False),
        TLS,
    )
    run.pacer = Pacer(Pacing())
    fork = run.fork(client=httpx.Client(transport=httpx.MockTransport(server)))
    worker = threading.Thread(
        target=lambda: fork.attempt(server.slow_client, CALLBACK), name="fork"
    )
    worker.start()
    assert server.slow_started.wait(5)  # the fork's request has read the session

    attempt = run.attempt("https://m.test/approved.json", CALLBACK)
    approved = run.approve(attempt)
    worker.join(5)

    code = approved.params["code"]
    assert server.redeemable(code), "the fork's stale write dropped the approval's grant"


def test_a_browser_step_never_holds_up_an_approval_which_says_it_overlapped_one() -> None:
    gate = ApprovalGate()
    stepping, stepped = threading.Event(), threading.Event()
    main = threading.Thread(target=_entered, args=(gate.browser_step(), stepping, stepped))
    main.start()
    assert stepping.wait(5)
    with gate.approval() as approval:
        assert approval.overlapped
    stepped.set()
    main.join(5)
    with gate.approval() as alone:
        pass
    assert not alone.overlapped
    with gate.browser_step(), gate.approval() as own:  # the step's own approval
        pass
    assert not own.overlapped


def test_a_browser_step_begins_only_when_no_other_thread_approves() -> None:
    gate = ApprovalGate()
    approving, approved = threading.Event(), threading.Event()
    fork = threading.Thread(target=_entered, args=(gate.approval(), approving, approved))
    fork.start()
    assert approving.wait(5)
    stepping, stepped = threading.Event(), threading.Event()
    main = threading.Thread(target=_entered, args=(gate.browser_step(), stepping, stepped))
    main.start()
    assert not stepping.wait(SETTLE_S)
    approved.set()
    assert stepping.wait(5)
    stepped.set()
    fork.join(5)
    main.join(5)


def _redeeming(server: LastWriterWins) -> object:
    def post_form(
        self: TargetSession, what: str, url: str, data: dict[str, str], auth: object = None
    ) -> TokenResult:
        if server.redeemable(data["code"]):
            return TokenResult(200, {"access_token": "t"}, "")
        return TokenResult(400, {"error": "invalid_grant"}, "")

    return post_form


def test_a_forks_code_refused_after_an_approval_during_a_browser_step_is_left_to_its_turn(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The browser step's page load straddles the fork's approval and undoes its grant: the
    refusal is the suite's doing, never the target's verdict; the check runs in its turn.
    """
    server = LastWriterWins(slow_client="https://m.test/slow.json")
    monkeypatch.setattr(TargetSession, "_post_form", _redeeming(server))
    run = TargetSession(
        make_target(ISSUER),
        httpx.Client(transport=httpx.MockTransport(server), follow_redirects=False),
        TLS,
    )
    run.pacer = Pacer(Pacing())
    run.approval_keeps_session = True
    fork = run.fork(client=httpx.Client(transport=httpx.MockTransport(server)))
    browser = httpx.Client(transport=httpx.MockTransport(server))  # the step's page loads

    def step() -> None:
        with run.approvals.browser_step():
            browser.get(f"{ISSUER}/authorize?client_id={server.slow_client}&state=s")

    main = threading.Thread(target=step, name="main")
    main.start()
    assert server.slow_started.wait(5)  # the step's page load has read the session
    attempt = fork.attempt("https://m.test/approved.json", CALLBACK)
    approved = fork.approve(attempt)
    main.join(5)
    code = approved.params["code"]
    assert not server.redeemable(code)  # the page load's stale write dropped the grant
    with pytest.raises(InTurnOnly):
        fork.redeem(client_id=attempt.client_id, code=code, redirect_uri=CALLBACK, verifier="v")

    # an approval made alone: its refusal is the target's, returned as it is
    server.codes["alone"] = ("https://m.test/other.json", "gone")
    fork.unsure_codes.discard("alone")
    refused = fork.redeem(
        client_id=attempt.client_id, code="alone", redirect_uri=CALLBACK, verifier="v"
    )
    assert refused.error == "invalid_grant"


def test_a_run_request_never_straddles_a_forks_approval() -> None:
    """The run's request (the main thread's, browser steps alike) and a check run ahead that
    approves: even where approving keeps the session (no ``signed_in`` is held then).
    """
    server = LastWriterWins(slow_client="https://m.test/slow.json")
    run = TargetSession(
        make_target(ISSUER),
        httpx.Client(transport=httpx.MockTransport(server), follow_redirects=False),
        TLS,
    )
    run.pacer = Pacer(Pacing())
    run.approval_keeps_session = True
    fork = run.fork(client=httpx.Client(transport=httpx.MockTransport(server)))
    main = threading.Thread(target=lambda: run.attempt(server.slow_client, CALLBACK), name="main")
    main.start()
    assert server.slow_started.wait(5)  # the run's request has read the session

    attempt = fork.attempt("https://m.test/approved.json", CALLBACK)
    approved = fork.approve(attempt)
    main.join(5)

    code = approved.params["code"]
    assert server.redeemable(code), "the run's stale write dropped the fork's grant"


def test_a_detached_request_carries_no_cookie_and_never_waits_for_an_approval() -> None:
    seen: list[httpx.Request] = []

    def refuse(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(400, headers={"content-type": "text/html"}, text="invalid_client")

    run = TargetSession(
        make_target(ISSUER),
        httpx.Client(transport=httpx.MockTransport(refuse), follow_redirects=False),
        TLS,
    )
    run.pacer = Pacer(Pacing())
    run.client.cookies.set("sid", "signed-in", domain="as.test")
    detached = run.detached()
    detached.client = httpx.Client(transport=httpx.MockTransport(refuse))
    approving, approved = threading.Event(), threading.Event()
    other = threading.Thread(target=_entered, args=(run.approvals.approval(), approving, approved))
    other.start()
    assert approving.wait(5)
    try:
        attempt = detached.attempt("https://m.test/hanging.json", CALLBACK)
    finally:
        approved.set()
        other.join(5)
    assert "cookie" not in seen[-1].headers
    assert detached.browser is None
    assert refused_apart(attempt)
    assert detached.attempts[-1]["sent"] == "without the signed-in session"


def _attempt(outcome: Outcome) -> Attempt:
    return Attempt("https://m.test/c.json", CALLBACK, "s", None, outcome)


@pytest.mark.parametrize(
    ("outcome", "refused"),
    [
        (Outcome(OutcomeKind.ERROR_PAGE, 400, ISSUER), True),
        (
            Outcome(OutcomeKind.ERROR_REDIRECT, 302, ISSUER, params={"error": "invalid_client"}),
            True,
        ),
        # asks for a signed-in user: the session's doing, not the client's
        (
            Outcome(OutcomeKind.ERROR_REDIRECT, 302, ISSUER, params={"error": "login_required"}),
            False,
        ),
        (Outcome(OutcomeKind.LOGIN, 200, ISSUER), False),
        (Outcome(OutcomeKind.CONSENT, 200, ISSUER), False),
        (Outcome(OutcomeKind.CODE, 302, ISSUER, params={"code": "c"}), False),
        # an upstream login, and a page plain HTTP cannot read
        (Outcome(OutcomeKind.OTHER_REDIRECT, 302, ISSUER, "https://idp.test/"), False),
        (Outcome(OutcomeKind.ERROR_PAGE, 200, ISSUER), False),
        (Outcome(OutcomeKind.ERROR_PAGE, 429, ISSUER), False),  # not now
    ],
)
def test_only_a_plain_refusal_counts_for_a_request_sent_without_the_session(
    outcome: Outcome, refused: bool
) -> None:
    assert refused_apart(_attempt(outcome)) is refused
