"""SSRF and other security controls (CIMD-SEC): judged by what the target connects to.

Every check plants canaries (listeners that record each connection) where its URLs point.
A check passes only when the target refuses and no canary saw a connection: a target that
refuses after connecting has already made the request an attacker wanted.

Default mode aims at loopback addresses other than the metadata host's own. The target runs
there with a development loopback exception for the metadata host, so other spellings of that
host (``2130706433``, ``localhost``, ``[::1]`` ...) are planted and reported but not scored:
they would judge the switch the user had to turn on, not the server. Lab mode (``--lab``),
where the target runs without any exception, judges them all, adds special-use addresses of
every kind behind lab DNS names, and DNS rebinding.
"""

from __future__ import annotations

import secrets
import time
from collections import Counter
from collections.abc import Callable
from urllib.parse import quote

import pytest

from conformance.catalog.verdicts import HarnessError, NonConformance, NotApplicable
from conformance.harness import observers
from conformance.harness.clients import ProbeClient, public_client
from conformance.harness.session import TargetSession
from conformance.harness.verify import Case, verify_refused
from conformance.network.aims import Aim, loopback_literals, special_names
from conformance.network.topology import Network, Planter
from conformance.redaction import redact_url
from conformance.run.browser_flow import BrowserFlow
from conformance.run.consent_page import (
    SharedConsent,
    framing_headers_problem,
    render_consent,
)
from mock_servers.lab_dns import Answer
from mock_servers.metadata_host import MetadataHost

DOCUMENT_URLS = ("logo_uri", "client_uri", "tos_uri", "policy_uri", "jwks_uri")
REBIND_ATTEMPTS = 20


def _plant_client_ids(
    planter: Planter, aims: list[Aim], target: TargetSession, host: MetadataHost
) -> list[Case]:
    """Plants a client_id on each aim; returns the cases to judge (not the excepted ones)."""
    cases = []
    for aim in aims:
        label = f"client_id on {aim.name}"
        port = planter.plant(label, aim.listen, excepted=aim.excepted).port if aim.listen else 443
        client = public_client(host)
        url = f"{_origin(aim.host, port)}/c/{client.client_id.rsplit('/c/', 1)[1]}"
        host.serve_document(url, {**client.document, "client_id": url})
        attempt = target.attempt(url, client.redirect_uri)
        if aim.judged:
            cases.append((aim.name, attempt))
    return cases


def _origin(host: str, port: int) -> str:
    """``https://host:port`` as users write it: the default port left out."""
    return f"https://{host}" if port == 443 else f"https://{host}:{port}"


def _judged_in_the_lab(aims: list[Aim], requirement: str) -> None:
    """Raise NotApplicable when loopback mode leaves nothing but the loopback exception."""
    if not any(aim.judged for aim in aims):
        raise NotApplicable(
            f"{requirement} is judged in lab mode (--lab, as root): here the target runs "
            "with a development loopback exception for the metadata host on 127.0.0.1, and "
            "the only names available without the lab DNS (localhost) are within it"
        )


@pytest.mark.requirement("CIMD-SEC-02")
def test_refuses_special_use_ip_literals(
    cimd_target: TargetSession, cimd_metadata_host: MetadataHost, cimd_ssrf: Planter
) -> None:
    """Presents client_id URLs on IP literals other than the metadata host's own: other
    loopback addresses and 0.0.0.0; [::1] and other spellings of 127.0.0.1 (2130706433,
    0x7f000001, 0177.0.0.1, 127.1, [::ffff:7f00:1]), which only the lab scores (in loopback
    mode they are within the target's development exception, and reported); in the lab also
    127.0.0.1 itself and private, link-local and ULA literals. A canary listens behind each.

    Expects: every request is refused and no canary sees a connection.
    """
    aims = loopback_literals(cimd_ssrf.network)
    _judged_in_the_lab(aims, "CIMD-SEC-02")
    cases = _plant_client_ids(cimd_ssrf, aims, cimd_target, cimd_metadata_host)
    cimd_ssrf.verify_untouched("a special-use IP literal in a client_id")
    verify_refused(cases, "a client_id on a special-use IP literal")


@pytest.mark.requirement("CIMD-SEC-01")
def test_refuses_names_resolving_to_special_use(
    cimd_target: TargetSession, cimd_metadata_host: MetadataHost, cimd_ssrf: Planter
) -> None:
    """Lab only (in loopback mode the one name available, ``localhost``, is within the
    target's development exception). Presents client_id URLs on host names that resolve to
    special-use addresses: one fresh name per address in the catalog's
    list (loopback, private, CGNAT, link-local, benchmarking, reserved, ULA, NAT64,
    documentation, IPv4-mapped, unspecified, broadcast), with a canary wherever one can
    listen.

    Expects: every request is refused and no canary sees a connection.
    """
    aims = special_names(cimd_ssrf.network)
    _judged_in_the_lab(aims, "CIMD-SEC-01")
    cases = _plant_client_ids(cimd_ssrf, aims, cimd_target, cimd_metadata_host)
    cimd_ssrf.verify_untouched("a host whose name resolves to a special-use address")
    verify_refused(cases, "a client_id whose host resolves to a special-use address")


@pytest.mark.requirement("CIMD-SEC-03")
def test_connects_only_to_the_address_it_checked(
    cimd_target: TargetSession, cimd_metadata_host: MetadataHost, cimd_ssrf: Planter
) -> None:
    """Lab only. (a) A name whose answer alternates between the metadata host and a canary
    (TTL 0), asked for with fresh client URLs 20 times; (b) a name with both addresses in one
    answer; (c) a CNAME chain ending at a canary. The canaries listen on the metadata host's
    port, so a second resolution at connect time would reach them.

    Expects: no canary ever sees a connection.
    """
    network = cimd_ssrf.network
    if not network.is_lab:
        raise NotApplicable(
            "needs DNS answers the suite controls: run in lab mode (--lab, as root)"
        )
    host = cimd_metadata_host
    port = host.port
    # fresh addresses: these canaries share the metadata host's port, for every target
    rebind = cimd_ssrf.plant(
        "rebinding name (second answer)", (network.fresh_address(3),), port
    ).addresses
    mixed = cimd_ssrf.plant(
        "name answering both addresses", (network.fresh_address(4),), port
    ).addresses
    chained = cimd_ssrf.plant("CNAME chain end", (network.fresh_address(5),), port).addresses
    names = [
        network.new_name("rebind", Answer((host.address,)), Answer(rebind)),
        network.new_name("mixed", Answer((host.address, *mixed))),
        network.new_name("chain", Answer(cname=network.new_name("end", Answer(chained)))),
    ]
    for index in range(REBIND_ATTEMPTS):
        for name in names if index == 0 else names[:1]:
            client = public_client(host)
            url = client.client_id.replace(host.base_url, _origin(name, port), 1)
            host.serve_document(url, {**client.document, "client_id": url})
            cimd_target.attempt(url, client.redirect_uri)
    cimd_ssrf.verify_untouched("an address other than the one it resolved and checked")


def _document_aims(network: Network) -> list[Aim]:
    if not network.is_lab:
        # the scored aim first: logo_uri, the one a consent page fetches, must be judged
        aims = [Aim("127.0.0.2", "127.0.0.2", ("127.0.0.2",)), *special_names(network)[:1]]
        return [aims[i % len(aims)] for i in range(len(DOCUMENT_URLS))]
    wanted = ("10.0.0.1", "169.254.169.254", "100.64.0.1", "fc00::1", "127.0.0.1")
    targets = [a for a in wanted if network.has(a)] or ["10.0.0.1"]
    targets = [targets[i % len(targets)] for i in range(len(DOCUMENT_URLS))]
    return [
        Aim(f"a name resolving to {a}", network.new_name("sec05", Answer((a,))), (a,))
        for a in targets
    ]


@pytest.mark.requirement("CIMD-SEC-05")
def test_does_not_fetch_document_urls_on_special_use_hosts(
    cimd_target: TargetSession,
    cimd_metadata_host: MetadataHost,
    cimd_ssrf: Planter,
    cimd_browser: BrowserFlow,
) -> None:
    """Serves a valid document whose logo_uri, client_uri, tos_uri, policy_uri and jwks_uri
    point at canaries (127.0.0.2, and ``localhost``, reported only; in the lab, names
    resolving to private, link-local, CGNAT, ULA and loopback addresses) and drives the request
    to the consent page, which the browser renders with its images (approving nothing; the
    browser itself never contacts the canaries).

    Expects: no canary sees a connection from the target, while building the page or while
    serving it (an AS that fetches logo_uri only when the page's image is asked for).
    """
    members = {}
    for member, aim in zip(DOCUMENT_URLS, _document_aims(cimd_ssrf.network), strict=True):
        planted = cimd_ssrf.plant(f"{member} on {aim.name}", aim.listen, excepted=aim.excepted)
        members[member] = f"https://{aim.host}:{planted.port}/{member.removesuffix('_uri')}.png"
    client = public_client(cimd_metadata_host, **members)
    _render_consent(cimd_target, cimd_browser, client, list(members.values()))
    cimd_ssrf.verify_untouched("a special-use host named in a client document")


@pytest.mark.requirement("CIMD-SEC-06")
def test_does_not_fetch_non_http_document_urls(
    cimd_target: TargetSession,
    cimd_metadata_host: MetadataHost,
    cimd_ssrf: Planter,
    cimd_browser: BrowserFlow,
) -> None:
    """Serves a valid document whose logo_uri, client_uri, tos_uri, policy_uri and jwks_uri
    use ftp, gopher, ldap, dict and ftp, each aimed at a canary on the metadata host's own
    address (which the target may contact), and drives the request to the consent page,
    which the browser renders with its images (approving nothing).

    Expects: no canary sees a connection.
    """
    host = cimd_metadata_host
    schemes = ("ftp", "gopher", "ldap", "dict", "ftp")
    members = {}
    for member, scheme in zip(DOCUMENT_URLS, schemes, strict=True):
        planted = cimd_ssrf.plant(f"{member} as {scheme}://", (host.address,))
        members[member] = f"{scheme}://{host.host_name}:{planted.port}/{member}"
    client = public_client(host, **members)
    _render_consent(cimd_target, cimd_browser, client, list(members.values()))
    cimd_ssrf.verify_untouched("a URL with a scheme other than http(s)")


def _render_consent(
    target: TargetSession, browser: BrowserFlow, client: ProbeClient, blocked: list[str]
) -> None:
    """Drive ``client``'s request to the consent page and render it in the browser.

    The request goes out as every check sends it; when it reaches consent, the same request
    is opened in the logged-in browser, which loads the page with its images and approves
    nothing, so a target that fetches a document URL only when the page's image is asked
    for (an image served from its own URL) is caught. The browser never contacts the
    ``blocked`` URLs' origins itself: every connection there is the target's. A refused
    request is judged against the control (a valid client accepted now), or it would say
    nothing about the document's URLs.
    """
    attempt = target.attempt(client.client_id, client.redirect_uri)
    if not attempt.outcome.accepted:
        target.require_control()
        return
    seen = target.pacer.call(
        "rendering the consent page",
        lambda: browser.render(attempt.url, client.redirect_uri, blocked),
    )
    if seen.kind == "page":
        raise HarnessError(
            f"the request reached consent over HTTP ({attempt.outcome.describe()}) but the "
            f"browser did not show it ({redact_url(seen.url)}: {seen.text!r}), so the page "
            "a user sees was not rendered. Check the login recipe's approve selector"
        )


# CIMD-SEC-08, CIMD-SEC-09: the consent page's rendering of hostile documents, and its framing.

LINK_SCHEMES = ("javascript:", "data:", "vbscript:")


def _hostile_name(mark: str) -> str:
    """A client_name that becomes markup, carrying ``mark``, wherever it is not escaped."""
    return (
        f"\"'><img src=x data-{mark} onerror=window.cimd_{mark}=1>"
        f"<script>window.cimd_{mark}=1</script><cimd-{mark}>name</cimd-{mark}></title>"
    )


def _scheme(url: object) -> str:
    """The scheme of a link as a browser reads it (leading blanks and controls dropped)."""
    text = "".join(c for c in str(url) if c > " " and c not in "\t\n\r").lower()
    return text.split(":", 1)[0] + ":" if ":" in text else ""


@pytest.mark.requirement("CIMD-SEC-08")
def test_consent_escapes_document_text(
    cimd_target: TargetSession, cimd_metadata_host: MetadataHost, cimd_browser: BrowserFlow
) -> None:
    """Renders the consent page for two documents: one whose client_name is markup
    (``"'><img ... onerror=...><script>...</script><cimd-...>``, quotes and ``</title>``)
    and whose client_uri carries quotes and a tag; one whose client_uri, tos_uri and
    policy_uri are ``javascript:`` URLs and whose logo_uri is a ``data:`` SVG with a script.
    Each value carries a fresh mark; the browser's DOM is read after the page built itself.
    A target that refuses a document is judged against the control (refusing it is safe).

    Expects: no element or attribute carrying the mark, no planted script ran, and no link,
    frame or form on the page points at a ``javascript:`` or ``data:`` URL.
    """
    host = cimd_metadata_host
    mark = "x" + secrets.token_hex(4)
    script = f"javascript:window.cimd_{mark}=1//"
    svg = f"<svg xmlns='http://www.w3.org/2000/svg'><script>window.cimd_{mark}=1</script></svg>"
    documents = {
        "markup in client_name and client_uri": public_client(
            host,
            client_name=_hostile_name(mark),
            client_uri=f"{host.base_url}/?q=\"'><cimd-{mark}>",
        ),
        "javascript: and data: URLs": public_client(
            host,
            client_uri=script,
            tos_uri=script + "tos",
            policy_uri=script + "policy",
            logo_uri="data:image/svg+xml," + quote(svg),
        ),
    }
    problems, rendered = [], 0
    for index, (case, client) in enumerate(documents.items()):
        seen = render_consent(cimd_target, cimd_browser, client, f"sec08-consent-{index}", mark)
        if seen is None:
            continue
        rendered += 1
        dom, shot = seen.dom, seen.shot.name if seen.shot else "-"
        found = [f"element <{e}>" for e in dom.get("elements", [])]
        found += [f"attribute {a}" for a in dom.get("attributes", [])]
        if dom.get("ran"):
            found.append("the planted script ran")
        found += [
            f"<{tag}> pointing at {_scheme(url)}"
            for tag, url in dom.get("links", [])
            if _scheme(url) in LINK_SCHEMES
        ]
        if found:
            problems.append(f"{case}: {', '.join(found)} (screenshot {shot})")
    if problems:
        raise NonConformance(
            expected="text from the client document shown as text, its URLs never as "
            "javascript:/data: links",
            observed="; ".join(problems),
        )
    if not rendered:
        cimd_target.require_control()


@pytest.mark.requirement("CIMD-SEC-09")
def test_consent_page_cannot_be_framed(
    cimd_target: TargetSession,
    cimd_metadata_host: MetadataHost,
    cimd_browser: BrowserFlow,
    cimd_consent_page: Callable[[str], SharedConsent],
) -> None:
    """Renders the consent page (the shared ``https`` page, see ``ConsentPages``) and reads
    its response headers, then opens a page on the
    metadata host (another origin than the target's) that frames the same request, in the
    logged-in browser, as an attacker's page would.

    Expects: ``X-Frame-Options: DENY`` or ``SAMEORIGIN``, or a CSP ``frame-ancestors`` that
    restricts embedding, on the consent response; and the browser blocks the frame (it holds
    the browser's error page, not the target's page).
    """
    page = cimd_consent_page("https")
    client = page.client
    problems = [p for p in [framing_headers_problem(page.seen.headers)] if p]
    attempt = cimd_target.attempt(client.client_id, client.redirect_uri)
    if not attempt.outcome.accepted:
        cimd_target.require_control()
        raise HarnessError(
            f"the second request for the same client was refused ({attempt.outcome.describe()}), "
            "so the framing attempt could not be made"
        )
    framed = cimd_target.pacer.call(
        "framing the consent page",
        lambda: cimd_browser.frame(attempt.url, cimd_metadata_host, "sec09-framed"),
    )
    if framed.shown:
        what = "the consent page" if framed.consent else f"the target's page ({framed.frame_url})"
        shot = framed.shot.name if framed.shot else "-"
        problems.append(f"a page on another origin framed {what} (screenshot {shot})")
    if problems:
        raise NonConformance(
            expected="the consent page refuses to be framed (X-Frame-Options or CSP "
            "frame-ancestors, and the browser blocks the frame)",
            observed="; ".join(problems),
        )


@pytest.mark.requirement("CIMD-SEC-04")
def test_loopback_exception_is_recorded(
    cimd_target: TargetSession, cimd_metadata_host: MetadataHost, cimd_network: Network
) -> None:
    """Sends AUTHZ(U) for a public client on the metadata host. In loopback mode that host
    is on 127.0.0.1 (in the lab and behind a public URL it is not), so an accepted request
    means the deployment under test has the loopback exception on.

    Expects: recorded, not scored: whether the loopback exception (a development setting
    production must not have) is on in the configuration tested.
    """
    client = public_client(cimd_metadata_host)
    attempt = cimd_target.attempt(client.client_id, client.redirect_uri)
    raise observers.loopback_exception(cimd_network.mode, attempt.outcome.accepted)


BURST = 20  # unauthenticated requests, each with its own client URL on the one host


@pytest.mark.requirement("CIMD-SEC-11")
@pytest.mark.serial("a burst's answers and their pace are the observation")
def test_fetch_amplification_is_recorded(
    cimd_target: TargetSession, cimd_metadata_host: MetadataHost
) -> None:
    """Sends 20 authorization requests from a browser with no session, each naming a fresh
    client URL on the metadata host, as fast as they are answered (not paced), and counts
    the GETs of those URLs.

    Expects: recorded, not scored: how many fetches an anonymous burst causes and how the
    target answers (429s show outbound fetches are throttled).
    """
    host = cimd_metadata_host
    clients = [public_client(host) for _ in range(BURST)]
    statuses: Counter[int] = Counter()
    started = time.monotonic()
    for client in clients:
        statuses[cimd_target.anonymous(client.client_id, client.redirect_uri).status] += 1
    took = time.monotonic() - started
    for client in clients:  # only these: another check's fetch may be left hanging
        host.settle(client.client_id)
    fetches = sum(host.fetch_count(c.client_id) for c in clients)
    raise observers.burst(BURST, fetches, statuses, took)
