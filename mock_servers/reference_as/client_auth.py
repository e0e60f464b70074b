"""Client authentication at the token endpoint: public clients, and private_key_jwt.

A CIMD client that declares ``private_key_jwt`` proves itself with an RFC 7523 assertion
signed by a key its document publishes, inline (``jwks``) or at ``jwks_uri`` (CIMD-02 §8.2).
The ``jwks_uri`` is fetched when the assertion arrives, under the same SSRF rules as the
document (CIMD-AUTHN-07). Public clients must not authenticate at all.
"""

from __future__ import annotations

import hmac
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import jwt

from .clients import ClientError
from .documents import RFC7591_DEFAULT_METHOD, SIGNING_ALGORITHMS, ClientDocument
from .faults import F, FaultSet
from .fetching import FetchError

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_ALGORITHMS = SIGNING_ALGORITHMS
REPLAY_LEEWAY_S = 60.0  # kept past exp, in case clocks differ


class ClientAuthError(Exception):
    """The client did not authenticate as its document requires (``invalid_client``)."""


@dataclass(frozen=True)
class Verifier:
    """How one issuer authenticates clients, with its faults.

    Attributes:
        audiences: the values an assertion's ``aud`` may name (issuer, token endpoint).
        single_audience: the ``assertion-audience-issuer`` variant: ``aud`` must be one string,
            exactly the first of ``audiences`` (the issuer), as RFC 7523bis asks.
        fetch_jwks: ``async (url) -> bytes``, the SSRF-guarded fetch of a ``jwks_uri``.
        resolve: ``async (client_id) -> ClientDocument``, for the ``assertion-key-from-issuer``
            fault, which takes the keys of whatever client the assertion names.
        faults: the issuer's faults.
        first_use: ``(key, lifetime_s) -> bool``: remembers an assertion's ``jti`` for its
            client until it expires, and says whether it is new; ``None`` remembers nothing.
    """

    audiences: tuple[str, ...]
    fetch_jwks: Callable[[str], Awaitable[bytes]]
    resolve: Callable[[str], Awaitable[ClientDocument]]
    faults: FaultSet
    single_audience: bool = False
    first_use: Callable[[str, float], bool] | None = None

    async def authenticate(
        self, client: ClientDocument | None, client_id: str, fields: dict[str, str]
    ) -> None:
        """Check the token request's client authentication against the client's document.

        Args:
            client: the client the grant was issued to (``None``: a public client).
            client_id: the ``client_id`` of the token request.
            fields: ``client_assertion_type`` and ``client_assertion`` if sent.

        Raises:
            ClientAuthError: with a description safe to return to the client.
        """
        assertion_type = fields.get("client_assertion_type")
        assertion = fields.get("client_assertion")
        secret = fields.get("client_secret")
        if secret is not None:  # the published-secret-accepted fault let a secret through
            published = client.client_secret if client is not None else None
            if published is None or not hmac.compare_digest(secret.encode(), published.encode()):
                raise ClientAuthError("the client secret is not valid")
            return  # the document's own secret, taken as a credential
        if client is not None and client.auth_method == RFC7591_DEFAULT_METHOD:
            # the missing-auth-method-is-basic fault: a shared secret no URL client has
            raise ClientAuthError("client authentication required")
        if client is None or client.auth_method == "none":
            if assertion_type or assertion:
                raise ClientAuthError("public clients do not authenticate")
            return
        if assertion_type != ASSERTION_TYPE or not assertion:
            if self.faults.has(F.PRIVATE_KEY_JWT_OPTIONAL) and not (assertion_type or assertion):
                return  # the fault: no assertion at all is taken for a public client
            raise ClientAuthError("this client must authenticate with private_key_jwt")
        if self.faults.has(F.ASSERTION_KEY_FROM_ISSUER):
            client, client_id = await self._named_client(assertion, client)
        # RFC 7591 §2: a declared token_endpoint_auth_signing_alg is the only one accepted
        declared = None if self.faults.has(F.SIGNING_ALG_NOT_ENFORCED) else client.signing_alg
        claims = _verify(
            assertion,
            await self._keys(client),
            client_id,
            self.audiences[:1] if self.single_audience else self.audiences,
            check_claims=not self.faults.has(F.ASSERTION_CLAIMS_UNCHECKED),
            single_audience=self.single_audience,
            algorithms=(declared,) if declared else ASSERTION_ALGORITHMS,
        )
        if claims is not None:
            self._first_use(client_id, claims)

    def _first_use(self, client_id: str, claims: dict[str, Any]) -> None:
        """RFC 7523 §3: an assertion's ``jti`` is used once (the fault: any number of times)."""
        if self.first_use is None or self.faults.has(F.ASSERTION_REPLAY_ALLOWED):
            return
        lifetime = max(float(claims["exp"]) - time.time(), 0.0) + REPLAY_LEEWAY_S
        if not self.first_use(f"client-assertion {client_id} {claims['jti']}", lifetime):
            raise ClientAuthError("the client assertion was already used")

    async def _keys(self, client: ClientDocument) -> Any:
        if client.jwks is not None or not client.jwks_uri:
            return client.jwks
        try:
            return json.loads(await self.fetch_jwks(client.jwks_uri))
        except (FetchError, ValueError) as exc:
            raise ClientAuthError("the client's key set could not be obtained") from exc

    async def _named_client(
        self, assertion: str, known: ClientDocument
    ) -> tuple[ClientDocument, str]:
        """The fault: the client the assertion's own ``iss`` names, resolved unverified.

        The request's own client, already read for this request, is not fetched again.
        """
        try:
            issuer = jwt.decode(assertion, options={"verify_signature": False}).get("iss")
            if not isinstance(issuer, str):
                raise ClientAuthError("the client assertion names no issuer")
            if issuer == known.client_id:
                return known, issuer
            return await self.resolve(issuer), issuer
        except ClientError as exc:
            if exc.stage == "rate":
                raise  # the rate-limited variant: "not now" stays "not now"
            raise ClientAuthError("the client assertion's issuer is unknown") from exc
        except jwt.PyJWTError as exc:
            raise ClientAuthError("the client assertion's issuer is unknown") from exc


def _verify(
    assertion: str,
    keys: Any,
    client_id: str,
    audiences: tuple[str, ...],
    *,
    check_claims: bool = True,
    single_audience: bool = False,
    algorithms: tuple[str, ...] = ASSERTION_ALGORITHMS,
) -> dict[str, Any] | None:
    """The verified assertion's claims (``None`` with the claims-unchecked fault).

    Raises:
        ClientAuthError: the assertion does not verify for ``client_id``.
    """
    try:
        key_set = jwt.PyJWKSet.from_dict(keys if isinstance(keys, dict) else {})
        header = jwt.get_unverified_header(assertion)
    except (jwt.PyJWTError, jwt.exceptions.PyJWKSetError, ValueError) as exc:
        raise ClientAuthError("the client assertion or key set is malformed") from exc
    algorithm = header.get("alg")
    if algorithm not in ASSERTION_ALGORITHMS or algorithm not in algorithms:
        raise ClientAuthError("the client assertion's algorithm is not accepted")
    kid = header.get("kid")
    for key in key_set.keys:
        if kid is not None and key.key_id != kid:
            continue
        try:
            if not check_claims:  # the assertion-claims-unchecked fault: the signature only
                jwt.decode(
                    assertion,
                    key.key,
                    algorithms=[algorithm],
                    options={"verify_aud": False, "verify_exp": False, "verify_iss": False},
                )
                return None
            claims: dict[str, Any] = jwt.decode(
                assertion,
                key.key,
                algorithms=[algorithm],
                audience=audiences[0] if single_audience else list(audiences),
                issuer=client_id,
                options={
                    "require": ["exp", "iss", "sub", "aud", "jti"],
                    "strict_aud": single_audience,
                },
            )
        except jwt.PyJWTError:
            continue
        if claims.get("sub") == client_id and isinstance(claims.get("jti"), str):
            return claims
    raise ClientAuthError("the client assertion is not valid for this client")
