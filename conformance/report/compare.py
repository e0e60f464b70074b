"""What changed between two reports of a target: newly failing, newly passing, changed verdicts.

A requirement can be verified by several checks; its verdict in a report is the most severe of
theirs (a ``fail`` in any check is the requirement's ``fail``). Rows only one report judged
are listed too: a row the newer version checks for the first time is not a regression.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from conformance.catalog.verdicts import Verdict
from conformance.report.model import Report

# The verdicts, most severe first: what a requirement shows when its checks disagree.
SEVERITY = (
    Verdict.HARNESS_ERROR,
    Verdict.FAIL,
    Verdict.NON_STRICT,
    Verdict.ADVISORY,
    Verdict.INFORMATIONAL,
    Verdict.NOT_APPLICABLE,
    Verdict.PASS,
)
# The verdicts that fail a run (harness errors stop it being a verdict at all).
FAILING = frozenset({Verdict.FAIL.value, Verdict.HARNESS_ERROR.value})


@dataclass(frozen=True)
class Change:
    """One requirement whose verdict differs between the two reports.

    Attributes:
        requirement: the catalog ID.
        title: the requirement's short title.
        before: its verdict in the older report (``None``: not in it).
        after: its verdict in the newer report (``None``: not in it).
        observed: what the newer report observed (the older one's when the row is gone).
    """

    requirement: str
    title: str
    before: str | None
    after: str | None
    observed: str = ""


@dataclass(frozen=True)
class Comparison:
    """The difference between an older and a newer report of a target.

    Attributes:
        old_issuer, old_started: which report the newer one is compared with.
        newly_failing: rows failing now that did not fail before (regressions).
        newly_passing: rows passing now that failed before.
        changed: every other change of verdict, and rows only one report has.
    """

    old_issuer: str
    old_started: str
    old_tool_version: str
    newly_failing: list[Change] = field(default_factory=list)
    newly_passing: list[Change] = field(default_factory=list)
    changed: list[Change] = field(default_factory=list)

    @property
    def unchanged(self) -> bool:
        """Whether no requirement's verdict changed."""
        return not (self.newly_failing or self.newly_passing or self.changed)


def verdicts_by_requirement(report: Report) -> dict[str, str]:
    """Each requirement's verdict in ``report``: the most severe of its checks' verdicts."""
    rank = {v.value: i for i, v in enumerate(SEVERITY)}
    found: dict[str, str] = {}
    for result in report.results:
        held = found.get(result.requirement)
        if held is None or rank.get(result.verdict, 0) < rank.get(held, 0):
            found[result.requirement] = result.verdict
    return found


def compare(old: Report, new: Report) -> Comparison:
    """The changes from ``old`` to ``new``, in the newer report's order of rows."""
    before, after = verdicts_by_requirement(old), verdicts_by_requirement(new)
    titles = {r.requirement: r.title for r in [*old.results, *new.results]}
    # what the check that set the row's verdict observed, in the newer report when it has one
    observed = {
        r.requirement: r.observed for r in old.results if r.verdict == before[r.requirement]
    }
    observed.update(
        {r.requirement: r.observed for r in new.results if r.verdict == after[r.requirement]}
    )
    comparison = Comparison(old.issuer, old.started, old.tool_version)
    for rid in [*after, *(r for r in before if r not in after)]:
        was, now = before.get(rid), after.get(rid)
        if was == now:
            continue
        change = Change(rid, titles.get(rid, ""), was, now, observed.get(rid, ""))
        if now in FAILING and was not in FAILING:
            comparison.newly_failing.append(change)
        elif now == Verdict.PASS.value and was in FAILING:
            comparison.newly_passing.append(change)
        else:
            comparison.changed.append(change)
    return comparison
