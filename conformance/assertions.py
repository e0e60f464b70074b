"""Client keys and RFC 7523 client assertions, for checks on ``private_key_jwt`` clients."""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


@dataclass(frozen=True)
class ClientKey:
    """A fresh P-256 key pair: the private half signs, the public half goes in a document."""

    private: ec.EllipticCurvePrivateKey
    kid: str

    @classmethod
    def new(cls) -> ClientKey:
        """A new key with a random key ID."""
        return cls(ec.generate_private_key(ec.SECP256R1()), secrets.token_urlsafe(8))

    def jwks(self) -> dict[str, Any]:
        """The public key as a JWK Set."""
        public: dict[str, Any] = json.loads(
            jwt.algorithms.ECAlgorithm.to_jwk(self.private.public_key())
        )
        return {"keys": [{**public, "kid": self.kid, "use": "sig", "alg": "ES256"}]}

    def assertion(self, client_id: str, audience: str, lifetime_s: int = 60) -> str:
        """An ES256 client assertion: iss = sub = ``client_id``, aud = ``audience``."""
        now = int(time.time())
        claims = {
            "iss": client_id,
            "sub": client_id,
            "aud": audience,
            "iat": now,
            "exp": now + lifetime_s,
            "jti": secrets.token_urlsafe(12),
        }
        return jwt.encode(claims, self.private, algorithm="ES256", headers={"kid": self.kid})
