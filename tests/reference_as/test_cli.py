"""The command line: listing faults, refusing unknown ones, serving until SIGTERM."""

from __future__ import annotations

import json
import signal
import ssl
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from mock_servers.reference_as import FAULTS, main

COMMAND = [sys.executable, "-m", "mock_servers.reference_as"]


def test_list_faults_prints_one_fault_a_line() -> None:
    result = subprocess.run(
        [*COMMAND, "--list-faults"], capture_output=True, text=True, timeout=30, check=True
    )
    assert result.stdout.splitlines() == [
        f"{fault.name}\t{' '.join(fault.breaks)}\t{fault.about}" for fault in FAULTS
    ]


def test_unknown_fault_exits_2_naming_the_valid_ones(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--fault", "drops-state", "--fault", "nope"]) == 2
    err = capsys.readouterr().err
    assert "nope" in err and "follows-redirects" in err


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--port", "not-a-port"]) == 2
    assert "usage" in capsys.readouterr().err


def test_missing_trust_ca_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--trust-ca", str(tmp_path / "absent.pem")]) == 2
    assert "absent.pem" in capsys.readouterr().err


def test_serves_until_sigterm(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [
            *COMMAND,
            "--port",
            "0",
            "--matrix",
            "--fault",
            "drops-state",
            "--state-dir",
            str(tmp_path),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        ready = json.loads(process.stdout.readline())
        assert ready["pid"] == process.pid
        assert (ready["user"], ready["password"]) == ("alice", "wonderland-test-only")
        assert ready["issuers"][""] == ready["issuer"]
        assert set(ready["issuers"]) == {"", *(fault.name for fault in FAULTS)}
        assert ready["resource"] == ready["issuer"] + "/mcp"  # the default protected resource
        ca = ssl.create_default_context(cafile=tmp_path / "ca.pem")
        root = httpx.get(ready["issuer"] + "/.well-known/oauth-authorization-server", verify=ca)
        assert root.json()["issuer"] == ready["issuer"]
        faulty = ready["issuers"]["flag-as-string"].replace(ready["issuer"], "")
        matrix = httpx.get(
            f"{ready['issuer']}/.well-known/oauth-authorization-server{faulty}", verify=ca
        )
        assert matrix.json()["client_id_metadata_document_supported"] == "true"
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=5)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


def test_resource_names_the_protected_resources(tmp_path: Path) -> None:
    command = [*COMMAND, "--port", "0", "--state-dir", str(tmp_path)]
    command += ["--resource", "https://mcp.test/a", "--resource", "https://mcp.test/b"]
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    ) as process:
        try:
            assert process.stdout is not None
            assert json.loads(process.stdout.readline())["resource"] == "https://mcp.test/a"
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=15) == 0
        finally:
            if process.poll() is None:
                process.kill()
