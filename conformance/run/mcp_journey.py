"""The MCP journey of a run: the mock MCP client, approved by the suite, at an MCP server.

``run --mcp-server URL`` journeys to the user's MCP server; ``run --issuer URL --mcp`` and
``demo --mcp`` start the mock MCP server (:class:`~mock_servers.resource_server.McpServer`)
protected by the target, and journey to it. The journey runs once per target, when a check
first asks for it (the ``cimd_mcp_journey`` fixture); the MCP-AUTH checks judge what it
shows, and its steps are their evidence.

Where the journey stopped says whose the failure is: at the authorization server's steps
(its metadata, authorization, token, refresh) the target's; at the MCP server's steps,
our mock MCP server's (a harness error), or the user's MCP server's (not this catalog's
to score: the rows that need those steps are not applicable).
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx

from conformance.catalog.verdicts import HarnessError
from conformance.harness.session import Attempt, TargetSession
from conformance.redaction import RECEIVED_SECRETS, SECRETS, redact_value
from conformance.target import deadline
from conformance.target.pacing import (
    TRANSIENT_ERRORS,
    TRANSIENT_STATUSES,
    Pacer,
    Transient,
    retry_after_s,
)
from mock_servers.mcp_client import Approve, McpClient, Pace, client_document, unpaced
from mock_servers.mcp_record import Journey, JourneyError
from mock_servers.metadata_host import CALLBACK_PATH, MetadataHost
from mock_servers.pki import TestCA
from mock_servers.resource_server import McpServer

# The steps an authorization server answers; any other is the MCP server's. A token the
# mock MCP server refuses ("token-refused") is the AS's: the server checks what RFC 9068
# and RFC 8707 ask (signature, iss, aud, exp).
AS_STEPS = frozenset(
    {"as-metadata", "as-capabilities", "authorize", "token", "refresh", "refresh-replay"}
)


@dataclass
class JourneyRun:
    """One target's journey: what it did, and where it stopped if it did.

    Attributes:
        url: the MCP server journeyed to.
        ours: the MCP server is the suite's mock MCP server.
        journey: the steps and what they learned (partial when it stopped).
        error: why it stopped, or ``None`` when it went through the step-up.
    """

    url: str
    ours: bool
    journey: Journey
    error: JourneyError | None = None

    @property
    def stopped_at(self) -> str:
        """The step the journey stopped at ('' when it went through)."""
        return self.error.step if self.error else ""

    def stopped_at_target(self) -> bool:
        """Whether the journey stopped at one of the authorization server's steps."""
        return self.error is not None and self.error.step in self._target_steps()

    def _target_steps(self) -> frozenset[str]:
        return AS_STEPS | {"token-refused"} if self.ours else AS_STEPS

    def protects(self, issuer: str) -> bool:
        """Whether the MCP server names ``issuer`` as its authorization server."""
        return self.journey.issuer.rstrip("/") == issuer.rstrip("/")

    def reached(self, step: str) -> bool:
        """Whether the journey recorded ``step`` and went on past it."""
        names = [s.name for s in self.journey.steps]
        return step in names and (self.error is None or self.error.step != step)

    def evidence(self) -> dict[str, Any]:
        """The journey for a report: the MCP server, where it stopped, every step."""
        found: dict[str, Any] = {"mcp_server": self.url, "mock_mcp_server": self.ours}
        if self.error is not None:
            found["stopped_at"] = self.error.step
            found["why"] = self.error.reason
        found["steps"] = self.journey.evidence()
        return dict(redact_value(found))

    def summary(self) -> dict[str, Any]:
        """A few facts for the report's preflight and the console."""
        summary: dict[str, Any] = {
            "mcp_server": self.url,
            "mock_mcp_server": self.ours,
            "tool_call": bool(self.journey.tool_result),
            "step_up": bool(self.journey.step_up_challenge and self.journey.step_up_result),
        }
        if self.error is not None:
            summary |= {"stopped_at": self.error.step, "why": self.error.reason}
        return dict(redact_value(summary))

    def harness_problem(self) -> None:
        """Raise the harness error when our own MCP server stopped the journey.

        Raises:
            HarnessError: the mock MCP server failed a step (the suite's fault).
        """
        if self.ours and self.error is not None and not self.stopped_at_target():
            raise HarnessError(
                f"the mock MCP server stopped the journey at {self.error}; this is the "
                "suite's problem, not the target's"
            )


def session_approve(session: TargetSession, redirect_uri: str) -> Approve:
    """The user's approval through the run's logged-in session (the browser when needed)."""

    def approve(url: str) -> str:
        outcome = session.pacer.call(
            "the MCP client's authorization request",
            lambda: session.look("GET", url, redirect_uri),
        )
        if not outcome.approvable:
            raise JourneyError("authorize", f"no consent: {outcome.describe()}")
        attempt = Attempt("", redirect_uri, "", None, outcome, url, session)
        approved = session.approve(attempt)
        SECRETS.add_params(approved.params, RECEIVED_SECRETS)
        if not approved.params:
            raise JourneyError("authorize", f"approval: {approved.describe()}")
        return f"{redirect_uri}?{urlencode(approved.params)}"

    return approve


def paced(pacer: Pacer) -> Pace:
    """The MCP client's requests through the run's pacer, as every other request of a run.

    An answer of HTTP 429 or 503, or a ``temporarily_unavailable`` error, is waited for and
    asked again (``Retry-After`` first); one still "not now" after every retry is a harness
    error naming the rate limit, never a step of the journey that failed.
    """

    def pace(what: str, send: Callable[[], httpx.Response]) -> httpx.Response:
        def once() -> httpx.Response:
            answer = send()
            error = _error(answer)
            if answer.status_code in TRANSIENT_STATUSES or error in TRANSIENT_ERRORS:
                said = f"HTTP {answer.status_code}" + (f" ({error})" if error else "")
                raise Transient(said, retry_after_s(answer.headers.get("retry-after")))
            return answer

        return pacer.call(what, once)

    return pace


def _error(answer: httpx.Response) -> str | None:
    """The OAuth ``error`` of a JSON answer, if it has one."""
    if answer.status_code < 400:
        return None
    try:
        body = answer.json()
    except ValueError:
        return None
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, str) else None


def new_client(
    host: MetadataHost, http: httpx.Client, approve: Approve, pace: Pace = unpaced
) -> McpClient:
    """A mock MCP client whose client ID metadata document is served on ``host``."""
    client_id = host.new_client_url("mcp-client.json")
    redirect_uri = host.base_url + CALLBACK_PATH
    host.serve_document(client_id, client_document(client_id, redirect_uri))
    return McpClient(http, client_id, redirect_uri, approve, pace=pace)


def journey(
    session: TargetSession, host: MetadataHost, url: str, *, ours: bool
) -> JourneyRun | None:
    """Journey to ``url`` as a fresh mock MCP client; the tokens become run secrets.

    ``None`` when the MCP server names another authorization server than the session's
    (a fault matrix: the mock MCP server is protected by the clean issuer only).
    """
    redirect_uri = host.base_url + CALLBACK_PATH
    http = deadline.client(session.tls, timeout=session.clock.limits.exchange_s)
    approve = session_approve(session, redirect_uri)
    client = new_client(host, http, approve, paced(session.pacer))
    record = JourneyRun(url, ours, Journey(url))
    try:
        with http:
            client.journey(url, issuer=session.target.issuer)
    except JourneyError as exc:
        if exc.step == "other-issuer":
            return None
        record.error = exc
    finally:
        record.journey = client.last
        for grant in client.last.grants:
            SECRETS.add(grant.access_token, grant.refresh_token)
    return record


@contextlib.contextmanager
def mock_mcp_server(
    ca: TestCA, target_ca: Path | None = None, port: int = 0
) -> Iterator[McpServer]:
    """The mock MCP server for ``--mcp`` (its ``issuer`` is set once the target is known).

    It trusts the test CA and ``target_ca`` when it fetches the target's keys.

    Raises:
        HarnessError: ``port`` cannot be bound.
    """
    with tempfile.TemporaryDirectory(prefix="cimd-mcp-") as name:
        directory = Path(name)
        bundle = directory / "trust.pem"
        pem = ca.cert_path.read_bytes()
        if target_ca is not None:
            pem += b"\n" + target_ca.read_bytes()
        bundle.write_bytes(pem)
        try:
            server = McpServer("", ca.issue_server_pem(directory), trust_ca=bundle, port=port)
        except OSError as exc:
            raise HarnessError(
                f"the mock MCP server cannot listen on port {port} ({exc}); give another "
                "--mcp-port, or 0 for any free port"
            ) from exc
        with server:
            yield server


def declare(args: Any, url: str, *, ours: bool) -> None:
    """Make the run journey to ``url``; every request then names it as its resource."""
    args.mcp_journey, args.mcp_mock = url, ours
    if not any(p.startswith("resource=") for p in args.param):
        args.param = [*args.param, f"resource={url}"]
