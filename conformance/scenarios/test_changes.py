"""Metadata that changes over time (CIMD-CHG): what a client was granted stays with its URL."""

from __future__ import annotations

import pytest

from conformance.catalog.verdicts import NonConformance, NotApplicable
from conformance.harness.clients import public_client
from conformance.harness.flows import refresh_token_for
from conformance.harness.session import TargetSession
from mock_servers.metadata_host import MetadataHost


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
