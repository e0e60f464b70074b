"""A cookie jar that keeps no cookie and sends none.

For HTTP clients that live across requests but must send each one without cookies: the
reference AS's kept fetch clients (a fetch carries no context, CIMD-FETCH-10) and the suite's
cookieless client (token requests, a browser's first request without a session).
"""

from __future__ import annotations

import http.cookiejar
from typing import Any


class NoCookies(http.cookiejar.DefaultCookiePolicy):
    """A cookie policy that accepts no cookie and returns none."""

    def set_ok(self, cookie: http.cookiejar.Cookie, request: Any) -> bool:
        """Keep no cookie the server sets."""
        return False

    def return_ok(self, cookie: http.cookiejar.Cookie, request: Any) -> bool:
        """Send no cookie."""
        return False


def cookieless_jar() -> http.cookiejar.CookieJar:
    """A new cookie jar under :class:`NoCookies` (pass it as an httpx client's ``cookies``)."""
    return http.cookiejar.CookieJar(policy=NoCookies())
