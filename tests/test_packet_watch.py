"""Reading connection attempts out of loopback frames."""

from __future__ import annotations

import ipaddress
import struct

from mock_servers.packet_watch import parse

ETH = bytes(12)


def _ipv4(proto: int, src: str, dst: str, segment: bytes) -> bytes:
    header = bytes([0x45, 0]) + struct.pack("!H", 20 + len(segment)) + bytes(5) + bytes([proto])
    header += bytes(2) + ipaddress.IPv4Address(src).packed + ipaddress.IPv4Address(dst).packed
    return ETH + b"\x08\x00" + header + segment


def _tcp(port: int, flags: int) -> bytes:
    return struct.pack("!HH", 40000, port) + bytes(9) + bytes([flags]) + bytes(6)


def test_a_syn_is_an_attempt_and_a_syn_ack_is_not() -> None:
    attempt = parse(_ipv4(6, "10.0.0.1", "10.0.0.1", _tcp(443, 0x02)), 1.0)
    assert attempt is not None
    assert attempt.describe() == "TCP SYN from 10.0.0.1 to 10.0.0.1:443"
    assert parse(_ipv4(6, "10.0.0.1", "10.0.0.1", _tcp(443, 0x12)), 1.0) is None
    assert parse(_ipv4(6, "10.0.0.1", "10.0.0.1", _tcp(443, 0x10)), 1.0) is None


def test_udp_and_ipv6() -> None:
    udp = struct.pack("!HHHH", 40000, 53, 9, 0) + b"x"
    assert parse(_ipv4(17, "127.0.0.1", "169.254.169.254", udp), 0.0) is not None
    header = bytes([0x60, 0, 0, 0]) + struct.pack("!H", 20) + bytes([6, 64])
    header += ipaddress.IPv6Address("fc00::1").packed * 2
    frame = ETH + b"\x86\xdd" + header + _tcp(8443, 0x02)
    attempt = parse(frame, 0.0)
    assert attempt is not None and attempt.describe() == "TCP SYN from fc00::1 to [fc00::1]:8443"


def test_other_frames_are_ignored() -> None:
    assert parse(ETH + b"\x08\x06" + bytes(28), 0.0) is None  # ARP
    assert parse(_ipv4(1, "10.0.0.1", "10.0.0.2", bytes(8)), 0.0) is None  # ICMP
