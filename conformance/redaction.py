"""Redaction of secrets in everything the suite records: codes, tokens, cookies, passwords."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

SECRET_NAMES = frozenset(
    {
        "code",
        "access_token",
        "refresh_token",
        "id_token",
        "code_verifier",
        "client_secret",
        "client_assertion",
        "password",
        "csrf",
        "request_id",
    }
)
REDACTED = "[redacted]"
_HEADER_SECRETS = frozenset({"authorization", "cookie", "set-cookie", "proxy-authorization"})


def redact_params(params: dict[str, str]) -> dict[str, str]:
    """A copy of ``params`` with secret values replaced."""
    return {k: (REDACTED if k.lower() in SECRET_NAMES else v) for k, v in params.items()}


def redact_url(url: str) -> str:
    """``url`` with secret query parameters and userinfo passwords replaced."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    query = urlencode(redact_params(dict(parse_qsl(parts.query, keep_blank_values=True))))
    netloc = re.sub(r":[^@/]*@", f":{REDACTED}@", parts.netloc)
    return urlunsplit(
        (parts.scheme, netloc, parts.path, query if parts.query else "", parts.fragment)
    )


def redact_headers(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Headers with credentials and cookies replaced."""
    return [(k, REDACTED if k.lower() in _HEADER_SECRETS else v) for k, v in headers]
