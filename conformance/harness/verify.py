"""Verifiers: each raises NonConformance with what was expected and what was observed."""

from __future__ import annotations

from collections.abc import Sequence

from conformance.catalog.verdicts import NonConformance
from conformance.harness.clients import ProbeClient
from conformance.harness.session import Attempt, TargetSession
from mock_servers.metadata_host import MetadataHost

Case = tuple[str, Attempt]


def verify_refused(cases: Sequence[Case], what: str) -> None:
    """Every case was refused: no consent, no login, no code.

    How the refusal reaches the user (error page or redirect) is CIMD-ERR-02's and
    CIMD-REDIR-06's to judge; here only acceptance counts. Refusals are judged against a
    control: a valid client, sent the same way in the same session, must be accepted, else
    the check is a harness error (see :meth:`TargetSession.require_control`).
    """
    accepted = [
        f"{name}: {attempt.outcome.describe()}"
        for name, attempt in cases
        if attempt.outcome.accepted
    ]
    if accepted:
        raise NonConformance(
            expected=f"the target refuses {what} (no consent, no code)",
            observed=f"accepted {len(accepted)} of {len(cases)}: " + "; ".join(accepted),
        )
    sessions = {id(a.session): a.session for _, a in cases if a.session is not None}
    for session in sessions.values():
        session.require_control()  # a refusal counts only where a valid client is accepted


def verify_not_sent_to_redirect_uri(cases: Sequence[Case], what: str) -> None:
    """No case sent the user agent to the presented redirect URI (Location or page)."""
    sent = [
        f"{name}: {attempt.outcome.describe()}"
        for name, attempt in cases
        if attempt.outcome.sent_to_redirect_uri
    ]
    if sent:
        raise NonConformance(
            expected=f"{what} is shown to the user, never redirected to the presented redirect_uri",
            observed=f"redirected {len(sent)} of {len(cases)}: " + "; ".join(sent),
        )


def verify_accepted(attempt: Attempt, what: str) -> None:
    """The target showed consent (or issued a code) for a valid request."""
    if not attempt.outcome.accepted:
        raise NonConformance(
            expected=f"the target accepts {what}", observed=attempt.outcome.describe()
        )


def verify_published_shapes(target: TargetSession, clients: Sequence[ProbeClient]) -> None:
    """Each client shaped as people publish them (:func:`published_shapes`) is accepted."""
    refused = []
    for client in clients:
        attempt = target.attempt(client.client_id, client.redirect_uri)
        if not attempt.outcome.accepted:
            refused.append(
                f"{client.client_id} ({client.redirect_uri}): {attempt.outcome.describe()}"
            )
    if refused:
        raise NonConformance(
            expected="clients shaped like those people publish are accepted",
            observed="; ".join(refused),
        )


def verify_never_fetched(host: MetadataHost, urls: Sequence[str], why: str) -> None:
    """The metadata host logged no request for any of ``urls``."""
    fetched = [f"{f.method} {f.target} ({f.listener})" for url in urls for f in host.fetches(url)]
    if fetched:
        raise NonConformance(
            expected=f"the target never requests {why}", observed="requested " + ", ".join(fetched)
        )
