"""Access tokens as the mock MCP server judges them: RFC 9068 JWTs signed by its AS.

A token is checked for its signature (the AS's keys, from its metadata's ``jwks_uri``,
fetched over TLS with a timeout and kept; fetched again for an unknown ``kid``), ``typ``
(``at+jwt``, RFC 9068 §4), ``iss``, ``exp`` and ``aud``, which must name the resource
(RFC 8707, MCP §11.1). When the keys cannot be had no token can be judged: that is
:class:`KeysUnavailable`, not a refused token.
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx
import jwt

FETCH_TIMEOUT_S = 5.0
LEEWAY_S = 5
ALGORITHMS = ("ES256", "RS256", "PS256", "EdDSA")
_OIDC = "/.well-known/openid-configuration"


class TokenError(Exception):
    """A bearer token the server does not accept; the message is the error_description."""


class KeysUnavailable(Exception):
    """The AS's metadata or keys cannot be had: no token can be judged (503, not 401)."""


@dataclass
class _Keys:
    """The AS's signing keys, fetched from its ``jwks_uri`` and kept."""

    issuer: str = ""
    keys: dict[str, Any] = field(default_factory=dict)  # kid -> key


def as_metadata_urls(issuer: str) -> list[str]:
    """The AS metadata URLs in MCP 2025-11-25 §4.3 order (RFC 8414 path insertion first)."""
    parts = urlsplit(issuer)
    origin = f"{parts.scheme}://{parts.netloc}"
    path = parts.path.rstrip("/")
    if not path:
        return [origin + "/.well-known/oauth-authorization-server", origin + _OIDC]
    return [
        f"{origin}/.well-known/oauth-authorization-server{path}",
        f"{origin}{_OIDC}{path}",
        f"{origin}{path}{_OIDC}",
    ]


class TokenVerifier:
    """Judges access tokens for one resource, with the keys of the AS ``issuer()`` names.

    Args:
        tls: the TLS context for fetching the AS's metadata and keys.
    """

    def __init__(self, tls: ssl.SSLContext) -> None:
        self._tls = tls
        self._keys = _Keys()
        self._lock = asyncio.Lock()

    async def claims(self, token: str, issuer: str, resource: str | None) -> dict[str, Any]:
        """The claims of ``token`` if ``issuer`` issued it for ``resource`` (``None``: any).

        Raises:
            TokenError: not a token this server accepts, with the reason.
            KeysUnavailable: the AS's metadata or keys cannot be had.
        """
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise TokenError("the access token is not a JWT") from exc
        if str(header.get("typ", "")).lower() not in ("at+jwt", "application/at+jwt"):
            raise TokenError("the access token's typ is not at+jwt (RFC 9068 §4)")
        if header.get("alg") not in ALGORITHMS:
            raise TokenError(f"alg {header.get('alg')!r} is not accepted")
        key = await self._key(issuer, str(header.get("kid", "")))
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[str(header["alg"])],
                issuer=issuer,
                options={"verify_aud": False, "require": ["exp", "iss", "aud"]},
                leeway=LEEWAY_S,
            )
        except jwt.ExpiredSignatureError as exc:
            raise TokenError("the access token has expired") from exc
        except jwt.PyJWTError as exc:
            raise TokenError(f"the access token is not valid: {exc}") from exc
        aud = claims.get("aud")
        audience = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
        if resource is not None and resource not in audience:
            raise TokenError(f"the access token is not for this resource (aud {audience})")
        return claims

    async def _key(self, issuer: str, kid: str) -> Any:
        """The AS's public key ``kid`` (fetched on first use, and again for an unknown kid)."""
        async with self._lock:
            if kid not in self._keys.keys or self._keys.issuer != issuer:
                try:
                    self._keys = await self._fetch(issuer)
                except (httpx.HTTPError, ValueError, KeyError, jwt.PyJWTError) as exc:
                    problem = f"{type(exc).__name__}: {exc}"
                    raise KeysUnavailable(f"the AS's keys could not be had: {problem}") from exc
            if kid not in self._keys.keys:
                raise TokenError(f"no key {kid!r} at the AS's jwks_uri")
            return self._keys.keys[kid]

    async def _fetch(self, issuer: str) -> _Keys:
        async with httpx.AsyncClient(
            verify=self._tls, timeout=FETCH_TIMEOUT_S, follow_redirects=False
        ) as http:
            metadata = None
            for url in as_metadata_urls(issuer):
                response = await http.get(url, headers={"accept": "application/json"})
                if response.status_code == 200:
                    metadata = response.json()
                    break
            if not isinstance(metadata, dict) or metadata.get("issuer") != issuer:
                raise ValueError(f"no metadata with issuer {issuer} at its well-known URLs")
            jwks_uri = str(metadata["jwks_uri"])
            if urlsplit(jwks_uri).scheme != "https":
                raise ValueError("the jwks_uri is not https")
            response = await http.get(jwks_uri, headers={"accept": "application/json"})
            response.raise_for_status()
            keys = {
                str(jwk.get("kid", "")): jwt.PyJWK(jwk).key
                for jwk in response.json()["keys"]
                if jwk.get("use", "sig") == "sig"
            }
        return _Keys(issuer, keys)
