"""Telling a target that refuses by policy from one that cannot reach the metadata host."""

from __future__ import annotations

import os
import socket
from pathlib import Path

from conformance.target import locality


def test_finds_the_process_listening_on_a_port() -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        comm = Path(f"/proc/{os.getpid()}/comm").read_text().strip()
        assert locality.listener_process(port) == comm
        assert locality.why_never_connected("127.0.0.1", port) == "policy"
    assert locality.listener_process(port) is None
    assert locality.why_never_connected("127.0.0.1", port) is None


def test_a_port_forwarder_means_another_network_namespace(tmp_path: Path) -> None:
    """A fake /proc: docker-proxy owns the listening socket."""
    (tmp_path / "net").mkdir()
    header = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid"
    row = "   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 4242 1"
    (tmp_path / "net" / "tcp").write_text(f"{header}\n{row}\n")
    (tmp_path / "77" / "fd").mkdir(parents=True)
    (tmp_path / "77" / "comm").write_text("docker-proxy\n")
    os.symlink("socket:[4242]", tmp_path / "77" / "fd" / "3")
    assert locality.listener_process(8080, tmp_path) == "docker-proxy"
    assert locality.why_never_connected("127.0.0.1", 8080, tmp_path) == "reach: docker-proxy"
    assert locality.why_never_connected("as.example.test", 8080, tmp_path) is None


def test_loopback_hosts() -> None:
    assert locality.is_loopback("localhost") and locality.is_loopback("[::1]")
    assert locality.is_loopback("127.0.0.2") and not locality.is_loopback("10.0.0.1")
