"""The scope of a verdict: which catalog rows this version checks, and which a run judged.

A verdict is worth only the rows it rests on. "Conformant" after judging a third of the
catalog must say so, and name the rows that were never looked at. The rows this version
checks are read from the scenario modules' ``requirement`` markers with :mod:`ast`, so the
scope is known without importing pytest or running anything (and kept by each module's
digest, so that a run's start need not parse them again).
"""

from __future__ import annotations

import ast
import contextlib
import hashlib
import json
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

from conformance.catalog import derived, requirements
from conformance.catalog.requirements import Tier
from conformance.catalog.untestable import UNTESTABLE
from conformance.catalog.verdicts import JUDGED
from conformance.user_cache import keep, user_cache

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"
SCORED_TIERS = (Tier.REQUIRED, Tier.RECOMMENDED)

# One scenario module per catalog group (requirements.md §2): where a group's checks live. A
# group without checks yet gets its module when its first check lands.
GROUP_MODULES = {
    "CIMD-DISC": "test_discovery",
    "CIMD-URL": "test_identifier",
    "CIMD-FETCH": "test_fetching",
    "CIMD-DOC": "test_document",
    "CIMD-AUTHN": "test_authentication",
    "CIMD-REDIR": "test_redirects",
    "CIMD-ERR": "test_errors",
    "CIMD-SEC": "test_security",
    "CIMD-CACHE": "test_caching",
    "CIMD-CHG": "test_changes",
    "CIMD-UI": "test_consent",
    "MCP-AUTH": "test_mcp",
}


def group_of(requirement_id: str) -> str:
    """The catalog group of a requirement ID: ``CIMD-SEC-02`` is in ``CIMD-SEC``."""
    return requirement_id.rsplit("-", 1)[0]


@cache
def checks_by_requirement() -> dict[str, tuple[str, ...]]:
    """Per requirement ID, its checks in ``conformance/scenarios`` (``module::function``)."""
    found: dict[str, list[str]] = {}
    for module in sorted(SCENARIOS.glob("test_*.py")):
        tree = ast.parse(module.read_text("utf-8"))
        for function in ast.walk(tree):
            if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for rid in _requirement_marks(function.decorator_list):
                found.setdefault(rid, []).append(f"{module.stem}::{function.name}")
        module_level = [
            n.value for n in tree.body if isinstance(n, ast.Assign) and _is_pytestmark(n)
        ]
        for rid in _requirement_marks(module_level):
            found.setdefault(rid, []).append(module.stem)
    return {rid: tuple(checks) for rid, checks in found.items()}


def _is_pytestmark(node: ast.Assign) -> bool:
    return any(isinstance(t, ast.Name) and t.id == "pytestmark" for t in node.targets)


def _requirement_marks(nodes: Iterable[ast.AST]) -> list[str]:
    return [
        node.args[0].value
        for root in nodes
        for node in ast.walk(root)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "requirement"
        and node.args
        and isinstance(node.args[0], ast.Constant)
        and isinstance(node.args[0].value, str)
    ]


@cache
def checked_by_this_version() -> frozenset[str]:
    """The requirement IDs that have a check in ``conformance/scenarios``."""
    found: set[str] = set()
    for module in sorted(SCENARIOS.glob("test_*.py")):
        found.update(_module_marks(module))
    return frozenset(found)


MARKS_CACHE = "scenario-marks"
_MARKS_FORMAT = 1  # part of each kept entry's name: a change in what is read misses the old


def _module_marks(module: Path) -> list[str]:
    """The requirement IDs marked in ``module``, kept by its source's digest.

    Parsing the scenario modules took about 0.1 s of every run's start. An entry is kept in
    :func:`~conformance.user_cache.user_cache` ``("scenario-marks")`` under the SHA-256 of the
    module's source, so an edited module is read again; an entry that cannot be read, or a
    cache that cannot be written, is passed over.
    """
    source = module.read_bytes()
    kept = user_cache(MARKS_CACHE) / (f"{hashlib.sha256(source).hexdigest()}-{_MARKS_FORMAT}.json")
    with contextlib.suppress(OSError, ValueError):
        marks = json.loads(kept.read_text("utf-8"))
        if isinstance(marks, list) and all(isinstance(m, str) for m in marks):
            return marks
    marks = _requirement_marks([ast.parse(source)])
    keep(kept, lambda out: out.write(json.dumps(marks).encode("utf-8")))
    return marks


def derived_by_this_version() -> frozenset[str]:
    """The derived rows (:mod:`conformance.catalog.derived`) with at least one checked source."""
    checked = checked_by_this_version()
    return frozenset(r for r in derived.derived_rows() if checked & set(derived.sources(r)))


def reported_by_this_version() -> frozenset[str]:
    """Every row a full run reports: the checked rows and the derived rows they feed."""
    return checked_by_this_version() | derived_by_this_version()


def summarize(
    verdicts: Iterable[tuple[str, str]],
    profile: str,
    catalog: Iterable[requirements.Requirement] | None = None,
    checked: frozenset[str] | None = None,
) -> dict[str, Any]:
    """The ``coverage`` block of a report.

    Args:
        verdicts: (requirement ID, verdict) for every check the run reported.
        profile: the run's profile, which sets each row's tier.
        catalog: the rows to cover (the AS rows by default; run-client gives the client's).
        checked: the rows this version reports on (the AS checks' by default).

    Returns:
        Per tier: the catalog's rows, the rows this version checks, and the rows this run
        judged; then the rows not tested by this version and the checked rows this run did
        not judge (not applicable, harness error, or never reached).
    """
    checked = reported_by_this_version() if checked is None else checked
    verdict_of = dict(verdicts)
    tiers: dict[str, dict[str, int]] = {
        t.value: {"catalog": 0, "checked": 0, "judged": 0} for t in Tier
    }
    not_tested: list[dict[str, str]] = []
    not_judged: list[dict[str, str]] = []
    for row in requirements.CATALOG if catalog is None else catalog:
        tier = requirements.tier_for(row, profile).value
        counts = tiers[tier]
        counts["catalog"] += 1
        if row.id not in checked:
            entry = {"id": row.id, "tier": tier, "title": row.title}
            if row.id in UNTESTABLE:  # no outside observation can judge it: say why
                entry["untestable"] = UNTESTABLE[row.id]
            not_tested.append(entry)
            continue
        counts["checked"] += 1
        verdict = verdict_of.get(row.id, "not reached")
        if verdict in JUDGED:
            counts["judged"] += 1
        else:
            not_judged.append({"id": row.id, "tier": tier, "verdict": verdict})
    scored = [tiers[t.value] for t in SCORED_TIERS]
    return {
        "tiers": tiers,
        "scored_rows": sum(c["catalog"] for c in scored),
        "scored_rows_checked": sum(c["checked"] for c in scored),
        "scored_rows_judged": sum(c["judged"] for c in scored),
        "not_tested": not_tested,
        "not_judged": not_judged,
    }


def scope_line(coverage: dict[str, Any]) -> str:
    """One sentence for the verdict: how many Required and Recommended rows it rests on."""
    if not coverage:
        return ""
    judged, total = coverage["scored_rows_judged"], coverage["scored_rows"]
    return f"on the {judged} of {total} Required and Recommended rows judged"


def not_tested_line(coverage: dict[str, Any]) -> str:
    """The rows this version does not test, by tier, IDs only."""
    if not coverage:
        return ""
    by_tier: dict[str, list[str]] = {t.value: [] for t in Tier}
    for row in coverage["not_tested"]:
        by_tier[row["tier"]].append(row["id"])
    return "; ".join(f"{tier}: {', '.join(ids)}" for tier, ids in by_tier.items() if ids)
