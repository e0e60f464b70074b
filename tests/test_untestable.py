"""The untestable rows (conformance/catalog/untestable.py) are catalog rows without a check."""

from __future__ import annotations

from conformance.catalog import coverage, requirements
from conformance.catalog.untestable import UNTESTABLE


def test_every_untestable_row_is_a_catalog_row_without_a_check() -> None:
    known = {row.id for row in requirements.CATALOG}
    assert set(UNTESTABLE) <= known
    assert not set(UNTESTABLE) & coverage.reported_by_this_version()


def test_each_reason_is_one_sentence() -> None:
    for rid, reason in UNTESTABLE.items():
        assert reason.endswith(".") and reason.count(". ") == 0, rid
        assert "hard to build" not in reason, rid


def test_every_informational_row_is_observed_derived_or_has_a_reason() -> None:
    informational = {
        row.id
        for row in requirements.CATALOG
        if requirements.tier_for(row, "latest") is requirements.Tier.INFORMATIONAL
    }
    accounted = set(UNTESTABLE) | coverage.reported_by_this_version()
    assert informational - accounted == set()
