"""Canaries record every connection with the plant it belongs to, and hang up."""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Iterator

import pytest

from mock_servers.canary import Canaries, can_bind, describe_first_bytes


@pytest.fixture
def canaries() -> Iterator[Canaries]:
    with Canaries() as running:
        yield running


def _wait_for(predicate, timeout: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_records_connection_with_plant_and_request_line(canaries: Canaries) -> None:
    plant = canaries.plant("check-a", "client_id https://127.0.0.2/c.json", ["127.0.0.2"])
    other = canaries.plant("check-b", "logo_uri", ["127.0.0.2"])
    with socket.create_connection(("127.0.0.2", plant.port), timeout=5) as sock:
        sock.sendall(b"GET /c.json HTTP/1.1\r\nHost: x\r\n\r\n")
        assert sock.recv(10) == b""  # the canary hangs up and serves nothing
    _wait_for(lambda: canaries.hits() and canaries.hits()[0].first_bytes != "nothing yet")
    [hit] = canaries.hits([plant])
    assert hit.plant.check == "check-a"
    assert hit.local == f"127.0.0.2:{plant.port}"
    assert hit.first_bytes == "request line GET /c.json HTTP/1.1"
    assert canaries.hits([other]) == []
    assert hit.summary()["planted"] == "client_id https://127.0.0.2/c.json"


def test_records_tls_client_hello_sni(canaries: Canaries) -> None:
    plant = canaries.plant("check", "tls", ["127.0.0.1"])
    context = ssl.create_default_context()
    with (
        socket.create_connection(("127.0.0.1", plant.port), timeout=5) as raw,
        pytest.raises((ssl.SSLError, OSError)),
    ):
        context.wrap_socket(raw, server_hostname="canary.example.test")
    _wait_for(lambda: bool(canaries.hits()) and "SNI" in canaries.hits()[0].first_bytes)
    assert canaries.hits()[0].first_bytes == "TLS ClientHello, SNI 'canary.example.test'"


def test_records_a_connection_that_sends_nothing(canaries: Canaries) -> None:
    plant = canaries.plant("check", "silent", ["127.0.0.3"])
    socket.create_connection(("127.0.0.3", plant.port), timeout=5).close()
    _wait_for(lambda: bool(canaries.hits()) and canaries.hits()[0].first_bytes != "nothing yet")
    assert canaries.hits()[0].first_bytes == "connected, sent nothing"


@pytest.mark.skipif(not can_bind("::1"), reason="this machine has no IPv6 loopback")
def test_one_port_on_several_addresses(canaries: Canaries) -> None:
    plant = canaries.plant("check", "localhost", ["127.0.0.1", "::1"])
    for address in ("127.0.0.1", "::1"):
        socket.create_connection((address, plant.port), timeout=5).close()
    _wait_for(lambda: len(canaries.hits([plant])) == 2)
    assert plant.endpoints() == [f"127.0.0.1:{plant.port}", f"[::1]:{plant.port}"]


def test_unbindable_address_is_an_error(canaries: Canaries) -> None:
    with pytest.raises(OSError):
        canaries.plant("check", "elsewhere", ["192.0.2.1"])


def test_describes_other_protocols() -> None:
    assert describe_first_bytes(b"\x00\x01\x02") == "3 bytes of another protocol"


def test_closed_plant_keeps_its_record_and_stops_listening(canaries: Canaries) -> None:
    plant = canaries.plant("check", "closing", ["127.0.0.4"])
    socket.create_connection(("127.0.0.4", plant.port), timeout=5).close()
    _wait_for(lambda: len(canaries.hits([plant])) == 1)
    canaries.close([plant])
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.4", plant.port), timeout=5)
    assert len(canaries.hits([plant])) == 1
