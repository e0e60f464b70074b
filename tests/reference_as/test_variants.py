"""The variants: each is a real server's shape, and the AS stays a correct CIMD AS under it."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import secrets
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from conformance.harness.pages import parse
from mock_servers.reference_as import (
    VARIANTS,
    F,
    FaultSet,
    IssuerConfig,
    create_app,
    create_provider_app,
    main,
)
from mock_servers.reference_as.app import DISTANT_S

from .conftest import (
    AS_ORIGIN,
    PASSWORD,
    RESOURCE,
    USER,
    DocumentHost,
    authz_params,
    hidden_fields,
    pkce,
    query_of,
)

CALLBACK = "https://app.test/cb"
IDP_ORIGIN = "https://idp.test"
PAGE_DATA = re.compile(r'<script type="application/json" id="page-data">(.*?)</script>', re.S)

Make = Callable[..., httpx.AsyncClient]


@pytest.fixture
async def make_as(ca_path: Path) -> AsyncIterator[Make]:
    """An in-process AS with the given variants (and config overrides); its httpx client."""
    clients: list[httpx.AsyncClient] = []

    def make(*variants: str, origin: str = AS_ORIGIN, **overrides: Any) -> httpx.AsyncClient:
        overrides.setdefault("resources", (RESOURCE,))
        config = IssuerConfig(
            issuer=origin, trust_ca=ca_path, variants=frozenset(variants), **overrides
        )
        transport = httpx.ASGITransport(app=create_app([config]))
        http = httpx.AsyncClient(transport=transport, base_url=origin)
        clients.append(http)
        return http

    yield make
    for http in clients:
        await http.aclose()


def page_data(html: str) -> dict[str, Any]:
    found = PAGE_DATA.search(html)
    assert found is not None, html
    data: dict[str, Any] = json.loads(found.group(1))
    return data


async def redeem(http: httpx.AsyncClient, location: str, client_id: str, verifier: str) -> None:
    """The code in ``location`` buys tokens: the flow really completed."""
    code = query_of(location)["code"]
    form = {"grant_type": "authorization_code", "code": code, "client_id": client_id}
    form |= {"redirect_uri": CALLBACK, "code_verifier": verifier}
    response = await http.post("/token", data=form)
    assert response.status_code == 200, response.text
    assert response.json()["access_token"]


def document(docs: DocumentHost, cache_control: str = "no-store") -> str:
    url = docs.new_url()
    docs.serve_document(url, cache_control=cache_control)
    return url


async def test_script_pages_have_no_form_and_take_fetch_posts(
    make_as: Make, docs: DocumentHost
) -> None:
    http = make_as("script-pages")
    url, (verifier, challenge) = document(docs), pkce()
    first = await http.get("/authorize", params=authz_params(url, CALLBACK, challenge))
    login_page = await http.get(first.headers["location"])
    assert login_page.status_code == 200
    assert "<form" not in login_page.text and "<input" not in login_page.text
    assert "<button" not in login_page.text and "fetch(" in login_page.text
    login = page_data(login_page.text)
    wrong = await http.post(login["action"], json={"username": USER, "password": "x"})
    assert wrong.status_code == 401 and "error" in wrong.json()
    signed_in = await http.post(
        login["action"], json={"username": USER, "password": PASSWORD, "next": login["next"]}
    )
    assert signed_in.status_code == 200, signed_in.text
    assert signed_in.json() == {"location": login["next"]}
    assert "set-cookie" in signed_in.headers
    consent = await http.get(signed_in.json()["location"])
    assert consent.status_code == 200 and "<form" not in consent.text
    data = page_data(consent.text)
    assert data["client_id"] == url and data["links"] is None
    decided = await http.post(
        data["action"],
        json={"request_id": data["request_id"], "csrf": data["csrf"], "decision": "approve"},
    )
    assert decided.status_code == 200
    location = decided.json()["location"]
    assert location.startswith(CALLBACK + "?")
    await redeem(http, location, url, verifier)


async def test_script_pages_escape_document_text_in_page_data(
    make_as: Make, docs: DocumentHost
) -> None:
    http = make_as("script-pages")
    url = docs.new_url()
    docs.serve_document(url, client_name="</script><script>alert(1)</script>")
    await http.post("/login", data={"username": USER, "password": PASSWORD, "next": ""})
    consent = await http.get("/authorize", params=authz_params(url, CALLBACK, pkce()[1]))
    assert "</script><script>alert" not in consent.text
    assert page_data(consent.text)["client_name"] == "</script><script>alert(1)</script>"


@pytest.fixture
async def idp() -> AsyncIterator[tuple[httpx.AsyncClient, bytes]]:
    key = secrets.token_bytes(32)
    app = create_provider_app(key, USER, PASSWORD, AS_ORIGIN)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url=IDP_ORIGIN
    ) as http:
        yield http, key


async def test_upstream_login_goes_to_the_provider_and_back(
    make_as: Make, docs: DocumentHost, idp: tuple[httpx.AsyncClient, bytes]
) -> None:
    provider, key = idp
    http = make_as("upstream-login", upstream_origin=IDP_ORIGIN, upstream_key=key)
    url, (verifier, challenge) = document(docs), pkce()
    first = await http.get("/authorize", params=authz_params(url, CALLBACK, challenge))
    to_provider = await http.get(first.headers["location"])
    assert to_provider.status_code == 302
    location = to_provider.headers["location"]
    assert location.startswith(IDP_ORIGIN + "/authorize?")
    assert query_of(location)["return_to"] == AS_ORIGIN + "/login/callback"
    assert (await http.post("/login", data={"username": USER, "password": PASSWORD})).is_error
    form = await provider.get(location)
    assert form.status_code == 200 and 'id="sign-in"' in form.text
    fields = {**query_of(location), "username": USER}
    refused = await provider.post("/authorize", data={**fields, "password": "x"})
    assert refused.status_code == 401
    back = await provider.post("/authorize", data={**fields, "password": PASSWORD})
    assert back.status_code == 302
    callback = back.headers["location"]
    assert callback.startswith(AS_ORIGIN + "/login/callback?")
    assert "assertion" in query_of(callback)
    session = await http.get(callback)
    assert session.status_code == 302, session.text
    assert session.headers["location"] == query_of(first.headers["location"])["next"]
    replay = await http.get(callback)  # one-time: the state and the assertion are spent
    assert replay.status_code == 400
    consent = await http.get(session.headers["location"])
    assert consent.status_code == 200 and 'id="approve"' in consent.text
    fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', consent.text))
    decided = await http.post("/consent", data={**fields, "decision": "approve"})
    await redeem(http, decided.headers["location"], url, verifier)


async def test_upstream_provider_refuses_foreign_return_addresses(
    idp: tuple[httpx.AsyncClient, bytes],
) -> None:
    provider, _ = idp
    for return_to in ("https://evil.test/login/callback", AS_ORIGIN + "/authorize"):
        page = await provider.get("/authorize", params={"return_to": return_to, "state": "s"})
        assert page.status_code == 400
        posted = await provider.post(
            "/authorize",
            data={"return_to": return_to, "state": "s", "username": USER, "password": PASSWORD},
        )
        assert posted.status_code == 400 and "location" not in posted.headers


async def test_upstream_login_refuses_a_forged_assertion(
    make_as: Make, idp: tuple[httpx.AsyncClient, bytes]
) -> None:
    provider, _ = idp
    http = make_as("upstream-login", upstream_origin=IDP_ORIGIN, upstream_key=b"other" * 8)
    started = await http.get("/login", params={"next": "/authorize"})
    back = await provider.post(
        "/authorize",
        data={**query_of(started.headers["location"]), "username": USER, "password": PASSWORD},
    )
    refused = await http.get(back.headers["location"])
    assert refused.status_code == 400 and "access_denied" in refused.text
    assert "set-cookie" not in refused.headers


async def test_consent_before_login_asks_consent_first(make_as: Make, docs: DocumentHost) -> None:
    http = make_as("consent-before-login")
    url, (verifier, challenge) = document(docs), pkce()
    consent = await http.get("/authorize", params=authz_params(url, CALLBACK, challenge))
    assert consent.status_code == 200, consent.text
    assert 'id="sign-in-after"' in consent.text and 'id="user"' not in consent.text
    fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', consent.text))
    approved = await http.post("/consent", data={**fields, "decision": "approve"})
    assert approved.status_code == 302
    login_url = approved.headers["location"]
    assert login_url.startswith("/login?") and "code" not in query_of(login_url)
    next_url = query_of(login_url)["next"]
    assert next_url.startswith("/consent/resume?")
    signed_in = await http.post(
        "/login", data={"username": USER, "password": PASSWORD, "next": next_url}
    )
    assert signed_in.headers["location"] == next_url
    done = await http.get(next_url)
    assert done.status_code == 302 and done.headers["location"].startswith(CALLBACK + "?")
    await redeem(http, done.headers["location"], url, verifier)
    assert (await http.get(next_url)).status_code == 400  # the approval was used


async def test_consent_before_login_still_signs_in_before_redirecting_errors(
    make_as: Make, docs: DocumentHost
) -> None:
    http = make_as("consent-before-login")
    params = authz_params(document(docs), CALLBACK, pkce()[1], response_type="token")
    response = await http.get("/authorize", params=params)
    assert response.status_code == 302 and response.headers["location"].startswith("/login?")


async def test_host_cookies_set_a_host_prefixed_secure_cookie_over_http(
    make_as: Make, docs: DocumentHost
) -> None:
    http = make_as("host-cookies", origin="http://127.0.0.1:8080")
    url = document(docs, cache_control="max-age=60")
    first = await http.get("/authorize", params=authz_params(url, CALLBACK, pkce()[1]))
    next_url = query_of(first.headers["location"])["next"]
    signed_in = await http.post(
        "/login", data={"username": USER, "password": PASSWORD, "next": next_url}
    )
    cookie = signed_in.headers["set-cookie"]
    assert cookie.startswith("__Host-cimd_ref_as=")
    flags = [part.strip().lower() for part in cookie.split(";")]
    assert "secure" in flags and "path=/" in flags
    assert not any(flag.startswith("domain") for flag in flags)
    # The shape the variant reproduces: an http client keeps the Secure cookie to itself,
    # so the AS sees no session and asks for login again (Chromium does send it: loopback
    # http is a secure context there).
    again = await http.get(next_url)
    assert again.status_code == 302 and again.headers["location"].startswith("/login?")
    with_cookie = await http.get(next_url, headers={"cookie": cookie.split(";")[0]})
    assert with_cookie.status_code == 200 and 'id="approve"' in with_cookie.text


async def test_no_cache_fetches_a_cacheable_document_at_every_request(
    make_as: Make, docs: DocumentHost
) -> None:
    """``no-cache``: a document that may be kept for an hour is fetched for each request (an
    AS with no document cache at all, which caching's MAY allows), and still accepted."""
    cached, plain = make_as(), make_as("no-cache")
    url = document(docs, cache_control="max-age=3600")
    params = authz_params(url, CALLBACK, pkce()[1])
    for _ in range(2):
        assert (await cached.get("/authorize", params=params)).status_code == 302
    assert docs.fetches(url) == 1
    for _ in range(3):
        assert (await plain.get("/authorize", params=params)).status_code == 302
    assert docs.fetches(url) == 4


async def test_distant_answers_start_late_and_are_the_same(make_as: Make) -> None:
    """``distant``: each answer starts :data:`DISTANT_S` late, and is the answer a near
    server gives."""
    near, far = make_as(), make_as("distant")
    answers = []
    for http in (near, far):
        started = time.monotonic()
        answers.append((await http.get("/.well-known/oauth-authorization-server")).json())
        waited = time.monotonic() - started
    assert waited >= DISTANT_S and answers[0] == answers[1]


async def test_identifier_first_asks_the_user_name_then_the_password(
    make_as: Make, docs: DocumentHost
) -> None:
    """``identifier-first``: the login page asks the user name alone; any name gets the
    password page (which names no user as unknown); the right password signs in."""
    http = make_as("identifier-first")
    url = document(docs)
    first = await http.get("/authorize", params=authz_params(url, CALLBACK, pkce()[1]))
    login_url = first.headers["location"]
    step_one = parse((await http.get(login_url)).text)
    [form] = step_one.forms
    assert form.text_fields == ["username"] and not form.password_fields
    next_url = form.fields["next"]
    for name in (USER, "nobody-" + secrets.token_hex(3)):
        step_two = await http.post("/login", data={"username": name, "next": next_url})
        assert step_two.status_code == 200 and "set-cookie" not in step_two.headers
        [form] = parse(step_two.text).forms
        assert form.password_fields == ["password"] and form.fields["username"] == name
    wrong = await http.post("/login", data={"username": USER, "password": "x", "next": next_url})
    assert wrong.status_code == 401 and parse(wrong.text).forms[0].password_fields
    signed_in = await http.post(
        "/login", data={"username": USER, "password": PASSWORD, "next": next_url}
    )
    assert signed_in.status_code == 302 and "set-cookie" in signed_in.headers


async def test_rate_limited_answers_429_then_recovers(make_as: Make, docs: DocumentHost) -> None:
    http = make_as("rate-limited", rate_interval_s=1.0, rate_budget=3, rate_window_s=60.0)
    url, challenge = document(docs), pkce()[1]
    params = authz_params(url, CALLBACK, challenge)
    assert (await http.get("/authorize", params=params)).status_code == 302
    limited = await http.get("/authorize", params=params)
    assert limited.status_code == 429
    assert limited.headers["retry-after"] == "1"
    assert 'id="error">temporarily_unavailable<' in limited.text
    assert "location" not in limited.headers and docs.fetches(url) == 1
    await asyncio.sleep(1.1)  # past the interval
    assert (await http.get("/authorize", params=params)).status_code == 302
    assert docs.fetches(url) == 2
    # the per-origin budget: a third document from the same host is the last one allowed
    third = authz_params(document(docs), CALLBACK, challenge)
    assert (await http.get("/authorize", params=third)).status_code == 302
    over = await http.get("/authorize", params=authz_params(document(docs), CALLBACK, challenge))
    assert over.status_code == 429 and 55 <= int(over.headers["retry-after"]) <= 60


async def test_a_rate_limit_is_no_fetch_error_to_redirect(
    make_as: Make, docs: DocumentHost
) -> None:
    """redirects-fetch-errors redirects failed fetches; a rate limit still says "not now"."""
    http = make_as(
        "rate-limited", rate_interval_s=30.0, faults=FaultSet([F.REDIRECTS_FETCH_ERRORS])
    )
    params = authz_params(document(docs), CALLBACK, pkce()[1])
    assert (await http.get("/authorize", params=params)).status_code == 302
    limited = await http.get("/authorize", params=params)
    assert limited.status_code == 429 and "location" not in limited.headers


async def test_rate_limited_never_limits_cached_documents(
    make_as: Make, docs: DocumentHost
) -> None:
    http = make_as("rate-limited", rate_interval_s=30.0)
    url = document(docs, cache_control="max-age=60")
    params = authz_params(url, CALLBACK, pkce()[1])
    for _ in range(3):
        assert (await http.get("/authorize", params=params)).status_code == 302
    assert docs.fetches(url) == 1


async def test_approve_link_approves_through_a_link(make_as: Make, docs: DocumentHost) -> None:
    http = make_as("approve-link")
    url, (verifier, challenge) = document(docs), pkce()
    await http.post("/login", data={"username": USER, "password": PASSWORD, "next": ""})
    consent = await http.get("/authorize", params=authz_params(url, CALLBACK, challenge))
    assert "<form" not in consent.text and "<button" not in consent.text
    links = {
        name: href.replace("&amp;", "&")
        for href, name in re.findall(r'<a href="([^"]+)" id="(approve|deny)">', consent.text)
    }
    assert set(links) == {"approve", "deny"}
    assert all(urlsplit(href).path == "/consent" for href in links.values())
    done = await http.get(links["approve"])
    assert done.status_code == 302, done.text
    await redeem(http, done.headers["location"], url, verifier)


async def test_short_sessions_end_and_the_login_page_comes_back(
    make_as: Make, docs: DocumentHost, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("mock_servers.reference_as.issuer.SHORT_SESSION_REQUESTS", 3)
    http = make_as("short-sessions")
    url = document(docs)
    await http.post("/login", data={"username": USER, "password": PASSWORD, "next": ""})
    for _ in range(2):  # the sign-in's first two authorization requests: consent
        shown = await http.get("/authorize", params=authz_params(url, CALLBACK, pkce()[1]))
        assert shown.status_code == 200 and "decision" in shown.text
    for _ in range(2):  # its third ends it; from then on the login page
        ended = await http.get("/authorize", params=authz_params(url, CALLBACK, pkce()[1]))
        assert ended.status_code == 302 and ended.headers["location"].startswith("/login?")


async def test_a_renewed_short_session_keeps_its_count(
    make_as: Make, docs: DocumentHost, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under both variants the renewed id carries the requests made under the old one."""
    monkeypatch.setattr("mock_servers.reference_as.issuer.SHORT_SESSION_REQUESTS", 3)
    http = make_as("short-sessions", "renewed-sessions")
    url = document(docs)
    await http.post("/login", data={"username": USER, "password": PASSWORD, "next": ""})
    first = await http.get("/authorize", params=authz_params(url, CALLBACK, pkce()[1]))
    approved = await http.post(
        "/consent", data={**hidden_fields(first.text), "decision": "approve"}
    )
    assert approved.status_code == 302, approved.text  # the session moved to a fresh id
    shown = await http.get("/authorize", params=authz_params(url, CALLBACK, pkce()[1]))
    assert shown.status_code == 200 and "decision" in shown.text
    ended = await http.get("/authorize", params=authz_params(url, CALLBACK, pkce()[1]))
    assert ended.status_code == 302 and ended.headers["location"].startswith("/login?")


async def test_renewed_sessions_move_the_session_at_every_approval(
    make_as: Make, docs: DocumentHost
) -> None:
    http = make_as("renewed-sessions")
    url, (verifier, challenge) = document(docs), pkce()
    await http.post("/login", data={"username": USER, "password": PASSWORD, "next": ""})
    old = http.cookies["cimd_ref_as"]
    first = await http.get("/authorize", params=authz_params(url, CALLBACK, challenge))
    second = await http.get("/authorize", params=authz_params(url, CALLBACK, pkce()[1]))
    approved = await http.post(
        "/consent", data={**hidden_fields(first.text), "decision": "approve"}
    )
    assert approved.status_code == 302, approved.text
    renewed = http.cookies["cimd_ref_as"]
    assert renewed != old
    await redeem(http, approved.headers["location"], url, verifier)
    # the old id has ended; the consent pending when it was renewed moved with the session
    stale = await http.get(
        "/authorize",
        params=authz_params(url, CALLBACK, challenge),
        headers={"cookie": f"cimd_ref_as={old}"},
    )
    assert stale.status_code == 302 and stale.headers["location"].startswith("/login?")
    fields = {**hidden_fields(second.text), "decision": "approve"}
    assert (await http.post("/consent", data=fields)).status_code == 302


async def test_consent_links_work_only_under_the_variant(make_as: Make) -> None:
    http = make_as()
    response = await http.get("/consent", params={"request_id": "x", "csrf": "y"})
    assert response.status_code == 405


async def test_trailing_slash_issuer(make_as: Make, docs: DocumentHost) -> None:
    http = make_as("trailing-slash-issuer")
    metadata = (await http.get("/.well-known/oauth-authorization-server")).json()
    assert metadata["issuer"] == AS_ORIGIN + "/"
    assert metadata["authorization_endpoint"] == AS_ORIGIN + "/authorize"
    url, (verifier, challenge) = document(docs), pkce()
    await http.post("/login", data={"username": USER, "password": PASSWORD, "next": ""})
    consent = await http.get("/authorize", params=authz_params(url, CALLBACK, challenge))
    fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', consent.text))
    done = await http.post("/consent", data={**fields, "decision": "approve"})
    assert query_of(done.headers["location"])["iss"] == AS_ORIGIN + "/"
    await redeem(http, done.headers["location"], url, verifier)


def test_list_variants_prints_one_a_line() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mock_servers.reference_as", "--list-variants"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    lines = [line.split("\t") for line in result.stdout.splitlines()]
    assert [name for name, _ in lines] == [variant.name for variant in VARIANTS]
    assert all(about for _, about in lines)


def test_unknown_variant_exits_2_naming_the_valid_ones(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--variant", "script-pages", "--variant", "nope"]) == 2
    err = capsys.readouterr().err
    assert "nope" in err and "approve-link" in err


def test_demo_refuses_an_unknown_variant(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from conformance.cli import main as cli_main

    assert cli_main(["demo", "--variant", "nope", "--report-dir", str(tmp_path)]) == 2
    assert "nope" in capsys.readouterr().err
    assert "Fix --variant" in (tmp_path / "report.json").read_text()


def test_served_variants_http_issuer_and_provider(tmp_path: Path) -> None:
    from conformance.target.reference import ReferenceTarget

    variants = ("host-cookies", "upstream-login", "trailing-slash-issuer")
    with ReferenceTarget(matrix=True, state_dir=tmp_path, variants=variants) as target:
        issuer, upstream = target.issuer, target.ready["upstream"]
        assert issuer.startswith("http://127.0.0.1:") and issuer.endswith("/")
        assert target.issuers["drops-state"] == issuer + "faults/drops-state/"
        assert upstream.startswith("https://127.0.0.1:") and upstream != issuer.rstrip("/")
        trust = ssl.create_default_context(cafile=tmp_path / "ca.pem")
        with httpx.Client(timeout=10, verify=trust) as http:
            metadata = http.get(issuer + ".well-known/oauth-authorization-server").json()
            assert metadata["issuer"] == issuer
            login = http.get(issuer + "login", params={"next": "/authorize"})
            assert login.status_code == 302
            assert login.headers["location"].startswith(upstream + "/authorize?")
            assert "__Host-cimd_ref_as.login=" in login.headers["set-cookie"]
            assert http.get(login.headers["location"]).status_code == 200


async def test_variants_combine_script_pages_with_approve_links(
    make_as: Make, docs: DocumentHost
) -> None:
    http = make_as("script-pages", "approve-link", "consent-before-login")
    url, (verifier, challenge) = document(docs), pkce()
    consent = await http.get("/authorize", params=authz_params(url, CALLBACK, challenge))
    assert consent.status_code == 200 and "<form" not in consent.text
    data = page_data(consent.text)
    assert data["user"] is None and set(data["links"]) == {"approve", "deny"}
    to_login = await http.get(data["links"]["approve"])
    next_url = query_of(to_login.headers["location"])["next"]
    signed_in = await http.post(
        "/login", json={"username": USER, "password": PASSWORD, "next": next_url}
    )
    done = await http.get(signed_in.json()["location"])
    await redeem(http, done.headers["location"], url, verifier)


def test_closed_connections_end_each_connection_after_one_answer(tmp_path: Path) -> None:
    """``closed-connections``: the served AS says ``Connection: close`` and ends the
    connection; without the variant the connection stays open for the next request."""
    from conformance.target.reference import ReferenceTarget

    for variants, closed in (((), False), (("closed-connections",), True)):
        with ReferenceTarget(state_dir=tmp_path, variants=variants) as target:
            parts = urlsplit(target.issuer)
            host, port = parts.hostname or "", parts.port or 443
            trust = ssl.create_default_context(cafile=tmp_path / "ca.pem")
            with (
                socket.create_connection((host, port), timeout=5) as raw,
                trust.wrap_socket(raw, server_hostname=host) as tls,
            ):
                path = "/.well-known/oauth-authorization-server"
                tls.sendall(f"GET {path} HTTP/1.1\r\nHost: {parts.netloc}\r\n\r\n".encode())
                tls.settimeout(1.0)
                answer, ended = b"", False
                with contextlib.suppress(TimeoutError):
                    while chunk := tls.recv(65536):
                        answer += chunk
                    ended = True
        head = answer.split(b"\r\n\r\n", 1)[0].lower()
        assert head.startswith(b"http/1.1 200")
        assert (b"\r\nconnection: close" in head, ended) == (closed, closed)
