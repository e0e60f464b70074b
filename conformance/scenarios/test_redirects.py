"""Redirect URI handling (CIMD-REDIR): exact matching, the loopback port rule, no open redirect,
codes bound to their client, and the same checks at the PAR endpoint.
"""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

import pytest

from conformance.catalog.verdicts import HarnessError, NonConformance, NotApplicable
from conformance.harness import observers
from conformance.harness.clients import ProbeClient, public_client, published_shapes
from conformance.harness.flows import code_for, redeem_fresh_code
from conformance.harness.outcome import OutcomeKind
from conformance.harness.session import TargetSession, TokenResult
from conformance.harness.verify import (
    verify_accepted,
    verify_not_sent_to_redirect_uri,
    verify_published_shapes,
    verify_refused,
)
from conformance.target import deadline
from conformance.target.discovery import Target
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

    Then the corpus's published shapes for this row (a fixed loopback port beside an https
    URI, several redirect URIs), each requested with one listed URI exactly.

    Expects: every near miss is refused; the exact string is accepted, and so is each
    published shape.
    """
    client = public_client(cimd_metadata_host, redirect_uris=[LISTED])
    exact = cimd_target.attempt(client.client_id, LISTED)
    verify_accepted(exact, f"the listed redirect URI {LISTED}")
    verify_published_shapes(cimd_target, published_shapes(cimd_metadata_host, "CIMD-REDIR-01"))
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

    Then the corpus's published desktop-app shape (a port-less http://127.0.0.1/callback),
    requested on the listener's port.

    Expects: all are accepted and, once approved, the code arrives at the listener's
    port. (Redeeming the code is CIMD-AUTHN-05's check.)
    """
    shapes = published_shapes(cimd_metadata_host, "CIMD-REDIR-02", cimd_callback.port)
    verify_published_shapes(cimd_target, shapes)
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
    target: TargetSession,
    host: MetadataHost,
    listener: CallbackListener,
    listed: str,
    named: str = "",
) -> str:
    """Lists ``listed``, requests the listener's port; what went wrong, or "".

    ``named`` is the host name the request uses for the listener (default its address).
    """
    ephemeral = listener.url("/callback")
    if named:
        ephemeral = urlsplit(ephemeral)._replace(netloc=f"{named}:{listener.port}").geturl()
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


@pytest.mark.requirement("CIMD-REDIR-03")
def test_localhost_redirect_uri_matches_any_port(
    cimd_target: TargetSession, cimd_metadata_host: MetadataHost, cimd_callback: CallbackListener
) -> None:
    """Lists http://localhost/callback (no port), as widely used MCP clients publish it, and
    requests http://localhost:<the callback listener's ephemeral port>/callback.

    Then the corpus's published shape of it, requested the same way.

    Expects: accepted and, once approved, the code arrives at the listener's port.
    """
    shapes = published_shapes(cimd_metadata_host, "CIMD-REDIR-03", cimd_callback.port)
    verify_published_shapes(cimd_target, shapes)
    listed = "http://localhost/callback"
    problem = _code_reaches_ephemeral_port(
        cimd_target, cimd_metadata_host, cimd_callback, listed, named="localhost"
    )
    if problem:
        raise NonConformance(
            expected="a localhost redirect URI accepted on the request's port", observed=problem
        )


# Never sent anywhere by the suite: the target must refuse them, and the names that are not
# loopback ones (a wildcard-DNS name, a name under another domain) are never resolved.
LOOPBACK_NEAR_MISSES = (
    "http://127.0.0.1:5000/callback/x",
    "http://127.0.0.1:5000/Callback",
    "https://127.0.0.1:5000/callback",
    "http://127.0.0.2:5000/callback",
    "http://localhost:5000/callback",
    "http://127.0.0.1.nip.io:5000/callback",
    "http://localhost.evil.test:5000/callback",
)


@pytest.mark.requirement("CIMD-REDIR-04")
def test_loopback_port_rule_relaxes_only_the_port(
    cimd_target: TargetSession, cimd_metadata_host: MetadataHost
) -> None:
    """Lists http://127.0.0.1/callback and requests it on port 5000 with one more change
    each: a longer path, another case, https, 127.0.0.2, localhost, 127.0.0.1.nip.io and
    localhost.evil.test as host; then lists https://app.test/cb and requests
    https://app.test:8443/cb.

    Expects: every one is refused: the loopback rule relaxes the port and nothing else.
    """
    loopback = public_client(cimd_metadata_host, redirect_uris=["http://127.0.0.1/callback"])
    cases = [(uri, cimd_target.attempt(loopback.client_id, uri)) for uri in LOOPBACK_NEAR_MISSES]
    https = public_client(cimd_metadata_host, redirect_uris=[LISTED])
    port = "https://app.test:8443/cb"
    cases.append((f"{port} ({LISTED} listed)", cimd_target.attempt(https.client_id, port)))
    verify_refused(cases, "redirect URIs that differ from a listed loopback one beyond the port")


@pytest.mark.requirement("CIMD-REDIR-05")
def test_request_must_name_one_of_several_redirect_uris(
    cimd_target: TargetSession, cimd_metadata_host: MetadataHost
) -> None:
    """The golden document (two redirect URIs), requested without redirect_uri; then, for the
    record, a one-URI document requested the same way (either answer is allowed).

    Expects: the two-URI request is refused (no consent, no code).
    """
    client = public_client(cimd_metadata_host)
    if len(client.document.get("redirect_uris", [])) < 2:
        raise HarnessError("the corpus's public client must list two redirect URIs")
    case = ("no redirect_uri, two listed", cimd_target.attempt(client.client_id, None))
    single = public_client(cimd_metadata_host, redirect_uris=[client.redirect_uri])
    cimd_target.attempt(single.client_id, None)  # recorded in the evidence, not judged
    verify_refused([case], "a request without redirect_uri when the document lists several")


@pytest.mark.requirement("CIMD-REDIR-07")
def test_code_is_bound_to_its_client(
    cimd_target: TargetSession, cimd_metadata_host: MetadataHost
) -> None:
    """Two valid public clients A and B. A redeems a fresh code of its own (the control),
    then a code issued to A is redeemed with client_id=B and A's verifier.

    Expects: invalid_grant or invalid_client, and no tokens.
    """
    client_a, client_b = public_client(cimd_metadata_host), public_client(cimd_metadata_host)
    try:
        control = redeem_fresh_code(cimd_target, client_a)
    except NotApplicable as exc:
        raise NotApplicable(f"{exc}; see CIMD-DISC-04") from exc
    if not control.issued:
        raise NotApplicable(
            f"A's own code was not redeemed ({control.describe()}); see CIMD-AUTHN-05"
        )
    attempt, code = code_for(cimd_target, client_a)
    assert attempt.pkce is not None  # code_for refuses attempts without PKCE
    result = cimd_target.redeem(
        client_id=client_b.client_id,
        code=code,
        redirect_uri=client_a.redirect_uri,
        verifier=attempt.pkce.verifier,
    )
    if result.issued or result.error not in ("invalid_grant", "invalid_client"):
        raise NonConformance(
            expected="invalid_grant (or invalid_client) for a code issued to another client",
            observed=f"client A's code redeemed as client B: {result.describe()}",
        )


@pytest.mark.requirement("CIMD-REDIR-08")
def test_unknown_client_cannot_make_an_open_redirector(
    cimd_target: TargetSession, cimd_metadata_host: MetadataHost
) -> None:
    """A valid document never approved before (accepted in the logged-in session: the
    control), then requested without any session cookie with an unknown scope, an
    unsupported response_type, prompt=none, and no code_challenge.

    Expects: none of them sends the browser straight to the redirect URI: the target signs
    the user in, or shows the error, first.
    """
    client = public_client(cimd_metadata_host)
    control = cimd_target.attempt(client.client_id, client.redirect_uri)
    if not control.outcome.accepted:
        raise NotApplicable(
            f"the client was not accepted ({control.outcome.describe()}); see CIMD-DISC-04"
        )
    errors: list[tuple[dict[str, str], bool]] = [
        ({"scope": "cimd-unknown-scope-" + secrets.token_hex(4)}, True),
        ({"response_type": "cimd_unsupported"}, True),
        ({"prompt": "none"}, True),
        ({}, False),
    ]
    cases = []
    with deadline.client(cimd_target.tls) as cookieless:
        anonymous = TargetSession(
            cimd_target.target,
            cookieless,
            cimd_target.tls,
            dict(cimd_target.extra_params),
            pacer=cimd_target.pacer,
            clock=cimd_target.clock,
        )
        for extra, with_pkce in errors:
            name = ", ".join(f"{k}={v}" for k, v in extra.items()) or "no code_challenge"
            attempt = anonymous.attempt(
                client.client_id, client.redirect_uri, extra=extra, with_pkce=with_pkce
            )
            cases.append((f"no session, {name}", attempt))
    cimd_target.attempts.extend(anonymous.attempts)
    verify_not_sent_to_redirect_uri(cases, "an error for an unknown client, before sign-in")


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


# on other hosts: whether the PAR endpoint checks at all (how exactly is CIMD-REDIR-01's)
PAR_UNLISTED = ("https://attacker.test/cb", "https://app.test.attacker.test/cb")


def _push(target: TargetSession, client: ProbeClient, redirect_uri: str) -> TokenResult:
    """A pushed authorization request for ``client`` and ``redirect_uri``, as AUTHZ has it."""
    return target.push(target.code_request(client.client_id, redirect_uri))


def _request_uri(result: TokenResult) -> str | None:
    value = (result.body or {}).get("request_uri")
    return value if isinstance(value, str) and value else None


@pytest.mark.requirement("CIMD-REDIR-10")
def test_par_endpoint_checks_redirect_uri(
    cimd_metadata: Target, cimd_target: TargetSession, cimd_metadata_host: MetadataHost
) -> None:
    """Pushes requests for redirect URIs a public client's document does not list.

    Where the metadata advertises a pushed_authorization_request_endpoint, a public client
    listing https://app.test/cb pushes a request for it (the control: a request_uri, which
    the authorization endpoint then accepts), then requests for unlisted redirect URIs. A
    public client, so RFC 9126 §2.4's exception for authenticated clients cannot apply.

    Expects: each unlisted one gets a 400 JSON error (invalid_request) and no request_uri.
    """
    if not cimd_metadata.metadata.get("pushed_authorization_request_endpoint"):
        raise NotApplicable(
            "the target advertises no pushed_authorization_request_endpoint: PAR (RFC 9126) "
            "is not offered, so there is no PAR endpoint to check"
        )
    client = public_client(cimd_metadata_host, redirect_uris=[LISTED])
    control = _push(cimd_target, client, LISTED)
    request_uri = _request_uri(control)
    if request_uri is None:
        raise HarnessError(
            f"a valid pushed request (redirect_uri {LISTED}, listed) got no request_uri "
            f"({control.describe()}: {control.text[:160]!r}); the refusals cannot be told "
            "from a PAR endpoint that refuses everything"
        )
    params = {"client_id": client.client_id, "request_uri": request_uri}
    # over plain HTTP only: a request_uri is used once, so the browser could not look again at
    # a page plain HTTP cannot read (built by script); only a plain refusal counts against it
    pushed = cimd_target.follow("GET", cimd_target.authorization_url(params), None, LISTED)
    refused = pushed.kind is OutcomeKind.ERROR_REDIRECT or (
        pushed.kind is OutcomeKind.ERROR_PAGE and pushed.status >= 400
    )
    if refused:
        raise HarnessError(
            f"the authorization endpoint did not accept a request_uri from the PAR endpoint "
            f"({pushed.describe()}): its PAR cannot be used as advertised"
        )
    wrong = []
    for uri in PAR_UNLISTED:
        result = _push(cimd_target, client, uri)
        if _request_uri(result) is not None or not 400 <= result.status < 500:
            wrong.append(f"{uri}: HTTP {result.status}, {result.text[:120]!r}")
    if wrong:
        raise NonConformance(
            expected="a 400 JSON error (invalid_request) and no request_uri for a pushed "
            "redirect_uri the document does not list",
            observed="; ".join(wrong),
        )


@pytest.mark.requirement("CIMD-REDIR-09")
def test_cross_origin_redirect_policy_is_recorded(
    cimd_target: TargetSession, cimd_metadata_host: MetadataHost
) -> None:
    """A document lists a redirect URI on the client_id's origin and one on another origin
    (``https://<unique>.app.test/cb``); AUTHZ(U, cross-origin) is sent, with AUTHZ(U,
    same-origin) as the control.

    Expects: recorded, not scored: whether the AS requires redirect URIs to share the
    client's origin.
    """
    host = cimd_metadata_host
    other = f"https://cimd-{secrets.token_hex(4)}.app.test/cb"
    same = host.base_url + host.new_path("cb")
    client = public_client(host, redirect_uris=[same, other])
    control = cimd_target.attempt(client.client_id, same)
    if not control.outcome.accepted:
        raise NotApplicable(
            f"the same-origin redirect URI was not accepted ({control.outcome.describe()})"
        )
    crossed = cimd_target.attempt(client.client_id, other).outcome
    raise observers.redirect_origin_policy(crossed.accepted, crossed.describe())
