"""The whole flow: login, consent, code, token with PKCE, refresh rotation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from mock_servers.reference_as import IssuerConfig, create_app

from .conftest import AS_ORIGIN, ASClient, DocumentHost, authz_params, pkce, query_of

CALLBACK = "https://app.test/cb"


async def consent_page(
    client: ASClient, url: str, verifier_challenge: tuple[str, str], **extra: str
) -> tuple[httpx.Response, dict[str, str]]:
    await client.login()
    params = authz_params(url, extra.pop("redirect_uri", CALLBACK), verifier_challenge[1], **extra)
    response = await client.authorize(**params)
    assert response.status_code == 200, response.text
    return response, params


async def obtain_code(client: ASClient, docs: DocumentHost, **members: Any) -> tuple[str, str, str]:
    url = docs.new_url()
    docs.serve_document(url, **members)
    verifier, challenge = pkce()
    page, params = await consent_page(client, url, (verifier, challenge))
    location = await client.approve(page)
    query = query_of(location)
    assert query["state"] == params["state"]
    return url, query["code"], verifier


async def test_happy_path_with_refresh_rotation(client: ASClient, docs: DocumentHost) -> None:
    url, code, verifier = await obtain_code(client, docs)
    response = await client.token(
        grant_type="authorization_code",
        code=code,
        client_id=url,
        redirect_uri=CALLBACK,
        code_verifier=verifier,
    )
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    tokens = response.json()
    assert tokens["token_type"] == "Bearer" and tokens["expires_in"] == 3600
    assert tokens["access_token"] and tokens["refresh_token"]
    refreshed = await client.token(
        grant_type="refresh_token", refresh_token=tokens["refresh_token"], client_id=url
    )
    assert refreshed.status_code == 200
    assert refreshed.json()["refresh_token"] != tokens["refresh_token"]
    replay = await client.token(
        grant_type="refresh_token", refresh_token=tokens["refresh_token"], client_id=url
    )
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
    assert docs.fetches(url) == 3  # no-store: each token request reads the document afresh


async def test_login_redirects_back_to_authorize(client: ASClient, docs: DocumentHost) -> None:
    url = docs.new_url()
    docs.serve_document(url)
    first = await client.authorize(**authz_params(url, CALLBACK, pkce()[1]))
    login_url = first.headers["location"]
    page = await client.http.get(login_url)
    assert page.status_code == 200 and 'id="sign-in"' in page.text
    next_url = query_of(login_url)["next"]
    wrong = await client.http.post(
        "/login", data={"username": "alice", "password": "x", "next": next_url}
    )
    assert wrong.status_code == 401 and 'id="login-error"' in wrong.text
    right = await client.http.post(
        "/login", data={"username": "alice", "password": "wonderland-test-only", "next": next_url}
    )
    assert right.status_code == 302 and right.headers["location"] == next_url
    cookie = right.headers["set-cookie"].lower()
    assert all(flag in cookie for flag in ("httponly", "secure", "samesite=lax", "path=/"))
    assert (await client.http.get(next_url)).status_code == 200


async def test_login_refuses_foreign_next(client: ASClient) -> None:
    for target in ["https://evil.test/authorize", "//evil.test/authorize", "/token"]:
        response = await client.http.post(
            "/login", data={"username": "alice", "password": "wonderland-test-only", "next": target}
        )
        assert response.headers["location"] == "/"


async def test_consent_page_shows_hosts_and_escapes(client: ASClient, docs: DocumentHost) -> None:
    url = docs.new_url()
    docs.serve_document(
        url,
        client_name='<img src=x onerror=alert(1)>"',
        redirect_uris=["http://127.0.0.1/callback"],
    )
    page, _ = await consent_page(client, url, pkce(), redirect_uri="http://127.0.0.1:5555/callback")
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["content-security-policy"] == "frame-ancestors 'none'"
    assert page.headers["cache-control"] == "no-store"
    assert "<img src=x" not in page.text and "&lt;img src=x onerror=alert(1)&gt;&#34;" in page.text
    assert f'id="client-host">{url.split("/")[2].split(":")[0]}<' in page.text
    assert 'id="redirect-host">127.0.0.1<' in page.text
    assert 'id="loopback-warning"' in page.text
    for marker in (
        'id="consent-form"',
        'id="approve"',
        'id="deny"',
        'name="csrf"',
        'name="request_id"',
    ):
        assert marker in page.text


async def test_no_loopback_warning_for_https_clients(client: ASClient, docs: DocumentHost) -> None:
    url = docs.new_url()
    docs.serve_document(url, client_name=None)
    page, _ = await consent_page(client, url, pkce())
    assert 'id="loopback-warning"' not in page.text
    assert 'id="redirect-host">app.test<' in page.text


async def test_deny_redirects_with_access_denied(client: ASClient, docs: DocumentHost) -> None:
    url = docs.new_url()
    docs.serve_document(url)
    page, params = await consent_page(client, url, pkce())
    query = query_of(await client.approve(page, "deny"))
    assert query == {
        "error": "access_denied",
        "error_description": "the user denied access",
        "state": params["state"],
        "iss": "https://as.test",
    }


async def test_consent_needs_csrf_and_is_single_use(client: ASClient, docs: DocumentHost) -> None:
    url = docs.new_url()
    docs.serve_document(url)
    page, _ = await consent_page(client, url, pkce())
    from .conftest import hidden_fields

    fields = hidden_fields(page.text)
    forged = await client.http.post("/consent", data={**fields, "csrf": "x", "decision": "approve"})
    assert forged.status_code == 400 and "location" not in forged.headers
    assert (
        await client.http.post("/consent", data={**fields, "decision": "approve"})
    ).status_code == 302
    assert (
        await client.http.post("/consent", data={**fields, "decision": "approve"})
    ).status_code == 400


async def test_wrong_verifier_is_invalid_grant(client: ASClient, docs: DocumentHost) -> None:
    url, code, _ = await obtain_code(client, docs)
    response = await client.token(
        grant_type="authorization_code",
        code=code,
        client_id=url,
        redirect_uri=CALLBACK,
        code_verifier=pkce()[0],
    )
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


async def test_code_is_bound_and_single_use(client: ASClient, docs: DocumentHost) -> None:
    url, code, verifier = await obtain_code(client, docs)
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "client_id": url,
        "redirect_uri": CALLBACK,
        "code_verifier": verifier,
    }
    other_client = await client.token(**{**form, "client_id": url + "x"})
    assert other_client.json()["error"] == "invalid_grant"
    url, code, verifier = await obtain_code(client, docs)
    form = {**form, "code": code, "client_id": url, "code_verifier": verifier}
    assert (await client.token(**{**form, "redirect_uri": CALLBACK + "x"})).json()[
        "error"
    ] == "invalid_grant"
    url, code, verifier = await obtain_code(client, docs)
    form = {**form, "code": code, "client_id": url, "code_verifier": verifier}
    first = await client.token(**form)
    assert first.status_code == 200
    assert (await client.token(**form)).json()["error"] == "invalid_grant"
    revoked = await client.token(
        grant_type="refresh_token", refresh_token=first.json()["refresh_token"], client_id=url
    )
    assert revoked.json()["error"] == "invalid_grant"  # a replayed code revokes its tokens


async def test_public_client_must_not_authenticate(client: ASClient, docs: DocumentHost) -> None:
    url, code, verifier = await obtain_code(client, docs)
    response = await client.http.post(
        "/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "client_id": url,
            "redirect_uri": CALLBACK,
            "code_verifier": verifier,
        },
        auth=(url, ""),
    )
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"
    assert response.headers["www-authenticate"].startswith("Basic ")


async def test_token_endpoint_errors(client: ASClient) -> None:
    assert (await client.token()).json()["error"] == "invalid_request"
    assert (await client.token(grant_type="password")).json()["error"] == "unsupported_grant_type"
    missing_client = await client.token(grant_type="authorization_code", code="x")
    assert missing_client.status_code == 401
    assert (
        await client.token(grant_type="authorization_code", code="x", client_id="https://c.test/c")
    ).json()["error"] == "invalid_grant"


async def test_missing_verifier_is_invalid_grant(client: ASClient, docs: DocumentHost) -> None:
    url, code, _ = await obtain_code(client, docs)
    response = await client.token(
        grant_type="authorization_code", code=code, client_id=url, redirect_uri=CALLBACK
    )
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


@pytest.mark.parametrize("single_sign_on", [True, False])
async def test_one_sign_in_serves_every_issuer_only_under_single_sign_on(
    ca_path: Path, docs: DocumentHost, single_sign_on: bool
) -> None:
    """A matrix server's issuers share one sign-in; separate issuers each ask for their own."""
    configs = [
        IssuerConfig(issuer=AS_ORIGIN + prefix, path_prefix=prefix, trust_ca=ca_path)
        for prefix in ("", "/faults/drops-state")
    ]
    app = create_app(configs, single_sign_on=single_sign_on)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url=AS_ORIGIN
    ) as http:
        first, second = ASClient(http), ASClient(http, "/faults/drops-state")
        await first.login()
        url = docs.new_url()
        docs.serve_document(url)
        asked = await second.authorize(**authz_params(url, CALLBACK, pkce()[1]))
        if single_sign_on:
            assert asked.status_code == 200 and 'name="decision"' in asked.text  # consent
            assert set(http.cookies) == {"cimd_ref_as.sso"}
        else:
            assert (
                asked.status_code == 302
                and "/faults/drops-state/login" in asked.headers["location"]
            )
            assert set(http.cookies) == {"cimd_ref_as"}
