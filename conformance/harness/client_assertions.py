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
from cryptography.hazmat.primitives.asymmetric import ec

from conformance.redaction import SECRETS

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
        """An ES256 client assertion; ``changes`` replace claims (e.g. ``exp``)."""
        return self.sign({**self.claims(client_id, audience), **changes})

    def sign(self, claims: dict[str, Any], kid: str | None = None) -> str:
        """``claims`` signed with this key (ES256), with ``kid`` (default: this key's)."""
        headers = {"kid": kid or self.kid}
        token = jwt.encode(claims, self.private, algorithm="ES256", headers=headers)
        SECRETS.add(token)
        return token

    def public_bytes(self) -> bytes:
        """The public key as an uncompressed point: what an HMAC-confusion attack keys with."""
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
