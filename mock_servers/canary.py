"""SSRF canaries: listeners on addresses the target must never contact.

A check *plants* a canary: the canary gets its own listening port on one or more addresses
(``127.0.0.2``, ``::1``, or in the lab ``10.0.0.1``, ``169.254.169.254`` ...), and the check
puts a URL aimed at it in front of the target. Every connection the canary accepts is
recorded at once, with the plant it belongs to (the check and what was planted), the peer
address, and the first bytes the peer sent (a TLS ClientHello's SNI, an HTTP request line).
The canary then hangs up: it never serves anything, so a target that connects cannot succeed,
and a target that refuses after connecting is still caught.

One asyncio loop in one thread serves every planted port until :meth:`Canaries.stop`.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

READ_WINDOW_S = 1.0
FIRST_BYTES = 2048
PORT_TRIES = 20
START_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Plant:
    """One planted canary: what was aimed at it, by which check, and where it listens.

    Attributes:
        check: the check that planted it (its pytest node id or name).
        label: what was planted, e.g. ``client_id https://2130706433:41234/c.json``.
        addresses: the addresses the canary listens on (all with the same port).
        port: the canary's port.
    """

    check: str
    label: str
    addresses: tuple[str, ...]
    port: int

    def summary(self) -> dict[str, Any]:
        """The plant for reports."""
        return {"check": self.check, "planted": self.label, "listens": self.endpoints()}

    def endpoints(self) -> list[str]:
        """``address:port`` for each listening address (IPv6 in brackets)."""
        return [f"{_bracket(a)}:{self.port}" for a in self.addresses]


@dataclass
class Hit:
    """One connection a canary accepted."""

    plant: Plant
    local: str
    peer: str
    at: float
    first_bytes: str = "nothing yet"

    def summary(self) -> dict[str, Any]:
        """The connection for reports."""
        return {
            "check": self.plant.check,
            "planted": self.plant.label,
            "connected_to": self.local,
            "from": self.peer,
            "sent": self.first_bytes,
        }

    def describe(self) -> str:
        """One line: where the connection went and what it carried."""
        return f"{self.peer} connected to {self.local} ({self.first_bytes})"


def _bracket(address: str) -> str:
    return f"[{address}]" if ":" in address else address


def _sockaddr(address: str, port: int) -> tuple[str, int] | tuple[str, int, int, int]:
    """The bind address; an IPv6 link-local address is scoped to the loopback interface."""
    if address.lower().startswith("fe80:"):
        return (address, port, 0, socket.if_nametoindex("lo"))
    return (address, port)


def can_bind(address: str) -> bool:
    """Whether a listener can be bound on ``address`` on this machine."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.bind(_sockaddr(address, 0))
    except OSError:
        return False
    return True


def describe_first_bytes(data: bytes) -> str:
    """What a peer's first bytes were: a TLS ClientHello (with SNI), HTTP, or other."""
    if not data:
        return "connected, sent nothing"
    if data[:1] == b"\x16" and data[5:6] == b"\x01":
        sni = _sni(data)
        return f"TLS ClientHello, SNI {sni!r}" if sni else "TLS ClientHello without SNI"
    line = data.split(b"\r\n", 1)[0][:200]
    if line[:1].isalpha() and b" " in line:
        return "request line " + line.decode("latin-1")
    return f"{len(data)} bytes of another protocol"


def _sni(data: bytes) -> str | None:
    """The server_name of a TLS ClientHello record, if it carries one."""
    try:
        pos = 5 + 4 + 2 + 32  # record header, handshake header, version, random
        pos += 1 + data[pos]  # session id
        pos += 2 + int.from_bytes(data[pos : pos + 2], "big")  # cipher suites
        pos += 1 + data[pos]  # compression methods
        end = pos + 2 + int.from_bytes(data[pos : pos + 2], "big")
        pos += 2
        while pos + 4 <= end:
            kind = int.from_bytes(data[pos : pos + 2], "big")
            size = int.from_bytes(data[pos + 2 : pos + 4], "big")
            if kind == 0:  # server_name: list length, type, name length, name
                name_len = int.from_bytes(data[pos + 7 : pos + 9], "big")
                return data[pos + 9 : pos + 9 + name_len].decode("ascii", "replace")
            pos += 4 + size
    except IndexError:
        return None
    return None


class _Listener(asyncio.Protocol):
    def __init__(self, canaries: Canaries, plant: Plant) -> None:
        self._canaries = canaries
        self._plant = plant
        self._hit: Hit | None = None
        self._data = b""
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        local, peer = transport.get_extra_info("sockname"), transport.get_extra_info("peername")
        self._hit = Hit(
            self._plant,
            f"{_bracket(local[0])}:{local[1]}",
            f"{_bracket(peer[0])}:{peer[1]}",
            time.monotonic(),
        )
        self._canaries._record(self._hit)
        asyncio.get_running_loop().call_later(READ_WINDOW_S, self._finish)

    def data_received(self, data: bytes) -> None:
        self._data += data
        record = self._data[:1] == b"\x16" and len(self._data) >= 5
        whole_record = record and len(self._data) >= 5 + int.from_bytes(self._data[3:5], "big")
        if len(self._data) >= FIRST_BYTES or whole_record or b"\r\n" in self._data[:300]:
            self._finish()

    def connection_lost(self, exc: Exception | None) -> None:
        self._describe()

    def _describe(self) -> None:
        if self._hit is not None:
            self._hit.first_bytes = describe_first_bytes(self._data[:FIRST_BYTES])

    def _finish(self) -> None:
        self._describe()
        if self._transport is not None:
            self._transport.close()


@dataclass
class Canaries:
    """Every canary of a run, and every connection they saw."""

    _plants: list[Plant] = field(default_factory=list)
    _hits: list[Hit] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _loop: asyncio.AbstractEventLoop | None = None
    _thread: threading.Thread | None = None
    _servers: dict[Plant, list[asyncio.Server]] = field(default_factory=dict)
    _last_close: float = 0.0

    def start(self) -> Canaries:
        """Start the canaries' event loop."""
        loop = asyncio.new_event_loop()
        ready = threading.Event()
        loop.call_soon(ready.set)
        self._loop = loop
        self._thread = threading.Thread(target=loop.run_forever, name="canaries", daemon=True)
        self._thread.start()
        if not ready.wait(START_TIMEOUT_S):
            raise RuntimeError("the canaries' event loop did not start")
        return self

    def stop(self) -> None:
        """Wait for delayed closes, then close every canary and stop the loop."""
        self.settle()
        loop, self._loop = self._loop, None
        if loop is None or self._thread is None:
            return

        self._close(loop, list(self._servers))
        loop.call_soon_threadsafe(loop.stop)
        self._thread.join(5)
        loop.close()
        self._thread = None

    def __enter__(self) -> Canaries:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def plant(self, check: str, label: str, addresses: Sequence[str], port: int = 0) -> Plant:
        """Listen on every address in ``addresses`` on one port (fresh unless given).

        Raises:
            OSError: no port was free on all the addresses, or an address cannot be bound.
        """
        if self._loop is None:
            raise RuntimeError("start the canaries before planting")
        sockets = self._bind_all(tuple(addresses), port)
        plant = Plant(check, label, tuple(addresses), sockets[0].getsockname()[1])
        loop = self._loop

        async def serve() -> None:
            for sock in sockets:
                server = await loop.create_server(lambda: _Listener(self, plant), sock=sock)
                self._servers.setdefault(plant, []).append(server)

        asyncio.run_coroutine_threadsafe(serve(), loop).result(START_TIMEOUT_S)
        with self._lock:
            self._plants.append(plant)
        return plant

    def close(self, plants: Iterable[Plant], after: float = 0.0) -> None:
        """Stop listening for ``plants`` (now, or ``after`` seconds); their records stay.

        A delayed close keeps catching a target's late connections while the run goes on.
        """
        loop = self._loop
        if loop is None:
            return
        chosen = list(plants)
        if after <= 0:
            self._close(loop, chosen)
            return
        with self._lock:
            self._last_close = max(self._last_close, time.monotonic() + after)

        def later() -> None:
            servers = [server for plant in chosen for server in self._servers.pop(plant, [])]
            for server in servers:
                server.close()

        loop.call_soon_threadsafe(loop.call_later, after, later)

    def settle(self) -> None:
        """Wait until every delayed close has happened (late connections are recorded)."""
        with self._lock:
            remaining = self._last_close - time.monotonic()
        if remaining > 0:
            time.sleep(remaining)

    def _close(self, loop: asyncio.AbstractEventLoop, plants: list[Plant]) -> None:
        servers = [server for plant in plants for server in self._servers.pop(plant, [])]

        async def close() -> None:
            for server in servers:
                server.close()
            for server in servers:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(server.wait_closed(), 2)

        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(close(), loop).result(5)

    @staticmethod
    def _bind_all(addresses: tuple[str, ...], port: int) -> list[socket.socket]:
        for _ in range(PORT_TRIES if port == 0 else 1):
            sockets: list[socket.socket] = []
            try:
                chosen = port
                for address in addresses:
                    family = socket.AF_INET6 if ":" in address else socket.AF_INET
                    sock = socket.socket(family, socket.SOCK_STREAM)
                    sockets.append(sock)
                    if family == socket.AF_INET6:
                        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                    sock.bind(_sockaddr(address, chosen))
                    sock.listen(16)
                    sock.setblocking(False)
                    chosen = sock.getsockname()[1]
                return sockets
            except OSError:
                for sock in sockets:
                    sock.close()
                if port != 0 or len(sockets) <= 1:
                    raise  # an address that cannot be bound at all, or a fixed port in use
        raise OSError(f"no port free on all of {', '.join(addresses)}")

    def _record(self, hit: Hit) -> None:
        with self._lock:
            self._hits.append(hit)

    def plants(self, check: str | None = None) -> list[Plant]:
        """Every plant, or the plants of one check."""
        with self._lock:
            return [p for p in self._plants if check is None or p.check == check]

    def hits(self, plants: Iterable[Plant] | None = None) -> list[Hit]:
        """Every connection seen, or those on the given plants."""
        with self._lock:
            seen = list(self._hits)
        if plants is None:
            return seen
        wanted = set(plants)
        return [h for h in seen if h.plant in wanted]
