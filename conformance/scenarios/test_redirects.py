"""Redirect URI handling (CIMD-REDIR): exact matching, the loopback port rule, no open redirect."""

from __future__ import annotations

import pytest

from conformance.catalog.verdicts import NonConformance
from conformance.harness.clients import public_client
from conformance.harness.session import TargetSession
from conformance.harness.verify import (
    verify_accepted,
    verify_not_sent_to_redirect_uri,
    verify_refused,
)
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
    cimd_target: TargetSession,
    cimd_metadata_host: MetadataHost,
    cimd_callback: CallbackListener,
    cimd_callback_ipv6: CallbackListener | None,
) -> None:
    """Lists http://127.0.0.1/callback (no port) and, in a second document,
    http://127.0.0.1:3000/callback; requests the callback listener's ephemeral port. Where
    this machine has IPv6 loopback, does the same with http://[::1]/callback and a listener
    on [::1].

    Expects: all are accepted and, once approved, the code arrives at the listener's
    port. (Redeeming the code is CIMD-AUTHN-05's check.)
    """
    problems = []
    cases = [(cimd_callback, "127.0.0.1", listed) for listed in ("", ":3000")]
    if cimd_callback_ipv6 is not None:
        cases.append((cimd_callback_ipv6, "[::1]", ""))
    for listener, host, port in cases:
        problem = _code_reaches_ephemeral_port(
            cimd_target, cimd_metadata_host, listener, f"http://{host}{port}/callback"
        )
        if problem:
            problems.append(problem)
    if problems:
        raise NonConformance(
            expected="loopback redirect URIs accepted on the request's port",
            observed="; ".join(problems),
        )


def _code_reaches_ephemeral_port(
    target: TargetSession, host: MetadataHost, listener: CallbackListener, listed: str
) -> str:
    """Lists ``listed``, requests the listener's port; what went wrong, or ""."""
    ephemeral = listener.url("/callback")
    client = public_client(host, redirect_uris=[listed])
    attempt = target.attempt(client.client_id, ephemeral)
    if not attempt.outcome.approvable:
        return f"{listed} listed, {ephemeral} requested: {attempt.outcome.describe()}"
    before = len(listener.received("/callback"))
    approved = target.approve(attempt)
    if approved.location:
        target.client.get(approved.location)  # deliver the code as a browser would
    if not any("code" in c.params for c in listener.received("/callback")[before:]):
        return f"{listed} listed: approval gave {approved.describe()}; no code at {ephemeral}"
    return ""


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
