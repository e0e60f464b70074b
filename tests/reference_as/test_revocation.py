"""Token revocation (RFC 7009): a revoked refresh token ends its grant."""

from __future__ import annotations

import httpx

from .conftest import ASClient, DocumentHost
from .test_flow import CALLBACK, obtain_code


async def _tokens(client: ASClient, docs: DocumentHost) -> tuple[str, dict[str, str]]:
    url, code, verifier = await obtain_code(client, docs)
    response = await client.token(
        grant_type="authorization_code",
        code=code,
        client_id=url,
        redirect_uri=CALLBACK,
        code_verifier=verifier,
    )
    assert response.status_code == 200, response.text
    return url, response.json()


async def _revoke(client: ASClient, **form: str) -> httpx.Response:
    return await client.http.post(client.prefix + "/revoke", data=form)


async def test_revoked_refresh_token_no_longer_refreshes(
    client: ASClient, docs: DocumentHost
) -> None:
    url, tokens = await _tokens(client, docs)
    response = await _revoke(
        client, token=tokens["refresh_token"], token_type_hint="refresh_token", client_id=url
    )
    assert response.status_code == 200 and response.headers["cache-control"] == "no-store"
    refreshed = await client.token(
        grant_type="refresh_token", refresh_token=tokens["refresh_token"], client_id=url
    )
    assert refreshed.status_code == 400 and refreshed.json()["error"] == "invalid_grant"


async def test_unknown_and_access_tokens_are_answered_200(
    client: ASClient, docs: DocumentHost
) -> None:
    url, tokens = await _tokens(client, docs)
    for token in ("no-such-token", tokens["access_token"]):
        assert (await _revoke(client, token=token, client_id=url)).status_code == 200
    refreshed = await client.token(
        grant_type="refresh_token", refresh_token=tokens["refresh_token"], client_id=url
    )
    assert refreshed.status_code == 200  # revoking the access token left the grant alone


async def test_another_clients_token_and_secrets_are_refused(
    client: ASClient, docs: DocumentHost
) -> None:
    url, tokens = await _tokens(client, docs)
    other = await _revoke(client, token=tokens["refresh_token"], client_id=url + "-other")
    assert other.status_code == 400
    secret = await _revoke(
        client, token=tokens["refresh_token"], client_id=url, client_secret="s3cr3t-value"
    )
    assert secret.status_code == 401 and secret.json()["error"] == "invalid_client"
    missing = await _revoke(client, client_id=url)
    assert missing.status_code == 400 and missing.json()["error"] == "invalid_request"
    refreshed = await client.token(
        grant_type="refresh_token", refresh_token=tokens["refresh_token"], client_id=url
    )
    assert refreshed.status_code == 200  # none of those revoked anything
