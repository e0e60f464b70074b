"""Interop: the suite scores panva's oidc-provider, and the verdicts match the baseline exactly."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urljoin

import pytest

from conformance.catalog.verdicts import HarnessError
from conformance.harness.clients import public_client
from conformance.harness.outcome import OutcomeKind
from conformance.harness.session import TargetSession, ssl_context
from conformance.report.baseline import load
from conformance.report.model import Report
from conformance.target import deadline
from conformance.target.discovery import discover
from conformance.target.reference import read_json_line
from mock_servers.metadata_host import CALLBACK_PATH, MetadataHost
from mock_servers.pki import TestCA

HERE = Path(__file__).resolve().parent / "oidc-provider"
ROOT = HERE.parents[2]
WORK = Path(os.environ.get("CIMD_INTEROP_DIR", ROOT / ".interop")) / "oidc-provider"
pytestmark = pytest.mark.slow


def _install() -> Path:
    """npm-install the pinned package (once) and copy the server beside it."""
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail("npm is needed for the oidc-provider interop target (Node.js 20+)")
    WORK.mkdir(parents=True, exist_ok=True)
    manifest = (HERE / "package.json").read_text()
    if (
        not (WORK / "node_modules" / "oidc-provider").is_dir()
        or (WORK / "package.json").read_text() != manifest
    ):
        (WORK / "package.json").write_text(manifest)
        subprocess.run(
            [npm, "install", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=WORK,
            check=True,
            timeout=600,
        )
    shutil.copy(HERE / "server.mjs", WORK / "server.mjs")
    return WORK


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def oidc_provider_server(
    state_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Path]]:
    """oidc-provider on loopback, trusting the suite's test CA: its issuer and its log."""
    work = _install()
    ca = TestCA.load_or_create(state_dir)
    env = {**os.environ, "PORT": str(_free_port()), "NODE_EXTRA_CA_CERTS": str(ca.cert_path)}
    log = tmp_path_factory.mktemp("oidc-provider") / "server.log"
    with log.open("w") as err:
        process = subprocess.Popen(
            ["node", "server.mjs"], cwd=work, env=env, stdout=subprocess.PIPE, stderr=err, text=True
        )
        try:
            try:
                ready = read_json_line(process, 60, "oidc-provider")
            except HarnessError as exc:
                pytest.fail(f"{exc}: {log.read_text()[-2000:]}")
            yield str(ready["issuer"]), log
        finally:
            process.terminate()
            process.wait(10)
            assert process.stdout is not None
            process.stdout.close()


@pytest.fixture
def oidc_provider(oidc_provider_server: tuple[str, Path]) -> str:
    """The issuer of :func:`oidc_provider_server`."""
    return oidc_provider_server[0]


def _refusals(log: Path) -> str:
    """The reasons the server logged for refusing token requests (see server.mjs)."""
    lines = log.read_text().splitlines() if log.is_file() else []
    return "\n".join(line for line in lines if '"grant.error"' in line)[-3000:]


def _target_file(issuer: str, directory: Path) -> Path:
    target = directory / "target.toml"
    target.write_text(
        f'issuer = "{issuer}"\n'
        '[user]\nname = "alice"\npassword = "any"\n'
        '[authorization]\nscope = "openid"\n'
        '[login]\nusername_selector = "input[name=login]"\n'
    )
    return target


def test_oidc_provider_matches_its_baseline(
    oidc_provider_server: tuple[str, Path], state_dir: Path, tmp_path: Path
) -> None:
    issuer, log = oidc_provider_server
    baseline = HERE / "baseline.toml"
    target = _target_file(issuer, tmp_path)
    args = ["run", "--target", str(target), "--baseline", str(baseline)]
    args += ["--state-dir", str(state_dir), "--report-dir", str(tmp_path)]
    _run_and_match(args, baseline, tmp_path, mode="loopback", server_log=log)


@pytest.mark.skipif(os.geteuid() != 0, reason="lab mode needs root; CI runs as root")
def test_oidc_provider_in_the_lab_matches_its_lab_baseline(state_dir: Path, tmp_path: Path) -> None:
    """The library's own SSRF protection on, started inside the lab by --target-command."""
    work = _install()
    baseline = HERE / "lab-baseline.toml"
    target = _target_file("http://127.0.0.1:3000", tmp_path)
    command = (
        f"cd {work} && NODE_EXTRA_CA_CERTS=$CIMD_CA_FILE CIMD_ALLOW_LOOPBACK=0 PORT=3000 "
        "exec node server.mjs"
    )
    args = ["run", "--lab", "--target", str(target), "--target-command", command]
    args += ["--baseline", str(baseline), "--state-dir", str(state_dir)]
    args += ["--report-dir", str(tmp_path)]
    _run_and_match(args, baseline, tmp_path, mode="lab")


def _run_and_match(
    args: list[str], baseline: Path, tmp_path: Path, mode: str, server_log: Path | None = None
) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "conformance.cli", *args],
        capture_output=True,
        text=True,
        timeout=600,
    )
    report = Report.load(tmp_path / "report.json")
    assert report.mode == mode
    assert report.preflight.get("error") is None, report.preflight
    assert [r.requirement for r in report.results if r.verdict == "harness-error"] == []
    # every failure is known: listed in the baseline, or a derived row (MCP-AUTH-03 = the
    # CIMD-00 rows ...) failing only because of listed ones
    refusals = _refusals(server_log) if server_log is not None else ""
    assert report.failed_requirements() == set(report.baseline["known"]), (
        done.stdout[-3000:] + "\nthe server's refusals of token requests:\n" + refusals
    )
    assert set(load(baseline).requirements) <= set(report.baseline["known"])
    assert report.baseline["stale"] == []
    assert done.returncode == 0, done.stdout[-3000:]


def test_a_target_that_needs_more_parameters_is_a_harness_error(
    oidc_provider: str, state_dir: Path, tmp_path: Path
) -> None:
    """oidc-provider ends a request without scope=openid with an error after login."""
    target = tmp_path / "target.toml"
    target.write_text(
        f'issuer = "{oidc_provider}"\n[user]\nname = "alice"\npassword = "any"\n'
        '[login]\nusername_selector = "input[name=login]"\n'
    )
    args = ["run", "--target", str(target), "--state-dir", str(state_dir)]
    done = subprocess.run(
        [sys.executable, "-m", "conformance.cli", *args, "--report-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 2, done.stdout[-3000:]
    error = Report.load(tmp_path / "report.json").preflight["error"]
    assert "ended the request with error=" in error and "--param" in error


SLOW_FETCH_S = 1.0  # under oidc-provider's fetch timeout (2.5 s)


def _signed_in(issuer: str, host: MetadataHost, tls: ssl.SSLContext) -> TargetSession:
    """A session signed in over plain HTTP (the library's development login and consent)."""
    http = deadline.client(tls)
    try:
        session = TargetSession(discover(http, issuer), http, tls, {"scope": "openid"})
        client = public_client(host)
        shown = session.attempt(client.client_id, client.redirect_uri).outcome
        form = shown.page.login_form() if shown.page else None
        assert form is not None, shown.describe()
        data = dict(form.fields) | {"login": "alice", "password": "any"}
        action = urljoin(shown.url, form.action)
        consent = session.follow("POST", action, data, client.redirect_uri)
        assert consent.kind is OutcomeKind.CONSENT, consent.describe()
    except BaseException:
        http.close()
        raise
    return session


@pytest.mark.parametrize("approver", ["run", "ahead"])
def test_a_request_in_one_thread_never_undoes_an_approval_in_the_other(
    oidc_provider: str, state_dir: Path, approver: str
) -> None:
    """oidc-provider writes its session back whole at the end of each authorization request,
    and binds each code to the grant the session records for the code's client. A request
    in one thread (a document fetch that takes a second) that began before an approval in
    the other (the run's, and a check run ahead of its turn) must not end after it, else the
    session loses the approval's grant and the fresh code is refused: the suite's doing,
    never the target's.
    """
    ca = TestCA.load_or_create(state_dir)  # the one the server trusts (NODE_EXTRA_CA_CERTS)
    tls = ssl_context(str(ca.cert_path))
    with contextlib.ExitStack() as stack:
        host = stack.enter_context(MetadataHost(ca))
        run = _signed_in(oidc_provider, host, tls)
        stack.callback(run.client.close)
        stack.callback(run.cookieless.close)  # the fork's too
        run.approval_keeps_session = True  # as seen on this server: no signed_in held
        fork = run.fork()
        stack.callback(fork.client.close)
        approving, slow_one = (run, fork) if approver == "run" else (fork, run)
        slow = host.new_client_url()
        host.serve_document(
            slow, public_client(host).document | {"client_id": slow}, delay_s=SLOW_FETCH_S
        )
        other = threading.Thread(
            target=slow_one.attempt, args=(slow, host.base_url + CALLBACK_PATH)
        )
        other.start()
        try:
            started = time.monotonic()
            while not host.fetches(slow) and time.monotonic() - started < 5:
                time.sleep(0.01)
            assert host.fetches(slow), "the other thread's request is under way"
            approved = public_client(host)
            attempt = approving.attempt(approved.client_id, approved.redirect_uri)
            assert attempt.outcome.kind is OutcomeKind.CONSENT, attempt.outcome.describe()
            code = approving.approve(attempt).params["code"]
        finally:
            other.join(10)
        assert slow_one.attempts[-1]["outcome"] == OutcomeKind.CONSENT.value
        assert attempt.pkce is not None
        tokens = approving.redeem(
            client_id=approved.client_id,
            code=code,
            redirect_uri=approved.redirect_uri,
            verifier=attempt.pkce.verifier,
        )
    assert tokens.issued, tokens.describe()
