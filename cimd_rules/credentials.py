"""What a client document must never carry: shared secrets and private key material.

CIMD-02 §4.1 forbids shared-secret client authentication, ``client_secret`` and private keys
in the document. The reference AS refuses such documents (``mock_servers.reference_as
.documents``); the publisher lint reports them (``conformance.lint``, CIMD-PUB-06).
"""

from __future__ import annotations

SHARED_SECRET_METHODS = frozenset(
    {"client_secret_basic", "client_secret_post", "client_secret_jwt"}
)
"""``token_endpoint_auth_method`` values that need a shared secret (RFC 7591 §2)."""

SECRET_MEMBERS = ("client_secret", "client_secret_expires_at")
"""Members that only a client issued a secret by the AS has (RFC 7591 §3.2.1)."""

# RFC 7517 §9.2 / RFC 7518 §6: members that only private (or symmetric) keys carry.
PRIVATE_KEY_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
"""JWK members that only private or symmetric keys carry."""
