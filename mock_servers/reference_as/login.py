"""Signing in the one test user, and the issuer's home page."""

from __future__ import annotations

import hmac

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from .issuer import Issuer
from .pages import render


async def login_page(issuer: Issuer, request: Request) -> Response:
    """GET /login: the sign-in form."""
    return _form(issuer, request.query_params.get("next", ""))


async def login(issuer: Issuer, request: Request) -> Response:
    """POST /login: check the credentials, start a session, return to ``next``."""
    async with request.form() as form:
        values = [form.get(name) for name in ("username", "password", "next")]
    username, password, next_url = (value if isinstance(value, str) else "" for value in values)
    # Both comparisons always run, in constant time, so timing tells nothing.
    user_ok = hmac.compare_digest(username.encode(), issuer.config.user.encode())
    password_ok = hmac.compare_digest(password.encode(), issuer.config.password.encode())
    if not (user_ok and password_ok):
        return _form(issuer, next_url, error="Wrong username or password.", status_code=401)
    session_id, _ = issuer.state.start_session(issuer.config.user)
    response = RedirectResponse(_safe_next(issuer, next_url), 302)
    response.set_cookie(
        issuer.cookie_name, session_id, path="/", secure=True, httponly=True, samesite="lax"
    )
    return response


async def home(issuer: Issuer, request: Request) -> Response:
    """GET /: where a sign-in without a pending authorization request lands."""
    found = issuer.session(request)
    return render(
        "home.html",
        issuer=issuer.config.issuer,
        prefix=issuer.config.path_prefix,
        user=found[1].user if found else None,
    )


def _form(
    issuer: Issuer, next_url: str, error: str | None = None, status_code: int = 200
) -> Response:
    return render(
        "login.html",
        status_code,
        prefix=issuer.config.path_prefix,
        next=next_url,
        error=error,
    )


def _safe_next(issuer: Issuer, next_url: str) -> str:
    # Only a relative path back into this issuer's authorization endpoint: anything else
    # would make the login form an open redirector.
    if next_url.startswith(issuer.path("/authorize")) and not any(
        ch == "\\" or ord(ch) < 0x20 for ch in next_url
    ):
        return next_url
    return issuer.path("/")
