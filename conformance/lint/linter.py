"""One lint: a document from a file or a URL, through every rule that applies.

With a FILE only the static rules run; the URL they judge is ``--url`` when given, else the
document's own ``client_id``. With a URL the document is fetched (:mod:`.fetch`) and the live
rules run too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from cimd_rules.client_id import syntax_problems
from conformance.lint import document_rules, expiry, live, profiles, uri_members
from conformance.lint.fetch import (
    MAX_BYTES,
    Answer,
    TlsRefused,
    Unreachable,
    client,
    get,
    tls_context,
)
from conformance.lint.findings import Finding, LintResult
from conformance.lint.url_rules import url_findings

OTHER_USER_AGENT = "Mozilla/5.0 (compatible; cimd-conformance-lint)"


def static_findings(body: bytes, url: str | None, profile: str) -> tuple[list[Finding], Any]:
    """The static rules on ``body`` (and ``url``, when known); also the parsed document."""
    found = [*document_rules.size_finding(len(body))]
    try:
        doc = document_rules.parse(body)
    except document_rules.NotADocument as exc:
        return [*found, document_rules.not_json_finding(str(exc))], None
    if url is None and isinstance(doc.get("client_id"), str):
        url = doc["client_id"]
    if url is not None:
        found += url_findings(url)
    found += document_rules.document_findings(doc, url)
    found += profiles.required_member_findings(doc, profile)
    found += uri_members.redirect_uri_findings(doc, profile)
    found += uri_members.display_url_findings(doc, url)
    if profile == "atproto":
        found += profiles.atproto_findings(doc, url)
    return found, doc


def lint_file(
    path: Path, *, url: str | None = None, profile: str = "mcp", allow_special_use: bool = False
) -> LintResult:
    """Lint the document in ``path`` with the static rules.

    Args:
        path: the JSON file.
        url: the URL it is served at (default: its ``client_id``).
        profile: ``mcp``, ``cimd`` or ``atproto``.
        allow_special_use: a development host: a special-use IP literal host is no error.
    """
    result = LintResult(source=str(path), profile=profile)
    try:
        with path.open("rb") as file:
            body = file.read(MAX_BYTES + 1)
    except OSError as exc:
        hint = "; a URL needs its scheme (https://...)" if not path.exists() else ""
        result.problem = f"cannot read the file ({exc.strerror or exc}){hint}"
        return result
    if len(body) > MAX_BYTES:
        result.findings = document_rules.cut_off_findings(MAX_BYTES)
        result.url = url
        return result
    result.findings, doc = static_findings(body, url, profile)
    claimed = doc.get("client_id") if isinstance(doc, dict) else None
    result.url = url if url is not None else claimed if isinstance(claimed, str) else None
    if result.url is not None and not allow_special_use:
        result.findings += live.literal_address_findings(result.url)
    return result


def lint_url(url: str, *, profile: str = "mcp", options: live.LiveOptions) -> LintResult:
    """Lint the document served at ``url``: the static rules, then the live ones."""
    result = LintResult(source=url, url=url, profile=profile)
    if syntax_problems(url):  # an AS refuses the URL before any fetch (CIMD-URL-09)
        note = Finding(
            "CIMD-PUB-03",
            "info",
            "client_id URL",
            "not fetched: no AS fetches a URL that breaks CIMD-PUB-01",
            "fix the URL, then lint it again",
        )
        result.findings = [*url_findings(url), note]
        return result
    result.live = True
    try:
        result.findings = _live(url, profile, options)
    except Unreachable as exc:
        result.problem = f"{exc}. Check the URL and that this machine can reach it"
        return result
    if options.rdap_bootstrap is not None:
        with client(tls_context(options.ca_file), options.timeout_s) as http:
            result.findings += expiry.expiry_findings(
                http, url, options.rdap_bootstrap, options.timeout_s
            )
    return result


def _live(url: str, profile: str, options: live.LiveOptions) -> list[Finding]:
    found = live.address_findings(url, options)
    with client(tls_context(options.ca_file), options.timeout_s) as http:
        try:
            first = get(http, url, options.timeout_s, accept="application/json")
        except TlsRefused as exc:
            return [*url_findings(url), *found, live.tls_finding(url, exc)]
        if first.status != 200:
            return [*url_findings(url), *found, live.status_finding(first)]
        found += live.answer_findings(first)
        if first.truncated:
            return [
                *url_findings(url),
                *found,
                *document_rules.cut_off_findings(MAX_BYTES),
            ]
        found += live.same_answer_finding(first, _second_fetch(http, url, options.timeout_s))
        static, doc = static_findings(first.body, url, profile)
        found += static
        if isinstance(doc, dict):
            found += live.jwks_uri_findings(http, doc, options.timeout_s)
            found += live.logo_findings(http, doc, options.timeout_s)
    return found


def _second_fetch(http: httpx.Client, url: str, timeout_s: float) -> Answer | str:
    """The document fetched again as another requester (PUB-16), or why that failed."""
    try:
        return get(http, url, timeout_s, accept="*/*", **{"user-agent": OTHER_USER_AGENT})
    except (TlsRefused, Unreachable) as exc:
        return str(exc)
