"""Each fault changes the behaviour it names, and a clean issuer refuses the same request."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from mock_servers.reference_as import F, Fault

from .conftest import DocumentHost, authz_params, golden, pkce, query_of

CALLBACK = "https://app.test/cb"
Setup = Callable[[DocumentHost], tuple[str, str]]


def _origin(docs: DocumentHost) -> str:
    return docs.base_url.removeprefix("https://")


def fragment(docs: DocumentHost) -> tuple[str, str]:
    url = docs.new_url()
    docs.serve(url, golden(url + "#x"))
    return url + "#x", CALLBACK


def dot_segments(docs: DocumentHost) -> tuple[str, str]:
    url = docs.new_url()
    raw = url.replace("/c/", "/c/a/../")
    docs.serve(url, golden(raw))
    return raw, CALLBACK


def empty_path(docs: DocumentHost) -> tuple[str, str]:
    docs.serve("/", golden(docs.base_url))
    return docs.base_url, CALLBACK


def any_2xx(docs: DocumentHost) -> tuple[str, str]:
    url = docs.new_url()
    docs.serve(url, golden(url), status=203)
    return url, CALLBACK


def redirect(docs: DocumentHost) -> tuple[str, str]:
    url, elsewhere = docs.new_url(), docs.new_url()
    docs.serve(elsewhere, golden(url))
    docs.serve(url, b"", status=307, headers=[("location", elsewhere)])
    return url, CALLBACK


def trailing_garbage(docs: DocumentHost) -> tuple[str, str]:
    url = docs.new_url()
    docs.serve(url, httpx.Response(200, json=golden(url)).content + b" garbage")
    return url, CALLBACK


def with_members(**members: Any) -> Setup:
    def setup(docs: DocumentHost) -> tuple[str, str]:
        url = docs.new_url()
        docs.serve(url, golden(url, **members))
        return url, CALLBACK

    return setup


def claiming(suffix: str | None) -> Setup:
    """A document whose client_id is the URL plus ``suffix`` (absent when ``None``)."""

    def setup(docs: DocumentHost) -> tuple[str, str]:
        url = docs.new_url()
        docs.serve(url, golden(url, client_id=None if suffix is None else url + suffix))
        return url, CALLBACK

    return setup


def requesting(redirect_uri: str, **members: Any) -> Setup:
    def setup(docs: DocumentHost) -> tuple[str, str]:
        url = docs.new_url()
        docs.serve(url, golden(url, **members))
        return url, redirect_uri

    return setup


def unreachable(docs: DocumentHost) -> tuple[str, str]:
    return "https://127.0.0.1:1/c.json", CALLBACK


ACCEPTED_ONLY_WITH_FAULT: list[tuple[Fault, Setup]] = [
    (F.ALLOWS_FRAGMENT, fragment),
    (F.IGNORES_DOT_SEGMENTS, dot_segments),
    (F.ALLOWS_EMPTY_PATH, empty_path),
    (F.ACCEPTS_ANY_2XX, any_2xx),
    (F.FOLLOWS_REDIRECTS, redirect),
    (F.LENIENT_JSON, trailing_garbage),
    (F.NORMALIZES_CLIENT_ID, claiming("/")),
    (F.NO_CLIENT_ID_MATCH, claiming("-other")),
    (F.IGNORES_AUTH_METHOD, with_members(token_endpoint_auth_method="client_secret_basic")),
    (F.REDIRECT_URIS_OPTIONAL, requesting("https://evil.test/cb", redirect_uris=None)),
    (F.PREFIX_REDIRECT_MATCH, requesting(CALLBACK + "/../evil")),
    (F.TRUSTS_UNREACHABLE_DOCUMENTS, unreachable),
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


async def test_client_id_optional_still_compares_a_present_client_id(
    make_client: Any, docs: DocumentHost
) -> None:
    faulty = make_client(F.CLIENT_ID_OPTIONAL)
    absent, mismatched = claiming(None)(docs), claiming("-other")(docs)
    assert (await faulty.authorize(**authz_params(*absent, pkce()[1]))).status_code == 302
    assert (await faulty.authorize(**authz_params(*mismatched, pkce()[1]))).status_code == 400


async def test_ignores_auth_method_still_refuses_private_key_jwt(
    make_client: Any, docs: DocumentHost
) -> None:
    client_id, redirect_uri = with_members(token_endpoint_auth_method="private_key_jwt")(docs)
    response = await make_client(F.IGNORES_AUTH_METHOD).authorize(
        **authz_params(client_id, redirect_uri, pkce()[1])
    )
    assert response.status_code == 400


async def test_allows_userinfo_sends_basic_auth(make_client: Any, docs: DocumentHost) -> None:
    url = docs.new_url()
    raw = url.replace("https://", "https://u:p@")
    docs.serve(url, golden(raw))
    response = await make_client(F.ALLOWS_USERINFO).authorize(
        **authz_params(raw, CALLBACK, pkce()[1])
    )
    assert response.status_code == 302
    assert docs.log[-1].headers["authorization"] == "Basic " + base64.b64encode(b"u:p").decode()


async def test_strict_loopback_port(make_client: Any, docs: DocumentHost) -> None:
    client_id, _ = requesting("", redirect_uris=["http://127.0.0.1/callback"])(docs)
    faulty = make_client(F.STRICT_LOOPBACK_PORT)
    ephemeral = await faulty.authorize(
        **authz_params(client_id, "http://127.0.0.1:49152/callback", pkce()[1])
    )
    assert ephemeral.status_code == 400
    port_80 = await faulty.authorize(
        **authz_params(client_id, "http://127.0.0.1:80/callback", pkce()[1])
    )
    assert port_80.status_code == 302


async def test_redirects_unverified_uri(make_client: Any, docs: DocumentHost) -> None:
    client_id, _ = requesting("")(docs)
    params = authz_params(client_id, "https://evil.test/cb", pkce()[1])
    response = await make_client(F.REDIRECTS_UNVERIFIED_URI).authorize(**params)
    assert response.headers["location"].startswith("https://evil.test/cb?")
    assert query_of(response.headers["location"])["error"] == "invalid_request"


async def test_redirects_fetch_errors_but_not_syntax_errors(
    make_client: Any, docs: DocumentHost
) -> None:
    faulty = make_client(F.REDIRECTS_FETCH_ERRORS)
    missing = docs.new_url()
    response = await faulty.authorize(**authz_params(missing, "https://evil.test/cb", pkce()[1]))
    assert query_of(response.headers["location"])["error"] == "invalid_client"
    syntax = await faulty.authorize(
        **authz_params(missing + "#x", "https://evil.test/cb", pkce()[1])
    )
    assert syntax.status_code == 400 and "location" not in syntax.headers


async def test_trusts_unreachable_documents_only_on_network_failures(
    make_client: Any, docs: DocumentHost
) -> None:
    missing = docs.new_url()
    response = await make_client(F.TRUSTS_UNREACHABLE_DOCUMENTS).authorize(
        **authz_params(missing, CALLBACK, pkce()[1])
    )
    assert response.status_code == 400


async def test_drops_state(make_client: Any, docs: DocumentHost) -> None:
    client = make_client(F.DROPS_STATE)
    url = docs.new_url()
    docs.serve_document(url)
    await client.login()
    page = await client.authorize(**authz_params(url, CALLBACK, pkce()[1]))
    query = query_of(await client.approve(page))
    assert "code" in query and "state" not in query and query["iss"] == "https://as.test"


async def test_token_demands_secret(make_client: Any, docs: DocumentHost) -> None:
    client = make_client(F.TOKEN_DEMANDS_SECRET)
    url = docs.new_url()
    docs.serve_document(url)
    await client.login()
    verifier, challenge = pkce()
    page = await client.authorize(**authz_params(url, CALLBACK, challenge))
    code = query_of(await client.approve(page))["code"]
    response = await client.token(
        grant_type="authorization_code",
        code=code,
        client_id=url,
        redirect_uri=CALLBACK,
        code_verifier=verifier,
    )
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"


async def test_pkce_optional(make_client: Any, docs: DocumentHost) -> None:
    client = make_client(F.PKCE_OPTIONAL)
    url = docs.new_url()
    docs.serve_document(url)
    await client.login()
    params = authz_params(url, CALLBACK, "")
    del params["code_challenge"], params["code_challenge_method"]
    statuses = []
    for verifier in (None, pkce()[0]):
        page = await client.authorize(**params)
        assert page.status_code == 200
        code = query_of(await client.approve(page))["code"]
        form = {"grant_type": "authorization_code", "code": code, "client_id": url}
        form |= {"redirect_uri": CALLBACK} | ({"code_verifier": verifier} if verifier else {})
        statuses.append((await client.token(**form)).status_code)
    # the code without a challenge is redeemed; a verifier for it is still a downgrade
    assert statuses == [200, 400]


async def test_pkce_verifier_optional(make_client: Any, docs: DocumentHost) -> None:
    client = make_client(F.PKCE_VERIFIER_OPTIONAL)
    url = docs.new_url()
    docs.serve_document(url)
    await client.login()
    page = await client.authorize(**authz_params(url, CALLBACK, pkce()[1]))
    code = query_of(await client.approve(page))["code"]
    response = await client.token(
        grant_type="authorization_code", code=code, client_id=url, redirect_uri=CALLBACK
    )
    assert response.status_code == 200


async def test_logo_fetched_lazily(make_client: Any, docs: DocumentHost) -> None:
    """The consent page links the AS's /logo, which fetches logo_uri unchecked when asked."""
    logo = docs.new_url(".png")
    docs.serve(logo, b"\x89PNG\r\n\x1a\n")
    on_localhost = logo.replace("127.0.0.1", "localhost", 1)  # refused by the clean guard
    url = docs.new_url()
    docs.serve_document(url, logo_uri=on_localhost)
    clean, faulty = make_client(), make_client(F.LOGO_FETCHED_LAZILY, prefix="/f")
    for client in (clean, faulty):
        await client.login()
    page = await clean.authorize(**authz_params(url, CALLBACK, pkce()[1]))
    assert page.status_code == 200 and "client-logo" not in page.text
    page = await faulty.authorize(**authz_params(url, CALLBACK, pkce()[1]))
    found = re.search(r'<img id="client-logo" src="([^"]+)"', page.text)
    assert found is not None and found.group(1).startswith("/f/logo?id=")
    assert docs.fetches(logo) == 0  # building the page fetched nothing
    await faulty.http.get(found.group(1))
    assert docs.fetches(logo) == 1  # the browser's image request did
    missing = await faulty.http.get("/f/logo?id=unknown")
    assert missing.status_code == 404


async def test_client_id_not_fetched(make_client: Any, docs: DocumentHost) -> None:
    """Consent for a client whose document does not even exist, and no fetch at all."""
    url = docs.new_url()  # never served
    clean, faulty = make_client(), make_client(F.CLIENT_ID_NOT_FETCHED, prefix="/f")
    for client in (clean, faulty):
        await client.login()
    assert (await clean.authorize(**authz_params(url, CALLBACK, pkce()[1]))).status_code == 400
    assert docs.fetches(url) == 1
    page = await faulty.authorize(**authz_params(url, CALLBACK, pkce()[1]))
    assert "code" in query_of(await faulty.approve(page))
    assert docs.fetches(url) == 1  # the faulty issuer never asked
    # syntax is still checked
    bad = await faulty.authorize(**authz_params(url + "#x", CALLBACK, pkce()[1]))
    assert bad.status_code == 400


async def test_logo_proxied_any_scheme_links_the_logo_too(
    make_client: Any, docs: DocumentHost
) -> None:
    url = docs.new_url()
    docs.serve_document(url, logo_uri="ftp://127.0.0.1:9/logo.png")
    faulty = make_client(F.LOGO_PROXIED_ANY_SCHEME, prefix="/f")
    await faulty.login()
    page = await faulty.authorize(**authz_params(url, CALLBACK, pkce()[1]))
    assert '<img id="client-logo" src="/f/logo?id=' in page.text
