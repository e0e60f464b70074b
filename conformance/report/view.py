"""The report as people read it: the verdict, its scope, and the rows grouped by catalog topic.

The HTML page and the Markdown summary are both rendered from these values, so they say the
same thing: which verdict, on which rows, under which profile and draft, which rows need a
look. Rows come in catalog order inside each catalog group (requirements.md §2.1 to §2.12,
in that order), and a group also lists its rows this version does not test, so the matrix is
the whole catalog.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from conformance.catalog import documents, requirements
from conformance.catalog.coverage import GROUP_MODULES, group_of, scope_line
from conformance.catalog.untestable import UNTESTABLE
from conformance.catalog.verdicts import Verdict
from conformance.report.model import CheckResult, Report

GROUP_TITLES = {
    "CIMD-DISC": "Discovery and advertisement",
    "CIMD-URL": "Client Identifier URL validation",
    "CIMD-FETCH": "Fetching the document",
    "CIMD-DOC": "Document validation",
    "CIMD-AUTHN": "Client authentication",
    "CIMD-REDIR": "Redirect URI handling",
    "CIMD-ERR": "Error behaviour",
    "CIMD-SEC": "SSRF and other security controls",
    "CIMD-CACHE": "Caching",
    "CIMD-CHG": "Metadata that changes over time",
    "CIMD-UI": "Consent screen and user interface",
    "MCP-AUTH": "MCP 2025-11-25 requirements on the AS",
}
"""The catalog's groups (requirements.md §2.1 to §2.12), in catalog order."""

CLIENT_GROUP_TITLES = {"MCP-CLI": "MCP client behaviour"}
"""The client rows' group (requirements.md §3.2), which ``run-client`` reports score."""

ATTENTION = (
    Verdict.FAIL.value,
    Verdict.HARNESS_ERROR.value,
    Verdict.NON_STRICT.value,
    Verdict.ADVISORY.value,
)
"""The verdicts a reader must look at: the "failures only" filter shows these rows."""

TIER_NAMES = {"R": "Required", "Rec": "Recommended", "A": "Advisory", "I": "Informational"}
NOT_TESTED = "not tested"
NOT_REACHED = "not reached"  # a row this version checks that the run never got to
_WORDS = {0: "Conformant", 1: "Non-conformant", 2: "Not tested: the harness could not test"}
# evidence keys the HTML page shows as tables; every other key is shown as JSON
SHOWN_AS_TABLES = ("exchanges", "fetches", "attempts", "canaries")


@dataclass(frozen=True)
class Row:
    """One line of the requirement matrix.

    Attributes:
        id, title, tier: the catalog row (the tier under the report's profile).
        verdict: the check's verdict, or ``"not tested"`` for a row this version does not test.
        sections: the row's Source cell, as text and links to the cited sections.
        result: the check's result (``None`` for a row not tested).
        untestable: why no outside observation can judge the row, when that is why.
    """

    id: str
    title: str
    tier: str
    verdict: str
    sections: list[documents.Fragment]
    result: CheckResult | None = None
    untestable: str = ""

    @property
    def attention(self) -> bool:
        """Whether the row is a failure or a warning (shown by the "failures only" filter)."""
        return self.verdict in ATTENTION

    @property
    def anchor(self) -> str:
        """The row's element id (a check's name makes it unique among several checks)."""
        return self.id if self.result is None else f"{self.id}--{self.result.check}"


@dataclass(frozen=True)
class Group:
    """A catalog group and its rows.

    Attributes:
        key: the group's ID prefix, e.g. ``CIMD-SEC``.
        title: the group's heading in the catalog.
        rows: the group's rows in catalog order.
    """

    key: str
    title: str
    rows: list[Row] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        """How many of the group's rows ended in each verdict (``not tested`` included)."""
        order = [*(v.value for v in Verdict), NOT_REACHED, NOT_TESTED]
        found = {name: sum(1 for row in self.rows if row.verdict == name) for name in order}
        extra = {row.verdict for row in self.rows} - set(order)  # a verdict of another version
        found.update({name: sum(1 for row in self.rows if row.verdict == name) for name in extra})
        return {name: n for name, n in found.items() if n}


def verdict_words(report: Report) -> str:
    """The verdict in words (an interrupted run is no verdict, and says so)."""
    if report.interrupted:
        signal = report.interrupted.get("signal", "a signal")
        judged = report.interrupted.get("checks_judged", len(report.results))
        return (
            f"Interrupted by {signal} after {judged} check(s): not a verdict, the checks "
            "not reached did not run"
        )
    code = report.exit_code()
    if report.partial and code != 2:
        word = "Partial: no failure among the selected checks" if code == 0 else _WORDS[1]
        return f"{word} ({report.selection.get('meaning', 'partial run')})"
    return _WORDS.get(code, _WORDS[2])


def verdict_class(report: Report) -> str:
    """A CSS class for the verdict's colour: ``pass``, ``fail`` or ``harness-error``."""
    if report.interrupted:
        return Verdict.HARNESS_ERROR.value
    return {0: Verdict.PASS.value, 1: Verdict.FAIL.value}.get(
        report.exit_code(), Verdict.HARNESS_ERROR.value
    )


def draft_revision(report: Report) -> str:
    """The draft revision the report's profile scores against."""
    return documents.PROFILE_DRAFTS.get(report.profile, f"unknown profile {report.profile!r}")


def draft_url(report: Report) -> str | None:
    """The address of the CIMD draft the report's profile scores against."""
    name = documents.PROFILE_DOCUMENT.get(report.profile)
    return documents.DOCUMENTS.get(name) if name else None


def scope_sentence(report: Report) -> str:
    """``on the 33 of 84 Required and Recommended rows judged``, or nothing without coverage."""
    return scope_line(report.coverage)


def tier_rows(report: Report) -> list[dict[str, Any]]:
    """Per tier: its name, rows in the catalog, rows this version checks, rows judged."""
    tiers = report.coverage.get("tiers", {}) if report.coverage else {}
    return [
        {"tier": tier, "name": TIER_NAMES.get(tier, tier), **counts}
        for tier, counts in tiers.items()
    ]


def untestable_rows(report: Report) -> list[dict[str, str]]:
    """The rows no outside observation can judge, each with its reason."""
    rows = report.coverage.get("not_tested", []) if report.coverage else []
    return [{**row, "untestable": _untestable(row)} for row in rows if _untestable(row)]


def _untestable(entry: dict[str, str]) -> str:
    """Why a row not tested is untestable: the report's reason, else the catalog's."""
    return entry.get("untestable") or UNTESTABLE.get(entry["id"], "")


def source_cell(requirement_id: str) -> str:
    """The row's Source cell; a cell saying "same" cites what the row above cites."""
    rows = requirements.CATALOG + requirements.CLIENT_CATALOG
    at = next((i for i, row in enumerate(rows) if row.id == requirement_id), None)
    if at is None:  # a row an older or newer catalog has: no sections to cite
        return ""
    while at > 0 and rows[at].sections == "same":
        at -= 1
    return rows[at].sections


def _sections(requirement_id: str) -> list[documents.Fragment]:
    """The row's Source cell as text and links to the cited sections."""
    return documents.section_links(source_cell(requirement_id))


def _title(requirement_id: str) -> str:
    try:
        return requirements.get(requirement_id).title
    except KeyError:
        return ""


def groups(report: Report) -> list[Group]:
    """The requirement matrix: the catalog's groups in catalog order, each row in order.

    Every check's result is a row; the rows this version does not test (the report's
    ``coverage.not_tested``) and the rows it checks that the run never reached follow in
    their place. A result whose requirement is in no known group (a report from another
    catalog) lands in an ``Other`` group at the end.
    """
    order = {row.id: i for i, row in enumerate(requirements.CATALOG + requirements.CLIENT_CATALOG)}
    by_group: dict[str, Group] = {k: Group(k, t) for k, t in GROUP_TITLES.items()}
    placed: list[tuple[int, int, Row]] = []
    for n, result in enumerate(report.results):
        row = Row(
            result.requirement,
            result.title,
            result.tier,
            result.verdict,
            _sections(result.requirement),
            result,
        )
        placed.append((order.get(result.requirement, len(order)), n, row))
    for n, entry in enumerate(report.coverage.get("not_tested", []) if report.coverage else []):
        row = Row(
            entry["id"],
            entry.get("title", ""),
            entry.get("tier", ""),
            NOT_TESTED,
            _sections(entry["id"]),
            untestable=_untestable(entry),
        )
        placed.append((order.get(entry["id"], len(order)), len(report.results) + n, row))
    reported = {r.requirement for r in report.results}
    not_judged = report.coverage.get("not_judged", []) if report.coverage else []
    for n, entry in enumerate(e for e in not_judged if e["id"] not in reported):
        row = Row(
            entry["id"],
            _title(entry["id"]),
            entry.get("tier", ""),
            NOT_REACHED,
            _sections(entry["id"]),
        )
        placed.append((order.get(entry["id"], len(order)), 2 * len(order) + n, row))
    for _, _, row in sorted(placed, key=lambda p: (p[0], p[1])):
        key = group_of(row.id)
        if key not in by_group:
            by_group[key] = Group(key, CLIENT_GROUP_TITLES.get(key, "Other requirements"))
        by_group[key].rows.append(row)
    known = [by_group[k] for k in GROUP_MODULES if k in by_group]
    others = [g for k, g in by_group.items() if k not in GROUP_MODULES]
    return [g for g in [*known, *others] if g.rows]


def failures(report: Report) -> list[CheckResult]:
    """The results a reader must look at (fail, harness error, non-strict, advisory).

    Failures first, then harness errors, non-strict and advisory results; in catalog order
    within each.
    """
    order = {row.id: i for i, row in enumerate(requirements.CATALOG + requirements.CLIENT_CATALOG)}
    found = [r for r in report.results if r.verdict in ATTENTION]
    return sorted(found, key=lambda r: (ATTENTION.index(r.verdict), order.get(r.requirement, 0)))


def other_evidence(result: CheckResult) -> str:
    """The evidence not shown as tables (observations, derivations, bodies), as JSON."""
    rest = {k: v for k, v in result.evidence.items() if k not in SHOWN_AS_TABLES}
    return json.dumps(rest, indent=1) if rest else ""


def fetch_target(fetch: dict[str, Any]) -> str:
    """A fetch's URL as the metadata host saw it: host and request target."""
    host = fetch.get("host") or fetch.get("sni") or ""
    return f"{host}{fetch.get('target', '')}"
