"""CIMD-PUB-07, static: where a client's public keys are, and that they can verify it.

RFC 7591 §2 forbids ``jwks`` and ``jwks_uri`` together; a ``private_key_jwt`` client needs
one of them with a key that can sign (CIMD-02 §8.2), and a ``jwks_uri`` is https, the same
trust anchor as the document. The live half (what ``jwks_uri`` answers) is
:func:`conformance.lint.live.jwks_uri_findings`.
"""

from __future__ import annotations

from typing import Any

from cimd_rules.uri import split_uri
from conformance.lint.findings import Finding, quoted

SIGNING_KEY_TYPES = frozenset({"EC", "RSA", "OKP"})


def _error(where: str, message: str, fix: str) -> Finding:
    return Finding("CIMD-PUB-07", "error", where, message, fix)


def key_findings(doc: dict[str, Any]) -> list[Finding]:
    """CIMD-PUB-07's static findings for ``doc``."""
    found = []
    if "jwks" in doc and "jwks_uri" in doc:
        found.append(
            _error(
                "jwks, jwks_uri",
                "both jwks and jwks_uri are present (RFC 7591 §2: MUST NOT)",
                "keep one of them",
            )
        )
    jwt = doc.get("token_endpoint_auth_method") == "private_key_jwt"
    if jwt and "jwks" not in doc and "jwks_uri" not in doc:
        found.append(
            _error(
                "jwks",
                "private_key_jwt without jwks or jwks_uri: no key can verify its assertions",
                "publish the public keys in jwks or at jwks_uri",
            )
        )
    if "jwks" in doc:
        found += _jwk_set(doc["jwks"], jwt)
    uri = doc.get("jwks_uri")
    if "jwks_uri" in doc and not (isinstance(uri, str) and split_uri(uri).scheme == "https"):
        found.append(
            _error(
                "jwks_uri", f"jwks_uri is not an https URL: {quoted(uri)}", "serve it over https"
            )
        )
    return found


def _jwk_set(jwks: Any, jwt: bool) -> list[Finding]:
    keys = jwks.get("keys") if isinstance(jwks, dict) else None
    if not isinstance(keys, list) or not keys or not all(isinstance(k, dict) for k in keys):
        return [
            _error(
                "jwks",
                "jwks is not a JWK Set with at least one key",
                'write {"keys": [<public JWK>, ...]}',
            )
        ]
    if jwt and not any(_signs(k) for k in keys):
        return [
            _error(
                "jwks",
                "no key in jwks can sign (kty EC, RSA or OKP, not use=enc)",
                "publish the public half of the client's signing key",
            )
        ]
    return [
        Finding(
            "CIMD-PUB-07",
            "warning",
            f"jwks.keys[{i}]",
            "the key has no kid",
            "give every key a kid, so assertions can name theirs",
        )
        for i, key in enumerate(keys)
        if "kid" not in key
    ]


def _signs(key: dict[str, Any]) -> bool:
    return key.get("kty") in SIGNING_KEY_TYPES and key.get("use", "sig") == "sig"
