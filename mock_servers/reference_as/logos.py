"""The lazy-logo faults' logo endpoint: the consent page's image, fetched late.

A correct AS fetches the logo while it builds the consent page, through the SSRF guard, and
embeds it as a ``data:`` URI. With this fault the page's ``<img>`` points at ``/logo`` on the
AS instead, and the AS fetches ``logo_uri`` only when the browser asks for the image, without
the address check (``logo-fetched-lazily``), or with urllib whatever its scheme
(``logo-proxied-any-scheme``): defects that no authorization request over plain HTTP shows,
only a rendered consent page.
"""

from __future__ import annotations

import base64
import secrets
from collections import OrderedDict
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response

from .faults import F

if TYPE_CHECKING:
    from .issuer import Issuer

MAX_PENDING = 256
LAZY_LOGO_FAULTS = (F.LOGO_FETCHED_LAZILY, F.LOGO_PROXIED_ANY_SCHEME)


def fetches_logos_lazily(issuer: Issuer) -> bool:
    """Whether the consent page links ``/logo`` instead of embedding the logo."""
    return any(issuer.has(fault) for fault in LAZY_LOGO_FAULTS)


class LazyLogos:
    """The logo URLs consent pages refer to, by an opaque id (the newest few only)."""

    def __init__(self) -> None:
        self._urls: OrderedDict[str, str] = OrderedDict()

    def add(self, url: str) -> str:
        """Remember ``url``; returns the id the consent page's ``/logo`` link carries."""
        logo_id = secrets.token_urlsafe(12)
        self._urls[logo_id] = url
        while len(self._urls) > MAX_PENDING:
            self._urls.popitem(last=False)
        return logo_id

    def get(self, logo_id: str) -> str | None:
        """The logo URL behind ``logo_id``, if it is still known."""
        return self._urls.get(logo_id)


def lazy_logo_src(issuer: Issuer, logo_uri: str | None) -> str | None:
    """The consent page's image source for ``logo_uri``: a link to this issuer's ``/logo``."""
    if not logo_uri:
        return None
    return issuer.path("/logo?id=") + issuer.lazy_logos.add(logo_uri)


async def logo(issuer: Issuer, request: Request) -> Response:
    """GET /logo?id=...: fetch the logo now (the fault: without the address check)."""
    if not fetches_logos_lazily(issuer):
        return Response(status_code=404, headers={"Cache-Control": "no-store"})
    url = issuer.lazy_logos.get(request.query_params.get("id", ""))
    found = await issuer.clients.logo_at(url) if url else None
    if found is None:
        return Response(status_code=404, headers={"Cache-Control": "no-store"})
    kind, _, data = found.removeprefix("data:").partition(";base64,")
    return Response(base64.b64decode(data), media_type=kind)
