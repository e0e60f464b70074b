"""The fixtures the checks use: the composed run, the target under test, and its evidence.

``cimd_suite`` composes the standalone fixtures of :mod:`conformance.plugin.fixtures` into
one :class:`SuiteRun`; the others need a target (``cimd_issuer``, parametrized by the run).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from conformance.browser.driver import Browser
from conformance.harness.session import TargetSession
from conformance.network.topology import Network, Planter
from conformance.plugin import ahead
from conformance.plugin.collector import EARLY_FETCHES_KEY, MARK_KEY
from conformance.plugin.run import RUN_KEY, requirements_for
from conformance.run import mcp_journey
from conformance.run.browser_flow import BrowserFlow
from conformance.run.consent_page import ConsentPages, SharedConsent
from conformance.run.state import RunConfig, TargetRun
from conformance.run.suite import SuiteRun
from conformance.target.discovery import Target
from mock_servers.callback import CallbackListener
from mock_servers.metadata_host import MetadataHost
from mock_servers.pki import TestCA


@pytest.fixture(scope="session")
def cimd_suite(
    pytestconfig: pytest.Config,
    request: pytest.FixtureRequest,
    cimd_config: RunConfig,
    cimd_ca: TestCA,
    cimd_network: Network,
    cimd_shared_metadata_host: MetadataHost,
    cimd_callback: CallbackListener,
    cimd_callback_ipv6: CallbackListener | None,
) -> Iterator[SuiteRun]:
    """The run: the pieces above composed, each target's preflight, its deadlines.

    The browser (``cimd_chromium``) is started when a target first needs it.
    """

    def browser() -> Browser:
        chromium: Browser = request.getfixturevalue("cimd_chromium")
        return chromium

    suite = SuiteRun(
        cimd_config,
        ca=cimd_ca,
        network=cimd_network,
        metadata_host=cimd_shared_metadata_host,
        callback=cimd_callback,
        callback_ipv6=cimd_callback_ipv6,
        browser=browser,
    )
    run = pytestconfig.stash.get(RUN_KEY, None)
    if run is not None:
        run.attach(suite)
    yield suite
    suite.stop()


@pytest.fixture(scope="session")
def cimd_issuer(request: pytest.FixtureRequest) -> str:
    """The issuer of the target under test (from ``--cimd-issuer``)."""
    if not hasattr(request, "param"):
        raise pytest.UsageError("CIMD checks need a target: pass --cimd-issuer URL")
    issuer: str = request.param
    return issuer


@pytest.fixture(scope="session")
def cimd_target_run(cimd_suite: SuiteRun, cimd_issuer: str) -> Iterator[TargetRun]:
    """The prepared target (discovery and login happen once per target).

    A target's checks run together; once the last is done its session's connections close,
    so that a run over many targets holds the sockets of one at a time.
    """
    yield cimd_suite.target_run(cimd_issuer)
    cimd_suite.release(cimd_issuer)


@pytest.fixture
def cimd_metadata(cimd_target_run: TargetRun) -> Target:
    """The discovered target: issuer, metadata, and the discovery probes."""
    return cimd_target_run.require_target()


@pytest.fixture
def cimd_discovery(cimd_metadata: Target) -> Target:
    """``cimd_metadata`` by a clearer name: the target as discovery found it."""
    return cimd_metadata


@pytest.fixture
def cimd_target(
    cimd_suite: SuiteRun,
    cimd_target_run: TargetRun,
    cimd_shared_metadata_host: MetadataHost,
    request: pytest.FixtureRequest,
) -> TargetSession:
    """The logged-in HTTP session with the target; its exchange log starts empty.

    The first time a target's session is asked for, the first parts of its waiting checks
    run (:mod:`conformance.harness.head_start`), and this check's fetch log starts after them;
    then its plain-HTTP checks begin to run ahead of their turn (:mod:`.ahead`).
    """
    session = cimd_target_run.require_session()
    host = cimd_shared_metadata_host
    heads = cimd_target_run.head_starts
    if not heads.begun:  # the selection is read once per target, not at every check
        heads.begin(session, host, requirements_for(request.session.items, cimd_target_run.issuer))
        ahead.begin(cimd_suite, cimd_target_run, host, request.session.items)
    if MARK_KEY in request.node.stash:
        request.node.stash[MARK_KEY] = host.mark()
    session.exchanges.clear()
    session.attempts.clear()
    session.waits.clear()
    session.signed_in_again.clear()
    session.approved_again.clear()
    session.control = None  # each check's refusals get their own control
    return session


@pytest.fixture
def cimd_head_start(
    cimd_target_run: TargetRun,
    cimd_target: TargetSession,
    cimd_metadata_host: MetadataHost,
    request: pytest.FixtureRequest,
) -> Callable[[str], Any]:
    """What the first part of this check left (run ahead of it, or now); see head_start."""

    def take(requirement: str) -> Any:
        heads = cimd_target_run.head_starts
        value, fetches = heads.take(requirement, cimd_target, cimd_metadata_host)
        request.node.stash[EARLY_FETCHES_KEY] = fetches
        return value

    return take


@pytest.fixture
def cimd_target_session(cimd_target: TargetSession) -> TargetSession:
    """``cimd_target`` by a clearer name: the logged-in session with the target."""
    return cimd_target


@pytest.fixture
def cimd_ssrf(cimd_suite: SuiteRun, request: pytest.FixtureRequest) -> Iterator[Planter]:
    """This check's SSRF canaries; every connection they see is evidence against the target.

    The canaries go on listening for a while after the check ends; a connection that comes
    late still fails the check when the report is written.
    """
    planter = Planter(cimd_suite.network, request.node.name)
    yield planter
    planter.close()


@pytest.fixture
def cimd_browser(cimd_suite: SuiteRun, cimd_target_run: TargetRun) -> BrowserFlow:
    """Authorization flows in the real browser, logged in as the test user."""
    session = cimd_target_run.session
    return BrowserFlow(cimd_suite, cimd_target_run, session.pacer if session else None)


@pytest.fixture(scope="session")
def _cimd_consent_pages() -> dict[str, ConsentPages]:
    """Each target's shared consent pages (by issuer)."""
    return {}


@pytest.fixture
def cimd_consent_page(
    cimd_target: TargetSession,
    cimd_browser: BrowserFlow,
    cimd_metadata_host: MetadataHost,
    cimd_callback: CallbackListener,
    cimd_target_run: TargetRun,
    _cimd_consent_pages: dict[str, ConsentPages],
    request: pytest.FixtureRequest,
) -> Callable[[str], SharedConsent]:
    """One of the target's shared consent pages, ``https`` or ``loopback`` (:class:`ConsentPages`).

    A page an earlier check rendered is judged as it was then: its authorization request
    joins this check's attempts (marked ``shared``) and the fetches its rendering caused
    this check's fetch log (not those another check made of the same URL since).
    """
    pages = _cimd_consent_pages.setdefault(cimd_target_run.issuer, ConsentPages())
    marker = request.node.get_closest_marker("requirement")
    check = str(marker.args[0]) if marker is not None and marker.args else request.node.name

    def page(kind: str) -> SharedConsent:
        shared, rendered = pages.get(
            kind, cimd_target, cimd_browser, cimd_metadata_host, cimd_callback.url(), check
        )
        if not rendered:
            note = {"shared": f"rendered once for the consent checks, by {shared.first}"}
            cimd_target.attempts.extend({**a, **note} for a in shared.attempts)
            request.node.stash.setdefault(EARLY_FETCHES_KEY, []).extend(shared.fetches)
        return shared

    return page


@pytest.fixture(scope="session")
def _cimd_mcp_journeys() -> dict[str, mcp_journey.JourneyRun | None]:
    """Each target's MCP journey, once it has run (``None``: its MCP server is another's)."""
    return {}


@pytest.fixture
def cimd_mcp_journey(
    cimd_config: RunConfig,
    cimd_target_run: TargetRun,
    cimd_shared_metadata_host: MetadataHost,
    _cimd_mcp_journeys: dict[str, mcp_journey.JourneyRun | None],
) -> mcp_journey.JourneyRun | None:
    """The target's MCP journey (run once, when first asked for), or ``None`` without one.

    A run has one with ``--mcp-server URL`` (the user's MCP server), or ``--mcp`` (the
    mock MCP server, protected by the target); a target the MCP server does not name (a
    fault matrix's other issuers) has none. A stop at our mock MCP server's step is a
    harness error.
    """
    url, session = cimd_config.mcp_journey, cimd_target_run.session
    if not url or session is None:  # no journey, or no login (the preflight says why)
        return None
    issuer = cimd_target_run.issuer
    if issuer not in _cimd_mcp_journeys:
        _cimd_mcp_journeys[issuer] = mcp_journey.journey(
            session, cimd_shared_metadata_host, url, ours=cimd_config.mcp_mock
        )
    found = _cimd_mcp_journeys[issuer]
    if found is not None:
        cimd_target_run.preflight["mcp_journey"] = found.summary()
        found.harness_problem()
    return found
