"""``--target-command``: start the target for the run (inside the lab, so it uses the lab DNS).

The command runs through the shell in its own process group, with ``CIMD_CA_FILE`` naming
the test CA it must trust. The run waits until the issuer answers, and stops the whole
process group at the end.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

from conformance.catalog.verdicts import HarnessError
from conformance.harness.session import ssl_context
from conformance.target import deadline

READY_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 10.0


class TargetCommand:
    """A target started by a shell command, stopped with its process group.

    Args:
        command: the shell command.
        issuer: the issuer URL the target will serve (polled until it answers).
        ca_file: the test CA, exported as ``CIMD_CA_FILE`` and trusted while polling.
        target_ca: the CA of the target's own TLS certificate (``--target-ca``), also
            trusted while polling.
    """

    def __init__(
        self, command: str, issuer: str, ca_file: Path, target_ca: Path | None = None
    ) -> None:
        self._command = command
        self._issuer = issuer
        self._ca_file = ca_file
        self._target_ca = target_ca
        self._process: subprocess.Popen[bytes] | None = None
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the process

    def start(self) -> TargetCommand:
        """Start the command and wait until the issuer answers over HTTPS.

        Raises:
            HarnessError: the command exited, or the issuer did not answer in time; the
                message carries the end of the command's output.
        """
        env = {**os.environ, "CIMD_CA_FILE": str(self._ca_file)}
        # the user's own command line, run as they wrote it
        self._process = subprocess.Popen(  # noqa: S602
            self._command,
            shell=True,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
        try:
            return self._wait_until_ready()
        except BaseException:  # a signal while waiting too: nothing started is left behind
            self.stop()
            raise

    def _wait_until_ready(self) -> TargetCommand:
        assert self._process is not None
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise HarnessError(
                    f"--target-command exited ({self._process.returncode}) before the issuer "
                    f"{self._issuer} answered: {self.output()!r}"
                )
            if self._answers(deadline):
                return self
            time.sleep(0.25)
        raise HarnessError(
            f"--target-command started, but {self._issuer} did not answer within "
            f"{READY_TIMEOUT_S:.0f} s: {self.output()!r}. Check the issuer URL and that the "
            "target trusts CIMD_CA_FILE for its own TLS certificate or uses the test CA's"
        )

    def _answers(self, ready_by: float) -> bool:
        # a whole answer within the poll's deadline: a target that drips never looks ready
        poll = deadline.Deadline.start("readiness poll", min(2.0, ready_by - time.monotonic()))
        tls = ssl_context(str(self._ca_file))
        if self._target_ca is not None:
            tls.load_verify_locations(cafile=str(self._target_ca))
        with deadline.client(tls) as http:
            try:
                deadline.send(http, "GET", self._issuer, [poll])
            except HarnessError:
                return False
        return True

    def output(self) -> str:
        """The last 2000 characters the command printed."""
        self._log.seek(0)
        return self._log.read().decode("utf-8", "replace")[-2000:]

    def stop(self) -> None:
        """Stop the command's whole process group (SIGTERM, then SIGKILL).

        The wait is for every process of the group, not only the shell: a server the shell
        started must not be left listening.
        """
        process, self._process = self._process, None
        if process is None:
            return
        for signum in (signal.SIGTERM, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signum)
            if _group_gone(process, STOP_TIMEOUT_S):
                break
        self._log.close()

    def __enter__(self) -> TargetCommand:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def _group_gone(process: subprocess.Popen[bytes], timeout: float) -> bool:
    """Wait until no process of ``process``'s group is left (the shell reaped too)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        process.poll()
        if not _group_alive(process.pid):
            return True
        time.sleep(0.05)
    return False


def _group_alive(pgid: int) -> bool:
    """Whether a live (not zombie) process is in process group ``pgid``."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    proc = Path("/proc")
    if not proc.is_dir():
        return True
    for entry in proc.iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text("ascii", "replace")
            except OSError:
                continue
            # pid (comm) state ppid pgrp ...: comm may hold spaces, so split after it
            fields = stat.rpartition(")")[2].split()
            if len(fields) > 2 and int(fields[2]) == pgid and fields[0] != "Z":
                return True
    return False
