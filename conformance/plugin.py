"""The pytest plugin: options, fixtures and result collection for CIMD checks.

It is registered through the ``pytest11`` entry point and stays inert in any pytest run that
does not pass ``--cimd-issuer``: it then only adds its options, its marker and its fixtures.
``cimd-conformance run`` is a thin wrapper that runs ``conformance.scenarios`` with it.
"""

from __future__ import annotations

import json
import platform
import time
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

from conformance import requirements
from conformance.deadline import Limits, Unanswered
from conformance.harness import TargetSession
from conformance.network import Planter
from conformance.pacing import Pacing
from conformance.report.collect import ResultCollector
from conformance.run import BrowserFlow, RunConfig, SuiteRun, TargetRun, label_for
from conformance.target import Target
from mock_servers.callback import CallbackListener
from mock_servers.metadata_host import BAD_TLS_FIELDS, MetadataHost, PublicUrls

SUITE_KEY = pytest.StashKey[SuiteRun]()
MARK_KEY = pytest.StashKey[int]()


def pytest_addoption(parser: pytest.Parser) -> None:
    """Add the ``--cimd-*`` options."""
    group = parser.getgroup("cimd", "CIMD conformance (cimd-conformance)")
    group.addoption(
        "--cimd-issuer", action="append", default=[], help="issuer URL of a target (repeatable)"
    )
    group.addoption("--cimd-report-dir", default="reports/latest", help="where reports are written")
    group.addoption("--cimd-profile", default="latest", choices=requirements.PROFILES)
    group.addoption("--cimd-strict", action="store_true", help="Recommended rows fail the run")
    group.addoption("--cimd-user", default="alice", help="the test user's login name")
    group.addoption(
        "--cimd-password", default="wonderland-test-only", help="the test user's password"
    )
    group.addoption("--cimd-browser", default=None, help="path of the Chromium to drive")
    group.addoption("--cimd-state-dir", default=None, help="where the test CA is kept")
    group.addoption("--cimd-baseline", default=None, help="TOML file of known failures")
    group.addoption(
        "--cimd-login", action="append", default=[], help="login recipe selector key=value"
    )
    group.addoption(
        "--cimd-param", action="append", default=[], help="extra authorization parameter k=v"
    )
    group.addoption(
        "--cimd-pacing", action="append", default=[], help="pacing key=value (target file keys)"
    )
    group.addoption("--cimd-metadata-bind", default=None, help="address the metadata host binds")
    group.addoption("--cimd-metadata-port", type=int, default=0, help="its TLS listener's port")
    group.addoption(
        "--cimd-metadata-public-url",
        default=None,
        help="base URL the target reaches the metadata host at (a tunnel)",
    )
    group.addoption("--cimd-metadata-plain-public-url", default=None)
    group.addoption(
        "--cimd-mcp-discovery",
        default=None,
        help="JSON: how the issuer was found from an MCP server",
    )
    group.addoption("--cimd-metadata-untrusted-public-url", default=None)
    limits = Limits()
    for name, default, what in (
        ("exchange", limits.exchange_s, "one request and its whole answer"),
        ("check", limits.check_s, "one check"),
        ("run", limits.run_s, "the whole run"),
    ):
        group.addoption(
            f"--cimd-{name}-timeout",
            type=float,
            default=default,
            help=f"seconds {what} may take in all (default {default:g})",
        )
    group.addoption(
        "--cimd-metadata-plain-port", type=int, default=0, help="the plain-HTTP listener's port"
    )
    group.addoption(
        "--cimd-metadata-untrusted-port",
        type=int,
        default=0,
        help="the untrusted-CA listener's port",
    )
    group.addoption(
        "--cimd-target-ca", default=None, help="CA certificate(s) of the target's own TLS (PEM)"
    )
    for kind in BAD_TLS_FIELDS:  # listeners with a bad certificate, for a tunnel
        name = kind.replace("_", "-")
        group.addoption(f"--cimd-metadata-{name}-port", type=int, default=0)
        group.addoption(f"--cimd-metadata-{name}-public-url", default=None)


def pytest_configure(config: pytest.Config) -> None:
    """Register the marker; collect results only when a target was named."""
    config.addinivalue_line("markers", "requirement(id): the catalog requirement a check verifies")
    if config.getoption("cimd_issuer"):
        config.pluginmanager.register(ResultCollector(config, SUITE_KEY), "cimd-results")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run every check once per target."""
    issuers = metafunc.config.getoption("cimd_issuer")
    if "cimd_issuer" in metafunc.fixturenames and issuers:
        ids = [label_for(i) for i in issuers]
        metafunc.parametrize("cimd_issuer", issuers, indirect=True, scope="session", ids=ids)


def run_config(config: pytest.Config) -> RunConfig:
    """The run's configuration from the ``--cimd-*`` options."""
    state = config.getoption("cimd_state_dir")
    target_ca = config.getoption("cimd_target_ca")
    return RunConfig(
        issuers=tuple(config.getoption("cimd_issuer")),
        report_dir=Path(config.getoption("cimd_report_dir")),
        profile=config.getoption("cimd_profile"),
        strict=config.getoption("cimd_strict"),
        username=config.getoption("cimd_user"),
        password=config.getoption("cimd_password"),
        browser=config.getoption("cimd_browser"),
        state_dir=Path(state) if state else None,
        extra_params=_pairs(config, "cimd_param"),
        login=_pairs(config, "cimd_login"),
        metadata_bind=config.getoption("cimd_metadata_bind"),
        metadata_port=config.getoption("cimd_metadata_port"),
        metadata_plain_port=config.getoption("cimd_metadata_plain_port"),
        metadata_untrusted_port=config.getoption("cimd_metadata_untrusted_port"),
        metadata_bad_tls_ports=tuple(
            (f"{k}_port", config.getoption(f"cimd_metadata_{k}_port")) for k in BAD_TLS_FIELDS
        ),
        target_ca=Path(target_ca) if target_ca else None,
        public=_public_urls(config),
        mcp=json.loads(config.getoption("cimd_mcp_discovery") or "null"),
        pacing=_pacing(config),
        limits=Limits(
            exchange_s=config.getoption("cimd_exchange_timeout"),
            check_s=config.getoption("cimd_check_timeout"),
            run_s=config.getoption("cimd_run_timeout"),
        ),
    )


def _public_urls(config: pytest.Config) -> PublicUrls | None:
    tls = config.getoption("cimd_metadata_public_url")
    if not tls:
        return None
    return PublicUrls(
        tls,
        config.getoption("cimd_metadata_plain_public_url"),
        config.getoption("cimd_metadata_untrusted_public_url"),
        **{k: config.getoption(f"cimd_metadata_{k}_public_url") for k in BAD_TLS_FIELDS},
    )


def _pacing(config: pytest.Config) -> Pacing:
    try:
        return Pacing.parse(_pairs(config, "cimd_pacing"))
    except ValueError as exc:
        raise pytest.UsageError(f"--cimd-pacing: {exc}") from exc


def _pairs(config: pytest.Config, option: str) -> tuple[tuple[str, str], ...]:
    pairs = []
    for item in config.getoption(option):
        key, sep, value = item.partition("=")
        if not sep:
            flag = "--" + option.replace("_", "-")
            raise pytest.UsageError(f"{flag} takes key=value, got {item!r}")
        pairs.append((key, value))
    return tuple(pairs)


def _suite_and_issuer(item: pytest.Item) -> tuple[SuiteRun | None, str | None]:
    callspec = getattr(item, "callspec", None)
    issuer = callspec.params.get("cimd_issuer") if callspec is not None else None
    return item.config.stash.get(SUITE_KEY, None), issuer


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """A check does not start once the run deadline fired or its target stopped answering."""
    suite, issuer = _suite_and_issuer(item)
    if suite is not None and issuer is not None:
        suite.refuse_check(issuer)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    """Run a check within its deadline.

    When the target did not answer the check, see whether it still answers at all (early
    stop: if not, every remaining check on it is a harness error at once).
    """
    suite, issuer = _suite_and_issuer(item)
    if suite is None or issuer is None:
        return (yield)
    suite.clock.start_check()
    try:
        return (yield)
    except Unanswered as exc:
        suite.clock.end_check()  # the control gets its own exchange deadline, not the check's
        suite.after_unanswered(issuer, exc)
        raise
    finally:
        suite.clock.end_check()


@pytest.fixture(scope="session")
def cimd_suite(pytestconfig: pytest.Config) -> Iterator[SuiteRun]:
    """The run's shared mock servers and browser."""
    suite = SuiteRun(run_config(pytestconfig))
    try:
        suite.start()
    except BaseException:  # a part that did not start: stop the parts that did
        suite.stop()
        raise
    pytestconfig.stash[SUITE_KEY] = suite
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
def cimd_target_run(cimd_suite: SuiteRun, cimd_issuer: str) -> TargetRun:
    """The prepared target (discovery and login happen once per target)."""
    return cimd_suite.target_run(cimd_issuer)


@pytest.fixture
def cimd_metadata(cimd_target_run: TargetRun) -> Target:
    """The discovered target: issuer, metadata, and the discovery probes."""
    return cimd_target_run.require_target()


@pytest.fixture
def cimd_target(cimd_target_run: TargetRun) -> TargetSession:
    """The logged-in HTTP session with the target; its exchange log starts empty."""
    session = cimd_target_run.require_session()
    session.exchanges.clear()
    session.attempts.clear()
    session.control = None  # each check's refusals get their own control
    return session


@pytest.fixture
def cimd_metadata_host(
    cimd_suite: SuiteRun, request: pytest.FixtureRequest
) -> Iterator[MetadataHost]:
    """The metadata host; its fetch log is the check's evidence, and its crashes fail it."""
    host = cimd_suite.metadata_host
    request.node.stash[MARK_KEY] = host.mark()
    yield host
    host.raise_crash()


@pytest.fixture
def cimd_callback(cimd_suite: SuiteRun) -> CallbackListener:
    """The loopback listener that receives authorization responses."""
    return cimd_suite.callback


@pytest.fixture
def cimd_callback_ipv6(cimd_suite: SuiteRun) -> CallbackListener | None:
    """The callback listener on the IPv6 loopback ``[::1]``, or None where there is none."""
    return cimd_suite.callback_ipv6


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


def environment(suite: SuiteRun | None) -> dict[str, Any]:
    """What the run ran on, for the report."""
    env: dict[str, Any] = {"python": platform.python_version(), "platform": platform.platform()}
    if suite is not None:
        env["metadata_host"] = suite.metadata_host.base_url
        env["network"] = suite.network.describe()["meaning"]
        env["browser"] = suite.browser_version()
    env["time"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return env
