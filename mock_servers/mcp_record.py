"""What the mock MCP client records: its steps, its grants, and where a journey stopped.

Every request and answer of a journey is a :class:`Step`, secrets redacted by name (the
parameters of ``cimd_rules.secret_params``); the tokens themselves are kept apart, in
:class:`Grant`, for the checks that read their claims.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from cimd_rules.secret_params import SECRET_PARAMS

REDACTED = "[redacted]"
_PARAM = re.compile(r'(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))')


@dataclass
class Step:
    """One exchange of the journey, secrets redacted.

    Attributes:
        name: what the step is, e.g. ``resource-metadata`` or ``token``.
        method: the HTTP method (``BROWSER`` for the approval).
        url: the URL requested (secret query parameters redacted).
        status: the answer's status code (0: none came).
        sent: the form or JSON body sent, redacted.
        received: the answer's body as JSON (redacted) or text, and the headers read.
        note: what the client made of it.
    """

    name: str
    method: str
    url: str
    status: int = 0
    sent: dict[str, Any] = field(default_factory=dict)
    received: dict[str, Any] = field(default_factory=dict)
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        """The step as JSON-ready data, for a report's evidence."""
        return asdict(self)


class JourneyError(Exception):
    """A step of the journey could not go on.

    Attributes:
        step: the step's name.
        reason: what was wrong, in one line.
    """

    def __init__(self, step: str, reason: str) -> None:
        super().__init__(f"{step}: {reason}")
        self.step = step
        self.reason = reason


@dataclass
class Grant:
    """The tokens one authorization gave (kept out of the steps, which are redacted)."""

    scope: str
    access_token: str
    refresh_token: str | None
    token_response: dict[str, Any]


@dataclass
class Journey:
    """What the journey learned and did, for checks to judge."""

    mcp_url: str
    steps: list[Step] = field(default_factory=list)
    challenge: dict[str, str] = field(default_factory=dict)
    resource_metadata_url: str = ""
    resource_metadata: dict[str, Any] = field(default_factory=dict)
    issuer: str = ""
    as_metadata_url: str = ""
    as_metadata: dict[str, Any] = field(default_factory=dict)
    grants: list[Grant] = field(default_factory=list)
    refreshed: Grant | None = None
    old_refresh_reused: bool | None = None
    tools: list[str] = field(default_factory=list)
    tool_result: dict[str, Any] = field(default_factory=dict)
    step_up_challenge: dict[str, str] = field(default_factory=dict)
    step_up_result: dict[str, Any] = field(default_factory=dict)

    def evidence(self) -> list[dict[str, Any]]:
        """Every step, as JSON-ready data."""
        return [step.as_dict() for step in self.steps]

    def endpoints(self) -> dict[str, str]:
        """Every AS endpoint the journey used, by metadata member."""
        names = ("authorization_endpoint", "token_endpoint", "jwks_uri")
        return {n: str(self.as_metadata[n]) for n in names if n in self.as_metadata}


def parse_challenge(header: str) -> dict[str, str]:
    """The parameters of a ``Bearer`` challenge (RFC 6750 §3), names in lower case."""
    scheme, _, rest = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        return {}
    return {
        name.lower(): quoted.replace('\\"', '"') if quoted or not bare else bare
        for name, quoted, bare in _PARAM.findall(rest)
    }


def redact(data: Any) -> Any:
    """``data`` with every secret parameter's value replaced (recursively)."""
    if isinstance(data, dict):
        return {
            key: REDACTED if key in SECRET_PARAMS and value else redact(value)
            for key, value in data.items()
        }
    if isinstance(data, list):
        return [redact(item) for item in data]
    return data


def redact_url(url: str) -> str:
    """``url`` with secret query parameters' values replaced."""
    parts = urlsplit(url)
    if not parts.query:
        return url
    query = parse_qs(parts.query, keep_blank_values=True)
    pairs = [(k, REDACTED if k in SECRET_PARAMS else v) for k, vs in query.items() for v in vs]
    return parts._replace(query=urlencode(pairs, safe=":/[]")).geturl()
