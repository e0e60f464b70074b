"""Metadata that changes over time (CIMD-CHG): a document served with ``no-store`` is read
afresh, so a redirect URI or an authentication method changed in it takes effect at once; what
a client was granted stays with its URL.
"""

from __future__ import annotations

import secrets

import pytest

from conformance.catalog.verdicts import NonConformance, NotApplicable
from conformance.harness import observers
from conformance.harness.client_assertions import ASSERTION_TYPE, ClientKey
from conformance.harness.clients import cached_for, public_client
from conformance.harness.flows import code_for, redeem_fresh_code, refresh_token_for
from conformance.harness.outcome import Outcome, OutcomeKind
from conformance.harness.session import TargetSession
from conformance.harness.verify import verify_accepted, verify_refused
from conformance.redaction import SECRETS
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


@pytest.mark.requirement("CIMD-CHG-04")
def test_refresh_token_stays_with_its_client_url(
    cimd_target: TargetSession, cimd_metadata_host: MetadataHost
) -> None:
    """Client A gets a refresh token and refreshes once with it (the control); client B's
    document copies A's metadata at another URL (accepted at the authorization endpoint).
    A's current refresh token is then presented with client_id=B.

    Expects: invalid_grant or invalid_client, and no tokens: another URL is another client.
    """
    client_a = public_client(cimd_metadata_host)
    copied = {k: v for k, v in client_a.document.items() if k != "client_id"}
    client_b = public_client(cimd_metadata_host, **copied)
    refresh_token = refresh_token_for(cimd_target, client_a)
    control = cimd_target.refresh(client_id=client_a.client_id, refresh_token=refresh_token)
    if not control.issued:
        raise NotApplicable(f"A's own refresh token was refused ({control.describe()})")
    rotated = (control.body or {}).get("refresh_token")
    current = rotated if isinstance(rotated, str) and rotated else refresh_token
    b_valid = cimd_target.attempt(client_b.client_id, client_b.redirect_uri)
    if not b_valid.outcome.accepted:
        raise NotApplicable(
            f"client B (A's metadata at another URL) was not accepted "
            f"({b_valid.outcome.describe()}); see CIMD-DISC-04"
        )
    result = cimd_target.refresh(client_id=client_b.client_id, refresh_token=current)
    if result.issued or result.error not in ("invalid_grant", "invalid_client"):
        raise NonConformance(
            expected="invalid_grant (or invalid_client) for another client's refresh token",
            observed=f"A's refresh token presented as client B: {result.describe()}",
        )


def _kind(outcome: Outcome) -> str:
    return "code" if outcome.kind is OutcomeKind.CODE else outcome.describe()


@pytest.mark.requirement("CIMD-CHG-03")
def test_refresh_after_key_rotation_is_recorded(
    cimd_target: TargetSession, cimd_metadata_host: MetadataHost
) -> None:
    """A ``no-store`` private_key_jwt client redeems a code with key K1 and gets a refresh
    token; its document then replaces K1 with K2, and the refresh token is used with an
    assertion signed with K2.

    Expects: recorded, not scored: whether refresh tokens survive the key rotation.
    """
    host = cimd_metadata_host
    old, new = ClientKey.new(), ClientKey.new()
    method = "private_key_jwt"
    client = public_client(host, token_endpoint_auth_method=method, jwks=old.jwks())
    host.serve(client.client_id, cached_for(client.document, "no-store"))
    target = cimd_target.target
    audiences = dict.fromkeys((target.token_endpoint, target.issuer))
    tokens = None
    for audience in audiences:
        tokens = redeem_fresh_code(cimd_target, client, old.assertion(client.client_id, audience))
        if tokens.issued:
            break
    if tokens is None or not tokens.issued or tokens.body is None:
        raise NotApplicable(
            "a private_key_jwt client was not issued tokens "
            f"({tokens.describe() if tokens else 'no attempt'}); see CIMD-AUTHN-01"
        )
    refresh_token = tokens.body.get("refresh_token")
    if not isinstance(refresh_token, str) or not refresh_token:
        raise NotApplicable("no refresh token was issued to a private_key_jwt CIMD client")
    SECRETS.add(refresh_token)
    host.serve(client.client_id, cached_for({**client.document, "jwks": new.jwks()}, "no-store"))
    result = cimd_target.token_request(
        {
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "client_id": client.client_id,
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": new.assertion(client.client_id, audience),
        }
    )
    raise observers.refresh_after_rotation(result.issued, result.describe())


@pytest.mark.requirement("CIMD-CHG-05")
def test_consent_after_name_change_is_recorded(
    cimd_target: TargetSession, cimd_metadata_host: MetadataHost
) -> None:
    """A ``no-store`` public client is approved once; the same request is sent again (does
    the AS remember consent?), then again after the document's client_name changed.

    Expects: recorded, not scored: whether consent is remembered, and if so whether the
    changed name makes the AS ask again.
    """
    host = cimd_metadata_host
    client = public_client(host)
    host.serve(client.client_id, cached_for(client.document, "no-store"))
    code_for(cimd_target, client)
    unchanged = cimd_target.attempt(client.client_id, client.redirect_uri).outcome
    renamed = {**client.document, "client_name": f"Renamed {secrets.token_hex(3)}"}
    host.serve(client.client_id, cached_for(renamed, "no-store"))
    changed = cimd_target.attempt(client.client_id, client.redirect_uri).outcome
    raise observers.consent_after_change(_kind(unchanged), _kind(changed))
