"""Each fault changes the behaviour it names, and a clean issuer refuses the same request."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import re
import ssl
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from mock_servers.pki import TestCA, self_signed_pem
from mock_servers.reference_as import F, Fault
from mock_servers.runner import Server

from .conftest import AS_ORIGIN, RESOURCE, DocumentHost, authz_params, golden, pkce, query_of

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
    (
        F.LOOPBACK_PATH_PREFIX,
        requesting("http://127.0.0.1:5000/callback/x", redirect_uris=["http://127.0.0.1/callback"]),
    ),
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


async def _authorize(
    client: Any, docs: DocumentHost, redirect_uri: str | None, **members: Any
) -> Any:
    url = docs.new_url()
    docs.serve_document(url, **members)
    return await client.authorize(**authz_params(url, redirect_uri, pkce()[1]))


async def test_loopback_port_ip_literals_only(make_client: Any, docs: DocumentHost) -> None:
    """The any-port rule is lost for localhost, and only for it."""
    listed = {"redirect_uris": ["http://localhost/callback"]}
    clean, faulty = make_client(), make_client(F.LOOPBACK_PORT_IP_LITERALS_ONLY, prefix="/f")
    ephemeral = "http://localhost:49152/callback"
    assert (await _authorize(clean, docs, ephemeral, **listed)).status_code == 302
    assert (await _authorize(faulty, docs, ephemeral, **listed)).status_code == 400
    ip = {"redirect_uris": ["http://127.0.0.1/callback"]}
    ephemeral_ip = "http://127.0.0.1:49152/callback"
    assert (await _authorize(faulty, docs, ephemeral_ip, **ip)).status_code == 302
    # loopback-port-ipv4-only loses the rule for [::1] only: localhost keeps it
    ipv4_only = make_client(F.LOOPBACK_PORT_IPV4_ONLY, prefix="/g")
    assert (await _authorize(ipv4_only, docs, ephemeral, **listed)).status_code == 302


async def test_default_redirect_uri(make_client: Any, docs: DocumentHost) -> None:
    clean, faulty = make_client(), make_client(F.DEFAULT_REDIRECT_URI, prefix="/f")
    assert (await _authorize(clean, docs, None)).status_code == 400  # two listed
    assert (await _authorize(faulty, docs, None)).status_code == 302
    one = {"redirect_uris": [CALLBACK]}
    assert (await _authorize(clean, docs, None, **one)).status_code == 302  # one listed


async def test_redirects_errors_before_login(make_client: Any, docs: DocumentHost) -> None:
    """Without a session a request error goes straight back to the client."""
    clean, faulty = make_client(), make_client(F.REDIRECTS_ERRORS_BEFORE_LOGIN, prefix="/f")
    for client, goes_to in ((clean, "/login?"), (faulty, CALLBACK + "?")):
        url = docs.new_url()
        docs.serve_document(url)
        params = authz_params(url, CALLBACK, pkce()[1], response_type="token")
        response = await client.authorize(**params)
        assert response.headers["location"].startswith(goes_to), response.headers
    valid = await _authorize(faulty, docs, CALLBACK)  # no error: still signed in first
    assert "/login?" in valid.headers["location"]


async def test_error_redirect_drops_state(make_client: Any, docs: DocumentHost) -> None:
    for client, has_state in (
        (make_client(), True),
        (make_client(F.ERROR_REDIRECT_DROPS_STATE), False),
    ):
        await client.login()
        url = docs.new_url()
        docs.serve_document(url)
        params = authz_params(url, CALLBACK, "")
        del params["code_challenge"], params["code_challenge_method"]
        query = query_of((await client.authorize(**params)).headers["location"])
        assert query["error"] == "invalid_request"
        assert ("state" in query) is has_state


async def test_error_reflects_document(make_client: Any, docs: DocumentHost) -> None:
    url = docs.new_url()
    docs.serve(url, b"marker-7f3a internal 10.1.2.3", status=500)
    clean, faulty = make_client(), make_client(F.ERROR_REFLECTS_DOCUMENT, prefix="/f")
    params = authz_params(url, CALLBACK, pkce()[1])
    shown = await clean.authorize(**params)
    assert shown.status_code == 400 and "marker-7f3a" not in shown.text
    reflected = await faulty.authorize(**params)
    assert reflected.status_code == 400 and "marker-7f3a internal 10.1.2.3" in reflected.text


async def _tokens(client: Any, docs: DocumentHost) -> tuple[str, dict[str, Any]]:
    url = docs.new_url()
    docs.serve_document(url)
    await client.login()
    verifier, challenge = pkce()
    page = await client.authorize(**authz_params(url, CALLBACK, challenge))
    code = query_of(await client.approve(page))["code"]
    form = {"grant_type": "authorization_code", "code": code, "client_id": url}
    response = await client.token(**form, redirect_uri=CALLBACK, code_verifier=verifier)
    assert response.status_code == 200, response.text
    return url, response.json()


async def test_code_not_bound_to_client(make_client: Any, docs: DocumentHost) -> None:
    for client, status in ((make_client(), 400), (make_client(F.CODE_NOT_BOUND_TO_CLIENT), 200)):
        url, other = docs.new_url(), docs.new_url()
        docs.serve_document(url)
        docs.serve_document(other)
        await client.login()
        verifier, challenge = pkce()
        page = await client.authorize(**authz_params(url, CALLBACK, challenge))
        code = query_of(await client.approve(page))["code"]
        form = {"grant_type": "authorization_code", "code": code, "client_id": other}
        response = await client.token(**form, redirect_uri=CALLBACK, code_verifier=verifier)
        assert response.status_code == status, response.text


async def test_refresh_not_bound_to_client(make_client: Any, docs: DocumentHost) -> None:
    for client, status in ((make_client(), 400), (make_client(F.REFRESH_NOT_BOUND_TO_CLIENT), 200)):
        _, tokens = await _tokens(client, docs)
        other = docs.new_url()
        docs.serve_document(other)
        response = await client.token(
            grant_type="refresh_token", refresh_token=tokens["refresh_token"], client_id=other
        )
        assert response.status_code == status, response.text


async def test_refresh_not_rotated(make_client: Any, docs: DocumentHost) -> None:
    client = make_client(F.REFRESH_NOT_ROTATED)
    url, tokens = await _tokens(client, docs)
    form = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    first = await client.token(**form, client_id=url)
    assert first.status_code == 200 and first.json()["refresh_token"] != tokens["refresh_token"]
    assert (await client.token(**form, client_id=url)).status_code == 200  # the old one again


async def test_refresh_audience_issuer(make_client: Any, docs: DocumentHost) -> None:
    """The refreshed access token is for the issuer, not the resource the refresh names."""
    for client, audience in (
        (make_client(), RESOURCE),
        (make_client(F.REFRESH_AUDIENCE_ISSUER), AS_ORIGIN),
    ):
        url, tokens = await _tokens(client, docs)
        form = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
        response = await client.token(**form, client_id=url, resource=RESOURCE)
        claims = jwt.decode(response.json()["access_token"], options={"verify_signature": False})
        assert claims["aud"] == audience


async def test_token_rejects_resource(make_client: Any, docs: DocumentHost) -> None:
    client = make_client(F.TOKEN_REJECTS_RESOURCE)
    url, tokens = await _tokens(client, docs)  # no resource at the token endpoint: fine
    form = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    response = await client.token(**form, client_id=url, resource="https://as.test/mcp")
    assert (response.status_code, response.json()["error"]) == (400, "invalid_request")


async def test_consent_page_faults(make_client: Any, docs: DocumentHost) -> None:
    """Each consent fault drops exactly one of the clean page's protections."""
    url = docs.new_url()
    hostile = "<b id=planted>x</b>"
    docs.serve_document(url, client_name=hostile, redirect_uris=["http://127.0.0.1/callback"])
    faults = (
        F.CLIENT_NAME_UNESCAPED,
        F.CONSENT_FRAMABLE,
        F.CONSENT_HIDES_CLIENT_HOST,
        F.CONSENT_HIDES_REDIRECT_HOST,
        F.NO_LOOPBACK_WARNING,
    )
    pages = {}
    for fault in (None, *faults):
        client = make_client(
            *(() if fault is None else (fault,)), prefix="" if fault is None else "/f"
        )
        await client.login()
        page = await client.authorize(
            **authz_params(url, "http://127.0.0.1:4000/callback", pkce()[1])
        )
        assert page.status_code == 200
        pages[fault] = page
    clean = pages[None]
    assert "&lt;b id=planted&gt;" in clean.text and "x-frame-options" in clean.headers
    assert 'id="client-host"' in clean.text and 'id="redirect-host"' in clean.text
    assert 'id="loopback-warning"' in clean.text
    assert hostile in pages[F.CLIENT_NAME_UNESCAPED].text
    framable = pages[F.CONSENT_FRAMABLE].headers
    assert "x-frame-options" not in framable and "content-security-policy" not in framable
    assert 'id="client-host"' not in pages[F.CONSENT_HIDES_CLIENT_HOST].text
    assert 'id="redirect-host"' not in pages[F.CONSENT_HIDES_REDIRECT_HOST].text
    assert 'id="loopback-warning"' not in pages[F.NO_LOOPBACK_WARNING].text


async def test_logo_kept_with_the_document(make_client: Any, docs: DocumentHost) -> None:
    """The logo is fetched once per cached copy of the document; the fault hotlinks it."""
    logo = docs.new_url(".png")
    docs.serve(logo, b"\x89PNG\r\n\x1a\n", headers=[("content-type", "image/png")])
    url = docs.new_url()
    docs.serve_document(url, cache_control="max-age=600", logo_uri=logo)
    clean = make_client()
    await clean.login()
    for _ in range(2):
        page = await clean.authorize(**authz_params(url, CALLBACK, pkce()[1]))
        assert '<img id="client-logo" src="data:image/png;base64,' in page.text
    assert docs.fetches(logo) == 1
    faulty = make_client(F.LOGO_HOTLINKED, prefix="/f")
    await faulty.login()
    page = await faulty.authorize(**authz_params(url, CALLBACK, pkce()[1]))
    assert f'<img id="client-logo" src="{logo}"' in page.text
    assert docs.fetches(logo) == 1


async def test_fetch_drops_query(make_client: Any, docs: DocumentHost) -> None:
    url = docs.new_url() + "?tenant=a%2Fb&v=1"
    docs.serve(url, golden(url))
    params = authz_params(url, CALLBACK, pkce()[1])
    assert (await make_client().authorize(**params)).status_code == 302
    assert docs.log[-1].target.endswith("?tenant=a%2Fb&v=1")
    assert (await make_client(F.FETCH_DROPS_QUERY).authorize(**params)).status_code == 400
    assert "?" not in docs.log[-1].target


@pytest.fixture
def bad_tls_urls(docs: DocumentHost, test_ca: TestCA, tmp_path: Path) -> Iterator[dict[str, str]]:
    """The document host behind a wrong-name and a self-signed certificate."""
    leaves = {
        "wrong-name": test_ca.issue_wrong_name_pem(tmp_path),
        "self-signed": self_signed_pem(tmp_path, ("127.0.0.1",)),
    }
    with contextlib.ExitStack() as stack:
        urls = {}
        for kind, leaf in leaves.items():
            server = stack.enter_context(Server(docs, certfile=leaf))
            url = f"{server.base_url}/c/{kind}.json"
            docs.serve(url, golden(url))
            urls[kind] = url
        yield urls


@pytest.mark.parametrize(
    ("fault", "accepted"),
    [
        (None, set()),
        (F.TLS_HOSTNAME_UNCHECKED, {"wrong-name"}),
        (F.TLS_VERIFY_OFF, {"wrong-name", "self-signed"}),
    ],
)
async def test_tls_faults(
    make_client: Any, bad_tls_urls: dict[str, str], fault: Fault | None, accepted: set[str]
) -> None:
    client = make_client(*([fault] if fault else []))
    for kind, url in bad_tls_urls.items():
        response = await client.authorize(**authz_params(url, CALLBACK, pkce()[1]))
        assert response.status_code == (302 if kind in accepted else 400), kind


def _padded(url: str, size: int) -> bytes:
    bare = httpx.Response(200, json=golden(url, pad="")).content
    return httpx.Response(200, json=golden(url, pad="a" * (size - len(bare)))).content


async def test_size_limit_faults(make_client: Any, docs: DocumentHost) -> None:
    fits, large = docs.new_url(), docs.new_url()
    docs.serve(fits, _padded(fits, 4000))
    docs.serve(large, _padded(large, 10_000))
    clean, small = make_client(), make_client(F.SIZE_LIMIT_TOO_SMALL)
    unbounded = make_client(F.FETCH_READS_UNBOUNDED)
    for issuer, url, status in [
        (clean, fits, 302),
        (clean, large, 400),
        (small, fits, 400),
        (unbounded, large, 302),
    ]:
        response = await issuer.authorize(**authz_params(url, CALLBACK, pkce()[1]))
        assert response.status_code == status, url


async def test_fetch_no_timeout(make_client: Any, test_ca: TestCA, tmp_path: Path) -> None:
    async def accept(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(HOLD_S)  # accepted, never answered: hung up on after a while
        writer.close()

    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(test_ca.issue_server_pem(tmp_path))
    server = await asyncio.start_server(accept, "127.0.0.1", 0, ssl=tls)
    port = server.sockets[0].getsockname()[1]
    params = authz_params(f"https://127.0.0.1:{port}/c.json", CALLBACK, pkce()[1])
    try:
        for faults, at_least, at_most in [((), 0.0, HOLD_S), ((F.FETCH_NO_TIMEOUT,), HOLD_S, 5.0)]:
            started = time.monotonic()
            response = await make_client(*faults, timeout=0.3).authorize(**params)
            took = time.monotonic() - started
            assert response.status_code == 400
            assert at_least <= took < at_most, (faults, took)
    finally:
        server.close()
        await server.wait_closed()


HOLD_S = 1.0


async def test_fetch_forwards_user_headers(make_client: Any, docs: DocumentHost) -> None:
    url = docs.new_url()
    docs.serve(url, golden(url))
    params = authz_params(url, CALLBACK, pkce()[1])
    user = {"cookie": "session=abc123def", "authorization": "Bearer user-token-1"}
    await make_client().http.get("/authorize", params=params, headers=user)
    clean = docs.log[-1].headers
    assert not {"cookie", "authorization", "x-forwarded-for", "referer"} & clean.keys()
    await make_client(F.FETCH_FORWARDS_USER_HEADERS).http.get(
        "/authorize", params=params, headers=user
    )
    forwarded = docs.log[-1].headers
    assert forwarded["cookie"] == user["cookie"]
    assert forwarded["authorization"] == user["authorization"]
    assert forwarded["x-forwarded-for"] == "127.0.0.1"
    assert params["state"] in forwarded["referer"]


async def test_response_iss_faults(make_client: Any, docs: DocumentHost) -> None:
    flag = "authorization_response_iss_parameter_supported"
    for fault, iss, advertised in (
        (None, "https://as.test", True),
        (F.NO_RESPONSE_ISS, None, None),
        (F.RESPONSE_ISS_UNADVERTISED, "https://as.test", None),
        (F.RESPONSE_ISS_TRAILING_SLASH, "https://as.test/", True),
    ):
        client = make_client(*([fault] if fault else []))
        metadata = (await client.http.get("/.well-known/oauth-authorization-server")).json()
        assert metadata.get(flag) is advertised and metadata["issuer"] == "https://as.test"
        await client.login()
        url = docs.new_url()
        docs.serve_document(url)
        page = await client.authorize(**authz_params(url, CALLBACK, pkce()[1]))
        params = authz_params(url, CALLBACK, "")
        del params["code_challenge"], params["code_challenge_method"]
        error = (await client.authorize(**params)).headers["location"]
        for response in (await client.approve(page), error):
            assert query_of(response).get("iss") == iss
