"""Integrity of the authorization-server requirement catalog (conformance.catalog.requirements)."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from conformance.catalog.requirements import (
    CATALOG,
    MCP_2026_ROWS,
    PROFILES,
    REQUIREMENTS,
    Requirement,
    Tier,
    get,
    tier_for,
)

# The catalog lives beside the checkout (../shared/spec); installed copies do not ship it.
SPEC = Path(__file__).resolve().parents[2] / "shared" / "spec" / "requirements.md"

ID_PATTERN = re.compile(r"^(CIMD-[A-Z]+-\d{2}|MCP-AUTH-\d{2})$")
SPEC_ROW = re.compile(r"^\| ((?:CIMD-[A-Z]+|MCP-AUTH)-\d{2}) \|(.*)\|\s*$", re.MULTILINE)

# Rows per group in §2.1 to §2.12, so the count means something without the Markdown file.
EXPECTED_GROUP_COUNTS = {
    "CIMD-DISC": 7,
    "CIMD-URL": 10,
    "CIMD-FETCH": 11,
    "CIMD-DOC": 19,
    "CIMD-AUTHN": 9,
    "CIMD-REDIR": 10,
    "CIMD-ERR": 5,
    "CIMD-SEC": 11,
    "CIMD-CACHE": 9,
    "CIMD-CHG": 5,
    "CIMD-UI": 8,
    "MCP-AUTH": 22,
}
EXPECTED_TOTAL = 126
# The rows of §2.1 to §2.12; the MCP 2026-07-28 rows are the catalog module's own.
MARKDOWN_ROWS = [r for r in CATALOG if r.id not in MCP_2026_ROWS]

# Every R row the strict profile downgrades. §0.3 names FETCH-03/04 and SEC-01/02/03/05 as
# the main ones; the rest have Since I01 or I02 too.
DOWNGRADED_IN_MCP_2025_11_25 = {
    "CIMD-FETCH-03",
    "CIMD-FETCH-04",
    "CIMD-AUTHN-07",
    "CIMD-SEC-01",
    "CIMD-SEC-02",
    "CIMD-SEC-03",
    "CIMD-SEC-05",
    "CIMD-CHG-01",
    "CIMD-CHG-04",
}


def group_of(requirement_id: str) -> str:
    return requirement_id.rsplit("-", 1)[0]


def plain(cell: str) -> str:
    return cell.strip().replace("`", "").replace("**", "")


@pytest.fixture(scope="module")
def spec_rows() -> list[list[str]]:
    """The AS-side table rows of the Markdown catalog: ID then the other cells, cleaned."""
    if not SPEC.is_file():
        pytest.skip(f"{SPEC} is absent: installed copies do not ship the shared/ tree")
    text = SPEC.read_text(encoding="utf-8")
    start = text.index("\n## 2. Requirements on the AUTHORIZATION SERVER")
    end = text.index("\n### 2.13", start)
    return [
        [match[1], *(plain(cell) for cell in match[2].split("|"))]
        for match in SPEC_ROW.finditer(text[start:end])
    ]


def test_ids_are_unique() -> None:
    ids = [requirement.id for requirement in CATALOG]
    duplicates = [rid for rid, count in Counter(ids).items() if count > 1]
    assert duplicates == []
    assert len(REQUIREMENTS) == len(CATALOG)


@pytest.mark.parametrize("requirement", CATALOG, ids=lambda r: r.id)
def test_row_is_well_formed(requirement: Requirement) -> None:
    assert ID_PATTERN.match(requirement.id)
    for name in ("level", "since", "sections", "text", "title", "tier_note"):
        assert getattr(requirement, name).strip(), f"{requirement.id}: empty {name}"
    assert len(requirement.title.split()) <= 8
    assert isinstance(requirement.tier, Tier)
    assert "`" not in requirement.text + requirement.sections


def test_groups_are_numbered_in_document_order() -> None:
    numbers: dict[str, list[int]] = {}
    for requirement in CATALOG:
        numbers.setdefault(group_of(requirement.id), []).append(int(requirement.id[-2:]))
    assert list(numbers) == list(EXPECTED_GROUP_COUNTS)
    for group, seen in numbers.items():
        assert seen == list(range(1, len(seen) + 1)), group


def test_row_counts_match_hard_coded_expectation() -> None:
    assert sum(EXPECTED_GROUP_COUNTS.values()) == EXPECTED_TOTAL
    assert len(CATALOG) == EXPECTED_TOTAL
    assert Counter(group_of(r.id) for r in CATALOG) == EXPECTED_GROUP_COUNTS


def test_row_counts_match_markdown_catalog(spec_rows: list[list[str]]) -> None:
    assert Counter(group_of(row[0]) for row in spec_rows) == Counter(
        group_of(r.id) for r in MARKDOWN_ROWS
    )


def test_cells_match_markdown_catalog(spec_rows: list[list[str]]) -> None:
    assert [row[0] for row in spec_rows] == [r.id for r in MARKDOWN_ROWS]
    for rid, level, since, sections, text, _test, tier_note in spec_rows:
        requirement = REQUIREMENTS[rid]
        assert (level, since, sections, text, tier_note) == (
            requirement.level,
            requirement.since,
            requirement.sections,
            requirement.text,
            requirement.tier_note,
        ), rid


@pytest.mark.parametrize(
    ("requirement_id", "tier"),
    [
        ("CIMD-DISC-01", Tier.REQUIRED),
        ("CIMD-FETCH-01", Tier.RECOMMENDED),  # "Rec (R when the flag is advertised ...)"
        ("CIMD-FETCH-06", Tier.RECOMMENDED),  # "Rec ((a) = R)"
        ("CIMD-FETCH-08", Tier.REQUIRED),  # "R (json) / I (others)"
        ("CIMD-DOC-04", Tier.REQUIRED),  # "R / Rec"
        ("CIMD-DOC-12", Tier.ADVISORY),
        ("CIMD-SEC-04", Tier.INFORMATIONAL),  # "I/A"
        ("CIMD-UI-02", Tier.REQUIRED),  # "R (MCP; semi-automated)"
        ("CIMD-REDIR-10", Tier.REQUIRED),  # "R (if PAR)"
        ("MCP-AUTH-16", Tier.INFORMATIONAL),  # "per row"
    ],
)
def test_primary_tier_is_first_tier_in_cell(requirement_id: str, tier: Tier) -> None:
    assert get(requirement_id).tier is tier
    assert tier_for(get(requirement_id), "latest") is tier


@pytest.mark.parametrize(
    ("requirement_id", "strict_tier"),
    [
        ("CIMD-FETCH-04", Tier.RECOMMENDED),  # Since I01
        ("CIMD-SEC-01", Tier.RECOMMENDED),  # Since "I01 (SHOULD in P00-I00)"
        ("CIMD-SEC-05", Tier.RECOMMENDED),  # Tier "R (I02) / Rec (I01)"
        ("CIMD-URL-08", Tier.REQUIRED),  # Since "P00 (explicit I02)"
        ("CIMD-AUTHN-01", Tier.REQUIRED),  # Since "P00 (general); I02 (...)"
        ("CIMD-DISC-01", Tier.REQUIRED),  # Since P00
        ("CIMD-DOC-06", Tier.RECOMMENDED),  # already Rec
        ("CIMD-FETCH-10", Tier.ADVISORY),  # Since I02 but A: never changed
    ],
)
def test_tier_for_known_rows(requirement_id: str, strict_tier: Tier) -> None:
    requirement = get(requirement_id)
    assert tier_for(requirement, "latest") is requirement.tier
    assert tier_for(requirement, "mcp-2025-11-25") is strict_tier


def test_strict_profile_only_downgrades_later_draft_r_rows() -> None:
    changed = {r.id for r in CATALOG if tier_for(r, "mcp-2025-11-25") is not r.tier}
    assert changed == DOWNGRADED_IN_MCP_2025_11_25
    for rid in changed:
        assert get(rid).tier is Tier.REQUIRED
        assert tier_for(get(rid), "mcp-2025-11-25") is Tier.RECOMMENDED


def test_get_returns_catalog_row() -> None:
    assert get("CIMD-FETCH-04") is REQUIREMENTS["CIMD-FETCH-04"]
    assert get("CIMD-FETCH-04").level == "MUST NOT"


def test_get_unknown_id_raises_key_error() -> None:
    with pytest.raises(KeyError, match="CIMD-NOPE-99"):
        get("CIMD-NOPE-99")


def test_client_side_ids_are_not_in_the_as_catalog() -> None:
    with pytest.raises(KeyError):
        get("CIMD-PUB-01")


def test_unknown_profile_raises_value_error_naming_valid_ones() -> None:
    with pytest.raises(ValueError, match="atproto") as excinfo:
        tier_for(get("CIMD-DISC-01"), "atproto")
    for profile in PROFILES:
        assert profile in str(excinfo.value)


def test_requirements_mapping_is_read_only() -> None:
    with pytest.raises(TypeError):
        REQUIREMENTS["CIMD-X-01"] = CATALOG[0]  # type: ignore[index]
