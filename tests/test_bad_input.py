"""Bad input ends the run with exit 2 and one line naming the fix, never a traceback.

Each case runs the CLI as a user would; a report is written wherever the report directory
can be written.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from conformance import cli, pytest_run, run_command
from conformance.catalog.verdicts import HarnessError
from conformance.report.model import Report
from conformance.target.discovery import discover

CLI = [sys.executable, "-m", "conformance.cli"]
CLOSED = "https://127.0.0.1:9"  # the discard port: nothing listens there


def _run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [*CLI, "run", *args], capture_output=True, text=True, timeout=120, cwd=cwd
    )
    assert "Traceback" not in done.stdout + done.stderr, done.stdout[-2000:] + done.stderr
    return done


def _error_line(done: subprocess.CompletedProcess[str]) -> str:
    """The one message on stderr."""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    return lines[0]


def test_an_unwritable_report_dir_is_exit_2(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    done = _run("--issuer", CLOSED, "--report-dir", str(tmp_path / "file" / "reports"))
    assert done.returncode == 2
    line = _error_line(done)
    assert "cannot write reports to" in line and "is not a directory" in line
    assert "--report-dir" in line


@pytest.mark.parametrize("what", ["target", "baseline"])
def test_a_file_that_is_not_utf8_is_exit_2_with_a_report(tmp_path: Path, what: str) -> None:
    bad = tmp_path / f"{what}.toml"
    bad.write_bytes(b'issuer = "https://127.0.0.1:9"\n# caf\xe9\n')
    option = ["--target", str(bad)] if what == "target" else ["--issuer", CLOSED, "--baseline"]
    args = option + ([str(bad)] if what == "baseline" else [])
    done = _run(*args, "--report-dir", str(tmp_path / "r"))
    assert done.returncode == 2
    line = _error_line(done)
    assert f"{bad} is not UTF-8 text" in line and "save it as UTF-8" in line
    error = Report.load(tmp_path / "r" / "report.json").preflight["error"]
    assert "is not UTF-8 text" in error


@pytest.mark.parametrize(
    ("issuer", "detail"),
    [("https://[::1", "Invalid IPv6 URL"), ("https://127.0.0.1:99999", "Port out of range")],
)
def test_an_invalid_issuer_url_names_the_option(tmp_path: Path, issuer: str, detail: str) -> None:
    done = _run("--issuer", issuer, "--report-dir", str(tmp_path))
    assert done.returncode == 2
    line = _error_line(done)
    assert f"--issuer {issuer!r} is not a valid URL" in line and detail in line
    assert "collection" not in done.stdout.lower()
    assert Report.load(tmp_path / "report.json").exit_code() == 2


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A loopback port something else listens on."""
    with socket.create_server(("127.0.0.1", 0)) as sock:
        yield sock.getsockname()[1]


@pytest.mark.parametrize("key", ["port", "plain_port", "untrusted_port", "self_signed_port"])
def test_a_busy_metadata_host_port_names_the_key(tmp_path: Path, busy_port: int, key: str) -> None:
    spec = tmp_path / "target.toml"
    spec.write_text(f'issuer = "{CLOSED}"\n[metadata_host]\n{key} = {busy_port}\n')
    done = _run("--target", str(spec), "--report-dir", str(tmp_path / "r"))
    assert done.returncode == 2
    line = _error_line(done)
    assert f"127.0.0.1:{busy_port}" in line and "Address already in use" in line
    assert f"[metadata_host] {key} in {spec}" in line
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    assert report["exit_code"] == 2 and "Address already in use" in report["preflight"]["error"]


def test_a_preflight_failure_is_printed_once(tmp_path: Path) -> None:
    done = _run("--issuer", CLOSED, "--report-dir", str(tmp_path))
    assert done.returncode == 2
    error = Report.load(tmp_path / "report.json").preflight["error"]
    assert "the target is unreachable" in error
    assert done.stdout.count(error) == 1, done.stdout
    untested = [line for line in done.stdout.splitlines() if "not tested (preflight" in line]
    assert len(untested) == 1 and "CIMD-DOC-01" in untested[0]
    assert "HARNESS-ERROR" not in done.stdout


def _discover(status: int, body: bytes, content_type: str) -> str:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=body, headers={"content-type": content_type})

    transport = httpx.MockTransport(answer)
    with httpx.Client(transport=transport) as client, pytest.raises(HarnessError) as caught:
        discover(client, "https://as.test")
    return str(caught.value)


@pytest.mark.parametrize(
    ("body", "content_type", "said"),
    [
        (b"<html>hello</html>", "text/html", "200, not JSON (text/html)"),
        (b'["issuer"]', "application/json", "200, a JSON array, not an object"),
        (b'"issuer"', "application/json", "200, a JSON string, not an object"),
        (b"null", "application/json", "200, a JSON null, not an object"),
    ],
)
def test_metadata_that_is_not_a_json_object_is_described(
    body: bytes, content_type: str, said: str
) -> None:
    message = _discover(200, body, content_type)
    assert f"/.well-known/oauth-authorization-server -> {said}" in message
    assert "no authorization server metadata" in message


def test_an_error_out_of_pytest_is_exit_2_with_a_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """An exception out of the checks' pytest run is the harness's trouble, not a verdict."""

    def broken(argv: list[str], plugins: object = None) -> int:
        raise OSError(98, "Address already in use")

    monkeypatch.setattr(pytest_run.pytest, "main", broken)
    args = cli.parser().parse_args(["run", "--issuer", CLOSED, "--report-dir", str(tmp_path)])
    run_command._resolve(args, None)
    assert pytest_run.run_suite(args, [CLOSED]) == 2
    line = capsys.readouterr().err.strip()
    assert "\n" not in line and "Traceback" not in line
    assert line.startswith("cimd-conformance: the harness could not test: the run stopped")
    assert "Address already in use" in line
    error = Report.load(tmp_path / "report.json").preflight["error"]
    assert "the run stopped on a harness error" in error and "Address already in use" in error
