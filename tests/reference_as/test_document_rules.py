"""Document rules a clean issuer keeps (secrets, keys, redirect URI forms, members, display
URLs), and the fault that breaks each: the issuer that takes what a clean one refuses."""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import quote_plus

import httpx
import pytest

from conformance.harness.client_assertions import ClientKey
from mock_servers.reference_as import F, Fault, FaultSet, IssuerConfig, create_app
from mock_servers.reference_as.fetching import Fetcher, FetchError

from .conftest import AS_ORIGIN, ASClient, DocumentHost, Hosted, authz_params, golden, pkce
from .test_faults import CALLBACK, Setup, fragment, requesting, with_members
from .test_flow import obtain_code

KEY = ClientKey.new()
PRIVATE_EC = {**KEY.jwks()["keys"][0], "d": "c2VjcmV0LXByaXZhdGUtc2NhbGFy"}


def _pkj(**members: Any) -> dict[str, Any]:
    return {"token_endpoint_auth_method": "private_key_jwt", **members}


ACCEPTED_ONLY_WITH_FAULT: list[tuple[Fault, Setup]] = [
    (F.PUBLISHED_SECRET_ACCEPTED, with_members(client_secret="published-secret-1")),
    (F.PUBLISHED_SECRET_ACCEPTED, with_members(client_secret_expires_at=0)),
    (F.PRIVATE_KEYS_ACCEPTED, with_members(**_pkj(jwks={"keys": [PRIVATE_EC]}))),
    (F.PRIVATE_KEYS_ACCEPTED, with_members(**_pkj(jwks={"keys": [{"kty": "oct", "k": "c2s"}]}))),
    (
        F.JWKS_AND_JWKS_URI_ACCEPTED,
        with_members(**_pkj(jwks=KEY.jwks(), jwks_uri="https://app.test/jwks.json")),
    ),
    (F.REDIRECT_URIS_FORM_UNCHECKED, requesting("/cb", redirect_uris=["/cb"])),
    (F.REDIRECT_URIS_FORM_UNCHECKED, requesting(CALLBACK + "#x", redirect_uris=[CALLBACK + "#x"])),
    (
        F.ALLOWS_HTTP_REDIRECT_URIS,
        requesting("http://app.test/cb", redirect_uris=["http://app.test/cb"]),
    ),
    (F.ALLOWS_PRIVATE_USE_SCHEMES, requesting("myapp:/cb", redirect_uris=["myapp:/cb"])),
    (F.JWKS_URI_ANY_SCHEME, with_members(**_pkj(jwks_uri="http://app.test/jwks.json"))),
    (F.FLOW_TYPES_IGNORED, with_members(grant_types=["client_credentials"])),
    (F.FLOW_TYPES_IGNORED, with_members(response_types=["token"])),
]


@pytest.mark.parametrize(
    ("fault", "setup"), ACCEPTED_ONLY_WITH_FAULT, ids=[f.name for f, _ in ACCEPTED_ONLY_WITH_FAULT]
)
async def test_fault_accepts_what_a_clean_issuer_refuses(
    make_client: Any, docs: DocumentHost, fault: Fault, setup: Setup
) -> None:
    client_id, redirect_uri = setup(docs)
    params = authz_params(client_id, redirect_uri, pkce()[1])
    clean = await make_client().authorize(**params)
    assert clean.status_code == 400 and "location" not in clean.headers
    faulty = await make_client(fault).authorize(**params)
    assert faulty.status_code == 302, faulty.text
    assert faulty.headers["location"].startswith("/login?")


@pytest.mark.parametrize(
    "members",
    [
        _pkj(jwks={"keys": []}),
        _pkj(jwks={"keys": "none"}),
        _pkj(jwks_uri="http://app.test/jwks.json"),
        _pkj(jwks_uri="ftp://app.test/jwks.json"),
    ],
    ids=["empty-keys", "keys-not-a-list", "http-jwks-uri", "ftp-jwks-uri"],
)
async def test_private_key_jwt_needs_usable_keys(
    client: ASClient, docs: DocumentHost, members: dict[str, Any]
) -> None:
    client_id, redirect_uri = with_members(**members)(docs)
    response = await client.authorize(**authz_params(client_id, redirect_uri, pkce()[1]))
    assert response.status_code == 400


@pytest.mark.parametrize(
    "member",
    [
        {"dpop_bound_access_tokens": False},
        {"application_type": "web"},
        {"x_vendor": {"features": ["sync"]}},
        {"client_name#ja": "プローブ"},
    ],
)
async def test_strict_schema_refuses_members_a_clean_issuer_ignores(
    make_client: Any, docs: DocumentHost, member: dict[str, Any]
) -> None:
    client_id, redirect_uri = with_members(**member)(docs)
    params = authz_params(client_id, redirect_uri, pkce()[1])
    assert (await make_client().authorize(**params)).status_code == 302
    assert (await make_client(F.STRICT_DOCUMENT_SCHEMA).authorize(**params)).status_code == 400


async def test_exact_content_type_refuses_a_charset(make_client: Any, docs: DocumentHost) -> None:
    url = docs.new_url()
    body = httpx.Response(200, json=golden(url)).content
    docs.hosted[DocumentHost._target(url)] = Hosted(
        200, body, [("content-type", "application/json; charset=utf-8")]
    )
    params = authz_params(url, CALLBACK, pkce()[1])
    assert (await make_client().authorize(**params)).status_code == 302
    assert (await make_client(F.EXACT_CONTENT_TYPE).authorize(**params)).status_code == 400
    plain = docs.new_url()
    docs.serve_document(plain)
    params = authz_params(plain, CALLBACK, pkce()[1])
    assert (await make_client(F.EXACT_CONTENT_TYPE).authorize(**params)).status_code == 302


async def test_syntax_checked_after_fetch_fetches_then_refuses(
    make_client: Any, docs: DocumentHost
) -> None:
    client_id, _ = fragment(docs)  # U#x, with U served
    served = client_id.split("#", 1)[0]
    params = authz_params(client_id, CALLBACK, pkce()[1])
    assert (await make_client().authorize(**params)).status_code == 400
    assert docs.fetches(served) == 0
    assert (await make_client(F.SYNTAX_CHECKED_AFTER_FETCH).authorize(**params)).status_code == 400
    assert docs.fetches(served) == 1
    userinfo = docs.new_url()
    docs.serve_document(userinfo)
    raw = userinfo.replace("https://", "https://u:p@", 1)
    params = authz_params(raw, CALLBACK, pkce()[1])
    assert (await make_client(F.SYNTAX_CHECKED_AFTER_FETCH).authorize(**params)).status_code == 400
    assert docs.fetches(userinfo) == 1
    assert "authorization" not in docs.log[-1].headers  # a URL library drops the userinfo


async def test_refuses_client_id_port_outside_the_development_exception(
    ca_path: Any, docs: DocumentHost
) -> None:
    url = docs.new_url()  # https://127.0.0.1:<port>/...
    docs.serve_document(url)
    params = authz_params(url, CALLBACK, pkce()[1])

    async def page_for(*faults: Fault, exempt: frozenset[str]) -> httpx.Response:
        config = IssuerConfig(
            issuer=AS_ORIGIN, faults=FaultSet(faults), trust_ca=ca_path, exempt_hosts=exempt
        )
        transport = httpx.ASGITransport(app=create_app([config]))
        async with httpx.AsyncClient(transport=transport, base_url=AS_ORIGIN) as http:
            return await http.get("/authorize", params=params)

    development = frozenset({"127.0.0.1"})
    assert (await page_for(F.REFUSES_CLIENT_ID_PORT, exempt=development)).status_code == 302
    production = await page_for(F.REFUSES_CLIENT_ID_PORT, exempt=frozenset())
    assert production.status_code == 400 and "must not carry a port" in production.text
    clean = await page_for(exempt=frozenset())  # refused too, but by the address check
    assert clean.status_code == 400 and "must not carry a port" not in clean.text


async def _redeem(
    client: ASClient, url: str, code: str, verifier: str, **auth: Any
) -> httpx.Response:
    form = {"grant_type": "authorization_code", "code": code, "client_id": url}
    form |= {"redirect_uri": CALLBACK, "code_verifier": verifier}
    headers = auth.pop("headers", {})
    return await client.http.post(client.prefix + "/token", data={**form, **auth}, headers=headers)


def _basic(client_id: str, secret: str) -> dict[str, str]:
    """RFC 6749 §2.3.1: each part form-urlencoded (a URL client_id has colons)."""
    token = base64.b64encode(f"{quote_plus(client_id)}:{quote_plus(secret)}".encode()).decode()
    return {"Authorization": "Basic " + token}


@pytest.mark.parametrize("how", ["basic", "post"])
async def test_published_secret_accepted_takes_the_secret_as_a_credential(
    make_client: Any, docs: DocumentHost, how: str
) -> None:
    faulty = make_client(F.PUBLISHED_SECRET_ACCEPTED)
    secret = "published-secret-2"
    for presented, status in ((secret, 200), ("another-secret", 401)):
        url, code, verifier = await obtain_code(faulty, docs, client_secret=secret)
        auth: dict[str, Any] = (
            {"headers": _basic(url, presented)} if how == "basic" else {"client_secret": presented}
        )
        response = await _redeem(faulty, url, code, verifier, **auth)
        assert response.status_code == status, response.text


async def test_missing_auth_method_is_basic_demands_a_secret(
    make_client: Any, docs: DocumentHost
) -> None:
    for fault, status in ((None, 200), (F.MISSING_AUTH_METHOD_IS_BASIC, 401)):
        client = make_client(*([fault] if fault else []))
        url, code, verifier = await obtain_code(client, docs, token_endpoint_auth_method=None)
        response = await _redeem(client, url, code, verifier)
        assert response.status_code == status, response.text
        if status == 401:
            assert response.json()["error"] == "invalid_client"


async def _consent_html(client: ASClient, docs: DocumentHost, **members: Any) -> str:
    url = docs.new_url()
    docs.serve_document(url, **members)
    await client.login()
    page = await client.authorize(**authz_params(url, CALLBACK, pkce()[1]))
    assert page.status_code == 200, page.text
    return page.text


async def test_nameless_client_is_shown_by_its_host(make_client: Any, docs: DocumentHost) -> None:
    host = docs.base_url.removeprefix("https://").split(":")[0]
    clean = await _consent_html(make_client(), docs, client_name=None)
    assert f'<span id="client-name">{host}</span>' in clean
    faulty = await _consent_html(make_client(F.NAMELESS_CLIENT_ANONYMOUS), docs, client_name=None)
    assert "Authorize this application?" in faulty and host not in faulty
    named = await _consent_html(make_client(F.NAMELESS_CLIENT_ANONYMOUS), docs)
    assert 'id="client-host"' in named  # a named client keeps its host line


@pytest.mark.parametrize("scheme_url", ["javascript:alert(1)", "data:text/html,<b>x</b>"])
async def test_document_links_https_only_unless_faulted(
    make_client: Any, docs: DocumentHost, scheme_url: str
) -> None:
    members = {"tos_uri": "https://app.test/tos", "policy_uri": scheme_url}
    clean = await _consent_html(make_client(), docs, **members)
    assert 'href="https://app.test/tos"' in clean and "Privacy policy" not in clean
    faulty = await _consent_html(make_client(F.DOCUMENT_LINKS_ANY_SCHEME), docs, **members)
    assert "Privacy policy" in faulty and scheme_url.split(",")[0] in faulty


async def test_jwks_uri_any_scheme_fetches_http(ca_path: Any) -> None:
    clean = Fetcher(IssuerConfig(issuer=AS_ORIGIN, trust_ca=ca_path))
    with pytest.raises(FetchError, match="must be an https URL"):
        await clean.fetch_jwks("http://127.0.0.1:1/jwks.json")
    config = IssuerConfig(
        issuer=AS_ORIGIN, trust_ca=ca_path, faults=FaultSet([F.JWKS_URI_ANY_SCHEME])
    )
    with pytest.raises(FetchError, match="could not be retrieved"):  # it tried: nothing listens
        await Fetcher(config).fetch_jwks("http://127.0.0.1:1/jwks.json")
