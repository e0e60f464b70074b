"""Client authentication (CIMD-AUTHN): a public client redeems with client_id and verifier only."""

from __future__ import annotations

import pytest

from conformance.harness import TargetSession
from conformance.probes import public_client
from conformance.verdicts import NonConformance, NotApplicable
from mock_servers.metadata_host import MetadataHost


@pytest.mark.requirement("CIMD-AUTHN-05")
def test_public_client_redeems_code_without_secret(
    cimd_target: TargetSession, cimd_metadata_host: MetadataHost
) -> None:
    """Approves consent for the public client, then redeems the code with client_id in the
    form body, the PKCE verifier, and no Authorization header.

    Expects: tokens are issued.
    """
    client = public_client(cimd_metadata_host)
    attempt = cimd_target.attempt(client.client_id, client.redirect_uri)
    if not attempt.outcome.approvable or attempt.pkce is None:
        raise NotApplicable(
            f"the valid client was not accepted ({attempt.outcome.describe()}); see CIMD-DISC-04"
        )
    approved = cimd_target.approve(attempt)
    code = approved.params.get("code")
    if code is None:
        raise NotApplicable(f"approval gave no code ({approved.describe()}); see CIMD-DISC-04")
    tokens = cimd_target.redeem(
        client_id=client.client_id,
        code=code,
        redirect_uri=client.redirect_uri,
        verifier=attempt.pkce.verifier,
    )
    if not tokens.issued:
        raise NonConformance(
            expected="tokens for client_id + code_verifier, no client secret",
            observed=tokens.describe(),
        )
