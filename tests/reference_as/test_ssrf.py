"""The reference AS's SSRF guard: the special-use tables, resolution checks and pinning.

No test resolves a name through real DNS: ``resolver`` answers scripted names itself, passes
numeric hosts and ``localhost`` (``/etc/hosts``) to the system resolver, and fails every other
name, so nothing leaves loopback.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpcore
import httpx
import pytest
import trustme

from cimd_rules.loopback import IPV4_LOOPBACK_SPELLINGS, Spelling
from mock_servers.reference_as.config import DEV_EXEMPT_HOSTS
from mock_servers.reference_as.ssrf import (
    SsrfPolicy,
    SsrfRefused,
    checked_addresses,
    guarded_client_kwargs,
    special_use,
    transport,
)

SPECIAL_USE = [
    "127.0.0.1",
    "127.9.9.9",
    "0.0.0.0",
    "10.0.0.1",
    "172.16.0.1",
    "192.168.0.1",
    "100.64.0.1",
    "169.254.169.254",
    "192.0.0.1",
    "198.18.0.1",
    "240.0.0.1",
    "255.255.255.255",
    "224.0.0.1",
    "192.0.2.1",
    "::1",
    "::",
    "::127.0.0.1",
    "fc00::1",
    "fe80::1",
    "fe80::1%1",
    "ff02::1",
    "::ffff:127.0.0.1",
    "::ffff:a9fe:a9fe",
    "64:ff9b::a00:1",
    "64:ff9b:1::1",
    "2001::1",
    "2001:db8::1",
    "2002:7f00:1::1",
    "3fff::1",
]
PUBLIC = ["93.184.215.14", "11.0.0.10", "2606:4700::1111", "::ffff:93.184.215.14", "64:ff9b::b00:a"]
DISGUISED_LOOPBACK = ["2130706433", "0x7f000001", "0177.0.0.1", "127.1", "localhost", "::1"]
PINNED_NAME = "pinned.example.test"
BODY = b"pinned-response-" * 4096


@dataclass
class Resolver:
    """Scripted DNS: each lookup of a name takes the next answer set."""

    script: dict[str, list[list[str]]] = field(default_factory=dict)
    lookups: list[str] = field(default_factory=list)

    def answers(self, name: str, port: int) -> list[tuple[Any, ...]]:
        self.lookups.append(name)
        if name not in self.script or not self.script[name]:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [_addrinfo(address, port) for address in self.script[name].pop(0)]


def _addrinfo(address: str, port: int) -> tuple[Any, ...]:
    if ipaddress.ip_address(address).version == 6:
        return (socket.AF_INET6, socket.SOCK_STREAM, 6, "", (address, port, 0, 0))
    return (socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))


@pytest.fixture(autouse=True)
def resolver(monkeypatch: pytest.MonkeyPatch) -> Resolver:
    scripted = Resolver()
    real = socket.getaddrinfo

    def getaddrinfo(
        host: bytes | str | None, port: Any, family: int = 0, type: int = 0, *rest: Any
    ) -> list[tuple[Any, ...]]:
        name = host.decode() if isinstance(host, bytes) else str(host)
        if name == "localhost":
            return real(host, port, family, type, *rest)
        try:
            return real(host, port, family, type, 0, socket.AI_NUMERICHOST)
        except socket.gaierror:
            return scripted.answers(name, int(port))

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return scripted


@pytest.mark.parametrize("address", SPECIAL_USE)
def test_special_use_addresses_are_named(address: str) -> None:
    assert special_use(ipaddress.ip_address(address)) is not None


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_are_allowed(address: str) -> None:
    assert special_use(ipaddress.ip_address(address)) is None


def test_names_give_block_and_rfc() -> None:
    assert special_use(ipaddress.ip_address("127.0.0.1")) == "Loopback (RFC 1122)"
    mapped = special_use(ipaddress.ip_address("::ffff:10.0.0.1"))
    assert mapped == "Private-Use in IPv4-mapped Address (RFC 1918)"


def test_mapped_addresses_judged_as_ipv6_under_fault() -> None:
    assert special_use(ipaddress.ip_address("::ffff:127.0.0.1"), recognise_mapped=False) is None
    nat64 = ipaddress.ip_address("64:ff9b::a00:1")
    assert special_use(nat64, recognise_mapped=False) is not None


@pytest.mark.parametrize("address", SPECIAL_USE)
async def test_special_use_literal_refused(address: str) -> None:
    with pytest.raises(SsrfRefused, match=r"^is "):
        await checked_addresses(address, 443, SsrfPolicy())


@pytest.mark.parametrize("address", PUBLIC)
async def test_public_literal_allowed(address: str) -> None:
    canonical = str(ipaddress.ip_address(address))
    assert await checked_addresses(address, 443, SsrfPolicy()) == [canonical]


@pytest.mark.parametrize("host", DISGUISED_LOOPBACK)
async def test_disguised_loopback_refused(host: str) -> None:
    with pytest.raises(SsrfRefused, match=r"(Loopback|Loopback Address), RFC"):
        await checked_addresses(host, 443, SsrfPolicy())


@pytest.mark.parametrize("spelling", IPV4_LOOPBACK_SPELLINGS, ids=lambda s: s.host)
@pytest.mark.parametrize("exempt", [frozenset(), DEV_EXEMPT_HOSTS], ids=["production", "dev"])
async def test_every_loopback_spelling_the_suite_plants_is_refused(
    spelling: Spelling, exempt: frozenset[str]
) -> None:
    host = spelling.host.removeprefix("[").removesuffix("]")  # httpx's form of the URL host
    with pytest.raises(SsrfRefused, match=r"(127\.0\.0\.1|::ffff:7f00:1) \(Loopback"):
        await checked_addresses(host, 443, SsrfPolicy(exempt_hosts=exempt))


async def test_name_resolving_to_private_address_refused(resolver: Resolver) -> None:
    resolver.script["intranet.example.test"] = [["10.0.0.1"]]
    with pytest.raises(SsrfRefused) as refused:
        await checked_addresses("intranet.example.test", 443, SsrfPolicy())
    assert refused.value.reason == "resolves to 10.0.0.1 (Private-Use, RFC 1918)"


async def test_answer_set_mixing_public_and_special_refused(resolver: Resolver) -> None:
    resolver.script["mixed.example.test"] = [["93.184.215.14", "2606:4700::1111", "fd00::1"]]
    with pytest.raises(SsrfRefused, match=r"fd00::1 \(Unique-Local, RFC 4193\)"):
        await checked_addresses("mixed.example.test", 443, SsrfPolicy())


async def test_public_name_returns_answers_in_resolver_order(resolver: Resolver) -> None:
    resolver.script["public.example.test"] = [["2606:4700::1111", "93.184.215.14"]]
    addresses = await checked_addresses("public.example.test", 443, SsrfPolicy())
    assert addresses == ["2606:4700::1111", "93.184.215.14"]


async def test_unresolvable_name_refused() -> None:
    with pytest.raises(SsrfRefused) as refused:
        await checked_addresses("nowhere.example.test", 443, SsrfPolicy())
    assert refused.value.reason == "does not resolve"


async def test_exempt_host_allowed_only_as_written() -> None:
    policy = SsrfPolicy(exempt_hosts=frozenset({"127.0.0.1"}))
    assert await checked_addresses("127.0.0.1", 443, policy) == ["127.0.0.1"]
    for host in ("127.1", "2130706433", "localhost", "::1", "::ffff:127.0.0.1"):
        with pytest.raises(SsrfRefused):
            await checked_addresses(host, 443, policy)


async def test_exempt_ipv6_host_matches_with_or_without_brackets() -> None:
    for listed in ("::1", "[::1]"):
        policy = SsrfPolicy(exempt_hosts=frozenset({listed}))
        assert await checked_addresses("::1", 443, policy) == ["::1"]


async def test_names_unchecked_under_fault() -> None:
    policy = SsrfPolicy(check_names=False)
    assert await checked_addresses("localhost", 443, policy) == ["127.0.0.1"]
    with pytest.raises(SsrfRefused):
        await checked_addresses("127.0.0.2", 443, policy)


async def test_mapped_loopback_passes_under_fault() -> None:
    policy = SsrfPolicy(recognise_mapped=False)
    assert await checked_addresses("::ffff:127.0.0.1", 443, policy) == ["::ffff:7f00:1"]


async def test_disabled_policy_checks_nothing() -> None:
    assert await checked_addresses("10.0.0.1", 443, SsrfPolicy(enabled=False)) == ["10.0.0.1"]


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def client_ssl(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


@dataclass
class TlsServer:
    port: int
    server_names: list[str | None] = field(default_factory=list)
    hosts: list[str] = field(default_factory=list)


@pytest.fixture
async def tls_server(ca: trustme.CA) -> AsyncIterator[TlsServer]:
    """An HTTPS server on 127.0.0.1 holding a certificate for names no resolver knows."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(PINNED_NAME, "rebind.example.test").configure_cert(context)
    state = TlsServer(port=0)
    context.sni_callback = lambda _, name, __: state.server_names.append(name)

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        for line in head.decode().split("\r\n"):
            if line.lower().startswith("host:"):
                state.hosts.append(line.split(":", 1)[1].strip())
        writer.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\n")
        writer.write(b"Content-Length: %d\r\n\r\n" % len(BODY) + BODY)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0, ssl=context)
    state.port = server.sockets[0].getsockname()[1]
    yield state
    server.close()
    await server.wait_closed()


async def test_pinned_transport_connects_to_address_and_verifies_name(
    tls_server: TlsServer, client_ssl: ssl.SSLContext, resolver: Resolver
) -> None:
    url = f"https://{PINNED_NAME}:{tls_server.port}/x"
    async with httpx.AsyncClient(transport=transport("127.0.0.1", client_ssl)) as client:
        response = await client.get(url)
    assert response.status_code == 200
    assert response.content == BODY
    assert tls_server.server_names == [PINNED_NAME]
    assert tls_server.hosts == [f"{PINNED_NAME}:{tls_server.port}"]
    assert PINNED_NAME not in resolver.lookups


async def test_pinned_transport_streams(tls_server: TlsServer, client_ssl: ssl.SSLContext) -> None:
    url = f"https://{PINNED_NAME}:{tls_server.port}/x"
    received = bytearray()
    async with (
        httpx.AsyncClient(transport=transport("127.0.0.1", client_ssl)) as client,
        client.stream("GET", url) as response,
    ):
        async for chunk in response.aiter_raw():
            received += chunk
    assert bytes(received) == BODY


async def test_pinned_transport_rejects_certificate_for_other_name(
    tls_server: TlsServer, client_ssl: ssl.SSLContext
) -> None:
    url = f"https://other.example.test:{tls_server.port}/x"
    async with httpx.AsyncClient(transport=transport("127.0.0.1", client_ssl)) as client:
        with pytest.raises(httpx.ConnectError, match="certificate"):
            await client.get(url)


async def test_pinned_fetch_ignores_rebound_answer(
    resolver: Resolver, client_ssl: ssl.SSLContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    resolver.script["rebind.example.test"] = [["11.0.0.10"], ["127.0.0.1"]]
    connects: list[tuple[str, int]] = []

    async def refuse_connect(self: object, host: str, port: int, **_: Any) -> None:
        connects.append((host, port))  # never connect beyond loopback
        raise httpcore.ConnectError("test: no outbound connections")

    monkeypatch.setattr(httpcore.AnyIOBackend, "connect_tcp", refuse_connect)
    url = "https://rebind.example.test:8443/x"
    kwargs = await guarded_client_kwargs(url, SsrfPolicy(), client_ssl)
    async with httpx.AsyncClient(trust_env=False, **kwargs) as client:
        with pytest.raises(httpx.ConnectError):
            await client.get(url)
    assert connects == [("11.0.0.10", 8443)]
    assert resolver.lookups == ["rebind.example.test"]


async def test_unpinned_fetch_follows_rebound_answer_under_fault(
    resolver: Resolver, tls_server: TlsServer, client_ssl: ssl.SSLContext
) -> None:
    resolver.script["rebind.example.test"] = [["11.0.0.10"], ["127.0.0.1"]]
    url = f"https://rebind.example.test:{tls_server.port}/x"
    kwargs = await guarded_client_kwargs(url, SsrfPolicy(pin=False), client_ssl)
    async with httpx.AsyncClient(trust_env=False, **kwargs) as client:
        response = await client.get(url)
    assert response.content == BODY  # the rebinding reached loopback
    assert resolver.lookups == ["rebind.example.test", "rebind.example.test"]


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://93.184.215.14/x", "gopher://a/"])
async def test_non_http_scheme_refused(url: str, client_ssl: ssl.SSLContext) -> None:
    with pytest.raises(SsrfRefused, match="scheme not allowed"):
        await guarded_client_kwargs(url, SsrfPolicy(), client_ssl)


@pytest.mark.parametrize("host", ["127.0.0.1", "[::1]", "2130706433", "[::ffff:10.0.0.1]"])
async def test_guarded_client_refuses_special_use_url(
    host: str, client_ssl: ssl.SSLContext
) -> None:
    with pytest.raises(SsrfRefused):
        await guarded_client_kwargs(f"http://{host}:8080/doc.json", SsrfPolicy(), client_ssl)


@pytest.mark.parametrize(
    ("policy", "pinned"),
    [
        (SsrfPolicy(exempt_hosts=frozenset({"127.0.0.1"})), True),
        (SsrfPolicy(exempt_hosts=frozenset({"127.0.0.1"}), pin=False), False),
        (SsrfPolicy(enabled=False), False),
    ],
)
async def test_guarded_client_pins_unless_faulted(
    policy: SsrfPolicy, pinned: bool, client_ssl: ssl.SSLContext
) -> None:
    kwargs = await guarded_client_kwargs("https://127.0.0.1/doc.json", policy, client_ssl)
    assert isinstance(kwargs["transport"], httpx.AsyncHTTPTransport) is not pinned
    await kwargs["transport"].aclose()
