"""A Markdown summary for CI job summaries and pull-request comments (``report.md``).

The verdict and its scope, the rows judged per tier and per catalog group, every failure with
what was expected and what was observed, and (with a previous report) what changed. Text
that came from the target is escaped twice over: HTML characters become entities (GitHub
renders HTML in Markdown) and Markdown's own punctuation is backslash-escaped, so a target's
text can neither open a tag, nor a link, nor break a table.

When ``$GITHUB_STEP_SUMMARY`` names a file (a GitHub Actions step), :func:`append_step_summary`
appends the summary there.
"""

from __future__ import annotations

import html
import os
import re
from collections.abc import Iterable
from pathlib import Path

from conformance.redaction import redact_text
from conformance.report import view
from conformance.report.compare import Change, Comparison
from conformance.report.model import Report

STEP_SUMMARY = "GITHUB_STEP_SUMMARY"
OBSERVED_WIDTH = 300  # a table cell; the whole observation is in report.html and report.json
# Markdown's inline punctuation; inside a line (never at its start) the rest is plain text
_PUNCTUATION = re.compile(r"([\\`*_\[\]|~])")


def escape(text: object) -> str:
    """``text`` as inert Markdown on one line: HTML escaped, Markdown punctuation escaped."""
    flat = " ".join(str(text).split())
    return _PUNCTUATION.sub(r"\\\1", html.escape(flat, quote=True))


def _short(text: str, width: int = OBSERVED_WIDTH) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 4] + " ..."


def render(
    report: Report, directory: Path | None = None, comparison: Comparison | None = None
) -> str:
    """The Markdown summary of ``report`` (``directory`` is unused: nothing is embedded)."""
    lines = [f"## cimd-conformance: {escape(view.verdict_words(report))}", ""]
    scope = view.scope_sentence(report)
    strict = ", strict" if report.strict else ""
    lines += [
        f"**{escape(view.verdict_words(report))}**{' ' + escape(scope) if scope else ''} "
        f"for {escape(report.issuer)}",
        "",
        *(
            [f"- Target version: {escape(str(report.environment['target_version']))}"]
            if report.environment.get("target_version")
            else []
        ),
        f"- Profile: {escape(report.profile)}{strict}; draft revision: "
        f"{escape(view.draft_revision(report))}",
        f"- Mode: {escape(report.mode)}",
        f"- Checks: {escape(_counts(report.summary()))}",
        f"- Run: {escape(_when(report))} cimd-conformance {escape(report.tool_version)}",
    ]
    if report.preflight.get("error"):
        lines.append(f"- Preflight: {escape(report.preflight['error'])}")
    if report.interrupted:
        lines.append(f"- Interrupted: {escape(report.interrupted.get('meaning', ''))}")
    untestable = view.untestable_rows(report)
    if untestable:
        ids = ", ".join(escape(r["id"]) for r in untestable)
        lines.append(f"- Untestable from outside (the HTML report says why): {ids}")
    lines += _tiers(report)
    lines += _failures(report)
    if comparison is not None:
        lines += _comparison(comparison)
    lines += _groups(report)
    return "\n".join(lines).rstrip() + "\n"


def _when(report: Report) -> str:
    """``started X, finished Y;`` with the times the report has (nothing when none ran)."""
    times = [
        f"{w} {t}" for w, t in (("started", report.started), ("finished", report.finished)) if t
    ]
    return f"{', '.join(times)};" if times else ""


def _counts(summary: dict[str, int]) -> str:
    return ", ".join(f"{n} {name}" for name, n in summary.items() if n) or "none ran"


def _tiers(report: Report) -> list[str]:
    rows = view.tier_rows(report)
    if not rows:
        return []
    lines = ["", "| Tier | Judged in this run | Checked by this version | In the catalog |"]
    lines.append("|---|---:|---:|---:|")
    for t in rows:
        lines.append(
            f"| {t['name']} ({t['tier']}) | {t['judged']} | {t['checked']} | {t['catalog']} |"
        )
    return lines


def _failures(report: Report) -> list[str]:
    failures = view.failures(report)
    if not failures:
        return []
    known = set(report.baseline.get("known", []))
    lines = ["", f"### Failures and warnings ({len(failures)})", ""]
    lines += ["| Requirement | Tier | Verdict | Expected | Observed |", "|---|---|---|---|---|"]
    for r in failures:
        verdict = escape(r.verdict) + (" (known, baseline)" if r.requirement in known else "")
        lines.append(
            f"| {escape(r.requirement)} {escape(r.title)} | {escape(r.tier)} | {verdict} | "
            f"{escape(_short(r.expected))} | {escape(_short(r.observed))} |"
        )
    return lines


def _change_rows(changes: Iterable[Change]) -> list[str]:
    lines = ["| Requirement | Before | Now | Observed |", "|---|---|---|---|"]
    for c in changes:
        before = escape(c.before or "not in the report")
        after = escape(c.after or "not in the report")
        lines.append(
            f"| {escape(c.requirement)} {escape(c.title)} | {before} | {after} | "
            f"{escape(_short(c.observed))} |"
        )
    return lines


def _comparison(comparison: Comparison) -> list[str]:
    lines = ["", f"### Compared with the report of {escape(comparison.old_started)}", ""]
    if comparison.unchanged:
        return [*lines, "No requirement's verdict changed."]
    for title, changes in (
        ("Newly failing", comparison.newly_failing),
        ("Newly passing", comparison.newly_passing),
        ("Changed verdicts", comparison.changed),
    ):
        if changes:
            lines += [f"**{title} ({len(changes)})**", "", *_change_rows(changes), ""]
    return lines


def _groups(report: Report) -> list[str]:
    lines = ["", "### Rows by catalog group", "", "| Group | Rows |", "|---|---|"]
    for group in view.groups(report):
        counts = ", ".join(f"{n} {name}" for name, n in group.counts().items())
        lines.append(f"| {escape(group.title)} ({escape(group.key)}) | {escape(counts)} |")
    return lines


def append_step_summary(reports: Iterable[Report], comparison: Comparison | None = None) -> bool:
    """Append each report's summary to ``$GITHUB_STEP_SUMMARY``, when it names a file.

    Returns:
        Whether a summary was written.
    """
    target = os.environ.get(STEP_SUMMARY)
    if not target:
        return False
    texts = [redact_text(render(report, None, comparison)) for report in reports]
    with Path(target).open("a", encoding="utf-8") as summary:
        summary.write("\n".join(texts))
    return True
