"""Resource indicators (RFC 8707) and audience-bound JWT access tokens (RFC 9068)."""

from __future__ import annotations

from typing import Any

import jwt

from mock_servers.reference_as import IssuerConfig

from .conftest import AS_ORIGIN, RESOURCE, ASClient, DocumentHost, authz_params, pkce, query_of
from .test_flow import CALLBACK, obtain_code


async def _redeem(client: ASClient, docs: DocumentHost, **extra: Any) -> Any:
    url, code, verifier = await obtain_code(client, docs)
    form = {"grant_type": "authorization_code", "code": code, "client_id": url}
    form |= {"redirect_uri": CALLBACK, "code_verifier": verifier}
    return url, await client.http.post("/token", data={**form, **extra})


async def _claims(client: ASClient, token: str) -> dict[str, Any]:
    """The access token's claims, its signature checked against the issuer's jwks_uri."""
    metadata = (await client.http.get("/.well-known/oauth-authorization-server")).json()
    jwks = (await client.http.get(metadata["jwks_uri"].removeprefix(AS_ORIGIN))).json()
    assert jwt.get_unverified_header(token)["typ"] == "at+jwt"
    key = jwt.PyJWKSet.from_dict(jwks).keys[0]
    claims: dict[str, Any] = jwt.decode(token, key.key, algorithms=["ES256"], audience=RESOURCE)
    return claims


async def test_access_token_is_bound_to_the_requested_resource(
    client: ASClient, docs: DocumentHost
) -> None:
    url, response = await _redeem(client, docs, resource=RESOURCE)
    assert response.status_code == 200, response.text
    claims = await _claims(client, response.json()["access_token"])
    assert claims["aud"] == RESOURCE and claims["iss"] == AS_ORIGIN
    assert claims["client_id"] == url and claims["sub"] == "alice"


async def test_without_resource_the_token_is_for_the_authorized_ones(
    client: ASClient, docs: DocumentHost
) -> None:
    _, response = await _redeem(client, docs)
    assert (await _claims(client, response.json()["access_token"]))["aud"] == RESOURCE


async def test_a_resource_outside_the_authorization_is_invalid_target(
    client: ASClient, docs: DocumentHost
) -> None:
    _, response = await _redeem(client, docs, resource="https://other.test/mcp")
    assert (response.status_code, response.json()["error"]) == (400, "invalid_target")


async def test_an_unknown_resource_is_invalid_target_by_redirect(
    client: ASClient, docs: DocumentHost
) -> None:
    url = docs.new_url()
    docs.serve_document(url)
    await client.login()
    params = authz_params(url, CALLBACK, pkce()[1], resource="https://unknown.test/mcp")
    response = await client.authorize(**params)
    assert response.status_code == 302
    query = query_of(response.headers["location"])
    assert query["error"] == "invalid_target" and query["state"] == params["state"]


def test_the_default_resource_is_the_mcp_endpoint_on_the_issuers_origin() -> None:
    config = IssuerConfig(issuer="https://127.0.0.1:8443/faults/x", path_prefix="/faults/x")
    assert config.protected_resources == ("https://127.0.0.1:8443/mcp",)
    chosen = IssuerConfig(issuer="https://a.test", resources=("https://mcp.test/mcp",))
    assert chosen.protected_resources == ("https://mcp.test/mcp",)
