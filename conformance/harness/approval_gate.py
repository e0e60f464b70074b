"""A run's approvals and its forks' requests kept apart in the one signed-in session.

Some servers read the signed-in session at the start of each request and write it back
whole at the end: the last writer wins. oidc-provider does (its session middleware saves the
session after every authorization request, which first fetches the client's document), and
it binds each code to the grant the session records for the code's client: a code whose
client the session no longer maps to that grant is "not found" at the token endpoint.

A check run ahead of its turn (:mod:`conformance.harness.ahead`) sends its requests with the
run's session cookies while the run's own checks approve consent in the browser or over
HTTP. A fork's authorization request that began before such an approval and ends after it
writes back the session as it read it, without the grant the approval recorded, and the
approval's fresh code is refused (``invalid_grant``): a failure that is the suite's, not the
target's. So an approval waits until the forks' requests in flight have ended, and no fork
request begins until the approval has ended. Approvals are short (a click or a form post
and its redirects) and few; the forks' requests otherwise run as before.

A thread takes the run's ``signed_in`` lock before the gate, never the other way round.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


class ApprovalGate:
    """Approvals exclusive of forks' requests; forks' requests free among themselves."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._requests = 0  # forks' requests in flight
        self._approving = 0  # approvals under way (one thread's may nest)

    @contextmanager
    def request(self) -> Iterator[None]:
        """A fork's request: it waits while an approval is under way."""
        with self._changed:
            while self._approving:
                self._changed.wait()
            self._requests += 1
        try:
            yield
        finally:
            with self._changed:
                self._requests -= 1
                self._changed.notify_all()

    @contextmanager
    def approval(self) -> Iterator[None]:
        """The run's approval: no fork request begins, and those in flight end first."""
        with self._changed:
            self._approving += 1
            while self._requests:
                self._changed.wait()
        try:
            yield
        finally:
            with self._changed:
                self._approving -= 1
                self._changed.notify_all()
