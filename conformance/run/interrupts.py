"""SIGINT and SIGTERM stop a run; an interrupted run is reported, never a verdict.

:func:`install` makes both signals raise ``KeyboardInterrupt`` in the main thread, the way
Ctrl-C already does: pytest then stops at the check it is in, tears its fixtures down (the
browser, the mock servers, the canaries) and still writes the reports, and every ``with``
block of the command line (the reference AS, ``--target-command``) stops what it started.
Only the first signal interrupts; later ones are recorded and ignored, so the clean-up they
would cut short finishes (every stop step has its own timeout).
"""

from __future__ import annotations

import contextlib
import signal
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from types import FrameType
from typing import Any

# The exit code of a run stopped by each signal: 130 is the shell's "128 + SIGINT" that
# Ctrl-C gives; SIGTERM gives 2, "the harness could not test" (the run did not finish).
EXIT_CODES = {"SIGINT": 130, "SIGTERM": 2}
HANDLED = (signal.SIGINT, signal.SIGTERM)

_received: list[str] = []
_at = ""
_deferred = False


_previous: dict[int, Any] = {}
_held = False  # SIGINT and SIGTERM blocked by hold()


def install() -> None:
    """Make SIGINT and SIGTERM interrupt the run (call in the main thread)."""
    global _at, _deferred
    _received.clear()
    _at, _deferred = "", False
    for signum in HANDLED:
        _previous.setdefault(signum, signal.signal(signum, _handle))


def hold() -> None:
    """Keep SIGINT and SIGTERM pending in this thread until :func:`release`.

    For the moments the command cannot yet stop cleanly (loading the suite while its
    reference AS starts): a signal then interrupts where :func:`release` is called.
    """
    global _held
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_BLOCK, HANDLED)
        _held = True


def release(*, deliver: bool = True) -> None:
    """End :func:`hold`: a signal that came meanwhile interrupts now (with ``deliver``).

    Without ``deliver`` (the command has already ended) a pending signal is dropped instead.
    """
    global _held
    if not _held:
        return
    _held = False
    if not deliver:
        for signum in HANDLED:
            if signum in signal.sigpending():
                signal.sigwait({signum})
    signal.pthread_sigmask(signal.SIG_UNBLOCK, HANDLED)


def uninstall() -> None:
    """Put back the handlers :func:`install` replaced."""
    for signum, handler in _previous.items():
        signal.signal(signum, handler)
    _previous.clear()


def _handle(signum: int, frame: FrameType | None) -> None:
    global _at
    name = signal.Signals(signum).name
    _received.append(name)
    if len(_received) == 1:
        _at = datetime.now(UTC).isoformat(timespec="seconds")
    if len(_received) > 1 or _deferred:
        print(f"cimd-conformance: {name} received, already stopping", file=sys.stderr)
        return
    print(f"cimd-conformance: {name} received, stopping the run", file=sys.stderr)
    raise KeyboardInterrupt(name)


def defer() -> None:
    """From now on a signal is recorded but no longer interrupts (the run is finishing)."""
    global _deferred
    _deferred = True


@contextlib.contextmanager
def finishing() -> Iterator[None]:
    """A signal is recorded and ignored while this lasts (call in the main thread).

    For the command's last steps, stopping what it started once its run has ended. The run's
    exit code is decided by then, and each stop has its own timeout; a signal must not cut
    them short (leaving the reference AS or the browser running) nor end the process by the
    signal instead of with that exit code.
    """
    global _deferred
    before = {signum: signal.signal(signum, _handle) for signum in HANDLED}
    deferred, _deferred = _deferred, True
    try:
        yield
    finally:
        _deferred = deferred
        for signum, handler in before.items():
            signal.signal(signum, handler)


def received() -> str | None:
    """The first signal that interrupted this run (``"SIGINT"``, ``"SIGTERM"``), if any."""
    return _received[0] if _received else None


def exit_code(name: str | None) -> int:
    """The exit code of a run interrupted by ``name``."""
    return EXIT_CODES.get(name or "SIGINT", 2)


def record(checks_judged: int) -> dict[str, Any]:
    """The report's ``interrupted`` field for a run stopped now.

    A ``KeyboardInterrupt`` without a recorded signal (Ctrl-C in a plain pytest run, where
    :func:`install` was never called) counts as SIGINT.
    """
    name = received() or "SIGINT"
    return {
        "signal": name,
        "at": _at or datetime.now(UTC).isoformat(timespec="seconds"),
        "checks_judged": checks_judged,
        "exit_code": exit_code(name),
        "meaning": "the run was stopped before it finished: checks not reached have no "
        "result, so this report is not a verdict on the target",
    }
