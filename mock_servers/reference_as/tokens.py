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

from .client_auth import ClientAuthError
from .clients import ClientError
from .documents import ClientDocument
from .faults import F
from .grants import ACCESS_TOKEN_LIFETIME_S, Grant, Tokens
from .issuer import Issuer
from .resources import INVALID_TARGET, audience

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
CODE_VERIFIER = re.compile(r"[A-Za-z0-9._~-]{43,128}")  # RFC 7636 §4.1
AUTH_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9-]{0,30}")  # echoed in WWW-Authenticate
CREDENTIAL_FIELDS = ("client_secret", "client_assertion", "client_assertion_type")


async def token(issuer: Issuer, request: Request) -> Response:
    """POST /token."""
    async with request.form() as form:
        return await _answer(issuer, request, form)


async def _answer(issuer: Issuer, request: Request, form: FormData) -> Response:
    # RFC 8707 §2: resource may be repeated; nothing else may
    if any(len(form.getlist(name)) > 1 for name in form if name != "resource"):
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
    client, client_id = grant.request.client, grant.request.client_id
    return await authenticate_client(issuer, client, client_id, form, fresh=True)


async def authenticate_client(
    issuer: Issuer,
    client: ClientDocument | None,
    client_id: str,
    form: FormData,
    *,
    fresh: bool = False,
) -> Response | None:
    """The token and PAR endpoints' client authentication: an error response, or ``None``.

    ``fresh``: read the client's metadata again first (the token endpoint, where the document
    may have changed since the authorization).
    """
    fields = {name: value for name in CREDENTIAL_FIELDS if (value := _field(form, name))}
    try:
        if fresh and not issuer.has(F.CLIENT_FROM_AUTHORIZATION):
            # the metadata as it is now (cached only as its headers allow): a method or key
            # removed from the document since the authorization no longer counts (§8.4)
            client = await issuer.clients.resolve(client_id)
        await issuer.client_verifier().authenticate(client, client_id, fields)
    except ClientAuthError as exc:
        return oauth_error("invalid_client", str(exc), 401)
    except ClientError as exc:
        if exc.stage != "rate":
            return oauth_error("invalid_client", "the client's metadata is no longer valid", 401)
        # a document fetch over the rate-limited variant's limits
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
    # OAuth 2.1 §4.1.3: the code is bound to the client it was issued to (the fault: not)
    others = grant is not None and grant.request.client_id != client_id
    if grant is None or (others and not issuer.has(F.CODE_NOT_BOUND_TO_CLIENT)):
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
    targets, problem = _audience(issuer, grant, form)
    if problem is not None:
        return problem
    access_token = _access_token(issuer, grant, targets, grant.request.scope)
    tokens = issuer.state.issue_tokens(grant, access_token, code)
    return _token_response(tokens, grant.request.scope)


async def _refresh(issuer: Issuer, form: FormData) -> Response:
    client_id, refresh_token = _field(form, "client_id"), _field(form, "refresh_token")
    if not client_id:
        return oauth_error("invalid_client", "client_id is required", 401)
    if not refresh_token:
        return oauth_error("invalid_request", "refresh_token is required")
    grant = issuer.state.refresh_grant(refresh_token)
    # CIMD-02 §8.3: another URL is another client, whatever its document says (the fault:
    # the refresh grant never compares)
    others = grant is not None and grant.request.client_id != client_id
    if grant is None or (others and not issuer.has(F.REFRESH_NOT_BOUND_TO_CLIENT)):
        return oauth_error("invalid_grant", "the refresh token is invalid, expired or not yours")
    if (failed := await authenticate(issuer, grant, form)) is not None:
        return failed
    scope = _field(form, "scope")
    granted = set((grant.request.scope or "").split())
    if scope is not None and not set(scope.split()) <= granted:
        return oauth_error("invalid_scope", "scope exceeds what was granted")
    targets, problem = _audience(issuer, grant, form)
    if problem is not None:
        return problem
    if not issuer.has(F.REFRESH_NOT_ROTATED):  # the fault: the old one keeps working
        issuer.state.retire_refresh(refresh_token)  # rotation: OAuth 2.1 §4.3.1, MCP §11.2
    if issuer.has(F.REFRESH_AUDIENCE_ISSUER):  # the fault: the resource is forgotten
        targets = (issuer.config.issuer_id,)
    access_token = _access_token(issuer, grant, targets, scope or grant.request.scope)
    tokens = issuer.state.issue_tokens(grant, access_token)
    return _token_response(tokens, scope or grant.request.scope)


def _audience(
    issuer: Issuer, grant: Grant, form: FormData
) -> tuple[tuple[str, ...], Response | None]:
    """The access token's audience (RFC 8707 §2.2), or an ``invalid_target`` error."""
    requested = [value for value in form.getlist("resource") if isinstance(value, str)]
    if requested and issuer.has(F.TOKEN_REJECTS_RESOURCE):
        return (), oauth_error("invalid_request", "unknown parameter: resource")
    targets, problem = audience(
        requested, grant.request.resources, issuer.config.protected_resources
    )
    if problem is not None:
        return (), oauth_error(INVALID_TARGET, problem)
    return targets, None


def _access_token(issuer: Issuer, grant: Grant, targets: tuple[str, ...], scope: str | None) -> str:
    return issuer.signer.issue(
        issuer=issuer.config.issuer_id,
        subject=grant.user,
        client_id=grant.request.client_id,
        audience=targets,
        scope=scope,
        lifetime_s=ACCESS_TOKEN_LIFETIME_S,
    )


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
