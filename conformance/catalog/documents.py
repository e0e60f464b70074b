"""The documents the catalog cites, where they are published, and links to their sections.

Catalog data, like :mod:`conformance.catalog.requirements`: the abbreviations of the
catalog's §0.1 (``CIMD-02``, ``O21``, ``RFC 8414``, ``MCP``) with the published address of
each, the draft revision each profile scores against, and :func:`section_links`, which turns
a row's Source cell (``"CIMD-02 §6 (CIMD-00/01 §5); RFC 8414 §2"``) into text and links to
the cited sections. IETF documents are linked at their section anchors (``#section-6``,
``#appendix-A``); the MCP pages carry no numbered anchors and are linked as pages.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

IETF: Final = "https://datatracker.ietf.org/doc/html/"
CIMD_DRAFT: Final = "draft-ietf-oauth-client-id-metadata-document"
MCP_2025_11_25: Final = "https://modelcontextprotocol.io/specification/2025-11-25"

DOCUMENTS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "CIMD-00": f"{IETF}{CIMD_DRAFT}-00",
        "CIMD-01": f"{IETF}{CIMD_DRAFT}-01",
        "CIMD-02": f"{IETF}{CIMD_DRAFT}-02",
        "O21": f"{IETF}draft-ietf-oauth-v2-1-13",
        "MCP": f"{MCP_2025_11_25}/basic/authorization",
        "MCP-SBP": f"{MCP_2025_11_25}/basic/security_best_practices",
        "MCP-2026": "https://modelcontextprotocol.io/specification/2026-07-28/basic/authorization",
    }
)
"""Catalog §0.1: each abbreviation and the document it names (RFCs: :func:`rfc`)."""

PROFILE_DRAFTS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "latest": f"{CIMD_DRAFT}-02 and MCP 2025-11-25",
        "mcp-2025-11-25": f"{CIMD_DRAFT}-00 (the revision MCP 2025-11-25 cites)",
        "mcp-2026-07-28": f"{CIMD_DRAFT}-02 and MCP 2026-07-28",
    }
)
"""The draft revision each profile scores against (catalog §0.3)."""

PROFILE_DOCUMENT: Final[Mapping[str, str]] = MappingProxyType(
    {"latest": "CIMD-02", "mcp-2025-11-25": "CIMD-00"}
)
"""The CIMD draft of each profile, as a :data:`DOCUMENTS` key."""

# A cited document (the longest names first), or one of its sections.
_TOKEN = re.compile(
    r"(?P<doc>CIMD-0[0-2](?:/0[0-2])?|MCP-SBP|MCP-2026|MCP(?! 20)|O21|RFC \d{4})"
    r"|(?P<section>§\d+(?:\.\d+)*)"
    r"|(?P<appendix>Appendix [A-Z])"
)


@dataclass(frozen=True)
class Fragment:
    """A piece of a Source cell: its text, and the address it links to (``None``: plain)."""

    text: str
    href: str | None = None


def rfc(number: str) -> str:
    """The address of RFC ``number``."""
    return f"https://www.rfc-editor.org/rfc/rfc{number}"


def document_url(name: str) -> str | None:
    """The address of a cited document (``"CIMD-00/01"`` is read as its last revision)."""
    if name.startswith("RFC "):
        return rfc(name.removeprefix("RFC "))
    if "/" in name:  # "CIMD-00/01": the same text in both, linked in the later one
        name = f"CIMD-{name.rsplit('/', 1)[1]}"
    return DOCUMENTS.get(name)


def _anchor(url: str, section: str) -> str:
    """``url`` at ``section`` (``"6.2"`` or ``"A"``), where the document has such anchors."""
    if not url.startswith(("https://datatracker.ietf.org/", "https://www.rfc-editor.org/")):
        return url
    kind = "appendix" if section.isalpha() else "section"
    return f"{url}#{kind}-{section}"


def section_links(sections: str) -> list[Fragment]:
    """A Source cell as fragments: cited documents and their sections linked, the rest text.

    A section number belongs to the document named last before it in the same citation
    (citations are separated by ``;``), so in ``"CIMD-02 §4.1, §8.2; O21 §4.1.3"`` both
    ``§4.1`` and ``§8.2`` link into CIMD-02, and in ``"RFC 7523 §3; OIDC Core §9"`` the
    ``§9`` of a document without an address stays text.
    """
    fragments: list[Fragment] = []
    current: str | None = None
    at = 0
    for match in _TOKEN.finditer(sections):
        if match.start() > at:
            between = sections[at : match.start()]
            fragments.append(Fragment(between))
            if ";" in between:  # a new citation: its sections need its own document
                current = None
        at = match.end()
        text = match.group(0)
        if match.group("doc"):
            url = document_url(text)
            current = url
            fragments.append(Fragment(text, url))
        elif current is not None:
            number = text.removeprefix("§").removeprefix("Appendix ")
            fragments.append(Fragment(text, _anchor(current, number)))
        else:
            fragments.append(Fragment(text))
    if at < len(sections):
        fragments.append(Fragment(sections[at:]))
    return fragments
