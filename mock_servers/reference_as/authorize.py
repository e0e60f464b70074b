"""The authorization endpoint and the consent decision.

Order matters. The client and its redirect URI are verified first, and every failure there
ends on an error page, never a redirect (RFC 6749 §4.1.2.1, CIMD-ERR-02, CIMD-REDIR-06). Then
the user signs in. Only then are the remaining request errors sent back to the verified
redirect URI: redirecting before authenticating the user would let anyone with a document
use this server as an open redirector (OAuth 2.1 §7.12.2, CIMD-REDIR-08).

Under the ``consent-before-login`` variant a valid request is shown for consent first, held
by an anonymous session; an approval waits for the sign-in before any code is issued.
"""

from __future__ import annotations

import hmac
import re
from typing import Any
from urllib.parse import urlencode

from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from .client_tests import tampered
from .clients import ClientError
from .documents import ClientDocument
from .faults import F, FaultSet
from .fetching import USER_HEADERS
from .grants import AuthorizationRequest, Session
from .identifiers import split_uri
from .issuer import Issuer
from .logos import fetches_logos_lazily, lazy_logo_src
from .pages import error_page, render
from .redirects import RedirectUriError, choose_redirect_uri, is_loopback_http, with_parameters
from .resources import INVALID_TARGET, resource_problem
from .scripted import answer, read_fields

# RFC 6749 §3.1: these must not be repeated. `resource` may be (RFC 8707 §2).
SINGLE_PARAMETERS = (
    "client_id",
    "redirect_uri",
    "response_type",
    "state",
    "scope",
    "code_challenge",
    "code_challenge_method",
)
CODE_CHALLENGE = re.compile(r"[A-Za-z0-9._~-]{43,128}")  # RFC 7636 §4.2


async def authorize(issuer: Issuer, request: Request) -> Response:
    """GET /authorize: verify client and redirect URI, sign in, then ask for consent."""
    params = request.query_params
    if "request_uri" in params:
        return await _pushed(issuer, request)
    if issuer.config.require_par:
        return error_page("invalid_request", "this server takes pushed authorization requests only")
    repeated = [name for name in SINGLE_PARAMETERS if len(params.getlist(name)) > 1]
    if {"client_id", "redirect_uri"} & set(repeated):
        return error_page("invalid_request", "client_id and redirect_uri must be given once")
    client_id, requested = params.get("client_id"), params.get("redirect_uri")
    if not client_id:
        return error_page("invalid_client", "the request has no client_id")
    if issuer.has(F.FETCH_FORWARDS_USER_HEADERS):
        USER_HEADERS.set(_user_context(request))
    try:
        client = await issuer.clients.resolve(client_id)
    except ClientError as exc:
        return _client_failure(issuer, exc, requested, params.get("state"))
    try:
        redirect_uri = choose_redirect_uri(client.redirect_uris, requested, issuer.config.faults)
    except RedirectUriError as exc:
        if requested is not None and issuer.has(F.REDIRECTS_UNVERIFIED_URI):
            return _redirect(issuer, requested, "invalid_request", str(exc), params.get("state"))
        return error_page("invalid_request", str(exc))
    found = issuer.authorizing_session(request)
    problem = request_problem(params, repeated, issuer)
    # the fault redirects request errors without signing the user in first
    sign_in_first = problem is None or not issuer.has(F.REDIRECTS_ERRORS_BEFORE_LOGIN)
    anonymous_consent = problem is None and issuer.is_variant("consent-before-login")
    if found is None and sign_in_first and not anonymous_consent:
        target = request.url.path + ("?" + request.url.query if request.url.query else "")
        return _to_login(issuer, target)
    if problem is not None:
        # OAuth 2.1 §4.1.2.1: the client and redirect URI are verified, the user signed in:
        # the error goes back to the client, with its state.
        state = None if issuer.has(F.ERROR_REDIRECT_DROPS_STATE) else params.get("state")
        return _redirect(issuer, redirect_uri, *problem, state)
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
    return await _ask_consent(issuer, request, auth, found)


async def _pushed(issuer: Issuer, request: Request) -> Response:
    """GET /authorize with ``request_uri``: a pushed request (RFC 9126 §4).

    Only the pushed parameters count: they were validated at the PAR endpoint, document
    included. The ``request_uri`` is used once, when consent is asked; before that the user
    may still have to sign in, and comes back with it.
    """
    params = request.query_params
    request_uri, client_id = params.get("request_uri", ""), params.get("client_id", "")
    auth = issuer.state.pushed(request_uri, client_id)
    if auth is None:
        return error_page("invalid_request", "request_uri is invalid, expired or already used")
    found = issuer.authorizing_session(request)
    if found is None and not issuer.is_variant("consent-before-login"):
        return _to_login(issuer, request.url.path + "?" + request.url.query)
    issuer.state.take_pushed(request_uri)
    return await _ask_consent(issuer, request, auth, found)


async def _ask_consent(
    issuer: Issuer,
    request: Request,
    auth: AuthorizationRequest,
    found: tuple[str, Session] | None,
) -> Response:
    """The consent page for a verified request (held by an anonymous session if need be)."""
    client = auth.client
    if client is None:  # every verified request carries its client
        return error_page("invalid_request", "the request has no verified client")
    if fetches_logos_lazily(issuer):  # the page links /logo, which fetches it later
        logo = lazy_logo_src(issuer, client.logo_uri)
    elif issuer.has(F.LOGO_HOTLINKED):  # the fault: the user's browser fetches it
        logo = client.logo_uri if (client.logo_uri or "").startswith("https://") else None
    else:
        logo = await issuer.clients.logo(client)
    if found is None:  # consent-before-login: an anonymous session holds the request
        anonymous = issuer.anonymous_session(request)
        session_id, session = anonymous or issuer.state.start_session("")
        request_id = issuer.state.add_pending(session_id, auth)
        page = _consent_page(issuer, client, auth, request_id, session.csrf, None, logo)
        if anonymous is None:
            issuer.set_cookie(page, ".pre", session_id)
        return page
    session_id, session = found
    if issuer.has(F.CONSENT_REMEMBERED_PER_SCOPE) and issuer.state.scope_granted(
        session.user, auth.scope
    ):  # the fault: an approval of this scope for any client stands for every client
        return _issue_code(issuer, auth, session.user)
    request_id = issuer.state.add_pending(session_id, auth)
    return _consent_page(issuer, client, auth, request_id, session.csrf, session.user, logo)


def _to_login(issuer: Issuer, next_path: str) -> RedirectResponse:
    return RedirectResponse(issuer.path("/login?") + urlencode({"next": next_path}), 302)


def _client_failure(
    issuer: Issuer, exc: ClientError, requested: str | None, state: str | None
) -> Response:
    if exc.stage == "rate":
        # Without the document the client is not verified: an error page, never a redirect
        # (a rate limit is no fetch error, so redirects-fetch-errors leaves it alone).
        page = error_page("temporarily_unavailable", exc.description, 429)
        page.headers["Retry-After"] = str(exc.retry_after)
        return page
    if exc.stage != "syntax" and requested is not None and issuer.has(F.REDIRECTS_FETCH_ERRORS):
        return _redirect(issuer, requested, "invalid_client", exc.description, state)
    return error_page("invalid_client", exc.description)


def request_problem(
    params: QueryParams, repeated: list[str], issuer: Issuer
) -> tuple[str, str] | None:
    """The error to answer with once client and redirect URI are verified, if any.

    At the authorization endpoint it goes back by redirect; at the PAR endpoint, as JSON.
    """
    faults = issuer.config.faults
    if repeated:
        return "invalid_request", f"{repeated[0]} must not be repeated"
    response_type = params.get("response_type")
    if not response_type:
        return "invalid_request", "response_type is required"
    if response_type != "code":
        return "unsupported_response_type", "only response_type=code is supported"
    challenge = params.get("code_challenge")
    if challenge is None and not faults.has(F.PKCE_OPTIONAL):
        return "invalid_request", "code_challenge is required (PKCE)"
    if challenge is not None:
        if params.get("code_challenge_method") != "S256":
            return "invalid_request", "code_challenge_method must be S256"
        if not CODE_CHALLENGE.fullmatch(challenge):
            return "invalid_request", "code_challenge is malformed"
    problem = resource_problem(params.getlist("resource"), issuer.config.protected_resources)
    if problem is not None:
        return INVALID_TARGET, problem
    return None


def _redirect(
    issuer: Issuer, uri: str, error: str, description: str, state: str | None
) -> RedirectResponse:
    parameters = {"error": error, "error_description": description, "state": state}
    location = with_parameters(uri, {**parameters, "iss": issuer.response_iss})
    return RedirectResponse(location, 302)


def _consent_page(
    issuer: Issuer,
    client: ClientDocument,
    auth: AuthorizationRequest,
    request_id: str,
    csrf: str,
    user: str | None,
    logo: str | None,
) -> Response:
    # a dynamically registered client's id is no URL: it stands for itself
    client_host = split_uri(client.client_id).host_port()[0] or client.client_id
    registered = client.redirect_uris or (auth.redirect_uri,)
    links = None
    if issuer.is_variant("approve-link"):
        links = {
            decision: issuer.path("/consent?")
            + urlencode({"request_id": request_id, "csrf": csrf, "decision": decision})
            for decision in ("approve", "deny")
        }
    # the nameless-client-anonymous fault: no name, no identity at all
    anonymous = client.client_name is None and issuer.has(F.NAMELESS_CLIENT_ANONYMOUS)
    page: dict[str, Any] = {
        "action": issuer.path("/consent"),
        "client_name": client.client_name or client_host,  # no name: the host stands in
        "anonymous": anonymous,
        "client_host": client_host,
        "client_id": client.client_id,
        "document_links": _document_links(client, issuer.config.faults),
        "logo": logo,
        "redirect_host": split_uri(auth.redirect_uri).host_port()[0],
        "redirect_uri": auth.redirect_uri,
        # MCP §11.6.2: warn when the client can only ever answer on this machine.
        "loopback_warning": all(is_loopback_http(uri) for uri in registered),
        "scope": auth.scope,
        "resources": list(auth.resources),
        "user": user,
        "request_id": request_id,
        "csrf": csrf,
        "links": links,
    }
    # the consent faults: each drops one of the page's protections
    page["unsafe_name"] = issuer.has(F.CLIENT_NAME_UNESCAPED)
    if issuer.has(F.CONSENT_HIDES_CLIENT_HOST):
        page["client_host"] = page["client_id"] = None
    if issuer.has(F.CONSENT_HIDES_REDIRECT_HOST):
        page["redirect_host"] = page["redirect_uri"] = None
    if issuer.has(F.NO_LOOPBACK_WARNING):
        page["loopback_warning"] = False
    if issuer.is_variant("script-pages"):
        response = render("consent_script.html", data=page)
    else:
        response = render("consent.html", prefix=issuer.config.path_prefix, **page)
    if issuer.has(F.CONSENT_FRAMABLE):
        del response.headers["x-frame-options"]
        del response.headers["content-security-policy"]
    return response


def _document_links(client: ClientDocument, faults: FaultSet) -> list[dict[str, str]]:
    """The terms of service and privacy policy links for the consent page.

    Only https URLs become links (CIMD-02 §8.6): a ``javascript:`` or ``data:`` href runs in
    this server's origin when clicked, and ``file:`` points into the user's own machine.
    """
    links = []
    for label, url in (("Terms of service", client.tos_uri), ("Privacy policy", client.policy_uri)):
        if not url:
            continue
        https = (split_uri(url).scheme or "").lower() == "https"
        if https or faults.has(F.DOCUMENT_LINKS_ANY_SCHEME):
            links.append({"label": label, "href": url})
    return links


async def consent(issuer: Issuer, request: Request) -> Response:
    """POST /consent (GET with ``approve-link``): the user's decision on a pending request."""
    names = ("request_id", "csrf", "decision")
    if request.method == "GET":
        if not issuer.is_variant("approve-link"):
            return error_page("invalid_request", "decide with the consent form", 405)
        fields = {name: request.query_params.get(name, "") for name in names}
    else:
        fields = await read_fields(request, names)
    return answer(request, await _decide(issuer, request, *fields.values()))


async def _decide(
    issuer: Issuer, request: Request, request_id: str, csrf: str, decision: str
) -> Response:
    found = issuer.session(request)
    anonymous = found is None and issuer.is_variant("consent-before-login")
    if anonymous:
        found = issuer.anonymous_session(request)
    if found is None:
        return error_page("invalid_request", "your session has ended; start again", 400)
    session_id, session = found
    if not hmac.compare_digest(csrf.encode(), session.csrf.encode()):
        return error_page("invalid_request", "the form has expired; start again", 400)
    if decision not in ("approve", "deny"):
        return error_page("invalid_request", "no decision was made", 400)
    auth = issuer.state.take_pending(request_id, session_id)
    if auth is None:
        return error_page("invalid_request", "this request has expired; start again", 400)
    if decision == "deny":
        return _redirect(
            issuer, auth.redirect_uri, "access_denied", "the user denied access", auth.state
        )
    if anonymous:
        approval = issuer.state.hold_approval(session_id, auth)
        resume_path = issuer.path("/consent/resume?") + urlencode({"approval": approval})
        return _to_login(issuer, resume_path)
    if issuer.has(F.CONSENT_REMEMBERED_PER_SCOPE):
        issuer.state.remember_scope(session.user, auth.scope)
    response = _issue_code(issuer, auth, session.user)
    if issuer.is_variant("renewed-sessions"):
        issuer.set_cookie(response, "", issuer.state.renew_session(session_id))
    return response


async def resume(issuer: Issuer, request: Request) -> Response:
    """GET /consent/resume: ``consent-before-login``'s approval, now that the user signed in."""
    found, anonymous = issuer.session(request), issuer.anonymous_session(request)
    if found is None or anonymous is None:
        return error_page("invalid_request", "your session has ended; start again", 400)
    auth = issuer.state.take_approval(request.query_params.get("approval", ""), anonymous[0])
    if auth is None:
        return error_page("invalid_request", "this request has expired; start again", 400)
    if issuer.has(F.CONSENT_REMEMBERED_PER_SCOPE):
        issuer.state.remember_scope(found[1].user, auth.scope)
    response = _issue_code(issuer, auth, found[1].user)
    response.delete_cookie(issuer.cookie_name + ".pre", path="/", secure=True, httponly=True)
    return response


def _issue_code(issuer: Issuer, auth: AuthorizationRequest, user: str) -> Response:
    code = issuer.state.issue_code(auth, user)
    state = None if issuer.has(F.DROPS_STATE) else auth.state
    if issuer.config.client_test("tampered-state"):
        state = tampered(state)
    location = with_parameters(
        auth.redirect_uri, {"code": code, "state": state, "iss": issuer.response_iss}
    )
    return RedirectResponse(location, 302)


def _user_context(request: Request) -> dict[str, str]:
    """The fetch-forwards-user-headers fault: what a proxying fetch helper passes on."""
    forwarded = {
        name: request.headers[name]
        for name in ("cookie", "authorization")
        if name in request.headers
    }
    if request.client is not None:
        forwarded["x-forwarded-for"] = request.client.host
    forwarded["referer"] = str(request.url)
    return forwarded
