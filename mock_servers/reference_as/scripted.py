"""Requests from script-built pages (the ``script-pages`` variant): JSON in, JSON out.

The sign-in and consent endpoints take a form post or a ``fetch()`` with a JSON body alike.
A scripted request cannot follow a redirect into a navigation, so a redirect is answered as
``{"location": ...}`` (with the same cookies) and the page's script navigates there.
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.requests import Request
from starlette.responses import JSONResponse, Response


def is_json(request: Request) -> bool:
    """Whether the request body is JSON."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    return kind == "application/json"


async def read_fields(request: Request, names: Sequence[str]) -> dict[str, str]:
    """The named string fields of a form or JSON body ("" for a missing or odd one)."""
    if is_json(request):
        try:
            data = await request.json()
        except ValueError:
            data = {}
        found = data if isinstance(data, dict) else {}
        return {name: _text(found.get(name)) for name in names}
    async with request.form() as form:
        return {name: _text(form.get(name)) for name in names}


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def answer(request: Request, response: Response) -> Response:
    """``response`` as a scripted request needs it: a redirect becomes ``{"location"}``."""
    if not is_json(request) or response.status_code not in (302, 303):
        return response
    scripted = JSONResponse(
        {"location": response.headers["location"]}, headers={"Cache-Control": "no-store"}
    )
    scripted.raw_headers.extend(
        (name, value) for name, value in response.raw_headers if name == b"set-cookie"
    )
    return scripted
