"""Checks whose wait starts before their turn, so that the run's waits overlap.

A check that must sit out a cache lifetime registers its first part with :func:`head_start`
(everything up to the wait: serve the document, send the first request, change the
document). For each target, the first parts of every selected check run when the target's
checks begin; the checks themselves run after the target's other checks, so by their turn
most of their wait has passed while other checks ran. Run alone, or when no head start was
made, a check's first part simply runs in its turn.

The first part's exchanges, attempts and fetches stay the check's evidence, and what it
raised (a verdict, a harness error) is raised by the check, never by the check that happened
to be running when the first part ran.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from conformance.harness.session import TargetSession
from mock_servers.fetch_log import Fetch
from mock_servers.metadata_host import MetadataHost

Starter = Callable[[TargetSession, MetadataHost], Any]
S = TypeVar("S", bound=Starter)

_STARTERS: dict[str, Starter] = {}
_LEFT_RUNNING: set[str] = set()


def head_start(requirement: str, *, left_running: bool = False) -> Callable[[S], S]:
    """Register ``starter`` as the first part of the check of ``requirement``.

    A first part ``left_running`` leaves exchanges open when it returns (requests in worker
    threads that the check collects): its fetches are not waited for when it returns, so
    the other checks run while they hang.
    """

    def register(starter: S) -> S:
        _STARTERS[requirement] = starter
        if left_running:
            _LEFT_RUNNING.add(requirement)
        return starter

    return register


def has_head_start(requirement: str | None) -> bool:
    """Whether the check of ``requirement`` has a first part run ahead of it."""
    return requirement in _STARTERS


@dataclass
class _Started:
    """What a first part left: its value or what it raised, and its evidence."""

    value: Any = None
    error: Exception | None = None
    exchanges: list[Any] = field(default_factory=list)
    attempts: list[Any] = field(default_factory=list)
    fetches: list[Fetch] = field(default_factory=list)


class HeadStarts:
    """One target's first parts: begun once, each taken by its check."""

    def __init__(self) -> None:
        self._started: dict[str, _Started] = {}
        self._begun = False

    @property
    def begun(self) -> bool:
        """Whether the first parts have been run for this target."""
        return self._begun

    def begin(
        self, session: TargetSession, host: MetadataHost, requirements: Iterable[str]
    ) -> None:
        """Run the first part of each of ``requirements``' checks that has one (once)."""
        if self._begun:
            return
        self._begun = True
        for requirement in requirements:
            starter = _STARTERS.get(requirement)
            if starter is not None and requirement not in self._started:
                settle = requirement not in _LEFT_RUNNING
                self._started[requirement] = _run(starter, session, host, settle=settle)

    def take(
        self, requirement: str, session: TargetSession, host: MetadataHost
    ) -> tuple[Any, list[Fetch]]:
        """The first part's value for the check of ``requirement``, and its fetches.

        The first part's exchanges and attempts go back into the check's session logs; what
        it raised is raised here. Without a head start the first part runs now.
        """
        started = self._started.pop(requirement, None)
        if started is None:
            return _STARTERS[requirement](session, host), []
        session.exchanges[:0] = started.exchanges
        session.attempts[:0] = started.attempts
        if started.error is not None:
            raise started.error
        return started.value, started.fetches

    def close(self) -> None:
        """End what first parts left running that no check took (an early stop)."""
        for started in self._started.values():
            close = getattr(started.value, "close", None)
            if callable(close):
                with contextlib.suppress(Exception):
                    close()
        self._started.clear()


def _run(
    starter: Starter, session: TargetSession, host: MetadataHost, *, settle: bool = True
) -> _Started:
    mark, exchanges, attempts = host.mark(), len(session.exchanges), len(session.attempts)
    started = _Started()
    try:
        started.value = starter(session, host)
    except Exception as exc:  # kept for the check; an interrupt still stops the run
        started.error = exc
    if settle:
        host.settle()
    started.exchanges = session.exchanges[exchanges:]
    started.attempts = session.attempts[attempts:]
    started.fetches = host.unclaimed(host.fetches_since(mark))
    return started
