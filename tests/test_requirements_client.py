"""The MCP client rows of the catalog (conformance.catalog.requirements.CLIENT_CATALOG)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from conformance.catalog.requirements import (
    CATALOG,
    CLIENT_CATALOG,
    CLIENT_REQUIREMENTS,
    Requirement,
    Tier,
    get,
    tier_for,
)

SPEC = Path(__file__).resolve().parents[2] / "shared" / "spec" / "requirements.md"
CLIENT_ROW = re.compile(r"^\| (MCP-CLI-\d{2}) \|(.*)\|\s*$", re.MULTILINE)
LEVEL_TIER = {"MUST": Tier.REQUIRED, "SHOULD": Tier.RECOMMENDED, "MAY": Tier.INFORMATIONAL}


def plain(cell: str) -> str:
    return cell.strip().replace("`", "").replace("**", "")


def test_client_rows_are_numbered_and_apart_from_the_as_catalog() -> None:
    assert [r.id for r in CLIENT_CATALOG] == [f"MCP-CLI-{n:02}" for n in range(1, 12)]
    assert not {r.id for r in CLIENT_CATALOG} & {r.id for r in CATALOG}
    assert get("MCP-CLI-05") is CLIENT_REQUIREMENTS["MCP-CLI-05"]


@pytest.mark.parametrize("row", CLIENT_CATALOG, ids=lambda r: r.id)
def test_tier_follows_the_level(row: Requirement) -> None:
    assert row.since == "—"
    scored_later = "MCP-2026" in row.level  # MCP-CLI-11: recorded, scored under that profile
    expected = Tier.INFORMATIONAL if scored_later else LEVEL_TIER[row.level.split()[0]]
    assert row.tier is expected
    assert len(row.title.split()) <= 8


def test_mcp_cli_11_is_required_under_the_2026_profile_only() -> None:
    row = get("MCP-CLI-11")
    assert tier_for(row, "latest") is Tier.INFORMATIONAL
    assert tier_for(row, "mcp-2025-11-25") is Tier.INFORMATIONAL
    assert tier_for(row, "mcp-2026-07-28") is Tier.REQUIRED


def test_cells_match_the_markdown_catalog() -> None:
    if not SPEC.is_file():
        pytest.skip(f"{SPEC} is absent: installed copies do not ship the shared/ tree")
    text = SPEC.read_text(encoding="utf-8")
    section = text[text.index("### 3.2 MCP client behaviour") : text.index("\n## 4.")]
    rows = [[m[1], *(plain(c) for c in m[2].split("|"))] for m in CLIENT_ROW.finditer(section)]
    assert [r[0] for r in rows] == [r.id for r in CLIENT_CATALOG]
    for rid, level, sections, rule, _how in rows:
        row = get(rid)
        assert (level, sections, rule) == (row.level, row.sections, row.text), rid
