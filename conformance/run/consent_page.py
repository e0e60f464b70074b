"""Consent pages as the user sees them: a fresh client's request rendered in the browser.

Shared by the consent checks (CIMD-UI) and the consent-page security checks (CIMD-SEC-08,
CIMD-SEC-09).
"""

from __future__ import annotations

import secrets
import struct
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from conformance.catalog.verdicts import HarnessError, NonConformance
from conformance.harness.clients import ProbeClient, public_client
from conformance.harness.session import TargetSession
from conformance.redaction import redact_url
from conformance.run.browser_flow import BrowserFlow, Rendered
from mock_servers.fetch_log import Fetch
from mock_servers.metadata_host import MetadataHost


def unique_host() -> str:
    """A host name of this run's own, for a redirect URI nothing else on the page names."""
    return f"cimd-{secrets.token_hex(4)}.app.test"


def png(size: int) -> bytes:
    """A plain ``size`` x ``size`` PNG: logos told apart by their size in the browser."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    rows = b"".join(b"\x00" + b"\x20\x60\xc0" * size for _ in range(size))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def client_with_redirects(host: MetadataHost, redirect_uri: str, **members: Any) -> ProbeClient:
    """A public client whose only redirect URI is ``redirect_uri`` (presented as well)."""
    client = public_client(host, redirect_uris=[redirect_uri], **members)
    return replace(client, redirect_uri=redirect_uri)


def render_consent(
    target: TargetSession,
    browser: BrowserFlow,
    client: ProbeClient,
    shot: str,
    mark: str = "",
    blocked: Sequence[str] = (),
    extra: dict[str, str] | None = None,
) -> Rendered | None:
    """Drive ``client``'s request to consent and render the page (approving nothing).

    Returns None when the target refused the request while a valid client is accepted (a
    policy of the target's, e.g. hostile values refused outright). ``extra`` adds
    authorization parameters (e.g. a ``scope``).

    Raises:
        NonConformance: the target approved without showing a consent page.
        HarnessError: the page could not be had or was not recognised.
    """
    attempt = target.attempt(client.client_id, client.redirect_uri, extra=extra)
    if not attempt.outcome.accepted:
        target.require_control()
        return None
    seen = target.pacer.call(
        "rendering the consent page",
        lambda: browser.inspect(attempt.url, client.redirect_uri, shot, mark, blocked),
    )
    if seen.kind == "redirect":
        raise NonConformance(
            expected="a consent page for a client the user never approved",
            observed=f"the browser was sent straight to the redirect URI ({redact_url(seen.url)})",
        )
    if seen.kind != "consent":
        raise HarnessError(
            f"the request reached consent over HTTP ({attempt.outcome.describe()}) but the "
            f"browser did not show it ({redact_url(seen.url)}: {seen.text[:120]!r}). Check the "
            "login recipe's approve selector"
        )
    return seen


def required_consent(
    target: TargetSession,
    browser: BrowserFlow,
    client: ProbeClient,
    shot: str,
    blocked: Sequence[str] = (),
) -> Rendered:
    """:func:`render_consent` for a valid client, which must reach consent."""
    seen = render_consent(target, browser, client, shot, blocked=blocked)
    if seen is None:
        raise HarnessError(
            f"the target refused a valid client (redirect URI {client.redirect_uri}) while the "
            "control was accepted, so its consent page could not be seen"
        )
    return seen


def _frame_ancestors_restricted(policy: str) -> bool:
    """Whether a CSP ``frame-ancestors`` directive in ``policy`` keeps other sites out."""
    for directive in policy.replace("\n", ",").replace(",", ";").split(";"):
        name, _, value = directive.strip().partition(" ")
        if name.lower() == "frame-ancestors":
            sources = value.lower().split()
            return bool(sources) and not any(
                s in ("*", "http:", "https:") or s.startswith(("http://*", "https://*"))
                for s in sources
            )
    return False


def framing_headers_problem(headers: Mapping[str, str]) -> str | None:
    """What is wrong with a consent response's anti-framing headers (None: they refuse it).

    ``X-Frame-Options: DENY`` or ``SAMEORIGIN``, or a CSP ``frame-ancestors`` that keeps
    other sites out, refuse framing.
    """
    xfo = headers.get("x-frame-options", "")
    csp = headers.get("content-security-policy", "")
    if xfo.strip().lower() in ("deny", "sameorigin") or _frame_ancestors_restricted(csp):
        return None
    return (
        f"consent response headers: X-Frame-Options {xfo or 'absent'!r}, "
        f"Content-Security-Policy {csp or 'absent'!r}"
    )


SHARED_KINDS = ("https", "loopback")


@dataclass(frozen=True)
class SharedConsent:
    """A consent page rendered once for the several checks that judge it.

    Attributes:
        client: the client whose request was rendered.
        seen: the page as the browser rendered it.
        attempts: the authorization request's evidence, as recorded when it was rendered.
        fetches: the client URL's fetches the rendering caused (none made since).
        first: the check that rendered it.
    """

    client: ProbeClient
    seen: Rendered
    attempts: tuple[dict[str, Any], ...]
    fetches: tuple[Fetch, ...]
    first: str


class ConsentPages:
    """One target's shared consent pages, each rendered when a check first asks for it.

    The consent checks that read what any consent page shows (the client_id host, the
    redirect URI host, the loopback warning, the client's name, the anti-framing headers)
    judge the same two pages instead of rendering one each:

    - ``https``: a client whose only redirect URI is https on a unique host;
    - ``loopback``: a client whose only redirect URI is the loopback callback.

    Both clients have the same name (``Probe <nonce>``, no host in it) and the same client_uri
    on another unique host, so the two pages differ only where the redirect URI does, and
    the client_id host can only come from the client_id. A page whose rendering ended in a
    verdict or a harness error about the target's answer (a valid client refused, a page not
    recognised) gives each later check the same ending; any other failure (a deadline, a
    target's "not now", an error of the browser) is not kept, so the next check renders it
    again.
    """

    def __init__(self) -> None:
        self.name = f"Probe {secrets.token_hex(3)}"
        self.redirect_host = unique_host()  # the https page's redirect URI host
        self.site = f"https://{unique_host()}/"  # both clients' client_uri
        self._pages: dict[str, SharedConsent | NonConformance | HarnessError] = {}

    def get(
        self,
        kind: str,
        target: TargetSession,
        browser: BrowserFlow,
        host: MetadataHost,
        callback_url: str,
        check: str,
    ) -> tuple[SharedConsent, bool]:
        """The ``kind`` page, and whether this call rendered it.

        Raises:
            NonConformance: the target approved the client without showing consent.
            HarnessError: the page could not be had (see :func:`required_consent`).
        """
        kept = self._pages.get(kind)
        if kept is None:
            redirect = f"https://{self.redirect_host}/cb" if kind == "https" else callback_url
            client = client_with_redirects(
                host, redirect, client_name=self.name, client_uri=self.site
            )
            recorded = len(target.attempts)
            try:
                seen = required_consent(target, browser, client, f"consent-{kind}")
            except (NonConformance, HarnessError) as exc:
                if type(exc) in (NonConformance, HarnessError):  # not a deadline, a "not now"
                    self._pages[kind] = exc
                raise
            attempts = tuple(target.attempts[recorded:])
            fetches = tuple(host.fetches(client.client_id))  # a fresh URL: all are the render's
            page = SharedConsent(client, seen, attempts, fetches, check)
            self._pages[kind] = page
            return page, True
        if isinstance(kept, NonConformance):
            raise NonConformance(expected=kept.expected, observed=kept.observed, tier=kept.tier)
        if isinstance(kept, HarnessError):
            raise HarnessError(str(kept))
        return kept, False
