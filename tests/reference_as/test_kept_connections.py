"""The reference AS keeps its connections to a client host between fetches while it is served.

Each test serves the app on a real socket (hypercorn runs its lifespan) or drives it directly
(no lifespan), sends authorization requests for fresh documents on the TLS document host, and
counts the TCP connections that host accepted.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from mock_servers.reference_as import F, Fault, FaultSet, IssuerConfig, create_app
from mock_servers.reference_as.fetching import SMALL_REST
from mock_servers.runner import Server

from .conftest import AS_ORIGIN, DocumentHost, authz_params, golden, pkce

CLOSE_WAIT_S = 2.0  # within the host's keep-alive time (5 s): the AS closes, not the host


def _served(ca_path: Path, *faults: Fault) -> Server:
    config = IssuerConfig(issuer=AS_ORIGIN, faults=FaultSet(faults), trust_ca=ca_path)
    return Server(create_app([config]))


async def _fetch_twice(http: httpx.AsyncClient, docs: DocumentHost) -> int:
    """Two fresh clients' authorization requests; the TCP connections the host accepted."""
    before, _ = docs.connections.snapshot()
    for _ in range(2):
        url = docs.new_url()
        docs.serve_document(url)
        _, challenge = pkce()
        params = authz_params(url, "https://app.test/cb", challenge)
        response = await http.get("/authorize", params=params)
        assert response.status_code == 302, response.text  # to the login page
        assert docs.fetches(url) == 1
    accepted, _ = docs.connections.snapshot()
    return accepted - before


async def _refused_then_fetched(http: httpx.AsyncClient, docs: DocumentHost, body: bytes) -> int:
    """A client whose URL answers 404 with ``body``, then a fresh one; the connections made."""
    before, _ = docs.connections.snapshot()
    missing = docs.new_url()
    docs.serve(missing, body, status=404, headers=[("content-type", "text/plain")])
    _, challenge = pkce()
    response = await http.get("/authorize", params=authz_params(missing, None, challenge))
    assert response.status_code == 400, response.text  # the document could not be retrieved
    assert docs.fetches(missing) == 1
    url = docs.new_url()
    docs.serve_document(url)
    response = await http.get(
        "/authorize", params=authz_params(url, "https://app.test/cb", challenge)
    )
    assert response.status_code == 302, response.text
    accepted, _ = docs.connections.snapshot()
    return accepted - before


def _open(docs: DocumentHost) -> int:
    """The document host's connections not closed (nor closing)."""
    return sum(1 for transport in docs.connections.live() if not transport.is_closing())


@pytest.fixture
def served(ca_path: Path) -> Iterator[Server]:
    with _served(ca_path) as server:
        yield server


async def test_a_served_as_fetches_two_documents_over_one_connection(
    served: Server, docs: DocumentHost
) -> None:
    async with httpx.AsyncClient(base_url=served.base_url) as http:
        assert await _fetch_twice(http, docs) == 1


async def test_a_kept_connection_carries_no_cookie_the_host_set(
    served: Server, docs: DocumentHost
) -> None:
    first, second = docs.new_url(), docs.new_url()
    docs.serve(first, golden(first), headers=[("set-cookie", "host-session=abc123; Path=/")])
    docs.serve_document(second)
    before, _ = docs.connections.snapshot()
    _, challenge = pkce()
    async with httpx.AsyncClient(base_url=served.base_url) as http:
        for url in (first, second):
            params = authz_params(url, "https://app.test/cb", challenge)
            response = await http.get("/authorize", params=params)
            assert response.status_code == 302, response.text
    accepted, _ = docs.connections.snapshot()
    assert accepted - before == 1  # the second fetch went over the first's connection
    assert [entry.headers.get("cookie") for entry in docs.log] == [None, None]


async def test_an_error_answer_with_a_small_body_keeps_its_connection(
    served: Server, docs: DocumentHost
) -> None:
    async with httpx.AsyncClient(base_url=served.base_url) as http:
        assert await _refused_then_fetched(http, docs, b"not found") == 1


async def test_an_error_answer_with_a_large_body_is_not_read_and_its_connection_closes(
    served: Server, docs: DocumentHost
) -> None:
    async with httpx.AsyncClient(base_url=served.base_url) as http:
        assert await _refused_then_fetched(http, docs, b"x" * (SMALL_REST + 1)) == 2


async def test_an_as_driven_without_lifespan_connects_for_each_fetch(
    ca_path: Path, docs: DocumentHost
) -> None:
    config = IssuerConfig(issuer=AS_ORIGIN, trust_ca=ca_path)
    transport = httpx.ASGITransport(app=create_app([config]))
    async with httpx.AsyncClient(transport=transport, base_url=AS_ORIGIN) as http:
        assert await _fetch_twice(http, docs) == 2


async def test_a_fetch_not_pinned_to_a_checked_address_connects_each_time(
    ca_path: Path, docs: DocumentHost
) -> None:
    # the rebinding fault resolves the name again for the connection: a kept connection
    # would hide that second resolution
    with _served(ca_path, F.SSRF_REBINDING) as server:
        async with httpx.AsyncClient(base_url=server.base_url) as http:
            assert await _fetch_twice(http, docs) == 2


async def test_stopping_the_as_closes_its_kept_connections(
    ca_path: Path, docs: DocumentHost
) -> None:
    live = _open(docs)
    with _served(ca_path) as server:
        async with httpx.AsyncClient(base_url=server.base_url) as http:
            assert await _fetch_twice(http, docs) == 1
        assert _open(docs) == live + 1  # kept for the next fetch
    for _ in range(int(CLOSE_WAIT_S / 0.05)):
        if _open(docs) == live:
            break
        await asyncio.sleep(0.05)
    assert _open(docs) == live
