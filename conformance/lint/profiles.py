"""Rules that depend on the profile: required members (PUB-08) and atproto's (PUB-20).

Profiles: ``mcp`` (the default: MCP 2025-11-25 §5.1.1 requires client_id, client_name and
redirect_uris), ``cimd`` (the draft alone: client_name is advised, not required) and
``atproto`` (``cimd`` plus the atproto OAuth client rules).
"""

from __future__ import annotations

from typing import Any

from cimd_rules.redirect_uris import is_loopback_http
from cimd_rules.uri import split_uri
from conformance.lint.findings import Finding, Severity, quoted

PROFILES = ("mcp", "cimd", "atproto")


def required_member_findings(doc: dict[str, Any], profile: str) -> list[Finding]:
    """CIMD-PUB-08: client_name and a non-empty array of redirect URIs."""
    found = []
    name = doc.get("client_name")
    if not isinstance(name, str) or not name.strip():
        severity: Severity = "error" if profile == "mcp" else "warning"
        found.append(
            Finding(
                "CIMD-PUB-08",
                severity,
                "client_name",
                "no client_name (MCP §5.1.1 requires it; ASes show it to users)",
                "add a client_name",
            )
        )
    uris = doc.get("redirect_uris")
    if not isinstance(uris, list) or not uris:
        # Without redirect URIs no authorization-code flow can finish (CIMD-DOC-08).
        found.append(
            Finding(
                "CIMD-PUB-08",
                "error",
                "redirect_uris",
                f"redirect_uris is {quoted(uris) if 'redirect_uris' in doc else 'absent'}"
                ", not a non-empty array",
                "list the client's redirect URIs",
            )
        )
    return found


def atproto_findings(doc: dict[str, Any], url: str | None) -> list[Finding]:
    """CIMD-PUB-20: the atproto OAuth client rules (only under ``--profile atproto``)."""
    problems = []
    if doc.get("dpop_bound_access_tokens") is not True:
        problems.append(
            ("dpop_bound_access_tokens", "dpop_bound_access_tokens is not true", "set it to true")
        )
    scope = doc.get("scope")
    if not isinstance(scope, str) or "atproto" not in scope.split():
        problems.append(("scope", "scope does not include atproto", 'include "atproto"'))
    if url:
        parts = split_uri(url)
        host, port = parts.host_port()
        if port is not None or parts.path.endswith("/"):
            problems.append(
                (
                    "client_id URL",
                    "the client_id URL has a port or a trailing slash",
                    "serve the document without a port, at a path not ending in /",
                )
            )
        problems += _atproto_uris(doc, parts.scheme or "", host)
    return [Finding("CIMD-PUB-20", "error", where, what, fix) for where, what, fix in problems]


def _atproto_uris(doc: dict[str, Any], scheme: str, host: str) -> list[tuple[str, str, str]]:
    problems = []
    origin = f"{scheme}://{host}"
    client_uri = doc.get("client_uri")
    if isinstance(client_uri, str) and split_uri(client_uri).host_port()[0] != host:
        problems.append(
            (
                "client_uri",
                f"{quoted(client_uri)} is not on {host}",
                "serve client_uri from the client_id's host",
            )
        )
    reversed_host = ".".join(reversed(host.split(".")))
    uris = doc.get("redirect_uris")
    for index, uri in enumerate(uris if isinstance(uris, list) else []):
        if not isinstance(uri, str):
            continue  # PUB-10 reports it
        parts = split_uri(uri)
        same_origin = f"{parts.scheme}://{parts.host_port()[0]}" == origin
        native = parts.scheme == reversed_host
        if not (same_origin or native) or is_loopback_http(uri):
            problems.append(
                (
                    f"redirect_uris[{index}]",
                    f"{quoted(uri)} is neither on {origin} nor uses the scheme {reversed_host}",
                    "use the client_id's origin, or its reversed host as scheme",
                )
            )
    return problems
