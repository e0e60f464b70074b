"""From an MCP server URL to its authorization server (RFC 9728, MCP 2025-11-25 §4.2).

A target can be named by the MCP server a user would connect to. The suite then does what an
MCP client does: it sends an unauthenticated request to the server and reads the
``resource_metadata`` URL from the 401's ``WWW-Authenticate`` header, falling back to the
well-known protected-resource metadata URLs (path-inserted first, then the root). The first
entry of ``authorization_servers`` is the issuer to score, and every authorization request
carries ``resource=<the MCP server URL>`` (RFC 8707, MCP §8).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx

from conformance.catalog.verdicts import HarnessError
from conformance.target.deadline import Clock, Unanswered, send

WELL_KNOWN = "/.well-known/oauth-protected-resource"
_RESOURCE_METADATA = re.compile(r'resource_metadata\s*=\s*"([^"]+)"', re.IGNORECASE)


@dataclass(frozen=True)
class ProtectedResource:
    """What discovery learned about an MCP server."""

    url: str
    issuer: str
    metadata_url: str
    tried: list[str] = field(default_factory=list)

    def evidence(self) -> dict[str, Any]:
        """For the report's preflight."""
        return {
            "mcp_server": self.url,
            "resource_metadata": self.metadata_url,
            "authorization_server": self.issuer,
            "tried": self.tried,
        }


def metadata_urls(url: str) -> list[str]:
    """The well-known protected-resource metadata URLs for ``url`` (RFC 9728 §3.1)."""
    parts = urlsplit(url)
    origin = f"{parts.scheme}://{parts.netloc}"
    path = parts.path.rstrip("/")
    return (
        [f"{origin}{WELL_KNOWN}{path}", f"{origin}{WELL_KNOWN}"] if path else [origin + WELL_KNOWN]
    )


def discover(client: httpx.Client, url: str, clock: Clock | None = None) -> ProtectedResource:
    """The authorization server of the MCP server at ``url``, within ``clock``'s deadlines.

    Raises:
        HarnessError: the server or its metadata cannot be found or is unusable; the message
            lists what each URL answered and names the fix.
    """
    clock = clock or Clock()
    tried: list[str] = []
    candidates = []
    ping = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
    try:
        response = send(client, "POST", url, clock.exchange(), json=ping)
    except Unanswered as exc:
        if exc.deadline is not None:
            raise HarnessError(f"the MCP server {url} did not answer: {exc}") from exc
        raise HarnessError(
            f"the MCP server {url} is unreachable ({exc}). Check the URL and that the server "
            "is running."
        ) from exc
    tried.append(f"POST {url} -> {response.status_code}")
    found = _RESOURCE_METADATA.search(response.headers.get("www-authenticate", ""))
    if response.status_code == 401 and found:
        candidates.append(found.group(1))
    for candidate in [*candidates, *metadata_urls(url)]:
        document = _get_json(client, candidate, tried, clock)
        if document is None:
            continue
        servers = document.get("authorization_servers")
        if not isinstance(servers, list) or not servers or not isinstance(servers[0], str):
            raise HarnessError(
                f"the protected resource metadata at {candidate} names no authorization_servers"
                f" ({servers!r}); the MCP server must list its authorization server"
            )
        if document.get("resource") != url:
            raise HarnessError(
                f"the protected resource metadata at {candidate} is for resource "
                f"{document.get('resource')!r}, not {url!r} (RFC 9728 §3.3): give the MCP "
                "server's exact URL"
            )
        return ProtectedResource(url, servers[0].rstrip("/"), candidate, tried)
    raise HarnessError(
        f"no protected resource metadata for the MCP server {url} ({'; '.join(tried)}). It "
        "must answer 401 with WWW-Authenticate resource_metadata, or serve "
        f"{metadata_urls(url)[0]}; or name the issuer instead"
    )


def _get_json(
    client: httpx.Client, url: str, tried: list[str], clock: Clock
) -> dict[str, Any] | None:
    try:
        response = send(
            client, "GET", url, clock.exchange(), headers={"accept": "application/json"}
        )
    except Unanswered as exc:
        if exc.deadline is not None and exc.deadline.name != "exchange":
            raise
        failure = type(exc.__cause__).__name__
        tried.append(f"GET {url} -> {exc}" if exc.deadline else f"GET {url} -> {failure}")
        return None
    tried.append(f"GET {url} -> {response.status_code}")
    if response.status_code != 200:
        return None
    try:
        document = response.json()
    except ValueError:
        return None
    return document if isinstance(document, dict) else None
