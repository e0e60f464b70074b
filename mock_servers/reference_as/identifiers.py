"""Client Identifier URLs: raw syntax checks, the fetch URL, and raw URI pieces.

CIMD-02 §3 rules are checked on the raw string, before any parser touches it: URL libraries
(WHATWG ``new URL()``, httpx) silently remove dot segments and drop fragments, so a check made
after parsing would pass exactly the identifiers it must refuse.
"""

from __future__ import annotations

import re

from cimd_rules.client_id import syntax_problems

# re-exported: the reference AS's modules import them from here
from cimd_rules.uri import RawURI as RawURI
from cimd_rules.uri import split_uri as split_uri

from .faults import F, FaultSet

_PERCENT = re.compile(r"%([0-9A-Fa-f]{2})")
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
# Each URL fault skips one rule of cimd_rules.client_id.
_WAIVED_BY = {
    "http-scheme": F.ALLOWS_HTTP_CLIENT_ID,
    "fragment": F.ALLOWS_FRAGMENT,
    "userinfo": F.ALLOWS_USERINFO,
    "no-path": F.ALLOWS_EMPTY_PATH,
    "dot-segments": F.IGNORES_DOT_SEGMENTS,
}


class ClientIdSyntaxError(ValueError):
    """The identifier breaks a CIMD-02 §3 syntax rule; the message says which."""


def check_client_id(identifier: str, faults: FaultSet) -> str:
    """Check the raw identifier and return the URL to fetch its document from.

    Without faults the fetch URL is the identifier itself (CIMD-FETCH-02). The URL faults
    skip their check and reproduce what the URL library would then do to the string.

    Raises:
        ClientIdSyntaxError: the identifier breaks a syntax rule that is not faulted away.
    """
    for problem in syntax_problems(identifier):
        waived_by = _WAIVED_BY.get(problem.kind)
        if waived_by is None or not faults.has(waived_by):
            raise ClientIdSyntaxError(problem.message)
    parts = split_uri(identifier)
    return _fetch_url(parts, identifier, faults)


def _fetch_url(parts: RawURI, identifier: str, faults: FaultSet) -> str:
    rebuilt = faults.has(F.IGNORES_DOT_SEGMENTS) or faults.has(F.FETCH_DROPS_QUERY)
    if parts.fragment is None and not rebuilt:
        return identifier
    path = remove_dot_segments(parts.path) if faults.has(F.IGNORES_DOT_SEGMENTS) else parts.path
    query = "" if parts.query is None else "?" + parts.query
    if faults.has(F.FETCH_DROPS_QUERY):  # the fault: scheme, host and path only
        query = ""
    return f"{parts.scheme}://{parts.authority}{path}{query}"


def as_read_by_url_library(identifier: str) -> str:
    """The URL a lenient URL library would fetch for ``identifier``.

    The ``syntax-checked-after-fetch`` fault fetches this before checking the raw string:
    no fragment, no userinfo, dot segments removed, an empty path read as ``/``.
    """
    parts = split_uri(identifier)
    hostport = (parts.authority or "").rpartition("@")[2]
    path = remove_dot_segments(parts.path) or "/"
    query = "" if parts.query is None else "?" + parts.query
    return f"{parts.scheme}://{hostport}{path}{query}"


def remove_dot_segments(path: str) -> str:
    """RFC 3986 §5.2.4, as URL libraries apply it to every path they parse."""
    output: list[str] = []
    rest = path
    while rest:
        if rest.startswith(("../", "./")):
            rest = rest.partition("/")[2]
        elif rest.startswith("/./") or rest == "/.":
            rest = "/" + rest[3:]
        elif rest.startswith("/../") or rest == "/..":
            rest = "/" + rest[4:]
            if output:
                output.pop()
        elif rest in (".", ".."):
            rest = ""
        else:
            end = rest.find("/", 1)
            segment = rest if end == -1 else rest[:end]
            output.append(segment)
            rest = rest[len(segment) :]
    return "".join(output)


def normalize_identifier(value: str) -> str:
    """The normalization that the ``normalizes-client-id`` fault wrongly applies.

    Lower-cases scheme and host, drops ``:443``, strips one trailing ``/``, decodes
    percent-encoded unreserved characters and sorts the query parameters.
    """
    parts = split_uri(value)
    scheme = (parts.scheme or "").lower()
    userinfo, at, hostport = (parts.authority or "").rpartition("@")
    hostport = hostport.lower().removesuffix(":443") if scheme == "https" else hostport.lower()
    path = _decode_unreserved(parts.path).removesuffix("/")
    query = "" if parts.query is None else "?" + "&".join(sorted(parts.query.split("&")))
    return f"{scheme}://{userinfo}{at}{hostport}{path}{_decode_unreserved(query)}"


def _decode_unreserved(text: str) -> str:
    def decode(match: re.Match[str]) -> str:
        char = chr(int(match[1], 16))
        return char if char in _UNRESERVED else match[0].upper()

    return _PERCENT.sub(decode, text)
