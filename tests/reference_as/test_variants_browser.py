"""A real Chromium completes a flow under script-pages + upstream-login, to tokens."""

from __future__ import annotations

import ssl
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
from playwright.sync_api import Route

from conformance.browser.driver import Browser
from conformance.target.reference import ReferenceTarget
from mock_servers.pki import TestCA

from .conftest import PASSWORD, USER, DocumentHost, golden, pkce

CALLBACK = "http://127.0.0.1/callback"


def test_browser_flow_with_script_pages_and_upstream_login(
    docs: DocumentHost, test_ca: TestCA
) -> None:
    url = docs.new_url()
    docs.serve(url, golden(url), headers=[("cache-control", "max-age=60")])
    verifier, challenge = pkce()
    variants = ("script-pages", "upstream-login")
    # the AS trusts the test CA the document host's certificate comes from
    with ReferenceTarget(state_dir=test_ca.cert_path.parent, variants=variants) as target:
        issuer, upstream = target.issuer, str(target.ready["upstream"])
        query = {
            "response_type": "code",
            "client_id": url,
            "redirect_uri": CALLBACK,
            "state": "browser-state",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
        browser = Browser(test_ca.cert_path).start()
        try:
            context = browser.new_context()
            seen: list[str] = []

            def answer(route: Route) -> None:  # the client's redirect URI, answered here
                seen.append(route.request.url)
                route.fulfill(status=200, body="done", content_type="text/plain")

            context.route(lambda u: u.startswith(CALLBACK), answer)
            page = context.new_page()
            page.goto(issuer + "/authorize?" + urlencode(query), wait_until="load")
            assert page.url.startswith(upstream + "/authorize?")  # the other origin
            page.fill("#username", USER)
            page.fill("#password", PASSWORD)
            page.click("#sign-in")
            page.wait_for_url(lambda u: u.startswith(issuer + "/authorize?"))
            assert page.locator("form").count() == 0  # the consent UI is built by script
            assert page.locator("#client-id").inner_text() == url
            page.click("#approve")
            page.wait_for_url(lambda u: u.startswith(CALLBACK))
            context.close()
        finally:
            browser.stop()
        assert len(seen) == 1
        result = dict(parse_qsl(urlsplit(seen[0]).query))
        assert result["state"] == "browser-state" and result["iss"] == issuer
        trust = ssl.create_default_context(cafile=test_ca.cert_path)
        with httpx.Client(verify=trust, timeout=10) as http:
            form = {"grant_type": "authorization_code", "code": result["code"], "client_id": url}
            form |= {"redirect_uri": CALLBACK, "code_verifier": verifier}
            response = http.post(issuer + "/token", data=form)
        assert response.status_code == 200, response.text
        assert response.json()["token_type"] == "Bearer"
