"""The metadata host's log and hosting repertoire, in-process (httpx ASGITransport).

Where TLS and the connection itself are not the point, the host's own ASGI app answers
requests without a socket: each hosting's status, headers and body, and the log entry with
exactly what was sent.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Iterator
from email.utils import parsedate_to_datetime
from pathlib import Path

import httpx
import pytest

from mock_servers.hosting import CONTENT_TYPES, FETCH_ERROR_STATUSES, REDIRECT_STATUSES, Hosting
from mock_servers.metadata_host import MetadataHost
from mock_servers.pki import TestCA

DOC = {"client_id": "https://m.test/c.json", "redirect_uris": ["https://m.test/cb"]}
TIMEOUT = httpx.Timeout(10)


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MetadataHost]:
    """A metadata host that is never started: only its app is used."""
    host = MetadataHost(TestCA.load_or_create(Path(tmp_path_factory.mktemp("log-state"))))
    yield host
    host.stop()


@pytest.fixture
async def client(host: MetadataHost) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=host.app("tls"), client=("127.0.0.5", 4711))
    async with httpx.AsyncClient(
        transport=transport, base_url=host.base_url, timeout=TIMEOUT
    ) as client:
        yield client


async def test_the_log_records_the_request_as_sent(
    host: MetadataHost, client: httpx.AsyncClient
) -> None:
    url = host.new_client_url() + "?v=1&b=%2F"
    host.serve_document(url, DOC)
    headers = {
        "accept": "application/cimd+json",
        "accept-encoding": "gzip, br",
        "user-agent": "target-fetcher/1.0",
        "if-none-match": '"abc"',
        "if-modified-since": "Mon, 01 Jan 2024 00:00:00 GMT",
        "x-forwarded-for": "203.0.113.9",
    }
    answer = await client.get(url, headers=headers)
    assert answer.status_code == 200 and answer.json() == DOC
    assert host.settle(url)
    (fetch,) = host.fetches(url)
    assert (fetch.method, fetch.listener, fetch.http_version) == ("GET", "tls", "1.1")
    assert fetch.target == url.removeprefix(host.base_url)
    assert (fetch.path, fetch.query) == (url.removeprefix(host.base_url).split("?")[0], "v=1&b=%2F")
    assert fetch.host == host.base_url.removeprefix("https://")
    assert fetch.client == "127.0.0.5:4711"
    assert fetch.accept == "application/cimd+json"
    assert fetch.accept_encoding == "gzip, br"
    assert fetch.user_agent == "target-fetcher/1.0"
    assert fetch.if_none_match == '"abc"' and fetch.conditional
    assert fetch.if_modified_since == "Mon, 01 Jan 2024 00:00:00 GMT"
    assert fetch.header("X-Forwarded-For") == "203.0.113.9"
    assert fetch.answered == 200 and fetch.bytes_sent == len(json.dumps(DOC))
    assert fetch.complete and not fetch.disconnected and not fetch.capped and fetch.step == 1
    summary = fetch.summary()
    assert summary["bytes_sent"] == fetch.bytes_sent and summary["answered"] == 200
    assert isinstance(summary["duration_s"], float)


async def test_other_methods_and_unknown_urls_are_logged(
    host: MetadataHost, client: httpx.AsyncClient
) -> None:
    url = host.new_client_url()
    host.serve_document(url, DOC)
    mark = host.mark()
    head = await client.head(url)
    missing = await client.post(host.new_client_url(), content=b"{}")
    endless = host.new_client_url()
    host.serve(endless, Hosting.endless_stream(DOC, cap_bytes=1000))
    assert (await client.head(endless)).status_code == 200
    assert host.settle(endless) and not host.fetches(endless)[0].capped  # no body for HEAD
    assert head.status_code == 200 and head.content == b""
    assert missing.status_code == 404
    logged = host.fetches_since(mark)
    assert [(f.method, f.answered) for f in logged] == [("HEAD", 200), ("POST", 404), ("HEAD", 200)]
    assert host.fetch_count(url) == 1


@pytest.mark.parametrize("status", FETCH_ERROR_STATUSES)
async def test_each_error_status_is_sent(
    host: MetadataHost, client: httpx.AsyncClient, status: int
) -> None:
    url = host.new_client_url()
    host.serve(url, Hosting.with_status(DOC, status))
    answer = await client.get(url)
    assert answer.status_code == status
    if status not in (204, 304):
        assert answer.json() == DOC
    assert host.fetches(url)[0].answered == status


@pytest.mark.parametrize("status", REDIRECT_STATUSES)
async def test_redirects_of_every_kind(
    host: MetadataHost, client: httpx.AsyncClient, status: int
) -> None:
    url, elsewhere = host.new_client_url(), host.new_client_url()
    host.serve_redirect(url, to=elsewhere, status=status)
    answer = await client.get(url)
    assert (answer.status_code, answer.headers["location"]) == (status, elsewhere)
    relative = host.new_client_url()
    host.serve(relative, Hosting.redirect("../other/client.json", status=status))
    assert (await client.get(relative)).headers["location"] == "../other/client.json"
    assert host.fetch_count(elsewhere) == 0


async def test_a_redirect_chain_and_a_loop(host: MetadataHost, client: httpx.AsyncClient) -> None:
    url, final = host.new_client_url(), host.new_client_url()
    host.serve_document(final, DOC)
    hops = host.serve_redirect_chain(url, to=final, hops=3, status=307, relative=True)
    assert len(hops) == 2
    answer = await client.get(url, follow_redirects=True)
    assert answer.json() == DOC and len(answer.history) == 3
    assert answer.history[0].headers["location"].startswith("/c/")  # relative references
    start = host.new_client_url()
    loop = host.serve_redirect_loop(start, length=2)
    with pytest.raises(httpx.TooManyRedirects):
        await client.get(start, follow_redirects=True)
    assert host.fetch_count(start) > 1 and host.fetch_count(loop[0]) > 1


@pytest.mark.parametrize("content_type", CONTENT_TYPES)
async def test_content_types(
    host: MetadataHost, client: httpx.AsyncClient, content_type: str | None
) -> None:
    url = host.new_client_url()
    host.serve(url, Hosting.document(DOC, content_type=content_type))
    answer = await client.get(url)
    assert answer.headers.get("content-type") == content_type
    assert answer.json() == DOC


async def test_cache_headers(host: MetadataHost, client: httpx.AsyncClient) -> None:
    for cache_control in ("no-store", "no-cache", "max-age=0", "max-age=3600"):
        url = host.new_client_url()
        host.serve(url, Hosting.cached(DOC, cache_control))
        assert (await client.get(url)).headers["cache-control"] == cache_control
    url = host.new_client_url()
    host.serve(url, Hosting.expiring(DOC, in_s=60))
    answer = await client.get(url)
    assert "cache-control" not in answer.headers
    ahead = parsedate_to_datetime(answer.headers["expires"]).timestamp() - time.time()
    assert 55 <= ahead <= 61  # computed when sent, not when served


async def test_etag_and_last_modified_are_answered_304(
    host: MetadataHost, client: httpx.AsyncClient
) -> None:
    url = host.new_client_url()
    host.serve(url, Hosting.validated(DOC, etag='"v7"'))
    full = await client.get(url)
    assert full.status_code == 200 and full.headers["etag"] == '"v7"'
    revalidated = await client.get(url, headers={"if-none-match": full.headers["etag"]})
    by_date = await client.get(url, headers={"if-modified-since": full.headers["last-modified"]})
    changed = await client.get(url, headers={"if-none-match": '"v6"'})
    assert (revalidated.status_code, revalidated.content) == (304, b"")
    assert revalidated.headers["cache-control"] == "no-cache"
    assert by_date.status_code == 304 and changed.status_code == 200
    assert [f.answered for f in host.fetches(url)] == [200, 304, 304, 200]
    assert [f.conditional for f in host.fetches(url)] == [False, True, True, True]


async def test_the_nth_fetch_gets_the_nth_hosting(
    host: MetadataHost, client: httpx.AsyncClient
) -> None:
    url = host.new_client_url()
    changed = {**DOC, "redirect_uris": ["https://m.test/other"]}
    host.serve(
        url,
        Hosting.cached(DOC, "max-age=86400", status=503).then(
            Hosting.document(DOC), Hosting.document(changed)
        ),
    )
    answers = [await client.get(url) for _ in range(4)]
    assert [a.status_code for a in answers] == [503, 200, 200, 200]
    assert [a.json() for a in answers[1:]] == [DOC, changed, changed]
    assert [f.step for f in host.fetches(url)] == [1, 2, 3, 3]
    host.serve(url, Hosting.document(DOC).then(Hosting.with_status(DOC, 404)))  # counts anew
    assert [(await client.get(url)).status_code for _ in range(2)] == [200, 404]


async def test_a_dripped_body_arrives_whole(host: MetadataHost, client: httpx.AsyncClient) -> None:
    url = host.new_client_url()
    host.serve(url, Hosting.dripping(DOC, every_ms=1, head=False))
    answer = await client.get(url)
    assert answer.json() == DOC
    assert host.settle(url) and host.fetches(url)[0].bytes_sent == len(json.dumps(DOC))


async def test_the_pacing_cache_control_replaces_no_store_on_default_documents(
    tmp_path: Path,
) -> None:
    host = MetadataHost(TestCA.load_or_create(tmp_path / "state"), cache_control="max-age=600")
    try:
        plain, own = host.new_client_url(), host.new_client_url()
        host.serve_document(plain, DOC)
        host.serve(own, Hosting.cached(DOC, "no-cache"))
        transport = httpx.ASGITransport(app=host.app("plain"))
        async with httpx.AsyncClient(transport=transport, timeout=TIMEOUT) as client:
            assert (await client.get(plain)).headers["cache-control"] == "max-age=600"
            assert (await client.get(own)).headers["cache-control"] == "no-cache"
        assert {f.listener for f in host.fetches()} == {"plain"}
    finally:
        host.stop()
