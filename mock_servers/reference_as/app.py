"""The reference AS as one Starlette app serving any number of issuers side by side.

The fault matrix must stay cheap (DESIGN.md): one process serves a clean root issuer and one
issuer per fault under ``/faults/<name>``, each with its own state and cache. Their sign-in
is shared (single sign-on, as on a multi-tenant server with one login): one login in the
browser serves every issuer, and the suite logs in once per origin.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .authorize import authorize, consent, resume
from .config import IssuerConfig
from .grants import Sessions
from .issuer import Issuer
from .login import home, login, login_page
from .logos import logo
from .pages import JSON_ERRORS
from .par import par
from .registration import register
from .revocation import revoke
from .tokens import token
from .upstream import callback

Handler = Callable[[Issuer, Request], Awaitable[Response]]


def create_app(configs: Sequence[IssuerConfig], *, single_sign_on: bool = False) -> Starlette:
    """Build the ASGI app serving every issuer in ``configs``.

    With ``single_sign_on`` one sign-in serves every issuer (one session store and cookie),
    as on a multi-tenant server with one login; else each issuer signs in on its own.

    Raises:
        ValueError: no issuers, or two issuers share a path prefix.
    """
    if not configs:
        raise ValueError("at least one issuer is needed")
    prefixes = [config.path_prefix for config in configs]
    if len(set(prefixes)) != len(prefixes):
        raise ValueError("every issuer needs its own path_prefix")
    routes: list[BaseRoute] = []
    shared = Sessions() if single_sign_on else None
    issuers = [Issuer(config, shared) for config in configs]
    for issuer in issuers:
        routes.extend(issuer_routes(issuer))

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        """While served, the issuers keep their connections to client hosts between fetches."""
        for issuer in issuers:
            issuer.clients.fetcher.keep_connections()
        try:
            yield
        finally:
            for issuer in issuers:
                await issuer.clients.fetcher.aclose()

    middleware = []
    if any(config.is_variant("distant") for config in configs):
        middleware.append(Middleware(_Distant))
    if any(config.is_variant("closed-connections") for config in configs):
        middleware.append(Middleware(_Closing))
    return Starlette(routes=routes, lifespan=lifespan, middleware=middleware)


DISTANT_S = 0.05
"""The ``distant`` variant: how much later every answer starts, as across a continent."""


class _Distant:
    """Every HTTP answer of ``app`` starts :data:`DISTANT_S` late (a server far away)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await asyncio.sleep(DISTANT_S)
        await self.app(scope, receive, send)


class _Closing:
    """Every HTTP answer of ``app`` says ``Connection: close`` (no keep-alive).

    The server then ends each connection after one answer, as a small server or a proxy
    without keep-alive does.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def closing(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (k, v) for k, v in message.get("headers", []) if k.lower() != b"connection"
                ]
                message = {**message, "headers": [*headers, (b"connection", b"close")]}
            await send(message)

        await self.app(scope, receive, closing)


def issuer_routes(issuer: Issuer) -> list[BaseRoute]:
    """The routes of one issuer, under its path prefix."""

    async def metadata(request: Request) -> Response:
        return JSONResponse(issuer.metadata(), headers={"Cache-Control": "no-store"})

    async def jwks(request: Request) -> Response:  # the access tokens' signing key
        return JSONResponse(issuer.signer.jwks(), headers={"Cache-Control": "max-age=300"})

    async def oidc_metadata(request: Request) -> Response:
        return JSONResponse(issuer.oidc_metadata(), headers={"Cache-Control": "no-store"})

    table: list[tuple[str, Handler, str]] = [
        ("/authorize", authorize, "GET"),
        ("/login", login_page, "GET"),
        ("/login", login, "POST"),
        ("/consent", consent, "POST"),
        ("/consent", consent, "GET"),  # the approve-link variant's links
        ("/consent/resume", resume, "GET"),  # consent-before-login, after sign-in
        ("/login/callback", callback, "GET"),  # upstream-login's return
        ("/token", token, "POST"),
        ("/par", par, "POST"),  # pushed authorization requests (RFC 9126)
        ("/register", register, "POST"),  # RFC 7591 dynamic client registration
        ("/revoke", revoke, "POST"),  # RFC 7009 token revocation
        ("/logo", logo, "GET"),  # the logo-fetched-lazily fault's consent-page image
        ("/", home, "GET"),
    ]
    routes: list[BaseRoute] = [
        Route(issuer.metadata_path, metadata, methods=["GET"]),
        Route(issuer.path("/jwks"), jwks, methods=["GET"]),
    ]
    if issuer.oidc_metadata_path is not None:
        routes.append(Route(issuer.oidc_metadata_path, oidc_metadata, methods=["GET"]))
    routes.extend(
        Route(issuer.path(suffix), _bind(issuer, handler), methods=[method])
        for suffix, handler, method in table
    )
    return routes


def _bind(issuer: Issuer, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    # A closure, not functools.partial: Starlette only treats plain functions and methods
    # as request/response endpoints.
    json_errors = issuer.config.is_variant("json-errors")

    async def endpoint(request: Request) -> Response:
        token = JSON_ERRORS.set(json_errors)
        try:
            return await handler(issuer, request)
        finally:
            JSON_ERRORS.reset(token)

    return endpoint
