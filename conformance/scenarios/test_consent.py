"""The consent page (CIMD-UI): what the user is shown before approving a CIMD client.

Each check drives a fresh client's request to consent and renders the page in the run's one
browser (the logged-in context), approving nothing; it reads the page's visible text and
keeps a screenshot as evidence. What can be judged is judged (present, visible, in the page's
text); how prominent it is stays for a person to look at in the screenshot.
"""

from __future__ import annotations

import re
import secrets

import pytest

from conformance.catalog.verdicts import NonConformance, NotApplicable
from conformance.harness.session import TargetSession
from conformance.run.browser_flow import BrowserFlow, Rendered
from conformance.run.consent_page import client_with_redirects, required_consent, unique_host
from conformance.target.discovery import Target
from mock_servers.callback import CallbackListener
from mock_servers.metadata_host import MetadataHost

# words a warning about loopback-only redirect URIs uses (a heuristic; a person confirms)
WARNING_WORDS = re.compile(
    r"warn|caution|careful|danger|risk|localhost|loopback|127\.0\.0\.1|\blocal\b|"
    r"(this|your( own)?) (computer|device|machine)",
    re.IGNORECASE,
)
REVIEW = "a person should confirm in the screenshot that it is prominent"


def _shot(seen: Rendered) -> str:
    return seen.shot.name if seen.shot else "-"


def _shown(text: str, wanted: str) -> bool:
    return wanted.lower() in text.lower()


@pytest.mark.requirement("CIMD-UI-01")
def test_consent_shows_client_id_host(
    cimd_target: TargetSession, cimd_metadata_host: MetadataHost, cimd_browser: BrowserFlow
) -> None:
    """Renders the consent page for a client whose redirect URI and client_uri are on other,
    unique hosts and whose name does not contain its host, so the client_id host can only
    come from the client_id.

    Expects: the client_id's host name is in the page's visible text (a person should still
    confirm in the screenshot that it is prominent).
    """
    host = cimd_metadata_host
    client = client_with_redirects(
        host,
        f"https://{unique_host()}/cb",
        client_name=f"Probe {secrets.token_hex(3)}",
        client_uri=f"https://{unique_host()}/",
    )
    seen = required_consent(cimd_target, cimd_browser, client, "ui01-consent")
    if not _shown(seen.text, host.host_name):
        raise NonConformance(
            expected=f"the client_id host {host.host_name!r} shown on the consent page",
            observed=f"not in the page's visible text (screenshot {_shot(seen)})",
        )


@pytest.mark.requirement("CIMD-UI-02")
def test_consent_shows_redirect_uri_host(
    cimd_target: TargetSession,
    cimd_metadata_host: MetadataHost,
    cimd_browser: BrowserFlow,
    cimd_callback: CallbackListener,
) -> None:
    """Renders the consent page for a client whose one redirect URI is
    ``https://<unique>.app.test/cb`` (a host nothing else on the page names), then for one
    whose one redirect URI is the loopback callback ``http://127.0.0.1:<port>/callback``.

    Expects: each redirect URI's host is in the page's visible text (a person should still
    confirm in the screenshots that it is prominent). In loopback mode the client_id host is
    127.0.0.1 too, so the unique host is what tells the two apart.
    """
    unique = unique_host()
    cases = [
        (unique, client_with_redirects(cimd_metadata_host, f"https://{unique}/cb")),
        ("127.0.0.1", client_with_redirects(cimd_metadata_host, cimd_callback.url())),
    ]
    missing = []
    for index, (redirect_host, client) in enumerate(cases):
        seen = required_consent(cimd_target, cimd_browser, client, f"ui02-consent-{index}")
        if not _shown(seen.text, redirect_host):
            shot = seen.shot.name if seen.shot else "-"
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
    cimd_target: TargetSession,
    cimd_metadata_host: MetadataHost,
    cimd_browser: BrowserFlow,
    cimd_callback: CallbackListener,
) -> None:
    """Renders the consent page for a client whose only redirect URI is the loopback callback
    and for one whose only redirect URI is https on a unique host, and compares their texts
    (host names masked, names alike).

    Expects: the loopback page has text the https page lacks that reads as a warning (a
    keyword heuristic: warning, localhost, loopback, this computer...); a person should
    still read it in the screenshot.
    """
    unique = unique_host()
    name = f"Probe {secrets.token_hex(3)}"
    local = client_with_redirects(cimd_metadata_host, cimd_callback.url(), client_name=name)
    https = client_with_redirects(cimd_metadata_host, f"https://{unique}/cb", client_name=name)
    loopback = required_consent(cimd_target, cimd_browser, local, "ui03-consent-loopback")
    remote = required_consent(cimd_target, cimd_browser, https, "ui03-consent-https")
    # longest first: a client_id contains the metadata host's name
    hosts = (local.client_id, https.client_id, unique, cimd_metadata_host.host_name, "127.0.0.1")
    extra = _lines(loopback.text, hosts) - _lines(remote.text, hosts)
    warnings = sorted(line for line in extra if WARNING_WORDS.search(line))
    if not warnings:
        raise NonConformance(
            expected="an extra warning on the consent page when every redirect URI is loopback",
            observed=(
                "no text reading as a warning appears only for the loopback-only client "
                f"(text only there: {sorted(extra)[:3]!r}; screenshots "
                f"{loopback.shot.name if loopback.shot else '-'}, "
                f"{remote.shot.name if remote.shot else '-'})"
            ),
        )


@pytest.mark.requirement("CIMD-UI-07")
def test_mcp_proxy_keeps_per_client_consent(cimd_metadata: Target) -> None:
    """Only for an authorization server that is an MCP proxy (MCP security best practices,
    "Required Protections"): per-client consent showing the client name, third-party scopes
    and the registered redirect_uri, with anti-framing and CSRF protection.

    Expects: not applicable, since nothing in the target's description says it is such a
    proxy (its parts are judged by CIMD-UI-02 and CIMD-SEC-09).
    """
    raise NotApplicable(
        f"applies only when the AS under test ({cimd_metadata.issuer}) is an MCP proxy acting "
        "as an authorization server, which the suite cannot tell and the target file does not "
        "declare; the redirect_uri display and anti-framing it asks for are judged by "
        "CIMD-UI-02 and CIMD-SEC-09"
    )
