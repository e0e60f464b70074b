"""The consent page (CIMD-UI): what the user is shown before approving a CIMD client.

Each check drives a fresh client's request to consent and renders the page in the run's one
browser (the logged-in context), approving nothing; it reads the page's visible text and
keeps a screenshot as evidence. The checks that read what any consent page shows share two
such pages per target, rendered once (``cimd_consent_page``). What can be judged is judged
(present, visible, in the page's text); how prominent it is stays for a person to look at in
the screenshot.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from urllib.parse import urljoin, urlsplit

import pytest

from conformance.catalog.verdicts import HarnessError, NonConformance, NotApplicable, Observation
from conformance.harness import observers
from conformance.harness.clients import ProbeClient, public_client
from conformance.harness.consent_pages import without_request_values
from conformance.harness.observers import unverified_line
from conformance.harness.outcome import origin
from conformance.harness.session import TargetSession
from conformance.run.browser_flow import BrowserFlow, Rendered
from conformance.run.consent_page import (
    SHARED_KINDS,
    SharedConsent,
    client_with_redirects,
    framing_headers_problem,
    png,
    render_consent,
    required_consent,
    unique_host,
)
from conformance.run.state import RunConfig
from mock_servers.hosting import Hosting
from mock_servers.metadata_host import MetadataHost

# words a warning about loopback-only redirect URIs uses (a heuristic; a person confirms)
WARNING_WORDS = re.compile(
    r"warn|caution|careful|danger|risk|localhost|loopback|127\.0\.0\.1|\blocal\b|"
    r"(this|your( own)?) (computer|device|machine)",
    re.IGNORECASE,
)
LINK_MEMBERS = ("client_uri", "tos_uri", "policy_uri")
# the logos served after the first page's 7x7, by size: a new one each time the page is seen
LATER_LOGOS = (9, 11, 13)
REVIEW = "a person should confirm in the screenshot that it is prominent"


def _shot(seen: Rendered) -> str:
    return seen.shot.name if seen.shot else "-"


def _shown(target: TargetSession, text: str, wanted: str) -> bool:
    """Whether ``wanted`` is in the page's text beside what the run's requests put there."""
    return wanted.lower() in without_request_values(text, target.extra_params.values()).lower()


@pytest.mark.requirement("CIMD-UI-01")
def test_consent_shows_client_id_host(
    cimd_target: TargetSession,
    cimd_metadata_host: MetadataHost,
    cimd_consent_page: Callable[[str], SharedConsent],
) -> None:
    """Renders the consent page for a client whose redirect URI and client_uri are on other,
    unique hosts and whose name does not contain its host, so the client_id host can only
    come from the client_id (the shared ``https`` page, see ``ConsentPages``).

    Expects: the client_id's host name is in the page's visible text (a person should still
    confirm in the screenshot that it is prominent).
    """
    host = cimd_metadata_host
    seen = cimd_consent_page("https").seen
    if not _shown(cimd_target, seen.text, host.host_name):
        raise NonConformance(
            expected=f"the client_id host {host.host_name!r} shown on the consent page",
            observed=f"not in the page's visible text (screenshot {_shot(seen)})",
        )


@pytest.mark.requirement("CIMD-UI-02")
def test_consent_shows_redirect_uri_host(
    cimd_target: TargetSession, cimd_consent_page: Callable[[str], SharedConsent]
) -> None:
    """Renders the consent page for a client whose one redirect URI is
    ``https://<unique>.app.test/cb`` (a host nothing else on the page names), then for one
    whose one redirect URI is the loopback callback ``http://127.0.0.1:<port>/callback``
    (the shared ``https`` and ``loopback`` pages, see ``ConsentPages``).

    Expects: each redirect URI's host is in the page's visible text (a person should still
    confirm in the screenshots that it is prominent). In loopback mode the client_id host is
    127.0.0.1 too, so the unique host is what tells the two apart.
    """
    missing = []
    for kind in SHARED_KINDS:
        page = cimd_consent_page(kind)
        redirect_host = urlsplit(page.client.redirect_uri).hostname or ""
        if not _shown(cimd_target, page.seen.text, redirect_host):
            shot = _shot(page.seen)
            missing.append(f"{redirect_host!r} not in the page's visible text (screenshot {shot})")
    if missing:
        raise NonConformance(
            expected="the redirect URI's host shown on the consent page",
            observed="; ".join(missing),
        )


def _lines(text: str, hosts: tuple[str, ...]) -> set[str]:
    """The page's text lines, with the hosts that differ between the two pages masked."""
    found = set()
    for line in text.splitlines():
        for host in hosts:
            line = line.replace(host, "<host>")
        if line.strip():
            found.add(" ".join(line.split()))
    return found


@pytest.mark.requirement("CIMD-UI-03")
def test_warns_about_loopback_only_redirects(
    cimd_metadata_host: MetadataHost, cimd_consent_page: Callable[[str], SharedConsent]
) -> None:
    """Renders the consent page for a client whose only redirect URI is the loopback callback
    and for one whose only redirect URI is https on a unique host, and compares their texts
    (host names masked, names alike: the shared ``loopback`` and ``https`` pages, see
    ``ConsentPages``).

    Expects: the loopback page has text the https page lacks that reads as a warning (a
    keyword heuristic: warning, localhost, loopback, this computer...); a person should
    still read it in the screenshot.
    """
    local, https = cimd_consent_page("loopback"), cimd_consent_page("https")
    unique = urlsplit(https.client.redirect_uri).hostname or ""
    # longest first: a client_id contains the metadata host's name
    hosts = (
        local.client.client_id,
        https.client.client_id,
        unique,
        cimd_metadata_host.host_name,
        "127.0.0.1",
    )
    extra = _lines(local.seen.text, hosts) - _lines(https.seen.text, hosts)
    warnings = sorted(line for line in extra if WARNING_WORDS.search(line))
    if not warnings:
        raise NonConformance(
            expected="an extra warning on the consent page when every redirect URI is loopback",
            observed=(
                "no text reading as a warning appears only for the loopback-only client "
                f"(text only there: {sorted(extra)[:3]!r}; screenshots "
                f"{_shot(local.seen)}, {_shot(https.seen)})"
            ),
        )


def _logo(seen: Rendered, size: int) -> str | None:
    """Where the page's image of ``size`` pixels came from (``None``: no such image)."""
    for image in seen.dom.get("images", []):
        if image.get("width") == size and image.get("height") == size:
            return str(image.get("src", ""))
    return None


@pytest.mark.requirement("CIMD-UI-05")
def test_logo_is_prefetched_and_served_by_the_as(
    cimd_target: TargetSession, cimd_metadata_host: MetadataHost, cimd_browser: BrowserFlow
) -> None:
    """Serves a document (cacheable for 10 minutes) whose logo_uri is a 7x7 PNG on the
    metadata host, and renders its consent page in a browser that never contacts the
    metadata host itself; then serves a 9x9 PNG at the same URL and renders the consent page
    for the same client again, within the document's cache lifetime.

    Expects: the metadata host sees the logo fetched (by the AS: the browser cannot reach
    it); the page shows the 7x7 image from a ``data:`` URI or the AS's own origin; and the
    second page still shows the 7x7 image (the logo is kept, not fetched again per page).
    A target that fetched the document again before the second page may show the new logo
    with its new copy; the page is then rendered again with another logo (three times at
    most), and a target that fetched the document again every time is recorded as such.
    """
    host = cimd_metadata_host
    logo_url = host.base_url + host.new_path("logo.png")
    image = Hosting(headers=(("content-type", "image/png"), ("cache-control", "no-store")))
    host.serve(logo_url, replace(image, body=png(7)))
    client = client_with_redirects(host, f"https://{unique_host()}/cb", logo_uri=logo_url)
    host.serve_document(client.client_id, client.document, cache_control="max-age=600")
    mark = host.mark()
    first = required_consent(
        cimd_target, cimd_browser, client, "ui05-consent-first", blocked=[host.base_url]
    )
    fetched = [f for f in host.fetches_since(mark) if logo_url.endswith(f.target)]
    as_origin = origin(first.url)
    problems = []
    if not fetched:
        problems.append("the metadata host never saw the logo fetched")
    src = _logo(first, 7)
    if src is None:
        hotlinked = [
            i.get("src")
            for i in first.dom.get("images", [])
            if origin(str(i.get("src"))) == origin(logo_url)
        ]
        problems.append(
            "the page points its image at the client's host (logo_uri itself)"
            if hotlinked
            else "the page shows no 7x7 logo"
        )
    elif not (src.startswith("data:") or origin(src) == as_origin):
        problems.append(f"the logo is served from {origin(src)}, not from the AS")
    shots = [_shot(first)]
    if not problems:
        again = _logo_not_kept(cimd_target, cimd_browser, host, client, logo_url, image)
        if again is not None:
            problems.append(again[0])
            shots.append(_shot(again[1]))
    if problems:
        raise NonConformance(
            expected="the logo fetched by the AS, kept, and served from storage it controls",
            observed=f"{'; '.join(problems)} (screenshot {', then '.join(shots)})",
        )


def _logo_not_kept(
    target: TargetSession,
    browser: BrowserFlow,
    host: MetadataHost,
    client: ProbeClient,
    logo_url: str,
    image: Hosting,
) -> tuple[str, Rendered] | None:
    """What is wrong with how the consent page's 7x7 logo is kept (CIMD-UI-05's second part),
    with the page that shows it (``None``: the logo was kept).

    A new logo (9x9, then 11x11, 13x13) is served and the page rendered again. A target
    that fetched the document again meanwhile took a new copy, and may take the logo anew
    with it (a bounded cache under the run's load drops copies early): the new logo then
    says nothing, and the page is rendered again with the next one.

    Raises:
        Observation: the requirement held, but the target fetched the document again before
            every later page, so whether the logo is kept could not be seen.
    """
    kept = 7
    for new in LATER_LOGOS:
        host.serve(logo_url, replace(image, body=png(new)))
        mark = host.mark()
        seen = required_consent(
            target, browser, client, f"ui05-consent-{new}px", blocked=[host.base_url]
        )
        renewed = any(client.client_id.endswith(f.target) for f in host.fetches_since(mark))
        if _logo(seen, kept) is not None:
            return None
        if _logo(seen, new) is None:
            return "the page rendered again shows no logo", seen
        if not renewed:
            return (
                "the page rendered again within the document's cache lifetime, without the "
                f"document fetched again, shows the new {new}x{new} logo",
                seen,
            )
        kept = new  # the new copy's logo: kept from here, unless fetched again
    raise Observation(
        "the logo was fetched by the AS and served from storage it controls; the target "
        f"fetched the document again before each of {len(LATER_LOGOS)} later pages (it "
        "kept no copy for the document's cache lifetime) and showed each new logo with it, "
        "so whether a logo is kept with its document could not be seen",
        held=True,
    )


@pytest.mark.requirement("CIMD-UI-07")
def test_mcp_proxy_asks_consent_for_each_client(
    cimd_target: TargetSession,
    cimd_metadata_host: MetadataHost,
    cimd_browser: BrowserFlow,
    cimd_config: RunConfig,
) -> None:
    """Only for a target declared an MCP proxy acting as an AS (``mcp_proxy = true`` in the
    target file, or ``--mcp-proxy``; ``demo`` judges the reference AS so). The user approves
    one client in the browser, asking a scope (the run's ``scope``, else ``openid``); then a
    second client on the same host, with the same redirect URI and scope, is rendered.

    Expects: the second client gets a consent page of its own (consent is kept per client,
    not per user or scope: the confused deputy of MCP's security best practices), which shows
    its full redirect URI; and the consent response refuses framing (X-Frame-Options or CSP
    frame-ancestors; CIMD-SEC-09 also tries a real frame).
    """
    if not cimd_config.mcp_proxy:
        raise NotApplicable(
            "applies to an MCP proxy acting as an AS only: declare mcp_proxy = true in the "
            "target file (or give --mcp-proxy) when the target is one"
        )
    host = cimd_metadata_host
    extra = {"scope": cimd_target.extra_params.get("scope") or "openid"}
    first = public_client(host)
    attempt = cimd_target.attempt(first.client_id, first.redirect_uri, extra=extra)
    if not attempt.outcome.accepted:
        cimd_target.require_control()
        raise HarnessError(
            f"the target refused a valid client asking scope {extra['scope']!r} "
            f"({attempt.outcome.describe()}): give the run a scope it grants (--param scope=)"
        )
    answer = cimd_target.pacer.call(
        "approving the first client in the browser",
        lambda: cimd_browser.authorize(attempt.url, first.redirect_uri, "ui07-first-client"),
    )
    if "code" not in answer:
        raise HarnessError(
            f"approving the first client in the browser gave no code ({sorted(answer)}), so "
            "whether consent is kept per client could not be seen"
        )
    second = public_client(host)
    try:
        seen = render_consent(cimd_target, cimd_browser, second, "ui07-second-client", extra=extra)
    except NonConformance as exc:
        raise NonConformance(
            expected="a consent page for a second client after the user approved another one",
            observed=f"{exc.observed}: consent given to {first.client_id} stood for "
            f"{second.client_id}",
        ) from None
    if seen is None:
        raise HarnessError(
            "the target refused the second client while the control was accepted, so its "
            "consent page could not be seen"
        )
    problems = []
    if not _shown(cimd_target, seen.text, second.redirect_uri):
        problems.append(
            f"the redirect URI {second.redirect_uri!r} is not in the page's visible text "
            f"(screenshot {_shot(seen)})"
        )
    framing = framing_headers_problem(seen.headers)
    if framing:
        problems.append(framing)
    if problems:
        raise NonConformance(
            expected="the MCP proxy's consent page shows the redirect URI and refuses framing",
            observed="; ".join(problems),
        )


@pytest.mark.requirement("CIMD-UI-04")
def test_client_name_display_is_recorded(
    cimd_target: TargetSession, cimd_consent_page: Callable[[str], SharedConsent]
) -> None:
    """Renders the consent page for a client named ``Probe <nonce>`` (the shared ``https``
    page, see ``ConsentPages``).

    Expects: recorded, not scored: whether the name is shown, and whether the page marks it
    as unverified, self-asserted data (a keyword heuristic; the screenshot shows the page).
    """
    page = cimd_consent_page("https")
    name, seen = str(page.client.document["client_name"]), page.seen
    observation = observers.name_display(
        _shown(cimd_target, seen.text, name), unverified_line(seen.text)
    )
    observation.observed += f" (screenshot {_shot(seen)})"
    raise observation


@pytest.mark.requirement("CIMD-UI-06")
def test_client_links_display_is_recorded(
    cimd_target: TargetSession, cimd_metadata_host: MetadataHost, cimd_browser: BrowserFlow
) -> None:
    """Renders the consent page for a client whose client_uri, tos_uri and policy_uri are
    distinct URLs, and reads the page's links and text.

    Expects: recorded, not scored: for each URL, a direct link (the user's browser contacts
    the client's host: a tracking risk), a link through the AS, the text only, or nothing.
    """
    host = cimd_metadata_host
    urls = {m: host.base_url + host.new_path(m.removesuffix("_uri")) for m in LINK_MEMBERS}
    client = public_client(host, **urls)
    seen = required_consent(cimd_target, cimd_browser, client, "ui06-consent")
    links = [urljoin(seen.url, str(href)) for _, href in seen.dom.get("links", [])]
    parts = urlsplit(seen.url)
    as_origin = f"{parts.scheme}://{parts.netloc}"
    observation = observers.link_display(urls, links, seen.text, as_origin)
    observation.observed += f" (screenshot {_shot(seen)})"
    raise observation
