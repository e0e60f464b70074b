"""Client keys and RFC 7523 client assertions, for checks on ``private_key_jwt`` clients."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from conformance.redaction import SECRETS

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


@dataclass(frozen=True)
class ClientKey:
    """A fresh key pair: the private half signs, the public half goes in a document.

    P-256 (ES256) unless made with :meth:`new_rsa` (RS256).
    """

    private: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
    kid: str
    algorithm: str = "ES256"

    @classmethod
    def new(cls) -> ClientKey:
        """A new P-256 key with a random key ID."""
        return cls(ec.generate_private_key(ec.SECP256R1()), secrets.token_urlsafe(8))

    @classmethod
    def new_rsa(cls) -> ClientKey:
        """A new 2048-bit RSA key (RS256) with a random key ID."""
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        return cls(private, secrets.token_urlsafe(8), "RS256")

    def jwks(self) -> dict[str, Any]:
        """The public key as a JWK Set."""
        if isinstance(self.private, rsa.RSAPrivateKey):
            jwk = jwt.algorithms.RSAAlgorithm.to_jwk(self.private.public_key())
        else:
            jwk = jwt.algorithms.ECAlgorithm.to_jwk(self.private.public_key())
        public: dict[str, Any] = json.loads(jwk)
        return {"keys": [{**public, "kid": self.kid, "use": "sig", "alg": self.algorithm}]}

    def claims(self, client_id: str, audience: str, lifetime_s: int = 60) -> dict[str, Any]:
        """The claims of a valid assertion: iss = sub = ``client_id``, aud = ``audience``."""
        now = int(time.time())
        return {
            "iss": client_id,
            "sub": client_id,
            "aud": audience,
            "iat": now,
            "exp": now + lifetime_s,
            "jti": secrets.token_urlsafe(12),
        }

    def assertion(self, client_id: str, audience: str, **changes: Any) -> str:
        """A client assertion signed with this key; ``changes`` replace claims (e.g. ``exp``)."""
        return self.sign({**self.claims(client_id, audience), **changes})

    def sign(self, claims: dict[str, Any], kid: str | None = None) -> str:
        """``claims`` signed with this key, with ``kid`` (default: this key's)."""
        headers = {"kid": kid or self.kid}
        token = jwt.encode(claims, self.private, algorithm=self.algorithm, headers=headers)
        SECRETS.add(token)
        return token

    def public_bytes(self) -> bytes:
        """The public key's bytes: what an HMAC-confusion attack keys with.

        An uncompressed point for P-256, PEM for RSA.
        """
        if isinstance(self.private, rsa.RSAPrivateKey):
            return self.private.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        return self.private.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )


def unsigned(claims: dict[str, Any]) -> str:
    """An ``alg: none`` token: header and claims, empty signature."""
    token = _join({"alg": "none", "typ": "JWT"}, claims, b"")
    SECRETS.add(token)
    return token


def hmac_signed(claims: dict[str, Any], secret: bytes, kid: str) -> str:
    """An HS256 token keyed with ``secret`` (the published public key, in the attack)."""
    head = _segment({"alg": "HS256", "typ": "JWT", "kid": kid})
    body = _segment(claims)
    mac = hmac.new(secret, f"{head}.{body}".encode("ascii"), hashlib.sha256).digest()
    token = f"{head}.{body}.{_b64(mac)}"
    SECRETS.add(token)
    return token


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _segment(value: dict[str, Any]) -> str:
    return _b64(json.dumps(value, separators=(",", ":")).encode("utf-8"))


def _join(header: dict[str, Any], claims: dict[str, Any], signature: bytes) -> str:
    return f"{_segment(header)}.{_segment(claims)}.{_b64(signature)}"
