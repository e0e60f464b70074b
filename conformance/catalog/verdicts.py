"""Verdicts come from tiers: how one check's result is scored.

A check ends in one of three ways: it returns (the target did what the requirement asks),
it raises :class:`NonConformance` (the target violated the requirement), or it raises
:class:`NotApplicable` (a precondition is missing). Anything else is the harness's own
trouble and becomes a harness error, never a verdict against the target.
"""

from __future__ import annotations

import enum

from conformance.catalog.requirements import Tier


class Verdict(enum.Enum):
    """The scored result of one check."""

    PASS = "pass"  # noqa: S105 - a verdict word, not a password
    FAIL = "fail"
    NON_STRICT = "non-strict"
    ADVISORY = "advisory"
    INFORMATIONAL = "informational"
    NOT_APPLICABLE = "not-applicable"
    HARNESS_ERROR = "harness-error"


VIOLATIONS = frozenset({Verdict.FAIL.value, Verdict.NON_STRICT.value, Verdict.ADVISORY.value})
"""The verdicts that say the target violated a requirement, whatever its tier."""

JUDGED = VIOLATIONS | {Verdict.PASS.value, Verdict.INFORMATIONAL.value}
"""The verdicts that rest on an observation of the target (not-applicable and harness-error
do not)."""


class NonConformance(AssertionError):
    """The target violated the requirement a check verifies.

    Args:
        expected: what the requirement asks for.
        observed: what the target did.
        tier: a lower tier for this violation, for rows scored in two parts ("R / Rec").
    """

    def __init__(self, *, expected: str, observed: str, tier: Tier | None = None) -> None:
        super().__init__(f"expected: {expected}; observed: {observed}")
        self.expected = expected
        self.observed = observed
        self.tier = tier


class Observation(Exception):
    """What the target did, for an Informational row: recorded with its evidence, never scored.

    A row that one profile records and another scores (MCP-AUTH-19 is a SHOULD under
    "mcp-2026-07-28") ends with an observation that also says whether the requirement
    ``held``: where the row is scored, a ``held=False`` observation is a violation (with
    ``expected``) and ``held=True`` a pass; where it is Informational, both are recorded.

    Args:
        observed: one line saying what the target did (the report's ``observed``).
        held: whether the requirement held, for a row some profile scores; ``None`` for a
            row that is only ever recorded.
        expected: what the requirement asks, reported when a scored row is violated.
        values: the facts it rests on, JSON-ready (the report's ``evidence.observation``).
    """

    def __init__(
        self, observed: str, *, held: bool | None = None, expected: str = "", **values: object
    ) -> None:
        super().__init__(observed)
        self.observed = observed
        self.held = held
        self.expected = expected
        self.values = values


class NotApplicable(Exception):
    """A precondition of the check is missing; the reason says which."""


class HarnessError(Exception):
    """The suite could not test: the message names the cause and the fix."""


TIER_ORDER = (Tier.REQUIRED, Tier.RECOMMENDED, Tier.ADVISORY, Tier.INFORMATIONAL)
"""The tiers, strongest first."""


def weaker(tier: Tier, other: Tier | None) -> Tier:
    """The weaker of two tiers (``other`` may be None)."""
    if other is None:
        return tier
    return max(tier, other, key=TIER_ORDER.index)


def verdict_for_violation(tier: Tier, *, strict: bool) -> Verdict:
    """The verdict of a check whose requirement was violated, by the requirement's tier."""
    if tier is Tier.REQUIRED:
        return Verdict.FAIL
    if tier is Tier.RECOMMENDED:
        return Verdict.FAIL if strict else Verdict.NON_STRICT
    if tier is Tier.ADVISORY:
        return Verdict.ADVISORY
    return Verdict.INFORMATIONAL


def exit_code(verdicts: list[Verdict]) -> int:
    """The run's exit code: 2 when the harness could not test, 1 on a failure, else 0.

    A harness error wins over a failure: a run with gaps is not a complete verdict, and the
    report still lists every failure it did find.
    """
    if not verdicts or Verdict.HARNESS_ERROR in verdicts:
        return 2
    return 1 if Verdict.FAIL in verdicts else 0
