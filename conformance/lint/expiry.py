"""PUB-17: the client_id domain's expiry date, from RDAP.

Losing the domain hands over the client's identity (CIMD-02 §8.3), so the lint reports when
the registration of the client_id URL's registrable domain expires. The RDAP base URL for the
domain's top-level domain comes from the DNS bootstrap file (RFC 9224); the domain is then
asked for at ``<base>domain/<name>`` (RFC 9082) and its ``events`` read for the
``expiration`` event (RFC 9083). Every step has the lint's time limit; a redirect is
followed only to https, at most :data:`MAX_REDIRECTS` times. No answer (no bootstrap entry,
an error status, a timeout) is an ``info`` saying the date could not be found: the domain's
registry is not the document's problem.

The registrable domain is the host's public suffix and one label more, by the ICANN section of
the Public Suffix List (the list the ``publicsuffixlist`` package carries, read once): the
domain a registry holds. Suffixes in the list's private section (``github.io``) are
operated by companies under a registered domain, so ``app.github.io``'s registration is
``github.io``'s.
"""

from __future__ import annotations

import datetime
import functools
import ipaddress
import json
from typing import Any
from urllib.parse import urljoin

import httpx
from publicsuffixlist import PublicSuffixList

from cimd_rules.uri import split_uri
from conformance.lint.fetch import TlsRefused, Unreachable, get
from conformance.lint.findings import Finding, quoted

# IANA's RDAP bootstrap file for domain names (RFC 9224 §4): maps TLDs to RDAP base URLs.
IANA_DNS_BOOTSTRAP = "https://data.iana.org/rdap/dns.json"
SOON = datetime.timedelta(days=30)
MAX_REDIRECTS = 3
# Special-use and reserved top-level names (RFC 2606, RFC 6761, RFC 6762, RFC 7686,
# RFC 8375, RFC 9476): no registry holds them, so the rule does not apply.
SPECIAL_USE_TLDS = frozenset(
    {"test", "localhost", "example", "invalid", "local", "onion", "arpa", "internal", "alt"}
)
# Second-level names reserved for documentation (RFC 2606 §3): IANA holds them for good.
RESERVED_DOMAINS = frozenset({"example.com", "example.net", "example.org"})
_WHERE = "client_id domain"


def registrable_domain(host: str) -> str | None:
    """The domain a registry holds for ``host``; None for an IP literal or a special-use name."""
    name = host.strip("[]").rstrip(".").lower()
    try:
        ipaddress.ip_address(name.partition("%")[0])
        return None
    except ValueError:
        pass
    labels = name.split(".")
    if len(labels) < 2 or labels[-1] in SPECIAL_USE_TLDS:
        return None
    domain = _suffixes().privatesuffix(name)  # None: the name is a public suffix itself
    return domain if domain is not None and domain not in RESERVED_DOMAINS else None


@functools.cache
def _suffixes() -> PublicSuffixList:
    """The Public Suffix List's ICANN section (parsed on first use)."""
    return PublicSuffixList(only_icann=True)


def expiry_findings(
    http: httpx.Client,
    url: str,
    bootstrap_url: str,
    timeout_s: float,
    now: datetime.datetime | None = None,
) -> list[Finding]:
    """PUB-17: when the client_id URL's domain expires, as ``info`` (a ``warning`` when soon).

    Args:
        http: the lint's client (never follows redirects).
        url: the client_id URL.
        bootstrap_url: the RDAP DNS bootstrap file (RFC 9224), e.g. :data:`IANA_DNS_BOOTSTRAP`.
        timeout_s: the limit on each step.
        now: the time to compare against (default: now, UTC).
    """
    host = split_uri(url).host_port()[0]
    domain = registrable_domain(host)
    if domain is None:
        return [
            _info(
                f"{quoted(host)} is an IP address or a special-use name that no registry "
                "holds: the domain expiry rule does not apply",
                "serve production clients from a registered domain you control",
            )
        ]
    expires, why_not = _expiration(http, domain, bootstrap_url, timeout_s)
    if expires is None:
        return [
            _info(
                f"the expiry date of {quoted(domain)} could not be found ({why_not})",
                "check the domain's expiry date with its registrar and keep it renewed",
            )
        ]
    now = now or datetime.datetime.now(datetime.UTC)
    day = expires.date().isoformat()
    if expires <= now:
        message = f"the registration of {quoted(domain)} expired on {day}"
    elif expires - now <= SOON:
        message = f"the registration of {quoted(domain)} expires on {day}, within 30 days"
    else:
        return [
            _info(
                f"the registration of {quoted(domain)} expires on {day}",
                "keep the domain renewed (auto-renewal) before that date",
            )
        ]
    fix = (
        "renew the domain now: whoever registers it next can serve a document under this "
        "client_id and take over the client's identity"
    )
    return [Finding("CIMD-PUB-17", "warning", _WHERE, message, fix)]


def _info(message: str, fix: str) -> Finding:
    return Finding("CIMD-PUB-17", "info", _WHERE, message, fix)


def _expiration(
    http: httpx.Client, domain: str, bootstrap_url: str, timeout_s: float
) -> tuple[datetime.datetime | None, str]:
    """The domain's expiration event, or None and why there is none."""
    bootstrap, why_not = _json(http, bootstrap_url, timeout_s, "the RDAP bootstrap file")
    if bootstrap is None:
        return None, why_not
    base = _base_url(bootstrap, domain.rsplit(".", 1)[-1])
    if base is None:
        return None, f"the RDAP bootstrap file names no RDAP server for .{domain.rsplit('.')[-1]}"
    answer, why_not = _json(http, f"{base.rstrip('/')}/domain/{domain}", timeout_s, "RDAP")
    if answer is None:
        return None, why_not
    events = answer.get("events")
    for event in events if isinstance(events, list) else []:
        if isinstance(event, dict) and event.get("eventAction") == "expiration":
            try:
                when = datetime.datetime.fromisoformat(str(event.get("eventDate")))
            except ValueError:
                return None, f"RDAP gave {quoted(event.get('eventDate'))}, not a date"
            return when if when.tzinfo else when.replace(tzinfo=datetime.UTC), ""
    return None, "the RDAP answer has no expiration event"


def _json(
    http: httpx.Client, url: str, timeout_s: float, what: str
) -> tuple[dict[str, Any] | None, str]:
    """The JSON object at ``url``, or None and why there is none.

    RDAP servers may redirect (RFC 7480 §5.2): up to :data:`MAX_REDIRECTS` are followed, each
    one to https only, each fetch with its own time limit.
    """
    for _ in range(MAX_REDIRECTS + 1):
        if split_uri(url).scheme != "https":
            return None, f"{what} URL {quoted(url)} is not https"
        try:
            answer = get(http, url, timeout_s, accept="application/rdap+json, application/json")
        except (TlsRefused, Unreachable) as exc:
            return None, f"{what}: {exc}"
        location = answer.headers.get("location")
        if answer.status in (301, 302, 303, 307, 308) and location:
            url = urljoin(url, location)
            continue
        break
    else:
        return None, f"{what} redirected more than {MAX_REDIRECTS} times"
    if answer.status != 200:
        return None, f"{what} answered HTTP {answer.status}"
    try:
        value = json.loads(answer.body)
    except ValueError:
        value = None
    if not isinstance(value, dict) or answer.truncated:
        return None, f"{what} did not answer a JSON object"
    return value, ""


def _base_url(bootstrap: dict[str, Any], tld: str) -> str | None:
    """The first https RDAP base URL the bootstrap file gives for ``tld`` (RFC 9224 §4)."""
    services = bootstrap.get("services")
    for service in services if isinstance(services, list) else []:
        if not (isinstance(service, list) and len(service) == 2):
            continue
        tlds, urls = service
        if isinstance(tlds, list) and tld in (str(t).lower() for t in tlds):
            https = [u for u in urls if isinstance(u, str) and u.startswith("https://")]
            return https[0] if https else None
    return None
