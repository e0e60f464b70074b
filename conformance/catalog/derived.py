"""Catalog rows that restate other rows: their verdicts are derived, never checked twice.

Several MCP-AUTH rows say "= DOC-03, URL-08" (requirements.md §2.12): MCP requires what CIMD
already requires. Checking them again would send the same requests twice and could disagree
with itself, so such a row's verdict is derived from the results of the rows it points to, in
the same report, and shown as derived::

    sources("MCP-AUTH-04")  # ("CIMD-DOC-03", "CIMD-URL-08")
    derive(results)          # one derived result per row whose sources were reported

A derived row is violated when one of its sources is; the violation is scored at the weaker of
the two tiers, so MCP-AUTH-15 ("R / Rec") fails as Rec when only CIMD-REDIR-08 (Rec) fails, and
the "per row" rows (MCP-AUTH-16, -17) record their sources' verdicts without scoring them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Set
from dataclasses import dataclass
from functools import cache
from types import MappingProxyType

from conformance.catalog import requirements
from conformance.catalog.requirements import Tier
from conformance.catalog.verdicts import (
    JUDGED,
    TIER_ORDER,
    VIOLATIONS,
    Verdict,
    verdict_for_violation,
    weaker,
)

CHECK_NAME = "derived"
"""The ``check`` of a derived result: no check of its own ran."""

# The rows each derived row points to, as its Test cell says ("= DOC-03, URL-08").
_POINTS_TO: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "MCP-AUTH-01": ("CIMD-DISC-01", "CIMD-DISC-04"),
        "MCP-AUTH-04": ("CIMD-DOC-03", "CIMD-URL-08"),
        "MCP-AUTH-05": tuple(f"CIMD-REDIR-0{n}" for n in range(1, 7)),
        "MCP-AUTH-06": ("CIMD-DOC-01", "CIMD-DOC-02", "CIMD-DOC-08", "CIMD-DOC-12"),
        "MCP-AUTH-07": ("CIMD-CACHE-01",),
        "MCP-AUTH-14": ("CIMD-DOC-10",),
        "MCP-AUTH-15": ("CIMD-REDIR-01", "CIMD-REDIR-06", "CIMD-REDIR-08"),
        "MCP-AUTH-17": ("CIMD-UI-02", "CIMD-UI-03"),
    }
)

# Draft codes up to CIMD-00's successor I00 (catalog §0.2): MCP-AUTH-03 is "the CIMD rows
# with Since <= I00".
_UP_TO_I00 = ("P00", "P01", "P02", "P03", "I00")


@dataclass(frozen=True)
class SourceResult:
    """What the report says about one source row (its worst verdict and its tier)."""

    requirement: str
    verdict: str
    tier: str


@cache
def _table() -> Mapping[str, tuple[str, ...]]:
    table = dict(_POINTS_TO)
    table["MCP-AUTH-03"] = tuple(
        row.id
        for row in requirements.CATALOG
        if row.id.startswith("CIMD-")
        and requirements.origin(row.since) in _UP_TO_I00
        and row.tier in (Tier.REQUIRED, Tier.RECOMMENDED)
    )
    table["MCP-AUTH-16"] = tuple(
        row.id
        for row in requirements.CATALOG
        if row.id.startswith("CIMD-SEC-")
        or row.id in ("CIMD-FETCH-05", "CIMD-FETCH-06", "CIMD-FETCH-07")
    )
    return MappingProxyType(table)


def derived_rows() -> frozenset[str]:
    """The IDs of every derived row."""
    return frozenset(_table())


def sources(requirement_id: str) -> tuple[str, ...]:
    """The rows a derived row points to (empty for a row that is not derived)."""
    return _table().get(requirement_id, ())


def expand(violated: Iterable[str]) -> set[str]:
    """``violated`` plus every derived row one of them makes violated.

    A fault that breaks CIMD-DOC-03 also breaks MCP-AUTH-04 and MCP-AUTH-03: the fault table
    names the rows a fault breaks directly, and this adds the rows that restate them.
    """
    found = set(violated)
    return found | {
        row
        for row, points_to in _table().items()
        if found & set(points_to) and requirements.get(row).tier is not Tier.INFORMATIONAL
    }


def _worst(results: Iterable[SourceResult]) -> dict[str, SourceResult]:
    """Per requirement, the result that counts: a violation over a pass over anything else."""
    rank = {**{v: 0 for v in VIOLATIONS}, Verdict.HARNESS_ERROR.value: 1}
    worst: dict[str, SourceResult] = {}
    for result in results:
        kept = worst.get(result.requirement)
        if kept is None or rank.get(result.verdict, 2) < rank.get(kept.verdict, 2):
            worst[result.requirement] = result
    return worst


@dataclass(frozen=True)
class Derived:
    """A derived row's verdict and the words for the report."""

    requirement: str
    tier: Tier
    verdict: Verdict
    observed: str
    derived_from: dict[str, str]


def derive(
    results: Iterable[SourceResult], profile: str, *, strict: bool, checked: Set[str]
) -> list[Derived]:
    """The derived rows' results from the reported results of the rows they point to.

    Its verdict: violated (at the weaker tier) as soon as a reported source was violated.
    Otherwise a derived row gets a result only when every source this version checks
    (``checked``) was reported and none was a harness error (that row already says why), so
    a partial run never passes it on a few rows: pass when a source passed, else not
    applicable.
    """
    worst = _worst(results)
    derived: list[Derived] = []
    for row_id, points_to in sorted(_table().items()):
        seen = [worst[s] for s in points_to if s in worst]
        complete = all(s in worst for s in points_to if s in checked)
        if not seen or not (complete or any(s.verdict in VIOLATIONS for s in seen)):
            continue
        tier = requirements.tier_for(requirements.get(row_id), profile)
        violated = [s for s in seen if s.verdict in VIOLATIONS]
        if violated:
            # the most severe of the violations, each at the weaker of its two tiers
            scored = min((weaker(tier, Tier(s.tier)) for s in violated), key=TIER_ORDER.index)
            verdict = verdict_for_violation(scored, strict=strict)
            what = "violated by " + ", ".join(f"{s.requirement} ({s.verdict})" for s in violated)
        elif any(s.verdict == Verdict.HARNESS_ERROR.value for s in seen):
            continue  # not judged: the row it rests on already says why it could not be
        elif any(s.verdict in JUDGED for s in seen):
            verdict = Verdict.PASS
            judged = [s.requirement for s in seen if s.verdict in JUDGED]
            what = f"held by {', '.join(judged)}"
        else:
            verdict = Verdict.NOT_APPLICABLE
            what = "no row it rests on applied to this target"
        if verdict is Verdict.PASS and tier is Tier.INFORMATIONAL:
            verdict = Verdict.INFORMATIONAL
        derived.append(
            Derived(
                requirement=row_id,
                tier=tier,
                verdict=verdict,
                observed=f"derived from {len(seen)} of {len(points_to)} rows: {what}",
                derived_from={s.requirement: s.verdict for s in seen},
            )
        )
    return derived
