"""A target whose certificate comes from a CA the system does not trust: --target-ca.

The reference AS is served with a certificate from its own trustme CA (another state
directory) while it trusts the suite's CA for fetching documents, as a real target with a
private CA would.
"""

from __future__ import annotations

import shlex
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from conformance.browser.driver import Browser, login
from conformance.browser.recipe import LoginRecipe
from conformance.catalog.verdicts import HarnessError
from conformance.harness.session import ssl_context
from conformance.report.model import Report
from conformance.target.command import READY_TIMEOUT_S, TargetCommand
from conformance.target.discovery import discover
from conformance.target.reference import ReferenceTarget
from mock_servers.pki import TestCA

CLI = [sys.executable, "-m", "conformance.cli"]


@pytest.fixture(scope="module")
def suite_ca(tmp_path_factory: pytest.TempPathFactory) -> TestCA:
    """The suite's CA (the metadata host's certificates)."""
    return TestCA.load_or_create(tmp_path_factory.mktemp("suite-state"))


@pytest.fixture(scope="module")
def target_state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The state directory of the target's own CA."""
    return tmp_path_factory.mktemp("target-state")


@pytest.fixture(scope="module")
def own_ca_issuer(suite_ca: TestCA, target_state: Path) -> Iterator[str]:
    """The reference AS with a certificate from its own CA, trusting the suite's CA."""
    extra = ("--trust-ca", str(suite_ca.cert_path))
    with ReferenceTarget(state_dir=target_state, extra_args=extra) as target:
        yield target.issuer


def test_discovery_names_target_ca_for_an_untrusted_certificate(
    suite_ca: TestCA, own_ca_issuer: str
) -> None:
    tls = ssl_context(str(suite_ca.cert_path))
    with httpx.Client(verify=tls, timeout=10) as client, pytest.raises(HarnessError) as caught:
        discover(client, own_ca_issuer)
    message = str(caught.value)
    assert "does not trust the target's TLS certificate" in message
    assert "--target-ca" in message and "cimd-conformance ca" not in message


def test_the_browser_without_the_target_ca_names_target_ca(
    suite_ca: TestCA, own_ca_issuer: str
) -> None:
    chromium = Browser(suite_ca.cert_path).start()
    try:
        context = chromium.new_context()
        with pytest.raises(HarnessError) as caught:
            login(context, own_ca_issuer, LoginRecipe("alice", "x"), None)
        context.close()
    finally:
        chromium.stop()
    message = str(caught.value)
    assert "does not trust the target's TLS certificate" in message
    assert "--target-ca" in message and "ERR_CERT_AUTHORITY_INVALID" in message


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, "run", *args], capture_output=True, text=True, timeout=600)


def test_without_target_ca_the_run_says_so(
    tmp_path: Path, suite_ca: TestCA, own_ca_issuer: str
) -> None:
    state = str(suite_ca.cert_path.parent)
    done = _run("--issuer", own_ca_issuer, "--state-dir", state, "--report-dir", str(tmp_path))
    assert done.returncode == 2
    assert "Traceback" not in done.stdout + done.stderr
    error = Report.load(tmp_path / "report.json").preflight["error"]
    assert "--target-ca" in error and "cimd-conformance ca" not in error
    assert error in done.stdout and done.stdout.count(error) == 1


@pytest.mark.slow
def test_target_ca_in_the_target_file_scores_the_target(
    tmp_path: Path, suite_ca: TestCA, target_state: Path, own_ca_issuer: str
) -> None:
    (tmp_path / "certs").mkdir()
    (tmp_path / "certs" / "as-ca.pem").write_bytes(TestCA.load_or_create(target_state).cert_pem())
    spec = tmp_path / "target.toml"
    spec.write_text(f'issuer = "{own_ca_issuer}"\ntarget_ca = "certs/as-ca.pem"\n')
    state = str(suite_ca.cert_path.parent)
    out = tmp_path / "out"
    done = _run("--target", str(spec), "--state-dir", state, "--report-dir", str(out))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    report = Report.load(out / "report.json")
    assert report.preflight.get("error") is None
    assert report.failed_requirements() == set()


def test_a_target_ca_that_is_no_certificate_is_exit_2(tmp_path: Path) -> None:
    bogus = tmp_path / "ca.pem"
    bogus.write_text("not a certificate\n")
    done = _run(
        "--issuer", "https://127.0.0.1:9", "--target-ca", str(bogus), "--report-dir", str(tmp_path)
    )
    assert done.returncode == 2 and "Traceback" not in done.stdout + done.stderr
    assert f"--target-ca {bogus} holds no PEM CA certificate" in done.stderr
    assert "--target-ca" in Report.load(tmp_path / "report.json").preflight["error"]


def test_target_command_readiness_poll_trusts_target_ca(
    suite_ca: TestCA, target_state: Path
) -> None:
    """A target started by --target-command with its own CA is seen as ready with --target-ca."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    command = shlex.join(
        [
            sys.executable,
            "-m",
            "mock_servers.reference_as",
            "--port",
            str(port),
            "--state-dir",
            str(target_state),
            "--trust-ca",
            str(suite_ca.cert_path),
        ]
    )
    target_ca = target_state / "as-ca.pem"
    target_ca.write_bytes(TestCA.load_or_create(target_state).cert_pem())
    issuer = f"https://127.0.0.1:{port}"
    started = time.monotonic()
    with TargetCommand(command, issuer, suite_ca.cert_path, target_ca):
        tls = ssl_context(str(target_ca))
        with httpx.Client(verify=tls, timeout=10) as client:
            assert discover(client, issuer).issuer == issuer
    assert time.monotonic() - started < READY_TIMEOUT_S  # ready, not given up on
