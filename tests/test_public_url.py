"""A target that reaches the metadata host through a public URL (a tunnel), simulated here by a
TCP forwarder on another port: the suite serves, certifies and reports under that URL."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from conformance.report.model import Report
from conformance.target.reference import ReferenceTarget
from mock_servers.metadata_host import MetadataHost
from mock_servers.pki import TestCA

pytestmark = pytest.mark.slow
CLI = [sys.executable, "-m", "conformance.cli"]


class Tunnel:
    """Forwards every connection on a loopback port to another loopback port."""

    def __init__(self, to_port: int) -> None:
        self._to = to_port
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        self.connections = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            self.connections += 1
            try:
                upstream = socket.create_connection(("127.0.0.1", self._to), timeout=10)
            except OSError:
                client.close()
                continue
            pair = _Pair(client, upstream)
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=pair.pipe, args=(a, b), daemon=True).start()

    def close(self) -> None:
        self._server.close()


class _Pair:
    """Two sockets piped both ways; closed once both directions have ended."""

    def __init__(self, a: socket.socket, b: socket.socket) -> None:
        self._sockets = (a, b)
        self._open = 2
        self._lock = threading.Lock()

    def pipe(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)
        with self._lock:
            self._open -= 1
            if self._open == 0:
                for sock in self._sockets:
                    sock.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def tunnel() -> Iterator[tuple[int, Tunnel]]:
    port = _free_port()
    forwarder = Tunnel(port)
    yield port, forwarder
    forwarder.close()


def test_run_through_a_public_url(tmp_path: Path, tunnel: tuple[int, Tunnel]) -> None:
    port, forwarder = tunnel
    public = f"https://127.0.0.1:{forwarder.port}"
    with ReferenceTarget(state_dir=tmp_path / "state") as target:
        spec = tmp_path / "target.toml"
        spec.write_text(
            f'issuer = "{target.issuer}"\n'
            f'[metadata_host]\nbind = "127.0.0.1"\nport = {port}\npublic_url = "{public}"\n'
        )
        args = ["run", "--target", str(spec), "--state-dir", str(tmp_path / "state")]
        args += ["--report-dir", str(tmp_path / "out")]
        done = subprocess.run(
            [sys.executable, "-m", "conformance.cli", *args],
            capture_output=True,
            text=True,
            timeout=600,
        )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    report = Report.load(tmp_path / "out" / "report.json")
    assert report.mode == "public-url"
    assert report.environment["metadata_host"] == public
    assert forwarder.connections > 0  # the target fetched through the "tunnel"
    verdicts = {r.requirement: r for r in report.results}
    not_applicable = {rid for rid, r in verdicts.items() if r.verdict == "not-applicable"}
    assert not_applicable == {
        "CIMD-URL-01",  # the plain listener has no public URL
        "CIMD-AUTHN-07",
        "CIMD-SEC-01",
        "CIMD-SEC-02",
        "CIMD-SEC-03",
        "CIMD-SEC-05",
        "CIMD-SEC-06",
        "CIMD-FETCH-05",  # the bad-TLS listeners have no public URLs here
        "CIMD-UI-07",  # not declared an MCP proxy
        "MCP-AUTH-10",  # no MCP server named
    }
    assert "canaries on this machine cannot see" in verdicts["CIMD-SEC-02"].observed
    assert {r.verdict for r in report.results} <= {"pass", "not-applicable", "informational"}


def test_a_bad_public_url_is_a_target_file_error(tmp_path: Path) -> None:
    spec = tmp_path / "target.toml"
    spec.write_text('issuer = "https://127.0.0.1:9"\n[metadata_host]\npublic_url = "m.test"\n')
    done = subprocess.run(
        [*CLI, "run", "--target", str(spec), "--report-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert (
        "public_url must be an http(s) URL"
        in Report.load(tmp_path / "report.json").preflight["error"]
    )


def test_fixed_ports_let_every_listener_be_tunnelled(tmp_path: Path) -> None:
    ports = {key: _free_port() for key in ("port", "plain_port", "untrusted_port")}
    tunnels = {key: Tunnel(port) for key, port in ports.items()}
    public = {
        "public_url": f"https://127.0.0.1:{tunnels['port'].port}",
        "plain_public_url": f"http://127.0.0.1:{tunnels['plain_port'].port}",
        "untrusted_public_url": f"https://127.0.0.1:{tunnels['untrusted_port'].port}",
    }
    try:
        with ReferenceTarget(state_dir=tmp_path / "state") as target:
            spec = tmp_path / "target.toml"
            lines = [f'issuer = "{target.issuer}"', "[metadata_host]"]
            lines += [f"{key} = {port}" for key, port in ports.items()]
            lines += [f'{key} = "{url}"' for key, url in public.items()]
            spec.write_text("\n".join(lines) + "\n")
            args = ["run", "--target", str(spec), "--state-dir", str(tmp_path / "state")]
            args += ["--only", "CIMD-URL-01", "--only", "CIMD-ERR-01"]  # the listeners' checks
            done = subprocess.run(
                [*CLI, *args, "--report-dir", str(tmp_path / "out")],
                capture_output=True,
                text=True,
                timeout=600,
            )
    finally:
        for tunnel in tunnels.values():
            tunnel.close()
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    verdicts = {r.requirement: r for r in Report.load(tmp_path / "out" / "report.json").results}
    assert verdicts["CIMD-URL-01"].verdict == "pass"  # judged through the plain listener's tunnel
    tried = [a["client_id"] for a in verdicts["CIMD-ERR-01"].evidence["attempts"]]
    assert any(url.startswith(public["untrusted_public_url"]) for url in tried)
    assert verdicts["CIMD-ERR-01"].verdict == "pass"
    # the target fetched through both TLS tunnels (an http client_id is refused unfetched)
    assert tunnels["port"].connections > 0 and tunnels["untrusted_port"].connections > 0


def test_each_listener_binds_its_fixed_port(tmp_path: Path) -> None:
    ports = [_free_port() for _ in range(3)]
    ca = TestCA.load_or_create(tmp_path / "state")
    host = MetadataHost(ca, port=ports[0], plain_port=ports[1], untrusted_port=ports[2])
    with host:
        assert host.port == ports[0]
        assert host.plain_base_url == f"http://127.0.0.1:{ports[1]}"
        assert host.untrusted_base_url == f"https://127.0.0.1:{ports[2]}"
        answer = httpx.get(f"{host.plain_base_url}/cb", timeout=10)
    assert answer.status_code == 200 and [f.listener for f in host.fetches()] == ["plain"]
