"""Progress on long runs: one status line on a terminal, one line per check elsewhere.

``--progress auto`` (the default) picks ``tty`` when standard error is a terminal (and
``TERM`` is not ``dumb``), else ``lines``; ``-v`` (pytest's own line per check) picks ``off``.

- ``tty``: one line, redrawn in place each second: checks done and left, elapsed time, how
  far the running check's target is (when there are several), the check and its requirement.
- ``lines``: for CI logs and pipes, one plain line per check as its verdict is known, no
  escape codes: ``[3/42] test_discovery::test_x CIMD-DISC-01 pass 0.31s`` (and the target's
  label when the run has several).
- ``off``: pytest's own quiet output.

The ``tty`` line goes to standard error (the terminal), the ``lines`` to standard output
(the log: standard error keeps to the one message of a run that could not test); both to a
duplicate taken before pytest starts capturing, so a check's captured output never
swallows them. The verdict of each check is the collector's
(:meth:`ResultCollector.result_for`), read when pytest has finished the check.
"""

from __future__ import annotations

import os
import shutil
import sys
import threading
import time
from collections.abc import Generator, Sequence
from typing import IO, Any, Literal, Protocol

import pytest

from conformance.plugin.selection import check_id, issuer_of, requirement_of
from conformance.report.model import CheckResult
from conformance.report.paths import label_for

Mode = Literal["tty", "lines", "off"]
_CLEAR = "\r\x1b[K"


class Results(Protocol):
    """Where a finished check's verdict is read (the run's :class:`ResultCollector`)."""

    def result_for(self, nodeid: str) -> CheckResult | None:
        """The result of the check ``nodeid``, if it has one."""
        ...


def resolve(mode: str, *, verbose: bool = False, stream: IO[str] | None = None) -> Mode:
    """The display ``mode`` (auto, tty, lines, off) comes to on ``stream`` (standard error)."""
    if mode in ("tty", "lines", "off"):
        return mode  # type: ignore[return-value]
    if verbose:
        return "off"
    stream = sys.stderr if stream is None else stream
    terminal = getattr(stream, "isatty", lambda: False)() and os.environ.get("TERM") != "dumb"
    return "tty" if terminal else "lines"


def clock(seconds: float) -> str:
    """``seconds`` as ``m:ss`` (``h:mm:ss`` past an hour)."""
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def _duplicate_of(stream: IO[str]) -> IO[str]:
    """``stream`` as it is now, on a descriptor of its own (pytest capture leaves it be)."""
    try:
        return os.fdopen(os.dup(stream.fileno()), "w", buffering=1, encoding="utf-8")
    except (AttributeError, OSError, ValueError):  # no descriptor (an in-process capture)
        return stream


class Progress:
    """The pytest plugin object that shows a run's progress.

    Args:
        mode: ``tty`` or ``lines`` (``off`` shows nothing and leaves pytest's output alone).
        stream: where to write; by default a duplicate of standard error (``tty``) or of
            standard output (``lines``).
        tick_s: how often the ``tty`` line is redrawn while a check runs.
    """

    def __init__(self, mode: Mode, stream: IO[str] | None = None, tick_s: float = 1.0) -> None:
        self.mode = mode
        self.collector: Results | None = None
        default = sys.stdout if mode == "lines" else sys.stderr
        self.stream: IO[str] = default if stream is None else stream
        if stream is None and mode != "off":
            self.stream = _duplicate_of(default)
        self._own_stream = self.stream is not default and stream is None
        self.tick_s = tick_s
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None
        self._started = time.monotonic()
        self._items: dict[str, pytest.Item] = {}
        self._totals: dict[str, int] = {}
        self._done: dict[str, int] = {}
        self._current: str | None = None
        self._check_started = 0.0
        self._line_shown = False

    @property
    def done(self) -> int:
        """How many checks have finished."""
        return sum(self._done.values())

    @property
    def total(self) -> int:
        """How many checks the run has."""
        return sum(self._totals.values())

    @pytest.hookimpl(wrapper=True)
    def pytest_report_teststatus(
        self, report: pytest.TestReport, config: pytest.Config
    ) -> Generator[None, Any, Any]:
        """Keep pytest's counts but not its progress letters (this display replaces them)."""
        status = yield
        if self.mode == "off" or not status or config.get_verbosity() > 0:
            return status  # under -v pytest's own line per check stays whole
        return (status[0], "", "")

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        """Count the checks of each target; start the ``tty`` line."""
        for item in session.items:
            self._items[item.nodeid] = item
            target = issuer_of(item) or ""
            self._totals[target] = self._totals.get(target, 0) + 1
        self._started = time.monotonic()
        if self.mode == "lines" and self.total:
            targets = len(self._totals)
            self._write(f"cimd-conformance: {self.total} check(s) on {targets} target(s)\n")
        elif self.mode == "tty" and self.total:
            self._ticker = threading.Thread(target=self._tick, name="cimd-progress", daemon=True)
            self._ticker.start()

    def pytest_runtest_logstart(self, nodeid: str, location: tuple[str, int | None, str]) -> None:
        """A check starts: the ``tty`` line names it."""
        with self._lock:
            self._current, self._check_started = nodeid, time.monotonic()
        if self.mode == "tty":
            self._redraw()

    def pytest_runtest_logfinish(self, nodeid: str, location: tuple[str, int | None, str]) -> None:
        """A check ended (setup, call and teardown): count it; ``lines`` prints its verdict."""
        item = self._items.get(nodeid)
        target = (issuer_of(item) if item is not None else None) or ""
        with self._lock:
            self._done[target] = self._done.get(target, 0) + 1
            self._current = None
            seconds = time.monotonic() - self._check_started
        if self.mode == "lines" and item is not None:
            self._write(self.check_line(item, seconds) + "\n")
        elif self.mode == "tty":
            self._redraw()

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        """Stop the ``tty`` line and clear it before pytest's summary; say how long it took."""
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join(timeout=5)
        if self.mode == "off" or not self.total:
            return
        if self._line_shown:
            self._write(_CLEAR)
        elapsed = clock(time.monotonic() - self._started)
        self._write(f"cimd-conformance: {self.done} of {self.total} check(s) ran in {elapsed}\n")

    def pytest_unconfigure(self) -> None:
        """Close the duplicate stream written to."""
        self._stop.set()
        if self._own_stream:
            self._own_stream = False
            self.stream.close()

    def check_line(self, item: pytest.Item, seconds: float) -> str:
        """One finished check: position, check ID, requirement, verdict, seconds (target)."""
        result = self.collector.result_for(item.nodeid) if self.collector is not None else None
        verdict = result.verdict if result is not None else "-"
        line = (
            f"[{self.done}/{self.total}] {check_id(item)} {requirement_of(item) or '-'} "
            f"{verdict} {seconds:.2f}s"
        )
        target = issuer_of(item)
        return f"{line} {label_for(target)}" if target and len(self._totals) > 1 else line

    def status_line(self, now: float | None = None, width: int | None = None) -> str:
        """The ``tty`` line: done and left, elapsed, the running check, each target's count."""
        now = time.monotonic() if now is None else now
        with self._lock:
            done, total, current = self.done, self.total, self._current
            running = now - self._check_started
        elapsed = clock(now - self._started)
        parts = [f"cimd-conformance {done}/{total} done, {total - done} left, {elapsed}"]
        item = self._items.get(current) if current is not None else None
        if item is not None:
            target = issuer_of(item) or ""
            if len(self._totals) > 1:  # the running check's target, how far it is
                parts.append(
                    f"{label_for(target)} {self._done.get(target, 0)}/{self._totals[target]}"
                )
            parts.append(f"now {requirement_of(item) or '-'} {check_id(item)} ({clock(running)})")
        line = " | ".join(parts)
        width = width or shutil.get_terminal_size((100, 24)).columns - 1
        return line if len(line) <= width else line[: max(width - 3, 0)] + "..."

    def _redraw(self) -> None:
        self._write(_CLEAR + self.status_line())
        self._line_shown = True

    def _tick(self) -> None:
        while not self._stop.wait(self.tick_s):
            self._redraw()

    def _write(self, text: str) -> None:
        with self._lock:
            try:
                self.stream.write(text)
                self.stream.flush()
            except (OSError, ValueError):  # the terminal went away: progress is not a verdict
                pass


def for_run(mode: str, *, verbose: bool) -> Progress | None:
    """The progress display the command line's ``--progress`` asks for (``None``: off)."""
    resolved = resolve(mode, verbose=verbose)
    return None if resolved == "off" else Progress(resolved)


def pytest_options(mode: str, *, verbose: bool) -> Sequence[str]:
    """The options pytest needs under a progress display: no percentage column of its own."""
    if resolve(mode, verbose=verbose) == "off":
        return ()
    return ("-o", "console_output_style=classic")
