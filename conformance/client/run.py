"""One client run: every scenario, every check, one report.

The report is the ``run`` command's (:class:`~conformance.report.model.Report`, written in
every format by :func:`~conformance.report.writers.write`): its ``issuer`` names the client
command, its results are the MCP-CLI rows, its ``coverage`` counts the client rows of
catalog §3.2 and its ``preflight`` holds each scenario's run (exit code, output, requests
the client made), redacted when written.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from conformance import __version__
from conformance.catalog import requirements
from conformance.catalog.coverage import summarize
from conformance.catalog.requirements import Tier
from conformance.catalog.verdicts import (
    NonConformance,
    NotApplicable,
    Observation,
    Verdict,
    verdict_for_violation,
    weaker,
)
from conformance.client.checks import CHECKS, Runs
from conformance.client.scenarios import SCENARIOS, Scenario, ScenarioRun, run_command, world
from conformance.report.baseline import Baseline
from conformance.report.model import CheckResult, Report
from conformance.report.scrub import redact_output

SCORED_TIERS = (Tier.REQUIRED, Tier.RECOMMENDED)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def score(
    command: str,
    *,
    profile: str = "latest",
    strict: bool = False,
    state_dir: Path | None = None,
    timeout_s: float = 60.0,
    scenarios: Sequence[Scenario] = SCENARIOS,
    baseline: Baseline | None = None,
) -> Report:
    """Run ``command`` in every scenario and judge the MCP-CLI rows; the report."""
    report = Report(
        f"client: {command}", profile, strict, __version__, started=_now(), mode="client"
    )
    with world(state_dir, scenarios) as found:
        for run in found.runs.values():
            run_command(command, found, run, timeout_s)
        report.results = judge(found.runs, profile, strict)
        unrunnable = _unrunnable(found.runs["clean"]) if "clean" in found.runs else ""
        if unrunnable:  # the command, not the client: nothing was judged
            for result in report.results:
                result.verdict, result.observed = Verdict.HARNESS_ERROR.value, unrunnable
                result.expected, result.evidence = "", {}
        report.preflight = {"scenarios": [_scenario(run) for run in found.runs.values()]}
    report.environment = {"command": command, "client_rows": "requirements.md §3.2"}
    report.coverage = coverage(report.results, profile)
    report.finished = _now()
    if baseline is not None:
        report.apply_baseline(baseline)
    return report


def _unrunnable(run: ScenarioRun) -> str:
    """Why the command could not be run at all (the shell's 126 and 127), else ''."""
    if run.exit_code not in (126, 127):
        return ""
    return (
        f"the command could not be run (the shell's exit {run.exit_code}: not found or not "
        f"executable): {run.output.strip()[-200:]!r}; fix --command"
    )


def judge(runs: Runs, profile: str, strict: bool) -> list[CheckResult]:
    """Every check's result, in catalog order."""
    results = []
    for rid, check in CHECKS.items():
        row = requirements.get(rid)
        tier = requirements.tier_for(row, profile)
        started = time.monotonic()
        result = CheckResult(rid, check.__name__, row.title, tier.value, Verdict.PASS.value)
        try:
            result.evidence = {"observation": check(runs)}
            result.observed = "held"
        except NonConformance as exc:
            at = weaker(tier, exc.tier)
            result.verdict = verdict_for_violation(at, strict=strict).value
            result.expected, result.observed = exc.expected, exc.observed
        except NotApplicable as exc:
            result.verdict, result.observed = Verdict.NOT_APPLICABLE.value, str(exc)
        except Observation as exc:  # recorded, never scored: an Informational row's record
            informational = tier is Tier.INFORMATIONAL
            verdict = Verdict.INFORMATIONAL if informational else Verdict.HARNESS_ERROR
            result.verdict, result.observed = verdict.value, exc.observed
            result.evidence = {"observation": dict(exc.values)} if informational else {}
        except Exception as exc:  # a bug in a check is the harness's, never the client's
            result.verdict = Verdict.HARNESS_ERROR.value
            result.observed = f"{type(exc).__name__}: {exc}"
        result.duration_s = round(time.monotonic() - started, 3)
        results.append(result)
    return results


def coverage(results: Sequence[CheckResult], profile: str) -> dict[str, Any]:
    """The report's ``coverage`` block over the client rows (the AS report's shape)."""
    return summarize(
        ((r.requirement, r.verdict) for r in results),
        profile,
        catalog=requirements.CLIENT_CATALOG,
        checked=frozenset(CHECKS),
    )


def _scenario(run: ScenarioRun) -> dict[str, Any]:
    """A scenario's run for the report: its servers, the client's exit and its requests."""
    return {
        "name": run.scenario.name,
        "about": run.scenario.about,
        "issuer": run.issuer,
        "mcp_server": run.mcp.url,
        "client_id": run.client_id,
        "exit_code": run.exit_code,
        "timed_out": run.exit_code is None,
        "duration_s": run.duration_s,
        "authorization_requests": len(run.opened),
        "as_requests": [f"{r.method} {r.path}" for r in run.as_requests],
        "mcp_requests": [f"{method} {path}" for _at, method, path in run.mcp.requests],
        "tool_calls": len(run.mcp.calls),
        "output": redact_output(run.output),
    }
