"""Collecting check results during a pytest run and writing the reports at its end."""

from __future__ import annotations

import inspect
import json
from collections.abc import Generator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from conformance import __version__
from conformance.catalog import coverage, requirements
from conformance.catalog.requirements import Tier
from conformance.catalog.verdicts import (
    HarnessError,
    NonConformance,
    NotApplicable,
    Verdict,
    verdict_for_violation,
    weaker,
)
from conformance.redaction import redact_value
from conformance.report import baseline, console, html, junit
from conformance.report.model import CheckResult, Report
from conformance.report.scrub import redact_console, redact_output, scrub
from conformance.run import interrupts
from conformance.run.state import label_for
from conformance.run.suite import SuiteRun

_QUIET = frozenset({Verdict.NON_STRICT, Verdict.ADVISORY, Verdict.INFORMATIONAL})


def expectation(item: pytest.Item) -> str:
    """The ``Expects:`` paragraph of a check's docstring."""
    doc = inspect.getdoc(getattr(item, "obj", None)) or ""
    _, _, expects = doc.partition("Expects:")
    return " ".join(expects.split()) or " ".join(doc.split())


def judge(error: BaseException, tier: Tier, *, strict: bool) -> tuple[Verdict, str, str]:
    """The verdict, expectation ("" to keep the docstring's) and observation for an error.

    A plain ``assert`` in a check is a violation like :class:`NonConformance`: its message is
    what was observed. Any other exception that is not a verdict is the harness's trouble.
    """
    if isinstance(error, NonConformance):
        verdict = verdict_for_violation(weaker(tier, error.tier), strict=strict)
        return verdict, error.expected, error.observed
    if isinstance(error, AssertionError):
        observed = str(error) or "an assertion in the check failed (it gave no message)"
        return verdict_for_violation(tier, strict=strict), "", observed
    if isinstance(error, NotApplicable):
        return Verdict.NOT_APPLICABLE, "", str(error)
    if isinstance(error, HarnessError):
        return Verdict.HARNESS_ERROR, "", str(error)
    return Verdict.HARNESS_ERROR, "", f"the harness failed: {type(error).__name__}: {error}"


class ResultCollector:
    """Turns each check's outcome into a verdict and writes one report per target."""

    def __init__(self, config: pytest.Config, suite_key: pytest.StashKey[SuiteRun]) -> None:
        self._config = config
        self._suite_key = suite_key
        self._results: dict[str, list[CheckResult]] = {
            i: [] for i in config.getoption("cimd_issuer")
        }
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
        tier = requirements.tier_for(requirement, self._config.getoption("cimd_profile"))
        result = CheckResult(
            requirement=requirement_id,
            check=getattr(item, "originalname", item.name),
            title=requirement.title,
            tier=tier.value,
            verdict=Verdict.PASS.value,
            expected=expectation(item),
            observed="as expected",
            evidence=self._evidence(item),
            duration_s=round(call.duration, 3),
        )
        error = call.excinfo.value if call.excinfo else None
        if error is not None:
            strict = self._config.getoption("cimd_strict")
            verdict, expected, observed = judge(error, tier, strict=strict)
            result.verdict, result.observed = verdict.value, observed
            result.expected = expected or result.expected
        return result

    @staticmethod
    def _evidence(item: pytest.Item) -> dict[str, Any]:
        from conformance.plugin import MARK_KEY  # the plugin imports this module first

        funcargs: dict[str, Any] = getattr(item, "funcargs", {})
        evidence: dict[str, Any] = {}
        session = funcargs.get("cimd_target")
        if session is not None:
            evidence["attempts"] = list(session.attempts)
            evidence["exchanges"] = list(session.exchanges)
        host = funcargs.get("cimd_metadata_host")
        if host is not None and MARK_KEY in item.stash:
            evidence["fetches"] = [f.summary() for f in host.fetches_since(item.stash[MARK_KEY])]
        planter = funcargs.get("cimd_ssrf")
        if planter is not None:
            evidence["canaries"] = planter.evidence()
        return dict(redact_value(evidence))

    def _late_canary_connections(self) -> None:
        """Fail passed checks whose canaries saw a connection after the check ended.

        The run's canaries stop only after their settle time (when the suite stops, before
        this hook), so every late connection has been recorded by now.
        """
        strict = self._config.getoption("cimd_strict")
        for result, planter in self._planted:
            canaries = result.evidence.get("canaries", {})
            seen = len(canaries.get("canary_connections", [])) + len(
                canaries.get("stray_attempts", [])
            )
            late = planter.late_violation(seen)
            result.evidence["canaries"] = planter.evidence()
            if late is not None and result.verdict == Verdict.PASS.value:
                result.verdict = verdict_for_violation(Tier(result.tier), strict=strict).value
                result.expected = late.expected
                result.observed = "after the check ended, " + late.observed

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        """Redact known secrets in everything pytest prints."""
        redact_console(self._config)

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
        """Write report.json and junit.xml for every target.

        A run stopped by a signal (or Ctrl-C) is marked ``interrupted`` in every report:
        the checks it never reached have no result, and it is never a verdict.
        """
        self._late_canary_connections()
        suite = self._config.stash.get(self._suite_key, None)
        report_dir = Path(self._config.getoption("cimd_report_dir"))
        stopped = interrupts.received() is not None or exitstatus == pytest.ExitCode.INTERRUPTED
        for issuer, results in self._results.items():
            report = self._report(issuer, results, suite)
            if stopped:
                report.interrupted = interrupts.record(len(results))
            self.reports.append(report)
            directory = report_dir / label_for(issuer) if len(self._results) > 1 else report_dir
            write(report, directory)
        if len(self._results) > 1:
            index = {
                label_for(r.issuer): {"issuer": r.issuer, "exit_code": r.exit_code()}
                for r in self.reports
            }
            (report_dir / "index.json").write_text(json.dumps(index, indent=2) + "\n", "utf-8")

    def _report(self, issuer: str, results: list[CheckResult], suite: SuiteRun | None) -> Report:
        from conformance.plugin import environment

        run = suite.targets.get(issuer) if suite is not None else None
        preflight = (
            dict(run.preflight)
            if run is not None
            else {"error": "the run never reached this target"}
        )
        report = Report(
            issuer=issuer,
            profile=self._config.getoption("cimd_profile"),
            strict=self._config.getoption("cimd_strict"),
            tool_version=__version__,
            started=suite.started if suite is not None else "",
            finished=datetime.now(UTC).isoformat(timespec="seconds"),
            environment=environment(suite),
            mode=suite.network.mode if suite is not None else "loopback",
            preflight=preflight,
            results=sorted(results, key=lambda r: r.requirement),
        )
        baseline_file = self._config.getoption("cimd_baseline")
        if baseline_file:
            report.apply_baseline(baseline.load(Path(baseline_file)))
        return report

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        """Print the console summary of every target."""
        for report in self.reports:
            terminalreporter.write_line("")
            for line in console.render(report).splitlines():
                terminalreporter.write_line(line)


def _not_a_pass_once_interrupted(result: CheckResult) -> None:
    """A check that ended after the signal came may have been cut short: not a pass."""
    name = interrupts.received()
    if name is not None and result.verdict == Verdict.PASS.value:
        result.verdict = Verdict.HARNESS_ERROR.value
        result.observed = f"the run was interrupted ({name}) while this check ran"


def write(report: Report, directory: Path) -> None:
    """Write ``report.json``, ``junit.xml`` and ``report.html`` into ``directory``.

    The report's scope (its ``coverage`` block) is computed here when missing, so every
    report states which rows its verdict rests on, including one that judged nothing.
    """
    if not report.coverage:
        verdicts = ((r.requirement, r.verdict) for r in report.results)
        report.coverage = coverage.summarize(verdicts, report.profile)
    scrub(report)
    directory.mkdir(parents=True, exist_ok=True)
    text = json.dumps(report.to_json(), indent=2) + "\n"
    (directory / "report.json").write_text(redact_output(text), "utf-8")
    xml = junit.render([report]).decode("utf-8")
    (directory / "junit.xml").write_bytes(redact_output(xml).encode("utf-8"))
    (directory / "report.html").write_text(redact_output(html.render(report, directory)), "utf-8")
