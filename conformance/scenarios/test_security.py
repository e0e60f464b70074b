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

import pytest

from conformance.catalog.verdicts import HarnessError, NotApplicable
from conformance.harness.clients import ProbeClient, public_client
from conformance.harness.session import TargetSession
from conformance.harness.verify import Case, verify_refused
from conformance.network.aims import Aim, loopback_literals, special_names
from conformance.network.topology import Network, Planter
from conformance.redaction import redact_url
from conformance.run.browser_flow import BrowserFlow
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
