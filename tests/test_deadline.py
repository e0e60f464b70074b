"""The deadline helper against real hostile servers on loopback: a drip or a hang ends when
the deadline fires (not when the target stops sending), and a normal answer is untouched."""

from __future__ import annotations

import ssl
import time
from collections.abc import Iterator

import httpx
import pytest
from hostile import (
    Handler,
    RawServer,
    answer,
    drip_body,
    drip_headers,
    endless_body,
    hang,
    keep_alive_for,
)

from conformance.catalog.verdicts import HarnessError
from conformance.target import deadline
from conformance.target.deadline import Clock, Deadline, Limits, Unanswered


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with deadline.client(ssl.create_default_context()) as client:
        yield client


@pytest.mark.parametrize(
    "handler", [drip_body(0.2), drip_headers(0.2), hang], ids=["drip-body", "drip-headers", "hang"]
)
def test_a_dripping_or_hanging_server_ends_at_the_exchange_deadline(
    handler: Handler, http: httpx.Client
) -> None:
    clock = Clock(Limits(exchange_s=1.0))
    with RawServer(handler, lifetime_s=30) as server:
        started = time.monotonic()
        with pytest.raises(Unanswered) as caught:
            deadline.send(http, "GET", server.base_url + "/x?code=secret", clock.exchange())
        elapsed = time.monotonic() - started
    assert caught.value.deadline is not None and caught.value.deadline.name == "exchange"
    message = str(caught.value)
    assert message.startswith("the exchange deadline of 1 s fired on GET http://127.0.0.1:")
    assert message.endswith("; raise it with --exchange-timeout")
    assert "secret" not in message
    assert 0.9 < elapsed < 10  # the drip goes on for 30 s, each byte well within a read timeout


def test_an_idle_connection_is_let_go_before_a_servers_keep_alive_runs_out(
    http: httpx.Client,
) -> None:
    # a server that keeps connections 1.5 s (gunicorn: 2 s; Node and hypercorn: 5 s): a
    # connection reused as that time runs out would leave the request unanswered
    clock = Clock(Limits(exchange_s=5.0))
    with RawServer(keep_alive_for(1.5), lifetime_s=30) as server:
        for pause_s in (0.0, 0.1, 1.6):
            time.sleep(pause_s)
            assert deadline.send(http, "GET", server.base_url, clock.exchange()).json() == {
                "ok": True
            }
        assert server.connections == 2  # kept while fresh, let go once idle a second


def test_the_check_deadline_fires_when_it_comes_first(http: httpx.Client) -> None:
    clock = Clock(Limits(exchange_s=30.0, check_s=1.0))
    clock.start_check()
    with RawServer(drip_body(0.2), lifetime_s=30) as server:
        with pytest.raises(Unanswered, match=r"the check deadline of 1 s fired .*--check-timeout"):
            deadline.send(http, "GET", server.base_url, clock.exchange())
        clock.end_check()
        assert [d.name for d in clock.exchange()] == ["exchange"]


def test_a_deadline_that_fired_sends_nothing(http: httpx.Client) -> None:
    fired = Deadline("run", 5.0, "--run-timeout", time.monotonic() - 1)
    with (
        RawServer(answer, lifetime_s=30) as server,
        pytest.raises(Unanswered, match="the run deadline of 5 s fired on GET"),
    ):
        deadline.send(http, "GET", server.base_url, [fired])
    assert server.connections == 0


def test_a_normal_answer_is_read_whole(http: httpx.Client) -> None:
    clock = Clock(Limits(exchange_s=2.0), run=True)
    with RawServer(answer, lifetime_s=30) as server:
        for _ in range(3):  # the pooled connection is reused under fresh deadlines
            response = deadline.send(http, "GET", server.base_url, clock.exchange())
            assert response.status_code == 200 and response.json() == {"ok": True}
    assert server.connections == 1


def test_a_refused_connection_is_unanswered_without_a_deadline(
    http: httpx.Client,
) -> None:
    with RawServer(answer, lifetime_s=30) as server:
        url = server.base_url
    with pytest.raises(Unanswered, match="ConnectError") as caught:
        deadline.send(http, "GET", url, Clock().exchange())
    assert caught.value.deadline is None


def test_an_endless_answer_is_given_up_on_at_the_size_limit(http: httpx.Client) -> None:
    clock = Clock(Limits(exchange_s=60.0))
    with RawServer(endless_body, lifetime_s=60) as server:
        started = time.monotonic()
        with pytest.raises(HarnessError) as caught:
            deadline.send(http, "GET", server.base_url + "/doc?code=secret", clock.exchange())
        elapsed = time.monotonic() - started
    assert not isinstance(caught.value, Unanswered)  # it answered: too much, not too late
    message = str(caught.value)
    assert message.startswith("the answer to GET http://127.0.0.1:")
    assert "was larger than 16 MiB" in message and "secret" not in message
    assert elapsed < 30  # generous: well before the exchange deadline
