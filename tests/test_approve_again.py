"""An approval in the browser that never reaches the redirect URI is made once more.

The loopback site drops the first decision it is sent (it answers 204: the page stays where it
is, as a scripted consent whose request was lost would), and honours the next. The flow must
approve again on a fresh page, reach the redirect URI, and say so in the check's evidence
(``approved_again``, with what the first page showed); a site that drops every decision is a
harness error naming the page, never a verdict on the target.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from conformance.browser import driver
from conformance.browser.driver import Browser
from conformance.harness.session import TargetSession
from conformance.run.browser_flow import BrowserFlow
from mock_servers.runner import Receive, Scope, Send, read_body
from tests.browser_site import site_and_chromium, site_flow

pytestmark = pytest.mark.browser

CONSENT = (
    "<!doctype html><title>Consent</title><p>Allow the client?</p>"
    "<form method=post action=/decide><button id=approve>Allow access</button></form>"
)
REDIRECT_URI = "https://client.test/cb"
DROPPED: list[int] = []  # how many more decisions the site drops


async def _site(scope: Scope, receive: Receive, send: Send) -> None:
    """Consent for every request; a decision is dropped (204) while DROPPED says so."""
    if scope["type"] != "http":
        return
    await read_body(receive)
    headers = [(b"content-type", b"text/html; charset=utf-8"), (b"cache-control", b"no-store")]
    status, page = 200, CONSENT
    if scope["path"] == "/decide":
        if DROPPED and DROPPED[0] > 0:
            DROPPED[0] -= 1
            status, page = 204, ""
        else:
            headers.append((b"location", f"{REDIRECT_URI}?code=c0de&state=s1".encode()))
            status, page = 303, ""
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": page.encode()})


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Browser, Path]]:
    shots = tmp_path_factory.mktemp("shots")
    with site_and_chromium(_site, tmp_path_factory.mktemp("ca")) as (base, chromium):
        yield base, chromium, shots


@pytest.fixture
def flow(
    site: tuple[str, Browser, Path], monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[BrowserFlow, TargetSession, str]]:
    """A run's flow on the site, logged in, its HTTP session, and an authorization request."""
    monkeypatch.setattr(driver, "STEP_TIMEOUT_MS", 2_000)  # a lost decision is waited for 2 s
    try:
        with site_flow(*site) as (browser, session):
            yield browser, session, f"{site[0]}/authorize?state=s1"
    finally:
        DROPPED.clear()


def test_a_decision_lost_once_is_made_again_on_a_fresh_page_and_recorded(
    flow: tuple[BrowserFlow, TargetSession, str],
) -> None:
    browser, session, url = flow
    DROPPED[:] = [1]
    assert browser.approve(url, REDIRECT_URI) == {"code": "c0de", "state": "s1"}
    (again,) = session.approved_again
    assert again == {"at": url, "shown": "Allow the client?\n\nAllow access"}
    session.approved_again.clear()
    assert browser.approve(url, REDIRECT_URI)["code"] == "c0de"
    assert session.approved_again == []  # a decision that lands: nothing to record


def test_a_decision_lost_twice_is_a_harness_error_saying_what_the_page_shows(
    flow: tuple[BrowserFlow, TargetSession, str],
) -> None:
    browser, session, url = flow
    DROPPED[:] = [2]
    with pytest.raises(driver.NotReached, match="the page shows: 'Allow the client"):
        browser.approve(url, REDIRECT_URI)
    assert len(session.approved_again) == 1
