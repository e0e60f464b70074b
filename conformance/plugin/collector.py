"""The pytest half of reporting: each check's verdict as pytest runs it, the reports at the end.

The collector turns every check's ending into a :class:`CheckResult` (see
:mod:`conformance.plugin.judging`), keeps pytest's own outcome in agreement with it, and at
the end of the session builds one :class:`Report` per target, writes them in every format
(:mod:`conformance.report.writers`) and keeps them in :attr:`ResultCollector.reports` for
whoever ran pytest (the command line takes its exit code from there).
"""

from __future__ import annotations

import platform
import time
from collections.abc import Generator
from datetime import UTC, datetime
from typing import Any

import pytest

from conformance import __version__
from conformance.catalog import requirements
from conformance.catalog.requirements import Tier
from conformance.catalog.verdicts import Observation, Verdict, verdict_for_violation
from conformance.plugin.ahead import RAN_AHEAD_KEY
from conformance.plugin.judging import derived_results, expectation, judge, judge_return
from conformance.plugin.selection import Selection
from conformance.redaction import redact_value, text_redactor
from conformance.report.baseline import Baseline
from conformance.report.model import CheckResult, Report
from conformance.report.paths import ReportPaths
from conformance.report.scrub import redact_console
from conformance.report.writers import console_text, write_run
from conformance.run import interrupts
from conformance.run.state import RunConfig
from conformance.run.suite import SuiteRun

MARK_KEY = pytest.StashKey[int]()
EARLY_FETCHES_KEY = pytest.StashKey[list[Any]]()
"""Fetches a check's first part caused before its turn (:mod:`conformance.harness.head_start`)."""
"""A check's position in the metadata host's fetch log when it started (its evidence)."""

_QUIET = frozenset({Verdict.NON_STRICT, Verdict.ADVISORY, Verdict.INFORMATIONAL})


class ResultCollector:
    """Turns each check's outcome into a verdict and writes one report per target.

    Args:
        config: the run's configuration (targets, profile, strictness, report directory).
        baseline: known failures, applied to every report.
        formats: the report formats to write (names in
            :data:`conformance.report.writers.FORMATS`; all by default).
    """

    def __init__(
        self,
        config: RunConfig,
        baseline: Baseline | None = None,
        formats: tuple[str, ...] | None = None,
    ) -> None:
        self.config = config
        self.baseline = baseline
        self.formats = formats
        self.paths = ReportPaths.of(config.report_dir, config.issuers)
        self.suite: SuiteRun | None = None
        self.selection: Selection | None = None
        self._results: dict[str, list[CheckResult]] = {i: [] for i in config.issuers}
        self._by_item: dict[str, CheckResult] = {}
        self._planted: list[tuple[CheckResult, Any]] = []
        self.reports: list[Report] = []

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        """Give each check a verdict and make pytest's outcome agree with it."""
        report = yield
        marker = item.get_closest_marker("requirement")
        callspec = getattr(item, "callspec", None)
        issuer = callspec.params.get("cimd_issuer") if callspec is not None else None
        if marker is None or not issuer:
            return report
        if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
            result = self._result(item, call, marker.args[0])
            _not_a_pass_once_interrupted(result)
            self._by_item[item.nodeid] = result
            planter = getattr(item, "funcargs", {}).get("cimd_ssrf")
            if planter is not None:
                self._planted.append((result, planter))
            self._results.setdefault(issuer, []).append(result)
        elif (
            report.when == "teardown"
            and report.outcome == "failed"
            and item.nodeid in self._by_item
        ):
            result = self._by_item[item.nodeid]
            result.verdict = Verdict.HARNESS_ERROR.value
            result.observed = (
                f"the harness failed after the check: {call.excinfo and call.excinfo.value}"
            )
        else:
            return report
        verdict = Verdict(self._by_item[item.nodeid].verdict)
        if verdict is Verdict.NOT_APPLICABLE:
            report.outcome = "skipped"
            report.longrepr = (
                str(item.path),
                item.location[1] or 0,
                f"not applicable: {result.observed}",
            )
        elif verdict in _QUIET or verdict is Verdict.PASS:
            report.outcome, report.longrepr = "passed", None
        item.user_properties.append(("verdict", verdict.value))
        return report

    def _result(
        self, item: pytest.Item, call: pytest.CallInfo[None], requirement_id: str
    ) -> CheckResult:
        requirement = requirements.get(requirement_id)
        tier = requirements.tier_for(requirement, self.config.profile)
        result = CheckResult(
            requirement=requirement_id,
            check=getattr(item, "originalname", item.name),
            title=requirement.title,
            tier=tier.value,
            verdict=Verdict.PASS.value,
            expected=expectation(getattr(item, "obj", None)),
            observed="as expected",
            evidence=self._evidence(item),
            duration_s=round(_duration(item, call), 3),
        )
        error = call.excinfo.value if call.excinfo else None
        if error is not None:
            verdict, expected, observed = judge(error, tier, strict=self.config.strict)
            result.verdict, result.observed = verdict.value, observed
            result.expected = expected or result.expected
            if isinstance(error, Observation) and error.values:
                result.evidence["observation"] = redact_value(error.values)
        elif call.when == "call":
            returned, result.observed = judge_return(tier)
            result.verdict = returned.value
        return result

    @staticmethod
    def _evidence(item: pytest.Item) -> dict[str, Any]:
        funcargs: dict[str, Any] = getattr(item, "funcargs", {})
        evidence: dict[str, Any] = {}
        session = funcargs.get("cimd_target")
        if session is not None:
            evidence["attempts"] = list(session.attempts)
            evidence["exchanges"] = list(session.exchanges)
            if session.waits:
                evidence["waits"] = list(session.waits)
            if session.signed_in_again:
                evidence["signed_in_again"] = list(session.signed_in_again)
            if session.approved_again:
                evidence["approved_again"] = list(session.approved_again)
        host = funcargs.get("cimd_metadata_host")
        ran = item.stash.get(RAN_AHEAD_KEY, None)
        if host is not None and ran is not None:
            evidence["fetches"] = [f.summary() for f in ran.fetches]
        elif host is not None and MARK_KEY in item.stash:
            early = item.stash.get(EARLY_FETCHES_KEY, [])
            fetches = [*early, *host.unclaimed(host.fetches_since(item.stash[MARK_KEY]))]
            evidence["fetches"] = [f.summary() for f in fetches]
        if ran is not None:
            evidence["ran_ahead"] = True
        planter = funcargs.get("cimd_ssrf")
        if planter is not None:
            evidence["canaries"] = planter.evidence()
        journey = funcargs.get("cimd_mcp_journey")
        if journey is not None:
            evidence["mcp_journey"] = journey.evidence()
        # a check's evidence repeats its texts (header names, hosts): each is redacted once
        return dict(redact_value(evidence, text_redactor()))

    def _late_canary_connections(self) -> None:
        """Fail passed checks whose canaries saw a connection after the check ended.

        The run's canaries stop only after their settle time (when the network fixture is
        torn down, before this hook), so every late connection has been recorded by now.
        """
        for result, planter in self._planted:
            canaries = result.evidence.get("canaries", {})
            seen = len(canaries.get("canary_connections", [])) + len(
                canaries.get("stray_attempts", [])
            )
            late = planter.late_violation(seen)
            result.evidence["canaries"] = planter.evidence()
            if late is not None and result.verdict == Verdict.PASS.value:
                strict = self.config.strict
                result.verdict = verdict_for_violation(Tier(result.tier), strict=strict).value
                result.expected = late.expected
                result.observed = "after the check ended, " + late.observed

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        """Redact known secrets in everything pytest prints."""
        redact_console(session.config)

    @pytest.hookimpl(tryfirst=True)
    def pytest_keyboard_interrupt(self, excinfo: pytest.ExceptionInfo[BaseException]) -> None:
        """Keep only the innermost frame of pytest's report of the interrupt.

        pytest renders the source of every frame it keeps (the browser driver's files are
        huge), which would delay the stop by seconds.
        """
        shown = excinfo.traceback.filter(lambda entry: not entry.ishidden(excinfo))
        if len(shown):
            excinfo.traceback = shown[-1:]

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        """Build every target's report, write it in every format, and keep it.

        A run stopped by a signal (or Ctrl-C) is marked ``interrupted`` in every report:
        the checks it never reached have no result, and it is never a verdict.
        """
        if session.config.getoption("collectonly", False):
            return  # nothing was judged: no report
        self._late_canary_connections()
        stopped = interrupts.received() is not None or exitstatus == pytest.ExitCode.INTERRUPTED
        for issuer, results in self._results.items():
            report = self._report(issuer, results)
            if stopped:
                report.interrupted = interrupts.record(len(results))
            self.reports.append(report)
        write_run(self.reports, self.paths, self.formats)

    def _report(self, issuer: str, results: list[CheckResult]) -> Report:
        suite = self.suite
        run = suite.targets.get(issuer) if suite is not None else None
        preflight = (
            dict(run.preflight)
            if run is not None
            else {"error": "the run never reached this target"}
        )
        report = Report(
            issuer=issuer,
            profile=self.config.profile,
            strict=self.config.strict,
            tool_version=__version__,
            started=suite.started if suite is not None else "",
            finished=datetime.now(UTC).isoformat(timespec="seconds"),
            environment=environment(suite),
            mode=suite.network.mode if suite is not None else "loopback",
            preflight=preflight,
            results=sorted(
                [
                    *results,
                    *derived_results(results, self.config.profile, strict=self.config.strict),
                ],
                key=lambda r: r.requirement,
            ),
        )
        if self.selection is not None:
            report.selection = self.selection.record(issuer)
            if self.selection.error and not results:
                report.preflight = {"error": self.selection.error}
        if self.baseline is not None:
            report.apply_baseline(self.baseline)
        return report

    def result_for(self, nodeid: str) -> CheckResult | None:
        """The result of the check ``nodeid``, once its verdict is known."""
        return self._by_item.get(nodeid)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        """Print the console summary of every target."""
        for report in self.reports:
            terminalreporter.write_line("")
            for line in console_text(report, self.formats).splitlines():
                terminalreporter.write_line(line)


def _duration(item: pytest.Item, call: pytest.CallInfo[None]) -> float:
    """How long the check took: ahead of its turn, or in it."""
    ran = item.stash.get(RAN_AHEAD_KEY, None)
    return ran.duration_s if ran is not None and call.when == "call" else call.duration


def _not_a_pass_once_interrupted(result: CheckResult) -> None:
    """A check that ended after the signal came may have been cut short: not a pass."""
    name = interrupts.received()
    if name is not None and result.verdict == Verdict.PASS.value:
        result.verdict = Verdict.HARNESS_ERROR.value
        result.observed = f"the run was interrupted ({name}) while this check ran"


def environment(suite: SuiteRun | None) -> dict[str, Any]:
    """What the run ran on, for the report."""
    env: dict[str, Any] = {"python": platform.python_version(), "platform": platform.platform()}
    if suite is not None:
        env["metadata_host"] = suite.metadata_host.base_url
        env["network"] = suite.network.describe()["meaning"]
        env["browser"] = suite.browser_version()
        if suite.config.target_version:
            env["target_version"] = suite.config.target_version
    env["time"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return env
