"""Discovery and advertisement (CIMD-DISC, MCP-AUTH-02): RFC 8414 metadata and the full flow."""

from __future__ import annotations

import secrets

import pytest

from conformance.harness import Pkce, TargetSession
from conformance.probes import public_client
from conformance.run import BrowserFlow
from conformance.target import Target
from conformance.verdicts import NonConformance, NotApplicable
from mock_servers.metadata_host import MetadataHost

FLAG = "client_id_metadata_document_supported"


@pytest.mark.requirement("CIMD-DISC-01")
def test_metadata_advertises_cimd_support(cimd_metadata: Target) -> None:
    """Reads the target's RFC 8414 metadata.

    Expects: client_id_metadata_document_supported is present and true.
    """
    if FLAG not in cimd_metadata.metadata or cimd_metadata.metadata[FLAG] in (False, None):
        raise NonConformance(
            expected=f"{FLAG} present with value true in {cimd_metadata.metadata_url}",
            observed=f"{FLAG} = {cimd_metadata.metadata.get(FLAG, '(absent)')!r}",
        )


@pytest.mark.requirement("CIMD-DISC-02")
def test_support_flag_is_a_json_boolean(cimd_metadata: Target) -> None:
    """Reads the flag's JSON type.

    Expects: the literal true or false, not a string, number, null or object.
    """
    if FLAG not in cimd_metadata.metadata:
        raise NotApplicable(f"the metadata has no {FLAG} member (see CIMD-DISC-01)")
    value = cimd_metadata.metadata[FLAG]
    if not isinstance(value, bool):
        raise NonConformance(
            expected=f"{FLAG} is a JSON boolean", observed=f"{type(value).__name__} {value!r}"
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


@pytest.mark.requirement("CIMD-DISC-04")
def test_conforming_client_completes_the_flow_in_the_browser(
    cimd_metadata: Target,
    cimd_target: TargetSession,
    cimd_metadata_host: MetadataHost,
    cimd_browser: BrowserFlow,
) -> None:
    """Drives a conforming public client through the browser: consent, approve, redeem.

    Expects: the code and the client's state reach the registered https redirect URI, the
    code redeems for tokens, and every fetch of the client URL is a GET of exactly that URL.
    """
    if cimd_metadata.metadata.get(FLAG) is not True:
        raise NotApplicable(f"the target does not advertise {FLAG}: true (see CIMD-DISC-01)")
    client = public_client(cimd_metadata_host)
    pkce, state = Pkce.new(), secrets.token_urlsafe(12)
    url = cimd_target.authorization_url(
        {
            "response_type": "code",
            "client_id": client.client_id,
            "redirect_uri": client.redirect_uri,
            "state": state,
            "code_challenge": pkce.challenge,
            "code_challenge_method": "S256",
            **cimd_target.extra_params,
        }
    )
    params = cimd_browser.authorize(url, client.redirect_uri, "disc-04-consent")
    expected = "a code with the client's state at the redirect URI, redeemable for tokens"
    if "code" not in params or params.get("state") != state:
        echoed = "echoed" if params.get("state") == state else "missing or changed"
        observed = f"redirect parameters {sorted(params)}; state {echoed}"
        raise NonConformance(expected=expected, observed=observed)
    tokens = cimd_target.redeem(
        client_id=client.client_id,
        code=params["code"],
        redirect_uri=client.redirect_uri,
        verifier=pkce.verifier,
    )
    if not tokens.issued:
        raise NonConformance(expected=expected, observed=f"token request: {tokens.describe()}")
    fetches = cimd_metadata_host.fetches(client.client_id)
    wrong = [
        f"{f.method} {f.target} Host {f.host}"
        for f in fetches
        if f.method != "GET" or f.listener != "tls"
    ]
    if not fetches or wrong:
        raise NonConformance(
            expected="the target fetches the client URL with GET",
            observed=f"fetches: {wrong or 'none'}",
        )
