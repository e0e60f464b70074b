"""Document validation (CIMD-DOC): JSON object, client_id, credentials, redirect_uris."""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

import pytest

from conformance.catalog.requirements import Tier
from conformance.catalog.verdicts import NonConformance, Observation
from conformance.harness import corpus, observers
from conformance.harness.client_assertions import unsigned
from conformance.harness.clients import public_client
from conformance.harness.session import TargetSession
from conformance.harness.verify import Case, verify_refused
from conformance.run.browser_flow import BrowserFlow
from conformance.run.consent_page import png, render_consent
from mock_servers.hosting import Hosting
from mock_servers.metadata_host import MetadataHost


def _variant_cases(target: TargetSession, host: MetadataHost, requirement: str) -> list[Case]:
    cases: list[Case] = []
    for name in corpus.names("variants", requirement):
        client = public_client(host, name)
        cases.append((name, target.attempt(client.client_id, client.redirect_uri)))
    return cases


@pytest.mark.requirement("CIMD-DOC-01")
def test_refuses_body_that_is_not_a_json_object(
    cimd_target: TargetSession, cimd_metadata_host: MetadataHost
) -> None:
    """Serves malformed JSON, trailing garbage, comments, HTML, an empty body, [] and a string.

    Expects: every request is refused.
    """
    cases = []
    for name in corpus.names("bodies", "CIMD-DOC-01"):
        client = public_client(cimd_metadata_host)
        body = corpus.body(
            name, client_id=client.client_id, metadata_host=cimd_metadata_host.base_url
        )
        cimd_metadata_host.serve(
            client.client_id, Hosting.raw(body.content, content_type=body.content_type)
        )
        cases.append((name, cimd_target.attempt(client.client_id, client.redirect_uri)))
    verify_refused(cases, "a body that is not a JSON object")


@pytest.mark.requirement("CIMD-DOC-02")
def test_refuses_document_without_client_id(
    cimd_target: TargetSession, cimd_metadata_host: MetadataHost
) -> None:
    """Serves the public client without its client_id member.

    Expects: the request is refused.
    """
    verify_refused(
        _variant_cases(cimd_target, cimd_metadata_host, "CIMD-DOC-02"),
        "a document without client_id",
    )


@pytest.mark.requirement("CIMD-DOC-03")
def test_refuses_document_whose_client_id_differs(
    cimd_target: TargetSession, cimd_metadata_host: MetadataHost
) -> None:
    """Serves documents claiming another URL on the host, ["U"], {} and "U " (trailing space).

    Expects: every request is refused.
    """
    verify_refused(
        _variant_cases(cimd_target, cimd_metadata_host, "CIMD-DOC-03"),
        "a document whose client_id is not the URL",
    )


@pytest.mark.requirement("CIMD-DOC-04")
def test_never_issues_tokens_to_shared_secret_client(
    cimd_target: TargetSession, cimd_metadata_host: MetadataHost
) -> None:
    """Serves documents naming client_secret_basic, client_secret_post and client_secret_jwt;
    where consent is shown, approves and asks for tokens as a public client and with a made-up
    secret.

    Expects: no tokens are issued (required); refusing before consent is recommended.
    """
    issued, consented = [], []
    for name in corpus.names("variants", "CIMD-DOC-04"):
        client = public_client(cimd_metadata_host, name)
        attempt = cimd_target.attempt(client.client_id, client.redirect_uri)
        if not attempt.outcome.accepted:
            continue
        consented.append(name)
        approved = cimd_target.approve(attempt) if attempt.outcome.approvable else attempt.outcome
        code = approved.params.get("code")
        if code is None or attempt.pkce is None:
            continue
        for auth in (None, (client.client_id, "made-up-secret")):
            tokens = cimd_target.redeem(
                client_id=client.client_id,
                code=code,
                redirect_uri=client.redirect_uri,
                verifier=attempt.pkce.verifier,
                auth=auth,
            )
            if tokens.issued:
                issued.append(f"{name} ({'public' if auth is None else 'made-up Basic secret'})")
                break
    if issued:
        raise NonConformance(
            expected="no tokens for a shared-secret client",
            observed="tokens issued: " + ", ".join(issued),
        )
    if consented:
        raise NonConformance(
            expected="shared-secret documents refused before consent",
            observed="consent shown for " + ", ".join(consented) + " (no tokens issued)",
            tier=Tier.RECOMMENDED,
        )


@pytest.mark.requirement("CIMD-DOC-08")
def test_refuses_document_without_redirect_uris(
    cimd_target: TargetSession, cimd_metadata_host: MetadataHost
) -> None:
    """Serves documents with redirect_uris missing, [], a string, and [123], and requests the
    https redirect URI the string names.

    Expects: every request is refused.
    """
    cases = []
    for name in corpus.names("variants", "CIMD-DOC-08"):
        client = public_client(cimd_metadata_host, name)
        redirect_uri = cimd_metadata_host.base_url + "/cb"
        cases.append((name, cimd_target.attempt(client.client_id, redirect_uri)))
    verify_refused(cases, "a document without a usable redirect_uris array")


LOGO_SIZE = 5  # pixels: the unrelated-host logo, told apart from any image of the AS's own


@pytest.mark.requirement("CIMD-DOC-18")
def test_display_url_on_unrelated_host_is_recorded(
    cimd_target: TargetSession, cimd_metadata_host: MetadataHost, cimd_browser: BrowserFlow
) -> None:
    """Serves a valid document whose logo_uri (a 5x5 PNG) is on the metadata host's other
    name, a host neither the client_id nor the redirect URI uses, and renders its consent
    page in a browser that cannot reach the metadata host itself.

    Expects: recorded, not scored: whether the logo is shown or hidden, and whether a
    warning about it appears.
    """
    host = cimd_metadata_host
    logo_url = host.alias_base_url + host.new_path("logo.png")
    host.serve(logo_url, Hosting(body=png(LOGO_SIZE), headers=(("content-type", "image/png"),)))
    client = public_client(host, logo_uri=logo_url)
    mark = host.mark()
    blocked = [host.base_url, host.alias_base_url]
    seen = render_consent(cimd_target, cimd_browser, client, "doc18-consent", blocked=blocked)
    if seen is None:
        raise Observation("the client with an unrelated-host logo_uri was refused", refused=True)
    path = urlsplit(logo_url).path
    fetched = any(f.target == path for f in host.fetches_since(mark))
    shown = next(
        (
            str(i.get("src", ""))[:80]
            for i in seen.dom.get("images", [])
            if i.get("width") == LOGO_SIZE and i.get("height") == LOGO_SIZE
        ),
        "",
    )
    logo_host = urlsplit(logo_url).hostname or ""
    warning = observers.warning_line(seen.text, (logo_host, "logo", "image"))
    raise observers.display_url_consistency(fetched, shown, warning)


@pytest.mark.requirement("CIMD-DOC-19")
def test_unsigned_software_statement_is_recorded(
    cimd_target: TargetSession, cimd_metadata_host: MetadataHost
) -> None:
    """Serves a document with an unsigned (``alg: none``) software_statement claiming
    software_id ``well-known-app`` and another client_name, and sends AUTHZ(U).

    Expects: recorded, not scored: accepted or refused, and whether the consent page shows
    the name the unverified statement claims (which would be trust it did not earn).
    """
    claimed = f"Well Known App {secrets.token_hex(3)}"
    statement = unsigned({"software_id": "well-known-app", "client_name": claimed})
    client = public_client(cimd_metadata_host, software_statement=statement)
    attempt = cimd_target.attempt(client.client_id, client.redirect_uri)
    outcome = attempt.outcome
    shown = outcome.page is not None and claimed in outcome.page.text
    raise observers.software_statement(outcome.accepted, shown, outcome.describe())
