"""The authorization endpoint: identifier syntax, fetch rules, validation, redirect URIs."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from mock_servers.pki import TestCA
from mock_servers.reference_as import IssuerConfig, create_app

from .conftest import ASClient, DocumentHost, authz_params, golden, pkce, query_of

CALLBACK = "https://app.test/cb"


def assert_error_page(response: httpx.Response, error: str = "invalid_client") -> None:
    assert response.status_code == 400, response.text
    assert "location" not in response.headers
    assert f'<code id="error">{error}</code>' in response.text


async def attempt(
    client: ASClient, client_id: str, redirect_uri: str | None = CALLBACK, **extra: str
) -> httpx.Response:
    return await client.authorize(**authz_params(client_id, redirect_uri, pkce()[1], **extra))


async def test_valid_client_is_sent_to_login(client: ASClient, docs: DocumentHost) -> None:
    url = docs.new_url()
    docs.serve_document(url)
    response = await attempt(client, url)
    assert response.status_code == 302
    assert response.headers["location"].startswith("/login?next=%2Fauthorize%3F")
    assert docs.fetches(url) == 1
    fetch = docs.log[0]
    assert fetch.headers["accept"] == "application/json"
    assert "cookie" not in fetch.headers and "authorization" not in fetch.headers


@pytest.mark.parametrize(
    "raw",
    [
        "http://{h}/c.json",
        "https://{h}",
        "https://{h}?x=1",
        "https://{h}/a/../c.json",
        "https://{h}/c.json#",
        "https://u:p@{h}/c.json",
    ],
)
async def test_bad_identifier_is_refused_without_fetching(
    client: ASClient, docs: DocumentHost, raw: str
) -> None:
    identifier = raw.format(h=docs.base_url.removeprefix("https://"))
    docs.serve("/c.json", golden(identifier))
    assert_error_page(await attempt(client, identifier))
    assert docs.log == []


async def test_missing_client_id_is_an_error_page(client: ASClient) -> None:
    assert_error_page(await client.authorize(response_type="code", redirect_uri=CALLBACK))


@pytest.mark.parametrize("status", [201, 203, 204, 206, 301, 304, 404, 500])
async def test_only_200_is_success(client: ASClient, docs: DocumentHost, status: int) -> None:
    url = docs.new_url()
    docs.serve(url, golden(url), status=status)
    assert_error_page(await attempt(client, url))


async def test_redirect_is_not_followed(client: ASClient, docs: DocumentHost) -> None:
    url, elsewhere = docs.new_url(), docs.new_url()
    docs.serve_document(elsewhere, client_id=url)
    docs.serve(url, b"", status=302, headers=[("location", elsewhere)])
    assert_error_page(await attempt(client, url))
    assert docs.fetches(elsewhere) == 0


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"{not json",
        b"[]",
        b'"str"',
        b"<html></html>",
        b'{"client_id": 1} trailing',
        b'{"a": 1 /* comment */}',
        b'{"a": NaN}',
        b"\xff\xfe{}",
        b'{"client_id": "x", "client_id": "y"}',
    ],
)
async def test_malformed_bodies_are_refused(
    client: ASClient, docs: DocumentHost, body: bytes
) -> None:
    url = docs.new_url()
    docs.serve(url, body)
    assert_error_page(await attempt(client, url))


def _variants(url: str) -> list[dict[str, Any]]:
    return [
        {"client_id": None},
        {"client_id": url + "/"},
        {"client_id": url.replace("https://", "HTTPS://")},
        {"client_id": [url]},
        {"token_endpoint_auth_method": "client_secret_basic"},
        {"token_endpoint_auth_method": "client_secret_post"},
        {"token_endpoint_auth_method": "client_secret_jwt"},
        {"token_endpoint_auth_method": "private_key_jwt"},
        {"client_secret": "s3cr3t"},
        {"client_secret_expires_at": 0},
        {"redirect_uris": None},
        {"redirect_uris": []},
        {"redirect_uris": CALLBACK},
        {"redirect_uris": [123]},
        {"redirect_uris": ["/cb"]},
        {"redirect_uris": [CALLBACK + "#x"]},
        {"redirect_uris": ["http://app.test/cb"]},
        {"client_name": ["x"]},
        {"jwks": {"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}},
    ]


@pytest.mark.parametrize("index", range(19))
async def test_invalid_documents_are_refused(
    client: ASClient, docs: DocumentHost, index: int
) -> None:
    url = docs.new_url()
    docs.serve(url, golden(url, **_variants(url)[index]))
    assert_error_page(await attempt(client, url))


async def test_oversized_document_is_refused(client: ASClient, docs: DocumentHost) -> None:
    url = docs.new_url()
    docs.serve_document(url, padding="x" * 6000)
    assert_error_page(await attempt(client, url))
    small = docs.new_url()
    docs.serve_document(small, padding="x" * 3500)
    assert (await attempt(client, small)).status_code == 302


async def test_unreachable_document_is_an_error_page(client: ASClient) -> None:
    assert_error_page(await attempt(client, "https://127.0.0.1:1/c.json"))


async def test_untrusted_certificate_is_refused(docs: DocumentHost) -> None:
    untrusted = TestCA.untrusted()
    url = docs.new_url()
    docs.serve_document(url)
    config = IssuerConfig(issuer="https://as.test", trust_ca=untrusted.cert_path)
    transport = httpx.ASGITransport(app=create_app([config]))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="https://as.test") as http:
            assert_error_page(await attempt(ASClient(http), url))
    finally:
        untrusted.cert_path.unlink()
    assert docs.fetches(url) == 0


async def test_unregistered_redirect_uri_is_an_error_page(
    client: ASClient, docs: DocumentHost
) -> None:
    url = docs.new_url()
    docs.serve_document(url)
    for wrong in [
        CALLBACK + "/",
        "https://APP.test/cb",
        CALLBACK + "?x=1",
        "https://app.test:443/cb",
        "https://app.test.evil/cb",
    ]:
        assert_error_page(await attempt(client, url, wrong), "invalid_request")


async def test_redirect_uri_may_be_omitted_only_with_one_registered(
    client: ASClient, docs: DocumentHost
) -> None:
    several, single = docs.new_url(), docs.new_url()
    docs.serve_document(several)
    docs.serve_document(single, redirect_uris=[CALLBACK])
    assert_error_page(await attempt(client, several, None), "invalid_request")
    assert (await attempt(client, single, None)).status_code == 302


@pytest.mark.parametrize(
    ("registered", "requested", "accepted"),
    [
        ("http://127.0.0.1/callback", "http://127.0.0.1:49152/callback", True),
        ("http://[::1]/callback", "http://[::1]:61023/callback", True),
        ("http://127.0.0.1:3000/callback", "http://127.0.0.1:51234/callback", True),
        ("http://localhost/callback", "http://localhost:51234/callback", True),
        ("http://127.0.0.1/callback", "http://127.0.0.1:5000/callback/x", False),
        ("http://127.0.0.1/callback", "http://127.0.0.1:5000/Callback", False),
        ("http://127.0.0.1/callback", "https://127.0.0.1:5000/callback", False),
        ("http://127.0.0.1/callback", "http://127.0.0.2:5000/callback", False),
        ("http://127.0.0.1/callback", "http://localhost:5000/callback", False),
        ("http://127.0.0.1/callback", "http://127.0.0.1.nip.io:5000/callback", False),
        ("http://127.0.0.1/callback", "http://u@127.0.0.1:5000/callback", False),
        ("http://127.0.0.1/callback", "http://127.0.0.1:99999/callback", False),
        ("https://app.test/cb", "https://app.test:8443/cb", False),
    ],
)
async def test_loopback_port_rule(
    client: ASClient, docs: DocumentHost, registered: str, requested: str, accepted: bool
) -> None:
    url = docs.new_url()
    docs.serve_document(url, redirect_uris=[registered])
    response = await attempt(client, url, requested)
    if accepted:
        assert response.status_code == 302
        assert response.headers["location"].startswith("/login")
    else:
        assert_error_page(response, "invalid_request")


async def test_request_errors_redirect_with_state_after_login(
    client: ASClient, docs: DocumentHost
) -> None:
    url = docs.new_url()
    docs.serve_document(url)
    await client.login()
    cases: list[tuple[dict[str, str | None], str]] = [
        ({"code_challenge": None}, "invalid_request"),
        ({"code_challenge_method": None}, "invalid_request"),
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"response_type": None}, "invalid_request"),
        ({"resource": "not-absolute"}, "invalid_target"),
    ]
    for overrides, error in cases:
        merged = {**authz_params(url, CALLBACK, pkce()[1]), **overrides}
        params = {name: value for name, value in merged.items() if value is not None}
        response = await client.authorize(**params)
        assert response.status_code == 302
        location = response.headers["location"]
        assert location.startswith(CALLBACK + "?")
        assert query_of(location) | {"error_description": ""} == {
            "error": error,
            "error_description": "",
            "state": params["state"],
            "iss": "https://as.test",
        }


async def test_request_errors_do_not_redirect_before_login(
    client: ASClient, docs: DocumentHost
) -> None:
    url = docs.new_url()
    docs.serve_document(url)
    response = await attempt(client, url, response_type="token")
    assert response.headers["location"].startswith("/login?")


@pytest.mark.parametrize(
    ("cache_control", "fetches"),
    [("max-age=60", 1), ("no-store", 2), ("max-age=0", 2), ("no-cache, max-age=60", 2), ("", 2)],
)
async def test_caching_follows_cache_control(
    client: ASClient, docs: DocumentHost, cache_control: str, fetches: int
) -> None:
    url = docs.new_url()
    docs.serve_document(url, cache_control=cache_control)
    for _ in range(2):
        assert (await attempt(client, url)).status_code == 302
    assert docs.fetches(url) == fetches


async def test_errors_and_invalid_documents_are_never_cached(
    client: ASClient, docs: DocumentHost
) -> None:
    failing, invalid = docs.new_url(), docs.new_url()
    docs.serve(failing, golden(failing), status=503, headers=[("cache-control", "max-age=86400")])
    docs.serve(
        invalid, golden(invalid, client_id=failing), headers=[("cache-control", "max-age=86400")]
    )
    assert_error_page(await attempt(client, failing))
    assert_error_page(await attempt(client, invalid))
    docs.serve_document(failing, cache_control="max-age=86400")
    docs.serve_document(invalid, cache_control="max-age=86400")
    assert (await attempt(client, failing)).status_code == 302
    assert (await attempt(client, invalid)).status_code == 302
    assert docs.fetches(failing) == docs.fetches(invalid) == 2


async def test_cache_is_keyed_by_the_exact_identifier(client: ASClient, docs: DocumentHost) -> None:
    url = docs.new_url()
    docs.serve_document(url, cache_control="max-age=600")
    assert (await attempt(client, url)).status_code == 302
    variant = url + "/"  # a cache keyed by a normalized identifier would answer from the cache
    docs.serve(variant, golden(url))
    assert_error_page(await attempt(client, variant))
