"""Redirect URI handling (CIMD-REDIR): exact matching, the loopback port rule, no open redirect."""

from __future__ import annotations

import pytest

from conformance.harness import TargetSession
from conformance.probes import public_client
from conformance.verdicts import NonConformance
from conformance.verify import verify_accepted, verify_not_sent_to_redirect_uri, verify_refused
from mock_servers.callback import CallbackListener
from mock_servers.metadata_host import MetadataHost

LISTED = "https://app.test/cb"
NEAR_MISSES = (
    "https://app.test/cb/",
    "https://app.test/CB",
    "https://APP.test/cb",
    "https://app.test/cb?x=1",
    "https://app.test/cb#",
    "https://app.test:443/cb",
    "https://app.test/cb/../cb",
    "https://evil.app.test/cb",
    "https://app.test.evil/cb",
    "http://app.test/cb",
    "https://app.test/cb%2F..",
)
UNLISTED = ("https://attacker.test/cb", "https://app.test/cb/", "https://app.test.evil/cb")


@pytest.mark.requirement("CIMD-REDIR-01")
def test_redirect_uri_must_match_exactly(
    cimd_target: TargetSession, cimd_metadata_host: MetadataHost
) -> None:
    """Lists https://app.test/cb and requests near misses of it (case, slash, query, port,
    dot segments, sub- and super-domains, scheme, encoded slash).

    Expects: every near miss is refused; the exact string is accepted.
    """
    client = public_client(cimd_metadata_host, redirect_uris=[LISTED])
    exact = cimd_target.attempt(client.client_id, LISTED)
    verify_accepted(exact, f"the listed redirect URI {LISTED}")
    cases = [(uri, cimd_target.attempt(client.client_id, uri)) for uri in NEAR_MISSES]
    verify_refused(cases, f"redirect URIs that only resemble the listed {LISTED}")


@pytest.mark.requirement("CIMD-REDIR-02")
def test_loopback_redirect_uri_matches_any_port(
    cimd_target: TargetSession, cimd_metadata_host: MetadataHost, cimd_callback: CallbackListener
) -> None:
    """Lists http://127.0.0.1/callback (no port) and, in a second document,
    http://127.0.0.1:3000/callback; requests the callback listener's ephemeral port.

    Expects: both are accepted and, once approved, the code arrives at the listener's
    port. (Redeeming the code is CIMD-AUTHN-05's check.)
    """
    ephemeral = cimd_callback.url("/callback")
    problems = []
    for listed in ("http://127.0.0.1/callback", "http://127.0.0.1:3000/callback"):
        client = public_client(cimd_metadata_host, redirect_uris=[listed])
        attempt = cimd_target.attempt(client.client_id, ephemeral)
        if not attempt.outcome.approvable:
            problems.append(f"{listed}: {attempt.outcome.describe()}")
            continue
        before = len(cimd_callback.received("/callback"))
        approved = cimd_target.approve(attempt)
        if approved.location:
            cimd_target.client.get(approved.location)  # deliver the code as a browser would
        delivered = cimd_callback.received("/callback")[before:]
        if not any("code" in c.params for c in delivered):
            problems.append(
                f"{listed}: approval gave {approved.describe()}; no code at {cimd_callback.port}"
            )
    if problems:
        raise NonConformance(
            expected=f"loopback redirect URIs accepted on the request's port ({ephemeral})",
            observed="; ".join(problems),
        )


@pytest.mark.requirement("CIMD-REDIR-06")
def test_never_redirects_to_unverified_redirect_uri(
    cimd_target: TargetSession, cimd_metadata_host: MetadataHost
) -> None:
    """Requests redirect URIs the document does not list.

    Expects: the refusal is shown to the user; no Location, auto-submitting form, meta refresh
    or script sends the browser to the presented redirect URI.
    """
    client = public_client(cimd_metadata_host, redirect_uris=[LISTED])
    cases = [(uri, cimd_target.attempt(client.client_id, uri)) for uri in UNLISTED]
    verify_not_sent_to_redirect_uri(cases, "a redirect URI the document does not list")
