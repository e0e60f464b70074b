"""Metadata that changes over time (CIMD-CHG): a document served with ``no-store`` is read
afresh, so a redirect URI or an authentication method changed in it takes effect at once.
"""

from __future__ import annotations

import pytest

from conformance.catalog.verdicts import NonConformance, NotApplicable
from conformance.harness.client_assertions import ClientKey
from conformance.harness.clients import cached_for, public_client
from conformance.harness.flows import code_for, redeem_fresh_code
from conformance.harness.session import TargetSession
from conformance.harness.verify import verify_accepted, verify_refused
from mock_servers.metadata_host import MetadataHost


@pytest.mark.requirement("CIMD-CHG-01")
def test_removed_redirect_uri_stops_working(
    cimd_target: TargetSession, cimd_metadata_host: MetadataHost
) -> None:
    """A ``no-store`` document registers redirect URIs r and r2; AUTHZ(U, r) is accepted.
    Then r is removed from the document and AUTHZ(U, r) is sent again (AUTHZ(U, r2) is the
    control).

    Expects: the request with r is refused; the one with r2 is accepted.
    """
    host = cimd_metadata_host
    client = public_client(host)
    kept = host.base_url + host.new_path("cb")
    document = {**client.document, "redirect_uris": [client.redirect_uri, kept]}
    host.serve(client.client_id, cached_for(document, "no-store"))
    before = cimd_target.attempt(client.client_id, client.redirect_uri)
    if not before.outcome.accepted:
        raise NotApplicable(
            f"the client with both redirect URIs was not accepted ({before.outcome.describe()})"
        )
    host.serve(client.client_id, cached_for({**document, "redirect_uris": [kept]}, "no-store"))
    removed = cimd_target.attempt(client.client_id, client.redirect_uri)
    verify_refused(
        [("redirect URI removed", removed)], "a redirect URI the document no longer lists"
    )
    verify_accepted(
        cimd_target.attempt(client.client_id, kept), "the redirect URI the document still lists"
    )


@pytest.mark.requirement("CIMD-CHG-02")
def test_auth_method_change_applies_to_token_requests(
    cimd_target: TargetSession, cimd_metadata_host: MetadataHost
) -> None:
    """A ``no-store`` public client (``none``) redeems a code (the control) and gets a
    second code; then its document switches to ``private_key_jwt`` with a key, and the
    second code is redeemed without a client assertion.

    Expects: invalid_client and no tokens.
    """
    host = cimd_metadata_host
    client = public_client(host)
    host.serve(client.client_id, cached_for(client.document, "no-store"))
    control = redeem_fresh_code(cimd_target, client)
    if not control.issued:
        raise NotApplicable(f"the public client was not issued tokens ({control.describe()})")
    attempt, code = code_for(cimd_target, client)
    assert attempt.pkce is not None  # code_for refuses attempts without PKCE
    changed = {
        **client.document,
        "token_endpoint_auth_method": "private_key_jwt",
        "jwks": ClientKey.new().jwks(),
    }
    host.serve(client.client_id, cached_for(changed, "no-store"))
    result = cimd_target.redeem(
        client_id=client.client_id,
        code=code,
        redirect_uri=client.redirect_uri,
        verifier=attempt.pkce.verifier,
    )
    if result.issued or result.error != "invalid_client":
        raise NonConformance(
            expected="invalid_client once the document requires private_key_jwt",
            observed=result.describe(),
        )
