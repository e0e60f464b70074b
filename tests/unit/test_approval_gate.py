"""Approvals kept apart from other threads' requests (conformance/harness/approval_gate.py).

The last tests are the failures the gate prevents, on a hand-written server whose session
store keeps the last write (as oidc-provider's does): a request in one thread that straddles
an approval in another writes back the session without the approval's grant, and the
approval's fresh code is refused. Either thread may be the one approving.
"""

from __future__ import annotations

import ssl
import threading
from collections.abc import Callable
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


class _Held:
    """A thread inside ``use`` (one of a gate's contexts) until :meth:`leave`."""

    def __init__(self, use: object) -> None:
        self.inside, self._left = threading.Event(), threading.Event()
        self._thread = threading.Thread(target=_entered, args=(use, self.inside, self._left))
        self._thread.start()

    def leave(self) -> None:
        self._left.set()
        self._thread.join(5)


def _waits_for(first: object, second: object) -> None:
    """``second``, in a thread of its own, is entered only once ``first``'s thread left."""
    held = _Held(first)
    assert held.inside.wait(5)
    waiting = _Held(second)
    assert not waiting.inside.wait(SETTLE_S)
    held.leave()
    assert waiting.inside.wait(5)
    waiting.leave()


@pytest.mark.parametrize(
    ("first", "then"),
    [
        ("request", "approval"),  # an approval waits for the requests in flight
        ("approval", "request"),  # no request begins during an approval
        ("approval", "approval"),
        ("approval", "browser_step"),  # a browser step begins only when no other approves
    ],
)
def test_in_another_thread_one_waits_for_the_other(first: str, then: str) -> None:
    gate = ApprovalGate()
    _waits_for(getattr(gate, first)(), getattr(gate, then)())


def test_requests_run_side_by_side_and_a_threads_approval_nests_in_its_request() -> None:
    gate = ApprovalGate()
    with gate.request(), gate.request():
        pass
    with gate.approval(), gate.approval(), gate.request():
        pass
    with gate.request(), gate.approval():  # a browser step's approval: its own request
        pass


def test_a_waiting_approval_holds_new_requests_of_other_threads_so_it_is_never_starved() -> None:
    gate = ApprovalGate()
    in_flight = _Held(gate.request())
    assert in_flight.inside.wait(5)
    approval = _Held(gate.approval())
    assert not approval.inside.wait(SETTLE_S)
    late = _Held(gate.request())
    assert not late.inside.wait(SETTLE_S)  # a new request waits behind the waiting approval
    in_flight.leave()
    assert approval.inside.wait(5)
    assert not late.inside.is_set()
    approval.leave()
    assert late.inside.wait(5)
    late.leave()


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


def _run_and_fork(
    server: Callable[[httpx.Request], httpx.Response],
) -> tuple[TargetSession, TargetSession]:
    """The run's session with ``server`` and a fork of it (approving keeps the session, so
    the fork's approvals hold no ``signed_in``: only the gate keeps them apart)."""
    run = TargetSession(
        make_target(ISSUER),
        httpx.Client(transport=httpx.MockTransport(server), follow_redirects=False),
        TLS,
    )
    run.pacer = Pacer(Pacing())
    run.approval_keeps_session = True
    return run, run.fork(client=httpx.Client(transport=httpx.MockTransport(server)))


@pytest.mark.parametrize("approver", ["run", "fork"])
def test_a_request_in_one_thread_never_straddles_an_approval_in_the_other(approver: str) -> None:
    server = LastWriterWins(slow_client="https://m.test/slow.json")
    run, fork = _run_and_fork(server)
    approving, other = (run, fork) if approver == "run" else (fork, run)
    worker = threading.Thread(target=lambda: other.attempt(server.slow_client, CALLBACK))
    worker.start()
    assert server.slow_started.wait(5)  # the other thread's request has read the session

    attempt = approving.attempt("https://m.test/approved.json", CALLBACK)
    approved = approving.approve(attempt)
    worker.join(5)

    code = approved.params["code"]
    assert server.redeemable(code), "the other thread's stale write dropped the approval's grant"


def test_a_browser_step_never_holds_up_an_approval_which_says_it_overlapped_one() -> None:
    gate = ApprovalGate()
    step = _Held(gate.browser_step())
    assert step.inside.wait(5)
    with gate.approval() as approval:
        assert approval.overlapped
    step.leave()
    with gate.approval() as alone:
        pass
    assert not alone.overlapped
    with gate.browser_step(), gate.approval() as own:  # the step's own approval
        pass
    assert not own.overlapped


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
    run, fork = _run_and_fork(server)
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


def test_a_detached_request_carries_no_cookie_and_never_waits_for_an_approval() -> None:
    seen: list[httpx.Request] = []

    def refuse(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(400, headers={"content-type": "text/html"}, text="invalid_client")

    run, _ = _run_and_fork(refuse)
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
