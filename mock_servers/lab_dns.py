"""The lab DNS: an authoritative-only DNS server whose answers the suite sets per check.

Inside the suite's private network namespace the target resolves every name through this
server, so a check can point a client_id host at a special-use address (loopback, link-local,
private ranges) or serve a DNS rebinding sequence, and then read which lookups the target made.

It answers A, AAAA and CNAME from data, over UDP and TCP (glibc retries over TCP when a UDP
answer is truncated), never recurses and never forwards: a name it was not given is NXDOMAIN.
Like :class:`mock_servers.runner.Server`, it binds before its thread starts and keeps a crash
for :meth:`LabDns.raise_crash`.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import ipaddress
import socket
import threading
import time
from dataclasses import dataclass
from types import TracebackType
from typing import Any, cast

from dnslib import (
    AAAA,
    CNAME,
    QTYPE,
    RCODE,
    RR,
    A,
    DNSHeader,
    DNSRecord,
)

STARTUP_TIMEOUT_S = 15.0
SHUTDOWN_TIMEOUT_S = 10.0
TCP_IDLE_TIMEOUT_S = 10.0
# Without EDNS (which this server does not speak) a UDP answer may hold 512 bytes (RFC 1035
# 4.2.1); a longer one goes out truncated so the resolver asks again over TCP.
UDP_PAYLOAD_LIMIT = 512
MAX_CNAME_CHAIN = 8
PORT_PAIR_ATTEMPTS = 50


@dataclass(frozen=True)
class Answer:
    """One answer set for a name.

    Attributes:
        addresses: IPv4 and/or IPv6 addresses; an A query gets the IPv4 ones, AAAA the IPv6 ones.
        cname: a CNAME target name instead of addresses.
        ttl: the TTL of every record served from this answer.
    """

    addresses: tuple[str, ...] = ()
    cname: str | None = None
    ttl: int = 0

    def __post_init__(self) -> None:
        if self.addresses and self.cname is not None:
            raise ValueError("an answer holds addresses or a CNAME, not both (RFC 1034 3.6.2)")
        for address in self.addresses:
            ipaddress.ip_address(address)  # raises ValueError on a typo, before it is served
        if self.cname is not None and not _normal(self.cname):
            raise ValueError("a CNAME target needs a name")
        if not 0 <= self.ttl < 2**31:
            raise ValueError(f"TTL out of range: {self.ttl}")


@dataclass(frozen=True)
class Query:
    """One query the lab DNS answered.

    Attributes:
        name: the queried name, lower-case, without the trailing dot.
        qtype: the query type, e.g. ``A``, ``AAAA``, ``CNAME``.
        source: the asker as ``ip:port`` (``[ip]:port`` for IPv6).
        transport: ``udp`` or ``tcp``.
        answer: the answer records as served, e.g. ``["127.0.0.1"]`` or
            ``["CNAME y.test", "169.254.169.254"]``; empty for NXDOMAIN and NODATA.
        at: when the query arrived, from :func:`time.monotonic`.
    """

    name: str
    qtype: str
    source: str
    transport: str
    answer: list[str]
    at: float


def _normal(name: str) -> str:
    return name.lower().rstrip(".")


class _Zone:
    """The names and their answer sequences; every method takes the lock."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self._answers: dict[str, tuple[Answer, ...]] = {}
        self._steps: dict[tuple[str, int], int] = {}

    def set(self, name: str, answers: tuple[Answer, ...]) -> None:
        with self.lock:
            self._answers[name] = answers
            self._steps = {key: n for key, n in self._steps.items() if key[0] != name}

    def clear(self) -> None:
        with self.lock:
            self._answers.clear()
            self._steps.clear()

    def resolve(self, qname: str, qtype: int) -> tuple[int, list[Any], list[str]]:
        """The rcode, records and their log strings for one question; advances sequences."""
        with self.lock:
            owner, name = qname, _normal(qname)
            if name not in self._answers:
                return RCODE.NXDOMAIN, [], []
            records: list[Any] = []
            served: list[str] = []
            for _ in range(MAX_CNAME_CHAIN):
                answer = self._step(name, qtype)
                if answer.cname is None:
                    for rdata, text in _addresses(answer.addresses, qtype):
                        records.append(RR(owner, qtype, rdata=rdata, ttl=answer.ttl))
                        served.append(text)
                    break
                records.append(RR(owner, QTYPE.CNAME, rdata=CNAME(answer.cname), ttl=answer.ttl))
                served.append(f"CNAME {_normal(answer.cname)}")
                owner, name = answer.cname, _normal(answer.cname)
                # out-of-zone targets are the resolver's to chase, as with any authoritative server
                if qtype == QTYPE.CNAME or name not in self._answers:
                    break
            return RCODE.NOERROR, records, served

    def _step(self, name: str, qtype: int) -> Answer:
        answers = self._answers[name]
        n = self._steps.get((name, qtype), 0)
        self._steps[(name, qtype)] = n + 1
        return answers[n % len(answers)]


def _addresses(addresses: tuple[str, ...], qtype: int) -> list[tuple[Any, str]]:
    """The rdata and log string of each address of the family ``qtype`` asks for."""
    found: list[tuple[Any, str]] = []
    for text in addresses:
        ip = ipaddress.ip_address(text)
        if qtype == QTYPE.A and ip.version == 4:
            found.append((A(tuple(ip.packed)), str(ip)))
        elif qtype == QTYPE.AAAA and isinstance(ip, ipaddress.IPv6Address):
            # dnslib cannot parse "::ffff:a.b.c.d" itself, so it gets the bytes; the log spells
            # mapped addresses dotted on every Python (3.11 and 3.12 print "::ffff:7f00:1")
            mapped = ip.ipv4_mapped
            found.append((AAAA(tuple(ip.packed)), f"::ffff:{mapped}" if mapped else str(ip)))
    return found


def _source(peer: tuple[Any, ...]) -> str:
    host, port = peer[0], peer[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _bind_pair(host: str, port: int) -> tuple[socket.socket, socket.socket]:
    """A UDP and a TCP socket bound to the same ``host:port``; port 0 finds a port free for both."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    for _ in range(PORT_PAIR_ATTEMPTS if port == 0 else 1):
        udp = socket.socket(family, socket.SOCK_DGRAM)
        tcp = socket.socket(family, socket.SOCK_STREAM)
        try:
            udp.bind((host, port))
            tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            tcp.bind((host, udp.getsockname()[1]))
            tcp.listen(64)
            return udp, tcp
        except OSError as exc:
            udp.close()
            tcp.close()
            if port != 0 or exc.errno != errno.EADDRINUSE:
                raise
    raise OSError(errno.EADDRINUSE, f"no port on {host} free for both UDP and TCP")


class _UdpProtocol(asyncio.DatagramProtocol):
    def __init__(self, dns: LabDns) -> None:
        self._dns = dns
        self._transport: asyncio.DatagramTransport | None = None
        self.closed = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # 3.11's selector datagram transport does not subclass DatagramTransport
        self._transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        reply = self._dns._handle(data, addr, "udp")
        if reply is not None and self._transport is not None:
            self._transport.sendto(reply, addr)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)


class LabDns:
    """The suite's authoritative DNS server, answering names set per check, with a query log.

    Args:
        host: the address to bind, UDP and TCP; loopback by default.
        port: the port, 0 for any port free for both UDP and TCP.
    """

    def __init__(self, host: str = "127.0.0.53", port: int = 53) -> None:
        self._udp, self._tcp = _bind_pair(host, port)
        self.host = host
        self.port: int = self._udp.getsockname()[1]
        self._zone = _Zone()
        self._queries: list[Query] = []
        self._by_name: dict[str, list[Query]] = {}  # a whole lab run logs many thousands
        self._loop = asyncio.new_event_loop()
        self._stopping = asyncio.Event()
        self._connections: set[asyncio.Task[None]] = set()
        self._thread: threading.Thread | None = None
        self._started = threading.Event()
        self.crash: BaseException | None = None

    def start(self) -> LabDns:
        """Start serving in a background thread; returns once both listeners are up."""
        self._thread = threading.Thread(target=self._run, name=f"lab-dns-{self.port}", daemon=True)
        self._thread.start()
        if not self._started.wait(STARTUP_TIMEOUT_S):
            raise RuntimeError(f"lab DNS on port {self.port} did not start in time")
        self.raise_crash()
        return self

    def stop(self) -> None:
        """Stop serving, wait for the thread to end and close the sockets."""
        if self._thread is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)
            self._thread.join(SHUTDOWN_TIMEOUT_S)
            self._thread = None
        elif not self._loop.is_closed():
            self._loop.close()
        for sock in (self._udp, self._tcp):
            with contextlib.suppress(OSError):
                sock.close()

    def raise_crash(self) -> None:
        """Re-raise, in the caller's thread, an exception raised while serving."""
        if self.crash is not None:
            crash, self.crash = self.crash, None
            raise crash

    def __enter__(self) -> LabDns:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def set(self, name: str, *answers: Answer) -> None:
        """Answer ``name`` (case-insensitive, trailing dot optional) from now on.

        One answer is served always. Several are a rebinding sequence served in turn, advancing
        separately per query type: the n-th A query of the name gets ``answers[n % len]``, and
        AAAA likewise, so a resolver asking A and AAAA for one lookup sees one step per lookup.
        Setting a name again replaces its answers and starts its sequence over.

        Args:
            name: the name to answer.
            *answers: one answer, or the steps of a sequence.
        """
        if not answers:
            raise ValueError("set() needs at least one Answer")
        if not _normal(name):
            raise ValueError("set() needs a name")
        self._zone.set(_normal(name), answers)

    def address(self, name: str, *addresses: str, ttl: int = 0) -> None:
        """Answer ``name`` with ``addresses`` always; shorthand for one :class:`Answer`.

        Args:
            name: the name to answer.
            *addresses: IPv4 and/or IPv6 addresses; none makes the name exist with no records.
            ttl: the TTL of the records.
        """
        self.set(name, Answer(addresses, ttl=ttl))

    def clear(self) -> None:
        """Forget every name and the query log, e.g. between checks."""
        self._zone.clear()
        with self._zone.lock:
            self._queries.clear()
            self._by_name.clear()

    def queries(self, name: str | None = None) -> list[Query]:
        """The queries answered so far, oldest first, optionally only those for ``name``."""
        with self._zone.lock:
            if name is None:
                return list(self._queries)
            return list(self._by_name.get(_normal(name), ()))

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.set_exception_handler(self._keep_crash)
        try:
            self._loop.run_until_complete(self._serve())
        except BaseException as exc:  # kept for raise_crash, which start() calls
            self.crash = exc
        finally:
            self._started.set()
            self._loop.close()

    def _keep_crash(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        # errors inside asyncio callbacks would otherwise only be logged
        exception = context.get("exception")
        self.crash = exception or RuntimeError(context.get("message", "lab DNS error"))

    async def _serve(self) -> None:
        protocol = _UdpProtocol(self)
        udp, _ = await self._loop.create_datagram_endpoint(lambda: protocol, sock=self._udp)
        tcp = await asyncio.start_server(self._serve_tcp, sock=self._tcp)
        self._started.set()
        try:
            await self._stopping.wait()
        finally:
            udp.close()
            tcp.close()
            for task in self._connections:
                task.cancel()
            await asyncio.gather(*self._connections, return_exceptions=True)
            await tcp.wait_closed()
            await protocol.closed

    async def _serve_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        peer = writer.get_extra_info("peername")
        try:
            # cancelled only by stop(); ending quietly keeps asyncio from reporting it as a crash
            quiet = (asyncio.CancelledError, asyncio.IncompleteReadError, TimeoutError, OSError)
            with contextlib.suppress(*quiet):
                while True:
                    async with asyncio.timeout(TCP_IDLE_TIMEOUT_S):
                        size = int.from_bytes(await reader.readexactly(2), "big")
                        data = await reader.readexactly(size)
                    reply = self._handle(data, peer, "tcp")
                    if reply is None:
                        break
                    writer.write(len(reply).to_bytes(2, "big") + reply)
                    await writer.drain()
        finally:
            self._connections.discard(task)
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    def _handle(self, data: bytes, peer: tuple[Any, ...], transport: str) -> bytes | None:
        """The wire answer to one message, or ``None`` when it is not a query to answer."""
        try:
            request = DNSRecord.parse(data)
        except Exception:  # not DNS: a target's garbage must not fail the check as a crash
            return None
        if request.header.qr:
            return None  # a response, never answered: no loops
        try:
            reply = self._reply(request, _source(peer), transport)
        except Exception as exc:  # kept for raise_crash; the asker gets SERVFAIL
            self.crash = exc
            reply = _skeleton(request, RCODE.SERVFAIL)
        packed: bytes = reply.pack()
        if transport == "udp" and len(packed) > UDP_PAYLOAD_LIMIT:
            truncated = _skeleton(request, reply.header.rcode)
            truncated.header.tc = 1
            packed = truncated.pack()
        return packed

    def _reply(self, request: Any, source: str, transport: str) -> Any:
        if request.header.opcode != 0:
            return _skeleton(request, RCODE.NOTIMP)
        if len(request.questions) != 1:
            return _skeleton(request, RCODE.FORMERR)
        question = request.q
        at = time.monotonic()
        rcode, records, served = self._zone.resolve(str(question.qname), question.qtype)
        reply = _skeleton(request, rcode)
        reply.add_answer(*records)
        query = Query(
            _normal(str(question.qname)), QTYPE[question.qtype], source, transport, served, at
        )
        with self._zone.lock:
            self._queries.append(query)
            self._by_name.setdefault(query.name, []).append(query)
        return reply


def _skeleton(request: Any, rcode: int) -> Any:
    """An authoritative, non-recursive reply to ``request`` with no records."""
    header = DNSHeader(id=request.header.id, qr=1, aa=1, ra=0, rd=request.header.rd, rcode=rcode)
    return DNSRecord(header, q=request.q if len(request.questions) == 1 else None)
