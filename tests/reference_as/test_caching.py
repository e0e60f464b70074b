"""The reference AS's document cache (CIMD-CACHE) and metadata read afresh at the token
endpoint (CIMD-CHG-02, CIMD-AUTHN-06), with the faults that break each."""

from __future__ import annotations

from typing import Any

from conformance.harness.client_assertions import ASSERTION_TYPE, ClientKey
from mock_servers.reference_as import F
from mock_servers.reference_as.fetching import DocumentCache, freshness_lifetime

from .conftest import AS_ORIGIN, ASClient, DocumentHost, authz_params, golden, pkce
from .test_flow import CALLBACK, consent_page, query_of

TOKEN_ENDPOINT = AS_ORIGIN + "/token"


async def _status(client: ASClient, url: str, redirect_uri: str = CALLBACK) -> int:
    await client.login()
    response = await client.authorize(**authz_params(url, redirect_uri, pkce()[1]))
    return response.status_code


def test_freshness_lifetime_reads_max_age_within_bounds() -> None:
    assert freshness_lifetime("max-age=60") == 60
    assert freshness_lifetime("max-age=99999") == 3600
    for value in ("no-store", "no-cache, max-age=60", "max-age=0", "", "max-age=1, max-age=2"):
        assert freshness_lifetime(value) is None


def test_cache_expires_entries() -> None:
    cache: DocumentCache[str] = DocumentCache()
    cache.put("a", "kept", "no-store")
    assert cache.get("a") is None
    cache.put("a", "kept", "max-age=60")
    assert cache.get("a") == "kept" and cache.get("A") is None
    cache.store("a", "kept", 0)
    assert cache.get("a") is None


def test_a_bounded_cache_drops_the_least_recently_used() -> None:
    """The ``small-cache`` variant's cache: fresh entries go when it is full, oldest use first."""
    cache: DocumentCache[str] = DocumentCache(capacity=2)
    cache.put("a", "A", "max-age=60")
    cache.put("b", "B", "max-age=60")
    assert cache.get("a") == "A"  # a is now the most recently used
    cache.put("c", "C", "max-age=60")
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == ("A", None, "C")


async def test_no_store_documents_are_fetched_every_time(
    client: ASClient, docs: DocumentHost, make_client: Any
) -> None:
    url = docs.new_url()
    docs.serve_document(url)
    assert await _status(client, url) == 200 and await _status(client, url) == 200
    assert docs.fetches(url) == 2
    faulted = make_client(F.IGNORES_NO_STORE)
    assert await _status(faulted, url) == 200 and await _status(faulted, url) == 200
    assert docs.fetches(url) == 3


async def test_errors_and_invalid_documents_are_not_cached(
    client: ASClient, docs: DocumentHost, make_client: Any
) -> None:
    day = [("cache-control", "max-age=86400")]
    for fault in (None, F.CACHES_ERRORS, F.CACHES_INVALID_DOCUMENTS):
        as_client = client if fault is None else make_client(fault)
        failing = docs.new_url()
        docs.serve(failing, golden(failing), status=503, headers=day)
        invalid = docs.new_url()
        docs.serve(invalid, golden(docs.new_url()), headers=day)
        assert await _status(as_client, failing) == 400
        assert await _status(as_client, invalid) == 400
        for url in (failing, invalid):
            docs.serve_document(url)
        error_cached, invalid_cached = fault is F.CACHES_ERRORS, fault is F.CACHES_INVALID_DOCUMENTS
        assert await _status(as_client, failing) == (400 if error_cached else 200)
        assert await _status(as_client, invalid) == (400 if invalid_cached else 200)


async def test_cache_is_keyed_by_the_exact_identifier(
    client: ASClient, docs: DocumentHost, make_client: Any
) -> None:
    for fault in (None, F.CACHE_KEYED_NORMALIZED):
        as_client = client if fault is None else make_client(fault)
        url = docs.new_url("/client.json?a=1&b=2")
        docs.serve_document(url, cache_control="max-age=3600")
        assert await _status(as_client, url) == 200
        other = url.replace("a=1&b=2", "b=2&a=1")
        docs.serve(other, golden(url), headers=[("cache-control", "max-age=3600")])
        assert await _status(as_client, other) == (200 if fault else 400)


async def test_pinned_redirect_uris_fault(docs: DocumentHost, make_client: Any) -> None:
    for fault in (None, F.REDIRECT_URIS_PINNED_AT_FIRST_FETCH):
        as_client = make_client() if fault is None else make_client(fault)
        url = docs.new_url()
        docs.serve_document(url)
        assert await _status(as_client, url) == 200
        docs.serve_document(url, redirect_uris=["https://client.test/other"])
        assert await _status(as_client, url) == (200 if fault else 400)


async def _redeem_after_change(
    as_client: ASClient, docs: DocumentHost, first: dict[str, Any], then: dict[str, Any]
) -> tuple[str, dict[str, str]]:
    """A code for a client with members ``first``; the document then changes to ``then``."""
    url = docs.new_url()
    docs.serve_document(url, **first)
    verifier, challenge = pkce()
    page, _ = await consent_page(as_client, url, (verifier, challenge))
    code = query_of(await as_client.approve(page))["code"]
    docs.serve_document(url, **then)
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "client_id": url,
        "redirect_uri": CALLBACK,
        "code_verifier": verifier,
    }
    return url, form


async def test_token_endpoint_reads_the_document_afresh(
    docs: DocumentHost, make_client: Any
) -> None:
    key = ClientKey.new()
    pkj = {"token_endpoint_auth_method": "private_key_jwt", "jwks": key.jwks()}
    for fault in (None, F.CLIENT_FROM_AUTHORIZATION):
        as_client = make_client() if fault is None else make_client(fault)
        _, form = await _redeem_after_change(as_client, docs, {}, pkj)
        response = await as_client.token(**form)
        assert response.status_code == (200 if fault else 401), response.text


async def test_removed_key_stops_authenticating(docs: DocumentHost, make_client: Any) -> None:
    old, new = ClientKey.new(), ClientKey.new()
    both = {"keys": old.jwks()["keys"] + new.jwks()["keys"]}
    auth = {"token_endpoint_auth_method": "private_key_jwt"}
    for fault in (None, F.KEYS_PINNED_AT_FIRST_FETCH, F.CLIENT_FROM_AUTHORIZATION):
        as_client = make_client() if fault is None else make_client(fault)
        url, form = await _redeem_after_change(
            as_client, docs, {**auth, "jwks": both}, {**auth, "jwks": new.jwks()}
        )
        form |= {
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": old.assertion(url, TOKEN_ENDPOINT),
        }
        response = await as_client.token(**form)
        assert response.status_code == (200 if fault else 401), response.text
