"""Browser steps end: a page closes while a navigation commits, and a call without a timeout
of its own ends by the deadline.

Chromium acknowledges a page close that meets a navigation's commit and then drops it, and
Playwright's ``page.close()`` waits for it without a timeout. A script-built consent page
(the reference AS's ``script-pages`` variant) navigates to the redirect URI only after its
``fetch()`` returns, so closing it as soon as the redirect URI's request is seen used to hang
the run now and then. A real Chromium drives such a page here, on loopback.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import pytest

from conformance.browser import driver as browser
from conformance.browser.driver import Browser, Watchdog
from conformance.browser.recipe import LoginRecipe
from conformance.run.browser_flow import within
from conformance.target import deadline
from mock_servers.pki import TestCA
from mock_servers.runner import Receive, Scope, Send, Server

CONSENT = """<!doctype html><title>consent</title><div id=app></div><script>
const approve = Object.assign(document.createElement("button"), {id: "approve"});
approve.textContent = "Approve";
approve.addEventListener("click", async () => {
  const answer = await (await fetch("/decide", {method: "POST"})).json();
  window.location.assign(answer.location);
});
document.getElementById("app").append(approve);
</script>"""
ROUNDS = 20  # the close met the commit about one round in ten before the fix


def _app(callback: list[str]):  # type: ignore[no-untyped-def]
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        while (await receive()).get("more_body"):
            pass
        kind, body = b"text/html", b"<!doctype html><title>done</title><p>done</p>"
        if scope["path"] == "/consent":
            body = CONSENT.encode()
        elif scope["path"] == "/decide":
            kind, body = b"application/json", json.dumps({"location": callback[0]}).encode()
        headers = [(b"content-type", kind)]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return app


@pytest.fixture(scope="module")
def sites(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, Browser]]:
    """(consent page URL, redirect URI on another origin, a browser), over plain HTTP."""
    ca = TestCA.load_or_create(tmp_path_factory.mktemp("ca"))  # the browser trusts it
    location: list[str] = []
    with Server(_app(location)) as target, Server(_app([])) as client:
        redirect_uri = f"{client.base_url}/cb"
        location.append(f"{redirect_uri}?code=the-code&state=s")
        chromium = Browser(ca.cert_path).start()
        try:
            yield f"{target.base_url}/consent", redirect_uri, chromium
        finally:
            chromium.stop()


RECIPE = LoginRecipe("alice", "secret")


def test_approving_a_scripted_consent_lands_before_the_page_closes(
    sites: tuple[str, str, Browser],
) -> None:
    consent, redirect_uri, chromium = sites
    context = chromium.new_context()
    try:
        for _ in range(ROUNDS):
            page = context.new_page()
            page.goto(consent, wait_until="load")
            with Watchdog(context, 30) as watchdog:  # a hang fails the test, not the session
                params = browser.approve_in_browser(page, RECIPE, redirect_uri)
                assert browser.reaches(page.url, redirect_uri)  # landed: nothing in flight
                assert browser.close_page(page)
            assert not watchdog.fired
            assert params == {"code": "the-code", "state": "s"}
    finally:
        context.close()


def test_a_page_closes_even_when_the_close_meets_a_commit(
    sites: tuple[str, str, Browser],
) -> None:
    """Closed the moment the redirect URI's request is seen: the close may be dropped."""
    consent, redirect_uri, chromium = sites
    context = chromium.new_context()
    try:
        for _ in range(ROUNDS):
            page = context.new_page()
            page.goto(consent, wait_until="load")
            with browser._watching(page, redirect_uri) as (seen, _, _):
                page.click("#approve")
                while not seen:
                    page.wait_for_timeout(10)
                page.wait_for_load_state("load")  # the consent page's: returns at once
            with Watchdog(context, 30) as watchdog:
                assert browser.close_page(page)
            assert not watchdog.fired
            assert page.is_closed()
    finally:
        context.close()


def test_a_call_without_a_timeout_is_cancelled_by_the_watchdog(
    sites: tuple[str, str, Browser],
) -> None:
    consent, _, chromium = sites
    context = chromium.new_context()
    try:
        page = context.new_page()
        page.goto(consent, wait_until="load")
        with Watchdog(context, 0.5) as watchdog, pytest.raises(asyncio.CancelledError):
            page.evaluate("() => new Promise(() => {})")  # evaluate has no timeout
        assert watchdog.fired
        assert page.evaluate("() => 1 + 1") == 2  # the browser goes on
        assert browser.close_page(page)
    finally:
        context.close()


def test_a_stalled_browser_call_is_a_harness_error_naming_the_deadline(
    sites: tuple[str, str, Browser],
) -> None:
    consent, _, chromium = sites
    context = chromium.new_context()
    clock = deadline.Clock(deadline.Limits(check_s=1.0))
    try:
        page = context.new_page()
        page.goto(consent, wait_until="load")
        clock.start_check()
        with pytest.raises(deadline.Unanswered) as caught, within(clock, context):
            page.evaluate("() => new Promise(() => {})")
        message = str(caught.value)
        assert message.startswith("the check deadline of 1 s fired during a browser step")
        assert "--check-timeout" in message and "did not end" in message
        assert browser.close_page(page)
    finally:
        context.close()


def test_one_tab_is_navigated_from_flow_to_flow(sites: tuple[str, str, Browser]) -> None:
    """A flow that ended well leaves its landed page idle; the next flow navigates it."""
    consent, redirect_uri, chromium = sites
    context = chromium.new_context()
    try:
        pages = []
        for _ in range(3):
            with Watchdog(context, 30) as watchdog, browser.flow_page(context) as page:
                page.goto(consent, wait_until="load")
                browser.approve_in_browser(page, RECIPE, redirect_uri)
                pages.append(page)
            assert not watchdog.fired
        assert pages[0] is pages[1] is pages[2] and len(context.pages) == 1
        assert browser.close_page(pages[0])
        assert browser.open_page(context) is not pages[0]  # a closed page is never reused
    finally:
        context.close()


def test_a_page_that_failed_is_closed_not_reused(sites: tuple[str, str, Browser]) -> None:
    consent, _, chromium = sites
    context = chromium.new_context()
    try:
        with Watchdog(context, 30), pytest.raises(RuntimeError), browser.flow_page(context) as page:
            page.goto(consent, wait_until="load")
            raise RuntimeError("the flow failed")
        assert page.is_closed()
        assert browser.open_page(context) is not page
    finally:
        context.close()


def test_a_consent_page_read_in_the_browser_is_approved_where_it_is(
    sites: tuple[str, str, Browser],
) -> None:
    consent, redirect_uri, chromium = sites
    context = chromium.new_context()
    try:
        with Watchdog(context, 30) as watchdog:
            seen = browser.view(context, consent, redirect_uri, RECIPE, 1.0)
            assert seen.kind == "consent"
            page = browser.shown_consent(context, consent)
            assert page is not None and browser.shown_consent(context, consent) is None
            assert browser.approve_in_browser(page, RECIPE, redirect_uri)["code"] == "the-code"
            assert browser.close_page(page)
        assert not watchdog.fired
    finally:
        context.close()
