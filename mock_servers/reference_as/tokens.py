"""The token endpoint: authorization-code and refresh-token grants.

A CIMD public client (``token_endpoint_auth_method`` ``none``) identifies itself with
``client_id`` in the body and proves possession with PKCE, never with a secret (CIMD-02 §4.1,
CIMD-AUTHN-05); a ``private_key_jwt`` client also sends an assertion (:mod:`.client_auth`).
The client comes from the code's binding, so the document is not fetched again.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from urllib.parse import unquote_plus

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .client_auth import ClientAuthError, Verifier
from .clients import ClientError
from .faults import F
from .grants import ACCESS_TOKEN_LIFETIME_S, Grant, Tokens
from .issuer import Issuer

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
CODE_VERIFIER = re.compile(r"[A-Za-z0-9._~-]{43,128}")  # RFC 7636 §4.1
AUTH_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9-]{0,30}")  # echoed in WWW-Authenticate
CREDENTIAL_FIELDS = ("client_secret", "client_assertion", "client_assertion_type")


async def token(issuer: Issuer, request: Request) -> Response:
    """POST /token."""
    async with request.form() as form:
        return await _answer(issuer, request, form)


async def _answer(issuer: Issuer, request: Request, form: FormData) -> Response:
    if any(len(form.getlist(name)) > 1 for name in form):
        return oauth_error("invalid_request", "parameters must not be repeated")
    authorization = request.headers.get("authorization")
    if issuer.has(F.TOKEN_DEMANDS_SECRET):
        # The RFC 7591 default method is client_secret_basic; no URL client has a secret.
        return oauth_error("invalid_client", "client authentication required", 401, "Basic")
    if authorization or "client_secret" in form:
        refused = refuse_secrets(issuer, authorization)
        if refused is not None:
            return refused
        form = with_basic_secret(form, authorization)  # the published-secret-accepted fault
    grant_type = _field(form, "grant_type")
    if grant_type == "authorization_code":
        return await _redeem_code(issuer, form)
    if grant_type == "refresh_token":
        return await _refresh(issuer, form)
    if not grant_type:
        return oauth_error("invalid_request", "grant_type is required")
    return oauth_error("unsupported_grant_type", "use authorization_code or refresh_token")


def refuse_secrets(issuer: Issuer, authorization: str | None) -> Response | None:
    """``invalid_client`` for a request that authenticates with a shared secret.

    No client here has one (CIMD-02 §4.1); only the ``published-secret-accepted`` fault lets
    such a request on (``None``), to be checked against the secret the document published.
    """
    if issuer.has(F.PUBLISHED_SECRET_ACCEPTED):
        return None
    scheme = (authorization or "").partition(" ")[0]
    echoed = scheme if AUTH_SCHEME.fullmatch(scheme) else None
    return oauth_error("invalid_client", "URL clients never use shared secrets", 401, echoed)


def with_basic_secret(form: FormData, authorization: str | None) -> FormData:
    """``form`` with HTTP Basic credentials (RFC 6749 §2.3.1) as client_id and client_secret."""
    scheme, _, credentials = (authorization or "").partition(" ")
    if scheme.lower() != "basic":
        return form
    try:
        decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
    except ValueError:
        return form
    client_id, _, secret = decoded.partition(":")
    items = [(k, v) for k, v in form.multi_items() if k not in ("client_id", "client_secret")]
    return FormData(
        [*items, ("client_id", unquote_plus(client_id)), ("client_secret", unquote_plus(secret))]
    )


async def authenticate(issuer: Issuer, grant: Grant, form: FormData) -> Response | None:
    """An ``invalid_client`` error when the client did not authenticate as it must."""
    fields = {name: value for name in CREDENTIAL_FIELDS if (value := _field(form, name))}
    verifier = Verifier(
        audiences=(issuer.config.issuer_id, issuer.config.issuer + "/token"),
        fetch_jwks=issuer.clients.jwks,
        resolve=issuer.clients.resolve,
        faults=issuer.config.faults,
        single_audience=issuer.is_variant("assertion-audience-issuer"),
    )
    try:
        await verifier.authenticate(grant.request.client, grant.request.client_id, fields)
    except ClientAuthError as exc:
        return oauth_error("invalid_client", str(exc), 401)
    except ClientError as exc:  # a document fetch over the rate-limited variant's limits
        answer = oauth_error("temporarily_unavailable", exc.description, 429)
        answer.headers["Retry-After"] = str(exc.retry_after)
        return answer
    return None


async def _redeem_code(issuer: Issuer, form: FormData) -> Response:
    client_id, code = _field(form, "client_id"), _field(form, "code")
    if not client_id:
        return oauth_error("invalid_client", "client_id is required", 401)
    if not code:
        return oauth_error("invalid_request", "code is required")
    grant = issuer.state.take_code(code)  # consumed even if what follows fails
    if grant is None or grant.request.client_id != client_id:
        return oauth_error("invalid_grant", "the code is invalid, expired, used or not yours")
    if (failed := await authenticate(issuer, grant, form)) is not None:
        if failed.status_code == 429:  # not now: the client may ask again with this code
            issuer.state.return_code(code, grant)
        return failed
    sent = _field(form, "redirect_uri")
    if sent != grant.request.redirect_uri and (sent is not None or grant.request.redirect_uri_sent):
        return oauth_error("invalid_grant", "redirect_uri does not match the authorization request")
    if (failed := _check_pkce(issuer, grant, _field(form, "code_verifier"))) is not None:
        return failed
    return _token_response(issuer.state.issue_tokens(grant, code), grant.request.scope)


async def _refresh(issuer: Issuer, form: FormData) -> Response:
    client_id, refresh_token = _field(form, "client_id"), _field(form, "refresh_token")
    if not client_id:
        return oauth_error("invalid_client", "client_id is required", 401)
    if not refresh_token:
        return oauth_error("invalid_request", "refresh_token is required")
    grant = issuer.state.refresh_grant(refresh_token)
    if grant is None or grant.request.client_id != client_id:
        return oauth_error("invalid_grant", "the refresh token is invalid, expired or not yours")
    if (failed := await authenticate(issuer, grant, form)) is not None:
        return failed
    scope = _field(form, "scope")
    granted = set((grant.request.scope or "").split())
    if scope is not None and not set(scope.split()) <= granted:
        return oauth_error("invalid_scope", "scope exceeds what was granted")
    issuer.state.retire_refresh(refresh_token)  # rotation: OAuth 2.1 §4.3.1
    return _token_response(issuer.state.issue_tokens(grant), scope or grant.request.scope)


def _check_pkce(issuer: Issuer, grant: Grant, verifier: str | None) -> Response | None:
    """RFC 7636 §4.6, and OAuth 2.1 §4.1.3: a verifier without a challenge is refused too."""
    challenge = grant.request.code_challenge
    if challenge is None:
        if verifier is not None:  # a PKCE downgrade: the request carried no challenge
            return oauth_error("invalid_grant", "code_verifier sent, but no code_challenge was")
        return None
    if verifier is None and issuer.has(F.PKCE_VERIFIER_OPTIONAL):
        return None
    if not _verifier_matches(verifier, challenge):
        return oauth_error("invalid_grant", "code_verifier does not match the code_challenge")
    return None


def _verifier_matches(verifier: str | None, challenge: str) -> bool:
    if verifier is None or not CODE_VERIFIER.fullmatch(verifier):
        return False
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    computed = base64.urlsafe_b64encode(digest).rstrip(b"=")
    return hmac.compare_digest(computed, challenge.encode("ascii"))


def _token_response(tokens: Tokens, scope: str | None) -> Response:
    body: dict[str, str | int] = {
        "access_token": tokens.access_token,
        "token_type": "Bearer",
        "expires_in": ACCESS_TOKEN_LIFETIME_S,
        "refresh_token": tokens.refresh_token,
    }
    if scope:
        body["scope"] = scope
    return JSONResponse(body, headers=NO_STORE)


def _field(form: FormData, name: str) -> str | None:
    value = form.get(name)
    return value if isinstance(value, str) else None


def oauth_error(
    error: str, description: str, status_code: int = 400, scheme: str | None = None
) -> Response:
    """An RFC 6749 §5.2 error response.

    Args:
        error: the error code.
        description: a human-readable ``error_description``.
        status_code: 400, or 401 for ``invalid_client``.
        scheme: the authentication scheme to name in ``WWW-Authenticate`` (RFC 6749 §5.2
            requires one when the client tried an Authorization header).
    """
    headers = dict(NO_STORE)
    if scheme:
        headers["WWW-Authenticate"] = f'{scheme} realm="token"'
    return JSONResponse({"error": error, "error_description": description}, status_code, headers)
