"""Connections the reference AS keeps between document fetches (``reuse_connections``).

Against the metadata host over real TLS on loopback: fetches from one checked address share
a connection only when the issuer reuses connections; the SSRF guard still judges every URL
first; a connection the host closed, or one left with bytes nobody asked for, is never used
again; the kept connections close with the app.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from mock_servers.hosting import Hosting
from mock_servers.metadata_host import MetadataHost
from mock_servers.pki import TestCA
from mock_servers.reference_as import IssuerConfig, create_app
from mock_servers.reference_as.fetching import Fetcher, FetchError
from mock_servers.runner import Server


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> TestCA:
    return TestCA.load_or_create(Path(tmp_path_factory.mktemp("fetch-connections")))


@pytest.fixture(scope="module")
def host(ca: TestCA) -> Iterator[MetadataHost]:
    with MetadataHost(ca) as host:
        yield host
        host.raise_crash()


def _config(ca: TestCA, *, reuse: bool, exempt: frozenset[str] | None = None) -> IssuerConfig:
    more = {} if exempt is None else {"exempt_hosts": exempt}
    return IssuerConfig("https://as.test", trust_ca=ca.cert_path, reuse_connections=reuse, **more)


def _document(host: MetadataHost, url: str) -> None:
    host.serve(url, Hosting.document({"client_id": url, "redirect_uris": ["https://m.test/cb"]}))


async def _connections(host: MetadataHost, fetcher: Fetcher, count: int) -> list[str]:
    """The client address and port each of ``count`` fresh documents was fetched over."""
    urls = [host.new_client_url() for _ in range(count)]
    for url in urls:
        _document(host, url)
        await fetcher.fetch(url)
    return [host.fetches(url)[0].client for url in urls]


@pytest.mark.parametrize(("reuse", "connections"), [(True, 1), (False, 3)])
async def test_fetches_from_one_address_share_a_connection_only_when_reusing(
    host: MetadataHost, ca: TestCA, reuse: bool, connections: int
) -> None:
    fetcher = Fetcher(_config(ca, reuse=reuse))
    try:
        clients = await _connections(host, fetcher, 3)
    finally:
        await fetcher.aclose()
    assert len(set(clients)) == connections


async def test_a_kept_connection_sends_no_cookie_an_answer_set(
    host: MetadataHost, ca: TestCA
) -> None:
    fetcher = Fetcher(_config(ca, reuse=True))
    try:
        setting = host.new_client_url()
        doc = {"client_id": setting, "redirect_uris": ["https://m.test/cb"]}
        hosting = Hosting.document(doc)
        cookie = ("set-cookie", "seen=1; Path=/; Secure")
        host.serve(setting, Hosting.document(doc, headers=(*hosting.headers, cookie)))
        await fetcher.fetch(setting)
        later = await _connections(host, fetcher, 1)
    finally:
        await fetcher.aclose()
    assert later[0] == host.fetches(setting)[0].client  # the same connection
    assert host.fetches()[-1].header("cookie") is None


async def test_the_guard_judges_every_url_though_a_connection_is_kept(
    host: MetadataHost, ca: TestCA
) -> None:
    # the development exception names 127.0.0.1 as written: localhost is refused, although
    # it is the same address and a connection to that address is open
    fetcher = Fetcher(_config(ca, reuse=True, exempt=frozenset({"127.0.0.1"})))
    try:
        await _connections(host, fetcher, 1)
        refused = host.new_client_url(base=host.base_url.replace("127.0.0.1", "localhost"))
        _document(host, refused)
        with pytest.raises(FetchError, match="not allowed"):
            await fetcher.fetch(refused)
    finally:
        await fetcher.aclose()
    assert host.fetches(refused) == []


async def test_a_connection_with_unasked_bytes_or_closed_is_not_used_again(
    host: MetadataHost, ca: TestCA
) -> None:
    fetcher = Fetcher(_config(ca, reuse=True))
    try:
        first = (await _connections(host, fetcher, 1))[0]
        lying = host.new_client_url()
        doc = {"client_id": lying, "redirect_uris": ["https://m.test/cb"]}
        host.serve(lying, Hosting.lying_length(doc, declared=10))  # more bytes than declared
        assert len((await fetcher.fetch(lying)).body) == 10
        after = await _connections(host, fetcher, 2)
    finally:
        await fetcher.aclose()
    assert host.fetches(lying)[0].client == first  # the kept connection asked for it
    assert after[0] != first and after[1] == after[0]  # then a new one, kept in turn


async def test_a_fetch_in_another_event_loop_gets_its_own_connection(
    host: MetadataHost, ca: TestCA
) -> None:
    fetcher = Fetcher(_config(ca, reuse=True))
    try:
        here = await _connections(host, fetcher, 1)
        elsewhere = await asyncio.to_thread(asyncio.run, _connections(host, fetcher, 2))
    finally:
        await fetcher.aclose()
    assert len({*here, *elsewhere}) == 3  # no connection crossed loops; none kept there


def _established(client: str) -> bool:
    """Whether this machine holds an established TCP connection from ``client`` (IPv4)."""
    address, port = client.rsplit(":", 1)
    local = f"{ipaddress.ip_address(address).packed[::-1].hex().upper()}:{int(port):04X}"
    rows = [line.split() for line in Path("/proc/net/tcp").read_text().splitlines()[1:]]
    return any(row[1] == local and row[3] == "01" for row in rows)  # 01: ESTABLISHED


def test_the_app_closes_its_kept_connections_when_it_stops(host: MetadataHost, ca: TestCA) -> None:
    url = host.new_client_url()
    _document(host, url)
    with Server(create_app([_config(ca, reuse=True)])) as server:  # plain HTTP on loopback
        params = {
            "response_type": "code",
            "client_id": url,
            "redirect_uri": "https://m.test/cb",
            "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            "code_challenge_method": "S256",
        }
        httpx.get(f"{server.base_url}/authorize", params=params, timeout=10)
        client = host.fetches(url)[0].client
        assert _established(client)  # kept for the next fetch
    assert not _established(client)  # closed as the app stopped, not left to the host
