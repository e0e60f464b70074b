"""One login, two user agents: the browser's cookies and the HTTP session's kept in step.

The run logs in once, in the browser, and gives its cookies to the plain-HTTP session.
From then on each agent may receive new cookies the other lacks: a target that renews its
session cookie when a consent is approved (session-fixation protection) leaves the other agent
with a session that no longer exists, and the target shows it a sign-in page. So each browser
step in the logged-in context first takes the cookies the HTTP session changed, and hands back
those the browser changed.
"""

from __future__ import annotations

import contextlib
from http.cookiejar import Cookie, CookieJar
from typing import Any, cast
from urllib.parse import urlsplit

from conformance.redaction import SECRETS
from conformance.target.pacing import jar_host

_Key = tuple[str, str, str]  # name, host, path


class CookieSync:
    """What both agents agreed on at the last hand-over: each shared cookie's value, by key.

    The shared cookies are the session-wide ones: on the target's host, with ``Path=/``. A
    cookie scoped to a narrower path belongs to one flow (one authorization request's
    interaction) and stays with the agent that started it; handing those over would also
    fill the browser's jar until it evicts the session itself. A shared cookie whose value
    differs from the agreed one was changed by the agent holding it since; one that was
    agreed and is gone was cleared by that agent.
    """

    def __init__(self) -> None:
        self._agreed: dict[_Key, str] = {}

    def to_browser(self, jar: CookieJar, context: Any, url: str) -> None:
        """Give ``context`` the cookies for ``url`` the HTTP session set or cleared."""
        held = _shared(jar, url)
        changed = [k for k, c in held.items() if self._agreed.get(k) != c.value]
        cleared = [k for k in self._agreed if k not in held]
        if changed or cleared:
            browser = {_browser_key(c): c for c in context.cookies([url])}
            for key in cleared:
                shown = browser.get(key)
                if shown is not None and shown["value"] == self._agreed[key]:
                    context.clear_cookies(name=key[0], domain=shown["domain"], path=key[2])
            if changed:
                context.add_cookies([_browser_cookie(held[k], browser.get(k)) for k in changed])
        self._agreed = {k: c.value or "" for k, c in held.items()}

    def from_browser(self, jar: CookieJar, context: Any, url: str) -> None:
        """Give the HTTP session the cookies for ``url`` the browser set or cleared."""
        browser = {_browser_key(c): c for c in context.cookies([url])}
        held = _shared(jar, url)
        for key, shown in browser.items():
            if self._agreed.get(key) == shown["value"]:
                continue
            SECRETS.add(shown["value"])
            cookie = held.get(key)
            if cookie is None:
                jar.set_cookie(_jar_cookie(shown))
            else:  # kept where the jar filed it, with its attributes
                cookie.value = shown["value"]
                cookie.expires = _expiry(shown)
        for key in [k for k in self._agreed if k not in browser and k in held]:
            if held[key].value == self._agreed[key]:
                with contextlib.suppress(KeyError):
                    jar.clear(held[key].domain, held[key].path, held[key].name)
        self._agreed = {k: c.value or "" for k, c in _shared(jar, url).items()}


def session_values(jar: CookieJar, url: str) -> dict[_Key, str | None]:
    """The values of the jar's session-wide cookies for ``url``'s host, by key."""
    return {key: c.value for key, c in _shared(jar, url).items()}


def holds(jar: CookieJar, of: CookieJar, url: str) -> bool:
    """Whether ``jar`` holds each session-wide cookie ``of`` holds for ``url``, as it is."""
    mine = session_values(jar, url)
    return all(mine.get(key) == value for key, value in session_values(of, url).items())


def hand_over(source: CookieJar, target: CookieJar, url: str) -> bool:
    """Give ``target`` the session-wide cookies for ``url`` that ``source`` holds otherwise.

    For two HTTP sessions of one user (a check run ahead of its turn and the run's session).
    Returns whether any changed. A cookie ``target`` holds and ``source`` lacks stays.
    """
    there = _shared(target, url)
    changed = False
    for key, cookie in _shared(source, url).items():
        if key not in there or there[key].value != cookie.value:
            target.set_cookie(cookie)
            changed = True
    return changed


def _shared(jar: CookieJar, url: str) -> dict[_Key, Cookie]:
    """The jar's session-wide cookies for ``url``'s host (``Path=/``), by key."""
    host = urlsplit(url).hostname or ""
    found = {}
    for cookie in _cookies(jar):
        domain = jar_host(cookie.domain)
        on_host = domain == host or (cookie.domain.startswith(".") and host.endswith(f".{domain}"))
        if on_host and (cookie.path or "/") == "/":
            found[_jar_key(cookie)] = cookie
    return found


def _cookies(jar: CookieJar) -> list[Cookie]:
    # worker threads may add cookies while the jar is read: read it again then
    for _ in range(3):
        with contextlib.suppress(RuntimeError):
            return list(jar)
    return list(jar)


def _jar_key(cookie: Cookie) -> _Key:
    return cookie.name, jar_host(cookie.domain), cookie.path or "/"


def _browser_key(cookie: Any) -> _Key:
    return cookie["name"], jar_host(cookie["domain"]), cookie["path"] or "/"


def _expiry(cookie: Any) -> int | None:
    expires = cookie.get("expires", -1)
    return int(expires) if expires is not None and expires >= 0 else None


def _attribute(cookie: Cookie, name: str) -> str | None:
    for spelling in (name, name.lower()):
        if cookie.has_nonstandard_attr(spelling):
            return cookie.get_nonstandard_attr(spelling) or ""
    return None


def _browser_cookie(cookie: Cookie, shown: Any) -> Any:
    """``cookie`` in Playwright's shape: the browser's own entry renewed, or a new one."""
    if shown is not None:
        renewed = dict(shown)
        renewed["value"] = cookie.value or ""
        renewed["expires"] = cookie.expires if cookie.expires is not None else -1
        return renewed
    host = jar_host(cookie.domain)
    host = f"[{host}]" if ":" in host else host
    same_site = (_attribute(cookie, "SameSite") or "Lax").capitalize()
    return {
        "name": cookie.name,
        "value": cookie.value or "",
        "domain": f".{host}" if cookie.domain.startswith(".") else host,
        "path": cookie.path or "/",
        "expires": cookie.expires if cookie.expires is not None else -1,
        "httpOnly": _attribute(cookie, "HttpOnly") is not None,
        "secure": bool(cookie.secure),
        "sameSite": same_site if same_site in ("Strict", "Lax", "None") else "Lax",
    }


def _jar_cookie(shown: Any) -> Cookie:
    """A browser cookie (Playwright's shape) as the standard library's jar files it."""
    domain = cast(str, shown["domain"])
    bare = domain.lstrip(".")
    if "." not in bare:  # the jar files a dotless host (localhost, [::1]) under <host>.local
        domain = f"{domain}.local"
    return Cookie(
        version=0,
        name=shown["name"],
        value=shown["value"],
        port=None,
        port_specified=False,
        domain=domain,
        domain_specified=domain.startswith("."),
        domain_initial_dot=domain.startswith("."),
        path=shown["path"] or "/",
        path_specified=True,
        secure=bool(shown.get("secure")),
        expires=_expiry(shown),
        discard=_expiry(shown) is None,
        comment=None,
        comment_url=None,
        rest={"HttpOnly": ""} if shown.get("httpOnly") else {},
    )
