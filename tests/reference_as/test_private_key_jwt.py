"""private_key_jwt clients: assertions verified against the document's keys; jwks_uri under
the SSRF rules (CIMD-AUTHN-07)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from conformance.harness.client_assertions import ASSERTION_TYPE, ClientKey
from mock_servers.reference_as import F, IssuerConfig, create_app

from .conftest import AS_ORIGIN, ASClient, DocumentHost
from .test_flow import CALLBACK, obtain_code

TOKEN_ENDPOINT = AS_ORIGIN + "/token"


async def _redeem(
    client: ASClient,
    docs: DocumentHost,
    key: ClientKey | None,
    sign_with: ClientKey | None,
    **members: Any,
) -> tuple[int, dict[str, Any], str]:
    url, code, verifier = await obtain_code(client, docs, **members)
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "client_id": url,
        "redirect_uri": CALLBACK,
        "code_verifier": verifier,
    }
    if sign_with is not None:
        form |= {
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": sign_with.assertion(url, TOKEN_ENDPOINT),
        }
    response = await client.token(**form)
    return response.status_code, response.json(), url


def _pkj(**members: Any) -> dict[str, Any]:
    return {"token_endpoint_auth_method": "private_key_jwt", **members}


async def test_inline_jwks_assertion_redeems(client: ASClient, docs: DocumentHost) -> None:
    key = ClientKey.new()
    status, body, _ = await _redeem(client, docs, key, key, **_pkj(jwks=key.jwks()))
    assert status == 200 and body["access_token"]


async def test_missing_or_foreign_assertions_are_invalid_client(
    client: ASClient, docs: DocumentHost
) -> None:
    key, other = ClientKey.new(), ClientKey.new()
    for sign_with in (None, other):
        status, body, _ = await _redeem(client, docs, key, sign_with, **_pkj(jwks=key.jwks()))
        assert (status, body["error"]) == (401, "invalid_client")


async def test_public_client_sending_an_assertion_is_invalid_client(
    client: ASClient, docs: DocumentHost
) -> None:
    key = ClientKey.new()
    status, body, _ = await _redeem(client, docs, key, key)
    assert (status, body["error"]) == (401, "invalid_client")


async def test_jwks_uri_on_an_allowed_host_is_fetched(client: ASClient, docs: DocumentHost) -> None:
    key = ClientKey.new()
    jwks_url = docs.new_url()
    docs.serve(jwks_url, key.jwks())
    status, _, _ = await _redeem(client, docs, key, key, **_pkj(jwks_uri=jwks_url))
    assert status == 200
    assert docs.fetches(jwks_url) == 1


async def test_jwks_uri_on_a_special_use_host_is_never_fetched(
    client: ASClient, make_client: Any, docs: DocumentHost
) -> None:
    key = ClientKey.new()
    jwks_url = docs.new_url()
    docs.serve(jwks_url, key.jwks())
    on_localhost = jwks_url.replace("127.0.0.1", "localhost", 1)
    status, body, _ = await _redeem(client, docs, key, key, **_pkj(jwks_uri=on_localhost))
    assert (status, body["error"]) == (401, "invalid_client")
    assert docs.fetches(jwks_url) == 0
    # the fault fetches it unchecked, and the assertion then verifies
    faulty = make_client(F.JWKS_URI_UNCHECKED)
    status, _, _ = await _redeem(faulty, docs, key, key, **_pkj(jwks_uri=on_localhost))
    assert status == 200
    assert docs.fetches(jwks_url) == 1


async def test_document_without_keys_is_refused(client: ASClient, docs: DocumentHost) -> None:
    url = docs.new_url()
    docs.serve_document(url, **_pkj())
    await client.login()
    from .conftest import authz_params, pkce

    response = await client.authorize(**authz_params(url, CALLBACK, pkce()[1]))
    assert response.status_code == 400


async def test_assertion_audience_issuer_variant_takes_the_issuer_only(
    ca_path: Path, docs: DocumentHost
) -> None:
    """The RFC 7523bis reading: aud is the issuer identifier, one string; nothing else."""
    config = IssuerConfig(
        issuer=AS_ORIGIN, trust_ca=ca_path, variants=frozenset({"assertion-audience-issuer"})
    )
    transport = httpx.ASGITransport(app=create_app([config]))
    async with httpx.AsyncClient(transport=transport, base_url=AS_ORIGIN) as http:
        client = ASClient(http)
        await client.login()
        key = ClientKey.new()
        answers = {}
        for name, audience in {
            "issuer": AS_ORIGIN,
            "token endpoint": TOKEN_ENDPOINT,
            "issuer in a list": [AS_ORIGIN],
        }.items():
            url, code, verifier = await obtain_code(client, docs, **_pkj(jwks=key.jwks()))
            response = await client.token(
                grant_type="authorization_code",
                code=code,
                client_id=url,
                redirect_uri=CALLBACK,
                code_verifier=verifier,
                client_assertion_type=ASSERTION_TYPE,
                client_assertion=key.sign({**key.claims(url, AS_ORIGIN), "aud": audience}),
            )
            answers[name] = response.status_code
    assert answers == {"issuer": 200, "token endpoint": 401, "issuer in a list": 401}


async def test_default_issuer_takes_the_token_endpoint_or_the_issuer(
    client: ASClient, docs: DocumentHost
) -> None:
    key = ClientKey.new()
    for audience in (TOKEN_ENDPOINT, AS_ORIGIN):
        url, code, verifier = await obtain_code(client, docs, **_pkj(jwks=key.jwks()))
        response = await client.token(
            grant_type="authorization_code",
            code=code,
            client_id=url,
            redirect_uri=CALLBACK,
            code_verifier=verifier,
            client_assertion_type=ASSERTION_TYPE,
            client_assertion=key.assertion(url, audience),
        )
        assert response.status_code == 200, (audience, response.text)
