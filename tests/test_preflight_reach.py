"""A target in another network namespace behind a port forwarder (as Docker publishes ports)
cannot reach the metadata host on 127.0.0.1: the preflight says so, not "policy"."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from conformance.network.lab import kill_namespace
from conformance.report.model import Report
from conformance.target.reference import read_json_line

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root for a network namespace"),
]

CLI = [sys.executable, "-m", "conformance.cli"]

# Bridges TCP connections on 127.0.0.1:PORT to a UNIX socket, or the reverse. The outer one
# names itself docker-proxy, as Docker's port publisher is named.
BRIDGE = r"""
import ctypes, socket, sys, threading
mode, port, path = sys.argv[1], int(sys.argv[2]), sys.argv[3]
if mode == "outer":
    ctypes.CDLL(None).prctl(15, b"docker-proxy", 0, 0, 0)  # PR_SET_NAME
def pipe(a, b):
    try:
        while data := a.recv(65536):
            b.sendall(data)
    except OSError:
        pass
    for s in (a, b):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
if mode == "outer":
    server = socket.create_server(("127.0.0.1", port))
else:
    server = socket.socket(socket.AF_UNIX)
    server.bind(path)
    server.listen()
print("ready", flush=True)
while True:
    client, _ = server.accept()
    if mode == "outer":
        upstream = socket.socket(socket.AF_UNIX)
        upstream.connect(path)
    else:
        upstream = socket.create_connection(("127.0.0.1", port))
    for a, b in ((client, upstream), (upstream, client)):
        threading.Thread(target=pipe, args=(a, b), daemon=True).start()
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def containerised_target(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """The reference AS in its own network namespace, published on the same port outside."""
    port, sock, state = _free_port(), tmp_path / "bridge.sock", tmp_path / "state"
    bridge = tmp_path / "bridge.py"
    bridge.write_text(BRIDGE)
    inner = (
        f"ip link set lo up && {sys.executable} {bridge} inner {port} {sock} >/dev/null & "
        f"exec {sys.executable} -m mock_servers.reference_as --port {port} --state-dir {state}"
    )
    target = subprocess.Popen(
        ["unshare", "--net", "--kill-child", "--fork", "sh", "-c", inner],
        stdout=subprocess.PIPE,
        text=True,
    )
    outer, namespace = None, ""
    try:
        ready = read_json_line(target, 30, "the reference AS")
        namespace = os.readlink(f"/proc/{ready['pid']}/ns/net")
        for _ in range(100):
            if sock.exists():
                break
            subprocess.run(["sleep", "0.05"], check=True)
        outer = subprocess.Popen(
            [sys.executable, str(bridge), "outer", str(port), str(sock)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert outer.stdout is not None and outer.stdout.readline().strip() == "ready"
        yield str(ready["issuer"]), state
    finally:
        if namespace:  # the inner bridge too: everything in the target's namespace
            kill_namespace(namespace)
        for process in (outer, target):
            if process is not None:
                process.kill()
                process.wait(10)
                if process.stdout is not None:
                    process.stdout.close()


def test_a_target_behind_a_port_forwarder_cannot_reach_the_metadata_host(
    containerised_target: tuple[str, Path], tmp_path: Path
) -> None:
    issuer, state = containerised_target
    out = tmp_path / "out"
    done = subprocess.run(
        [*CLI, "run", "--issuer", issuer, "--state-dir", str(state), "--report-dir", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 2, done.stdout[-3000:] + done.stderr[-2000:]
    report = Report.load(out / "report.json")
    error = report.preflight["error"]
    assert "cannot reach it" in error and "served by docker-proxy" in error
    assert "[metadata_host] bind and public_url" in error
    assert report.preflight["metadata_host_connections"]["tcp_accepted"] == 0
    assert report.failed_requirements() == set()
