"""The syntax rules of a Client Identifier URL (CIMD-02 §3), on the raw string.

The reference AS refuses an identifier for the first problem its faults do not waive
(``mock_servers.reference_as.identifiers``); the publisher lint reports every problem
(``conformance.lint``, CIMD-PUB-01). Both read the same list.
"""

from __future__ import annotations

from typing import NamedTuple

from cimd_rules.uri import split_uri


class Problem(NamedTuple):
    """One broken rule: a stable kind and the message an AS would give."""

    kind: str
    """``control``, ``http-scheme``, ``scheme``, ``fragment``, ``no-host``, ``userinfo``,
    ``no-path`` or ``dot-segments``."""
    message: str


def syntax_problems(identifier: str) -> tuple[Problem, ...]:
    """Every CIMD-02 §3 rule ``identifier`` breaks, in the order an AS checks them.

    After a scheme other than ``https`` or ``http`` nothing else is judged: the string is not
    an identifier at all.
    """
    found: list[Problem] = []
    if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in identifier):
        found.append(Problem("control", "client_id contains whitespace or control characters"))
    if identifier.startswith("http://"):
        found.append(Problem("http-scheme", "client_id must be an https URL"))
    elif not identifier.startswith("https://"):
        return (*found, Problem("scheme", "client_id must be an https URL"))
    if "#" in identifier:
        found.append(Problem("fragment", "client_id must not contain a fragment"))
    parts = split_uri(identifier)
    if not parts.authority:
        return (*found, Problem("no-host", "client_id must name a host"))
    if "@" in parts.authority:
        found.append(Problem("userinfo", "client_id must not contain a username or password"))
    if not parts.path.startswith("/"):
        found.append(Problem("no-path", "client_id must contain a path"))
    if any(segment in (".", "..") for segment in parts.path.split("/")):
        found.append(
            Problem("dot-segments", "client_id must not contain '.' or '..' path segments")
        )
    return tuple(found)
