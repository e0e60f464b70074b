"""MCP 2025-11-25 requirements on the AS (MCP-AUTH): metadata at the MCP well-known URLs, PKCE
for CIMD public clients (advertised, required and verified, in OpenID Connect discovery too),
and https endpoints.
"""

from __future__ import annotations

import ipaddress
from typing import Any
from urllib.parse import urlsplit

import pytest

from conformance.catalog.verdicts import NonConformance
from conformance.harness.clients import public_client
from conformance.harness.outcome import origin
from conformance.harness.session import Pkce, TargetSession
from conformance.target.discovery import Target
from mock_servers.metadata_host import MetadataHost

OIDC_WELL_KNOWN = "/.well-known/openid-configuration"
PKCE_METHODS = "code_challenge_methods_supported"


def _code(target: TargetSession, client_id: str, redirect_uri: str, pkce: Pkce) -> str | None:
    attempt = target.attempt(client_id, redirect_uri, pkce=pkce)
    if not attempt.outcome.approvable:
        return None
    return target.approve(attempt).params.get("code")


@pytest.mark.requirement("MCP-AUTH-08")
def test_pkce_is_enforced(
    cimd_metadata: Target, cimd_target: TargetSession, cimd_metadata_host: MetadataHost
) -> None:
    """Checks the metadata's code_challenge_methods_supported, sends a request without a
    challenge (and, if it is let through, redeems its code with a verifier), redeems a code
    with a wrong verifier, one without any verifier, then one with the right verifier.

    Expects: S256 advertised; no challenge refused (error redirect or page, no consent); the
    wrong or a missing verifier gets no tokens, nor does a verifier for a code that had no
    challenge (a PKCE downgrade); the right one does.
    """
    problems = []
    methods = cimd_metadata.metadata.get("code_challenge_methods_supported")
    if not isinstance(methods, list) or "S256" not in methods:
        problems.append(f"code_challenge_methods_supported is {methods!r}")
    client = public_client(cimd_metadata_host)
    bare = cimd_target.attempt(client.client_id, client.redirect_uri, with_pkce=False)
    if bare.outcome.accepted:
        problems.append(f"no code_challenge: {bare.outcome.describe()}")
        if bare.outcome.approvable:
            code = cimd_target.approve(bare).params.get("code")
            if code is not None:
                tokens = cimd_target.redeem(
                    client_id=client.client_id,
                    code=code,
                    redirect_uri=client.redirect_uri,
                    verifier=Pkce.new().verifier,
                )
                if tokens.issued:
                    problems.append(f"a verifier for a code with no challenge: {tokens.describe()}")
    for case in ("wrong", "no", "right"):
        pkce = Pkce.new()
        code = _code(cimd_target, client.client_id, client.redirect_uri, pkce)
        if code is None:
            problems.append("the S256 request got no code")
            break
        verifier = {"wrong": Pkce.new().verifier, "no": None, "right": pkce.verifier}[case]
        tokens = cimd_target.redeem(
            client_id=client.client_id,
            code=code,
            redirect_uri=client.redirect_uri,
            verifier=verifier,
        )
        if tokens.issued != (case == "right"):
            problems.append(f"{case} verifier: {tokens.describe()}")
    if problems:
        raise NonConformance(
            expected="PKCE S256 advertised, required and verified", observed="; ".join(problems)
        )


@pytest.mark.requirement("MCP-AUTH-02")
def test_metadata_found_at_mcp_well_known_urls(cimd_metadata: Target) -> None:
    """Probes the well-known URLs in MCP 2025-11-25 §4.3 order (RFC 8414 path insertion first).

    Expects: one answers 200 JSON whose issuer equals the issuer it was built from.
    """
    found = cimd_metadata.metadata.get("issuer")
    if found != cimd_metadata.issuer:
        probes = "; ".join(f"{p.url} -> {p.status or p.error}" for p in cimd_metadata.probes)
        raise NonConformance(
            expected=f"metadata with issuer {cimd_metadata.issuer!r}",
            observed=f"issuer {found!r} ({probes})",
        )


@pytest.mark.requirement("MCP-AUTH-09")
def test_oidc_discovery_advertises_pkce(cimd_metadata: Target) -> None:
    """Reads every OpenID Connect discovery document the well-known probes found (the
    path-inserted and the appended URL).

    Expects: each lists code_challenge_methods_supported (a non-empty array), so that an MCP
    client reading it can tell PKCE is supported. A target that publishes no OpenID Connect
    discovery passes: the requirement binds only what is published.
    """
    lacking = [
        f"{url}: code_challenge_methods_supported = {document.get(PKCE_METHODS, '(absent)')!r}"
        for url, document in cimd_metadata.published()
        if OIDC_WELL_KNOWN in url
        and not (isinstance(document.get(PKCE_METHODS), list) and document[PKCE_METHODS])
    ]
    if lacking:
        raise NonConformance(
            expected=f"{PKCE_METHODS} in the OpenID Connect discovery document",
            observed="; ".join(lacking),
        )


@pytest.mark.requirement("MCP-AUTH-13")
def test_metadata_endpoints_use_https(cimd_metadata: Target) -> None:
    """Reads every endpoint URL in the metadata documents discovery found (each member named
    *_endpoint, jwks_uri, and mtls_endpoint_aliases).

    Expects: every one is an https URL. A target whose issuer is itself an http URL on
    loopback is a development deployment the suite was pointed at: its endpoints on that same
    origin are within that setting, and reported but not scored (others still are).
    """
    development = _development_origin(cimd_metadata.issuer)
    wrong, excepted = [], []
    for url, document in cimd_metadata.published():
        for member, value in _endpoint_urls(document):
            if urlsplit(value).scheme.lower() == "https":
                continue
            if development is not None and origin(value) == development:
                excepted.append(member)
            else:
                wrong.append(f"{member} = {value!r} (in {url})")
    if wrong:
        note = ""
        if excepted:
            note = f"; not scored, on the http loopback issuer's own origin: {', '.join(excepted)}"
        raise NonConformance(
            expected="every endpoint in the metadata is an https URL",
            observed="; ".join(wrong) + note,
        )


def _endpoint_urls(document: dict[str, Any]) -> list[tuple[str, str]]:
    """(member, URL) for every endpoint the metadata names (RFC 8414 §2, RFC 8705 §5)."""
    found = [
        (name, value)
        for name, value in document.items()
        if (name.endswith("_endpoint") or name == "jwks_uri") and isinstance(value, str)
    ]
    aliases = document.get("mtls_endpoint_aliases")
    if isinstance(aliases, dict):
        found += [
            (f"mtls_endpoint_aliases.{name}", value)
            for name, value in aliases.items()
            if isinstance(value, str)
        ]
    return found


def _development_origin(issuer: str) -> tuple[str, str, int | None] | None:
    """The issuer's origin when it is an http URL on a loopback host, else None."""
    parts = urlsplit(issuer)
    if parts.scheme.lower() != "http":
        return None
    host = (parts.hostname or "").lower()
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    return origin(issuer) if loopback else None
