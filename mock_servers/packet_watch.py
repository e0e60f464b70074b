"""Lab mode: every connection attempt to a watched address, listener or not.

A canary sees the connections it accepts. Inside the lab the suite also reads every packet on
the namespace's loopback interface (an ``AF_PACKET`` socket, root only), so a TCP SYN or a UDP
datagram sent to a special-use address is recorded even when nothing listens there: a target
that ignores the URL's port, or probes a port the check never planted, is still caught.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4  # each loopback packet is read twice, once outgoing: count that one
ETH_HEADER = 14
TCP, UDP = 6, 17
SYN, ACK = 0x02, 0x10
READ_TIMEOUT_S = 0.2


@dataclass(frozen=True)
class Attempt:
    """One TCP SYN (without ACK) or UDP datagram to a watched address."""

    protocol: str
    source: str
    destination: str
    port: int
    at: float

    def describe(self) -> str:
        """One line for reports."""
        host = f"[{self.destination}]" if ":" in self.destination else self.destination
        return f"{self.protocol} from {self.source} to {host}:{self.port}"


def parse(frame: bytes, at: float) -> Attempt | None:
    """The connection attempt a loopback frame carries, if it is one."""
    kind = int.from_bytes(frame[12:14], "big")
    packet = frame[ETH_HEADER:]
    if kind == 0x0800 and len(packet) >= 20:
        header = (packet[0] & 0x0F) * 4
        proto = packet[9]
        source = str(ipaddress.IPv4Address(packet[12:16]))
        destination = str(ipaddress.IPv4Address(packet[16:20]))
    elif kind == 0x86DD and len(packet) >= 40:
        header, proto = 40, packet[6]  # extension headers are not followed
        source = str(ipaddress.IPv6Address(packet[8:24]))
        destination = str(ipaddress.IPv6Address(packet[24:40]))
    else:
        return None
    segment = packet[header:]
    if proto == TCP and len(segment) >= 14:
        flags = segment[13]
        if flags & SYN and not flags & ACK:
            port = struct.unpack("!H", segment[2:4])[0]
            return Attempt("TCP SYN", source, destination, port, at)
    elif proto == UDP and len(segment) >= 8:
        port = struct.unpack("!H", segment[2:4])[0]
        return Attempt("UDP", source, destination, port, at)
    return None


class PacketWatch:
    """Records connection attempts on ``interface`` to addresses ``watched`` accepts.

    Args:
        watched: which destination addresses to record.
        interface: the interface to read (the lab namespace's ``lo``).
    """

    def __init__(self, watched: Callable[[str], bool], interface: str = "lo") -> None:
        self._watched = watched
        self._sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        self._sock.bind((interface, 0))
        self._sock.settimeout(READ_TIMEOUT_S)
        self._lock = threading.Lock()
        self._attempts: list[Attempt] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, name="packet-watch", daemon=True)

    def start(self) -> PacketWatch:
        """Start reading packets."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop reading and close the socket."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(2)
        with contextlib.suppress(OSError):
            self._sock.close()

    def attempts(self, since: float = 0.0, until: float | None = None) -> list[Attempt]:
        """The attempts recorded in ``[since, until]`` (monotonic time)."""
        with self._lock:
            seen = list(self._attempts)
        return [a for a in seen if a.at >= since and (until is None or a.at <= until)]

    def _read(self) -> None:
        while not self._stop.is_set():
            try:
                frame, address = self._sock.recvfrom(65535)
            except TimeoutError:
                continue
            except OSError:
                return
            if address[2] != PACKET_OUTGOING:
                continue
            attempt = parse(frame, time.monotonic())
            if attempt is not None and self._watched(attempt.destination):
                with self._lock:
                    self._attempts.append(attempt)
