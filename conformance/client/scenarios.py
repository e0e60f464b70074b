"""The client's scenarios: each a fresh MCP server and AS issuer, behaving as a row needs.

``clean`` is a correct authorization server and MCP server: the client should go through
to a tool call, and most rows are judged on what it sent there. The others each put the
client in front of something a correct client refuses, by a reference-AS client test
(:mod:`mock_servers.reference_as.client_tests`) or fault.

All issuers live in one in-process reference AS (:class:`World`), behind a
:class:`~conformance.client.recorder.Recorder`; each scenario's mock MCP server logs its own
requests. The client command runs once per scenario, in its own process group, with the
environment of :mod:`.contract`.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from conformance.client import contract
from conformance.client.recorder import Received, Recorder
from conformance.client.user_agent import Decision, app
from conformance.harness.session import ssl_context
from conformance.redaction import RECEIVED_SECRETS, SECRETS
from mock_servers.hosting import Hosting
from mock_servers.metadata_host import MetadataHost
from mock_servers.pki import TestCA
from mock_servers.reference_as import F, Fault, FaultSet, IssuerConfig, create_app
from mock_servers.resource_server import McpServer
from mock_servers.runner import Receive, Scope, Send, Server

OUTPUT_TAIL = 2000


@dataclass(frozen=True)
class Scenario:
    """One situation the client is put in.

    Attributes:
        name: its name (the issuer's path, the user agent's path).
        about: what is different from a correct AS.
        client_tests: the reference AS's client tests switched on.
        faults: the reference AS's faults switched on.
        approve: whether the user approves when the client hands over an authorization URL.
    """

    name: str
    about: str
    client_tests: frozenset[str] = frozenset()
    faults: tuple[Fault, ...] = ()
    approve: bool = True


SCENARIOS: tuple[Scenario, ...] = (
    Scenario("clean", "a correct AS and MCP server, through to a tool call"),
    Scenario(
        "no-cimd-flag",
        "the AS metadata has no client_id_metadata_document_supported (it offers DCR)",
        faults=(F.NO_METADATA_FLAG,),
    ),
    Scenario(
        "tampered-state",
        "the authorization response carries another state than the request's",
        client_tests=frozenset({"tampered-state"}),
    ),
    Scenario(
        "dropped-state",
        "the authorization response carries no state",
        faults=(F.DROPS_STATE,),
    ),
    Scenario(
        "no-pkce-metadata",
        "the AS metadata has no code_challenge_methods_supported",
        client_tests=frozenset({"no-pkce-metadata"}),
        approve=False,
    ),
    Scenario(
        "wrong-iss",
        "the authorization response's iss is the issuer with a trailing /",
        faults=(F.RESPONSE_ISS_TRAILING_SLASH,),
    ),
    Scenario(
        "other-issuer-metadata",
        "the AS metadata's issuer is the issuer with a trailing / (RFC 8414 §3.3)",
        faults=(F.ISSUER_TRAILING_SLASH,),
        approve=False,
    ),
)


@dataclass
class ScenarioRun:
    """One scenario's servers, and what the client did there.

    Attributes:
        scenario: the scenario.
        issuer: its authorization server's issuer identifier.
        mcp: its mock MCP server.
        client_id: the URL the client's document is published at.
        document_file: where the client writes its document.
        jwks_uri: the URL the client's JWK Set is published at (for a ``jwks_uri``).
        jwks_file: where the client writes its JWK Set, if it names its keys by URL.
        opened: the authorization URLs the client handed to the user agent.
        document: the document as published (read when the client first asked for an
            approval, or when it exited), ``None`` when it wrote none.
        jwks: the JWK Set as published (read with the document), ``None`` when none.
        exit_code: the command's exit code, ``None`` when it was stopped at the time limit.
        output: the end of its standard error and output.
        duration_s: how long it ran.
        as_requests: the requests this scenario's issuer received.
    """

    scenario: Scenario
    issuer: str
    mcp: McpServer
    client_id: str
    document_file: Path
    jwks_uri: str
    jwks_file: Path
    opened: list[str] = field(default_factory=list)
    document: bytes | None = None
    jwks: bytes | None = None
    exit_code: int | None = None
    output: str = ""
    duration_s: float = 0.0
    as_requests: list[Received] = field(default_factory=list)

    @property
    def prefix(self) -> str:
        """The issuer's path in the reference AS."""
        return "/client/" + self.scenario.name

    def publish(self, host: MetadataHost) -> None:
        """Serve the document and JWK Set the client wrote at their URLs (the first of each)."""
        if self.document is None and self.document_file.is_file():
            self.document = self.document_file.read_bytes()
            host.serve(self.client_id, Hosting(body=self.document))
        if self.jwks is None and self.jwks_file.is_file():
            self.jwks = self.jwks_file.read_bytes()
            host.serve(self.jwks_uri, Hosting(body=self.jwks))

    def token_requests(self) -> list[Received]:
        """The requests to the token endpoint."""
        return [r for r in self.as_requests if r.method == "POST" and r.path.endswith("/token")]

    def code_redemptions(self) -> list[Received]:
        """The token requests that redeemed a code."""
        return [r for r in self.token_requests() if r.param("grant_type") == "authorization_code"]

    def metadata_requests(self) -> list[Received]:
        """The AS metadata requests (any well-known URL of the AS naming this issuer)."""
        return [r for r in self.as_requests if r.method == "GET" and "/.well-known/" in r.path]


@dataclass
class World:
    """The servers of a client run: metadata host, reference AS, MCP servers, user agent."""

    ca: TestCA
    host: MetadataHost
    runs: dict[str, ScenarioRun]
    recorder: Recorder
    user_agent: str

    def requests_of(self, run: ScenarioRun) -> list[Received]:
        """The requests for ``run``'s issuer: under its path, or a well-known URL naming it."""
        return [
            r
            for r in self.recorder.requests
            if r.path.startswith(run.prefix + "/") or r.path.endswith(run.prefix)
        ]


class _Late:
    """An ASGI app set once the issuers, which must know the server's URL, are known."""

    def __init__(self) -> None:
        self.app: Recorder | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert self.app is not None, "the reference AS was not set up"
        await self.app(scope, receive, send)


@contextlib.contextmanager
def world(state_dir: Path | None, scenarios: Sequence[Scenario] = SCENARIOS) -> Iterator[World]:
    """Start every server a client run needs; stop them all at the end."""
    ca = TestCA.load_or_create(state_dir)
    with contextlib.ExitStack() as stack:
        directory = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="cimd-client-")))
        leaf = ca.issue_server_pem(directory)
        host = stack.enter_context(MetadataHost(ca))
        late = _Late()
        server = Server(late, "127.0.0.1", 0, leaf)
        runs: dict[str, ScenarioRun] = {}
        for scenario in scenarios:
            mcp = stack.enter_context(McpServer("", leaf, trust_ca=ca.cert_path))
            runs[scenario.name] = ScenarioRun(
                scenario,
                f"{server.base_url}/client/{scenario.name}",
                mcp,
                host.new_client_url(f"{scenario.name}.json"),
                directory / f"{scenario.name}-document.json",
                host.new_client_url(f"{scenario.name}-jwks.json"),
                directory / f"{scenario.name}-jwks.json",
            )
        configs = [
            IssuerConfig(
                issuer=run.issuer,
                path_prefix=run.prefix,
                faults=FaultSet(run.scenario.faults),
                trust_ca=ca.cert_path,
                resources=(run.mcp.url,),
                client_tests=run.scenario.client_tests,
            )
            for run in runs.values()
        ]
        recorder = Recorder(create_app(configs))
        late.app = recorder
        stack.enter_context(server)
        for run in runs.values():
            run.mcp.issuer = run.issuer
        decisions = {name: _decision(run, host) for name, run in runs.items()}
        agent = stack.enter_context(Server(app(decisions, ssl_context(str(ca.cert_path)))))
        yield World(ca, host, runs, recorder, agent.base_url)
        server.raise_crash()
        for run in runs.values():
            run.mcp.raise_crash()


def _decision(run: ScenarioRun, host: MetadataHost) -> Decision:
    def before(url: str) -> None:
        run.opened.append(url)
        run.publish(host)

    return Decision(run.scenario.approve, before)


def run_command(command: str, world: World, run: ScenarioRun, timeout_s: float) -> None:
    """Run the client command in ``run``'s scenario; record its exit and its requests."""
    env = {
        **os.environ,
        contract.MCP_SERVER_URL: run.mcp.url,
        contract.CA_FILE: str(world.ca.cert_path),
        contract.CLIENT_ID: run.client_id,
        contract.CLIENT_DOCUMENT: str(run.document_file),
        contract.USER_AGENT: f"{world.user_agent}/{run.scenario.name}",
        contract.CLIENT_JWKS: str(run.jwks_file),
        contract.CLIENT_JWKS_URI: run.jwks_uri,
    }
    started = time.monotonic()
    with tempfile.TemporaryFile() as output:
        process = subprocess.Popen(  # noqa: S602 - the user's command line, as given
            command, shell=True, env=env, stdout=output, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        try:
            run.exit_code = process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            run.exit_code = None
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        output.seek(0)
        text = output.read().decode("utf-8", "replace")
    run.output = text[-OUTPUT_TAIL:]
    run.duration_s = round(time.monotonic() - started, 3)
    run.publish(world.host)
    run.as_requests = world.requests_of(run)
    for request in run.token_requests():  # the client's tokens never reach a report
        with contextlib.suppress(ValueError):
            issued = json.loads(request.answer)
            if isinstance(issued, dict):
                SECRETS.add_params(issued, RECEIVED_SECRETS)
