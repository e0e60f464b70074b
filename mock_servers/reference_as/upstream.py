"""The ``upstream-login`` variant: users sign in at an upstream identity provider.

The provider is a second ASGI app the reference AS serves on another loopback port, so it is
another origin, as a real upstream IdP is. The AS sends the browser there with a one-time
``state`` (also kept in a cookie, against login CSRF); the provider checks the test user's
credentials and sends the browser back to the AS's ``/login/callback`` with a signed,
short-lived, one-time assertion naming the user and the callback as its audience. Only
then does the AS start its session.

Assertions are HMAC-signed with a key the AS process makes at start and shares with the
provider; they never reach a log or a report.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from urllib.parse import urlencode, urlsplit

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from .issuer import Issuer
from .pages import error_page, render

ASSERTION_LIFETIME_S = 60
LOGIN_STATE_LIFETIME_S = 600
CALLBACK = "/login/callback"


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def make_assertion(key: bytes, user: str, audience: str) -> str:
    """A signed assertion that ``user`` signed in, for ``audience`` only, valid briefly."""
    claims = {
        "sub": user,
        "aud": audience,
        "exp": int(time.time()) + ASSERTION_LIFETIME_S,
        "jti": secrets.token_urlsafe(16),
    }
    body = _b64(json.dumps(claims, separators=(",", ":")).encode())
    return body + "." + _b64(hmac.new(key, body.encode(), hashlib.sha256).digest())


def read_assertion(key: bytes, assertion: str, audience: str) -> tuple[str, str] | None:
    """The user and assertion id, when ``assertion`` is genuine, live and for ``audience``."""
    body, _, signature = assertion.partition(".")
    expected = _b64(hmac.new(key, body.encode(), hashlib.sha256).digest())
    if not hmac.compare_digest(signature.encode(), expected.encode()):
        return None
    try:
        claims = json.loads(_unb64(body))
    except ValueError:
        return None
    if not isinstance(claims, dict) or claims.get("aud") != audience:
        return None
    user, jti, expires = claims.get("sub"), claims.get("jti"), claims.get("exp")
    if not (isinstance(user, str) and isinstance(jti, str) and isinstance(expires, int)):
        return None
    return (user, jti) if expires > time.time() else None


def start(issuer: Issuer, next_url: str) -> Response:
    """GET /login under the variant: off to the provider, with a one-time state."""
    state = secrets.token_urlsafe(16)
    issuer.state.put_once("login:" + state, next_url, LOGIN_STATE_LIFETIME_S)
    query = urlencode({"return_to": issuer.config.issuer + CALLBACK, "state": state})
    response = RedirectResponse(issuer.config.upstream_origin + "/authorize?" + query, 302)
    issuer.set_cookie(response, ".login", state)
    return response


async def callback(issuer: Issuer, request: Request) -> Response:
    """GET /login/callback: check state and assertion, start the session, go on to ``next``."""
    if not issuer.is_variant("upstream-login"):
        return error_page("invalid_request", "this server signs users in itself", 404)
    state = request.query_params.get("state", "")
    cookie = request.cookies.get(issuer.cookie_name + ".login", "")
    if not state or not hmac.compare_digest(state.encode(), cookie.encode()):
        return error_page("invalid_request", "this sign-in was not started here; start again")
    next_url = issuer.state.take_once("login:" + state)
    found = read_assertion(
        issuer.config.upstream_key,
        request.query_params.get("assertion", ""),
        issuer.config.issuer + CALLBACK,
    )
    if next_url is None or found is None:
        return error_page("access_denied", "the sign-in could not be verified; start again")
    user, jti = found
    if not issuer.state.put_once("assertion:" + jti, "", ASSERTION_LIFETIME_S * 2):
        return error_page("access_denied", "this sign-in was already used; start again")
    session_id, _ = issuer.state.start_session(user)
    response = RedirectResponse(issuer.safe_next(next_url), 302)
    issuer.set_cookie(response, "", session_id)
    response.delete_cookie(issuer.cookie_name + ".login", path="/", secure=True, httponly=True)
    return response


def create_provider_app(key: bytes, user: str, password: str, as_origin: str) -> Starlette:
    """The upstream identity provider: one test user, assertions only for ``as_origin``."""

    def return_to_ok(url: str) -> bool:
        parts = urlsplit(url)
        return (
            f"{parts.scheme}://{parts.netloc}" == as_origin
            and parts.path.endswith(CALLBACK)
            and not parts.query
            and not parts.fragment
        )

    def form(return_to: str, state: str, error: str | None = None, status: int = 200) -> Response:
        return render("upstream_login.html", status, return_to=return_to, state=state, error=error)

    async def page(request: Request) -> Response:
        return_to = request.query_params.get("return_to", "")
        if not return_to_ok(return_to):
            return error_page("invalid_request", "unknown return address")
        return form(return_to, request.query_params.get("state", ""))

    async def submit(request: Request) -> Response:
        async with request.form() as data:
            values = [data.get(name) for name in ("username", "password", "return_to", "state")]
        name, secret, return_to, state = (v if isinstance(v, str) else "" for v in values)
        if not return_to_ok(return_to):
            return error_page("invalid_request", "unknown return address")
        user_ok = hmac.compare_digest(name.encode(), user.encode())
        password_ok = hmac.compare_digest(secret.encode(), password.encode())
        if not (user_ok and password_ok):
            return form(return_to, state, "Wrong username or password.", 401)
        assertion = make_assertion(key, user, return_to)
        query = urlencode({"assertion": assertion, "state": state})
        return RedirectResponse(return_to + "?" + query, 302)

    return Starlette(
        routes=[
            Route("/authorize", page, methods=["GET"]),
            Route("/authorize", submit, methods=["POST"]),
        ]
    )
