"""The run's approvals and its forks' requests kept apart (conformance/harness/approval_gate.py).

The last test is the failure the gate prevents, on a hand-written server whose session
store keeps the last write (as oidc-provider's does): a fork's authorization request that
straddles the run's approval writes back the session without the approval's grant, and
the approval's fresh code is refused.
"""

from __future__ import annotations

import ssl
import threading
from urllib.parse import parse_qs, urlsplit

import httpx

from conformance.harness.approval_gate import ApprovalGate
from conformance.harness.session import TargetSession
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


def test_forks_requests_run_side_by_side_and_an_approval_nests() -> None:
    gate = ApprovalGate()
    with gate.request(), gate.request():
        pass
    with gate.approval(), gate.approval():
        pass


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
