"""Pushed authorization requests (RFC 9126): validated as authorization requests are, the
request_uri one-time and short-lived, private_key_jwt clients authenticated."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from conformance.harness.client_assertions import ASSERTION_TYPE, ClientKey
from mock_servers.reference_as import F, IssuerConfig, create_app
from mock_servers.reference_as import grants as grants_module

from .conftest import AS_ORIGIN, RESOURCE, ASClient, DocumentHost, authz_params, pkce, query_of
from .test_flow import CALLBACK

PAR_ENDPOINT = AS_ORIGIN + "/par"


async def _push(client: ASClient, url: str, **changes: Any) -> httpx.Response:
    params = authz_params(url, CALLBACK, pkce()[1])
    params.update({k: v for k, v in changes.items() if v is not None})
    for name in [k for k, v in changes.items() if v is None]:
        params.pop(name, None)
    return await client.http.post(client.prefix + "/par", data=params)


def _document(docs: DocumentHost, **members: Any) -> str:
    url = docs.new_url()
    docs.serve_document(url, **members)
    return url


async def test_metadata_advertises_par_not_required(client: ASClient) -> None:
    metadata = (await client.http.get("/.well-known/oauth-authorization-server")).json()
    assert metadata["pushed_authorization_request_endpoint"] == PAR_ENDPOINT
    assert metadata["require_pushed_authorization_requests"] is False


async def test_pushed_request_is_used_once_at_the_authorization_endpoint(
    client: ASClient, docs: DocumentHost
) -> None:
    url = _document(docs)
    pushed = await _push(client, url)
    assert pushed.status_code == 201, pushed.text
    assert pushed.headers["cache-control"] == "no-store"
    body = pushed.json()
    assert body["request_uri"].startswith("urn:ietf:params:oauth:request_uri:")
    assert body["expires_in"] == 60
    assert docs.fetches(url) == 1  # the document is fetched and checked at PAR
    await client.login()
    by_reference = {"client_id": url, "request_uri": body["request_uri"]}
    consent = await client.authorize(**by_reference)
    assert consent.status_code == 200 and 'id="approve"' in consent.text
    location = await client.approve(consent)
    assert location.startswith(CALLBACK + "?") and "code" in query_of(location)
    again = await client.authorize(**by_reference)
    assert again.status_code == 400 and "location" not in again.headers


async def test_request_uri_survives_the_sign_in(client: ASClient, docs: DocumentHost) -> None:
    url = _document(docs)
    request_uri = (await _push(client, url)).json()["request_uri"]
    first = await client.authorize(client_id=url, request_uri=request_uri)
    assert first.status_code == 302 and first.headers["location"].startswith("/login?")
    await client.login()
    consent = await client.authorize(client_id=url, request_uri=request_uri)
    assert consent.status_code == 200 and 'id="approve"' in consent.text


async def test_request_uri_belongs_to_its_client_and_expires(
    client: ASClient, docs: DocumentHost, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, other = _document(docs), _document(docs)
    await client.login()
    request_uri = (await _push(client, url)).json()["request_uri"]
    stolen = await client.authorize(client_id=other, request_uri=request_uri)
    assert stolen.status_code == 400
    monkeypatch.setattr(grants_module, "PUSHED_LIFETIME_S", -1)
    expired = (await _push(client, url)).json()["request_uri"]
    assert (await client.authorize(client_id=url, request_uri=expired)).status_code == 400


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"redirect_uri": "https://attacker.test/cb"}, "invalid_request"),
        ({"redirect_uri": CALLBACK + "/"}, "invalid_request"),
        ({"code_challenge": None}, "invalid_request"),
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"resource": "https://unknown.test/mcp"}, "invalid_target"),
        ({"request_uri": "urn:ietf:params:oauth:request_uri:x"}, "invalid_request"),
    ],
)
async def test_pushed_request_is_validated_like_an_authorization_request(
    client: ASClient, docs: DocumentHost, changes: dict[str, Any], error: str
) -> None:
    response = await _push(client, _document(docs), **changes)
    assert response.status_code == 400, response.text
    assert response.json()["error"] == error and "request_uri" not in response.json()


async def test_invalid_documents_are_invalid_client(client: ASClient, docs: DocumentHost) -> None:
    mismatch = _document(docs, client_id="https://other.test/c.json")
    response = await _push(client, mismatch)
    assert (response.status_code, response.json()["error"]) == (400, "invalid_client")
    missing = await _push(client, docs.new_url())
    assert missing.json()["error"] == "invalid_client"


async def test_private_key_jwt_clients_authenticate_at_par(
    client: ASClient, docs: DocumentHost
) -> None:
    key = ClientKey.new()
    url = _document(docs, token_endpoint_auth_method="private_key_jwt", jwks=key.jwks())
    bare = await _push(client, url)
    assert (bare.status_code, bare.json()["error"]) == (401, "invalid_client")
    assertion = key.assertion(url, PAR_ENDPOINT)
    signed = await _push(
        client, url, client_assertion_type=ASSERTION_TYPE, client_assertion=assertion
    )
    assert signed.status_code == 201, signed.text
    replayed = await _push(
        client, url, client_assertion_type=ASSERTION_TYPE, client_assertion=assertion
    )
    assert (replayed.status_code, replayed.json()["error"]) == (401, "invalid_client")


async def test_the_fault_trusts_a_pushed_redirect_uri(make_client: Any, docs: DocumentHost) -> None:
    url = _document(docs)
    faulty = make_client(F.PAR_TRUSTS_REDIRECT_URI)
    response = await _push(faulty, url, redirect_uri="https://attacker.test/cb")
    assert response.status_code == 201
    clean = await _push(make_client(), url, redirect_uri="https://attacker.test/cb")
    assert clean.status_code == 400


async def test_required_par_refuses_plain_authorization_requests(
    ca_path: Path, docs: DocumentHost
) -> None:
    config = IssuerConfig(
        issuer=AS_ORIGIN, trust_ca=ca_path, require_par=True, resources=(RESOURCE,)
    )
    transport = httpx.ASGITransport(app=create_app([config]))
    async with httpx.AsyncClient(transport=transport, base_url=AS_ORIGIN) as http:
        client = ASClient(http)
        metadata = (await http.get("/.well-known/oauth-authorization-server")).json()
        assert metadata["require_pushed_authorization_requests"] is True
        await client.login()
        url = _document(docs)
        plain = await client.authorize(**authz_params(url, CALLBACK, pkce()[1]))
        assert plain.status_code == 400 and "location" not in plain.headers
        request_uri = (await _push(client, url)).json()["request_uri"]
        pushed = await client.authorize(client_id=url, request_uri=request_uri)
        assert pushed.status_code == 200
