"""Whole authorization-code flows over HTTP, for checks that need a code to redeem."""

from __future__ import annotations

from conformance.catalog.verdicts import NotApplicable
from conformance.harness.clients import ProbeClient
from conformance.harness.session import Attempt, TargetSession, TokenResult
from conformance.redaction import SECRETS


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
    SECRETS.add(code)
    return attempt, code


def redeem_fresh_code(
    target: TargetSession,
    client: ProbeClient,
    assertion: str | None = None,
    *,
    client_id: str | None = None,
) -> TokenResult:
    """A fresh code for ``client``, redeemed with its PKCE verifier.

    Args:
        target: the logged-in session.
        client: the client to authorize.
        assertion: an RFC 7523 client assertion to send, for ``private_key_jwt`` clients.
        client_id: the ``client_id`` to redeem as (default: the client's own).

    Raises:
        NotApplicable: as :func:`code_for`.
    """
    attempt, code = code_for(target, client)
    assert attempt.pkce is not None  # code_for refuses attempts without PKCE
    return target.redeem(
        client_id=client_id or client.client_id,
        code=code,
        redirect_uri=client.redirect_uri,
        verifier=attempt.pkce.verifier,
        assertion=assertion,
    )
