"""The pushed authorization request endpoint (RFC 9126).

A pushed request is validated exactly as an authorization request is (§2.1): the client's
document is fetched and checked, the redirect URI matched against it, and the request's
other parameters (response type, PKCE, resource) checked. A ``private_key_jwt`` client
authenticates as at the token endpoint (§2). What fails is answered in JSON, never by
redirect (§2.3); what passes is kept under a one-time, short-lived ``request_uri`` (§2.2)
that the authorization endpoint takes in place of the parameters.
"""

from __future__ import annotations

from starlette.datastructures import FormData, QueryParams
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .authorize import SINGLE_PARAMETERS, request_problem
from .clients import ClientError
from .faults import F
from .grants import PUSHED_LIFETIME_S, AuthorizationRequest
from .issuer import Issuer
from .redirects import RedirectUriError, choose_redirect_uri
from .tokens import NO_STORE, authenticate_client, oauth_error


async def par(issuer: Issuer, request: Request) -> Response:
    """POST /par."""
    async with request.form() as form:
        return await _push(issuer, request, form)


async def _push(issuer: Issuer, request: Request, form: FormData) -> Response:
    # the pushed parameters as the authorization endpoint would read them (strings only)
    params = QueryParams([(k, v) for k, v in form.multi_items() if isinstance(v, str)])
    repeated = [name for name in SINGLE_PARAMETERS if len(params.getlist(name)) > 1]
    if {"client_id", "redirect_uri"} & set(repeated):
        return oauth_error("invalid_request", "client_id and redirect_uri must be given once")
    if "request_uri" in params:  # §2.1: a request_uri is never pushed
        return oauth_error("invalid_request", "request_uri must not be pushed")
    if request.headers.get("authorization") or "client_secret" in params:
        return oauth_error("invalid_client", "URL clients never use shared secrets", 401)
    client_id, requested = params.get("client_id"), params.get("redirect_uri")
    if not client_id:
        return oauth_error("invalid_client", "client_id is required", 401)
    try:
        client = await issuer.clients.resolve(client_id)
    except ClientError as exc:
        if exc.stage == "rate":
            answer = oauth_error("temporarily_unavailable", exc.description, 429)
            answer.headers["Retry-After"] = str(exc.retry_after)
            return answer
        return oauth_error("invalid_client", exc.description)
    if (failed := await authenticate_client(issuer, client, client_id, form)) is not None:
        return failed
    try:
        redirect_uri = choose_redirect_uri(client.redirect_uris, requested, issuer.config.faults)
    except RedirectUriError as exc:
        # the fault applies RFC 9126 §2.4 (an authenticated client's per-request redirect
        # URI) to every client, public ones too
        if requested is None or not issuer.has(F.PAR_TRUSTS_REDIRECT_URI):
            return oauth_error("invalid_request", str(exc))
        redirect_uri = requested
    problem = request_problem(params, repeated, issuer)
    if problem is not None:
        return oauth_error(*problem)
    auth = AuthorizationRequest(
        client_id=client_id,
        redirect_uri=redirect_uri,
        redirect_uri_sent=requested is not None,
        state=params.get("state"),
        code_challenge=params.get("code_challenge"),
        scope=params.get("scope"),
        resources=tuple(params.getlist("resource")),
        client=client,
    )
    body = {"request_uri": issuer.state.push(auth), "expires_in": PUSHED_LIFETIME_S}
    return JSONResponse(body, 201, headers=NO_STORE)
