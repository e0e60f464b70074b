"""Outcomes: how the target answered one authorization attempt."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlsplit

from conformance.harness.pages import Form, Page
from conformance.redaction import redact_params, redact_text, redact_url
from conformance.target.pacing import TRANSIENT_ERRORS, TRANSIENT_STATUSES


class OutcomeKind(enum.Enum):
    """What the target did with an authorization request."""

    CONSENT = "consent shown"
    LOGIN = "login page"
    ERROR_PAGE = "error page"
    CODE = "redirect with code"
    ERROR_REDIRECT = "redirect with error"
    OTHER_REDIRECT = "redirect elsewhere"


@dataclass
class Outcome:
    """The target's answer to one authorization attempt, after same-origin hops.

    Attributes:
        kind: the classification.
        status: the final HTTP status.
        url: the final URL on the target.
        location: the redirect that left the target, if any.
        params: the query parameters of that redirect (code, error, state, iss).
        page: the parsed final page, when the answer was a page.
        hops: every URL visited on the target (redacted).
        redirect_uri: the redirect URI the request presented.
        body: the answer's text when it was not a page (a JSON or plain-text error), at
            most :data:`BODY_KEPT` characters.
    """

    kind: OutcomeKind
    status: int
    url: str
    location: str = ""
    params: dict[str, str] = field(default_factory=dict)
    page: Page | None = None
    hops: list[str] = field(default_factory=list)
    redirect_uri: str = ""
    retry_after: str = ""
    seen_in: str = "http"
    body: str = ""

    @property
    def text(self) -> str:
        """What the answer said: the page's visible text, else its body (JSON, plain text)."""
        return self.page.text if self.page is not None else self.body

    @property
    def transient(self) -> str:
        """What made this answer a transient one ("not now"), or "" when it is not."""
        if self.status in TRANSIENT_STATUSES and self.kind not in (
            OutcomeKind.CODE,
            OutcomeKind.CONSENT,
        ):
            return f"HTTP {self.status}"
        error = self.params.get("error", "")
        return f"error={error}" if error in TRANSIENT_ERRORS else ""

    @property
    def accepted(self) -> bool:
        """The target went on with the request: consent, login, or a code."""
        return self.kind in (OutcomeKind.CONSENT, OutcomeKind.LOGIN, OutcomeKind.CODE)

    @property
    def approvable(self) -> bool:
        """Consent is shown (in the HTML or the browser's DOM), or a code already came."""
        return self.kind in (OutcomeKind.CODE, OutcomeKind.CONSENT)

    @property
    def consent_form(self) -> Form | None:
        """The consent form, when consent was shown."""
        return self.page.consent_form() if self.page else None

    @property
    def sent_to_redirect_uri(self) -> bool:
        """The user agent was sent to the presented redirect URI (Location or auto-navigation)."""
        if (
            self.location
            and self.redirect_uri
            and origin(self.location) == origin(self.redirect_uri)
        ):
            return True
        return bool(self.page and self.redirect_uri and self.page.navigates_to(self.redirect_uri))

    def describe(self) -> str:
        """One line for reports, with secrets redacted."""
        text = f"{self.kind.value} (HTTP {self.status})"
        if self.location:
            text += f" to {redact_url(self.location)}"
        elif self.text and self.kind is OutcomeKind.ERROR_PAGE:
            text += f": {redact_text(self.text)[:160]!r}"
        if self.page and self.redirect_uri and self.page.navigates_to(self.redirect_uri):
            text += "; the page navigates to the redirect URI by itself"
        return text

    def evidence(self) -> dict[str, object]:
        """A JSON-ready summary for the report (redacted)."""
        return {
            "outcome": self.kind.value,
            "status": self.status,
            "location": redact_url(self.location) if self.location else None,
            "params": redact_params(self.params),
            "hops": self.hops,
            "page_text": redact_text(self.page.text)[:300] if self.page else None,
            **({"body": redact_text(self.body)[:300]} if self.body else {}),
            **({"classified_in": self.seen_in} if self.seen_in != "http" else {}),
        }


BODY_KEPT = 4096
"""How much of an answer that is not a page an :class:`Outcome` keeps."""
DEFAULT_PORTS = {"https": 443, "http": 80}


def origin(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) with the default port filled in: ``https://h`` = ``https://h:443``."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or ""), parts.port or DEFAULT_PORTS.get(scheme)


def classify_redirect(location: str, redirect_uri: str, status: int, url: str) -> Outcome:
    """An outcome for a redirect that leaves the target."""
    params = dict(parse_qsl(urlsplit(location).query, keep_blank_values=True))
    fragment = dict(parse_qsl(urlsplit(location).fragment, keep_blank_values=True))
    params = {**fragment, **params}
    if "code" in params:
        kind = OutcomeKind.CODE
    elif "error" in params:
        kind = OutcomeKind.ERROR_REDIRECT
    else:
        kind = OutcomeKind.OTHER_REDIRECT
    return Outcome(kind, status, url, location, params, redirect_uri=redirect_uri)
