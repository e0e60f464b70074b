"""A run that cannot be fooled, hung or leaked: one whole run per hostile target or user mistake.

Each case sets up a hostile target on loopback (or a mistake in the command line) and runs
``cimd-conformance run`` as a user would, in its own session, with short deadlines. Every
case then asserts the same things:

- the exit code (2 whenever the harness could not test; never a verdict it did not reach);
- the run ended within a generous bound (it does not hang);
- a report.json was written wherever the report directory is writable, its preflight or
  harness error naming the cause;
- one clear message names the cause, and no output holds a traceback;
- nothing is left over: no process of the run's session, none that names the case's
  directory (the browser, whose profile and HOME are in the run's TMPDIR there, though it
  starts its own session), no temporary file, and the ports the run listened on are closed;
- no secret (the test user's password, or any value the target echoed) in any output.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hostile import (
    Handler,
    InjectIntoAuthorizationPage,
    RawServer,
    answer,
    answer_at_once,
    authorization_server,
    drip_body,
    endless_body,
    garbage,
    hang,
    invalid_json,
    redirect_loop,
)
from test_redaction_reports import _echoed, _leaks

from conformance.report.publish import ReportDir
from conformance.target.reference import ReferenceTarget
from mock_servers.pki import TestCA
from mock_servers.reference_as.app import create_app
from mock_servers.reference_as.config import IssuerConfig
from mock_servers.runner import Server

pytestmark = pytest.mark.slow
CLI = [sys.executable, "-m", "conformance.cli"]
DEADLINES = ["--exchange-timeout", "2", "--check-timeout", "20", "--run-timeout", "90"]
# the runs that must end conformant judge a fetch's time limits, which needs 7 s or more
JUDGE_FETCHES = ("--exchange-timeout", "8")
BOUND_S = 150.0  # generous: proves "does not hang", measures nothing
HERE = Path(__file__).resolve().parent


@dataclass
class Setup:
    """What a case prepared: the command line and what the run must show."""

    argv: list[str]
    report_dir: Path
    code: int
    cause: str  # in the report's error and in the run's message
    report: bool = True  # whether a report.json is written (the directory is writable)
    echo_log: Path | None = None  # the echoing target's log of every value it echoed
    ports: list[int] = field(default_factory=list)  # ports the run's processes listened on


Case = Callable[[Path, Path], contextlib.AbstractContextManager[Setup]]
PASSWORD = "hostile-" + secrets.token_hex(8)


def _run_args(out: Path, state: Path, *args: str) -> list[str]:
    return [*CLI, "run", *args, "--report-dir", str(out), "--state-dir", str(state)]


def _target_args(out: Path, state: Path, *args: str) -> list[str]:
    return _run_args(out, state, "--password", PASSWORD, *DEADLINES, *args)  # args win


def _raw(handler: Handler, tls: bool = True) -> Case:
    """A case: ``handler`` served as the issuer, over TLS from the test CA or, with ``tls``
    false, over plain TCP at an https issuer (the suite's TLS handshake meets no TLS)."""

    @contextlib.contextmanager
    def case(tmp: Path, state: Path) -> Iterator[Setup]:
        leaf = TestCA.load_or_create(state).issue_server_pem(tmp / "leaf") if tls else None
        with RawServer(handler, certfile=leaf, lifetime_s=BOUND_S) as server:
            out = tmp / "out"
            issuer = server.base_url.replace("http://", "https://")
            yield Setup(_target_args(out, state, "--issuer", issuer), out, 2, "")

    return case


def _expect(make: Case, cause: str, code: int = 2) -> Case:
    @contextlib.contextmanager
    def case(tmp: Path, state: Path) -> Iterator[Setup]:
        with make(tmp, state) as setup:
            setup.cause, setup.code = cause, code
            yield setup

    return case


@contextlib.contextmanager
def untrusted_tls(tmp: Path, state: Path) -> Iterator[Setup]:
    """The target's certificate comes from a CA nobody told the suite about."""
    other = TestCA.load_or_create(tmp / "other-ca").issue_server_pem(tmp / "leaf")
    with RawServer(answer, certfile=other, lifetime_s=BOUND_S) as server:
        out = tmp / "out"
        args = _target_args(out, state, "--issuer", server.base_url)
        yield Setup(args, out, 2, "Give the target's CA with --target-ca")


@contextlib.contextmanager
def reference_with_page(tmp: Path, state: Path, html: bytes) -> Iterator[str]:
    """The reference AS in this process, ``html`` put into every authorization page."""
    ca = TestCA.load_or_create(state)
    wrapper = InjectIntoAuthorizationPage(None, html)
    with Server(wrapper, certfile=ca.issue_server_pem(tmp / "leaf")) as server:
        config = IssuerConfig(server.base_url, trust_ca=ca.cert_path, password=PASSWORD)
        wrapper.app = create_app([config])
        yield server.base_url


@contextlib.contextmanager
def endless_script(tmp: Path, state: Path) -> Iterator[Setup]:
    """The login page runs a script that never ends before the form is even parsed."""
    with reference_with_page(tmp, state, b"<script>for (;;) {}</script>") as issuer:
        out = tmp / "out"
        yield Setup(_target_args(out, state, "--issuer", issuer), out, 2, "did not finish loading")


@contextlib.contextmanager
def huge_page(tmp: Path, state: Path) -> Iterator[Setup]:
    """A 3 MB login page (hidden padding): large, but a page like any other."""
    padding = b"<div hidden>" + b"x" * 3_000_000 + b"</div>"
    with reference_with_page(tmp, state, padding) as issuer:
        out = tmp / "out"
        yield Setup(_target_args(out, state, "--issuer", issuer, *JUDGE_FETCHES), out, 0, "")


@contextlib.contextmanager
def echoing(tmp: Path, state: Path) -> Iterator[Setup]:
    """The reference AS repeats every secret it is sent or issues (--echo-secrets)."""
    log = tmp / "echoed.jsonl"
    extra = ("--echo-secrets", str(log), "--password", PASSWORD)
    with ReferenceTarget(state_dir=state, extra_args=extra) as target:
        out = tmp / "out"
        args = _target_args(out, state, "--issuer", target.issuer, *JUDGE_FETCHES)
        yield Setup(args, out, 0, "", echo_log=log)


@contextlib.contextmanager
def dying(tmp: Path, state: Path) -> Iterator[Setup]:
    """The target (started by --target-command) is killed by the first check's request."""
    port = _free_port()
    command = f"{sys.executable} {HERE / 'dying_target.py'} {port} {state} {PASSWORD}"
    out = tmp / "out"
    args = _target_args(
        out, state, "--issuer", f"https://127.0.0.1:{port}", "--target-command", command
    )
    yield Setup(args, out, 2, "the target stopped answering", ports=[port])


@contextlib.contextmanager
def unwritable_report_dir(tmp: Path, state: Path) -> Iterator[Setup]:
    (tmp / "file").write_text("")
    out = tmp / "file" / "reports"
    args = _run_args(out, state, "--issuer", "https://127.0.0.1:9", "--password", PASSWORD)
    yield Setup(args, out, 2, "is not a directory", report=False)


@contextlib.contextmanager
def not_utf8_target_file(tmp: Path, state: Path) -> Iterator[Setup]:
    spec = tmp / "target.toml"
    spec.write_bytes(b'issuer = "https://127.0.0.1:9"\n# caf\xe9\n')
    out = tmp / "out"
    yield Setup(_target_args(out, state, "--target", str(spec)), out, 2, "is not UTF-8 text")


@contextlib.contextmanager
def malformed_issuer(tmp: Path, state: Path) -> Iterator[Setup]:
    out = tmp / "out"
    args = _target_args(out, state, "--issuer", "https://[::1")
    yield Setup(args, out, 2, "--issuer 'https://[::1' is not a valid URL")


@contextlib.contextmanager
def busy_port(tmp: Path, state: Path) -> Iterator[Setup]:
    with socket.create_server(("127.0.0.1", 0)) as sock:
        port = sock.getsockname()[1]
        spec = tmp / "target.toml"
        spec.write_text(f'issuer = "https://127.0.0.1:9"\n[metadata_host]\nport = {port}\n')
        out = tmp / "out"
        yield Setup(_target_args(out, state, "--target", str(spec)), out, 2, "already in use")


@contextlib.contextmanager
def port_taken_after_the_check(tmp: Path, state: Path) -> Iterator[Setup]:
    """The metadata host's port is taken between the up-front check and the listener's bind."""
    with socket.create_server(("127.0.0.1", 0)) as sock:
        port = sock.getsockname()[1]
        spec = tmp / "target.toml"
        spec.write_text(f'issuer = "https://127.0.0.1:9"\n[metadata_host]\nport = {port}\n')
        out = tmp / "out"
        argv = _target_args(out, state, "--target", str(spec))
        race = (
            "import sys; from conformance import cli; from conformance.run import input_checks\n"
            "input_checks.port_problem = lambda *a: None  # the port was free when checked\n"
            "raise SystemExit(cli.main(sys.argv[1:]))"
        )
        yield Setup([sys.executable, "-c", race, *argv[3:]], out, 2, "already in use")


@contextlib.contextmanager
def second_run_same_report_dir(tmp: Path, state: Path) -> Iterator[Setup]:
    out = tmp / "out"
    with ReportDir(out):  # a run in progress holds it
        args = _target_args(out, state, "--issuer", "https://127.0.0.1:9")
        yield Setup(args, out, 2, f"another run (process {os.getpid()})", report=False)


CASES: dict[str, Case] = {
    "hang": _expect(_raw(hang), "the target did not answer in time"),
    "drip": _expect(_raw(drip_body(0.5)), "the exchange deadline of 2 s fired"),
    "huge-metadata": _expect(_raw(endless_body), "was larger than 16 MiB"),
    "not-http": _expect(_raw(garbage), "the target is unreachable"),
    "not-tls": _expect(_raw(answer_at_once, tls=False), "WRONG_VERSION_NUMBER"),
    "invalid-json-metadata": _expect(_raw(invalid_json), "not JSON (application/json)"),
    "metadata-redirect-loop": _expect(_raw(redirect_loop), "oauth-authorization-server -> 302"),
    "authorize-redirect-loop": _expect(
        _raw(authorization_server(redirect_loop)), "redirected more than 8 times"
    ),
    "authorize-endless": _expect(
        _raw(authorization_server(endless_body)), "was larger than 16 MiB"
    ),
    "authorize-hangs": _expect(
        _raw(authorization_server(hang)), "the exchange deadline of 2 s fired"
    ),
    "untrusted-tls": untrusted_tls,
    "endless-script": endless_script,
    "huge-login-page": huge_page,
    "echoes-secrets": echoing,
    "dies-after-login": dying,
    "unwritable-report-dir": unwritable_report_dir,
    "not-utf8-target-file": not_utf8_target_file,
    "malformed-issuer": malformed_issuer,
    "busy-port": busy_port,
    "port-taken-after-the-check": port_taken_after_the_check,
    "second-run-same-report-dir": second_run_same_report_dir,
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _stat(pid: str) -> list[str]:
    """The fields of /proc/<pid>/stat after the command name: state ppid pgrp session ..."""
    try:
        return (Path("/proc") / pid / "stat").read_text().rpartition(")")[2].split()
    except OSError:
        return []


def _left_over(session: int, marker: str) -> dict[int, str]:
    """Live processes of the run's session, or whose command line names ``marker`` (the
    test's own targets, its children, aside)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        fields = _stat(entry.name)
        if not fields or fields[0] == "Z" or int(fields[1]) == os.getpid():
            continue  # gone, or a target this test started itself
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="ignore")
        except OSError:
            continue
        if int(fields[3]) == session or marker in command:
            found[int(entry.name)] = command[:200]
    return found


def _listening(port: int) -> bool:
    """Whether anything but a test listens on ``port`` (from /proc/net, whatever the address).

    The run's processes are gone by now: a listener left is one that escaped them (a daemon
    orphaned to init), or one whose owner cannot be found. A test of another worker, handed
    the port once the run had let it go, is not the run's (its ancestors include pytest).
    """
    sockets = set()
    for table in ("tcp", "tcp6"):
        with contextlib.suppress(OSError):
            for line in Path("/proc/net", table).read_text().splitlines()[1:]:
                fields = line.split()
                if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                    sockets.add(f"socket:[{fields[9]}]")
    if not sockets:
        return False
    owners = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if any(os.readlink(fd) in sockets for fd in (entry / "fd").iterdir()):
                    owners.add(entry.name)
    return not owners or not all(_of_a_test(pid) for pid in owners)


def _of_a_test(pid: str) -> bool:
    """Whether process ``pid`` is pytest or was started by it (an ancestor's command names it)."""
    while pid not in ("0", "1"):
        try:
            command = (Path("/proc") / pid / "cmdline").read_bytes()
        except OSError:
            return False
        if b"pytest" in command:
            return True
        fields = _stat(pid)
        if not fields:
            return False
        pid = fields[1]
    return False


def _run_ports(report_dir: Path) -> list[int]:
    """The ports the run's metadata host listened on, from its reports."""
    ports = []
    for path in report_dir.rglob("report.json"):
        url = json.loads(path.read_text("utf-8")).get("environment", {}).get("metadata_host")
        if url:
            ports.append(int(url.rsplit(":", 1)[1].rstrip("/")))
    return ports


def _cause(report_dir: Path) -> str:
    """The report's harness-side error: the preflight's, a stop, or a check's harness error."""
    report = json.loads((report_dir / "report.json").read_text("utf-8"))
    parts = [report["preflight"].get("error") or "", report["preflight"].get("stopped") or ""]
    parts += [r["observed"] for r in report["results"] if r["verdict"] == "harness-error"]
    return "\n".join(parts)


@pytest.mark.browser
@pytest.mark.parametrize("name", list(CASES))
def test_a_hostile_target_or_mistake_ends_cleanly(
    name: str, tmp_path: Path, state_dir: Path
) -> None:
    # the run's temporary files, the browser's profile and HOME too (a short path: Chromium's
    # socket paths in it must stay under 108 bytes)
    scratch = Path(tempfile.mkdtemp(prefix="cimd-hostile-"))
    try:
        _run_case(name, tmp_path, state_dir, scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _run_case(name: str, tmp_path: Path, state_dir: Path, scratch: Path) -> None:
    with CASES[name](tmp_path, state_dir) as setup:
        started = time.monotonic()
        run = subprocess.Popen(
            setup.argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,  # the run's session: whatever it starts is found by it
            cwd=tmp_path,
            env={**os.environ, "TMPDIR": str(scratch)},
        )
        try:
            stdout, stderr = run.communicate(timeout=BOUND_S)
        except subprocess.TimeoutExpired:
            os.killpg(run.pid, signal.SIGKILL)
            run.communicate(timeout=30)
            raise AssertionError(f"{name}: the run did not end within {BOUND_S:.0f} s") from None
        elapsed = time.monotonic() - started
        left = _left_over(run.pid, str(tmp_path)) | _left_over(run.pid, str(scratch))
        for pid in left:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    console = stdout + stderr
    assert elapsed < BOUND_S
    assert "Traceback" not in console, console[-4000:]
    assert run.returncode == setup.code, f"{name}: {console[-4000:]}"
    assert left == {}, f"{name}: left running: {left}"
    assert sorted(p.name for p in scratch.iterdir()) == [], f"{name}: temporary files left"
    for port in [*setup.ports, *_run_ports(setup.report_dir)]:
        assert not _listening(port), f"{name}: port {port} still listening"
    # one clear message naming the cause: one line on stderr, or the report's preflight
    # line on the console
    messages = [line for line in stderr.splitlines() if line.strip()]
    assert len(messages) <= 1 and all(m.startswith("cimd-conformance: ") for m in messages), stderr
    if setup.code == 2 and not messages:
        assert setup.report, stderr
    if setup.cause:
        assert setup.cause in console, f"{name}: {console[-4000:]}"
    if setup.report:
        assert (setup.report_dir / "report.json").is_file(), console[-4000:]
        report = json.loads((setup.report_dir / "report.json").read_text("utf-8"))
        assert report["exit_code"] == setup.code
        if setup.cause:
            assert setup.cause in _cause(setup.report_dir)
    else:
        assert not (setup.report_dir / "report.json").exists()
    secrets_seen = _echoed(setup.echo_log) if setup.echo_log else {}
    secrets_seen[PASSWORD] = "password"
    out = setup.report_dir if setup.report_dir.is_dir() else tmp_path / "no-report"
    assert _leaks(secrets_seen, console, out) == []
    if setup.echo_log is not None:  # the target did echo: the check is not vacuous
        assert PASSWORD in secrets_seen and len(secrets_seen) > 3
