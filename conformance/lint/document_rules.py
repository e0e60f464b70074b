"""Static rules on the document's members, its JSON and its size.

JSON (PUB-04), identity (PUB-05), credentials and keys (PUB-06, PUB-07, PUB-09, PUB-18,
PUB-19), flow types (PUB-11), size (PUB-13).

The redirect and display URLs (PUB-10, PUB-12) are :mod:`~conformance.lint.uri_members`'s;
the profile rules (PUB-08, PUB-20) :mod:`~conformance.lint.profiles`'.
"""

from __future__ import annotations

import json
from typing import Any

from cimd_rules.credentials import PRIVATE_KEY_MEMBERS, SECRET_MEMBERS, SHARED_SECRET_METHODS
from cimd_rules.redirect_uris import is_loopback_http
from cimd_rules.uri import split_uri
from conformance.lint.findings import Finding, quoted
from conformance.lint.keys import key_findings

SIZE_LIMIT = 5000  # CIMD-02 §8.7 says 5 kilobytes; 5,000 bytes fits either reading


class NotADocument(ValueError):
    """The bytes are not a JSON object (CIMD-PUB-04); the message says why."""


def parse(body: bytes) -> dict[str, Any]:
    """The document, read as strictly as an AS reads it (RFC 8259, no duplicate names).

    Raises:
        NotADocument: not UTF-8, not JSON, a duplicated member name, or not an object.
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise NotADocument("the body is not UTF-8 text") from None
    decoder = json.JSONDecoder(object_pairs_hook=_unique, parse_constant=_no_constant)
    try:
        value = decoder.decode(text)
    except ValueError as exc:
        raise NotADocument(f"the body is not JSON ({exc})") from None
    if not isinstance(value, dict):
        raise NotADocument(f"the body is JSON but not an object (a {type(value).__name__})")
    return value


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    members = dict(pairs)
    if len(members) != len(pairs):
        names = [name for name, _ in pairs]
        twice = next(name for i, name in enumerate(names) if name in names[:i])
        raise ValueError(f"member {quoted(twice)} appears twice")
    return members


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def not_json_finding(reason: str) -> Finding:
    """The CIMD-PUB-04 error for a body that is not a JSON object."""
    return Finding(
        "CIMD-PUB-04",
        "error",
        "body",
        reason,
        "serve one JSON object (RFC 8259), UTF-8, each member name once",
    )


def size_finding(size: int, *, cut_off: bool = False) -> list[Finding]:
    """CIMD-PUB-13: the document stays under 5,000 bytes.

    ``cut_off``: the lint stopped reading after ``size`` bytes; the body is longer.
    """
    if size <= SIZE_LIMIT:
        return []
    length = (
        f"more than {size:,} bytes (the lint stopped reading)" if cut_off else f"{size:,} bytes"
    )
    return [
        Finding(
            "CIMD-PUB-13",
            "warning",
            "body",
            f"the document is {length}; ASes may stop reading at 5 KB (CIMD-02 §8.7)",
            "keep the document under 5,000 bytes",
        )
    ]


def cut_off_findings(limit: int) -> list[Finding]:
    """A body longer than ``limit`` bytes: too big for PUB-13, and unreadable (PUB-04).

    ASes stop reading long before (CIMD-FETCH-06), so such a document is refused everywhere.
    """
    unread = not_json_finding(
        f"the body is longer than {limit:,} bytes; the lint stopped reading, as ASes do"
    )
    return [*size_finding(limit, cut_off=True), unread]


def document_findings(doc: dict[str, Any], url: str | None) -> list[Finding]:
    """The findings of the rules in this module for ``doc`` served at ``url``."""
    return [
        *_identity(doc, url),
        *_secrets(doc),
        *_secret_looking(doc),
        *key_findings(doc),
        *_auth_method(doc),
        *_flow_types(doc),
    ]


def _identity(doc: dict[str, Any], url: str | None) -> list[Finding]:
    claimed = doc.get("client_id")
    fix = "set client_id to the exact URL the document is served at"
    if "client_id" not in doc:
        return [Finding("CIMD-PUB-05", "error", "client_id", "the document has no client_id", fix)]
    if not isinstance(claimed, str):
        return [
            Finding(
                "CIMD-PUB-05",
                "error",
                "client_id",
                f"client_id is not a string: {quoted(claimed)}",
                fix,
            )
        ]
    if url is not None and claimed != url:
        at = next(
            (i for i, (a, b) in enumerate(zip(claimed, url, strict=False)) if a != b),
            min(len(claimed), len(url)),
        )
        return [
            Finding(
                "CIMD-PUB-05",
                "error",
                "client_id",
                f"client_id {quoted(claimed)} is not the URL {quoted(url)} (they "
                f"differ from character {at + 1}; ASes compare them byte for byte)",
                fix,
            )
        ]
    return []


def _secrets(doc: dict[str, Any]) -> list[Finding]:
    found = [
        Finding(
            "CIMD-PUB-06",
            "error",
            member,
            f"the document publishes {member} (CIMD-02 §4.1: MUST NOT)",
            f"remove {member}; a published secret is no credential",
        )
        for member in SECRET_MEMBERS
        if member in doc
    ]
    method = doc.get("token_endpoint_auth_method")
    if method in SHARED_SECRET_METHODS:
        found.append(
            Finding(
                "CIMD-PUB-06",
                "error",
                "token_endpoint_auth_method",
                f"{quoted(method)} needs a shared secret (CIMD-02 §4.1: MUST NOT)",
                'use "none" (public client) or "private_key_jwt"',
            )
        )
    for index, key in _jwks_keys(doc):
        private = sorted(PRIVATE_KEY_MEMBERS & key.keys())
        if private:
            found.append(
                Finding(
                    "CIMD-PUB-06",
                    "error",
                    f"jwks.keys[{index}]",
                    f"the key carries private or symmetric material ({', '.join(private)})",
                    "publish only the public key; replace the exposed key pair",
                )
            )
    return found


def _secret_looking(doc: dict[str, Any]) -> list[Finding]:
    # CIMD-PUB-19: extension members are fine; one named like a secret probably is one
    return [
        Finding(
            "CIMD-PUB-19",
            "warning",
            name,
            f"the member {quoted(name)} looks like a secret",
            "never publish secrets",
        )
        for name in doc
        if "secret" in name.lower() and name not in SECRET_MEMBERS
    ]


def _jwks_keys(doc: dict[str, Any]) -> list[tuple[int, dict[str, Any]]]:
    jwks = doc.get("jwks")
    keys = jwks.get("keys") if isinstance(jwks, dict) else None
    if not isinstance(keys, list):
        return []
    return [(i, key) for i, key in enumerate(keys) if isinstance(key, dict)]


def _auth_method(doc: dict[str, Any]) -> list[Finding]:
    method = doc.get("token_endpoint_auth_method")
    if "token_endpoint_auth_method" not in doc:
        return [
            Finding(
                "CIMD-PUB-09",
                "warning",
                "token_endpoint_auth_method",
                "absent: RFC 7591 would default to client_secret_basic, which CIMD "
                "prohibits, and ASes differ on what they do",
                'declare "none" (public client) or "private_key_jwt"',
            )
        ]
    uris = doc.get("redirect_uris")
    web = doc.get("application_type") == "web" or (
        isinstance(uris, list)
        and bool(uris)
        and all(isinstance(u, str) and split_uri(u).scheme == "https" for u in uris)
    )
    if (
        method == "none"
        and web
        and not any(isinstance(u, str) and is_loopback_http(u) for u in uris or [])
    ):
        return [
            Finding(
                "CIMD-PUB-18",
                "info",
                "token_endpoint_auth_method",
                "a web (server-hosted) client that does not authenticate",
                "a client that can keep a private key should use private_key_jwt (CIMD-02 §8.2)",
            )
        ]
    return []


def _flow_types(doc: dict[str, Any]) -> list[Finding]:
    found = []
    grants, responses = doc.get("grant_types"), doc.get("response_types")
    if grants is not None and (not isinstance(grants, list) or "authorization_code" not in grants):
        found.append(
            Finding(
                "CIMD-PUB-11",
                "warning",
                "grant_types",
                f"grant_types {quoted(grants)} does not include authorization_code",
                'list "authorization_code" (and "refresh_token" if the client uses it)',
            )
        )
    if responses is not None and responses != ["code"]:
        found.append(
            Finding(
                "CIMD-PUB-11",
                "warning",
                "response_types",
                f'response_types is {quoted(responses)}, not ["code"]',
                'set response_types to ["code"]',
            )
        )
    return found
