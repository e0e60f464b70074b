"""Approvals kept apart from the run's other requests in the one signed-in session.

Some servers read the signed-in session at the start of each request and write it back
whole at the end: the last writer wins. oidc-provider does (its session middleware saves the
session after every authorization request, which first fetches the client's document), and
it binds each code to the grant the session records for the code's client: a code whose
client the session no longer maps to that grant is "not found" at the token endpoint.

The run sends requests in its signed-in session from two threads: the main thread (plain
HTTP and the browser) and the worker running checks ahead of their turn
(:mod:`conformance.harness.ahead`). A request that began before an approval in the other
thread and ends after it writes back the session as it read it, without the grant the
approval recorded, and the approval's fresh code is refused (``invalid_grant``): a failure
that is the suite's, not the target's. So an approval waits until the other threads'
requests in flight have ended, and no other thread's request begins until it has ended.
Approvals are short (a click or a form post and its redirects) and few; requests run beside
each other as before. A thread's own requests never wait for its own approval.

A step in the browser (the main thread's) loads pages for a second or more, and its page
loads cannot be told apart from outside it: a check run ahead that waited for whole steps
would wait for most of the run. So a browser step begins only when no other thread
approves, but an approval does not wait for a step under way; it says that it overlapped
one (:attr:`Approval.overlapped`), and the check that made it does not trust a refusal of
its code (:meth:`~conformance.harness.session.TargetSession.token_request`): it runs again
in its turn.

Requests that wait out the target's fetch of a hanging document are sent without the
session (:meth:`~conformance.harness.session.TargetSession.detached`), so an approval never
waits for them. A thread takes the run's ``signed_in`` lock before the gate, never the other
way round.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager


class Approval:
    """An approval under way, or made."""

    def __init__(self) -> None:
        self.overlapped = False  # another thread's browser step was under way meanwhile


class ApprovalGate:
    """Approvals exclusive of other threads' requests and approvals; requests shared."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._requests: Counter[int] = Counter()  # requests in flight, by thread
        self._steps: Counter[int] = Counter()  # browser steps under way, by thread
        self._current: Approval | None = None
        self._approver: int | None = None  # the thread whose approval is under way
        self._depth = 0  # its approvals (one may nest in another)
        self._waiting = 0  # approvals waiting: new requests of other threads wait too

    def _others_requests(self, me: int) -> int:
        return sum(n for thread, n in self._requests.items() if thread != me)

    @contextmanager
    def request(self) -> Iterator[None]:
        """A request in the signed-in session: it waits while another thread approves.

        A thread with a request or a browser step under way already goes on, so that nested
        requests never wait for an approval that waits for them.
        """
        with self._entered(self._requests):
            yield

    @contextmanager
    def browser_step(self) -> Iterator[None]:
        """A browser step: it begins when no other thread approves, and never holds one up."""
        with self._entered(self._steps):
            yield

    @contextmanager
    def _entered(self, under_way: Counter[int]) -> Iterator[None]:
        """Count this thread in ``under_way`` once no other thread approves or waits to."""
        me = threading.get_ident()
        with self._changed:
            while self._approver not in (None, me) or (
                self._waiting
                and self._approver != me
                and not (self._requests[me] or self._steps[me])
            ):
                self._changed.wait()
            under_way[me] += 1
        try:
            yield
        finally:
            with self._changed:
                under_way[me] -= 1
                if not under_way[me]:
                    del under_way[me]
                self._changed.notify_all()

    @contextmanager
    def approval(self) -> Iterator[Approval]:
        """An approval: other threads' requests in flight end first, and none begins."""
        me = threading.get_ident()
        with self._changed:
            if self._approver != me:
                self._waiting += 1
                try:
                    while self._approver is not None or self._others_requests(me):
                        self._changed.wait()
                finally:
                    self._waiting -= 1
                self._approver = me
                self._current = Approval()
                # a step under way now may load a page over the approval (none begins now)
                self._current.overlapped = any(thread != me for thread in self._steps)
            assert self._current is not None
            current = self._current
            self._depth += 1
        try:
            yield current
        finally:
            with self._changed:
                self._depth -= 1
                if not self._depth:
                    self._approver = None
                    self._current = None
                self._changed.notify_all()
