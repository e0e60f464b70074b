"""Each catalog row's standing in this version: checked, derived, observed, untestable or open.

``cimd-conformance requirements`` prints this table; a unit test holds that every Required and
Recommended row is checked, derived from checked rows, or carries an untestable reason.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from conformance.catalog import coverage, derived, requirements
from conformance.catalog.requirements import Tier
from conformance.catalog.untestable import UNTESTABLE


class Status(enum.Enum):
    """How this version covers a row."""

    CHECKED = "checked"  # a check judges it (scored by its tier)
    OBSERVED = "observed"  # an Informational row recorded with its evidence, never scored
    DERIVED = "derived"  # its verdict comes from the rows it restates
    UNTESTABLE = "untestable"  # no observation from outside can judge it; the reason says why
    OPEN = "not checked"  # no check yet


@dataclass(frozen=True)
class RowStatus:
    """One catalog row as this version covers it."""

    id: str
    title: str
    tier: str
    status: Status
    checks: tuple[str, ...] = ()
    derived_from: tuple[str, ...] = ()
    faults: tuple[str, ...] = ()
    reason: str = ""
    source: str = ""  # the MCP 2026-07-28 rows: the section and key sentence they rest on

    def to_json(self) -> dict[str, Any]:
        """The row for ``requirements --json``."""
        return {
            "id": self.id,
            "title": self.title,
            "tier": self.tier,
            "status": self.status.value,
            "checks": list(self.checks),
            "derived_from": list(self.derived_from),
            "faults": list(self.faults),
            "untestable": self.reason,
            "source": self.source,
        }


def table(
    profile: str = "latest",
    faults_of: Callable[[str], Iterable[str]] = lambda _rid: (),
) -> list[RowStatus]:
    """Every catalog row, in catalog order, with its status under ``profile``.

    Args:
        profile: the scoring profile, which sets each row's tier.
        faults_of: the reference-AS faults that break a row (in any mode, derived rows
            included); given by the caller, since the catalog does not know the reference AS.
    """
    checks = coverage.checks_by_requirement()
    derived_here = coverage.derived_by_this_version()
    rows = []
    for row in requirements.CATALOG:
        tier = requirements.tier_for(row, profile)
        if row.id in checks:
            status = Status.OBSERVED if tier is Tier.INFORMATIONAL else Status.CHECKED
        elif row.id in derived_here:
            status = Status.DERIVED
        elif row.id in UNTESTABLE:
            status = Status.UNTESTABLE
        else:
            status = Status.OPEN
        rows.append(
            RowStatus(
                id=row.id,
                title=row.title,
                tier=tier.value,
                status=status,
                checks=checks.get(row.id, ()),
                derived_from=derived.sources(row.id) if status is Status.DERIVED else (),
                faults=tuple(sorted(set(faults_of(row.id)))),
                reason=UNTESTABLE.get(row.id, ""),
                source=requirements.MCP_2026_SOURCES.get(row.id, "")
                if profile == requirements.MCP_2026
                else "",
            )
        )
    return rows


def faults_by_row(fault_rows: Mapping[str, Iterable[str]]) -> Callable[[str], tuple[str, ...]]:
    """``faults_of`` for :func:`table` from {fault name: the rows it breaks directly}."""
    by_row: dict[str, list[str]] = {}
    for name, rows in fault_rows.items():
        for rid in derived.expand(rows):
            by_row.setdefault(rid, []).append(name)
    return lambda rid: tuple(by_row.get(rid, ()))


def render_text(rows: list[RowStatus]) -> str:
    """The table for a terminal: one line per row, the checks and faults indented below."""
    lines = []
    for tier in Tier:
        mine = [r for r in rows if r.tier == tier.value]
        counts = {s: sum(r.status is s for r in mine) for s in Status}
        summary = ", ".join(f"{n} {s.value}" for s, n in counts.items() if n)
        lines.append(f"{tier.name.title()} ({tier.value}): {len(mine)} rows: {summary}")
    lines.append("")
    for r in rows:
        lines.append(f"{r.id:<14} {r.tier:<3} {r.status.value:<11} {r.title}")
        if r.checks:
            lines.append(f"{'':19}checks: {', '.join(r.checks)}")
        if r.derived_from:
            lines.append(f"{'':19}derived from: {', '.join(r.derived_from)}")
        if r.faults:
            lines.append(f"{'':19}faults: {', '.join(r.faults)}")
        if r.reason:
            lines.append(f"{'':19}untestable: {r.reason}")
        if r.source:
            lines.append(f"{'':19}source: {r.source}")
    return "\n".join(lines)
