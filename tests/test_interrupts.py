"""Interrupted runs are never a verdict; report directories are written whole, one run at a time.

Real processes throughout: the command line in a child process, real signals, the real
reference AS, Chromium and ``--target-command``. Every wait is bounded.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from conformance.network import lab
from conformance.report import console, html, junit
from conformance.report.model import CheckResult, Report
from conformance.report.publish import ReportDir, ReportDirError
from conformance.run import interrupts
from mock_servers.pki import TestCA

UNREACHABLE = "https://127.0.0.1:9/"  # the discard port: nothing listens there


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "conformance.cli", *args]


def _start(command: list[str], out: Path) -> subprocess.Popen[bytes]:
    """Start ``command`` with its output (unbuffered) in ``out``."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with out.open("wb") as sink:
        return subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT, env=env)


def _wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.2)


def _checks_done(out: Path) -> int:
    text = out.read_text("utf-8", "replace")
    return sum(text.count(word) for word in (" PASSED", " FAILED", " SKIPPED", " ERROR"))


def _stat(pid: int) -> list[str]:
    """The fields of /proc/<pid>/stat after the command name ([] when gone)."""
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rpartition(")")[2].split()
    except OSError:
        return []


def _descendants(pid: int) -> set[int]:
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        parents, frontier = frontier, set()
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                fields = _stat(int(entry.name))
                if len(fields) > 1 and int(fields[1]) in parents and int(entry.name) not in found:
                    found.add(int(entry.name))
                    frontier.add(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    fields = _stat(pid)
    return bool(fields) and fields[0] != "Z"


def _listening(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "", parts.port or 443), timeout=2):
            return True
    except OSError:
        return False


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _stop(process: subprocess.Popen[bytes], signum: int, timeout: float) -> int:
    process.send_signal(signum)
    try:
        return process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)
        raise AssertionError(f"the run did not stop within {timeout:.0f} s of {signum}") from None


def _left_over(report_dir: Path) -> list[Path]:
    """Staging or swapped-out directories left beside ``report_dir``."""
    return [
        p for p in report_dir.parent.glob(f".{report_dir.name}.*") if not p.name.endswith(".lock")
    ]


def _interrupted_report(results: int = 2, signal_name: str = "SIGINT", code: int = 130) -> Report:
    report = Report("https://as.example", "latest", False, "0", started="")
    report.results = [
        CheckResult(f"CIMD-DOC-0{i}", f"test_{i}", "title", "R", "pass") for i in range(results)
    ]
    report.interrupted = {"signal": signal_name, "checks_judged": results, "exit_code": code}
    return report


def _second_run(report_dir: Path, state_dir: Path) -> subprocess.CompletedProcess[str]:
    """A run on ``report_dir`` while another holds it (it must be refused at once)."""
    args = ["run", "--issuer", UNREACHABLE, "--report-dir", str(report_dir)]
    return subprocess.run(
        _cli(*args, "--state-dir", str(state_dir)), capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize(("name", "code"), [("SIGINT", 130), ("SIGTERM", 2)])
def test_interrupted_report_is_never_a_verdict(name: str, code: int) -> None:
    """Every check judged passed, but the run was stopped: exit code and every format say so."""
    report = _interrupted_report(signal_name=name, code=code)
    assert report.exit_code() == code
    again = Report.from_json(json.loads(json.dumps(report.to_json())))
    assert again.interrupted["signal"] == name and again.exit_code() == code
    text = console.render(report)
    assert f"INTERRUPTED by {name}" in text and "CONFORMANT" not in text
    assert f"Interrupted by {name}" in html.render(report)
    xml = junit.render([report]).decode()
    assert 'name="interrupted"' in xml and "<error" in xml


def test_interrupted_report_without_exit_code_is_still_not_zero() -> None:
    """A hand-edited or foreign ``interrupted`` field never turns into exit code 0."""
    report = _interrupted_report()
    report.interrupted = {"signal": "SIGINT", "exit_code": 0}
    assert report.exit_code() == 2


def test_a_signal_while_finishing_is_recorded_and_ignored() -> None:
    """Once the run has ended, the command stops what it started: a signal then neither
    raises nor ends the process, and the handlers before are back afterwards."""
    interrupts.install()  # a run's start: nothing received yet
    interrupts.uninstall()
    before = signal.getsignal(signal.SIGINT)
    with interrupts.finishing():
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.05)  # the handler has run by now, in this thread
    assert signal.getsignal(signal.SIGINT) is before
    assert interrupts.received() == "SIGINT"


def test_interrupt_record_counts_the_judged_checks() -> None:
    """Without an installed handler a KeyboardInterrupt counts as SIGINT (plain pytest)."""
    record = interrupts.record(4)
    assert record["signal"] == "SIGINT" and record["exit_code"] == 130
    assert record["checks_judged"] == 4


def test_sigint_mid_demo_is_reported_interrupted_and_leaves_nothing_running(
    tmp_path: Path, state_dir: Path
) -> None:
    """SIGINT after a few checks: exit 130, reports marked, children gone, ports closed.

    A second run on the same report directory meanwhile is refused at once, and the
    previous run's files are gone from the directory afterwards.
    """
    report_dir = tmp_path / "reports"
    (report_dir / "screenshots").mkdir(parents=True)
    (report_dir / "screenshots" / "from-an-earlier-run.png").write_bytes(b"old")
    out = tmp_path / "demo.out"
    demo = _start(
        _cli("demo", "-v", "--report-dir", str(report_dir), "--state-dir", str(state_dir)), out
    )
    try:
        _wait_for(lambda: _checks_done(out) >= 3, 240, "three checks to finish")
        collected = int(out.read_text().split("collected ")[1].split()[0])

        second = _second_run(report_dir, state_dir)
        assert second.returncode == 2
        assert str(report_dir) in second.stderr and "--report-dir" in second.stderr

        children = _descendants(demo.pid)
        assert children, "the demo should have started the reference AS and the browser"
        code = _stop(demo, signal.SIGINT, 120)
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait(10)

    assert code == 130, out.read_text()
    data = json.loads((report_dir / "report.json").read_text())
    assert data["interrupted"]["signal"] == "SIGINT"
    assert data["exit_code"] != 0
    assert 3 <= len(data["results"]) < collected
    assert "Interrupted by SIGINT" in (report_dir / "report.html").read_text()
    assert 'name="interrupted"' in (report_dir / "junit.xml").read_text()
    assert "INTERRUPTED by SIGINT" in out.read_text()
    assert not (report_dir / "screenshots" / "from-an-earlier-run.png").exists()
    assert _left_over(report_dir) == []

    _wait_for(lambda: not any(_alive(pid) for pid in children), 20, "the children to end")
    assert not _listening(data["issuer"]), "the reference AS still listens"
    assert not _listening(data["environment"]["metadata_host"]), "the metadata host still listens"


def _command_names(pids: set[int]) -> str:
    names = []
    for pid in pids:
        with contextlib.suppress(OSError):
            names.append(Path(f"/proc/{pid}/comm").read_text())
    return " ".join(names)


@pytest.mark.parametrize("after", ["the reference AS", "the browser"])
def test_sigint_before_any_check_still_writes_an_interrupted_report(
    tmp_path: Path, state_dir: Path, after: str
) -> None:
    """SIGINT while the reference AS or the browser starts (demo starts its browser while
    the suite loads): exit 130, a report saying so, no child left."""
    report_dir = tmp_path / "reports"
    out = tmp_path / "demo.out"
    demo = _start(_cli("demo", "--report-dir", str(report_dir), "--state-dir", str(state_dir)), out)

    def started() -> bool:
        children = _descendants(demo.pid)
        return bool(children) and (after != "the browser" or "chrom" in _command_names(children))

    try:
        _wait_for(started, 60, f"{after} to be started")
        children = _descendants(demo.pid)
        code = _stop(demo, signal.SIGINT, 120)
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait(10)
    assert code == 130, out.read_text()
    data = json.loads((report_dir / "report.json").read_text())
    assert data["interrupted"]["signal"] == "SIGINT" and data["exit_code"] == 130
    assert all(
        r["verdict"] != "pass" for r in data["results"][data["interrupted"]["checks_judged"] :]
    )
    assert "Traceback" not in out.read_text()
    _wait_for(lambda: not any(_alive(pid) for pid in children), 20, "the children to end")


def test_sigterm_to_run_stops_the_target_command(tmp_path: Path, state_dir: Path) -> None:
    """SIGTERM during ``run --target-command``: exit 2, report interrupted, no listener left."""
    port = _free_port()
    issuer = f"https://127.0.0.1:{port}"
    command = f"{sys.executable} -m mock_servers.reference_as --port {port} --state-dir {state_dir}"
    report_dir = tmp_path / "reports"
    out = tmp_path / "run.out"
    run = _start(
        _cli(
            "run",
            "-v",
            "--issuer",
            issuer,
            "--target-command",
            command,
            "--report-dir",
            str(report_dir),
            "--state-dir",
            str(state_dir),
        ),
        out,
    )
    try:
        _wait_for(lambda: _checks_done(out) >= 2, 240, "two checks to finish")
        children = _descendants(run.pid)
        code = _stop(run, signal.SIGTERM, 120)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait(10)

    assert code == 2, out.read_text()
    data = json.loads((report_dir / "report.json").read_text())
    assert data["interrupted"]["signal"] == "SIGTERM" and data["exit_code"] == 2
    assert not _listening(issuer), "the --target-command server still listens"
    _wait_for(lambda: not any(_alive(pid) for pid in children), 20, "the children to end")


def test_a_new_run_replaces_the_whole_report_directory(tmp_path: Path, state_dir: Path) -> None:
    """Files of an earlier run (one or many targets) never mix with the new run's."""
    report_dir = tmp_path / "reports"
    (report_dir / "old-target" / "screenshots").mkdir(parents=True)
    (report_dir / "old-target" / "screenshots" / "login-consent.png").write_bytes(b"old")
    (report_dir / "index.json").write_text('{"old-target": {"exit_code": 0}}')
    done = subprocess.run(
        _cli(
            "run",
            "--issuer",
            UNREACHABLE,
            "--issuer",
            "https://127.0.0.1:7/",
            "--report-dir",
            str(report_dir),
            "--state-dir",
            str(state_dir),
        ),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    assert sorted(p.name for p in report_dir.iterdir()) == [
        "127.0.0.1-7",
        "127.0.0.1-9",
        "index.json",
    ]
    assert set(json.loads((report_dir / "index.json").read_text())) == {
        "127.0.0.1-7",
        "127.0.0.1-9",
    }
    assert _left_over(report_dir) == []


def test_a_report_directory_holding_other_files_keeps_them(tmp_path: Path, state_dir: Path) -> None:
    """``--report-dir`` on a directory with the user's own files: only the report is replaced."""
    report_dir = tmp_path / "mine"
    (report_dir / "screenshots").mkdir(parents=True)
    (report_dir / "screenshots" / "login-consent.png").write_bytes(b"old")
    (report_dir / "report.json").write_text("{}")
    (report_dir / "notes.txt").write_text("keep me")
    done = subprocess.run(
        _cli(
            "run",
            "--issuer",
            UNREACHABLE,
            "--report-dir",
            str(report_dir),
            "--state-dir",
            str(state_dir),
        ),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    assert (report_dir / "notes.txt").read_text() == "keep me"
    assert not (report_dir / "screenshots").exists()
    assert json.loads((report_dir / "report.json").read_text())["issuer"] == UNREACHABLE
    assert _left_over(report_dir) == []


def test_second_run_on_a_busy_report_directory_is_refused(tmp_path: Path, state_dir: Path) -> None:
    """While another process holds the report directory, a run exits 2 at once naming it;
    the lock dies with its holder, and the next run goes ahead."""
    report_dir = tmp_path / "reports"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path; "
            "from conformance.report.publish import ReportDir\n"
            "with ReportDir(Path(sys.argv[1])):\n"
            "    print('held', flush=True); time.sleep(120)",
            str(report_dir),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        refused = _second_run(report_dir, state_dir)
        assert refused.returncode == 2
        assert (
            f"another run (process {holder.pid}) is writing the report directory" in refused.stderr
        )
        assert str(report_dir) in refused.stderr and "--report-dir" in refused.stderr
        assert "Traceback" not in refused.stderr
    finally:
        holder.kill()
        holder.wait(10)
        if holder.stdout is not None:
            holder.stdout.close()
    after = subprocess.run(
        _cli(
            "run",
            "--issuer",
            UNREACHABLE,
            "--report-dir",
            str(report_dir),
            "--state-dir",
            str(state_dir),
        ),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert after.returncode == 2 and (report_dir / "report.json").exists(), after.stderr
    assert "another run" not in after.stderr


def test_two_runs_at_once_share_a_fresh_state_directory(tmp_path: Path) -> None:
    """Separate report directories, one new state directory: both runs write their reports."""
    state = tmp_path / "state"
    runs = [
        subprocess.Popen(
            _cli(
                "run",
                "--issuer",
                UNREACHABLE,
                "--report-dir",
                str(tmp_path / f"r{i}"),
                "--state-dir",
                str(state),
            ),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    errors = [run.communicate(timeout=120)[1] for run in runs]
    for i, run in enumerate(runs):
        assert run.returncode == 2, errors[i]
        data = json.loads((tmp_path / f"r{i}" / "report.json").read_text())
        assert "unreachable" in data["preflight"]["error"] and not data["interrupted"]
    assert (state / "ca.pem").exists()


def test_concurrent_first_use_of_a_state_directory_hands_out_the_saved_ca(tmp_path: Path) -> None:
    """Several processes create the CA at once on a fresh state directory: one CA, saved."""
    state = tmp_path / "state"
    go = tmp_path / "go"
    script = (
        "import sys, time; from pathlib import Path; from mock_servers.pki import TestCA\n"
        "while not Path(sys.argv[2]).exists(): time.sleep(0.005)\n"
        "sys.stdout.write(TestCA.load_or_create(Path(sys.argv[1])).cert_pem().decode())"
    )
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(state), str(go)], stdout=subprocess.PIPE, text=True
        )
        for _ in range(6)
    ]
    time.sleep(1.0)  # let them all start and wait at the gate
    go.touch()
    pems = {worker.communicate(timeout=60)[0] for worker in workers}
    assert all(worker.returncode == 0 for worker in workers)
    saved = TestCA.load_or_create(state)
    assert pems == {saved.cert_pem().decode()}
    assert sorted(p.name for p in state.iterdir() if not p.name.startswith(".")) == [
        "ca-key.pem",
        "ca.pem",
    ]


needs_root = pytest.mark.skipif(
    os.geteuid() != 0, reason="lab mode needs root (a network namespace); CI runs as root"
)

INSIDE = r"""
import sys, time
from conformance.run import interrupts
interrupts.install()
try:
    print("ready", flush=True)  # inside the try: the signal may come before the next line
    time.sleep(60)
except KeyboardInterrupt:
    sys.exit(interrupts.exit_code(interrupts.received()))
sys.exit(0)
"""


@needs_root
@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 2)])
def test_lab_passes_the_signal_to_the_run_inside(signum: int, code: int) -> None:
    """A signal to the command outside the lab reaches the run inside; its exit code returns."""
    outer = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from conformance.network import lab; "
            f"sys.exit(lab.run_inside([sys.executable, '-c', {INSIDE!r}]))",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert outer.stdout is not None and outer.stdout.readline().strip() == "ready"
        outer.send_signal(signum)
        assert outer.wait(30) == code
    finally:
        if outer.poll() is None:
            outer.kill()
            outer.wait(10)
        assert outer.stdout is not None
        outer.stdout.close()
    assert lab.INSIDE_ENV  # the lab module is the one the command above used


def test_report_directory_under_a_read_only_parent_is_staged_inside_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where the parent cannot be written (a mount point), the staging goes inside the
    directory and only the report's entries are replaced."""
    final = tmp_path / "out"
    final.mkdir()
    (final / "notes.txt").write_text("keep me")
    (final / "report.json").write_text("{}")
    real_access = os.access
    monkeypatch.setattr(
        os, "access", lambda path, mode: Path(path) != tmp_path and real_access(path, mode)
    )
    with ReportDir(final) as out:
        assert out.staging.parent == final
        (out.staging / "report.json").write_text('{"new": 1}')
    assert json.loads((final / "report.json").read_text()) == {"new": 1}
    assert (final / "notes.txt").read_text() == "keep me"
    assert not [p for p in final.iterdir() if ".partial-" in p.name]
    assert not [p for p in tmp_path.iterdir() if p.name != "out"]


def test_a_file_is_not_a_report_directory(tmp_path: Path) -> None:
    """``--report-dir`` naming a file: a clear error, and the file is left alone."""
    path = tmp_path / "afile"
    path.write_text("mine")
    with pytest.raises(ReportDirError, match="is a file"), ReportDir(path):
        pass
    assert path.read_text() == "mine"
