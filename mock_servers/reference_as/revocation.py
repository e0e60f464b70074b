"""Token revocation (RFC 7009): a client ends a grant by revoking its refresh token.

The client authenticates as at the token endpoint: a public client names itself with
``client_id``, a ``private_key_jwt`` client sends an assertion. Revoking a refresh token ends
the grant behind it. Access tokens are not recorded here (nothing this server serves takes
them), so revoking one changes nothing; like an unknown or already revoked token, it is
answered 200 (RFC 7009 §2.2), and the answer reveals nothing about tokens.
"""

from __future__ import annotations

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response

from .issuer import Issuer
from .tokens import NO_STORE, authenticate, oauth_error, refuse_secrets, with_basic_secret


async def revoke(issuer: Issuer, request: Request) -> Response:
    """POST /revoke."""
    async with request.form() as form:
        return await _revoke(issuer, request, form)


async def _revoke(issuer: Issuer, request: Request, form: FormData) -> Response:
    if any(len(form.getlist(name)) > 1 for name in form):
        return oauth_error("invalid_request", "parameters must not be repeated")
    authorization = request.headers.get("authorization")
    if authorization or "client_secret" in form:
        refused = refuse_secrets(issuer, authorization)
        if refused is not None:
            return refused
        form = with_basic_secret(form, authorization)
    token, client_id = form.get("token"), form.get("client_id")
    if not isinstance(token, str) or not token:
        return oauth_error("invalid_request", "token is required")
    if not isinstance(client_id, str) or not client_id:
        return oauth_error("invalid_client", "client_id is required", 401)
    grant = issuer.state.refresh_grant(token)
    if grant is not None:
        # RFC 7009 §2.1: authenticate the client, then check the token is its own
        if (failed := await authenticate(issuer, grant, form)) is not None:
            return failed
        if grant.request.client_id != client_id:
            return oauth_error("invalid_request", "the token was not issued to this client")
        issuer.state.retire_refresh(token)
    return Response(status_code=200, headers=NO_STORE)
