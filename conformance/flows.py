"""Whole authorization-code flows over HTTP, for checks that need a code to redeem."""

from __future__ import annotations

from conformance.harness import Attempt, TargetSession
from conformance.probes import ProbeClient
from conformance.verdicts import NotApplicable


def code_for(target: TargetSession, client: ProbeClient) -> tuple[Attempt, str]:
    """Send ``client``'s authorization request, approve consent, and return the code.

    Raises:
        NotApplicable: the target did not accept the client or gave no code; the message
            says what it did instead.
    """
    attempt = target.attempt(client.client_id, client.redirect_uri)
    if not attempt.outcome.approvable or attempt.pkce is None:
        raise NotApplicable(f"the client was not accepted ({attempt.outcome.describe()})")
    approved = target.approve(attempt)
    code = approved.params.get("code")
    if code is None:
        raise NotApplicable(f"approval gave no code ({approved.describe()})")
    return attempt, code
