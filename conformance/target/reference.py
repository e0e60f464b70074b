"""Starting the built-in reference AS as a separate process, for ``demo`` and the self-test."""

from __future__ import annotations

import argparse
import json
import os
import selectors
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from conformance.catalog.verdicts import HarnessError

READY_TIMEOUT_S = 30.0


class ReferenceTarget:
    """The reference AS in a child process, stopped when the context ends.

    Args:
        faults: fault names to switch on at the root issuer.
        matrix: also serve one issuer per fault under ``/faults/<name>``.
        state_dir: the CA's state directory (shared with the suite).
        variants: variant names (real servers' shapes) switched on for every issuer.
    """

    def __init__(
        self,
        faults: tuple[str, ...] = (),
        *,
        matrix: bool = False,
        state_dir: Path | None = None,
        extra_args: tuple[str, ...] = (),
        variants: tuple[str, ...] = (),
    ) -> None:
        self._args = [sys.executable, "-m", "mock_servers.reference_as", "--port", "0"]
        for fault in faults:
            self._args += ["--fault", fault]
        for variant in variants:
            self._args += ["--variant", variant]
        if matrix:
            self._args.append("--matrix")
        if state_dir is not None:
            self._args += ["--state-dir", str(state_dir)]
        self._args += list(extra_args)
        self._process: subprocess.Popen[str] | None = None
        self._terminated = False  # SIGTERM sent
        self.ready: dict[str, Any] = {}

    @property
    def issuer(self) -> str:
        """The root issuer."""
        return str(self.ready["issuer"])

    @property
    def issuers(self) -> dict[str, str]:
        """Every issuer, by fault name ("" for the root)."""
        return dict(self.ready["issuers"])

    def spawn(self) -> ReferenceTarget:
        """Start the process, not waiting for it to be ready (:meth:`start` waits)."""
        if self._process is None:
            # stderr goes to a file: a pipe nobody reads would stall the server once it fills
            self._log = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 - lives with the process
            self._process = subprocess.Popen(
                self._args,
                stdout=subprocess.PIPE,
                stderr=self._log,
                text=True,
                env=os.environ.copy(),
            )
        return self

    def same_as(self, other: ReferenceTarget) -> bool:
        """Whether ``other`` would run the same command (the same issuers, faults, variants)."""
        return self._args == other._args

    def start(self) -> ReferenceTarget:
        """Start the process (unless :meth:`spawn` did) and wait for its ready line."""
        self.spawn()
        assert self._process is not None
        if self.ready:
            return self
        try:
            self.ready = read_json_line(self._process, READY_TIMEOUT_S, "the reference AS")
        except HarnessError as exc:
            self._log.seek(0)
            log = self._log.read()[-2000:]
            self.stop()
            raise HarnessError(f"{exc}: {log}" if log else str(exc)) from exc
        except BaseException:  # a signal while waiting: the child must not outlive the run
            self.stop()
            raise
        return self

    def terminate(self) -> None:
        """Ask the process to stop (SIGTERM) without waiting; :meth:`stop` waits for it."""
        if self._process is not None and not self._terminated and self._process.poll() is None:
            self._process.terminate()
            self._terminated = True

    def stop(self) -> None:
        """Stop the process (SIGTERM, then SIGKILL after 10 s)."""
        if self._process is None:
            return
        self.terminate()
        if self._process.poll() is None:
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(10)
        if self._process.stdout is not None:
            self._process.stdout.close()
        self._log.close()
        self._process, self._terminated = None, False

    def __enter__(self) -> ReferenceTarget:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def read_json_line(process: subprocess.Popen[str], timeout: float, what: str) -> dict[str, Any]:
    """The first line of ``process``'s stdout that is a JSON object (a server's ready line).

    Raises:
        HarnessError: the process exited, or printed no such line within ``timeout``.
    """
    assert process.stdout is not None
    selector = selectors.DefaultSelector()
    selector.register(process.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if selector.select(timeout=0.2):
            line = process.stdout.readline()
            if line.startswith("{"):
                try:
                    ready: dict[str, Any] = json.loads(line)
                    return ready
                except ValueError:
                    continue
        if process.poll() is not None:
            raise HarnessError(f"{what} exited ({process.returncode})")
    raise HarnessError(f"{what} did not report ready within {timeout:.0f} s")


def for_demo(args: argparse.Namespace, extra_args: tuple[str, ...] = ()) -> ReferenceTarget:
    """The reference AS ``demo`` with ``args`` runs (``extra_args`` for the server), not started."""
    return ReferenceTarget(
        tuple(args.fault),
        matrix=args.matrix,
        state_dir=args.state_dir,
        extra_args=extra_args,
        variants=tuple(args.variant),
    )


def spawn_for_demo(args: argparse.Namespace) -> ReferenceTarget | None:
    """The reference AS a plain ``demo`` (no lab, no MCP server, no listing) will run, spawned.

    Spawned before the rest of the suite is loaded, so that its start-up overlaps the
    suite's; ``demo`` uses it when it asks for the same command (:meth:`ReferenceTarget.same_as`)
    and stops it otherwise. The caller stops it in the end either way (a second stop is a no-op).
    """
    if args.command != "demo" or args.lab or args.mcp or args.list:
        return None
    return for_demo(args).spawn()
