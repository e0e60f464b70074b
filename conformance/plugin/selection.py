"""Which checks a run judges: ``--only ID-PREFIX``, pytest's ``-k``, a targeted matrix.

A run that leaves checks out is partial. Each target's report then carries a ``selection``
record saying how it was chosen and how many checks it kept; a partial report is never called
conformant (its verdict word is "partial", or the failures it found). A selection that keeps
no check is a usage error: pytest's "no tests ran" never passes for a verdict.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from conformance.catalog import coverage, requirements


def normalized(prefix: str) -> str:
    """``prefix`` as it is matched: upper case, without a trailing hyphen."""
    return prefix.strip().upper().rstrip("-")


def matches(requirement_id: str, prefix: str) -> bool:
    """Whether ``requirement_id`` is ``prefix`` or lies under it (``CIMD-DOC`` -> ``CIMD-DOC-03``).

    A prefix ends at a hyphen: ``CIMD-DOC-1`` is not a prefix of ``CIMD-DOC-10``.
    """
    wanted = normalized(prefix)
    return requirement_id == wanted or requirement_id.startswith(wanted + "-")


def only_problem(prefixes: Iterable[str]) -> str | None:
    """A one-line message for an ``--only`` value that names no checked row, or ``None``.

    Read from the scenario modules with :mod:`ast` (no pytest run, no target contacted).
    """
    checked = coverage.checked_by_this_version()
    for prefix in prefixes:
        if not any(matches(rid, prefix) for rid in checked):
            return (
                f"--only {prefix} matches no check (a requirement ID or a prefix ending at a "
                "hyphen, e.g. CIMD-DOC or MCP-AUTH-10; see --list). Fix --only."
            )
    return None


def requirement_of(item: pytest.Item) -> str | None:
    """The requirement ID a check verifies (its ``requirement`` marker)."""
    mark = item.get_closest_marker("requirement")
    return str(mark.args[0]) if mark is not None and mark.args else None


def issuer_of(item: pytest.Item) -> str | None:
    """The target a check runs against (its ``cimd_issuer`` parameter)."""
    callspec = getattr(item, "callspec", None)
    issuer = callspec.params.get("cimd_issuer") if callspec is not None else None
    return issuer if isinstance(issuer, str) else None


def check_id(item: pytest.Item) -> str:
    """A check's ID without its target: ``test_discovery::test_metadata_advertises_cimd``."""
    module = item.path.stem if getattr(item, "path", None) else ""
    name = getattr(item, "originalname", None) or item.name
    return f"{module}::{name}" if module else name


@dataclass
class Selection:
    """The run's selection, and what it kept of each target's checks.

    Attributes:
        only: the ``--only`` prefixes (empty: every requirement).
        judge_only: per issuer, the only rows it is judged on (a targeted matrix).
        keyword: pytest's ``-k`` expression, if any.
        markexpr: pytest's ``-m`` expression, if any.
        collected: per issuer, how many checks were collected.
        kept: the checks left after the selection, in run order.
        error: why the selection is unusable (it keeps no check), or ``""``.
    """

    only: tuple[str, ...] = ()
    judge_only: Mapping[str, Sequence[str]] = field(default_factory=dict)
    keyword: str = ""
    markexpr: str = ""
    collected: dict[str, int] = field(default_factory=dict)
    kept: list[pytest.Item] = field(default_factory=list)
    error: str = ""

    def apply(self, items: list[pytest.Item]) -> list[pytest.Item]:
        """Keep the checks ``--only`` and ``judge_only`` select; return the ones left out."""
        kept: list[pytest.Item] = []
        left_out: list[pytest.Item] = []
        for item in items:
            rid, issuer = requirement_of(item), issuer_of(item) or ""
            rows = self.judge_only.get(issuer)
            chosen = rid is None or (
                (not self.only or any(matches(rid, p) for p in self.only))
                and (rows is None or rid in rows)
            )
            (kept if chosen else left_out).append(item)
        items[:] = kept
        return left_out

    def described(self) -> str:
        """How the checks were chosen, as the user gave it (``--only CIMD-DISC, -k 'x'``)."""
        parts = [f"--only {p}" for p in self.only]
        parts += [f"-k {self.keyword!r}"] if self.keyword else []
        parts += [f"-m {self.markexpr!r}"] if self.markexpr else []
        return ", ".join(parts)

    def unmatched_only(self, items: Iterable[pytest.Item]) -> list[str]:
        """The ``--only`` prefixes no collected check matches."""
        rids = {requirement_of(item) for item in items} - {None}
        return [p for p in self.only if not any(matches(str(r), p) for r in rids)]

    def empty_error(self) -> str:
        """The message for a selection that keeps no check."""
        return (
            f"the selection ({self.described() or 'the checks collected'}) matches no check; "
            "see the checks with --list. Fix --only or -k."
        )

    def record(self, issuer: str) -> dict[str, Any]:
        """The report's ``selection`` record for ``issuer``; empty for a whole run."""
        kept = [i for i in self.kept if (issuer_of(i) or "") == issuer]
        collected = self.collected.get(issuer, len(kept))
        rows = {requirement_of(i) for i in kept} - {None}
        short = coverage.checked_by_this_version() - rows
        restricted = issuer in self.judge_only
        if len(kept) == collected and not short and not restricted:
            return {}
        how = [self.described()] if self.described() else []
        if restricted:
            how.append("a targeted matrix (the rows its fault breaks)")
        if not how:
            how.append("the scenario modules given to pytest")
        return {
            "only": list(self.only),
            "keyword": self.keyword,
            "markexpr": self.markexpr,
            "judge_only": sorted(self.judge_only.get(issuer, [])),
            "checks": len(kept),
            "collected": collected,
            "requirements": sorted(str(r) for r in rows),
            "meaning": (
                f"partial run: {len(kept)} of {collected} checks, on {len(rows)} of "
                f"{len(coverage.checked_by_this_version())} checked requirements, selected by "
                f"{'; '.join(how)}; a partial run is never a conformance verdict"
            ),
        }


def listing(items: Sequence[pytest.Item], profile: str) -> str:
    """The ``--list`` table: each check, its requirement ID, its tier and title; then a count."""
    rows = []
    for item in items:
        rid = requirement_of(item) or "-"
        tier, title = "-", ""
        if rid != "-":
            requirement = requirements.get(rid)
            tier, title = requirements.tier_for(requirement, profile).value, requirement.title
        rows.append((check_id(item), rid, tier, title))
    width = max((len(r[0]) for r in rows), default=5)
    lines = [f"{'CHECK':<{width}}  {'REQUIREMENT':<14} {'TIER':<4} TITLE"]
    lines += [f"{c:<{width}}  {r:<14} {t:<4} {title}" for c, r, t, title in rows]
    lines.append(f"{len(rows)} check(s), {len({r[1] for r in rows})} requirement(s) [{profile}]")
    return "\n".join(lines)
