"""Deadlines as values, and how ``send`` names what went wrong (conformance/target/deadline.py).

tests/test_deadline.py runs the socket-level enforcement against hostile servers (drips,
hangs, endless bodies, refused connections); these tests cover the rest without a network:
the clock, the choice of the deadline that fired, the cap on each network step, and which
failures are "unanswered" (the target) and which are the harness's.
"""

from __future__ import annotations

import time

import httpcore
import httpx
import pytest

from conformance.catalog.verdicts import HarnessError
from conformance.target import deadline
from conformance.target.deadline import Clock, Deadline, Limits, Unanswered, first_fired


def _fired(name: str, ago: float = 1.0) -> Deadline:
    return Deadline(name, 5.0, f"--{name}-timeout", time.monotonic() - ago)


def test_a_deadline_says_which_fired_where_and_how_to_raise_it() -> None:
    exchange = Deadline.start("exchange", 20.0, "--exchange-timeout")
    assert 19.0 < exchange.remaining() <= 20.0 and not exchange.expired
    assert exchange.message("on GET https://as.test/") == (
        "the exchange deadline of 20 s fired on GET https://as.test/; "
        "raise it with --exchange-timeout"
    )
    assert Deadline.start("preflight", 0.5).message() == "the preflight deadline of 0.5 s fired"
    assert _fired("run").expired and _fired("run").remaining() < 0
    # a socket timeout can fire a hair early: a deadline that is all but due counts as fired
    assert Deadline.start("check", 0.001).expired


def test_the_clock_keeps_the_run_and_check_deadlines_and_a_fresh_exchange_each_time() -> None:
    clock = Clock(Limits(exchange_s=2.0, check_s=30.0, run_s=600.0), run=True)
    assert [d.name for d in clock.standing()] == ["run"]
    clock.start_check()
    assert [d.name for d in clock.standing()] == ["check", "run"]
    first = clock.exchange()
    time.sleep(0.01)
    second = clock.exchange()
    assert [d.name for d in first] == ["exchange", "check", "run"]
    assert second[0].expires > first[0].expires  # a new exchange deadline for each exchange
    assert second[1:] == first[1:]  # the standing ones are the same
    clock.end_check()
    assert [d.name for d in clock.exchange()] == ["exchange", "run"]
    assert Clock().standing() == [] and Clock().fired() is None


def test_the_earliest_fired_deadline_is_the_one_named() -> None:
    run, check = _fired("run", ago=5.0), _fired("check", ago=1.0)
    live = Deadline.start("exchange", 30.0)
    assert first_fired([live, check, run]) is run
    assert first_fired([live]) is None and first_fired([]) is None
    clock = Clock()
    clock.check = check
    assert clock.fired() is check


def test_each_network_step_is_capped_at_the_time_left() -> None:
    soon = Deadline.start("check", 0.5)
    token = deadline._ACTIVE.set((Deadline.start("run", 60.0), soon))
    try:
        capped = deadline._capped(10.0, httpcore.ReadTimeout)
        assert capped is not None and 0 < capped <= 0.5
        uncapped = deadline._capped(None, httpcore.ReadTimeout)
        assert uncapped is not None and uncapped <= 0.5
        assert deadline._capped(0.1, httpcore.ReadTimeout) == 0.1
    finally:
        deadline._ACTIVE.reset(token)
    assert deadline._capped(10.0, httpcore.ReadTimeout) == 10.0  # outside send: no cap
    token = deadline._ACTIVE.set((_fired("run"),))
    try:
        with pytest.raises(httpcore.WriteTimeout):
            deadline._capped(10.0, httpcore.WriteTimeout)
    finally:
        deadline._ACTIVE.reset(token)


def _client(handler: httpx.MockTransport) -> httpx.Client:
    return httpx.Client(transport=handler)


def test_send_reads_the_whole_answer_and_leaves_no_deadline_behind() -> None:
    with _client(httpx.MockTransport(lambda r: httpx.Response(200, text="whole"))) as http:
        response = deadline.send(http, "GET", "https://as.test/x", Clock().exchange())
        assert response.text == "whole" and response.is_closed
        assert deadline._ACTIVE.get() == ()
        assert deadline.send(http, "GET", "https://as.test/x", []).text == "whole"


def test_a_broken_connection_is_unanswered_without_a_deadline_and_redacted() -> None:
    def broken(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadError("connection reset", request=request)

    with _client(httpx.MockTransport(broken)) as http, pytest.raises(Unanswered) as caught:
        deadline.send(http, "GET", "https://as.test/cb?code=secret-code-1", Clock().exchange())
    assert caught.value.deadline is None
    message = str(caught.value)
    assert message.startswith("GET https://as.test/cb?code=") and "ReadError" in message
    assert "secret-code-1" not in message
    assert deadline._ACTIVE.get() == ()


def test_a_timeout_after_a_deadline_fired_names_the_deadline() -> None:
    check = Deadline.start("check", 0.05, "--check-timeout")

    def slow(request: httpx.Request) -> httpx.Response:
        time.sleep(0.1)
        raise httpx.ReadTimeout("timed out", request=request)

    with _client(httpx.MockTransport(slow)) as http, pytest.raises(Unanswered) as caught:
        deadline.send(http, "POST", "https://as.test/token", [check], data={"a": "b"})
    assert caught.value.deadline is check
    assert str(caught.value) == (
        "the check deadline of 0.05 s fired on POST https://as.test/token; "
        "raise it with --check-timeout"
    )


def _gzip_that_is_not(request: httpx.Request) -> httpx.Response:
    headers = {"content-encoding": "gzip"}
    return httpx.Response(200, headers=headers, stream=httpx.ByteStream(b"not gzip"))


@pytest.mark.parametrize(
    ("url", "transport"),
    [("ftp://as.test/x", None), ("https://as.test/x", httpx.MockTransport(_gzip_that_is_not))],
    ids=["unsupported-scheme", "undecodable-body"],
)
def test_failures_that_are_not_the_targets_silence_are_plain_harness_errors(
    url: str, transport: httpx.MockTransport | None
) -> None:
    with httpx.Client(transport=transport) as http, pytest.raises(HarnessError) as caught:
        deadline.send(http, "GET", url, Clock().exchange())
    assert not isinstance(caught.value, Unanswered)
    assert str(caught.value).startswith(f"GET {url} failed: ")
