"""Live rules: the document fetched as a strict AS fetches it.

PUB-03 (200, no redirect), PUB-04 (content type), PUB-13 (size), PUB-14 (TLS, public
addresses), PUB-15 (cache headers), PUB-16 (the same document for every requester), and the
live halves of PUB-07 (``jwks_uri``) and PUB-12 (``logo_uri``).
"""

from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from cimd_rules.credentials import PRIVATE_KEY_MEMBERS
from cimd_rules.special_use import special_use
from cimd_rules.uri import split_uri
from conformance.lint.fetch import Answer, TlsRefused, Unreachable, get, resolve
from conformance.lint.findings import Finding, Severity, quoted

_JSON_TYPE = re.compile(r"application/([a-z0-9.+-]+\+)?json", re.IGNORECASE)
_MAX_AGE = re.compile(r"(?:^|,)\s*max-age\s*=\s*\"?(\d+)", re.IGNORECASE)
FIVE_MINUTES, ONE_DAY, ONE_WEEK = 300, 86_400, 7 * 86_400


@dataclass(frozen=True)
class LiveOptions:
    """How the live rules fetch.

    Attributes:
        ca_file: a CA to trust besides the system's (PEM), e.g. a test CA.
        timeout_s: the limit on each step (resolving, connecting, each read).
        allow_special_use: a development host: special-use addresses are not reported.
        rdap_bootstrap: the RDAP DNS bootstrap file to find the domain's expiry date with
            (PUB-17); None skips that lookup.
    """

    ca_file: Path | None = None
    timeout_s: float = 10.0
    allow_special_use: bool = False
    rdap_bootstrap: str | None = None


def address_findings(url: str, options: LiveOptions) -> list[Finding]:
    """PUB-14: the host resolves only to public addresses (ASes refuse special-use ones).

    Raises:
        Unreachable: the host does not resolve.
    """
    host, port = split_uri(url).host_port()
    if port and not port.isdigit():
        raise Unreachable(f"{quoted(port)} is not a port number")
    # resolved even when allowed: a resolver that hangs is found here, within the time limit
    addresses = resolve(host, int(port or 443), options.timeout_s)
    if options.allow_special_use:
        return []
    return [f for address in addresses for f in _special_use(host, address)]


def literal_address_findings(url: str) -> list[Finding]:
    """PUB-14 without the network: a special-use IP literal as the client_id's host."""
    host = split_uri(url).host_port()[0]
    try:
        address = ipaddress.ip_address(host[1:-1] if host.startswith("[") else host)
    except ValueError:
        return []
    return _special_use(host, str(address))


def _special_use(host: str, address: str) -> list[Finding]:
    block = special_use(ipaddress.ip_address(address.partition("%")[0]))
    if block is None:
        return []
    resolves = f"is {block}" if host.strip("[]") == address else f"resolves to {address}, {block}"
    return [
        Finding(
            "CIMD-PUB-14",
            "error",
            "client_id host",
            f"{quoted(host)} {resolves}: ASes refuse to fetch from special-use addresses "
            "(CIMD-02 §8.6)",
            "serve the document from a host with public addresses only",
        )
    ]


def tls_finding(url: str, refused: TlsRefused) -> Finding:
    """PUB-14: the certificate does not verify."""
    return Finding(
        "CIMD-PUB-14",
        "error",
        "TLS",
        f"the certificate of {quoted(url)} does not verify ({refused})",
        "serve a valid certificate from a publicly trusted CA for this host name",
    )


def status_finding(answer: Answer) -> Finding:
    """PUB-03: anything but 200 is an error for an AS (CIMD-02 §5)."""
    location = answer.headers.get("location")
    if location is not None and 300 <= answer.status < 400:
        return Finding(
            "CIMD-PUB-03",
            "error",
            "status",
            f"HTTP {answer.status} redirecting to {quoted(location)}; ASes never follow redirects",
            "serve the document at the client_id URL itself",
        )
    return Finding(
        "CIMD-PUB-03",
        "error",
        "status",
        f"HTTP {answer.status}; ASes take only 200 OK",
        "serve the document with status 200",
    )


def answer_findings(answer: Answer) -> list[Finding]:
    """PUB-04 (content type) and PUB-15 (cache headers) of a 200 answer."""
    found = []
    content_type = answer.headers.get("content-type")
    if content_type is None or not _JSON_TYPE.fullmatch(content_type.split(";")[0].strip()):
        found.append(
            Finding(
                "CIMD-PUB-04",
                "warning",
                "Content-Type",
                f"{quoted(content_type) if content_type else 'no Content-Type'}"
                " is not JSON; strict ASes refuse it",
                "serve the document as application/json",
            )
        )
    return found + cache_findings(answer.headers)


def cache_findings(headers: httpx.Headers) -> list[Finding]:
    """PUB-15: sensible cache headers (between 5 minutes and a day)."""
    problem = _cache_problem(headers.get("cache-control"), headers.get("expires"))
    if problem is None:
        return []
    severity, message = problem
    fix = "send Cache-Control: max-age between 300 and 86400"
    return [Finding("CIMD-PUB-15", severity, "Cache-Control", message, fix)]


def _cache_problem(cache_control: str | None, expires: str | None) -> tuple[Severity, str] | None:
    if cache_control is None:
        if expires is None:
            return "info", "no Cache-Control or Expires: each AS picks its own cache lifetime"
        return None
    if "no-store" in cache_control.lower():
        return "warning", (
            f"{quoted(cache_control)}: every authorization fetches the document again (more "
            "load, and each fetch tells the host who is logging in)"
        )
    match = _MAX_AGE.search(cache_control)
    age = int(match[1]) if match else None
    if age is not None and age > ONE_WEEK:
        return "warning", (
            f"max-age={age}: a change (a removed redirect URI, a rotated key) takes more than "
            "a week to reach every AS"
        )
    if age is not None and not FIVE_MINUTES <= age <= ONE_DAY:
        return "info", f"max-age={age} is outside 5 minutes to 24 hours"
    return None


def same_answer_finding(first: Answer, second: Answer | str) -> list[Finding]:
    """PUB-16: a second fetch, as another requester, gets the same document.

    ``second`` is the second answer, or why the second fetch failed.
    """
    if isinstance(second, str):
        got = f"no answer ({second})"
    elif (first.status, first.body) == (second.status, second.body):
        return []
    else:
        got = f"HTTP {second.status}" if second.status != first.status else "a different body"
    return [
        Finding(
            "CIMD-PUB-16",
            "warning",
            "body",
            f"a second fetch with another User-Agent and Accept got {got}",
            "serve the same document to every requester",
        )
    ]


def jwks_uri_findings(http: httpx.Client, doc: dict[str, Any], timeout_s: float) -> list[Finding]:
    """PUB-07, live: ``jwks_uri`` answers 200 with a JWK Set of public keys only."""
    uri = doc.get("jwks_uri")
    if not isinstance(uri, str) or split_uri(uri).scheme != "https":
        return []  # the static rule reports it
    fix = "serve the public JWK Set at jwks_uri with status 200"
    answer, problem = _member_answer(http, uri, timeout_s)
    if answer is not None:
        try:
            keys = json.loads(answer.body).get("keys")
        except (ValueError, AttributeError):
            keys = None
        if not isinstance(keys, list) or not keys:
            problem = "not a JWK Set with keys"
        elif any(isinstance(k, dict) and PRIVATE_KEY_MEMBERS & k.keys() for k in keys):
            problem = "holds private or symmetric key material"
    return _member_finding("CIMD-PUB-07", "error", "jwks_uri", uri, problem, fix)


def logo_findings(http: httpx.Client, doc: dict[str, Any], timeout_s: float) -> list[Finding]:
    """PUB-12, live: ``logo_uri`` answers 200 with an image."""
    uri = doc.get("logo_uri")
    if not isinstance(uri, str) or split_uri(uri).scheme != "https":
        return []
    fix = "serve the logo image at logo_uri with status 200"
    answer, problem = _member_answer(http, uri, timeout_s)
    if answer is not None:
        content_type = answer.headers.get("content-type", "")
        if not content_type.lower().startswith("image/"):
            problem = f"served as {quoted(content_type)}, not an image"
    return _member_finding("CIMD-PUB-12", "warning", "logo_uri", uri, problem, fix)


def _member_answer(http: httpx.Client, uri: str, timeout_s: float) -> tuple[Answer | None, str]:
    """The 200 answer at a member's URL, or None and why there is none."""
    try:
        answer = get(http, uri, timeout_s)
    except (TlsRefused, Unreachable) as exc:
        return None, f"cannot be fetched ({exc})"
    if answer.status != 200:
        return None, f"HTTP {answer.status}"
    return answer, ""


def _member_finding(
    rule: str, severity: Severity, member: str, uri: str, problem: str, fix: str
) -> list[Finding]:
    """The one finding on a member's URL (none when there is no ``problem``)."""
    return [Finding(rule, severity, member, f"{quoted(uri)}: {problem}", fix)] if problem else []
