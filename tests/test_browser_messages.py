"""The browser's login step says what it saw, and trusts a target CA given with --target-ca.

A real Chromium opens pages from a TLS server whose certificate comes from a second CA (the
target's own), on loopback; tests/test_target_ca.py shows the browser without that CA.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from conformance.browser import driver as browser
from conformance.browser.driver import Browser
from conformance.browser.recipe import LoginRecipe
from conformance.catalog.verdicts import HarnessError
from mock_servers.pki import TestCA
from mock_servers.runner import Receive, Scope, Send, Server

PAGES = {
    "/hang": "<title>busy</title><script>for (;;) {}</script><p>never loads</p>",
    "/consent": "<title>consent</title><p>Allow it?</p><button id=approve>Approve</button>",
    "/login": (
        "<title>login</title><form method=post action=/login>"
        "<input name=username><input type=password name=password>"
        "<button type=submit>Sign in</button></form>"
    ),
}
HOOK = """
from pathlib import Path

def log_in(page, username, password):
    Path(__file__).with_name("hook-ran").write_text(page.url)
"""


async def _app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):
        pass
    body = PAGES.get(scope["path"], "not found").encode()
    headers = [(b"content-type", b"text/html; charset=utf-8")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


@pytest.fixture(scope="module")
def cas(tmp_path_factory: pytest.TempPathFactory) -> tuple[TestCA, TestCA]:
    """The suite's CA, and the target's own CA (a second trustme CA)."""
    base = tmp_path_factory.mktemp("cas")
    return TestCA.load_or_create(base / "suite"), TestCA.load_or_create(base / "target")


@pytest.fixture(scope="module")
def site(cas: tuple[TestCA, TestCA], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The pages, over TLS with a certificate from the target's CA."""
    cert = cas[1].issue_server_pem(tmp_path_factory.mktemp("leaf"))
    with Server(_app, "127.0.0.1", 0, cert) as server:
        yield server.base_url


@pytest.fixture(scope="module")
def chromium(cas: tuple[TestCA, TestCA]) -> Iterator[Browser]:
    """A browser that trusts both CAs, with a short step timeout."""
    started = Browser(cas[0].cert_path, target_ca=cas[1].cert_path).start()
    yield started
    started.stop()


def _login(chromium: Browser, url: str, recipe: LoginRecipe, seen: list[str]) -> None:
    context = chromium.new_context()
    context.set_default_timeout(3_000)
    try:
        browser.login(context, url, recipe, None, seen=seen).close()
    finally:
        context.close()


RECIPE = LoginRecipe("alice", "secret")


def test_a_page_whose_script_never_ends_is_said_so(
    chromium: Browser, site: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(browser, "STEP_TIMEOUT_MS", 3_000)
    with pytest.raises(HarnessError) as caught:
        _login(chromium, f"{site}/hang", RECIPE, [])
    message = str(caught.value)
    assert "did not finish loading within 3 s" in message and "script" in message
    assert "selectors" not in message


def test_refused_credentials_are_described_as_seen(chromium: Browser, site: str) -> None:
    with pytest.raises(HarnessError) as caught:
        _login(chromium, f"{site}/login", RECIPE, [])
    message = str(caught.value)
    assert "the password field was still there after submit" in message
    assert "--password" in message


def test_consent_without_a_login_is_said_so(chromium: Browser, site: str) -> None:
    seen: list[str] = []
    _login(chromium, f"{site}/consent", RECIPE, seen)
    assert seen == ["consent appeared without a login (no password field on the first page)"]


def test_a_hook_runs_even_when_consent_shows_first(
    chromium: Browser, site: str, tmp_path: Path
) -> None:
    (tmp_path / "hook.py").write_text(HOOK)
    recipe = LoginRecipe("alice", "secret", hook=f"{tmp_path / 'hook.py'}:log_in")
    seen: list[str] = []
    _login(chromium, f"{site}/consent", recipe, seen)
    assert (tmp_path / "hook-ran").read_text() == f"{site}/consent"
    assert seen == ["logged in through the login hook; consent page reached"]
