"""Client authentication (CIMD-AUTHN): public clients redeem with client_id and verifier only;
private_key_jwt clients prove themselves with an assertion signed by a key in their document,
whose jwks_uri follows the SSRF rules (proven by canaries, as in test_security).
"""

from __future__ import annotations

import time

import jwt
import pytest

from conformance.catalog.verdicts import NonConformance, NotApplicable
from conformance.harness import observers
from conformance.harness.client_assertions import ASSERTION_TYPE, ClientKey, hmac_signed, unsigned
from conformance.harness.clients import ProbeClient, cached_for, public_client, published_shapes
from conformance.harness.flows import code_for, redeem_fresh_code
from conformance.harness.session import TargetSession, TokenResult
from conformance.harness.verify import verify_published_shapes
from conformance.network.aims import Aim, loopback_literals, special_names
from conformance.network.topology import Planter
from mock_servers.lab_dns import Answer
from mock_servers.metadata_host import MetadataHost

PRIVATE_KEY_JWT = "private_key_jwt"


@pytest.mark.requirement("CIMD-AUTHN-05")
def test_public_client_redeems_code_without_secret(
    cimd_target: TargetSession, cimd_metadata_host: MetadataHost
) -> None:
    """Approves consent for the public client, then redeems the code with client_id in the
    form body, the PKCE verifier, and no Authorization header.

    Expects: tokens are issued.
    """
    client = public_client(cimd_metadata_host)
    try:
        tokens = redeem_fresh_code(cimd_target, client)
    except NotApplicable as exc:
        raise NotApplicable(f"{exc}; see CIMD-DISC-04") from exc
    if not tokens.issued:
        raise NonConformance(
            expected="tokens for client_id + code_verifier, no client secret",
            observed=tokens.describe(),
        )


def _key_client(host: MetadataHost, key: ClientKey) -> ProbeClient:
    """A private_key_jwt client whose document carries ``key`` inline."""
    return public_client(host, token_endpoint_auth_method=PRIVATE_KEY_JWT, jwks=key.jwks())


def _require_private_key_jwt(target: TargetSession, client: ProbeClient, key: ClientKey) -> str:
    """The control: a valid assertion redeems, else the target has no private_key_jwt.

    Servers differ on the ``aud`` they want (RFC 7523 §3: a value identifying the AS, the
    token endpoint's URL commonly; its issuer per RFC 7523bis), so the token endpoint is
    tried, then the issuer. Returns the audience that worked, for the rest of the check.
    """
    tried = []
    for audience in _audiences(target):
        try:
            result = redeem_fresh_code(target, client, key.assertion(client.client_id, audience))
        except NotApplicable as exc:
            raise NotApplicable(f"private_key_jwt clients are not accepted: {exc}") from exc
        if result.issued:
            return audience
        tried.append(f"aud {audience}: {result.describe()}")
    raise NotApplicable(
        "a private_key_jwt client with a valid assertion was not issued tokens "
        f"({'; '.join(tried)}): the target does not support private_key_jwt"
    )


def _audiences(target: TargetSession) -> tuple[str, ...]:
    endpoint, issuer = target.target.token_endpoint, target.target.issuer
    return (endpoint,) if issuer == endpoint else (endpoint, issuer)


def _refused(result: TokenResult) -> bool:
    """Refused as RFC 6749 §5.2 asks: no tokens, ``invalid_client``."""
    return not result.issued and result.error == "invalid_client"


@pytest.mark.requirement("CIMD-AUTHN-01")
def test_private_key_jwt_client_must_authenticate(
    cimd_target: TargetSession, cimd_metadata_host: MetadataHost
) -> None:
    """A private_key_jwt document with jwks: a valid assertion redeems a code (the control),
    then a token request with a valid code and no client_assertion.

    The corpus's published private_key_jwt shape (keys at a jwks_uri) must reach consent
    too.

    Expects: invalid_client and no tokens; the published shape accepted.
    """
    verify_published_shapes(cimd_target, published_shapes(cimd_metadata_host, "CIMD-AUTHN-01"))
    key = ClientKey.new()
    client = _key_client(cimd_metadata_host, key)
    _require_private_key_jwt(cimd_target, client, key)  # whatever aud it wants
    result = redeem_fresh_code(cimd_target, client, None)
    if not _refused(result):
        raise NonConformance(
            expected="invalid_client without a client_assertion", observed=result.describe()
        )


@pytest.mark.requirement("CIMD-AUTHN-02")
def test_assertion_is_verified(
    cimd_target: TargetSession, cimd_metadata_host: MetadataHost
) -> None:
    """A private_key_jwt document with jwks: a valid ES256 assertion redeems (the control);
    then assertions signed by a key not in the document, with iss or sub another URL, aud
    another server, expired, alg none, HS256 keyed with the published public key, and a kid
    naming an absent key.

    Expects: invalid_client and no tokens for each.
    """
    key, stranger = ClientKey.new(), ClientKey.new()
    client = _key_client(cimd_metadata_host, key)
    audience = _require_private_key_jwt(cimd_target, client, key)
    claims = key.claims(client.client_id, audience)
    other = cimd_metadata_host.new_client_url()
    cases = {
        "signed by a key not in the document": stranger.sign(claims),
        "iss is another URL": key.sign({**claims, "iss": other}),
        "sub is another URL": key.sign({**claims, "sub": other}),
        "aud is another server": key.sign({**claims, "aud": "https://other-as.example/token"}),
        "expired": key.sign({**claims, "exp": int(time.time()) - 600}),
        "alg none": unsigned(claims),
        "HS256 keyed with the public key": hmac_signed(claims, key.public_bytes(), key.kid),
        "kid of an absent key": stranger.sign(claims, kid="absent-" + key.kid),
    }
    accepted = []
    for name, assertion in cases.items():
        result = redeem_fresh_code(cimd_target, client, assertion)
        if not _refused(result):
            accepted.append(f"{name}: {result.describe()}")
    if accepted:
        raise NonConformance(
            expected="invalid_client for every assertion that does not verify",
            observed="; ".join(accepted),
        )


@pytest.mark.requirement("CIMD-AUTHN-03")
def test_replayed_assertion_is_refused(
    cimd_target: TargetSession, cimd_metadata_host: MetadataHost
) -> None:
    """A private_key_jwt document with jwks: a valid assertion redeems a code (the control,
    which also finds the aud the target wants); then one new assertion redeems a second
    code, and the very same assertion (same jti) is sent with a third.

    Expects: the replayed assertion is refused with invalid_client.
    """
    key = ClientKey.new()
    client = _key_client(cimd_metadata_host, key)
    audience = _require_private_key_jwt(cimd_target, client, key)
    assertion = key.assertion(client.client_id, audience)
    first = redeem_fresh_code(cimd_target, client, assertion)
    if not first.issued:
        raise NotApplicable(f"a valid assertion was refused on first use ({first.describe()})")
    replayed = redeem_fresh_code(cimd_target, client, assertion)
    if not _refused(replayed):
        raise NonConformance(
            expected="invalid_client for an assertion (its jti) used before",
            observed=f"the same assertion, sent again: {replayed.describe()}",
        )


@pytest.mark.requirement("CIMD-AUTHN-04")
def test_assertion_for_one_client_never_authenticates_another(
    cimd_target: TargetSession, cimd_metadata_host: MetadataHost
) -> None:
    """Two private_key_jwt clients A and B with different keys; B's own assertion redeems
    (the control); then B's code redeemed with client_id=B and A's valid assertion
    (iss = sub = A, signed with A's key).

    Expects: invalid_client and no tokens.
    """
    key_a, key_b = ClientKey.new(), ClientKey.new()
    client_a = _key_client(cimd_metadata_host, key_a)
    client_b = _key_client(cimd_metadata_host, key_b)
    audience = _require_private_key_jwt(cimd_target, client_b, key_b)
    assertion = key_a.assertion(client_a.client_id, audience)
    result = redeem_fresh_code(cimd_target, client_b, assertion, client_id=client_b.client_id)
    if not _refused(result):
        raise NonConformance(
            expected="invalid_client for another client's assertion", observed=result.describe()
        )


@pytest.mark.requirement("CIMD-AUTHN-06")
def test_key_removed_from_document_stops_authenticating(
    cimd_target: TargetSession, cimd_metadata_host: MetadataHost
) -> None:
    """A ``no-store`` private_key_jwt document with keys K1 and K2: an assertion signed with
    K1 redeems (the control); a code is issued; then the document's jwks drops K1 and the
    code is redeemed with a new assertion signed with K1.

    Expects: invalid_client and no tokens.
    """
    host = cimd_metadata_host
    old, new = ClientKey.new(), ClientKey.new()
    both = {"keys": old.jwks()["keys"] + new.jwks()["keys"]}
    client = public_client(host, token_endpoint_auth_method=PRIVATE_KEY_JWT, jwks=both)
    host.serve(client.client_id, cached_for(client.document, "no-store"))
    audience = _require_private_key_jwt(cimd_target, client, old)
    attempt, code = code_for(cimd_target, client)
    assert attempt.pkce is not None  # code_for refuses attempts without PKCE
    host.serve(client.client_id, cached_for({**client.document, "jwks": new.jwks()}, "no-store"))
    result = cimd_target.redeem(
        client_id=client.client_id,
        code=code,
        redirect_uri=client.redirect_uri,
        verifier=attempt.pkce.verifier,
        assertion=old.assertion(client.client_id, audience),
    )
    if not _refused(result):
        raise NonConformance(
            expected="invalid_client for an assertion signed with a key the re-fetched "
            "document no longer lists",
            observed=result.describe(),
        )


def _redeem_with_key(
    target: TargetSession, host: MetadataHost, key: ClientKey, jwks_uri: str, audience: str
) -> tuple[str, TokenResult | None]:
    """A private_key_jwt client with ``jwks_uri``: consent, approval, then the assertion.

    Returns what happened and the token endpoint's answer (``None`` if it was not reached).
    """
    method = "private_key_jwt"
    client = public_client(host, token_endpoint_auth_method=method, jwks_uri=jwks_uri)
    assertion = key.assertion(client.client_id, audience)
    try:
        result = redeem_fresh_code(target, client, assertion)
    except NotApplicable as exc:
        return str(exc), None
    return result.describe(), result


@pytest.mark.requirement("CIMD-AUTHN-07")
def test_jwks_uri_follows_the_ssrf_rules(
    cimd_target: TargetSession, cimd_metadata_host: MetadataHost, cimd_ssrf: Planter
) -> None:
    """Serves private_key_jwt documents whose jwks_uri points at canaries (127.0.0.2, and
    ``localhost``, reported only; in the lab, names resolving to private and link-local
    addresses), approves consent and redeems each code with an assertion signed by the
    client's key. A control client whose jwks_uri is on the metadata host, redeemed first,
    shows the target does use jwks_uri and which aud it wants (token endpoint, else issuer).

    Expects: no canary sees a connection and no tokens are issued for the canary clients.
    """
    host, network = cimd_metadata_host, cimd_ssrf.network
    key = ClientKey.new()
    # The control first: it finds the aud the target wants (the token endpoint, else the
    # issuer), so that the canary clients' assertions differ from a valid one only in where
    # their keys are; one refused for its aud might never have its jwks_uri fetched.
    control = host.new_path("jwks.json")
    host.serve_document(host.base_url + control, key.jwks())
    target, tried = cimd_target.target, []
    audiences = tuple(dict.fromkeys((target.token_endpoint, target.issuer)))
    for audience in audiences:
        what, result = _redeem_with_key(cimd_target, host, key, host.base_url + control, audience)
        if result is not None and result.issued:
            break
        tried.append(f"aud {audience}: {what}")
    else:
        audience = audiences[0]
    if network.is_lab:
        aims = [
            Aim(f"a name resolving to {a}", network.new_name("jwks", Answer((a,))), (a,))
            for a in ("10.0.0.1", "169.254.169.254")
        ]
    else:
        aims = [*special_names(network)[:1], *loopback_literals(network)[:1]]
    issued = []
    for aim in aims:
        planted = cimd_ssrf.plant(f"jwks_uri on {aim.name}", aim.listen, excepted=aim.excepted)
        what, result = _redeem_with_key(
            cimd_target, host, key, f"https://{aim.host}:{planted.port}/jwks.json", audience
        )
        if aim.judged and result is not None and result.issued:
            issued.append(f"{aim.name}: {what}")
    cimd_ssrf.verify_untouched("a special-use host named as a client's jwks_uri")
    if issued:
        raise NonConformance(
            expected="no tokens when the client's keys sit on a special-use host",
            observed="; ".join(issued),
        )
    if len(tried) == len(audiences):
        raise NotApplicable(
            "the target does not redeem a private_key_jwt client whose jwks_uri is on the "
            f"metadata host ({'; '.join(tried)}), so a refusal here would show nothing about "
            "jwks_uri"
        )


@pytest.mark.requirement("CIMD-AUTHN-08")
def test_declared_signing_algorithm_is_enforced(
    cimd_target: TargetSession, cimd_metadata_host: MetadataHost
) -> None:
    """A private_key_jwt document declaring token_endpoint_auth_signing_alg ES256 whose jwks
    holds an EC and an RSA key: an ES256 assertion redeems a code (the control), then an
    RS256 assertion signed with the document's own RSA key.

    Expects: the RS256 assertion is refused with invalid_client.
    """
    ec_key, rsa_key = ClientKey.new(), ClientKey.new_rsa()
    jwks = {"keys": [*ec_key.jwks()["keys"], *rsa_key.jwks()["keys"]]}
    client = public_client(
        cimd_metadata_host,
        token_endpoint_auth_method=PRIVATE_KEY_JWT,
        token_endpoint_auth_signing_alg="ES256",  # noqa: S106 - an algorithm, no password
        jwks=jwks,
    )
    audience = _require_private_key_jwt(cimd_target, client, ec_key)
    result = redeem_fresh_code(cimd_target, client, rsa_key.assertion(client.client_id, audience))
    if not _refused(result):
        raise NonConformance(
            expected="invalid_client for an RS256 assertion from a client that declares ES256",
            observed=result.describe(),
        )


@pytest.mark.requirement("CIMD-AUTHN-09")
def test_client_only_token_subject_is_recorded(
    cimd_target: TargetSession, cimd_metadata_host: MetadataHost
) -> None:
    """A private_key_jwt client (grant_types authorization_code and client_credentials)
    asks for a client_credentials token with an assertion signed by its key.

    Expects: recorded, not scored: whether client_credentials is granted to a CIMD client,
    and if so the token's ``sub`` (a client-only token must not look like a user's).
    """
    key = ClientKey.new()
    client = public_client(
        cimd_metadata_host,
        token_endpoint_auth_method=PRIVATE_KEY_JWT,
        jwks=key.jwks(),
        grant_types=["authorization_code", "client_credentials"],
    )
    result = None
    for audience in _audiences(cimd_target):
        data = {
            "grant_type": "client_credentials",
            "client_id": client.client_id,
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": key.assertion(client.client_id, audience),
        }
        result = cimd_target.token_request(data)
        if result.issued:
            break
    assert result is not None  # _audiences names at least the token endpoint
    sub = None
    token = (result.body or {}).get("access_token") if result.issued else None
    if isinstance(token, str):
        try:
            sub = jwt.decode(token, options={"verify_signature": False}).get("sub")
        except jwt.PyJWTError:
            sub = None  # an opaque token: its subject is not readable
    raise observers.client_only_token(result.issued, result.error, sub, client.client_id)
