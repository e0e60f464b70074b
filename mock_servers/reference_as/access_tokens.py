"""Access tokens as JWTs (RFC 9068), audience-bound to the resources they were issued for.

RFC 8707 §2: a token is audience-restricted to the resource(s) the client asked for, so an
MCP server can refuse a token meant for another (MCP §8, §11.1). The ``aud`` claim names
them; the issuer signs with its own key, published at its ``jwks_uri``.
"""

from __future__ import annotations

import json
import secrets
import time
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec

ALGORITHM = "ES256"


class AccessTokenSigner:
    """One issuer's token-signing key: a fresh P-256 key per process."""

    def __init__(self) -> None:
        self._key = ec.generate_private_key(ec.SECP256R1())
        self.kid = secrets.token_urlsafe(8)

    def jwks(self) -> dict[str, Any]:
        """The public key as a JWK Set, for the metadata's ``jwks_uri``."""
        jwk = jwt.algorithms.ECAlgorithm.to_jwk(self._key.public_key())
        public: dict[str, Any] = json.loads(jwk)
        return {"keys": [{**public, "kid": self.kid, "use": "sig", "alg": ALGORITHM}]}

    def issue(
        self,
        *,
        issuer: str,
        subject: str,
        client_id: str,
        audience: tuple[str, ...],
        scope: str | None,
        lifetime_s: int,
    ) -> str:
        """A signed ``at+jwt`` for ``subject``, usable only at ``audience``."""
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": issuer,
            "sub": subject,
            "aud": list(audience) if len(audience) != 1 else audience[0],
            "client_id": client_id,
            "iat": now,
            "exp": now + lifetime_s,
            "jti": secrets.token_urlsafe(16),
        }
        if scope:
            claims["scope"] = scope
        headers = {"typ": "at+jwt", "kid": self.kid}
        return jwt.encode(claims, self._key, algorithm=ALGORITHM, headers=headers)
