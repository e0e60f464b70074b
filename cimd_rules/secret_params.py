"""URL and form parameters whose values are secrets: never written down.

The metadata host leaves their values out of its fetch log (``mock_servers.fetch_log``); the
suite redacts them from every report (``conformance.redaction``).
"""

from __future__ import annotations

# RFC 6749 (code, tokens, client_secret, password), RFC 7636 (code_verifier), RFC 7523
# (client_assertion), OpenID Connect Core (id_token).
SECRET_PARAMS = (
    "code",
    "access_token",
    "refresh_token",
    "id_token",
    "code_verifier",
    "client_secret",
    "client_assertion",
    "password",
)
