"""Which redirect URIs a client document may list (RFC 6749 §3.1.2, RFC 9700 §2.6, RFC 8252).

A registered redirect URI is absolute, has no fragment, and is ``https`` or loopback ``http``
(RFC 8252 §7.3, §8.3; MCP §11.3). The reference AS refuses a document listing one that is not,
unless a fault waives the problem (``mock_servers.reference_as.redirects``); the publisher
lint reports each (``conformance.lint``, CIMD-PUB-10).
"""

from __future__ import annotations

from cimd_rules.uri import split_uri

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "[::1]", "localhost"})
"""Hosts whose ``http`` redirect URIs are allowed, and match on any port (RFC 8252 §7.3)."""


def is_loopback_http(uri: str) -> bool:
    """Whether ``uri`` is an ``http`` URI on a loopback host (RFC 8252 §7.3, §8.3)."""
    parts = split_uri(uri)
    if (parts.scheme or "").lower() != "http" or "@" in (parts.authority or ""):
        return False
    return parts.host_port()[0].lower() in LOOPBACK_HOSTS


def form_problems(uri: str) -> tuple[str, ...]:
    """The problems of ``uri`` as a registered redirect URI, in order; empty when none.

    ``relative`` (no scheme) and ``private-use-scheme`` (neither http nor https) and
    ``no-host`` end the list; otherwise ``fragment`` (even an empty one) and
    ``http-not-loopback`` may both appear.
    """
    parts = split_uri(uri)
    scheme = (parts.scheme or "").lower()
    if not scheme:
        return ("relative",)
    if scheme not in ("http", "https"):
        return ("private-use-scheme",)
    if not parts.authority:
        return ("no-host",)
    found = ["fragment"] if "#" in uri else []
    if scheme == "http" and not is_loopback_http(uri):
        found.append("http-not-loopback")
    return tuple(found)
