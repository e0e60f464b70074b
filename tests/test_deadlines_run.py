"""Whole runs against targets that stop answering: a deadline ends them, with exit 2, a report
and a message naming the deadline, instead of a run that hangs or pays a timeout per check."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hostile import RawServer, drip_body

from conformance.report.model import Report
from mock_servers.pki import TestCA
from mock_servers.reference_as.app import create_app
from mock_servers.reference_as.config import IssuerConfig
from mock_servers.runner import ASGIApp, Receive, Scope, Send, Server

pytestmark = pytest.mark.slow
CLI = [sys.executable, "-m", "conformance.cli"]
HANG_S = 60.0  # longer than any deadline below; the fixture releases the hang at its end


def _run(args: list[str]) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.monotonic()
    done = subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=600)
    return done, time.monotonic() - started


def test_a_dripping_metadata_endpoint_ends_discovery_at_the_exchange_deadline(
    state_dir: Path, tmp_path: Path
) -> None:
    leaf = TestCA.load_or_create(state_dir).issue_server_pem(tmp_path / "leaf")
    out = tmp_path / "out"
    with RawServer(drip_body(0.5), certfile=leaf, lifetime_s=300) as server:
        args = ["run", "--issuer", server.base_url, "--state-dir", str(state_dir)]
        done, elapsed = _run([*args, "--exchange-timeout", "2", "--report-dir", str(out)])
    assert done.returncode == 2, done.stdout[-3000:] + done.stderr[-3000:]
    error = Report.load(out / "report.json").preflight["error"]
    assert error.startswith("the target did not answer in time")
    fired = "the exchange deadline of 2 s fired on GET " + server.base_url
    assert f"{fired}/.well-known/oauth-authorization-server; raise it with --exchange-timeout" in (
        error
    )
    assert f"{fired}/.well-known/openid-configuration" in error
    assert server.connections == 2  # both well-known URLs, each given up on at its deadline
    assert elapsed < 120  # generous: it does not hang (the drip would go on for 300 s)


class StopsAnsweringAfterLogin:
    """The reference AS, until the browser has logged in; after that it never answers again.

    The preflight's requests (its control, the login and the one authorization request the
    login returns to) are answered; every later request hangs.
    """

    def __init__(self) -> None:
        self.app: ASGIApp | None = None
        self.released = False
        self._logged_in = False
        self._after_login = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert self.app is not None
        if scope["type"] == "http":
            path, method = scope["path"], scope["method"]
            if self._after_login >= 1:
                deadline = time.monotonic() + HANG_S
                while not self.released and time.monotonic() < deadline:
                    await asyncio.sleep(0.1)
                await send({"type": "http.response.start", "status": 503, "headers": []})
                await send({"type": "http.response.body", "body": b""})
                return
            if self._logged_in and path.endswith("/authorize"):
                self._after_login += 1
            if method == "POST" and path.endswith("/login"):
                self._logged_in = True
        await self.app(scope, receive, send)


@pytest.fixture
def stops_answering(state_dir: Path, tmp_path: Path) -> Iterator[Server]:
    """A reference AS that stops answering once the preflight has logged in."""
    ca = TestCA.load_or_create(state_dir)
    wrapper = StopsAnsweringAfterLogin()
    with Server(wrapper, certfile=ca.issue_server_pem(tmp_path / "leaf")) as server:
        wrapper.app = create_app([IssuerConfig(server.base_url, trust_ca=ca.cert_path)])
        yield server
        wrapper.released = True  # answer what still hangs, so the server stops cleanly


@pytest.mark.browser
def test_a_target_that_stops_answering_after_login_ends_the_run_early(
    stops_answering: Server, state_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    timeout = 4.0
    args = ["run", "--issuer", stops_answering.base_url, "--state-dir", str(state_dir)]
    done, _ = _run([*args, "--exchange-timeout", str(timeout), "--report-dir", str(out)])
    assert done.returncode == 2, done.stdout[-3000:] + done.stderr[-3000:]
    report = Report.load(out / "report.json")
    assert report.preflight["error"] is None  # the preflight logged in
    fired = "the exchange deadline of 4 s fired on GET "
    stopped = report.preflight["stopped"]
    assert stopped.startswith(f"the target stopped answering: {fired}")
    assert stopped.endswith(
        "then the preflight's control (a valid client's authorization request) failed too "
        "(the exchange deadline of 4 s fired; raise it with --exchange-timeout). Check that "
        "the target is still running and healthy"
    )
    # the first check that asked paid the deadline (and the control's); every check after it
    # was given up on at once, without touching the network
    given_up = [r for r in report.results if r.observed == stopped]
    paid = [r for r in report.results if r.observed != stopped]
    assert [r.verdict for r in given_up] == ["harness-error"] * len(given_up)
    assert len(report.results) > 20 and len(paid) == 1, [r.observed for r in paid]
    assert paid[0].verdict == "harness-error" and paid[0].observed.startswith(fired)
    assert all(r.duration_s < 1 for r in given_up)
    spent = sum(r.duration_s for r in report.results)
    assert spent < len(report.results) * timeout / 4, spent


@pytest.mark.browser
def test_the_run_deadline_ends_the_run(issuer: str, state_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = ["run", "--issuer", issuer, "--state-dir", str(state_dir), "--report-dir", str(out)]
    # short enough that a fast machine cannot finish every check in time; on a slow one the
    # deadline may already fire in the preflight, which must be reported the same way
    done, _ = _run([*args, "--run-timeout", "2"])
    assert done.returncode == 2, done.stdout[-3000:] + done.stderr[-3000:]
    report = Report.load(out / "report.json")
    fired = "the run deadline of 2 s fired"
    stopped = [r for r in report.results if fired in r.observed]
    assert stopped and all(r.verdict == "harness-error" for r in stopped)
    # the clean reference AS: every other check is judged as usual, none is blamed
    others = {r.verdict for r in report.results if r not in stopped}
    assert others <= {"pass", "not-applicable", "informational"}, others
    if report.preflight.get("error") is None:
        assert f"{fired} before this check; raise it with --run-timeout" in {
            r.observed for r in stopped
        }
    else:
        assert fired in report.preflight["error"]
