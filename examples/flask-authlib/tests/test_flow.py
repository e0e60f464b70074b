"""The server's own tests, written with the suite's fixtures.

The CA, the metadata host, the corpus, the callback listener and the browser.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import ssl
from urllib.parse import urlencode

import httpx
import pytest
from conftest import PASSWORD, USER

from conformance.harness import corpus


def _pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _client(cimd_metadata_host, cimd_callback, name: str = "public-client") -> tuple[str, str]:
    """A fresh client URL serving a corpus document whose redirect URI is the callback."""
    client_id = cimd_metadata_host.new_client_url()
    document = corpus.load(name, client_id=client_id, metadata_host=cimd_metadata_host.base_url)
    redirect_uri = cimd_callback.url("/callback")
    if document.get("client_id") == client_id:
        document["redirect_uris"] = [redirect_uri]
    cimd_metadata_host.serve_document(client_id, document)
    return client_id, redirect_uri


def _http(cimd_ca) -> httpx.Client:
    trust = ssl.create_default_context(cafile=str(cimd_ca.cert_path))
    return httpx.Client(verify=trust, trust_env=False, timeout=10)


def test_metadata_says_client_id_metadata_documents_are_supported(example_server, cimd_ca):
    """The RFC 8414 metadata advertises CIMD and PKCE S256."""
    with _http(cimd_ca) as http:
        url = example_server.issuer + "/.well-known/oauth-authorization-server"
        metadata = http.get(url).json()
    assert metadata["issuer"] == example_server.issuer
    assert metadata["client_id_metadata_document_supported"] is True
    assert metadata["code_challenge_methods_supported"] == ["S256"]


@pytest.mark.browser
def test_a_client_known_by_its_document_gets_tokens(
    example_server, cimd_ca, cimd_metadata_host, cimd_callback, cimd_chromium
):
    """Log in and approve in Chromium; the code reaches the callback and is redeemed."""
    client_id, redirect_uri = _client(cimd_metadata_host, cimd_callback)
    verifier, challenge = _pkce()
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "state": "s-1",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    context = cimd_chromium.new_context()
    try:
        page = context.new_page()
        page.goto(f"{example_server.issuer}/authorize?{urlencode(query)}")
        page.fill("input[name=username]", USER)
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        assert "not verified" in page.inner_text("body")
        page.click("button[value=approve]")
        page.wait_for_url(redirect_uri + "*")
    finally:
        context.close()
    (answer,) = cimd_callback.received("/callback")
    assert answer.params["state"] == "s-1" and answer.params["iss"] == example_server.issuer
    with _http(cimd_ca) as http:
        token = http.post(
            example_server.issuer + "/token",
            data={
                "grant_type": "authorization_code",
                "code": answer.params["code"],
                "redirect_uri": redirect_uri,
                "client_id": client_id,
                "code_verifier": verifier,
            },
        )
    assert token.status_code == 200 and token.json()["access_token"]
    assert cimd_metadata_host.fetch_count(client_id) >= 1


@pytest.mark.parametrize("name", ["client-id-other-url", "secret-post", "published-client-secret"])
def test_a_document_that_breaks_the_rules_is_refused_without_a_redirect(
    example_server, cimd_ca, cimd_metadata_host, cimd_callback, name
):
    """A corpus document the draft says to refuse: an error page, never the redirect URI."""
    client_id, _ = _client(cimd_metadata_host, cimd_callback, name)
    _, challenge = _pkce()
    with _http(cimd_ca) as http:
        login = http.post(
            example_server.issuer + "/login", data={"username": USER, "password": PASSWORD}
        )
        assert login.status_code == 302
        answer = http.get(
            example_server.issuer + "/authorize",
            params={
                "response_type": "code",
                "client_id": client_id,
                "redirect_uri": "http://127.0.0.1/callback",
                "code_challenge": challenge,
                "code_challenge_method": "S256",
            },
        )
    assert answer.status_code == 400 and "location" not in answer.headers
    assert cimd_metadata_host.fetch_count(client_id) == 1
