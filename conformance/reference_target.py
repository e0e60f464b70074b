"""Starting the built-in reference AS as a separate process, for ``demo`` and the self-test."""

from __future__ import annotations

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

from conformance.verdicts import HarnessError

READY_TIMEOUT_S = 30.0


class ReferenceTarget:
    """The reference AS in a child process, stopped when the context ends.

    Args:
        faults: fault names to switch on at the root issuer.
        matrix: also serve one issuer per fault under ``/faults/<name>``.
        state_dir: the CA's state directory (shared with the suite).
    """

    def __init__(
        self,
        faults: tuple[str, ...] = (),
        *,
        matrix: bool = False,
        state_dir: Path | None = None,
        extra_args: tuple[str, ...] = (),
    ) -> None:
        self._args = [sys.executable, "-m", "mock_servers.reference_as", "--port", "0"]
        for fault in faults:
            self._args += ["--fault", fault]
        if matrix:
            self._args.append("--matrix")
        if state_dir is not None:
            self._args += ["--state-dir", str(state_dir)]
        self._args += list(extra_args)
        self._process: subprocess.Popen[str] | None = None
        self.ready: dict[str, Any] = {}

    @property
    def issuer(self) -> str:
        """The root issuer."""
        return str(self.ready["issuer"])

    @property
    def issuers(self) -> dict[str, str]:
        """Every issuer, by fault name ("" for the root)."""
        return dict(self.ready["issuers"])

    def start(self) -> ReferenceTarget:
        """Start the process and wait for its ready line."""
        # stderr goes to a file: a pipe nobody reads would stall the server once it fills
        self._log = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 - lives as long as the process
        self._process = subprocess.Popen(
            self._args, stdout=subprocess.PIPE, stderr=self._log, text=True, env=os.environ.copy()
        )
        line = self._read_line(READY_TIMEOUT_S)
        try:
            self.ready = json.loads(line)
        except ValueError as exc:
            self.stop()
            raise HarnessError(f"the reference AS did not start: {line!r}") from exc
        return self

    def _read_line(self, timeout: float) -> str:
        assert self._process is not None and self._process.stdout is not None
        selector = selectors.DefaultSelector()
        selector.register(self._process.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if selector.select(timeout=0.2):
                line = self._process.stdout.readline()
                if line:
                    return line
            if self._process.poll() is not None:
                self._log.seek(0)
                err = self._log.read()
                raise HarnessError(
                    f"the reference AS exited ({self._process.returncode}): {err[-2000:]}"
                )
        self.stop()
        raise HarnessError(f"the reference AS did not report ready within {timeout:.0f} s")

    def stop(self) -> None:
        """Stop the process (SIGTERM, then SIGKILL after 10 s)."""
        if self._process is None:
            return
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(10)
        if self._process.stdout is not None:
            self._process.stdout.close()
        self._log.close()
        self._process = None

    def __enter__(self) -> ReferenceTarget:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
