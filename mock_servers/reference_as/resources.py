"""Resource indicators (RFC 8707): which protected resources a token may be used at.

A ``resource`` is an absolute URI without a fragment (§2). This AS issues tokens only for
the protected resources it serves (``IssuerConfig.protected_resources``); any other value
is ``invalid_target``. At the token endpoint the requested resources must be among those
the grant was authorized for (§2.2); without any, the token is for all of them.
"""

from __future__ import annotations

from collections.abc import Sequence

from .identifiers import split_uri

INVALID_TARGET = "invalid_target"


def resource_problem(requested: Sequence[str], known: Sequence[str]) -> str | None:
    """Why ``requested`` cannot be granted (an ``invalid_target`` description), or ``None``."""
    for resource in requested:
        parts = split_uri(resource)
        if not parts.scheme or parts.fragment is not None:
            return "resource must be an absolute URI without a fragment"
        if resource not in known:
            return "the resource is not one this server issues tokens for"
    return None


def audience(
    requested: Sequence[str], authorized: Sequence[str], known: Sequence[str]
) -> tuple[tuple[str, ...], str | None]:
    """The audience of a token request's access token, and the problem if there is one.

    Args:
        requested: the token request's ``resource`` values.
        authorized: those of the authorization request (empty: none was named).
        known: the resources this issuer serves.
    """
    allowed = tuple(authorized) or tuple(known)
    for resource in requested:
        if resource not in allowed:
            return (), "the resource was not part of the authorization"
    return tuple(dict.fromkeys(requested)) or allowed, None
