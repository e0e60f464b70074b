"""Dynamic client registration (RFC 7591): minted client_ids, validation, and the flow."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from mock_servers.reference_as import F

from .conftest import ASClient, authz_params, pkce, query_of

CALLBACK = "https://app.test/cb"
MINIMAL = {
    "redirect_uris": [CALLBACK],
    "client_name": "Registered",
    "token_endpoint_auth_method": "none",
}


async def _register(client: ASClient, metadata: Any, **kwargs: Any) -> httpx.Response:
    return await client.http.post(client.prefix + "/register", json=metadata, **kwargs)


async def test_registers_a_public_client_that_completes_the_flow(client: ASClient) -> None:
    response = await _register(client, {**MINIMAL, "token_endpoint_auth_method": None})
    assert response.status_code == 201, response.text
    registered = response.json()
    client_id = registered["client_id"]
    assert client_id.startswith("dcr_") and not client_id.startswith("https://")
    assert "client_secret" not in registered
    assert registered["token_endpoint_auth_method"] == "none"  # no secrets issued here
    assert registered["redirect_uris"] == [CALLBACK]
    await client.login()
    verifier, challenge = pkce()
    page = await client.authorize(**authz_params(client_id, CALLBACK, challenge))
    assert page.status_code == 200 and client_id in page.text
    code = query_of(await client.approve(page))["code"]
    tokens = await client.token(
        grant_type="authorization_code",
        code=code,
        client_id=client_id,
        redirect_uri=CALLBACK,
        code_verifier=verifier,
    )
    assert tokens.status_code == 200, tokens.text


@pytest.mark.parametrize(
    ("metadata", "error"),
    [
        ({**MINIMAL, "redirect_uris": ["http://app.test/cb"]}, "invalid_redirect_uri"),
        ({**MINIMAL, "redirect_uris": []}, "invalid_redirect_uri"),
        (
            {**MINIMAL, "token_endpoint_auth_method": "client_secret_basic"},
            "invalid_client_metadata",
        ),
        ({**MINIMAL, "client_id": "https://app.test/c.json"}, "invalid_client_metadata"),
        ({**MINIMAL, "grant_types": ["client_credentials"]}, "invalid_client_metadata"),
        (["not", "an", "object"], "invalid_client_metadata"),
    ],
)
async def test_refuses_bad_metadata(client: ASClient, metadata: Any, error: str) -> None:
    response = await _register(client, metadata)
    assert response.status_code == 400
    assert response.json()["error"] == error


async def test_refuses_what_is_not_json(client: ASClient) -> None:
    response = await client.http.post("/register", data={"redirect_uris": CALLBACK})
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_client_metadata"


async def test_fault_mints_https_client_ids_that_still_work(make_client: Any) -> None:
    faulty = make_client(F.DCR_MINTS_URL_CLIENT_IDS)
    client_id = (await _register(faulty, MINIMAL)).json()["client_id"]
    assert client_id.startswith("https://as.test/clients/")
    await faulty.login()
    page = await faulty.authorize(**authz_params(client_id, CALLBACK, pkce()[1]))
    assert page.status_code == 200  # registered, so never fetched as a document
