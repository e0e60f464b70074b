"""Verdicts from tiers, and the run's exit code (conformance/catalog/verdicts.py)."""

from __future__ import annotations

import itertools

import pytest

from conformance.catalog.requirements import Tier
from conformance.catalog.verdicts import (
    HarnessError,
    NonConformance,
    NotApplicable,
    Verdict,
    exit_code,
    verdict_for_violation,
    weaker,
)
from conformance.target.deadline import Unanswered
from conformance.target.pacing import Transient

R, REC, A, INFO = Tier.REQUIRED, Tier.RECOMMENDED, Tier.ADVISORY, Tier.INFORMATIONAL


@pytest.mark.parametrize(
    ("tier", "lenient", "strict"),
    [
        (R, Verdict.FAIL, Verdict.FAIL),
        (REC, Verdict.NON_STRICT, Verdict.FAIL),
        (A, Verdict.ADVISORY, Verdict.ADVISORY),
        (INFO, Verdict.INFORMATIONAL, Verdict.INFORMATIONAL),
    ],
)
def test_a_violation_is_scored_by_its_tier_and_strictness(
    tier: Tier, lenient: Verdict, strict: Verdict
) -> None:
    assert verdict_for_violation(tier, strict=False) is lenient
    assert verdict_for_violation(tier, strict=True) is strict


def test_only_required_and_strict_recommended_violations_fail_a_run() -> None:
    failing = {
        (tier, strict)
        for tier, strict in itertools.product(Tier, (False, True))
        if exit_code([verdict_for_violation(tier, strict=strict)]) == 1
    }
    assert failing == {(R, False), (R, True), (REC, True)}


@pytest.mark.parametrize(
    ("tier", "other", "expected"),
    [
        (R, None, R),
        (R, REC, REC),
        (REC, R, REC),
        (R, A, A),
        (REC, INFO, INFO),
        (INFO, R, INFO),
        (A, A, A),
    ],
)
def test_weaker_keeps_the_lower_tier(tier: Tier, other: Tier | None, expected: Tier) -> None:
    assert weaker(tier, other) is expected


def test_weaker_is_symmetric_and_never_raises_a_tier() -> None:
    order = [R, REC, A, INFO]
    for first, second in itertools.product(Tier, Tier):
        result = weaker(first, second)
        assert result is weaker(second, first)
        assert order.index(result) == max(order.index(first), order.index(second))


@pytest.mark.parametrize(
    ("verdicts", "code"),
    [
        ([Verdict.PASS], 0),
        (
            [
                Verdict.PASS,
                Verdict.NON_STRICT,
                Verdict.ADVISORY,
                Verdict.INFORMATIONAL,
                Verdict.NOT_APPLICABLE,
            ],
            0,
        ),
        ([Verdict.PASS, Verdict.FAIL], 1),
        ([Verdict.FAIL, Verdict.HARNESS_ERROR], 2),  # gaps: not a complete verdict
        ([Verdict.HARNESS_ERROR, Verdict.PASS], 2),
        ([], 2),  # nothing was judged: never "conformant"
    ],
)
def test_exit_codes(verdicts: list[Verdict], code: int) -> None:
    assert exit_code(verdicts) == code
    assert exit_code(list(reversed(verdicts))) == code  # order does not matter


def test_non_conformance_carries_what_was_expected_and_observed() -> None:
    error = NonConformance(expected="a refusal", observed="consent", tier=Tier.RECOMMENDED)
    assert isinstance(error, AssertionError)  # a plain assert in a check means the same
    assert str(error) == "expected: a refusal; observed: consent"
    assert (error.expected, error.observed, error.tier) == ("a refusal", "consent", REC)
    assert NonConformance(expected="e", observed="o").tier is None


@pytest.mark.parametrize(
    "error",
    [
        HarnessError("x"),
        Transient("HTTP 429", 1.0),
        Unanswered("the exchange deadline fired"),
        NotApplicable("no lab"),
    ],
)
def test_harness_trouble_and_not_applicable_are_never_violations(error: Exception) -> None:
    """A check's exception is a violation only as an AssertionError; these never are."""
    assert not isinstance(error, AssertionError)


def test_verdict_values_are_the_reports_words() -> None:
    assert [v.value for v in Verdict] == [
        "pass",
        "fail",
        "non-strict",
        "advisory",
        "informational",
        "not-applicable",
        "harness-error",
    ]
