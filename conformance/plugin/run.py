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

from conformance.browser.driver import Browser
from conformance.harness.head_start import has_head_start
from conformance.plugin import ahead
from conformance.plugin.collector import ResultCollector
from conformance.plugin.progress import Progress
from conformance.plugin.selection import Selection, issuer_of
from conformance.report.baseline import Baseline
from conformance.report.model import Report
from conformance.report.paths import label_for
from conformance.run.state import RunConfig
from conformance.run.suite import SuiteRun
from conformance.target.deadline import Unanswered

COLLECTOR_NAME = "cimd-results"
PROGRESS_NAME = "cimd-progress"


class CimdRun:
    """The pytest plugin object of one run.

    It parametrizes every check over the run's targets, bounds each check by its deadline,
    refuses checks once the run or their target is done, and registers the
    :class:`ResultCollector` that writes the reports.

    Args:
        config: what to run against and how.
        baseline: known failures, applied to every report.
        formats: the report formats to write (all by default).
        progress: the progress display of a long run (the command line's), if any.
        started_browser: a browser the command line started while the suite loaded; the
            ``cimd_chromium`` fixture uses it when it suits the run, else stops it.
    """

    def __init__(
        self,
        config: RunConfig,
        baseline: Baseline | None = None,
        formats: tuple[str, ...] | None = None,
        progress: Progress | None = None,
        started_browser: Browser | None = None,
    ) -> None:
        self.config = config
        self.started_browser = started_browser
        self.collector = ResultCollector(config, baseline, formats)
        self.suite: SuiteRun | None = None
        self.selection = Selection(config.only, dict(config.judge_only or {}))
        self.collector.selection = self.selection
        self.progress = progress

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
        if self.progress is not None and not config.pluginmanager.is_registered(self.progress):
            self.progress.collector = self.collector
            config.pluginmanager.register(self.progress, PROGRESS_NAME)

    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        """Run every check once per target."""
        issuers = list(self.config.issuers)
        if "cimd_issuer" in metafunc.fixturenames and issuers:
            ids = [label_for(i) for i in issuers]
            metafunc.parametrize("cimd_issuer", issuers, indirect=True, scope="session", ids=ids)

    @pytest.hookimpl(wrapper=True)
    def pytest_collection_modifyitems(
        self, session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
    ) -> Generator[None, None, None]:
        """Keep the selected checks: ``--only``, ``judge_only`` (a targeted matrix), ``-k``.

        pytest's own ``-k`` and ``-m`` deselect inside; ``--only`` and ``judge_only`` after.
        A selection that keeps no check is a usage error (never "no tests ran" passing).
        Each target's checks with a head start go last among its checks (their first parts
        run with the target's first check: :mod:`conformance.harness.head_start`).
        """
        chosen = self.selection
        chosen.keyword = str(config.getoption("keyword", "") or "")
        chosen.markexpr = str(config.getoption("markexpr", "") or "")
        for item in items:
            issuer = issuer_of(item) or ""
            chosen.collected[issuer] = chosen.collected.get(issuer, 0) + 1
        unmatched = chosen.unmatched_only(items)
        result = yield
        left_out = chosen.apply(items)
        if left_out:
            config.hook.pytest_deselected(items=left_out)
        items[:] = waiting_last(items)
        chosen.kept = list(items)
        if unmatched or (chosen.collected and not items):
            chosen.error = (
                f"--only {unmatched[0]} matches no check; see the checks with --list. Fix --only."
                if unmatched
                else chosen.empty_error()
            )
            raise pytest.UsageError(chosen.error)
        return result

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        """A check does not start once the run deadline fired or its target stopped answering."""
        issuer = issuer_of(item)
        if self.suite is not None and issuer is not None:
            self.suite.refuse_check(issuer)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Generator[None, None, None]:
        """Run a check within its deadline.

        When the target did not answer the check, see whether it still answers at all (early
        stop: if not, every remaining check on it is a harness error at once).
        """
        suite, issuer = self.suite, issuer_of(item)
        if suite is None or issuer is None:
            return (yield)
        suite.clock.start_check()
        try:
            with ahead.alone(item, suite):
                return (yield)
        except Unanswered as exc:
            suite.clock.end_check()  # the control gets its own exchange deadline, not the check's
            suite.after_unanswered(issuer, exc)
            raise
        finally:
            suite.clock.end_check()

    @pytest.hookimpl(tryfirst=True)
    def pytest_pyfunc_call(self, pyfuncitem: pytest.Function) -> bool | None:
        """A check that ran ahead of its turn is not run again: its outcome is taken."""
        return True if ahead.at_turn(pyfuncitem, self.suite) else None


RUN_KEY = pytest.StashKey[CimdRun]()
"""Where the session keeps its :class:`CimdRun` (absent when no target was named)."""


def requirements_for(items: list[pytest.Item], issuer: str) -> list[str]:
    """The requirements of the checks selected for ``issuer``, in run order."""
    found = []
    for item in items:
        mark = item.get_closest_marker("requirement")
        if mark is not None and issuer_of(item) == issuer:
            found.append(str(mark.args[0]))
    return found


def waiting_last(items: list[pytest.Item]) -> list[pytest.Item]:
    """``items``, each target's checks with SSRF canaries first and head-started ones last.

    A canary keeps listening for a while after its check (a late connection still fails
    it), and the run's end waits for the last one: the target's other checks run meanwhile.
    The checks that may run ahead of their turn (:mod:`.ahead`) come after the others, so
    that the worker runs them while the others (the browser's) run. Items of one target stay
    together (pytest groups them by the session-scoped target); within each run of one
    target's items the order is otherwise kept.
    """
    ordered: list[pytest.Item] = []
    planted: list[pytest.Item] = []
    block: list[pytest.Item] = []
    later: list[pytest.Item] = []
    waiting: list[pytest.Item] = []
    current: str | None = None
    for item in items:
        if issuer_of(item) != current:
            ordered += planted + block + later + waiting
            planted, block, later, waiting, current = [], [], [], [], issuer_of(item)
        if _waits(item):
            waiting.append(item)
        elif "cimd_ssrf" in getattr(item, "fixturenames", ()):
            planted.append(item)
        elif ahead.may_run_ahead(item):
            later.append(item)
        else:
            block.append(item)
    return ordered + planted + block + later + waiting


def _waits(item: pytest.Item) -> bool:
    mark = item.get_closest_marker("requirement")
    return mark is not None and has_head_start(str(mark.args[0]))
