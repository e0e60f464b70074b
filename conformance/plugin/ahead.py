"""Which checks run ahead of their turn, their bodies as jobs, and their outcomes at their turn.

See :mod:`conformance.harness.ahead`. One of the suite's own checks
(``conformance.scenarios``; a project's checks run in their turn) runs ahead when all it
uses is the target's plain-HTTP session, the metadata host and the discovered metadata, as
the plugin provides them (a fixture a project overrides, an autouse fixture, or another
parameter keeps the check in its turn), it has no head start of its own, and it is not
marked ``serial``: the checks that judge timing or load (how long the target waits, how it
answers a burst) run alone, as do all of a run given ``--serial`` or a pace between
requests.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any

import pytest

from conformance.harness.ahead import Job, RanAhead, RunAhead
from conformance.harness.head_start import has_head_start
from conformance.harness.session import TargetSession
from conformance.plugin.selection import issuer_of
from conformance.run import preflight
from conformance.run.state import TargetRun
from conformance.run.suite import SuiteRun
from mock_servers.metadata_host import MetadataHost

SESSION_FIXTURES = frozenset({"cimd_target", "cimd_target_session"})
AHEAD_FIXTURES = SESSION_FIXTURES | {
    "cimd_metadata_host",
    "cimd_metadata",
    "cimd_discovery",
    "cimd_issuer",
}
_OWN_MODULES = ("conformance.plugin.",)
_OWN_CHECKS = ("conformance.scenarios.",)
RAN_AHEAD_KEY = pytest.StashKey[RanAhead]()
"""A check's outcome from ahead of its turn, once taken at its turn."""

SERIAL_MARKER = "serial(why): the check runs in its turn, alone (it judges timing or load)"


def may_run_ahead(item: pytest.Item) -> bool:
    """Whether ``item`` is a check that may run ahead of its turn (see the module)."""
    requirement = item.get_closest_marker("requirement")
    if requirement is None or item.get_closest_marker("serial") is not None:
        return False
    if has_head_start(str(requirement.args[0])) or not isinstance(item, pytest.Function):
        return False
    if not getattr(item.module, "__name__", "").startswith(_OWN_CHECKS):
        return False  # a project's own check runs in its turn, in the thread it expects
    callspec = getattr(item, "callspec", None)
    if callspec is not None and set(callspec.params) - {"cimd_issuer"}:
        return False
    info = getattr(item, "_fixtureinfo", None)
    names = getattr(info, "initialnames", None)
    definitions = getattr(info, "name2fixturedefs", None)
    if names is None or definitions is None or not set(names) <= AHEAD_FIXTURES:
        return False
    for name in names:
        defined = definitions.get(name)
        module = getattr(defined[-1].func, "__module__", "") if defined else ""
        if not module.startswith(_OWN_MODULES):
            return False  # a project's own fixture: its value is the project's to make
    return True


def begin(
    suite: SuiteRun, run: TargetRun, host: MetadataHost, items: Sequence[pytest.Item]
) -> None:
    """Start ``run``'s worker on its checks among ``items`` that may run ahead (once).

    Not with ``--serial``, nor for a paced target (its requests take turns anyway).
    """
    if run.ahead is not None or run.session is None:
        return
    run.ahead = RunAhead(
        run.session,
        host,
        lambda session: preflight.control(suite, session),
        lambda: _may_start(suite, run),
    )
    if suite.config.serial or suite.config.pacing.min_interval_s > 0:
        return
    jobs = [
        (item.nodeid, _job(item, run, host))
        for item in items
        if issuer_of(item) == run.issuer and may_run_ahead(item)
    ]
    run.ahead.begin(jobs)


def at_turn(item: pytest.Item, suite: SuiteRun | None) -> bool:
    """At ``item``'s turn: hand over its outcome from ahead (True), or let it run (False).

    Raises:
        Exception: what the check raised ahead of its turn.
    """
    issuer = issuer_of(item)
    run = suite.targets.get(issuer) if suite is not None and issuer is not None else None
    if run is None or run.ahead is None or not run.ahead.has(item.nodeid):
        return False
    ran = run.ahead.take(item.nodeid)
    if ran is None:
        return False
    item.stash[RAN_AHEAD_KEY] = ran
    funcargs: dict[str, Any] = getattr(item, "funcargs", {})
    session = next((funcargs[n] for n in SESSION_FIXTURES if n in funcargs), None)
    ran.hand_over(session)
    return True


def alone(item: pytest.Item, suite: SuiteRun | None) -> contextlib.AbstractContextManager[None]:
    """While a ``serial`` check runs, its target's worker runs none (else: nothing)."""
    issuer = issuer_of(item)
    run = suite.targets.get(issuer) if suite is not None and issuer is not None else None
    if run is None or run.ahead is None or item.get_closest_marker("serial") is None:
        return contextlib.nullcontext()
    return run.ahead.alone()


def _may_start(suite: SuiteRun, run: TargetRun) -> bool:
    return not run.gone and not (suite.clock.run is not None and suite.clock.run.expired)


def _job(item: pytest.Item, run: TargetRun, host: MetadataHost) -> Job:
    names = list(getattr(item, "_fixtureinfo").argnames)  # noqa: B009 - checked in may_run_ahead
    function = getattr(item, "obj")  # noqa: B009

    def job(session: TargetSession) -> Any:
        values = {
            "cimd_target": session,
            "cimd_target_session": session,
            "cimd_metadata_host": host,
            "cimd_issuer": run.issuer,
        }
        if {"cimd_metadata", "cimd_discovery"} & set(names):
            values["cimd_metadata"] = values["cimd_discovery"] = run.require_target()
        return function(**{name: values[name] for name in names})

    return job
