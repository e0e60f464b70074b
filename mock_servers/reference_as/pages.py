"""HTML pages: Jinja2 with autoescaping on, because every document field is attacker-written.

Every page carries anti-framing headers (CIMD-SEC-09: the consent page must not be framable,
and no page needs to be) and ``Cache-Control: no-store``, since pages carry CSRF tokens.
"""

from __future__ import annotations

from contextvars import ContextVar
from pathlib import Path
from typing import Any

import jinja2
from starlette.responses import HTMLResponse, JSONResponse, Response

TEMPLATES = Path(__file__).parent / "templates"
PAGE_HEADERS = {
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "frame-ancestors 'none'",
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
}

_ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)


def render(template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """Render ``template`` with ``context`` into a response with the page headers."""
    html = _ENV.get_template(template).render(**context)
    return HTMLResponse(html, status_code=status_code, headers=PAGE_HEADERS)


JSON_ERRORS: ContextVar[bool] = ContextVar("json_errors", default=False)
"""Whether the issuer answering the request has the ``json-errors`` variant."""


def error_page(error: str, description: str, status_code: int = 400) -> Response:
    """The page shown instead of redirecting when the client or redirect URI is not verified.

    RFC 6749 §4.1.2.1: with an invalid client or redirect URI, inform the user and do not
    redirect. Under the ``json-errors`` variant the answer is RFC 6749's JSON error object
    instead of a page, as API-first servers answer.
    """
    if JSON_ERRORS.get():
        body = {"error": error, "error_description": description}
        return JSONResponse(body, status_code=status_code, headers=PAGE_HEADERS)
    return render("error.html", status_code, error=error, description=description)
