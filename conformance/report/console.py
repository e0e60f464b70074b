"""The console summary printed at the end of a run."""

from __future__ import annotations

import textwrap
from typing import Any

from conformance.catalog.coverage import not_tested_line, scope_line
from conformance.catalog.requirements import Tier
from conformance.catalog.verdicts import Verdict
from conformance.redaction import redact_text
from conformance.report.model import CheckResult, Report

OBSERVED_WIDTH = 160  # the whole observation is in report.json and report.html
PARTIAL_WORD = "PARTIAL (no failure among the selected checks; not a conformance verdict)"
_SHOWN = (Verdict.FAIL, Verdict.HARNESS_ERROR, Verdict.NON_STRICT, Verdict.ADVISORY)


def render(report: Report) -> str:
    """A few lines: the verdict, the counts, and every result worth a look."""
    code = report.exit_code()
    word = {0: "CONFORMANT", 1: "NON-CONFORMANT", 2: "NOT TESTED (harness could not test)"}.get(
        code, ""
    )
    if report.interrupted:
        word = interrupted_word(report)
    elif report.partial and code == 0:
        word = PARTIAL_WORD
    counts = ", ".join(f"{n} {v}" for v, n in report.summary().items() if n)
    lines = [
        f"cimd-conformance: {report.issuer} [{report.profile}{', strict' if report.strict else ''}]"
    ]
    if report.environment.get("target_version"):
        lines.append(f"  target version: {report.environment['target_version']}")
    if report.interrupted:
        lines.append(f"  INTERRUPTED    {report.interrupted.get('meaning', '')}")
    if report.partial:
        lines.append(f"  PARTIAL        {report.selection.get('meaning', '')}")
    if report.preflight.get("error"):
        lines.append(f"  preflight: {report.preflight['error']}")
    if report.preflight.get("mcp_journey"):
        lines.append(f"  mcp journey: {_journey(report.preflight['mcp_journey'])}")
    known = set(report.baseline.get("known", []))
    untested = [r.requirement for r in report.results if _preflight_failed(report, r)]
    if untested:
        lines.append(f"  not tested (preflight failed): {', '.join(untested)}")
    for result in report.results:
        if Verdict(result.verdict) in _SHOWN and not _preflight_failed(report, result):
            shown = "KNOWN FAILURE" if result.requirement in known else result.verdict.upper()
            lines.append(f"  {shown:<14} {result.requirement:<14} {result.title}")
            lines.append(f"  {'':<14} expected: {result.expected}")
            lines.append(f"  {'':<14} observed: {result.observed}")
    lines += _observations(report)
    for stale in report.baseline.get("stale", []):
        lines.append(
            f"  {'STALE':<14} {stale:<14} listed in the baseline but now passes: remove it"
        )
    lines += _scope(report)
    if report.mode == "loopback":
        lines.append("  ssrf: judged in lab mode (--lab, as root); here connections within the")
        lines.append("        target's development loopback exception are reported, not scored")
    scope = scope_line(report.coverage)
    lines.append(f"  verdict: {word}{' ' + scope if scope else ''} ({counts or 'no checks ran'})")
    return redact_text("\n".join(lines))


def _journey(summary: dict[str, Any]) -> str:
    """Where the MCP journey went (``preflight.mcp_journey``)."""
    server = summary.get("mcp_server", "")
    if summary.get("stopped_at"):
        return f"to {server}: stopped at {summary['stopped_at']}: {summary.get('why', '')}"
    step_up = " and a step-up" if summary.get("step_up") else ""
    return f"to {server}: through a tool call{step_up}"


def _observations(report: Report) -> list[str]:
    """One line per Informational row observed: recorded behaviour, never scored."""
    lines = []
    for result in report.results:
        if (
            result.verdict == Verdict.INFORMATIONAL.value
            and Tier(result.tier) is Tier.INFORMATIONAL
        ):
            observed = textwrap.shorten(result.observed, width=OBSERVED_WIDTH, placeholder=" ...")
            lines.append(f"  {'OBSERVED':<14} {result.requirement:<14} {observed}")
    return lines


def _preflight_failed(report: Report, result: CheckResult) -> bool:
    """Whether ``result`` is a harness error only because the target's preflight failed."""
    return (
        result.verdict == Verdict.HARNESS_ERROR.value
        and bool(report.preflight.get("error"))
        and result.observed.startswith("preflight failed")
    )


def _scope(report: Report) -> list[str]:
    """How many rows of each tier were judged, and the rows this version does not test."""
    coverage = report.coverage
    if not coverage:
        return []
    tiers = coverage["tiers"]
    judged = ", ".join(
        f"{tiers[t]['judged']} of {tiers[t]['catalog']} {name}"
        for t, name in (("R", "Required"), ("Rec", "Recommended"))
    )
    untested = sum(tiers[t]["catalog"] - tiers[t]["checked"] for t in ("A", "I"))
    lines = [
        f"  scope: {judged} rows judged; {untested} Advisory and Informational rows not tested"
    ]
    missing = not_tested_line(
        {"not_tested": [r for r in coverage["not_tested"] if r["tier"] in ("R", "Rec")]}
    )
    untestable = ", ".join(r["id"] for r in coverage["not_tested"] if r.get("untestable"))
    for label, rows in (
        ("untestable from outside (the report says why)", untestable),
        ("not tested by this version", missing),
    ):
        if rows:
            lines += textwrap.wrap(
                f"{label}: {rows}",
                width=100,
                initial_indent="  ",
                subsequent_indent="    ",
                break_on_hyphens=False,
            )
    return lines


def interrupted_word(report: Report) -> str:
    """The verdict line's word for an interrupted run (never a verdict on the target)."""
    signal = report.interrupted.get("signal", "a signal")
    judged = report.interrupted.get("checks_judged", len(report.results))
    return f"INTERRUPTED by {signal} after {judged} check(s), not a verdict"
