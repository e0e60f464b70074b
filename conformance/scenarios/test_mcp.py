"""MCP 2025-11-25 requirements on the AS (MCP-AUTH): metadata at the MCP well-known URLs; PKCE
for CIMD public clients, advertised, required and verified (in OpenID Connect discovery too);
https endpoints; the resource parameter (RFC 8707) and audience-bound tokens; refresh-token
rotation for public clients; and MCP 2026-07-28's iss in authorization responses (RFC 9207),
scored under the mcp-2026-07-28 profile and recorded under the others.
"""

from __future__ import annotations

import ipaddress
from typing import Any
from urllib.parse import urlsplit

import jwt
import pytest

from conformance.catalog.requirements import Tier
from conformance.catalog.verdicts import NonConformance, NotApplicable
from conformance.harness import observers
from conformance.harness.clients import ProbeClient, public_client
from conformance.harness.flows import redeem_fresh_code, refresh_token_for
from conformance.harness.outcome import OutcomeKind, origin
from conformance.harness.session import Pkce, TargetSession, TokenResult
from conformance.run.mcp_journey import JourneyRun
from conformance.target.discovery import Target
from mock_servers.metadata_host import MetadataHost

UNKNOWN_RESOURCE = "https://unknown.test/mcp"  # never contacted: only named in requests
OIDC_WELL_KNOWN = "/.well-known/openid-configuration"
PKCE_METHODS = "code_challenge_methods_supported"


def _code(target: TargetSession, client_id: str, redirect_uri: str, pkce: Pkce) -> str | None:
    attempt = target.attempt(client_id, redirect_uri, pkce=pkce)
    if not attempt.outcome.approvable:
        return None
    return target.approve(attempt).params.get("code")


@pytest.mark.requirement("MCP-AUTH-08")
def test_pkce_is_enforced(
    cimd_metadata: Target, cimd_target: TargetSession, cimd_metadata_host: MetadataHost
) -> None:
    """Checks the metadata's code_challenge_methods_supported, sends a request without a
    challenge (and, if it is let through, redeems its code with a verifier), redeems a code
    with a wrong verifier, one without any verifier, then one with the right verifier.

    Expects: S256 advertised; no challenge refused (error redirect or page, no consent); the
    wrong or a missing verifier gets no tokens, nor does a verifier for a code that had no
    challenge (a PKCE downgrade); the right one does.
    """
    problems = []
    methods = cimd_metadata.metadata.get("code_challenge_methods_supported")
    if not isinstance(methods, list) or "S256" not in methods:
        problems.append(f"code_challenge_methods_supported is {methods!r}")
    client = public_client(cimd_metadata_host)
    bare = cimd_target.attempt(client.client_id, client.redirect_uri, with_pkce=False)
    if bare.outcome.accepted:
        problems.append(f"no code_challenge: {bare.outcome.describe()}")
        if bare.outcome.approvable:
            code = cimd_target.approve(bare).params.get("code")
            if code is not None:
                tokens = cimd_target.redeem(
                    client_id=client.client_id,
                    code=code,
                    redirect_uri=client.redirect_uri,
                    verifier=Pkce.new().verifier,
                )
                if tokens.issued:
                    problems.append(f"a verifier for a code with no challenge: {tokens.describe()}")
    for case in ("wrong", "no", "right"):
        pkce = Pkce.new()
        code = _code(cimd_target, client.client_id, client.redirect_uri, pkce)
        if code is None:
            problems.append("the S256 request got no code")
            break
        verifier = {"wrong": Pkce.new().verifier, "no": None, "right": pkce.verifier}[case]
        tokens = cimd_target.redeem(
            client_id=client.client_id,
            code=code,
            redirect_uri=client.redirect_uri,
            verifier=verifier,
        )
        if tokens.issued != (case == "right"):
            problems.append(f"{case} verifier: {tokens.describe()}")
    if problems:
        raise NonConformance(
            expected="PKCE S256 advertised, required and verified", observed="; ".join(problems)
        )


@pytest.mark.requirement("MCP-AUTH-02")
def test_metadata_found_at_mcp_well_known_urls(
    cimd_metadata: Target, cimd_mcp_journey: JourneyRun | None
) -> None:
    """Probes the well-known URLs in MCP 2025-11-25 §4.3 order (RFC 8414 path insertion first).
    With an MCP journey (--mcp, --mcp-server), the mock MCP client also finds them as an MCP
    client does: from the MCP server's 401, its protected resource metadata (RFC 9728), and
    the authorization server it names.

    Expects: one answers 200 JSON whose issuer equals the issuer it was built from; through
    the MCP server too.
    """
    found = cimd_metadata.metadata.get("issuer")
    if found != cimd_metadata.issuer:
        probes = "; ".join(f"{p.url} -> {p.status or p.error}" for p in cimd_metadata.probes)
        raise NonConformance(
            expected=f"metadata with issuer {cimd_metadata.issuer!r}",
            observed=f"issuer {found!r} ({probes})",
        )
    journey = _journey(cimd_mcp_journey, cimd_metadata.issuer)
    if journey is not None and journey.stopped_at == "as-metadata" and journey.error:
        raise NonConformance(
            expected="the authorization server's metadata, found from the MCP server",
            observed=f"the MCP client's discovery: {journey.error.reason}",
        )


def _journey(journey: JourneyRun | None, issuer: str) -> JourneyRun | None:
    """The run's MCP journey when its MCP server names ``issuer`` as its AS, else None."""
    return journey if journey is not None and journey.protects(issuer) else None


def _redeem_with_resource(
    target: TargetSession, client: ProbeClient, resource: str, extra: dict[str, str] | None = None
) -> TokenResult | str:
    """A code for ``client``, redeemed with ``resource`` in the token request.

    The authorization request carries ``extra``. Returns the token endpoint's answer, or
    what stopped the flow before it, as text.
    """
    attempt = target.attempt(client.client_id, client.redirect_uri, extra=extra)
    if not attempt.outcome.approvable or attempt.pkce is None:
        return f"the authorization request: {attempt.outcome.describe()}"
    code = target.approve(attempt).params.get("code")
    if code is None:
        return "approval gave no code"
    return target.redeem(
        client_id=client.client_id,
        code=code,
        redirect_uri=client.redirect_uri,
        verifier=attempt.pkce.verifier,
        extra={"resource": resource},
    )


def _audience(tokens: TokenResult) -> list[str] | None:
    """The ``aud`` of a JWT access token, or ``None`` when the token is opaque."""
    token = (tokens.body or {}).get("access_token")
    try:
        claims: dict[str, Any] = jwt.decode(str(token), options={"verify_signature": False})
    except jwt.PyJWTError:
        return None
    aud = claims.get("aud")
    return [aud] if isinstance(aud, str) else [a for a in aud or [] if isinstance(a, str)]


@pytest.mark.requirement("MCP-AUTH-10")
def test_resource_parameter_never_breaks_the_flow(
    cimd_target: TargetSession,
    cimd_metadata_host: MetadataHost,
    cimd_mcp_journey: JourneyRun | None,
) -> None:
    """With the run's resource (the MCP server URL: --mcp-server, --mcp, or --param
    resource=): the authorization request carries it (as every request of the run does), the
    token request too, and a refresh with it; where the access tokens are JWTs their aud is
    read. Then resource=https://unknown.test/mcp, at the authorization endpoint and, if let
    through, at the token endpoint. With an MCP journey, the mock MCP client's tokens
    (redeemed and refreshed with resource) are used at the MCP server.

    Expects: the flow completes with tokens (R; where it does not, the same flow without
    resource at the token endpoint is the control); through the MCP journey too, whose
    tokens the MCP server accepts (R); a JWT access token's aud names the resource, after a
    refresh too (Rec); the unknown resource gets invalid_target (Rec).
    """
    journey = _journey(cimd_mcp_journey, cimd_target.target.issuer)
    if journey is not None:
        _judge_journey_resource(journey)
    resource = cimd_target.extra_params.get("resource")
    if not resource:
        raise NotApplicable(
            "the run names no MCP server: give --mcp-server URL (or --param resource=URL) so "
            "that requests carry the canonical MCP server URL as resource"
        )
    client = public_client(cimd_metadata_host)
    tokens = _redeem_with_resource(cimd_target, client, resource)
    if isinstance(tokens, str) or not tokens.issued:
        observed = tokens if isinstance(tokens, str) else f"the token request: {tokens.describe()}"
        try:  # the control: the same flow with no resource at the token endpoint
            control = redeem_fresh_code(cimd_target, client)
        except NotApplicable as exc:
            raise NotApplicable(f"{exc}; see CIMD-DISC-04") from exc
        if not control.issued:
            raise NotApplicable(
                f"no tokens even without resource at the token endpoint ({control.describe()}); "
                "see CIMD-AUTHN-05"
            )
        raise NonConformance(
            expected=f"the flow completes with resource={resource} in both requests",
            observed=observed,
        )
    problems = []
    audience = _audience(tokens)
    if audience is not None and resource not in audience:
        problems.append(f"the JWT access token's aud is {audience}, without {resource}")
    refresh_token = (tokens.body or {}).get("refresh_token")
    if isinstance(refresh_token, str) and refresh_token:
        refreshed = cimd_target.refresh(
            client_id=client.client_id, refresh_token=refresh_token, extra={"resource": resource}
        )
        audience = _audience(refreshed) if refreshed.issued else None
        if audience is not None and resource not in audience:
            problems.append(f"after a refresh, the access token's aud is {audience}")
    unknown = _redeem_with_resource(
        cimd_target, client, UNKNOWN_RESOURCE, extra={"resource": UNKNOWN_RESOURCE}
    )
    if isinstance(unknown, TokenResult) and unknown.error != "invalid_target":
        problems.append(f"resource={UNKNOWN_RESOURCE} at the token endpoint: {unknown.describe()}")
    elif isinstance(unknown, str) and not _invalid_target(cimd_target):
        problems.append(f"resource={UNKNOWN_RESOURCE}: {unknown}, not invalid_target")
    if problems:
        raise NonConformance(
            expected="audience-bound tokens and invalid_target for an unknown resource (RFC 8707)",
            observed="; ".join(problems),
            tier=Tier.RECOMMENDED,
        )


def _judge_journey_resource(journey: JourneyRun) -> None:
    """The MCP journey's flow with resource, and the MCP server's use of its tokens."""
    url, error = journey.url, journey.error
    if error is not None and error.step in ("token", "refresh"):
        raise NonConformance(
            expected=f"tokens for the MCP client that names resource={url}",
            observed=f"the MCP client's {error.step} request: {error.reason}",
        )
    problems = []
    grants = [*journey.journey.grants, *filter(None, [journey.journey.refreshed])]
    for grant in grants:
        audience = _audience(TokenResult(200, grant.token_response, ""))
        if audience is not None and url not in audience:
            problems.append(f"an access token's aud is {audience}, without {url}")
    refused = error is not None and error.step == "token-refused" and journey.stopped_at_target()
    if refused and error is not None:
        problems.append(error.reason)
    if problems:  # a token the MCP server refuses broke the flow (R); a wrong aud alone: Rec
        raise NonConformance(
            expected=f"access tokens for resource={url} that the MCP server accepts",
            observed="; ".join(dict.fromkeys(problems)),
            tier=None if refused else Tier.RECOMMENDED,
        )


def _invalid_target(target: TargetSession) -> bool:
    """Whether the last authorization attempt ended with error invalid_target."""
    outcome = target.attempts[-1] if target.attempts else {}
    params = outcome.get("params") or {}
    text = str(outcome.get("page_text") or "")
    redirected = outcome.get("outcome") == OutcomeKind.ERROR_REDIRECT.value
    return (redirected and params.get("error") == "invalid_target") or "invalid_target" in text


@pytest.mark.requirement("MCP-AUTH-11")
def test_public_client_refresh_tokens_rotate(
    cimd_target: TargetSession,
    cimd_metadata_host: MetadataHost,
    cimd_mcp_journey: JourneyRun | None,
) -> None:
    """A public client redeems a code for tokens with a refresh token, refreshes once, then
    sends the old refresh token again. With an MCP journey, the mock MCP client's refresh
    (with resource) and its replay of the old refresh token are read too.

    Expects: the refresh returns a new refresh token; the old one is refused.
    """
    journey = _journey(cimd_mcp_journey, cimd_target.target.issuer)
    if journey is not None and journey.journey.old_refresh_reused:
        raise NonConformance(
            expected="the MCP client's old refresh token refused after its refresh",
            observed="the old refresh token, used again, gave tokens",
        )
    client = public_client(cimd_metadata_host)
    old = refresh_token_for(cimd_target, client)
    first = cimd_target.refresh(client_id=client.client_id, refresh_token=old)
    new = (first.body or {}).get("refresh_token")
    problems = []
    if not first.issued:
        problems.append(f"the refresh: {first.describe()}")
    elif not isinstance(new, str) or not new or new == old:
        problems.append("the refresh returned no new refresh token")
    replayed = cimd_target.refresh(client_id=client.client_id, refresh_token=old)
    if replayed.issued:
        problems.append(f"the old refresh token, used again: {replayed.describe()}")
    if problems:
        raise NonConformance(
            expected="a new refresh token at each refresh, the old one refused after",
            observed="; ".join(problems),
        )


@pytest.mark.requirement("MCP-AUTH-09")
def test_oidc_discovery_advertises_pkce(cimd_metadata: Target) -> None:
    """Reads every OpenID Connect discovery document the well-known probes found (the
    path-inserted and the appended URL).

    Expects: each lists code_challenge_methods_supported (a non-empty array), so that an MCP
    client reading it can tell PKCE is supported. A target that publishes no OpenID Connect
    discovery passes: the requirement binds only what is published.
    """
    lacking = [
        f"{url}: code_challenge_methods_supported = {document.get(PKCE_METHODS, '(absent)')!r}"
        for url, document in cimd_metadata.published()
        if OIDC_WELL_KNOWN in url
        and not (isinstance(document.get(PKCE_METHODS), list) and document[PKCE_METHODS])
    ]
    if lacking:
        raise NonConformance(
            expected=f"{PKCE_METHODS} in the OpenID Connect discovery document",
            observed="; ".join(lacking),
        )


@pytest.mark.requirement("MCP-AUTH-13")
def test_metadata_endpoints_use_https(
    cimd_metadata: Target, cimd_mcp_journey: JourneyRun | None
) -> None:
    """Reads every endpoint URL in the metadata documents discovery found (each member named
    *_endpoint, jwks_uri, and mtls_endpoint_aliases), and, with an MCP journey, in the one
    the mock MCP client found through the MCP server (and every URL it sent to).

    Expects: every one is an https URL. A target whose issuer is itself an http URL on
    loopback is a development deployment the suite was pointed at: its endpoints on that same
    origin are within that setting, and reported but not scored (others still are).
    """
    development = _development_origin(cimd_metadata.issuer)
    wrong, excepted = [], []
    published = list(cimd_metadata.published())
    journey = _journey(cimd_mcp_journey, cimd_metadata.issuer)
    if journey is not None and journey.journey.as_metadata:
        published.append((journey.journey.as_metadata_url, journey.journey.as_metadata))
    for url, document in published:
        for member, value in _endpoint_urls(document):
            if urlsplit(value).scheme.lower() == "https":
                continue
            if development is not None and origin(value) == development:
                excepted.append(member)
            else:
                wrong.append(f"{member} = {value!r} (in {url})")
    if wrong:
        note = ""
        if excepted:
            note = f"; not scored, on the http loopback issuer's own origin: {', '.join(excepted)}"
        raise NonConformance(
            expected="every endpoint in the metadata is an https URL",
            observed="; ".join(wrong) + note,
        )


def _endpoint_urls(document: dict[str, Any]) -> list[tuple[str, str]]:
    """(member, URL) for every endpoint the metadata names (RFC 8414 §2, RFC 8705 §5)."""
    found = [
        (name, value)
        for name, value in document.items()
        if (name.endswith("_endpoint") or name == "jwks_uri") and isinstance(value, str)
    ]
    aliases = document.get("mtls_endpoint_aliases")
    if isinstance(aliases, dict):
        found += [
            (f"mtls_endpoint_aliases.{name}", value)
            for name, value in aliases.items()
            if isinstance(value, str)
        ]
    return found


def _development_origin(issuer: str) -> tuple[str, str, int | None] | None:
    """The issuer's origin when it is an http URL on a loopback host, else None."""
    parts = urlsplit(issuer)
    if parts.scheme.lower() != "http":
        return None
    host = (parts.hostname or "").lower()
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    return origin(issuer) if loopback else None


@pytest.mark.requirement("MCP-AUTH-12")
def test_access_token_lifetime_is_recorded(
    cimd_target: TargetSession, cimd_metadata_host: MetadataHost
) -> None:
    """Redeems a code for the public client and reads the token response's expires_in.

    Expects: recorded, not scored: expires_in, flagged when above 24 hours.
    """
    tokens = redeem_fresh_code(cimd_target, public_client(cimd_metadata_host))
    if not tokens.issued or tokens.body is None:
        raise NotApplicable(f"no tokens were issued ({tokens.describe()}); see CIMD-AUTHN-05")
    raise observers.token_lifetime(tokens.body.get("expires_in"))


def _authorization_responses(
    target: TargetSession, host: MetadataHost
) -> dict[str, dict[str, str]]:
    """The parameters of a code response (consent approved) and of an error response (a
    request without a PKCE challenge, which MCP-AUTH-08 requires an AS to refuse), by name.

    The error response is left out when the target answered without redirecting.
    """
    client = public_client(host)
    attempt = target.attempt(client.client_id, client.redirect_uri)
    if not attempt.outcome.approvable:
        raise NotApplicable(f"the client was not accepted ({attempt.outcome.describe()})")
    approved = target.approve(attempt)
    if approved.kind is not OutcomeKind.CODE:
        raise NotApplicable(f"approval gave no code ({approved.describe()}); see CIMD-DISC-04")
    responses = {"code response": approved.params}
    bare = target.attempt(client.client_id, client.redirect_uri, with_pkce=False)
    if bare.outcome.kind is OutcomeKind.ERROR_REDIRECT:
        responses["error response"] = bare.outcome.params
    return responses


@pytest.mark.requirement("MCP-AUTH-19")
def test_issuer_in_authorization_responses(
    cimd_metadata: Target, cimd_target: TargetSession, cimd_metadata_host: MetadataHost
) -> None:
    """Approves consent for the public client, then sends it without a PKCE challenge (an
    error redirect), and reads iss in both redirects (RFC 9207 §2).

    Expects: iss in every authorization response, error responses included (scored under
    mcp-2026-07-28, recorded under the other profiles).
    """
    responses = _authorization_responses(cimd_target, cimd_metadata_host)
    advertised = cimd_metadata.metadata.get(observers.ISS_FLAG)
    raise observers.issuer_in_response(responses, advertised)


@pytest.mark.requirement("MCP-AUTH-21")
def test_issuer_flag_agrees_with_responses(
    cimd_metadata: Target, cimd_target: TargetSession, cimd_metadata_host: MetadataHost
) -> None:
    """Reads authorization_response_iss_parameter_supported from the metadata and iss in a
    code response and an error response.

    Expects: iss in the responses when, and only when, the metadata advertises the flag as
    true (scored under mcp-2026-07-28, recorded under the other profiles).
    """
    responses = _authorization_responses(cimd_target, cimd_metadata_host)
    advertised = cimd_metadata.metadata.get(observers.ISS_FLAG)
    raise observers.issuer_flag_agrees(responses, advertised)


@pytest.mark.requirement("MCP-AUTH-22")
def test_issuer_in_responses_is_the_issuer(
    cimd_metadata: Target, cimd_target: TargetSession, cimd_metadata_host: MetadataHost
) -> None:
    """Compares the iss of a code response and of an error response with the issuer, as
    strings, without normalization (RFC 9207 §2.4).

    Expects: each iss equals the issuer identifier character for character (scored under
    mcp-2026-07-28, recorded under the other profiles).
    """
    responses = _authorization_responses(cimd_target, cimd_metadata_host)
    if all("iss" not in params for params in responses.values()):
        raise NotApplicable("no iss in the authorization responses; see MCP-AUTH-19")
    raise observers.issuer_value(responses, cimd_metadata.issuer)


@pytest.mark.requirement("MCP-AUTH-20")
def test_registration_endpoint_is_recorded(cimd_metadata: Target) -> None:
    """Reads registration_endpoint from the target's metadata.

    Expects: recorded, not scored: whether Dynamic Client Registration is offered beside CIMD.
    """
    raise observers.registration_endpoint(cimd_metadata.metadata)
