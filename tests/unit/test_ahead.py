"""Checks run ahead of their turn: shared between the worker and the turns, and kept apart.

The worker runs its jobs on a real metadata host on loopback; a job stands in for a check,
fetching its own URLs over TLS as a target would. What each job fetched, logged and raised
must reach its own turn and no other, whichever thread ran it.
"""

from __future__ import annotations

import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from conformance.catalog.verdicts import NonConformance
from conformance.harness.ahead import RanAhead, RunAhead
from conformance.harness.session import Attempt, TargetSession, ssl_context
from mock_servers.hosting import Hosting
from mock_servers.metadata_host import MetadataHost
from mock_servers.pki import TestCA

from .conftest import make_target

DOC = {"client_id": "https://m.test/c.json", "redirect_uris": ["https://m.test/cb"]}


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> TestCA:
    return TestCA.load_or_create(Path(tmp_path_factory.mktemp("ahead-state")))


@pytest.fixture(scope="module")
def host(ca: TestCA) -> Iterator[MetadataHost]:
    with MetadataHost(ca) as host:
        yield host


@pytest.fixture(scope="module")
def tls(ca: TestCA) -> ssl.SSLContext:
    return ssl_context(str(ca.cert_path))


@pytest.fixture
def session(tls: ssl.SSLContext) -> Iterator[TargetSession]:
    client = httpx.Client(verify=tls)
    yield TargetSession(make_target("https://as.test"), client, tls)
    client.close()


def _fetch(host: MetadataHost, tls: ssl.SSLContext, url: str) -> None:
    """The target's fetch of ``url`` (any thread)."""
    with httpx.Client(verify=tls, timeout=10) as client:
        client.get(url)
    host.settle(url)


def _control(session: TargetSession) -> Attempt:
    raise AssertionError("no job here asks for a control")


def _ahead(session: TargetSession, host: MetadataHost) -> RunAhead:
    return RunAhead(session, host, _control, lambda: True)


def _fetching_job(host: MetadataHost, tls: ssl.SSLContext, name: str) -> Any:
    def job(session: TargetSession) -> str:
        url = host.new_client_url()
        host.serve(url, Hosting.document(DOC))
        _fetch(host, tls, url)
        session.exchanges.append({"job": name})
        return url

    return job


def test_jobs_run_ahead_and_each_turn_gets_its_own_evidence(
    session: TargetSession, host: MetadataHost, tls: ssl.SSLContext
) -> None:
    ahead = _ahead(session, host)
    names = ["a", "b", "c"]
    ahead.begin([(n, _fetching_job(host, tls, n)) for n in names])
    # the main thread fetches meanwhile, as a check in its turn would: never a job's evidence
    own = host.new_client_url()
    host.serve(own, Hosting.document(DOC))
    _fetch(host, tls, own)
    ran = {}
    for name in names:
        taken = ahead.take(name)
        assert taken is not None, name
        ran[name] = taken
    ahead.stop()
    for name, taken in ran.items():
        assert [f.target for f in taken.fetches] == [httpx.URL(taken.value).raw_path.decode()]
        assert taken.exchanges == [{"job": name}]
        assert taken.duration_s > 0
    (fetch,) = [f for f in host.fetches_since(0) if f.target.endswith(own.split("/c/")[1])]
    assert host.claimed_by(fetch) is None and host.unclaimed([fetch]) == [fetch]
    assert all(host.claimed_by(f) is not None for t in ran.values() for f in t.fetches)


def test_a_job_taken_before_the_worker_began_it_runs_in_its_turn_only(
    session: TargetSession, host: MetadataHost, tls: ssl.SSLContext
) -> None:
    started = threading.Event()
    release = threading.Event()
    calls: list[str] = []

    def slow(session: TargetSession) -> None:
        calls.append("slow")
        started.set()
        assert release.wait(10)

    def later(session: TargetSession) -> None:
        calls.append("later")

    ahead = _ahead(session, host)
    ahead.begin([("slow", slow), ("later", later)])
    assert started.wait(10)
    assert ahead.take("later") is None  # not begun: the turn runs it
    release.set()
    assert ahead.take("slow") is not None
    ahead.stop()
    assert calls == ["slow"]


def test_what_a_job_raised_is_raised_at_its_turn_with_its_evidence(
    session: TargetSession, host: MetadataHost
) -> None:
    def failing(session: TargetSession) -> None:
        session.attempts.append({"client_id": "U"})
        raise NonConformance(expected="a refusal", observed="accepted")

    ahead = _ahead(session, host)
    ahead.begin([("failing", failing)])
    taken = ahead.take("failing")
    ahead.stop()
    assert taken is not None
    turn = TargetSession(session.target, session.client, session.tls)
    with pytest.raises(NonConformance, match="accepted"):
        taken.hand_over(turn)
    assert turn.attempts == [{"client_id": "U"}]


def test_a_job_that_needs_the_browser_gives_up_and_the_rest_run_in_their_turns(
    session: TargetSession, host: MetadataHost
) -> None:
    calls: list[str] = []

    def browser_page(session: TargetSession) -> None:
        calls.append("page")
        assert session.browser is not None
        session.browser.classify("https://as.test/authorize", "https://m.test/cb")

    def plain(session: TargetSession) -> None:
        calls.append("plain")

    ahead = _ahead(session, host)
    ahead.begin([("page", browser_page), ("plain", plain)])
    assert ahead.take("page") is None
    assert ahead.take("plain") is None
    ahead.stop()
    assert calls == ["page"]


def test_the_worker_begins_nothing_while_a_check_runs_alone(
    session: TargetSession, host: MetadataHost
) -> None:
    began: list[float] = []
    first_running = threading.Event()
    finish_first = threading.Event()

    def first(session: TargetSession) -> None:
        first_running.set()
        assert finish_first.wait(10)

    def second(session: TargetSession) -> None:
        began.append(time.monotonic())

    ahead = _ahead(session, host)
    ahead.begin([("first", first), ("second", second)])
    assert first_running.wait(10)
    entered: list[float] = []

    def alone() -> None:
        with ahead.alone():
            entered.append(time.monotonic())
            time.sleep(0.3)
            entered.append(time.monotonic())

    serial = threading.Thread(target=alone)
    serial.start()
    time.sleep(0.2)
    assert not entered  # it waits for the worker's current check to end
    finish_first.set()
    serial.join(10)
    waited = time.monotonic() + 10
    while not began and time.monotonic() < waited:  # the worker begins it once alone ends
        time.sleep(0.01)
    taken = ahead.take("second")
    ahead.stop()
    assert isinstance(taken, RanAhead)
    assert len(entered) == 2 and began and began[0] >= entered[1]


def test_a_fork_keeps_its_logs_deadline_and_cookies_apart(session: TargetSession) -> None:
    session.client.cookies.set("sid", "s1", domain="as.test")
    fork = session.fork()
    fork.clock.start_check()
    fork.exchanges.append({"x": 1})
    fork.client.cookies.set("sid", "s2", domain="as.test")
    assert session.exchanges == [] and session.clock.check is None
    assert session.client.cookies.get("sid") == "s1" and fork.client.cookies.get("sid") == "s2"
    assert fork.pacer is session.pacer and fork.clock.run is session.clock.run
    assert fork.forked_from is session and fork.signed_in is session.signed_in
    fork.client.close()
