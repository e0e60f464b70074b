"""Checks run ahead of their turn, in a worker thread, while the browser's checks run.

Most checks speak plain HTTP: they serve documents on the metadata host, send authorization
and token requests, and judge the answers. While the checks in the browser wait on it, a
worker thread per target runs those checks ahead of their turn, one at a time, in run order.
At a check's turn its outcome is taken as if it had run then; a check the worker has not
begun runs in its turn as always (and the worker goes on with the next), so the two threads
share the checks and neither waits for the other for long.

A check ahead of its turn has a session of its own (:meth:`TargetSession.fork`: its own
logs, check deadline, control and cookie jar) and a claim on the metadata host
(:mod:`mock_servers.claims`): its fetches are its evidence, and no other check's. It cannot
use the browser, which only the main thread may drive: a check that needs it (a page built
by script, a login to renew) is given up ahead and runs in its turn instead, and so do the
target's other checks (its pages need the browser). Until an approval has shown that the
target keeps the session when the user approves, a fork's consent approvals hold the run's
session (a target may move it to a new cookie then) and hand it the cookies they set; a
fork whose session has moved meanwhile takes the new cookies, or, with a consent page had
in the old session, runs in its turn. Approvals in either thread are kept apart from the
other thread's requests (:mod:`conformance.harness.approval_gate`): a server that writes its
session back whole at the end of each request would otherwise lose an approval's grant. A
check's verdict is always the one it reaches in its turn.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx

from conformance.catalog.verdicts import HarnessError
from conformance.harness.outcome import Outcome
from conformance.harness.session import Attempt, InTurnOnly, TargetSession
from conformance.target import deadline
from mock_servers.fetch_log import Fetch
from mock_servers.metadata_host import MetadataHost

Job = Callable[[TargetSession], Any]
"""A check's body, given the session to use."""

JOIN_S = 5.0  # how long the end of a target's checks waits for the worker's current check


class NeedsBrowser(InTurnOnly):
    """The check asked for the browser, which a worker thread cannot drive."""


class _NoBrowser:
    """The browser as a worker thread sees it: every use gives the check up to its turn.

    But for a login page shown to a fork whose session the run's has since moved to new
    cookies (a consent approved meanwhile): the fork takes them and asks again.
    """

    def __init__(self) -> None:
        self.session: TargetSession | None = None

    def approve(self, url: str, redirect_uri: str) -> dict[str, str]:
        raise NeedsBrowser("approving in the browser")

    def classify(self, url: str, redirect_uri: str) -> Outcome:
        raise NeedsBrowser("reading a page in the browser")

    def sign_in_again(self, url: str) -> bool:
        if self.session is not None and self.session.take_run_cookies():
            return True
        raise NeedsBrowser("signing in again")


@dataclass
class RanAhead:
    """A check's outcome from ahead of its turn: what it returned or raised, its evidence."""

    value: Any = None
    error: Exception | None = None
    duration_s: float = 0.0
    exchanges: list[dict[str, Any]] = field(default_factory=list)
    attempts: list[dict[str, Any]] = field(default_factory=list)
    waits: list[dict[str, Any]] = field(default_factory=list)
    signed_in_again: list[dict[str, str]] = field(default_factory=list)
    approved_again: list[dict[str, str]] = field(default_factory=list)
    fetches: list[Fetch] = field(default_factory=list)

    def hand_over(self, session: TargetSession | None) -> Any:
        """Put the evidence into ``session``'s logs (the check's, at its turn); its outcome.

        Raises:
            Exception: what the check raised ahead of its turn.
        """
        if session is not None:
            session.exchanges[:0] = self.exchanges
            session.attempts[:0] = self.attempts
            session.waits[:0] = self.waits
            session.signed_in_again[:0] = self.signed_in_again
            session.approved_again[:0] = self.approved_again
        if self.error is not None:
            raise self.error
        return self.value


class RunAhead:
    """One target's checks that may run ahead of their turn, and the worker that runs them.

    Args:
        session: the target's logged-in session (forked for each check).
        host: the metadata host.
        control: makes the control attempt (a valid client) in a given session.
        may_start: whether the next check may start (False once the run deadline fired or
            the target stopped answering: the checks' turns then say why).
    """

    def __init__(
        self,
        session: TargetSession,
        host: MetadataHost,
        control: Callable[[TargetSession], Attempt],
        may_start: Callable[[], bool],
    ) -> None:
        self._session = session
        self._host = host
        self._control = control
        self._may_start = may_start
        self._lock = threading.Lock()
        self._turn = threading.Condition(self._lock)  # the worker's check ended; one runs alone
        self._running: str | None = None
        self._alone = 0
        self._jobs: dict[str, Job] = {}
        self._claimed: set[str] = set()  # begun by the worker or taken by the turn
        self._ended: dict[str, threading.Event] = {}
        self._outcomes: dict[str, RanAhead | None] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._client: httpx.Client | None = None

    def begin(self, jobs: Sequence[tuple[str, Job]]) -> None:
        """Start running ``jobs`` (name, body) ahead of their turns, in this order."""
        if not jobs or self._thread is not None:
            return
        self._jobs = dict(jobs)
        self._ended = {name: threading.Event() for name in self._jobs}
        # the cookies are copied here, in the thread that uses the session's client
        session = self._session
        self._client = deadline.client(session.tls, cookies=httpx.Cookies(session.client.cookies))
        self._thread = threading.Thread(target=self._work, name="cimd-ahead", daemon=True)
        self._thread.start()

    def has(self, name: str) -> bool:
        """Whether ``name`` is one of the checks that may run ahead."""
        return name in self._jobs

    def take(self, name: str) -> RanAhead | None:
        """At ``name``'s turn: its outcome from ahead, or None: run it now.

        None when the worker never began it (it will not now) or gave it up (it came to a
        step only its turn may take: :class:`InTurnOnly`). Waits while the worker runs it.

        Raises:
            HarnessError: the worker's check outlived every deadline it had.
        """
        with self._lock:
            if name not in self._jobs:
                return None
            if name not in self._claimed:
                self._claimed.add(name)
                return None
        limits = self._session.clock.limits
        if not self._ended[name].wait(limits.check_s + limits.exchange_s + JOIN_S):
            raise HarnessError(
                "the check, run ahead of its turn in a worker thread, did not end within its "
                "deadlines; run the suite with --serial and report this"
            )
        with self._lock:
            return self._outcomes.pop(name, None)

    @contextmanager
    def alone(self) -> Iterator[None]:
        """For a check that must run alone: the worker's current check ends first.

        The worker begins no other check until this one has ended.
        """
        with self._turn:
            self._alone += 1
            while self._running is not None:
                self._turn.wait()
        try:
            yield
        finally:
            with self._turn:
                self._alone -= 1
                self._turn.notify_all()

    def stop(self) -> None:
        """The target's checks are done (or the run stops): the worker begins no other check."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(JOIN_S)
        if self._client is not None and (self._thread is None or not self._thread.is_alive()):
            self._client.close()

    def _work(self) -> None:
        for name in self._jobs:
            with self._turn:
                while self._alone and not self._stop.is_set():
                    self._turn.wait(JOIN_S)
                if name in self._claimed:
                    continue
                if self._stop.is_set() or not self._may_start():
                    return
                self._claimed.add(name)
                self._running = name
            outcome: RanAhead | InTurnOnly | None = None
            try:
                outcome = self._run(name)
            finally:
                with self._turn:
                    self._running = None
                    self._outcomes[name] = outcome if isinstance(outcome, RanAhead) else None
                    self._turn.notify_all()
                self._ended[name].set()
            if isinstance(outcome, NeedsBrowser):
                return  # the target's pages need the browser: the checks run in their turns
            if isinstance(outcome, RanAhead) and isinstance(outcome.error, deadline.Unanswered):
                return  # the target may be gone: the turns find out, one at a time

    def _run(self, name: str) -> RanAhead | InTurnOnly:
        """Run ``name``'s check in a session of its own; what it needs in its turn, if so."""
        assert self._client is not None
        browser = _NoBrowser()
        fork = self._session.fork(browser, self._client)
        browser.session = fork
        fork.make_control = lambda: self._control(fork)
        fork.clock.start_check()
        host, ran = self._host, RanAhead()
        started = time.monotonic()
        with host.claiming(name) as claim:
            mark = host.mark()
            try:
                ran.value = self._jobs[name](fork)
            except InTurnOnly as exc:
                return exc
            except Exception as exc:  # the check's outcome, raised again at its turn
                ran.error = exc
        ran.duration_s = time.monotonic() - started
        ran.fetches = [f for f in host.fetches_since(mark) if host.claimed_by(f) is claim]
        ran.exchanges, ran.attempts, ran.waits = fork.exchanges, fork.attempts, fork.waits
        ran.signed_in_again, ran.approved_again = fork.signed_in_again, fork.approved_again
        return ran
