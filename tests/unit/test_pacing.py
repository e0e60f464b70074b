"""The Pacer, Retry-After and loopback cookies (conformance/target/pacing.py).

tests/test_transient_and_controls.py and tests/test_pacing_config.py cover backoff doubling,
giving up after retries, Retry-After in seconds and parsing the options; these tests cover
the rest of the Pacer's rules.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx
import pytest

from conformance.catalog.verdicts import HarnessError, NonConformance
from conformance.target.pacing import (
    Pacer,
    Pacing,
    Transient,
    retry_after_s,
    send_secure_cookies_to_loopback,
)


class Script:
    """A send function that raises the given transients, then answers."""

    def __init__(self, *transients: Transient, answer: str = "ok") -> None:
        self.transients = list(transients)
        self.answer = answer
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.transients:
            raise self.transients.pop(0)
        return self.answer


def _pacer(**pacing: float) -> tuple[Pacer, list[float]]:
    slept: list[float] = []
    return Pacer(Pacing(**pacing), sleep=slept.append), slept  # type: ignore[arg-type]


def test_retry_after_wins_over_backoff_and_backoff_goes_on_doubling() -> None:
    pacer, slept = _pacer(retries=4, backoff_s=0.5)
    send = Script(Transient("HTTP 503"), Transient("HTTP 429", 3.0), Transient("HTTP 503"))
    assert pacer.call("a request", send) == "ok"
    # the backoff doubles with each retry, whether or not Retry-After was used for one
    assert slept == [0.5, 3.0, 2.0] and send.calls == 4


def test_a_retry_after_of_zero_is_honoured_as_asked() -> None:
    pacer, slept = _pacer(retries=2, backoff_s=5.0)
    assert pacer.call("a request", Script(Transient("HTTP 503", 0.0))) == "ok"
    assert slept == [0.0]


def test_a_long_retry_after_is_capped_and_the_report_says_so() -> None:
    pacer, slept = _pacer(retries=1, max_wait_s=10.0)
    assert pacer.call("a token request", Script(Transient("HTTP 429", 120.0))) == "ok"
    assert slept == [10.0]
    assert pacer.waits == [
        "a token request: HTTP 429; waited 10.0 s (it asked for 120 s: max_wait_s)"
    ]


def test_a_backoff_longer_than_max_wait_is_capped_too() -> None:
    """Without Retry-After (a browser 429) the backoff is waited, capped like an asked wait."""
    pacer, slept = _pacer(retries=2, backoff_s=0.5, max_wait_s=0.25)
    assert pacer.call("a page", Script(Transient("HTTP 429 in the browser"))) == "ok"
    assert slept == [0.25]
    assert pacer.waits == ["a page: HTTP 429 in the browser; waited 0.2 s"]


def test_giving_up_on_a_long_retry_after_names_max_wait_s() -> None:
    pacer, _ = _pacer(retries=1, max_wait_s=10.0)
    send = Script(Transient("HTTP 429", 120.0), Transient("HTTP 429", 90.0))
    with pytest.raises(HarnessError) as caught:
        pacer.call("an authorization request", send)
    message = str(caught.value)
    assert not isinstance(caught.value, NonConformance)
    assert message.startswith(
        "the target kept answering HTTP 429 to an authorization request (2 tries, with waits; "
        "it asked to wait 120 s, more than max_wait_s)"
    )
    assert "--pacing" in message and "[pacing]" in message


def test_no_retries_means_one_try_and_no_wait() -> None:
    pacer, slept = _pacer(retries=0)
    send = Script(Transient("error=temporarily_unavailable"))
    with pytest.raises(HarnessError, match=r"error=temporarily_unavailable .*\(1 tries"):
        pacer.call("a request", send)
    assert slept == [] and send.calls == 1 and pacer.waits == []


def test_other_harness_errors_are_not_retried() -> None:
    pacer, slept = _pacer(retries=3)
    calls: list[int] = []

    def broken() -> str:
        calls.append(1)
        raise HarnessError("the connection broke")

    with pytest.raises(HarnessError, match="the connection broke"):
        pacer.call("a request", broken)
    assert calls == [1] and slept == []


def test_requests_are_spaced_by_the_minimum_interval() -> None:
    pacer, slept = _pacer(min_interval_s=30.0)
    pacer.space()
    assert slept == []  # the first request goes at once
    pacer.space()
    assert len(slept) == 1 and 20.0 < slept[0] <= 30.0
    unpaced, none = _pacer()
    for _ in range(3):
        unpaced.space()
    assert none == []


def test_every_retry_is_spaced_too() -> None:
    pacer, slept = _pacer(min_interval_s=30.0, retries=1, backoff_s=1.0)
    pacer.call("a request", Script(Transient("HTTP 503")))
    # the backoff, then the spacing before the retry (the fake sleep takes no time)
    assert slept[0] == 1.0 and len(slept) == 2 and 20.0 < slept[1] <= 30.0


def test_retry_after_as_an_http_date() -> None:
    future = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    waited = retry_after_s(future)
    assert waited is not None and 25.0 < waited <= 30.0
    assert retry_after_s(" 7 ") == 7.0
    assert (
        retry_after_s("-1") is None and retry_after_s("1.5") is None and retry_after_s("") is None
    )


def test_transient_is_a_harness_error_when_nobody_retries_it() -> None:
    error = Transient("HTTP 503", 2.0)
    assert isinstance(error, HarnessError) and not isinstance(error, NonConformance)
    assert (str(error), error.what, error.retry_after) == ("HTTP 503", "HTTP 503", 2.0)


# --- Secure cookies to a plain-http loopback target, as browsers send them -----------------


def _cookie_client(seen: list[httpx.Request]) -> httpx.Client:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/set":
            cookies = ["__Host-sid=host-cookie-1; Secure; Path=/", "plain=p1; Path=/"]
            if request.url.query == b"scoped":
                cookies.append("scoped=s1; Secure; Path=/app")
            return httpx.Response(200, headers=[("set-cookie", c) for c in cookies])
        return httpx.Response(200)

    client = httpx.Client(transport=httpx.MockTransport(handler))
    send_secure_cookies_to_loopback(client)
    return client


@pytest.mark.parametrize(
    "origin", ["http://127.0.0.1:8080", "http://localhost:8080", "http://[::1]:8080"]
)
def test_secure_cookies_set_over_loopback_http_are_sent_back(origin: str) -> None:
    seen: list[httpx.Request] = []
    with _cookie_client(seen) as client:
        client.get(f"{origin}/set")
        client.get(f"{origin}/next")
    cookies = sorted(seen[-1].headers.get("cookie", "").split("; "))
    assert cookies == ["__Host-sid=host-cookie-1", "plain=p1"]


def test_secure_cookies_stay_on_their_host_and_path_and_off_https_hooks() -> None:
    seen: list[httpx.Request] = []
    with _cookie_client(seen) as client:
        client.get("http://127.0.0.1:8080/set?scoped")
        client.get("http://127.0.0.1:8080/other")
        client.get("http://127.0.0.1:8080/app/x")
        client.get("http://127.0.0.2:8080/x")  # another host: nothing
        client.get("http://as.test/x")  # not loopback: the jar's own rules
    headers = [r.headers.get("cookie", "") for r in seen[1:]]
    assert "scoped=s1" not in headers[0] and "__Host-sid=host-cookie-1" in headers[0]
    assert "scoped=s1" in headers[1]
    assert headers[2:] == ["", ""]


def test_a_cookie_already_in_the_header_is_not_sent_twice() -> None:
    seen: list[httpx.Request] = []
    with _cookie_client(seen) as client:
        client.get("http://127.0.0.1:8080/set")
        client.get("http://127.0.0.1:8080/x", headers={"cookie": "__Host-sid=mine"})
    assert seen[-1].headers["cookie"].count("__Host-sid") == 1


def test_the_hook_keeps_the_clients_own_hooks() -> None:
    calls: list[str] = []
    client = httpx.Client(
        transport=httpx.MockTransport(lambda r: httpx.Response(200)),
        event_hooks={"request": [lambda r: calls.append(str(r.url))]},
    )
    with client:
        send_secure_cookies_to_loopback(client)
        client.get("http://127.0.0.1:1/x")
    assert calls == ["http://127.0.0.1:1/x"] and len(client.event_hooks["request"]) == 2


def test_a_backoff_that_grows_past_max_wait_s_is_capped() -> None:
    pacer, slept = _pacer(retries=3, backoff_s=6.0, max_wait_s=10.0)
    send = Script(Transient("HTTP 503"), Transient("HTTP 503"), Transient("HTTP 503"))
    assert pacer.call("a request", send) == "ok"
    assert slept == [6.0, 10.0, 10.0]
    assert pacer.waits[-1] == "a request: HTTP 503; waited 10.0 s"  # the target asked nothing
