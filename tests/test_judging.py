"""How a check's exception becomes a verdict (the plugin's mapping, without a run)."""

from __future__ import annotations

import pytest

from conformance.catalog.requirements import Tier
from conformance.catalog.verdicts import (
    HarnessError,
    NonConformance,
    NotApplicable,
    Observation,
    Verdict,
)
from conformance.plugin.judging import judge, judge_return


def test_non_conformance_is_scored_by_tier() -> None:
    error = NonConformance(expected="refused", observed="accepted")
    assert judge(error, Tier.REQUIRED, strict=False) == (Verdict.FAIL, "refused", "accepted")
    assert judge(error, Tier.RECOMMENDED, strict=False)[0] is Verdict.NON_STRICT
    assert judge(error, Tier.RECOMMENDED, strict=True)[0] is Verdict.FAIL


def test_a_split_row_is_scored_at_the_weaker_tier() -> None:
    error = NonConformance(expected="e", observed="o", tier=Tier.RECOMMENDED)
    assert judge(error, Tier.REQUIRED, strict=False)[0] is Verdict.NON_STRICT


@pytest.mark.parametrize("message", ["the page showed consent", ""])
def test_a_plain_assert_is_a_violation_with_its_message(message: str) -> None:
    verdict, expected, observed = judge(AssertionError(message), Tier.REQUIRED, strict=False)
    assert verdict is Verdict.FAIL
    assert expected == ""  # the check's docstring expectation stays
    assert observed == (message or "an assertion in the check failed (it gave no message)")
    assert judge(AssertionError(message), Tier.ADVISORY, strict=True)[0] is Verdict.ADVISORY


def test_not_applicable_and_harness_trouble_are_never_verdicts_on_the_target() -> None:
    assert judge(NotApplicable("no lab"), Tier.REQUIRED, strict=True) == (
        Verdict.NOT_APPLICABLE,
        "",
        "no lab",
    )
    assert judge(HarnessError("login"), Tier.REQUIRED, strict=True)[0] is Verdict.HARNESS_ERROR
    verdict, _, observed = judge(KeyError("x"), Tier.REQUIRED, strict=True)
    assert verdict is Verdict.HARNESS_ERROR and "KeyError" in observed


def test_an_observation_is_informational_only_on_an_informational_row() -> None:
    seen = Observation("expires_in = 3600 s", expires_in=3600)
    assert judge(seen, Tier.INFORMATIONAL, strict=True) == (
        Verdict.INFORMATIONAL,
        "",
        "expires_in = 3600 s",
    )
    # a scored row's check that only observes is the check's defect, never a pass
    assert judge(seen, Tier.REQUIRED, strict=False)[0] is Verdict.HARNESS_ERROR


def test_an_observation_that_says_whether_it_held_is_scored_where_the_row_is() -> None:
    kept = Observation("iss in the code response", held=True, expected="iss", iss="x")
    broken = Observation("no iss in the code response", held=False, expected="iss sent")
    assert judge(broken, Tier.INFORMATIONAL, strict=True)[0] is Verdict.INFORMATIONAL
    assert judge(kept, Tier.INFORMATIONAL, strict=True)[0] is Verdict.INFORMATIONAL
    assert judge(kept, Tier.REQUIRED, strict=True) == (
        Verdict.PASS,
        "",
        "iss in the code response",
    )
    assert judge(broken, Tier.RECOMMENDED, strict=True) == (
        Verdict.FAIL,
        "iss sent",
        "no iss in the code response",
    )
    assert judge(broken, Tier.RECOMMENDED, strict=False)[0] is Verdict.NON_STRICT


def test_an_informational_check_that_returns_recorded_nothing() -> None:
    assert judge_return(Tier.REQUIRED) == (Verdict.PASS, "as expected")
    verdict, observed = judge_return(Tier.INFORMATIONAL)
    assert verdict is Verdict.HARNESS_ERROR and "no observation" in observed
