"""One run handed to pytest as an object: its configuration, its baseline, its collector.

``cimd-conformance run`` builds a :class:`CimdRun` and passes it to
``pytest.main(args, plugins=[run])``; ``pytest --cimd-issuer URL`` builds the same object
from the ``--cimd-*`` options (:func:`conformance.plugin.options.pytest_configure`). Either
way, after pytest returns, :attr:`CimdRun.reports` holds every target's report::

    run = CimdRun(run_config({"issuer": ["https://127.0.0.1:8443"]}))
    pytest.main(["--pyargs", "conformance.scenarios"], plugins=[run])
    exit_code = combined_exit_code(run.reports)
"""

from __future__ import annotations

from collections.abc import Generator

import pytest

from conformance.harness.head_start import has_head_start
from conformance.plugin.collector import ResultCollector
from conformance.report.baseline import Baseline
from conformance.report.model import Report
from conformance.report.paths import label_for
from conformance.run.state import RunConfig
from conformance.run.suite import SuiteRun
from conformance.target.deadline import Unanswered

COLLECTOR_NAME = "cimd-results"


class CimdRun:
    """The pytest plugin object of one run.

    It parametrizes every check over the run's targets, bounds each check by its deadline,
    refuses checks once the run or their target is done, and registers the
    :class:`ResultCollector` that writes the reports.

    Args:
        config: what to run against and how.
        baseline: known failures, applied to every report.
        formats: the report formats to write (all by default).
    """

    def __init__(
        self,
        config: RunConfig,
        baseline: Baseline | None = None,
        formats: tuple[str, ...] | None = None,
    ) -> None:
        self.config = config
        self.collector = ResultCollector(config, baseline, formats)
        self.suite: SuiteRun | None = None

    @property
    def reports(self) -> list[Report]:
        """Every target's report, once the session has finished (else empty)."""
        return self.collector.reports

    def attach(self, suite: SuiteRun) -> None:
        """Use ``suite`` (the ``cimd_suite`` fixture's) for deadlines, early stop and reports."""
        self.suite = suite
        self.collector.suite = suite

    @pytest.hookimpl(tryfirst=True)
    def pytest_configure(self, config: pytest.Config) -> None:
        """Make this the session's run and start collecting results."""
        config.stash[RUN_KEY] = self
        if not config.pluginmanager.is_registered(self.collector):
            config.pluginmanager.register(self.collector, COLLECTOR_NAME)

    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        """Run every check once per target."""
        issuers = list(self.config.issuers)
        if "cimd_issuer" in metafunc.fixturenames and issuers:
            ids = [label_for(i) for i in issuers]
            metafunc.parametrize("cimd_issuer", issuers, indirect=True, scope="session", ids=ids)

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(
        self, session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
    ) -> None:
        """Order the checks and leave out those a targeted issuer is not judged on.

        Each target's checks with a head start go last among its checks (their first parts
        run with the target's first check: :mod:`conformance.harness.head_start`); checks a
        targeted issuer is not judged on (``judge_only``) are left out.
        """
        items[:] = waiting_last(items)
        only = {issuer: set(rows) for issuer, rows in (self.config.judge_only or {}).items()}
        if not only:
            return
        kept, left_out = [], []
        for item in items:
            issuer, mark = _issuer(item), item.get_closest_marker("requirement")
            rows = only.get(issuer or "")
            if rows is not None and mark is not None and mark.args[0] not in rows:
                left_out.append(item)
            else:
                kept.append(item)
        if left_out:
            config.hook.pytest_deselected(items=left_out)
            items[:] = kept

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        """A check does not start once the run deadline fired or its target stopped answering."""
        issuer = _issuer(item)
        if self.suite is not None and issuer is not None:
            self.suite.refuse_check(issuer)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Generator[None, None, None]:
        """Run a check within its deadline.

        When the target did not answer the check, see whether it still answers at all (early
        stop: if not, every remaining check on it is a harness error at once).
        """
        suite, issuer = self.suite, _issuer(item)
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


RUN_KEY = pytest.StashKey[CimdRun]()
"""Where the session keeps its :class:`CimdRun` (absent when no target was named)."""


def requirements_for(items: list[pytest.Item], issuer: str) -> list[str]:
    """The requirements of the checks selected for ``issuer``, in run order."""
    found = []
    for item in items:
        mark = item.get_closest_marker("requirement")
        if mark is not None and _issuer(item) == issuer:
            found.append(str(mark.args[0]))
    return found


def waiting_last(items: list[pytest.Item]) -> list[pytest.Item]:
    """``items`` with each target's head-started checks moved after its other checks.

    Items of one target stay together (pytest groups them by the session-scoped target);
    within each run of one target's items the order is otherwise kept.
    """
    ordered: list[pytest.Item] = []
    block: list[pytest.Item] = []
    waiting: list[pytest.Item] = []
    current: str | None = None
    for item in items:
        if _issuer(item) != current:
            ordered += block + waiting
            block, waiting, current = [], [], _issuer(item)
        (waiting if _waits(item) else block).append(item)
    return ordered + block + waiting


def _waits(item: pytest.Item) -> bool:
    mark = item.get_closest_marker("requirement")
    return mark is not None and has_head_start(str(mark.args[0]))


def _issuer(item: pytest.Item) -> str | None:
    callspec = getattr(item, "callspec", None)
    issuer = callspec.params.get("cimd_issuer") if callspec is not None else None
    return issuer if isinstance(issuer, str) else None
