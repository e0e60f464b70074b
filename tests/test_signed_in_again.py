"""A run outlives the target's sessions: it signs in again, and the check's evidence says so.

The loopback site ends the browser's session (its consent page asks for a login again), as a
target whose sessions expire would. A rendering and an approval must still reach the consent
page, and the check must not pass over the new login in silence: it lands in the session's
``signed_in_again`` (the check's evidence). A step in a session that holds records nothing.
(A whole run against the reference AS whose sign-ins end early, ``short-sessions``, is
judged in ``tests/test_variants_all_green.py``.)
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs

import pytest

from conformance.browser.driver import Browser
from conformance.harness.session import TargetSession
from conformance.run.browser_flow import BrowserFlow
from mock_servers.runner import Receive, Scope, Send, read_body
from tests.browser_site import site_and_chromium, site_flow

LOGIN = (
    "<!doctype html><title>Sign in</title><form method=post action=/login>"
    "<input name=username><input type=password name=password>"
    "<button type=submit>Sign in</button></form>"
)
CONSENT = (
    "<!doctype html><title>Consent</title><p>Allow the client?</p>"
    "<form method=post action=/decide><button id=approve>Allow access</button></form>"
)

REDIRECT_URI = "https://client.test/cb"
COUNTER = list(range(100))


async def _site(scope: Scope, receive: Receive, send: Send) -> None:
    """A consent page for a session cookie ``sid=ok``, else a login page that sets it."""
    if scope["type"] != "http":
        return
    body = await read_body(receive)
    cookies = dict(scope["headers"]).get(b"cookie", b"").decode()
    headers = [(b"content-type", b"text/html; charset=utf-8"), (b"cache-control", b"no-store")]
    status, page = 200, CONSENT if "sid=ok" in cookies else LOGIN
    if scope["path"] == "/decide" and "sid=ok" in cookies:
        headers.append((b"location", f"{REDIRECT_URI}?code=c0de-{COUNTER.pop()}&state=s1".encode()))
        status, page = 303, ""
    if scope["path"] == "/login":
        form = parse_qs(body.decode())
        if form.get("password") == ["secret-pass"]:
            headers += [(b"set-cookie", b"sid=ok; Path=/"), (b"location", b"/authorize")]
            status, page = 303, ""
        else:
            page = LOGIN
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": page.encode()})


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Browser, Path]]:
    shots = tmp_path_factory.mktemp("shots")
    with site_and_chromium(_site, tmp_path_factory.mktemp("ca")) as (base, chromium):
        yield base, chromium, shots


@pytest.fixture
def logged_out(
    site: tuple[str, Browser, Path],
) -> Iterator[tuple[BrowserFlow, TargetSession, str]]:
    """A run's flow on the site whose logged-in context holds no session (the target ended
    it), its HTTP session, and an authorization request."""
    base = site[0]
    with site_flow(*site) as (flow, session):
        yield flow, session, f"{base}/authorize?client_id=x&state=s1"


def test_a_session_the_target_ended_is_signed_in_again_and_recorded(
    logged_out: tuple[BrowserFlow, TargetSession, str],
) -> None:
    flow, session, url = logged_out
    seen = flow.inspect(url, REDIRECT_URI, "again")
    assert seen.kind == "consent", seen.text
    assert session.signed_in_again == [{"at": url, "how": "logged in with the login recipe"}]
    # the new session cookie was handed to the HTTP session at the step's end
    assert session.client.cookies.get("sid") == "ok"
    session.signed_in_again.clear()
    again = flow.inspect(url, REDIRECT_URI, "held")
    assert again.kind == "consent"
    assert session.signed_in_again == []  # a session that holds: nothing to record


def test_an_approval_that_finds_the_login_again_is_recorded(
    logged_out: tuple[BrowserFlow, TargetSession, str],
) -> None:
    flow, session, url = logged_out
    params = flow.authorize(url, REDIRECT_URI, "approved")
    assert params["state"] == "s1" and params["code"].startswith("c0de-")
    (again,) = session.signed_in_again
    assert again["at"] == url and again["how"].startswith("logged in with the login recipe")
    session.signed_in_again.clear()
    assert flow.authorize(url, REDIRECT_URI, "approved-again")["state"] == "s1"
    assert session.signed_in_again == []
