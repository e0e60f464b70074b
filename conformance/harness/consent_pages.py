"""The consent page a user sees, and the URLs on it a browser would run or open locally.

Static HTML (no script) is what a browser shows, so it is read as plain HTTP brought it; a
page that script builds or changes is read from the browser's live DOM instead.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from conformance.catalog.verdicts import HarnessError
from conformance.harness.outcome import OutcomeKind
from conformance.harness.pages import Page
from conformance.harness.session import Attempt, TargetSession

# (url, redirect_uri) -> the rendered consent page, or None when none showed
Inspect = Callable[[str, str], Page | None]

# schemes that run code or open the user's own files; data: too, but as an image source
ACTIVE_SCHEMES = frozenset({"javascript", "vbscript", "file"})
NAVIGATING = frozenset({"href", "action", "formaction"})
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")


def consent_page(target: TargetSession, inspect: Inspect, attempt: Attempt) -> Page | None:
    """The consent page an accepted attempt reached, as the user sees it; None without one.

    Raises:
        HarnessError: plain HTTP saw consent but the browser showed none.
    """
    outcome = attempt.outcome
    if outcome.kind is OutcomeKind.CODE:
        return None  # no consent page was shown at all
    page = outcome.page
    static = page is not None and not page.scripts
    if outcome.seen_in == "http" and outcome.kind is OutcomeKind.CONSENT and static:
        return page
    rendered = target.pacer.call(
        "rendering the consent page", lambda: inspect(attempt.url, attempt.redirect_uri or "")
    )
    if rendered is None and outcome.kind is OutcomeKind.CONSENT:
        raise HarnessError(
            f"the request reached consent ({outcome.describe()}) but the browser did not show "
            "it, so the page a user sees was not read. Check the login recipe's approve selector"
        )
    return rendered


def without_request_values(text: str, values: Iterable[str]) -> str:
    """``text`` with ``values`` blanked out: what every request of the run carries.

    A consent page rightly repeats the run's ``resource`` or ``scope`` ("For resource:
    https://127.0.0.1:8443/mcp"); a host found only inside them was not shown as the client's
    or the redirect URI's.
    """
    for value in sorted(values, key=len, reverse=True):
        if value:
            text = re.sub(re.escape(value), " ", text, flags=re.IGNORECASE)
    return text


def unsafe_urls(page: Page, planted: Iterable[str]) -> list[str]:
    """The page's links, images and forms that use a planted value or an unsafe scheme.

    Unsafe: a URL that runs code or opens something locally (javascript:, vbscript:,
    file:), and data: anywhere but as an image source.
    """
    values = set(planted)
    return [
        f"<{tag} {attribute}={value[:80]!r}>"
        for tag, attribute, value in page.urls
        if _unsafe(attribute, value, values)
    ]


def _unsafe(attribute: str, value: str, planted: set[str]) -> bool:
    # browsers drop leading and trailing spaces, and tabs and newlines anywhere, in URLs
    cleaned = re.sub(r"[\t\n\r]", "", value).strip()
    if cleaned in planted:
        return True
    match = _SCHEME.match(cleaned)
    scheme = match.group(1).lower() if match else ""
    if scheme in ACTIVE_SCHEMES:
        return True
    if scheme == "data":
        return attribute in NAVIGATING or not cleaned.lower().startswith("data:image/")
    return False
