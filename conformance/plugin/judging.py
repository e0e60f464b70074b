"""How a check's ending becomes a verdict: the mapping the collector applies to every check."""

from __future__ import annotations

import inspect

from conformance.catalog import coverage, derived, requirements
from conformance.catalog.requirements import Tier
from conformance.catalog.verdicts import (
    HarnessError,
    NonConformance,
    NotApplicable,
    Observation,
    Verdict,
    verdict_for_violation,
    weaker,
)
from conformance.report.model import CheckResult


def expectation(check: object) -> str:
    """The ``Expects:`` paragraph of a check's docstring (else the whole docstring)."""
    doc = inspect.getdoc(check) or ""
    _, _, expects = doc.partition("Expects:")
    return " ".join(expects.split()) or " ".join(doc.split())


def judge(error: BaseException, tier: Tier, *, strict: bool) -> tuple[Verdict, str, str]:
    """The verdict, expectation ("" to keep the docstring's) and observation for an error.

    A plain ``assert`` in a check is a violation like :class:`NonConformance`: its message is
    what was observed. An :class:`Observation` is an Informational row's record, or, when it
    says whether the requirement ``held``, a scored row's verdict. Any other
    exception that is not a verdict is the harness's trouble.
    """
    if isinstance(error, NonConformance):
        verdict = verdict_for_violation(weaker(tier, error.tier), strict=strict)
        return verdict, error.expected, error.observed
    if isinstance(error, AssertionError):
        observed = str(error) or "an assertion in the check failed (it gave no message)"
        return verdict_for_violation(tier, strict=strict), "", observed
    if isinstance(error, NotApplicable):
        return Verdict.NOT_APPLICABLE, "", str(error)
    if isinstance(error, Observation):
        if tier is Tier.INFORMATIONAL:
            return Verdict.INFORMATIONAL, "", error.observed
        if error.held is not None:
            verdict = Verdict.PASS if error.held else verdict_for_violation(tier, strict=strict)
            return verdict, "" if error.held else error.expected, error.observed
        return (
            Verdict.HARNESS_ERROR,
            "",
            f"a scored ({tier.value}) row's check only observed: {error}",
        )
    if isinstance(error, HarnessError):
        return Verdict.HARNESS_ERROR, "", str(error)
    return Verdict.HARNESS_ERROR, "", f"the harness failed: {type(error).__name__}: {error}"


def derived_results(results: list[CheckResult], profile: str, *, strict: bool) -> list[CheckResult]:
    """The results of the rows that restate others (:mod:`conformance.catalog.derived`)."""
    reported = [derived.SourceResult(r.requirement, r.verdict, r.tier) for r in results]
    return [
        CheckResult(
            requirement=row.requirement,
            check=derived.CHECK_NAME,
            title=requirements.get(row.requirement).title,
            tier=row.tier.value,
            verdict=row.verdict.value,
            expected="what the rows it restates require: "
            + ", ".join(derived.sources(row.requirement)),
            observed=row.observed,
            evidence={"derived_from": row.derived_from},
        )
        for row in derived.derive(
            reported, profile, strict=strict, checked=coverage.checked_by_this_version()
        )
    ]


def judge_return(tier: Tier) -> tuple[Verdict, str]:
    """The verdict and observation of a check that returned without raising.

    A scored row passed. An Informational row is never scored: its check must end with an
    :class:`Observation`, so one that returns recorded nothing (a defect of the check).
    """
    if tier is Tier.INFORMATIONAL:
        return (
            Verdict.HARNESS_ERROR,
            "the check of an Informational row recorded no observation (a defect of the check)",
        )
    return Verdict.PASS, "as expected"
