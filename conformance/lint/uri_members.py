"""Static rules on the URLs a document lists: redirect URIs (PUB-10), display URLs (PUB-12).

A redirect URI's form is judged by :mod:`cimd_rules.redirect_uris`, the rule the reference AS
applies when it reads a document; the lint adds what the publisher should also know.
"""

from __future__ import annotations

from typing import Any

from cimd_rules.redirect_uris import form_problems, is_loopback_http
from cimd_rules.uri import split_uri
from conformance.lint.findings import Finding, quoted

DISPLAY_URLS = ("client_uri", "logo_uri", "tos_uri", "policy_uri")
ACTIVE_SCHEMES = frozenset({"javascript", "data", "file", "vbscript"})
_FORM = {
    "relative": ("is relative", "list absolute URIs"),
    "no-host": ("names no host", "list absolute URIs with a host"),
    "fragment": ("has a fragment (RFC 6749 §3.1.2)", "remove the '#...' part"),
    "http-not-loopback": (
        "is http on a host that is not loopback (RFC 9700 §2.6, MCP §11.3)",
        "use https, or http://127.0.0.1 for a native client",
    ),
}


def redirect_uri_findings(doc: dict[str, Any], profile: str) -> list[Finding]:
    """CIMD-PUB-10 for each entry of ``redirect_uris`` (its presence is PUB-08's)."""
    uris = doc.get("redirect_uris")
    if not isinstance(uris, list):
        return []
    found = []
    for index, uri in enumerate(uris):
        where = f"redirect_uris[{index}]"
        if not isinstance(uri, str):
            found.append(
                Finding(
                    "CIMD-PUB-10",
                    "error",
                    where,
                    f"not a string: {quoted(uri)}",
                    "list URI strings",
                )
            )
            continue
        found += [_finding(where, uri, problem, profile) for problem in form_problems(uri)]
        if "*" in uri:
            found.append(
                Finding(
                    "CIMD-PUB-10",
                    "error",
                    where,
                    f"{quoted(uri)} has a wildcard; ASes compare redirect URIs as exact strings",
                    "list every redirect URI in full",
                )
            )
        if is_loopback_http(uri):
            found += _loopback_notes(where, uri)
    return found


def _finding(where: str, uri: str, problem: str, profile: str) -> Finding:
    if problem != "private-use-scheme":
        what, fix = _FORM[problem]
        return Finding("CIMD-PUB-10", "error", where, f"{quoted(uri)} {what}", fix)
    scheme = split_uri(uri).scheme or ""
    if "." not in scheme:
        return Finding(
            "CIMD-PUB-10",
            "error",
            where,
            f"the private-use scheme {quoted(scheme)} is not a reverse-DNS name (RFC 8252 §7.1)",
            "use a scheme like com.example.app:/callback",
        )
    if profile == "mcp":
        return Finding(
            "CIMD-PUB-10",
            "warning",
            where,
            f"{quoted(uri)} is neither localhost nor https (MCP §11.3)",
            "MCP ASes may refuse private-use schemes; use a loopback redirect URI",
        )
    return Finding(
        "CIMD-PUB-10",
        "info",
        where,
        f"{quoted(uri)} uses a private-use scheme",
        "some ASes refuse private-use schemes; list a loopback URI too",
    )


def _loopback_notes(where: str, uri: str) -> list[Finding]:
    host, port = split_uri(uri).host_port()
    if host.lower() == "localhost":
        return [
            Finding(
                "CIMD-PUB-10",
                "warning",
                where,
                f"{quoted(uri)} uses localhost; some ASes give the port flexibility "
                "of RFC 8252 §7.3 only to loopback IP literals",
                "prefer http://127.0.0.1/... (list both for compatibility)",
            )
        ]
    if port is not None:
        return [
            Finding(
                "CIMD-PUB-10",
                "info",
                where,
                f"{quoted(uri)} names port {port}",
                "leave the port out if the client binds an ephemeral port",
            )
        ]
    return []


def display_url_findings(doc: dict[str, Any], url: str | None) -> list[Finding]:
    """CIMD-PUB-12 for ``client_uri``, ``logo_uri``, ``tos_uri`` and ``policy_uri``."""
    home = split_uri(url).host_port()[0].lower() if url else None
    found = []
    for member in DISPLAY_URLS:
        if member not in doc:
            continue
        value = doc[member]
        scheme = (split_uri(value).scheme or "").lower() if isinstance(value, str) else ""
        if scheme in ACTIVE_SCHEMES:
            found.append(
                Finding(
                    "CIMD-PUB-12",
                    "error",
                    member,
                    f"{quoted(value, 60)} is a {scheme}: URL; ASes must not render or fetch it",
                    "use an https URL",
                )
            )
        elif scheme != "https" or not split_uri(value).authority:
            found.append(
                Finding(
                    "CIMD-PUB-12",
                    "warning",
                    member,
                    f"{quoted(value, 60)} is not an absolute https URL",
                    "use an absolute https URL",
                )
            )
        elif home and split_uri(value).host_port()[0].lower() != home:
            found.append(
                Finding(
                    "CIMD-PUB-12",
                    "info",
                    member,
                    f"{quoted(value, 60)} is on another host than the client_id",
                    "ASes may hide URLs on other hosts; prefer the client_id's",
                )
            )
    return found
