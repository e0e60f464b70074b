"""The authorization-server requirement catalog as data.

Every row of section 2 ("Requirements on the AUTHORIZATION SERVER", subsections 2.1 to 2.12) of
``shared/spec/requirements.md`` becomes one :class:`Requirement`, in document order. The cells
are copied verbatim, except that Markdown backticks and bold markers are dropped. Only the
``title`` is written here, as a short label for reports.

The catalog quotes each requirement once; checks cite a requirement by its ID and look the rest
up here::

    requirement = get("CIMD-FETCH-04")
    tier = tier_for(requirement, "mcp-2025-11-25")  # Tier.RECOMMENDED

Tiers (catalog §0.3) score a result and are separate from the RFC 2119 level. The Tier cells
assume the "latest" profile (CIMD-02 plus MCP 2025-11-25); :func:`tier_for` applies the
catalog's downgrade rule for the strict "mcp-2025-11-25" profile, which cites CIMD-00, and the
rows the "mcp-2026-07-28" profile scores (the MCP 2026-07-28 revision's new AS requirements).

The rows of :data:`MCP_2026_ROWS` come from the MCP 2026-07-28 revision itself, not from the
Markdown catalog, which names that revision only in MCP-AUTH-19 and -20; their sources and key
sentences are in :data:`MCP_2026_SOURCES`.

The MCP client rows of §3.2 (MCP-CLI), which ``cimd-conformance run-client`` scores, are
:data:`CLIENT_CATALOG`, apart from the authorization server's: §3.2 has no Since and no Tier
cells, so a row's Since is "—" and its tier follows its Level (MUST: R, SHOULD: Rec, MAY: I;
MCP-CLI-11, a MUST of MCP 2026-07-28 only, is I and R under that profile). :func:`get` finds
both kinds of row.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

__all__ = [
    "CATALOG",
    "CLIENT_CATALOG",
    "CLIENT_REQUIREMENTS",
    "MCP_2026_ROWS",
    "MCP_2026_SOURCES",
    "PROFILES",
    "REQUIREMENTS",
    "Requirement",
    "Tier",
    "get",
    "tier_for",
]


class Tier(enum.Enum):
    """How the suite scores a requirement's result (catalog §0.3).

    Attributes:
        REQUIRED: A failure counts against the conformance score.
        RECOMMENDED: A failure is a warning with reduced weight.
        ADVISORY: Reported as hardening guidance only.
        INFORMATIONAL: Recorded behaviour or a questionnaire item; not scored.
    """

    REQUIRED = "R"
    RECOMMENDED = "Rec"
    ADVISORY = "A"
    INFORMATIONAL = "I"


@dataclass(frozen=True)
class Requirement:
    """One authorization-server requirement from the catalog.

    Attributes:
        id: The stable ID, e.g. ``"CIMD-FETCH-04"`` or ``"MCP-AUTH-08"``.
        level: The Level cell verbatim, e.g. ``"MUST"`` or ``"SHOULD (derived)"``.
        since: The Since cell verbatim (catalog §0.2), e.g. ``"I01"`` or ``"P00 (explicit I02)"``;
            ``"—"`` when the requirement comes only from another document.
        sections: The Source cell: the cited documents and sections.
        text: The Requirement cell.
        tier: The primary tier under the "latest" profile: the first tier in the Tier cell.
        tier_note: The Tier cell verbatim, with its conditions, e.g. ``"R (if PAR)"``.
        title: A short label for reports, written for this module rather than the catalog.
        profile_tiers: (profile, tier) pairs for the profiles that score the row at another
            tier than the Tier cell's, e.g. an Informational row that a later MCP revision
            makes a SHOULD.
    """

    id: str
    level: str
    since: str
    sections: str
    text: str
    tier: Tier
    tier_note: str
    title: str
    profile_tiers: tuple[tuple[str, Tier], ...] = ()


MCP_2026: Final = "mcp-2026-07-28"

PROFILES: Final = ("latest", "mcp-2025-11-25", MCP_2026)
"""The scoring profiles :func:`tier_for` knows, the default first."""

# The first tier token of a Tier cell; "Rec" is tried before "R" so it is not read as R.
_PRIMARY_TIER = re.compile(r"(Rec|R|A|I)(?![A-Za-z])")

# Draft codes of catalog §0.2. The first one in a Since cell is where the requirement starts:
# "P00 (explicit I02)" starts at P00, CIMD-SEC-01's "I01 (SHOULD in ...)" at I01.
_DRAFT_CODE = re.compile(r"\b(P0[0-3]|I0[0-2])\b")

# The drafts after CIMD-00, which MCP 2025-11-25 cites; their R rows drop to Rec (§0.3, §1.3).
_LATER_DRAFTS = frozenset({"I01", "I02"})

# A Tier cell that ties the R tier itself to a later draft, e.g. CIMD-SEC-05's
# "R (I02) / Rec (I01)": its Since cell says P00 (when the rule first appeared, as a SHOULD),
# yet §0.3 names SEC-05 among the rows the strict profile downgrades.
_R_FROM_LATER_DRAFT = re.compile(r"^R \((I01|I02|Rec in the -00 profile)\)")


def _primary_tier(tier_note: str) -> Tier:
    # "per row" (MCP-AUTH-16, -17) defers to the rows it points at and scores nothing itself.
    if tier_note == "per row":
        return Tier.INFORMATIONAL
    match = _PRIMARY_TIER.match(tier_note)
    if match is None:
        raise ValueError(f"Tier cell {tier_note!r} does not start with R, Rec, A or I")
    return Tier(match.group(1))


def _row(
    id: str,
    *,
    title: str,
    level: str,
    since: str,
    sections: str,
    text: str,
    tier_note: str,
    profile_tiers: tuple[tuple[str, Tier], ...] = (),
) -> Requirement:
    return Requirement(
        id=id,
        level=level,
        since=since,
        sections=sections,
        text=text,
        tier=_primary_tier(tier_note),
        tier_note=tier_note,
        title=title,
        profile_tiers=profile_tiers,
    )


def origin(since: str) -> str | None:
    match = _DRAFT_CODE.search(since)
    return match.group(1) if match else None


def tier_for(requirement: Requirement, profile: str) -> Tier:
    """Returns the tier a requirement is scored at under a profile.

    "latest" (CIMD-02 plus MCP 2025-11-25) uses the primary tier. "mcp-2025-11-25" scores against
    CIMD-00, the draft MCP 2025-11-25 cites, so it downgrades an R row to Rec when the
    requirement originates in CIMD-01 or CIMD-02: its Since cell starts at I01 or I02, or its
    Tier cell grants R only from one of those drafts (catalog §0.3). Later drafts' rows are
    downgraded, not dropped. "mcp-2026-07-28" is "latest" (the MUST of its client-registration
    page, "MUST follow the requirements specified in", cites CIMD-02, though its overview still
    names CIMD-00) plus the rows that revision scores: a row's ``profile_tiers`` name them.

    Args:
        requirement: A catalog row.
        profile: One of :data:`PROFILES`.

    Returns:
        The tier to score the requirement's result at.

    Raises:
        ValueError: If the profile is unknown.
    """
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; expected one of: {', '.join(PROFILES)}")
    scored = dict(requirement.profile_tiers).get(profile)
    if scored is not None:
        return scored
    if profile != "mcp-2025-11-25" or requirement.tier is not Tier.REQUIRED:
        return requirement.tier
    if origin(requirement.since) in _LATER_DRAFTS or _R_FROM_LATER_DRAFT.match(
        requirement.tier_note
    ):
        return Tier.RECOMMENDED
    return requirement.tier


def get(requirement_id: str) -> Requirement:
    """Returns the requirement with the given ID.

    Args:
        requirement_id: A catalog ID such as ``"CIMD-FETCH-04"``.

    Returns:
        The catalog row.

    Raises:
        KeyError: If no authorization-server requirement has that ID.
    """
    try:
        return REQUIREMENTS.get(requirement_id) or CLIENT_REQUIREMENTS[requirement_id]
    except KeyError:
        raise KeyError(
            f"unknown requirement ID {requirement_id!r}: the catalog has no such "
            f"authorization-server row (IDs look like 'CIMD-FETCH-04' or 'MCP-AUTH-08')"
        ) from None


CATALOG: tuple[Requirement, ...] = (
    _row(
        "CIMD-DISC-01",
        title="Metadata advertises client_id_metadata_document_supported",
        level="MUST",
        since="P00",
        sections="CIMD-02 §6 (CIMD-00/01 §5); RFC 8414 §2",
        text=(
            "An AS that supports CIMD and publishes RFC 8414 metadata includes "
            "client_id_metadata_document_supported."
        ),
        tier_note="R",
    ),
    _row(
        "CIMD-DISC-02",
        title="Support flag is a JSON boolean",
        level="MUST (type)",
        since="P00",
        sections='CIMD-02 §6 ("Boolean value"); RFC 8414 §2',
        text="The flag is a JSON boolean.",
        tier_note="R",
    ),
    _row(
        "CIMD-DISC-03",
        title="OIDC and RFC 8414 metadata agree on flag",
        level="SHOULD (derived)",
        since="—",
        sections="MCP §4.3 (clients may read either document); RFC 8414 §5",
        text=(
            "If both OIDC Discovery and RFC 8414 metadata are published, both carry the same flag"
            " value."
        ),
        tier_note="Rec",
    ),
    _row(
        "CIMD-DISC-04",
        title="Advertised support completes the authorization-code flow",
        level="MUST (derived)",
        since="P00",
        sections='CIMD-02 §6 (the flag "signals support"); MCP §5.1.4',
        text=(
            "Advertising true means a conforming CIMD client can complete the authorization-code "
            "flow."
        ),
        tier_note="R",
    ),
    _row(
        "CIMD-DISC-05",
        title="AS-minted client_ids do not start with https://",
        level="SHOULD",
        since="I01",
        sections="CIMD-02 §7.1 (CIMD-01 §6.9)",
        text="client_ids minted by the AS itself (DCR, admin console) do not start with https://.",
        tier_note="Rec",
    ),
    _row(
        "CIMD-DISC-06",
        title="CIMD URLs may be pre-registered",
        level="MAY",
        since="I01",
        sections="CIMD-02 §5, §7.2 (CIMD-01 §6.10)",
        text=(
            "An AS may pre-register CIMD URLs or link them to metadata by other means instead of "
            "fetching at request time."
        ),
        tier_note="I",
    ),
    _row(
        "CIMD-DISC-07",
        title="Non-supporting AS fails URL client_ids cleanly",
        level="informational",
        since="—",
        sections="CIMD-02 §6; RFC 6749 §4.1.2.1",
        text=(
            "An AS that does not support CIMD omits the flag (or sets it false) and fails URL "
            "client_ids cleanly."
        ),
        tier_note="I",
    ),
    _row(
        "CIMD-URL-01",
        title="Client identifier URL uses https",
        level="MUST",
        since="P00",
        sections="CIMD-02 §3",
        text="The identifier uses the https scheme.",
        tier_note="R",
    ),
    _row(
        "CIMD-URL-02",
        title="Client identifier URL has a path",
        level="MUST",
        since="P00",
        sections="CIMD-02 §3",
        text="The identifier contains a path component.",
        tier_note="R",
    ),
    _row(
        "CIMD-URL-03",
        title="No dot segments in the path",
        level="MUST NOT",
        since="P00",
        sections="CIMD-02 §3; RFC 3986 §5.2.4",
        text="No . or .. path segments.",
        tier_note="R",
    ),
    _row(
        "CIMD-URL-04",
        title="No fragment in the identifier",
        level="MUST NOT",
        since="P00",
        sections="CIMD-02 §3; RFC 3986 §3.5",
        text="No fragment component, not even an empty one.",
        tier_note="R",
    ),
    _row(
        "CIMD-URL-05",
        title="No userinfo in the identifier",
        level="MUST NOT",
        since="P00",
        sections="CIMD-02 §3 (userinfo); RFC 3986 §3.2.1",
        text="No userinfo (username and/or password).",
        tier_note="R",
    ),
    _row(
        "CIMD-URL-06",
        title="Query component in the identifier is discouraged",
        level="SHOULD NOT (client rule)",
        since="P02 (MAY in P00/P01)",
        sections="CIMD-02 §3",
        text="The identifier should not contain a query; the AS may accept or refuse one.",
        tier_note="I",
    ),
    _row(
        "CIMD-URL-07",
        title="Port in the identifier is accepted",
        level="MAY (client rule)",
        since="P00",
        sections="CIMD-02 §3",
        text="The identifier may carry a port; the AS should accept it.",
        tier_note="Rec",
    ),
    _row(
        "CIMD-URL-08",
        title="Identifiers are compared as exact strings",
        level="MUST",
        since="P00 (explicit I02)",
        sections="CIMD-02 §3, §4; RFC 3986 §6.2.1",
        text=(
            "Identifiers are compared as exact strings: no case folding, default-port elision, "
            "percent-decoding, dot-segment or trailing-slash normalization."
        ),
        tier_note="R",
    ),
    _row(
        "CIMD-URL-09",
        title="URL syntax checked before any network I/O",
        level="SHOULD (derived)",
        since="—",
        sections="CIMD-02 §3, §8.6",
        text="Syntax is checked before any network I/O.",
        tier_note="A",
    ),
    _row(
        "CIMD-URL-10",
        title="Unusual hosts and very long identifiers recorded",
        level="informational",
        since="—",
        sections='CIMD-02 §3 (silent); atproto "Clients"',
        text=(
            "Public IP-literal hosts, IDN/punycode hosts, very long identifiers (> 2,000 "
            "characters)."
        ),
        tier_note="I",
    ),
    _row(
        "CIMD-FETCH-01",
        title="AS fetches the document for URL client_ids",
        level="SHOULD",
        since="P00",
        sections="CIMD-02 §5, §8.5 (CIMD-00 §4, §6.4); MCP §5.1.1",
        text=(
            "The AS retrieves the document at the identifier when it meets a URL client_id, "
            "unless the URL is already associated with metadata by other means."
        ),
        tier_note="Rec (R when the flag is advertised and U is not pre-registered)",
    ),
    _row(
        "CIMD-FETCH-02",
        title="Fetch targets exactly the identifier URL with GET",
        level="MUST (derived)",
        since="P00",
        sections=(
            'CIMD-02 §4 (client_id "MUST also match the URL that the authorization server used to'
            ' fetch the document")'
        ),
        text=(
            "The fetch targets exactly the identifier: the same host (Host header and SNI), port,"
            " path and query, using GET."
        ),
        tier_note="R",
    ),
    _row(
        "CIMD-FETCH-03",
        title="Only 200 OK counts as success",
        level="MUST",
        since="I01",
        sections="CIMD-02 §5 (CIMD-01 §4)",
        text="Only 200 OK counts as success; every other status is an error.",
        tier_note="R (Rec in the -00 profile)",
    ),
    _row(
        "CIMD-FETCH-04",
        title="Redirects are never followed",
        level="MUST NOT",
        since="I01",
        sections="CIMD-02 §5 (CIMD-01 §4); oauth-wg issue #44",
        text="Redirects are never followed automatically.",
        tier_note="R (Rec in the -00 profile)",
    ),
    _row(
        "CIMD-FETCH-05",
        title="Document host TLS certificate is verified",
        level="MUST (derived)",
        since="P00",
        sections='CIMD-02 §3 (https); RFC 9110 §4.3.4; SEP-991 "Redirect URI Attestation"',
        text=(
            "The document host's TLS certificate is verified. The https binding is the trust "
            "anchor."
        ),
        tier_note="R",
    ),
    _row(
        "CIMD-FETCH-06",
        title="Bytes read from the response are bounded",
        level="SHOULD",
        since="P01 (wording I02)",
        sections="CIMD-02 §8.7 (CIMD-00/01 §6.6)",
        text=(
            "The AS limits the bytes it reads (5 KB recommended) and treats exceeding the limit "
            "as an error."
        ),
        tier_note="Rec ((a) = R)",
    ),
    _row(
        "CIMD-FETCH-07",
        title="Fetch has connect, read and total timeouts",
        level="SHOULD (derived)",
        since="—",
        sections=(
            'SEP-991 "Security Implications" (timeouts, rate limits); atproto spec ("hardened" '
            "HTTP client); MCP-SBP"
        ),
        text="The fetch has connect, read and total timeouts.",
        tier_note="A",
    ),
    _row(
        "CIMD-FETCH-08",
        title="application/json documents are accepted",
        level="MAY/interop",
        since="P00",
        sections=(
            'CIMD-02 §4 ("MAY also be served with more specific content types … '
            'application/<AS-defined>+json")'
        ),
        text=(
            "application/json (with or without parameters) must be accepted; other media types "
            "are AS policy."
        ),
        tier_note="R (json) / I (others)",
    ),
    _row(
        "CIMD-FETCH-09",
        title="Accept header sent with the fetch (proposal)",
        level="informational (proposed)",
        since="PR #63",
        sections="oauth-wg PR #51/#63 (unmerged)",
        text=(
            "Proposal: send Accept: application/cimd+json. No published draft requires an Accept "
            "header. atproto sends application/json."
        ),
        tier_note="I",
    ),
    _row(
        "CIMD-FETCH-10",
        title="Fetch carries no end-user context",
        level="SHOULD (derived)",
        since="I02",
        sections='CIMD-02 §9.1; MCP-SBP SSRF "Risks"',
        text="The fetch carries no end-user context.",
        tier_note="A",
    ),
    _row(
        "CIMD-FETCH-11",
        title="Fetch timing and outbound throttling recorded",
        level="informational",
        since="—",
        sections=(
            'SEP-991 "Best Practices" (fetch only after authenticating the user; rate-limit '
            "outbound fetches); oauth-wg issue #30 (traffic laundering)"
        ),
        text=(
            "When the fetch happens (before or after login, at PAR) and how outbound fetches are "
            "throttled."
        ),
        tier_note="I",
    ),
    _row(
        "CIMD-DOC-01",
        title="Body parses as a JSON object",
        level="MUST",
        since="P00",
        sections="CIMD-02 §4 (RFC 8259); MCP §5.1.1",
        text="The body must parse as a JSON object.",
        tier_note="R",
    ),
    _row(
        "CIMD-DOC-02",
        title="Document contains a client_id member",
        level="MUST",
        since="P00",
        sections="CIMD-02 §4",
        text="The document contains a client_id member.",
        tier_note="R",
    ),
    _row(
        "CIMD-DOC-03",
        title="Document client_id equals the identifier exactly",
        level="MUST",
        since="P00",
        sections="CIMD-02 §4; MCP §5.1.1",
        text="client_id equals the identifier (and the fetched URL) exactly.",
        tier_note="R",
    ),
    _row(
        "CIMD-DOC-04",
        title="Shared-secret auth methods are prohibited",
        level="MUST NOT (document)",
        since="P00 (basic/post); P03 (all symmetric)",
        sections="CIMD-02 §4.1",
        text=(
            "Shared-secret token-endpoint methods are prohibited, and the AS must never turn such"
            " a client into a secret-authenticated one."
        ),
        tier_note="R / Rec",
    ),
    _row(
        "CIMD-DOC-05",
        title="A published client_secret is never a credential",
        level="MUST NOT",
        since="P02",
        sections="CIMD-02 §4.1",
        text=(
            "client_secret and client_secret_expires_at must not appear, and a secret published "
            "in a document is never a credential."
        ),
        tier_note="R / Rec",
    ),
    _row(
        "CIMD-DOC-06",
        title="No private key material in the document",
        level="MUST NOT",
        since="I02",
        sections="CIMD-02 §4.1",
        text="No private key material in the document.",
        tier_note="Rec",
    ),
    _row(
        "CIMD-DOC-07",
        title="jwks and jwks_uri are not both present",
        level="MUST NOT (RFC 7591)",
        since="—",
        sections="RFC 7591 §2",
        text="jwks and jwks_uri are not both present.",
        tier_note="Rec",
    ),
    _row(
        "CIMD-DOC-08",
        title="redirect_uris is a non-empty array of strings",
        level="MUST (derived)",
        since="P00",
        sections="CIMD-02 §4.2; RFC 9700 §2.1; O21 §2.3.1; MCP §5.1.1",
        text=(
            "Redirect-based flows need registered redirect URIs: redirect_uris is present as a "
            "non-empty array of strings."
        ),
        tier_note="R",
    ),
    _row(
        "CIMD-DOC-09",
        title="Redirect URIs are absolute and fragment-free",
        level="MUST",
        since="—",
        sections="RFC 6749 §3.1.2",
        text=(
            "Registered redirect URIs must be absolute and fragment-free; entries that are not "
            "never match."
        ),
        tier_note="R",
    ),
    _row(
        "CIMD-DOC-10",
        title="Non-loopback http redirect URIs are refused",
        level="MUST NOT",
        since="—",
        sections="RFC 9700 §2.6; O21 §1.5; MCP §11.3",
        text="A non-loopback http redirect URI is never allowed, even when listed.",
        tier_note="R",
    ),
    _row(
        "CIMD-DOC-11",
        title="Private-use schemes without a dot are refused",
        level="SHOULD",
        since="—",
        sections="O21 §2.3.1; RFC 8252 §7.1, §8.4",
        text="Private-use-scheme redirect URIs without a . are refused.",
        tier_note="A",
    ),
    _row(
        "CIMD-DOC-12",
        title="MCP-required document members are present",
        level="MUST (MCP) / ambiguous",
        since="I00",
        sections=(
            'MCP §5.1.1 ("contains required fields"; client rules list client_id, client_name, '
            "redirect_uris)"
        ),
        text="Under the MCP profile, the AS checks that the MCP-required members exist.",
        tier_note="A",
    ),
    _row(
        "CIMD-DOC-13",
        title="Unknown and extension members are tolerated",
        level="MAY (document) → AS must tolerate",
        since="P00",
        sections='CIMD-02 §4 (registry values; "additional properties")',
        text="Unknown or extension members must not cause rejection.",
        tier_note="R",
    ),
    _row(
        "CIMD-DOC-14",
        title="Missing token_endpoint_auth_method is handled safely",
        level="open",
        since="—",
        sections=(
            "RFC 7591 §2 (default client_secret_basic) vs CIMD-02 §4.1; oauth-wg issue #92, PR #99"
        ),
        text=(
            "What happens when token_endpoint_auth_method is missing. The RFC 7591 default is a "
            "prohibited method."
        ),
        tier_note="A",
    ),
    _row(
        "CIMD-DOC-15",
        title="private_key_jwt without usable public keys refused",
        level="SHOULD (derived)",
        since="P00",
        sections="CIMD-02 §8.2; RFC 7523 §2.2",
        text="private_key_jwt without usable public keys is refused.",
        tier_note="Rec",
    ),
    _row(
        "CIMD-DOC-16",
        title="Requests fit declared response_types and grant_types",
        level="SHOULD",
        since="—",
        sections=(
            "RFC 7591 §2, §2.1 (defaults: response_types code, grant_types authorization_code)"
        ),
        text="Requests must fit the declared response_types/grant_types.",
        tier_note="A",
    ),
    _row(
        "CIMD-DOC-17",
        title="Only known URI schemes fetched or rendered",
        level="SHOULD",
        since="I02",
        sections="CIMD-02 §8.6; O21 §7.11",
        text="Only known URI schemes in URL-valued members are fetched or rendered.",
        tier_note="Rec",
    ),
    _row(
        "CIMD-DOC-18",
        title="Display URLs are checked for consistency",
        level="SHOULD",
        since="—",
        sections=(
            "RFC 7591 §5 (metadata is self-asserted; check that display URLs share host and "
            "scheme with redirect_uris)"
        ),
        text="URL-valued display members are checked for consistency.",
        tier_note="I",
    ),
    _row(
        "CIMD-DOC-19",
        title="software_statement is verified before it is trusted",
        level="MAY",
        since="I02",
        sections="CIMD-02 §4.3",
        text="A software_statement may be present; if the AS relies on it, it must verify it.",
        tier_note="I",
    ),
    _row(
        "CIMD-AUTHN-01",
        title="private_key_jwt clients must authenticate with assertions",
        level="MUST",
        since="P00 (general); I02 (explicit RFC 7523 §2.2)",
        sections="CIMD-02 §8.2 (CIMD-00 §6.2)",
        text=(
            "A client that declares private_key_jwt must authenticate that way at the token "
            "endpoint, and at PAR, revocation and introspection when it uses them."
        ),
        tier_note="R",
    ),
    _row(
        "CIMD-AUTHN-02",
        title="Assertion verifies against a key from the document",
        level="MUST",
        since="P00",
        sections="CIMD-02 §8.2; RFC 7523 §3; OIDC Core §9",
        text=(
            "The assertion verifies against a key from the document, with iss = sub = client_id "
            "URL, an aud naming this AS, and exp in the future."
        ),
        tier_note="R",
    ),
    _row(
        "CIMD-AUTHN-03",
        title="Replayed client assertions are refused",
        level="MAY/SHOULD",
        since="—",
        sections="RFC 7523 §3 (jti replay MAY be rejected); OIDC Core §9 (jti)",
        text="A replayed assertion is refused.",
        tier_note="A",
    ),
    _row(
        "CIMD-AUTHN-04",
        title="One client's assertion never authenticates another",
        level="MUST (derived)",
        since="—",
        sections="RFC 7523 §3; O21 §4.1.3",
        text="An assertion for one client never authenticates another.",
        tier_note="R",
    ),
    _row(
        "CIMD-AUTHN-05",
        title="Public client redeems code with verifier only",
        level="MUST (derived)",
        since="P00",
        sections="CIMD-02 §4.1, §8.2; O21 §4.1.3",
        text="A none client redeems its code with client_id and code_verifier only.",
        tier_note="R",
    ),
    _row(
        "CIMD-AUTHN-06",
        title="Keys removed from the document stop working",
        level="MUST via fresh metadata (revocation MAY)",
        since="P03/I01",
        sections="CIMD-02 §5, §8.4.1; atproto spec (bind the session to the key)",
        text="Once a key has left the re-fetched document, assertions signed with it fail.",
        tier_note="Rec",
    ),
    _row(
        "CIMD-AUTHN-07",
        title="jwks_uri fetch follows the SSRF rules",
        level="MUST NOT (I02) / SHOULD NOT (I01)",
        since="I01",
        sections="CIMD-02 §8.6",
        text="Fetching jwks_uri follows the SSRF rules.",
        tier_note="R (I02)",
    ),
    _row(
        "CIMD-AUTHN-08",
        title="Declared signing algorithm is enforced",
        level="SHOULD (derived)",
        since="—",
        sections="RFC 7591 §2 (token_endpoint_auth_signing_alg)",
        text="A declared signing algorithm is enforced.",
        tier_note="A",
    ),
    _row(
        "CIMD-AUTHN-09",
        title="URL client_id is not confusable with sub",
        level="SHOULD",
        since="—",
        sections="RFC 9700 §4.15.1",
        text=(
            "A client-chosen URL client_id must not be confusable with a resource-owner "
            "identifier (sub)."
        ),
        tier_note="I",
    ),
    _row(
        "CIMD-REDIR-01",
        title="redirect_uri matches a listed URI exactly",
        level="MUST",
        since="P00",
        sections=(
            "CIMD-02 §4.2 (CIMD-00 §4.5); RFC 9700 §2.1, §4.1.3; O21 §4.1.1; MCP §5.1.1, §11.5"
        ),
        text=(
            "redirect_uri must equal a listed URI by simple string comparison. The loopback port "
            "rule (REDIR-02) is the only exception."
        ),
        tier_note="R",
    ),
    _row(
        "CIMD-REDIR-02",
        title="Loopback IP redirect URIs accept any port",
        level="MUST",
        since="—",
        sections="RFC 8252 §7.3; O21 §4.1.1, §8.4.2; RFC 9700 §2.1, §4.1.3",
        text="Loopback IP-literal redirect URIs match whatever port the request uses.",
        tier_note="R",
    ),
    _row(
        "CIMD-REDIR-03",
        title="localhost redirect URIs accept any port",
        level="SHOULD (interop-critical)",
        since="—",
        sections=(
            'O21 §4.1.1 ("native apps using a localhost URI"); RFC 9700 §2.1 ("localhost '
            'redirection URIs"); RFC 8252 §8.3 (localhost NOT RECOMMENDED for clients)'
        ),
        text="The same port flexibility applies to the host name localhost.",
        tier_note="Rec",
    ),
    _row(
        "CIMD-REDIR-04",
        title="Loopback port flexibility relaxes only the port",
        level="MUST",
        since="—",
        sections="RFC 8252 §7.3 (port only); RFC 9700 §4.1.3",
        text="Loopback port flexibility relaxes nothing except the port.",
        tier_note="R",
    ),
    _row(
        "CIMD-REDIR-05",
        title="Request names a redirect URI when several listed",
        level="MUST",
        since="—",
        sections="O21 §2.3.2",
        text="When the document lists more than one redirect URI, the request must name one.",
        tier_note="R",
    ),
    _row(
        "CIMD-REDIR-06",
        title="User agent never sent to unverified redirect URI",
        level="MUST NOT",
        since="P00",
        sections="RFC 6749 §4.1.2.1; O21 §4.1.2.1, §7.12.2; RFC 9700 §4.11.2",
        text="The user agent is never sent to an unverified redirect URI.",
        tier_note="R",
    ),
    _row(
        "CIMD-REDIR-07",
        title="Code is bound to the receiving client",
        level="MUST",
        since="—",
        sections=(
            "O21 §4.1.2 (code bound to client_id, redirect URI, code challenge), §4.1.3, §3.2.4"
        ),
        text="A code is bound to the client that received it.",
        tier_note="R",
    ),
    _row(
        "CIMD-REDIR-08",
        title="Unknown clients cannot make an open redirector",
        level="MUST (O21) / SHOULD (MCP)",
        since="—",
        sections=(
            "O21 §7.12.2 (authenticate the user before redirecting; auto-redirect only to trusted"
            " URIs); MCP §11.5"
        ),
        text=(
            "Unknown CIMD clients must not turn the AS into an open redirector through error "
            "responses."
        ),
        tier_note="Rec",
    ),
    _row(
        "CIMD-REDIR-09",
        title="Redirect URIs may be restricted to client origin",
        level="MAY",
        since="P03",
        sections="CIMD-02 §8.1",
        text="The AS may require redirect URIs to share the origin of client_id or client_uri.",
        tier_note="I",
    ),
    _row(
        "CIMD-REDIR-10",
        title="PAR endpoint checks redirect URI against document",
        level="MUST",
        since="—",
        sections=(
            "RFC 9126 §2.1 (a pushed request is validated like an authorization request), §2.4; "
            "O21 §2.3.1"
        ),
        text=(
            "With PAR, the redirect URI is checked against the document at the PAR endpoint "
            "(exception: RFC 9126 §2.4 for authenticated clients; see Open Q 24)."
        ),
        tier_note="R (if PAR)",
    ),
    _row(
        "CIMD-ERR-01",
        title="Document failure aborts the authorization request",
        level="SHOULD (effectively MUST)",
        since="P00",
        sections=(
            "CIMD-02 §5.1 (CIMD-00 §4.3); RFC 9700 §2.1 (registration is mandatory, so the "
            "redirect URI cannot be verified without the document)"
        ),
        text="Any failure to obtain a valid document aborts the authorization request.",
        tier_note="R",
    ),
    _row(
        "CIMD-ERR-02",
        title="CIMD failures are never reported by redirect",
        level="MUST NOT",
        since="P00",
        sections=(
            'RFC 6749 & O21 §4.1.2.1 ("client identifier is missing or invalid"); CIMD-02 §6'
        ),
        text="CIMD failures are reported to the user, never through a redirect.",
        tier_note="R",
    ),
    _row(
        "CIMD-ERR-03",
        title="Error code for CIMD failures recorded",
        level="informational",
        since="—",
        sections=(
            "MCP §5.1.3 flow (invalid_client or invalid_request); RFC 6749 §5.2; RFC 9126 §2.3; "
            "PR #99 (proposes unauthorized_client)"
        ),
        text="Which error code is used.",
        tier_note="I",
    ),
    _row(
        "CIMD-ERR-04",
        title="Later errors redirect with error and state",
        level="MUST",
        since="—",
        sections="O21 §4.1.2.1; RFC 7636 §4.4.1",
        text=(
            "Once client and redirect URI are validated, other errors go back by redirect with "
            "error and the original state."
        ),
        tier_note="R",
    ),
    _row(
        "CIMD-ERR-05",
        title="Errors never reflect fetched content or internals",
        level="SHOULD (derived)",
        since="—",
        sections='MCP-SBP SSRF "Risks" (internal reconnaissance through errors); CIMD-02 §8.6',
        text="Errors never reflect fetched content or network internals.",
        tier_note="A",
    ),
    _row(
        "CIMD-SEC-01",
        title="No connection to special-use client_id hosts",
        level="MUST",
        since="I01 (SHOULD in P00\N{EN DASH}I00)",
        sections=(
            "CIMD-02 §8.6 (CIMD-01 §6.5); RFC 6890 and the current IANA special-purpose registries"
        ),
        text="The AS never connects to a client_id host that resolves to a special-use address.",
        tier_note="R (Rec in the -00 profile)",
    ),
    _row(
        "CIMD-SEC-02",
        title="Special-use IP literals and encodings are blocked",
        level="MUST",
        since="I01",
        sections="same",
        text="IP literals and their alternative encodings are blocked as well.",
        tier_note="R",
    ),
    _row(
        "CIMD-SEC-03",
        title="Connected address is the checked one (no rebinding)",
        level="MUST (derived)",
        since="I01",
        sections='CIMD-02 §8.6; MCP-SBP "DNS Resolution Considerations" (check-then-use)',
        text=(
            "The address actually connected to is the one that was checked, so DNS rebinding does"
            " not work."
        ),
        tier_note="R",
    ),
    _row(
        "CIMD-SEC-04",
        title="Loopback exception only in development deployments",
        level="MAY (dev) / MUST NOT (production)",
        since="I01 → I02",
        sections="CIMD-02 §8.6 (CIMD-01 §6.5)",
        text=(
            "The loopback exception is allowed only in development or test deployments, on the "
            "same loopback interface."
        ),
        tier_note="I/A",
    ),
    _row(
        "CIMD-SEC-05",
        title="Document URLs to special-use addresses never fetched",
        level="MUST NOT (I02) / SHOULD NOT (I01) / SHOULD avoid (P00)",
        since="P00",
        sections="CIMD-02 §8.6",
        text=(
            "URLs inside the document (logo_uri, jwks_uri, client_uri, tos_uri, policy_uri, links"
            " in a software statement) are never fetched when they resolve to special-use "
            "addresses."
        ),
        tier_note="R (I02) / Rec (I01)",
    ),
    _row(
        "CIMD-SEC-06",
        title="Non-http(s) URL schemes are never fetched",
        level="SHOULD",
        since="I02",
        sections="CIMD-02 §8.6",
        text="URLs with non-http(s) schemes are never fetched.",
        tier_note="Rec",
    ),
    _row(
        "CIMD-SEC-07",
        title="Network-level egress controls exist",
        level="SHOULD",
        since="I01",
        sections='CIMD-02 §8.6 ("network policies or other measures")',
        text="Network-level egress controls exist.",
        tier_note="I",
    ),
    _row(
        "CIMD-SEC-08",
        title="Document text is escaped when rendered",
        level="MUST (derived)",
        since="—",
        sections="O21 §7.11 (input validation); RFC 7591 §5 (metadata is self-asserted)",
        text="Text taken from the document is escaped when rendered.",
        tier_note="R",
    ),
    _row(
        "CIMD-SEC-09",
        title="Consent page cannot be framed",
        level="MUST",
        since="—",
        sections='O21 §7.10; RFC 9700 §4.16; MCP-SBP "Consent UI Requirements"',
        text="The consent page cannot be framed.",
        tier_note="R",
    ),
    _row(
        "CIMD-SEC-10",
        title="Domain-trust policies recorded",
        level="MAY",
        since="P03",
        sections="CIMD-02 §8.9; MCP §11.6.3",
        text="Domain-trust heuristics, allowlists, domain-age and reputation warnings.",
        tier_note="I",
    ),
    _row(
        "CIMD-SEC-11",
        title="Outbound fetch amplification is controlled",
        level="informational",
        since="—",
        sections='SEP-991 "Risk: DDoS"; oauth-wg issue #30',
        text="Outbound fetch amplification is controlled (per-host limits, caching).",
        tier_note="I",
    ),
    _row(
        "CIMD-CACHE-01",
        title="Caching follows HTTP cache headers",
        level="MAY cache; SHOULD honour RFC 9111",
        since="P00 / P03",
        sections="CIMD-02 §5.2 (CIMD-00 §4.4); MCP §5.1.1",
        text="Caching follows HTTP caching headers, within bounds the AS sets.",
        tier_note="Rec",
    ),
    _row(
        "CIMD-CACHE-02",
        title="Error responses are not cached",
        level="MUST NOT",
        since="P00",
        sections="CIMD-02 §5.2",
        text="Error responses are not cached.",
        tier_note="R",
    ),
    _row(
        "CIMD-CACHE-03",
        title="Invalid documents are not cached",
        level="MUST NOT",
        since="P00",
        sections="CIMD-02 §5.2",
        text="Invalid or malformed documents are not cached.",
        tier_note="R",
    ),
    _row(
        "CIMD-CACHE-04",
        title="Documents are re-fetched periodically",
        level="SHOULD (I02) / MAY set bounds (P03)",
        since="P03/I02",
        sections="CIMD-02 §5, §5.2",
        text="The AS re-fetches periodically, so stale metadata has a bounded lifetime.",
        tier_note="Rec",
    ),
    _row(
        "CIMD-CACHE-05",
        title="Cache keyed by the exact identifier string",
        level="MUST (derived)",
        since="P00",
        sections="CIMD-02 §3, §4",
        text=(
            "Cache entries are keyed by the exact identifier string; a cached document is never "
            "used for a different identifier."
        ),
        tier_note="R",
    ),
    _row(
        "CIMD-CACHE-06",
        title="304 answer to revalidation recorded",
        level="open",
        since="—",
        sections='RFC 9111 §4.3 vs CIMD-02 §5 ("all other HTTP status codes" are errors)',
        text="How a 304 answer to the AS's own conditional revalidation is treated.",
        tier_note="I",
    ),
    _row(
        "CIMD-CACHE-07",
        title="Expires header is honoured",
        level="informational",
        since="—",
        sections="RFC 9111 §5.3; oauth-wg PR #29 (an Expires proposal, not adopted)",
        text="Expires is honoured.",
        tier_note="I",
    ),
    _row(
        "CIMD-CACHE-08",
        title="Behaviour when a valid document starts failing",
        level="informational",
        since="—",
        sections='atproto spec "Possible Future Changes"; CIMD-02 §8.4',
        text="What happens when a previously valid document starts failing (404/5xx).",
        tier_note="I",
    ),
    _row(
        "CIMD-CACHE-09",
        title="Cache headers limit the fetch side channel",
        level="SHOULD",
        since="I02",
        sections="CIMD-02 §9.1",
        text="Cache headers are honoured to limit the fetch side channel.",
        tier_note="I",
    ),
    _row(
        "CIMD-CHG-01",
        title="Removed redirect URI stops working after refresh",
        level="SHOULD consider; MUST via REDIR-01",
        since="I01",
        sections="CIMD-02 §8.4; RFC 9700 §2.1",
        text=(
            "A redirect URI removed from the document stops working once the metadata is refreshed."
        ),
        tier_note="R",
    ),
    _row(
        "CIMD-CHG-02",
        title="Switch to private_key_jwt requires client authentication",
        level="MUST via AUTHN-01",
        since="I01/I02",
        sections="CIMD-02 §8.2, §8.4",
        text=(
            "Changing from none to private_key_jwt makes the following token requests require "
            "client authentication."
        ),
        tier_note="Rec",
    ),
    _row(
        "CIMD-CHG-03",
        title="Key change may revoke tokens or consent",
        level="MAY",
        since="P03",
        sections="CIMD-02 §8.4.1",
        text="A key change may lead the AS to revoke tokens or consent.",
        tier_note="I",
    ),
    _row(
        "CIMD-CHG-04",
        title="A different identifier URL is a different client",
        level="MUST (derived)",
        since="I02",
        sections="CIMD-02 §8.3; RFC 6749 §2.2",
        text="A different identifier URL is a different client.",
        tier_note="R",
    ),
    _row(
        "CIMD-CHG-05",
        title="Changed display metadata may invalidate consent",
        level="MAY",
        since="I01",
        sections="CIMD-02 §8.4",
        text="Changed display metadata may invalidate earlier consent.",
        tier_note="I",
    ),
    _row(
        "CIMD-UI-01",
        title="Consent screen shows the client_id host name",
        level="SHOULD",
        since="P00",
        sections=(
            'CIMD-02 §8.5 (CIMD-00 §6.4); MCP §11.6.3 ("display the CIMD and other associated '
            'client hostnames prominently")'
        ),
        text="The consent screen shows the client_id host name, besides any fetched information.",
        tier_note="Rec",
    ),
    _row(
        "CIMD-UI-02",
        title="Consent screen shows the redirect URI host",
        level="MUST (MCP)",
        since="I00",
        sections="MCP §11.6.2",
        text="The redirect URI host name is shown clearly.",
        tier_note="R (MCP; semi-automated)",
    ),
    _row(
        "CIMD-UI-03",
        title="Warning for localhost-only redirect URIs",
        level="SHOULD",
        since="I00",
        sections='MCP §11.6.2; SEP-991 "Localhost URL Impersonation"',
        text=(
            "There is an extra warning when the client's redirect URIs are only localhost or "
            "loopback."
        ),
        tier_note="Rec (manual)",
    ),
    _row(
        "CIMD-UI-04",
        title="Name and logo shown as unverified data",
        level="SHOULD (RFC 7591), with caution",
        since="P00",
        sections=(
            "CIMD-02 §8.5; RFC 7591 §2 (client_name, logo_uri display); atproto spec (hide for "
            "untrusted clients)"
        ),
        text="Client name and logo are shown, but presented as unverified, self-asserted data.",
        tier_note="I",
    ),
    _row(
        "CIMD-UI-05",
        title="Logo prefetched and served from AS storage",
        level="SHOULD",
        since="P02",
        sections="CIMD-02 §8.8, §9.2 (CIMD-00 §6.7)",
        text=(
            "The AS prefetches logo_uri, keeps it for the document's cache lifetime, and serves "
            "it from storage it controls."
        ),
        tier_note="Rec",
    ),
    _row(
        "CIMD-UI-06",
        title="Display of client, terms and policy URLs",
        level="informational",
        since="—",
        sections="RFC 7591 §2 (client_uri, tos_uri, policy_uri SHOULD be displayed); CIMD-02 §9.2",
        text="How the other URLs are shown and linked.",
        tier_note="I",
    ),
    _row(
        "CIMD-UI-07",
        title="MCP proxy AS keeps per-client consent",
        level="MUST (MCP proxy AS only)",
        since="I00",
        sections='MCP-SBP 2025-11-25 "Required Protections"',
        text=(
            "An MCP proxy that acts as an AS stores consent per client and shows the client name,"
            " the third-party scopes and the registered redirect_uri. It also has CSRF "
            "protection, anti-framing, and state handled only after consent."
        ),
        tier_note="R (if applicable)",
    ),
    _row(
        "CIMD-UI-08",
        title="CIMD Service clients marked as development or untrusted",
        level="RECOMMENDED/MAY",
        since="P03 → I02 App. A",
        sections="CIMD-02 Appendix A, §8.10",
        text=(
            "If the AS runs a CIMD Service, the clients it hosts are clearly marked as "
            "development or untrusted."
        ),
        tier_note="I",
    ),
    _row(
        "MCP-AUTH-01",
        title="AS supports CIMD",
        level="SHOULD",
        since="—",
        sections="MCP §3 item 2, §5.1",
        text="The AS supports CIMD.",
        tier_note="Rec",
    ),
    _row(
        "MCP-AUTH-02",
        title="AS metadata published at MCP discovery URLs",
        level="MUST",
        since="—",
        sections="MCP §3 item 5, §4.3; RFC 8414 §3, §3.3",
        text=(
            "The AS publishes RFC 8414 or OIDC Discovery metadata at the URLs MCP clients probe, "
            "including path insertion for issuers that have a path."
        ),
        tier_note="R",
    ),
    _row(
        "MCP-AUTH-03",
        title="CIMD-00 normative requirements apply",
        level="MUST",
        since="—",
        sections='MCP §5.1.1 ("MUST follow the requirements specified in" CIMD-00)',
        text="The normative CIMD-00 requirements apply.",
        tier_note="R",
    ),
    _row(
        "MCP-AUTH-04",
        title="Document client_id matches the URL exactly",
        level="MUST",
        since="—",
        sections="MCP §5.1.1",
        text="The fetched document's client_id matches the URL exactly.",
        tier_note="R",
    ),
    _row(
        "MCP-AUTH-05",
        title="Redirect URIs validated against the document",
        level="MUST",
        since="—",
        sections="MCP §5.1.1",
        text="Redirect URIs in the request are validated against the document.",
        tier_note="R",
    ),
    _row(
        "MCP-AUTH-06",
        title="Document is valid JSON with required fields",
        level="MUST",
        since="—",
        sections="MCP §5.1.1",
        text="The document is valid JSON and contains the required fields.",
        tier_note="R",
    ),
    _row(
        "MCP-AUTH-07",
        title="Metadata cached per HTTP cache headers",
        level="SHOULD",
        since="—",
        sections="MCP §5.1.1",
        text="Metadata is cached according to HTTP cache headers.",
        tier_note="Rec",
    ),
    _row(
        "MCP-AUTH-08",
        title="PKCE S256 is enforced and advertised",
        level="MUST",
        since="—",
        sections=(
            "MCP §3 item 1, §11.4; O21 §4.1.2.1, §7.5.2; RFC 9700 §2.1.1; RFC 7636 §4.4.1, §4.6"
        ),
        text="PKCE is enforced for CIMD public clients and can be detected from metadata.",
        tier_note="R",
    ),
    _row(
        "MCP-AUTH-09",
        title="OIDC Discovery lists code_challenge_methods_supported",
        level="MUST",
        since="—",
        sections="MCP §11.4",
        text=(
            "If the AS publishes OIDC Discovery, that document includes "
            "code_challenge_methods_supported."
        ),
        tier_note="R",
    ),
    _row(
        "MCP-AUTH-10",
        title="resource parameter never breaks the flow",
        level="MUST ignore if unsupported; SHOULD bind",
        since="—",
        sections=(
            "MCP §8, §11.1; RFC 6749 §3.1 (unrecognized parameters MUST be ignored); RFC 8707 §2"
        ),
        text=(
            "The resource parameter never breaks the flow. If the AS implements RFC 8707, tokens "
            "are audience-bound and bad values get invalid_target."
        ),
        tier_note="R / Rec",
    ),
    _row(
        "MCP-AUTH-11",
        title="Public-client refresh tokens are rotated",
        level="MUST",
        since="—",
        sections="MCP §11.2; O21 §4.3.1",
        text="Refresh tokens issued to public CIMD clients are rotated (or sender-constrained).",
        tier_note="R (if refresh tokens are issued)",
    ),
    _row(
        "MCP-AUTH-12",
        title="Access tokens are short-lived",
        level="SHOULD",
        since="—",
        sections="MCP §11.2",
        text="Access tokens are short-lived.",
        tier_note="I",
    ),
    _row(
        "MCP-AUTH-13",
        title="Every AS endpoint uses HTTPS",
        level="MUST",
        since="—",
        sections="MCP §11.3; O21 §1.5",
        text="Every AS endpoint is served over HTTPS.",
        tier_note="R",
    ),
    _row(
        "MCP-AUTH-14",
        title="Every redirect URI is localhost or HTTPS",
        level="MUST",
        since="—",
        sections="MCP §11.3",
        text="Every redirect URI is localhost or HTTPS.",
        tier_note="R",
    ),
    _row(
        "MCP-AUTH-15",
        title="Exact redirect matching, no untrusted automatic redirects",
        level="MUST / SHOULD",
        since="—",
        sections="MCP §11.5; O21 §7.12.2",
        text=(
            "Exact redirect matching; precautions against redirecting to untrusted URIs; "
            "automatic redirects only to trusted ones."
        ),
        tier_note="R / Rec",
    ),
    _row(
        "MCP-AUTH-16",
        title="CIMD security considerations and SSRF handling applied",
        level="MUST consider / SHOULD",
        since="—",
        sections="MCP §11.6, §11.6.1",
        text="The CIMD security considerations are applied; SSRF is handled.",
        tier_note="per row",
    ),
    _row(
        "MCP-AUTH-17",
        title="Localhost warning, attestation and redirect host display",
        level="SHOULD / MAY / MUST",
        since="—",
        sections="MCP §11.6.2",
        text=(
            "Localhost-only warning (SHOULD), optional attestation (MAY), redirect URI host shown"
            " (MUST)."
        ),
        tier_note="per row",
    ),
    _row(
        "MCP-AUTH-18",
        title="Trust policies for client_id domains",
        level="MAY",
        since="—",
        sections="MCP §11.6.3",
        text="Trust policies: allowlists, open acceptance, reputation, domain age.",
        tier_note="I",
    ),
    _row(
        "MCP-AUTH-19",
        title="iss sent in authorization responses",
        level="informational (SHOULD in MCP-2026)",
        since="—",
        sections="MCP 2026-07-28 basic/authorization (RFC 9207)",
        text=(
            "iss is sent in authorization responses and "
            "authorization_response_iss_parameter_supported is advertised."
        ),
        tier_note="I",
        # MCP 2026-07-28: "SHOULD include the iss parameter in authorization responses"
        profile_tiers=((MCP_2026, Tier.RECOMMENDED),),
    ),
    _row(
        "MCP-AUTH-20",
        title="DCR may coexist with CIMD",
        level="informational",
        since="—",
        sections="MCP §5 (client priority order), §5.3",
        text="DCR may coexist with CIMD; CIMD client_ids are portable across ASes (MCP-2026).",
        tier_note="I",
    ),
    # The MCP 2026-07-28 revision's new AS requirements (MCP_2026_ROWS; not in the Markdown).
    _row(
        "MCP-AUTH-21",
        title="iss and its metadata flag agree",
        level="MUST (MCP-2026; RFC 9207)",
        since="—",
        sections=(
            "MCP-2026 basic/authorization §Authorization Response Validation; RFC 9207 §2, §3"
        ),
        text=(
            "An AS that includes iss in authorization responses advertises "
            "authorization_response_iss_parameter_supported: true, and one that advertises it "
            "includes iss in every authorization response."
        ),
        tier_note="I (R in the mcp-2026-07-28 profile)",
        profile_tiers=((MCP_2026, Tier.REQUIRED),),
    ),
    _row(
        "MCP-AUTH-22",
        title="iss is the issuer identifier exactly",
        level="MUST (MCP-2026; RFC 9207)",
        since="—",
        sections=(
            "MCP-2026 basic/authorization §Authorization Response Validation; RFC 9207 §2.1, §2.4"
        ),
        text=(
            "The iss of an authorization response is the AS's issuer identifier character for "
            "character: clients compare it by simple string comparison, with no normalization."
        ),
        tier_note="I (R in the mcp-2026-07-28 profile)",
        profile_tiers=((MCP_2026, Tier.REQUIRED),),
    ),
)
"""Every authorization-server requirement of catalog §2.1 to §2.12, in document order, then
the MCP 2026-07-28 rows (:data:`MCP_2026_ROWS`)."""


MCP_2026_ROWS: Final = ("MCP-AUTH-21", "MCP-AUTH-22")
"""The rows taken from the MCP 2026-07-28 revision that the Markdown catalog does not list."""

MCP_2026_SOURCES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "MCP-AUTH-19": (
            "MCP 2026-07-28 basic/authorization §Authorization Response Validation: "
            '"MCP authorization servers SHOULD include the iss parameter in authorization '
            'responses, including error responses, as defined in RFC9207 Section 2." '
            "(changelog, minor change 7, SEP-2468)"
        ),
        "MCP-AUTH-20": (
            "MCP 2026-07-28 basic/authorization/client-registration §Dynamic Client "
            'Registration: "Dynamic Client Registration is deprecated." (still a MAY for ASes: '
            'recorded, not scored); §Authorization Server Binding: "Client IDs based on Client '
            'ID Metadata Documents are portable across authorization servers" (changelog, '
            "Deprecated 4, PR #2858)"
        ),
        "MCP-AUTH-21": (
            "MCP 2026-07-28 basic/authorization §Authorization Response Validation: "
            '"Authorization servers that include the iss parameter MUST advertise this by '
            "setting authorization_response_iss_parameter_supported to true in their "
            'metadata"; RFC 9207 §2: "an authorization server supporting this specification '
            'MUST indicate its identity by including the iss parameter in the response"; §3: '
            'the flag says "whether the authorization server provides the iss parameter" (a '
            "client rejects a response without iss when the flag is true)"
        ),
        "MCP-AUTH-22": (
            'RFC 9207 §2.1: "The iss parameter value is the issuer identifier of the '
            'authorization server that created the authorization response"; MCP 2026-07-28 '
            "basic/authorization §Authorization Response Validation: clients compare "
            '"using simple string comparison" and "MUST NOT apply scheme or host case '
            "folding, default-port elision, trailing-slash, or percent-encoding "
            'normalization"'
        ),
    }
)
"""Each row the "mcp-2026-07-28" profile scores or changes: its source and key sentence."""


def _index(catalog: tuple[Requirement, ...]) -> Mapping[str, Requirement]:
    index = {requirement.id: requirement for requirement in catalog}
    if len(index) != len(catalog):
        raise ValueError("the catalog has duplicate requirement IDs")
    return MappingProxyType(index)


REQUIREMENTS: Final[Mapping[str, Requirement]] = _index(CATALOG)
"""The catalog keyed by requirement ID (read-only)."""


CLIENT_CATALOG: Final = (
    _row(
        "MCP-CLI-01",
        title="CIMD URL used when the AS supports it",
        level="SHOULD",
        since="—",
        sections="MCP §5, §5.1.4",
        text=(
            "Use pre-registered credentials if available; otherwise CIMD when the AS advertises "
            "client_id_metadata_document_supported: true; otherwise DCR; otherwise prompt the "
            "user."
        ),
        tier_note="Rec",
    ),
    _row(
        "MCP-CLI-02",
        title="Document published with the MCP members",
        level="MUST",
        since="—",
        sections="MCP §5.1.1",
        text=(
            "Host the document at an https URL with a path; include client_id, client_name and "
            "redirect_uris; client_id equals the URL."
        ),
        tier_note="R",
    ),
    _row(
        "MCP-CLI-03",
        title="private_key_jwt with a JWKS",
        level="MAY",
        since="—",
        sections="MCP §5.1.1",
        text="Use private_key_jwt with a JWKS in the document.",
        tier_note="I",
    ),
    _row(
        "MCP-CLI-04",
        title="PKCE S256; no PKCE, no authorization",
        level="MUST",
        since="—",
        sections="MCP §11.4; O21 §4.1.1",
        text=(
            "PKCE with S256. Refuse to continue if code_challenge_methods_supported is missing "
            "from the AS metadata."
        ),
        tier_note="R",
    ),
    _row(
        "MCP-CLI-05",
        title="resource in authorization and token requests",
        level="MUST",
        since="—",
        sections="MCP §8; RFC 8707",
        text=(
            "Send resource (the canonical MCP server URI) in both the authorization and the "
            "token request, even if the AS does not support it."
        ),
        tier_note="R",
    ),
    _row(
        "MCP-CLI-06",
        title="redirect_uri from the document",
        level="MUST",
        since="—",
        sections="MCP §11.5; CIMD-02 §4.2",
        text="The redirect_uri sent is one the document lists, apart from the loopback port.",
        tier_note="R",
    ),
    _row(
        "MCP-CLI-07",
        title="state sent and checked",
        level="SHOULD",
        since="—",
        sections="MCP §11.5",
        text=(
            "Send state, check it on return, and discard responses with a missing or wrong state."
        ),
        tier_note="Rec",
    ),
    _row(
        "MCP-CLI-08",
        title="RFC 9728 then RFC 8414 discovery",
        level="MUST",
        since="—",
        sections="MCP §4.2, §4.3",
        text=(
            "Discover the AS via RFC 9728 (the WWW-Authenticate resource_metadata, else the "
            "well-known URLs), then RFC 8414/OIDC metadata in the priority order."
        ),
        tier_note="R",
    ),
    _row(
        "MCP-CLI-09",
        title="No Basic with an empty secret",
        level="MUST (derived interop)",
        since="—",
        sections="RFC 6749 §2.3.1, §4.1.3; O21 §4.1.3",
        text=(
            "With none, send client_id in the token request body and no Authorization: Basic "
            "header with an empty secret."
        ),
        tier_note="R",
    ),
    _row(
        "MCP-CLI-10",
        title="Redirect URIs localhost or https",
        level="MUST",
        since="—",
        sections="MCP §11.3",
        text="Redirect URIs are localhost or https.",
        tier_note="R",
    ),
    _row(
        "MCP-CLI-11",
        title="iss of the authorization response checked",
        level="MUST (MCP-2026 only)",
        since="—",
        sections="MCP 2026-07-28",
        text=(
            "Record the AS issuer; check iss in the authorization response when present; CIMD "
            "client_ids are reusable across ASes."
        ),
        tier_note="I (R in the mcp-2026-07-28 profile)",
        profile_tiers=((MCP_2026, Tier.REQUIRED),),
    ),
)
"""The MCP client rows of catalog §3.2, in document order (``run-client`` scores them)."""

CLIENT_REQUIREMENTS: Final[Mapping[str, Requirement]] = _index(CLIENT_CATALOG)
"""The client rows keyed by requirement ID (read-only)."""
