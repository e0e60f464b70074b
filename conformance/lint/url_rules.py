"""Static rules on the Client Identifier URL itself: CIMD-PUB-01 and CIMD-PUB-02.

Checked on the raw string (:mod:`cimd_rules.client_id`, the rules the reference AS applies),
never on what a URL parser makes of it.
"""

from __future__ import annotations

from cimd_rules.client_id import syntax_problems
from cimd_rules.uri import split_uri
from conformance.lint.findings import Finding, quoted

MAX_LENGTH = 255
# Link shorteners answer with redirects, which no AS follows (CIMD-02 §5).
SHORTENERS = frozenset(
    {
        "bit.ly",
        "buff.ly",
        "cutt.ly",
        "goo.gl",
        "is.gd",
        "ow.ly",
        "rebrand.ly",
        "shorturl.at",
        "t.co",
        "t.ly",
        "tiny.cc",
        "tinyurl.com",
    }
)
_FIXES = {
    "control": "remove the whitespace and control characters",
    "http-scheme": "serve the document over https and use the https URL",
    "scheme": "use an https URL",
    "fragment": "remove the '#...' part",
    "no-host": "name the host serving the document",
    "userinfo": "remove the 'user:password@' part",
    "no-path": "serve the document at a path, e.g. https://host/oauth/client.json",
    "dot-segments": "write the path without '.' and '..' segments",
}


def url_findings(url: str) -> list[Finding]:
    """The CIMD-PUB-01 errors and CIMD-PUB-02 warnings of ``url``."""
    found = [
        Finding(
            "CIMD-PUB-01", "error", "client_id URL", f"{p.message}: {quoted(url)}", _FIXES[p.kind]
        )
        for p in syntax_problems(url)
    ]
    return found + _shape_warnings(url)


def _shape_warnings(url: str) -> list[Finding]:
    parts = split_uri(url)
    found = []
    where = "client_id URL"

    def warn(message: str, fix: str) -> None:
        found.append(Finding("CIMD-PUB-02", "warning", where, message, fix))

    if parts.query is not None:
        warn(
            "the URL has a query component (CIMD-02 §3: SHOULD NOT); some ASes refuse it",
            "serve the document at a path without '?...'",
        )
    if parts.path == "/":
        warn(
            "the URL's path is '/' (NOT RECOMMENDED by CIMD-02 §3; some ASes refuse it)",
            "serve the document at its own path, e.g. /oauth/client.json",
        )
    if parts.host_port()[0].lower() in SHORTENERS:
        warn(
            f"{quoted(parts.host_port()[0])} is a link shortener: it redirects, and no AS "
            "follows redirects",
            "use the URL that serves the document itself",
        )
    if len(url) > MAX_LENGTH:
        warn(
            f"the URL is {len(url)} characters long (more than {MAX_LENGTH})",
            "use a short, stable URL",
        )
    return found
