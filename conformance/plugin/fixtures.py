"""The suite's pieces as fixtures that stack: each usable alone, each overridable.

``cimd_suite`` composes these same fixtures, so a ``conftest.py`` that overrides one (say
``cimd_ca``) changes what a whole run uses. None of them needs a target::

    cimd_config                 RunConfig (the run's, else from the --cimd-* options)
    cimd_ca                     TestCA (the persistent test CA, in --cimd-state-dir)
    cimd_network                Network (loopback, or the lab when run inside it)
    cimd_shared_metadata_host   MetadataHost, started once per session
    cimd_metadata_host          the same host for one test: fetch log marked, crashes raised
    cimd_callback               CallbackListener on 127.0.0.1 (session)
    cimd_callback_ipv6          CallbackListener on [::1], or None without IPv6 loopback
    cimd_chromium               Browser: one headless Chromium trusting cimd_ca (session)
    cimd_reference_as           ReferenceTarget: the reference AS in a child process
    cimd_reference_as_options   ReferenceOptions for it (faults, variants); override it
    cimd_start_reference_as     start more reference AS processes (stopped at session end)
    cimd_mcp_client             make(approve) -> McpClient: a mock MCP client whose client ID
                                metadata document is on the metadata host
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from conformance.browser.driver import Browser
from conformance.harness.session import ssl_context
from conformance.network import lab
from conformance.network.topology import Network
from conformance.plugin.collector import MARK_KEY
from conformance.plugin.options import options_config
from conformance.plugin.run import RUN_KEY
from conformance.run.mcp_journey import new_client, paced
from conformance.run.state import RunConfig
from conformance.run.suite import host_maps, start_browser
from conformance.target import deadline
from conformance.target.pacing import Pacer
from conformance.target.reference import ReferenceTarget
from mock_servers.callback import CallbackListener
from mock_servers.canary import can_bind
from mock_servers.mcp_client import Approve, McpClient
from mock_servers.metadata_host import MetadataHost
from mock_servers.pki import TestCA


@dataclass(frozen=True)
class ReferenceOptions:
    """How to start the reference AS.

    Attributes:
        faults: fault names switched on at the root issuer.
        variants: variant names (real servers' shapes) switched on for every issuer.
        matrix: also serve one issuer per fault under ``/faults/<name>``.
    """

    faults: tuple[str, ...] = ()
    variants: tuple[str, ...] = ()
    matrix: bool = False


@pytest.fixture(scope="session")
def cimd_config(pytestconfig: pytest.Config) -> RunConfig:
    """The run's configuration: the run object's, else the ``--cimd-*`` options'."""
    run = pytestconfig.stash.get(RUN_KEY, None)
    return run.config if run is not None else options_config(pytestconfig)


@pytest.fixture(scope="session")
def cimd_ca(cimd_config: RunConfig) -> TestCA:
    """The test CA targets must trust, kept in the state directory (created on first use)."""
    return TestCA.load_or_create(cimd_config.state_dir)


@pytest.fixture(scope="session")
def cimd_network(cimd_config: RunConfig) -> Iterator[Network]:
    """The network mode (loopback, or the lab when inside it), its canaries and lab DNS.

    Torn down after the session's last test: the canaries first wait out their settle time,
    so a late connection is on record before the reports are written.
    """
    network = Network.start(public=cimd_config.public is not None)
    yield network
    network.stop()


@pytest.fixture(scope="session")
def cimd_shared_metadata_host(
    cimd_config: RunConfig, cimd_ca: TestCA, cimd_network: Network
) -> Iterator[MetadataHost]:
    """The session's one metadata host, started once.

    It has a TLS listener (certificate from ``cimd_ca``), a plain-HTTP one, and a TLS one
    whose certificate comes from a CA nobody trusts; all serve the same documents.
    """
    address, name, alias = cimd_network.metadata_bind
    host = MetadataHost(
        cimd_ca,
        cimd_config.metadata_bind or address,
        name,
        alias,
        port=cimd_config.metadata_port or cimd_network.metadata_port,
        public=cimd_config.public,
        plain_port=cimd_config.metadata_plain_port,
        untrusted_port=cimd_config.metadata_untrusted_port,
        cache_control=cimd_config.pacing.cache_control,
        **dict(cimd_config.metadata_bad_tls_ports),
    )
    _start(host)
    yield host
    host.stop()


@pytest.fixture
def cimd_metadata_host(
    cimd_shared_metadata_host: MetadataHost, request: pytest.FixtureRequest
) -> Iterator[MetadataHost]:
    """The session's metadata host, for one test.

    Its fetch log from here on is the test's evidence, and a crash while serving fails the
    test that caused it.
    """
    host = cimd_shared_metadata_host
    request.node.stash[MARK_KEY] = host.mark()
    yield host
    host.raise_crash()


@pytest.fixture(scope="session")
def cimd_callback(cimd_config: RunConfig) -> Iterator[CallbackListener]:
    """The loopback listener that receives authorization responses (``http://127.0.0.1:port``)."""
    listener = CallbackListener(cimd_config.bind)
    _start(listener)
    yield listener
    listener.stop()


@pytest.fixture(scope="session")
def cimd_callback_ipv6() -> Iterator[CallbackListener | None]:
    """The callback listener on the IPv6 loopback ``[::1]``, or None where there is none."""
    if not can_bind("::1"):
        yield None
        return
    listener = CallbackListener("::1")
    _start(listener)
    yield listener
    listener.stop()


@pytest.fixture(scope="session")
def cimd_chromium(
    cimd_config: RunConfig, cimd_ca: TestCA, request: pytest.FixtureRequest
) -> Iterator[Browser]:
    """One headless Chromium for the session, trusting ``cimd_ca`` (and ``--cimd-target-ca``).

    Found as the command line finds it: ``--cimd-browser``, ``$CIMD_BROWSER``, Playwright's
    own, the system's. The one ``demo`` started while the suite loaded is used when it is
    the browser this would start.
    """
    maps: tuple[tuple[str, str], ...] = ()
    if lab.inside() or cimd_config.public is not None:  # names only this process resolves
        network = request.getfixturevalue("cimd_network")
        maps = host_maps(network, request.getfixturevalue("cimd_shared_metadata_host"))
    run = request.config.stash.get(RUN_KEY, None)
    started = run.started_browser if run is not None else None
    if started is not None and started.made_for(
        cimd_ca.cert_path, cimd_config.browser, maps, cimd_config.target_ca
    ):
        browser = started
    else:
        if started is not None:
            started.stop()
        browser = start_browser(cimd_config, cimd_ca, maps)
    yield browser
    browser.stop()


@pytest.fixture(scope="session")
def cimd_reference_as_options() -> ReferenceOptions:
    """The faults and variants ``cimd_reference_as`` starts with: none (override to choose)."""
    return ReferenceOptions()


@pytest.fixture(scope="session")
def cimd_start_reference_as(cimd_ca: TestCA) -> Iterator[Callable[..., ReferenceTarget]]:
    """Start a reference AS with the given :class:`ReferenceOptions`; all stop at the end.

    Each is a child process (as ``cimd-conformance demo`` starts it) serving TLS with a
    certificate from ``cimd_ca`` and trusting it for the documents it fetches.
    """
    started: list[ReferenceTarget] = []

    def start(options: ReferenceOptions | None = None) -> ReferenceTarget:
        options = options or ReferenceOptions()
        target = ReferenceTarget(
            options.faults,
            matrix=options.matrix,
            state_dir=cimd_ca.cert_path.parent,
            extra_args=("--production",) if lab.inside() else (),
            variants=options.variants,
        )
        started.append(target.start())
        return target

    yield start
    for target in reversed(started):
        target.stop()


@pytest.fixture(scope="session")
def cimd_reference_as(
    cimd_start_reference_as: Callable[..., ReferenceTarget],
    cimd_reference_as_options: ReferenceOptions,
    request: pytest.FixtureRequest,
) -> ReferenceTarget:
    """The reference AS, started once per session (its ``issuer``, its ``issuers`` by fault).

    Choose faults and variants by overriding ``cimd_reference_as_options``, or per test
    with ``@pytest.mark.parametrize("cimd_reference_as", [ReferenceOptions(...)],
    indirect=True)``.
    """
    options: ReferenceOptions = getattr(request, "param", cimd_reference_as_options)
    return cimd_start_reference_as(options)


@pytest.fixture(scope="session")
def cimd_mcp_client(
    cimd_config: RunConfig, cimd_ca: TestCA, cimd_shared_metadata_host: MetadataHost
) -> Iterator[Callable[[Approve], McpClient]]:
    """Make mock MCP clients: ``make(approve)``, ``approve(url) -> redirect URL`` the user's.

    Each client has a fresh client ID metadata document on the metadata host and trusts
    ``cimd_ca`` (and the target's CA); ``client.journey(mcp_url)`` goes from the MCP
    server's 401 through a tool call and a step-up, recording each step. The clients'
    requests are paced as a run's (``--pacing``): an HTTP 429 or 503 is waited for and
    asked again, and one that stays is a harness error, never a failed step.
    """
    tls = ssl_context(str(cimd_ca.cert_path))
    if cimd_config.target_ca is not None:
        tls.load_verify_locations(cafile=str(cimd_config.target_ca))
    made: list[McpClient] = []
    pace = paced(Pacer(cimd_config.pacing))  # one pacing for all the clients made

    def make(approve: Approve) -> McpClient:
        http = deadline.client(tls, timeout=cimd_config.limits.exchange_s)
        made.append(new_client(cimd_shared_metadata_host, http, approve, pace))
        return made[-1]

    yield make
    for client in made:
        client.http.close()


def _start(server: MetadataHost | CallbackListener) -> None:
    """Start ``server``; a listener that fails to start leaves none of its sockets open."""
    try:
        server.start()
    except BaseException:
        server.stop()
        raise
