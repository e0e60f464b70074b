"""Signing in the one test user, and the issuer's home page."""

from __future__ import annotations

import hmac

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from . import upstream
from .issuer import Issuer
from .pages import error_page, render
from .scripted import answer, is_json, read_fields


async def login_page(issuer: Issuer, request: Request) -> Response:
    """GET /login: the sign-in form (or, with ``upstream-login``, off to the provider)."""
    next_url = request.query_params.get("next", "")
    if issuer.is_variant("upstream-login"):
        return upstream.start(issuer, next_url)
    return _form(issuer, next_url)


async def login(issuer: Issuer, request: Request) -> Response:
    """POST /login: check the credentials, start a session, return to ``next``."""
    if issuer.is_variant("upstream-login"):
        return error_page("invalid_request", "sign in at the identity provider", 400)
    fields = await read_fields(request, ("username", "password", "next"))
    username, password, next_url = fields["username"], fields["password"], fields["next"]
    if _identifier_first(issuer) and "password" not in await _form_names(request):
        # the first step names the user only; any name gets the password step (which names
        # no user as unknown, so the first step tells nothing of who has an account)
        return _form(issuer, next_url, username=username)
    # Both comparisons always run, in constant time, so timing tells nothing.
    user_ok = hmac.compare_digest(username.encode(), issuer.config.user.encode())
    password_ok = hmac.compare_digest(password.encode(), issuer.config.password.encode())
    if not (user_ok and password_ok):
        if is_json(request):
            return JSONResponse({"error": "Wrong username or password."}, 401)
        return _form(
            issuer,
            next_url,
            error="Wrong username or password.",
            status_code=401,
            username=username if _identifier_first(issuer) else None,
        )
    session_id, _ = issuer.state.start_session(issuer.config.user)
    response = RedirectResponse(issuer.safe_next(next_url), 302)
    issuer.set_cookie(response, "", session_id)
    return answer(request, response)


async def home(issuer: Issuer, request: Request) -> Response:
    """GET /: where a sign-in without a pending authorization request lands."""
    found = issuer.session(request)
    return render(
        "home.html",
        issuer=issuer.config.issuer_id,
        prefix=issuer.config.path_prefix,
        user=found[1].user if found else None,
    )


def _identifier_first(issuer: Issuer) -> bool:
    """Whether sign-in asks the user name on one page and the password on the next.

    That is the ``identifier-first`` variant; the script-built login of ``script-pages``
    asks both at once.
    """
    return issuer.is_variant("identifier-first") and not issuer.is_variant("script-pages")


async def _form_names(request: Request) -> set[str]:
    """The names of the fields a form post carries."""
    async with request.form() as form:
        return set(form.keys())


def _form(
    issuer: Issuer,
    next_url: str,
    error: str | None = None,
    status_code: int = 200,
    username: str | None = None,
) -> Response:
    """The sign-in form.

    Under ``identifier-first``: its user name step, or (given ``username``) its password step.
    """
    if issuer.is_variant("script-pages"):
        data = {"action": issuer.path("/login"), "next": next_url, "error": error}
        return render("login_script.html", status_code, data=data)
    step = "both"  # the user name and the password on one page
    if _identifier_first(issuer):
        step = "identifier" if username is None else "password"
    return render(
        "login.html",
        status_code,
        prefix=issuer.config.path_prefix,
        next=next_url,
        error=error,
        step=step,
        username=username,
    )
