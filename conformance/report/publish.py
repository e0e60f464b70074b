"""A report directory written whole: staged in a sibling directory, renamed into place.

Everything a run writes (report.json, junit.xml, report.html, screenshots, per-target
subdirectories and index.json) goes into a temporary sibling ``.<name>.partial-*``; when the
run ends, however it ends, the old directory is renamed aside, the new one renamed into its
place, and the old one removed. A report directory therefore never mixes two runs.

One run at a time per report directory: the run holds an exclusive ``flock`` on the sibling
``.<name>.lock`` for as long as it lives (the kernel drops it when the process dies), and a
second run is refused at once with :class:`ReportDirBusy`.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import tempfile
from pathlib import Path
from types import TracebackType

from conformance.report.paths import INDEX_FILE, SCREENSHOTS
from conformance.report.writers import report_files


class ReportDirError(Exception):
    """The report directory cannot be used; the message names the fix."""


class ReportDirBusy(ReportDirError):
    """Another run is writing the same report directory."""

    def __init__(self, directory: Path, holder: str) -> None:
        by = f" (process {holder})" if holder else ""
        super().__init__(
            f"another run{by} is writing the report directory {directory}: wait for it to "
            "finish, or give this run its own with --report-dir DIR"
        )
        self.directory = directory


class ReportDir:
    """The report directory ``final`` of one run, locked and staged.

    Use as a context manager: :attr:`staging` is where the run writes; leaving the context
    publishes it as ``final`` (when anything was written) and releases the lock.
    """

    def __init__(self, final: Path) -> None:
        self.final = Path(os.path.abspath(final))
        self._base = self.final.parent  # where the lock and the staging directory live
        self._lock_fd: int | None = None
        self.staging = self.final  # replaced by the temporary sibling on entry

    def __enter__(self) -> ReportDir:
        try:
            return self._enter()
        except OSError as exc:
            raise ReportDirError(
                f"cannot write the report directory {self.final} ({exc.strerror or exc}): "
                "choose another with --report-dir DIR"
            ) from None

    def _enter(self) -> ReportDir:
        if self.final.exists() and not self.final.is_dir():
            raise ReportDirError(
                f"the report directory {self.final} is a file: choose a directory with "
                "--report-dir DIR"
            )
        self.final.parent.mkdir(parents=True, exist_ok=True)
        if not os.access(self.final.parent, os.W_OK):
            # a directory whose parent is read-only (a mount point, say): stage inside it
            self.final.mkdir(exist_ok=True)
            self._base = self.final
        lock_path = self._base / f".{self.final.name}.lock"
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode("ascii", "replace").strip()
            os.close(fd)
            raise ReportDirBusy(self.final, holder) from None
        self._lock_fd = fd
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        self._sweep()
        self.staging = Path(tempfile.mkdtemp(prefix=f".{self.final.name}.partial-", dir=self._base))
        umask = os.umask(0)
        os.umask(umask)
        self.staging.chmod(0o777 & ~umask)
        return self

    def _sweep(self) -> None:
        """Remove what a run killed outright (SIGKILL) left behind; the lock makes it safe."""
        for prefix in (f".{self.final.name}.partial-", f".{self.final.name}.old-"):
            for left in self._base.glob(f"{glob_escape(prefix)}*"):
                shutil.rmtree(left, ignore_errors=True)

    def publish(self) -> None:
        """Put the staged directory in place of ``final`` (nothing written: leave ``final``).

        A ``final`` that holds nothing but an earlier report is swapped whole. One that holds
        other files too (``--report-dir .``, say) is never removed: the earlier report's files
        are taken out of it and the new ones moved in, and the other files stay.
        """
        if self.staging == self.final or not self.staging.is_dir():
            return
        if not any(self.staging.iterdir()):
            self.staging.rmdir()
            return
        inside = self._base == self.final
        if inside or (
            self.final.is_dir() and not self.final.is_symlink() and not self._only_a_report()
        ):
            self._publish_among_other_files()
            return
        old = None
        if self.final.exists() or self.final.is_symlink():
            old = self._base / f".{self.final.name}.old-{os.getpid()}"
            os.rename(self.final, old)
        os.rename(self.staging, self.final)
        self.staging = self.final
        if old is not None:
            _remove(old)

    def _only_a_report(self) -> bool:
        """Whether ``final`` holds an earlier report and nothing else (and is not our cwd)."""
        if Path.cwd().is_relative_to(self.final):
            return False
        return all(entry in report_entries(self.final) for entry in self.final.iterdir())

    def _publish_among_other_files(self) -> None:
        for entry in report_entries(self.final):
            _remove(entry)
        for entry in self.staging.iterdir():
            os.rename(entry, self.final / entry.name)
        self.staging.rmdir()
        self.staging = self.final

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            self.publish()
        finally:
            if self._lock_fd is not None:
                with contextlib.suppress(OSError):
                    os.close(self._lock_fd)  # closing the last descriptor drops the flock
                self._lock_fd = None


REPORT_FILES = (*report_files(), INDEX_FILE, SCREENSHOTS)


def report_entries(directory: Path) -> set[Path]:
    """The files and directories a run writes that exist in ``directory``.

    Per-target subdirectories count only when the directory's ``index.json`` names them.
    """
    names = set(REPORT_FILES)
    with contextlib.suppress(OSError, ValueError):
        index = json.loads((directory / "index.json").read_text("utf-8"))
        if isinstance(index, dict):
            names |= {label for label in index if "/" not in label and label not in ("", ".", "..")}
    return {directory / name for name in names if (directory / name).exists()}


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def glob_escape(text: str) -> str:
    """``text`` with glob metacharacters taken literally."""
    return "".join(f"[{c}]" if c in "*?[" else c for c in text)
