"""The browser's and the HTTP session's cookies kept in step (conformance/run/cookie_sync.py).

A real Chromium and an httpx client talk to one loopback site that sets whatever cookie it is
asked to and echoes the cookies it receives. A cookie one agent receives (renewed or
cleared) reaches the other at the hand-over, with the attributes the site gave it, so that
both are signed in as the same session. Then, against the reference AS renewing its session
at every approval (the ``renewed-sessions`` variant, as oidc-provider does), a check whose
browser step follows another check's plain-HTTP approval still finds consent.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import httpx
import pytest

from conformance.browser.driver import Browser
from conformance.report.model import Report
from conformance.run.cookie_sync import CookieSync
from conformance.target.pacing import send_secure_cookies_to_loopback
from mock_servers.runner import Receive, Scope, Send
from tests.browser_site import site_and_chromium


async def _site(scope: Scope, receive: Receive, send: Send) -> None:
    """``/set?<Set-Cookie value>`` sets that cookie; every page echoes the Cookie header."""
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):
        pass
    headers = [(b"content-type", b"text/plain"), (b"cache-control", b"no-store")]
    if scope["path"] == "/set":
        headers.append((b"set-cookie", unquote(scope["query_string"].decode()).encode()))
    sent = dict(scope["headers"]).get(b"cookie", b"")
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": sent})


class Agents:
    """The two agents of one user on the site, and their hand-overs."""

    def __init__(self, base: str, context: Any) -> None:
        self.base, self.context, self.sync = base, context, CookieSync()
        self.http = httpx.Client(timeout=10)
        send_secure_cookies_to_loopback(self.http)
        self.page = context.new_page()

    def browser_sets(self, cookie: str) -> None:
        self.page.goto(f"{self.base}/set?{quote(cookie)}")

    def http_sets(self, cookie: str) -> None:
        self.http.get(f"{self.base}/set?{quote(cookie)}").raise_for_status()

    def browser_sends(self) -> set[str]:
        self.page.goto(f"{self.base}/echo")
        return _pairs(self.page.inner_text("body"))

    def http_sends(self) -> set[str]:
        return _pairs(self.http.get(f"{self.base}/echo").text)

    def hand_over(self) -> None:
        """A browser step: the HTTP session's changes in, the browser's changes out."""
        self.sync.to_browser(self.http.cookies.jar, self.context, self.base)
        self.sync.from_browser(self.http.cookies.jar, self.context, self.base)


def _pairs(header: str) -> set[str]:
    return {part.strip() for part in header.split(";") if part.strip()}


@pytest.fixture(scope="module")
def chromium(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Browser]]:
    with site_and_chromium(_site, tmp_path_factory.mktemp("ca")) as started:
        yield started


@pytest.fixture
def agents(chromium: tuple[str, Browser]) -> Iterator[Agents]:
    base, browser = chromium
    context = browser.new_context()
    made = Agents(base, context)
    try:
        yield made
    finally:
        made.http.close()
        context.close()


SESSION = "sid={}; Path=/; HttpOnly; SameSite=Lax"
HOST_SESSION = "__Host-sid={}; Path=/; Secure; HttpOnly; SameSite=Lax"


@pytest.mark.parametrize("cookie", [SESSION, HOST_SESSION], ids=["plain", "host-prefixed"])
def test_a_session_renewed_over_http_reaches_the_browser(agents: Agents, cookie: str) -> None:
    agents.browser_sets(cookie.format("one"))
    agents.hand_over()  # the login: the browser's session given to the HTTP session
    name = cookie.partition("=")[0]
    assert agents.http_sends() == {f"{name}=one"}
    agents.http_sets(cookie.format("two"))  # an approval over HTTP renewed the session
    assert agents.browser_sends() == {f"{name}=one"}
    agents.hand_over()
    assert agents.browser_sends() == {f"{name}=two"}
    [shown] = [c for c in agents.context.cookies() if c["name"] == name]
    assert (shown["httpOnly"], shown["sameSite"], shown["path"]) == (True, "Lax", "/")


@pytest.mark.parametrize("cookie", [SESSION, HOST_SESSION], ids=["plain", "host-prefixed"])
def test_a_cookie_new_over_http_reaches_the_browser(agents: Agents, cookie: str) -> None:
    agents.hand_over()
    agents.http_sets(cookie.format("new"))
    agents.hand_over()
    name = cookie.partition("=")[0]
    assert agents.browser_sends() == {f"{name}=new"}
    [shown] = [c for c in agents.context.cookies() if c["name"] == name]
    assert (shown["httpOnly"], shown["secure"]) == (True, name.startswith("__Host-"))


def test_a_session_renewed_in_the_browser_reaches_the_http_session(agents: Agents) -> None:
    agents.browser_sets(SESSION.format("one"))
    agents.hand_over()
    agents.browser_sets(SESSION.format("two"))  # an approval in the browser renewed it
    agents.hand_over()
    assert agents.http_sends() == {"sid=two"}
    agents.browser_sets(HOST_SESSION.format("host"))
    agents.hand_over()
    assert agents.http_sends() == {"sid=two", "__Host-sid=host"}


def test_a_cookie_cleared_by_either_agent_is_cleared_in_the_other(agents: Agents) -> None:
    agents.browser_sets(SESSION.format("one"))
    agents.browser_sets("other=1; Path=/")
    agents.hand_over()
    agents.http_sets("sid=; Path=/; Max-Age=0")  # a logout over HTTP
    agents.hand_over()
    assert agents.browser_sends() == {"other=1"}
    agents.browser_sets("other=; Path=/; Max-Age=0")
    agents.hand_over()
    assert agents.http_sends() == set()


def test_flow_cookies_stay_with_the_agent_that_started_the_flow(agents: Agents) -> None:
    """oidc-provider scopes each interaction's cookies to its path: hundreds in a run."""
    agents.browser_sets(SESSION.format("one"))
    agents.hand_over()
    for flow in range(200):
        agents.http_sets(f"_interaction=f{flow}; Path=/interaction/{flow}; HttpOnly")
    agents.http_sets(SESSION.format("two"))
    agents.hand_over()
    assert agents.browser_sends() == {"sid=two"}  # not evicted by 200 flow cookies
    assert [c["name"] for c in agents.context.cookies()] == ["sid"]
    assert sum(c.name == "_interaction" for c in agents.http.cookies.jar) == 200


def test_a_browser_step_after_an_http_approval_finds_the_renewed_session(
    tmp_path: Path,
) -> None:
    """CIMD-AUTHN-07 approves over HTTP, then CIMD-SEC-05 renders consent in the browser."""
    out = tmp_path / "report"
    demo = [sys.executable, "-m", "conformance.cli", "demo", "--variant", "renewed-sessions"]
    only = ["--only", "CIMD-AUTHN-07", "--only", "CIMD-SEC-05"]
    done = subprocess.run(
        [*demo, *only, "--report-dir", str(out), "--state-dir", str(tmp_path / "state")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = Report.load(out / "report.json")
    verdicts = {r.requirement: r.verdict for r in report.results}
    assert verdicts == {"CIMD-AUTHN-07": "pass", "CIMD-SEC-05": "pass"}, report.results
