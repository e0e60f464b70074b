"""Transient answers are never verdicts, and refusals count only against an accepted control.

The session talks to in-process targets through httpx's MockTransport: what is under test is
how the harness reads answers, not a server.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable

import httpx
import pytest

from conformance.catalog.verdicts import HarnessError, NonConformance
from conformance.harness.session import Attempt, TargetSession
from conformance.harness.verify import verify_refused
from conformance.target.discovery import Target
from conformance.target.pacing import Pacer, Pacing, retry_after_s

ISSUER = "https://as.test"
CONSENT = (
    '<form method="post" action="/consent"><input type="hidden" name="r" value="1">'
    '<button type="submit" name="decision" value="approve">Approve</button></form>'
)


def _session(handler: Callable[[httpx.Request], httpx.Response]) -> TargetSession:
    target = Target(
        ISSUER,
        {
            "issuer": ISSUER,
            "authorization_endpoint": f"{ISSUER}/authorize",
            "token_endpoint": f"{ISSUER}/token",
        },
        f"{ISSUER}/.well-known/oauth-authorization-server",
    )
    client = httpx.Client(transport=httpx.MockTransport(handler), follow_redirects=False)
    session = TargetSession(target, client, ssl.create_default_context())
    waits: list[float] = []
    session.pacer = Pacer(Pacing(retries=3, backoff_s=0.5), sleep=waits.append)
    session.waits = waits  # type: ignore[attr-defined]
    return session


def _html(status: int, body: str, **headers: str) -> httpx.Response:
    return httpx.Response(status, headers={"content-type": "text/html", **headers}, text=body)


def test_a_429_is_retried_then_a_harness_error_never_a_refusal() -> None:
    session = _session(lambda r: _html(429, "<p>slow down</p>", **{"retry-after": "2"}))
    with pytest.raises(HarnessError, match="rate limiting") as caught:
        session.attempt("https://m.test/c/1", "https://m.test/cb")
    assert not isinstance(caught.value, NonConformance)
    assert session.waits == [2.0, 2.0, 2.0]  # type: ignore[attr-defined]


def test_temporarily_unavailable_in_a_redirect_is_transient_too() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        location = "https://m.test/cb?error=temporarily_unavailable&state=x"
        return httpx.Response(302, headers={"location": location})

    session = _session(handler)
    with pytest.raises(HarnessError, match="error=temporarily_unavailable"):
        session.attempt("https://m.test/c/1", "https://m.test/cb")
    assert session.waits == [0.5, 1.0, 2.0]  # type: ignore[attr-defined]


def test_a_transient_answer_that_clears_gives_the_real_outcome() -> None:
    answers = [_html(503, "busy"), _html(200, CONSENT)]
    session = _session(lambda r: answers.pop(0))
    attempt = session.attempt("https://m.test/c/1", "https://m.test/cb")
    assert attempt.outcome.kind.value == "consent shown"


def test_refusals_without_an_accepted_control_are_a_harness_error() -> None:
    """A target that now refuses everything (here: every answer an error page) cannot pass."""
    session = _session(lambda r: _html(400, "<p>invalid_client</p>"))
    session.make_control = lambda: session.attempt("https://m.test/c/valid", "https://m.test/cb")
    refused = session.attempt("https://m.test/c/hostile", "https://m.test/cb")
    with pytest.raises(HarnessError, match="control"):
        verify_refused([("hostile", refused)], "a hostile client")


def test_refusals_with_an_accepted_control_pass() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        valid = "valid" in str(request.url)
        return _html(200, CONSENT) if valid else _html(400, "<p>invalid_client</p>")

    session = _session(handler)
    calls: list[Attempt] = []

    def control() -> Attempt:
        calls.append(session.attempt("https://m.test/c/valid", "https://m.test/cb"))
        return calls[-1]

    session.make_control = control
    for _ in range(2):  # one control serves every refusal of the check
        refused = session.attempt("https://m.test/c/hostile", "https://m.test/cb")
        verify_refused([("hostile", refused)], "a hostile client")
    assert len(calls) == 1


def test_retry_after_reads_seconds_and_dates() -> None:
    assert retry_after_s("3") == 3.0
    assert retry_after_s("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
    assert retry_after_s("soon") is None
    assert retry_after_s(None) is None


def test_secure_cookies_go_to_a_loopback_http_target() -> None:
    """Browsers send Secure and __Host- cookies to http://127.0.0.1; so does the session."""
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("cookie", ""))
        cookie = "__Host-session=s1; Secure; Path=/; HttpOnly"
        return httpx.Response(200, headers={"set-cookie": cookie}, text="ok")

    session = _session(handler)
    session.client.get("http://127.0.0.1:8080/a")
    session.client.get("http://127.0.0.1:8080/b")
    session.client.get("http://other.test/c")
    assert seen == ["", "__Host-session=s1", ""]
