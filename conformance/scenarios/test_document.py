"""Document validation (CIMD-DOC): JSON, client_id, credentials, keys, redirect URIs, members."""

from __future__ import annotations

import secrets
from urllib.parse import quote_plus, urlsplit

import pytest

from conformance.catalog.requirements import Tier
from conformance.catalog.verdicts import HarnessError, NonConformance, NotApplicable, Observation
from conformance.harness import corpus, observers
from conformance.harness.client_assertions import ClientKey, unsigned
from conformance.harness.clients import ProbeClient, public_client, published_shapes
from conformance.harness.consent_pages import consent_page, unsafe_urls, without_request_values
from conformance.harness.flows import code_for, redeem_fresh_code
from conformance.harness.session import TargetSession
from conformance.harness.verify import (
    Case,
    verify_accepted,
    verify_published_shapes,
    verify_refused,
)
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


# Documents, redirect URIs, keys and display URLs (issue 11's rows), in catalog order.
PRIVATE_KEY_JWT_CONTROL = "private-key-jwt-jwks"
URL_MEMBERS = ("logo_uri", "client_uri", "tos_uri", "policy_uri")


def _corpus_cases(target: TargetSession, host: MetadataHost, requirement: str) -> list[Case]:
    """Each corpus document and variant for ``requirement``, requested as the public client."""
    cases: list[Case] = []
    for kind in ("documents", "variants"):
        for name in corpus.names(kind, requirement):
            client = public_client(host, name)
            cases.append((name, target.attempt(client.client_id, client.redirect_uri)))
    return cases


def _listed_uri_cases(target: TargetSession, host: MetadataHost, requirement: str) -> list[Case]:
    """Each redirect URI the requirement's variants list, requested exactly as listed."""
    cases: list[Case] = []
    for name in corpus.names("variants", requirement):
        client = public_client(host, name)
        for uri in client.document["redirect_uris"]:
            cases.append((f"{name}: {uri}", target.attempt(client.client_id, uri)))
    return cases


def _require_key_documents(target: TargetSession, host: MetadataHost) -> None:
    """The control of the key checks: a private_key_jwt document with one public key inline.

    Refusing a document for its keys means something only where the same document with
    proper keys is accepted; a target without private_key_jwt refuses them all.

    Raises:
        NotApplicable: the control was refused (and a valid public client was accepted).
    """
    client = public_client(host, PRIVATE_KEY_JWT_CONTROL)
    attempt = target.attempt(client.client_id, client.redirect_uri)
    if not attempt.outcome.accepted:
        target.require_control()
        raise NotApplicable(
            "a private_key_jwt document with a public key in jwks was not accepted "
            f"({attempt.outcome.describe()}): the target does not take such clients, so "
            "refusing the ones with other keys would say nothing about their keys"
        )


@pytest.mark.requirement("CIMD-DOC-05")
def test_published_client_secret_is_never_a_credential(
    cimd_target: TargetSession, cimd_metadata_host: MetadataHost
) -> None:
    """Serves documents carrying client_secret, and client_secret_expires_at; where consent
    is shown, approves twice and redeems the codes authenticating with the published secret,
    with HTTP Basic and in the body.

    Expects: no tokens for the published secret (required); refusing the document before
    consent is recommended.
    """
    cases, issued, consented = [], [], []
    for name in corpus.names("variants", "CIMD-DOC-05"):
        client = public_client(cimd_metadata_host, name)
        attempt = cimd_target.attempt(client.client_id, client.redirect_uri)
        cases.append((name, attempt))
        if not attempt.outcome.accepted:
            continue
        consented.append(name)
        secret = client.document.get("client_secret")
        if isinstance(secret, str):
            issued += [f"{name} ({how})" for how in _redeemed_with(cimd_target, client, secret)]
    if issued:
        raise NonConformance(
            expected="a secret published in a document is never a credential",
            observed="tokens issued for the published secret: " + ", ".join(issued),
        )
    if consented:
        raise NonConformance(
            expected="documents with client_secret or client_secret_expires_at refused",
            observed="consent shown for " + ", ".join(consented) + " (the secret got no tokens)",
            tier=Tier.RECOMMENDED,
        )
    verify_refused(cases, "a document carrying a client secret")


def _redeemed_with(target: TargetSession, client: ProbeClient, secret: str) -> list[str]:
    """How a code was redeemed with ``secret`` (HTTP Basic, form body), one fresh code each."""
    redeemed = []
    for how in ("HTTP Basic", "client_secret in the body"):
        try:
            attempt, code = code_for(target, client)
        except NotApplicable:
            continue  # no code this time: nothing to redeem
        assert attempt.pkce is not None  # code_for refuses attempts without PKCE
        basic = how == "HTTP Basic"
        tokens = target.redeem(
            client_id=client.client_id,
            code=code,
            redirect_uri=client.redirect_uri,
            verifier=attempt.pkce.verifier,
            # RFC 6749 §2.3.1: HTTP Basic carries both parts form-urlencoded
            auth=(quote_plus(client.client_id), quote_plus(secret)) if basic else None,
            client_secret=None if basic else secret,
        )
        if tokens.issued:
            redeemed.append(how)
    return redeemed


@pytest.mark.requirement("CIMD-DOC-06")
def test_refuses_private_key_material(
    cimd_target: TargetSession, cimd_metadata_host: MetadataHost
) -> None:
    """Serves private_key_jwt documents whose jwks holds private key material: an EC key
    with d, an RSA key with d, p, q, dp, dq and qi, and a symmetric (oct) key with k. The
    same EC key's public part alone must be accepted (the control).

    Expects: every document with private key material is refused.
    """
    _require_key_documents(cimd_target, cimd_metadata_host)
    verify_refused(
        _corpus_cases(cimd_target, cimd_metadata_host, "CIMD-DOC-06"),
        "a document publishing private key material",
    )


@pytest.mark.requirement("CIMD-DOC-07")
def test_refuses_jwks_with_jwks_uri(
    cimd_target: TargetSession, cimd_metadata_host: MetadataHost
) -> None:
    """Serves the private_key_jwt client with both jwks and jwks_uri (RFC 7591 §2); the
    same document with jwks alone must be accepted (the control).

    Expects: the request is refused.
    """
    _require_key_documents(cimd_target, cimd_metadata_host)
    verify_refused(
        _corpus_cases(cimd_target, cimd_metadata_host, "CIMD-DOC-07"),
        "a document with both jwks and jwks_uri",
    )


@pytest.mark.requirement("CIMD-DOC-09")
def test_refuses_relative_or_fragment_redirect_uris(
    cimd_target: TargetSession, cimd_metadata_host: MetadataHost
) -> None:
    """Serves a document listing /cb and M/cb#frag, and requests each exactly as listed.

    Expects: both are refused (RFC 6749 §3.1.2: absolute, without a fragment).
    """
    verify_refused(
        _listed_uri_cases(cimd_target, cimd_metadata_host, "CIMD-DOC-09"),
        "a listed redirect URI that is relative or has a fragment",
    )


@pytest.mark.requirement("CIMD-DOC-10")
def test_refuses_non_loopback_http_redirect_uri(
    cimd_target: TargetSession, cimd_metadata_host: MetadataHost
) -> None:
    """Serves a document listing http://app.test/cb and requests it exactly (nothing is ever
    sent there).

    Expects: the request is refused.
    """
    verify_refused(
        _listed_uri_cases(cimd_target, cimd_metadata_host, "CIMD-DOC-10"),
        "a listed http redirect URI on a host that is not loopback",
    )


@pytest.mark.requirement("CIMD-DOC-11")
def test_refuses_private_use_scheme_without_a_dot(
    cimd_target: TargetSession, cimd_metadata_host: MetadataHost
) -> None:
    """Serves a document listing myapp:/cb (a private-use scheme that is no reverse domain
    name) and requests it exactly.

    Expects: the request is refused.
    """
    verify_refused(
        _listed_uri_cases(cimd_target, cimd_metadata_host, "CIMD-DOC-11"),
        "a listed private-use-scheme redirect URI without a dot",
    )


@pytest.mark.requirement("CIMD-DOC-12")
def test_nameless_client_is_refused_or_shown_by_its_host(
    cimd_target: TargetSession, cimd_metadata_host: MetadataHost, cimd_browser: BrowserFlow
) -> None:
    """Serves a document without client_name whose redirect URI is on another host
    (http://[::1]/callback), and reads the consent page, rendered where script builds it.

    Expects: the request is refused, or the consent page shows the client's host in place
    of a name (MCP lists client_name among a client's fields; CIMD does not require it).
    """
    client = public_client(cimd_metadata_host, "no-client-name")
    [redirect_uri] = client.document["redirect_uris"]
    attempt = cimd_target.attempt(client.client_id, redirect_uri)
    if not attempt.outcome.accepted:
        cimd_target.require_control()
        return
    page = consent_page(cimd_target, cimd_browser.consent_dom, attempt)
    host = urlsplit(client.client_id).hostname or ""
    # the run's own resource (on the target's host, 127.0.0.1 in loopback mode) is no name
    if (
        page is None
        or host.lower()
        not in without_request_values(page.text, cimd_target.extra_params.values()).lower()
    ):
        shown = "no consent page" if page is None else f"page text {page.text[:200]!r}"
        raise NonConformance(
            expected=f"refused, or the consent page names the client by its host {host}",
            observed=f"accepted; {shown}",
        )


@pytest.mark.requirement("CIMD-DOC-13")
def test_tolerates_unknown_members(
    cimd_target: TargetSession, cimd_metadata_host: MetadataHost
) -> None:
    """Serves the public client with members the target may not know: dpop_bound_access_tokens,
    application_type, software_id, software_version, a vendor object and client_name#ja.

    Then the corpus's published shape with a software_id, a vendor object and a URN-named
    member.

    Expects: the requests are accepted.
    """
    client = public_client(cimd_metadata_host, "unknown-members")
    attempt = cimd_target.attempt(client.client_id, client.redirect_uri)
    verify_accepted(attempt, "a document with extension members it does not know")
    verify_published_shapes(cimd_target, published_shapes(cimd_metadata_host, "CIMD-DOC-13"))


@pytest.mark.requirement("CIMD-DOC-14")
def test_missing_auth_method_never_demands_a_secret(
    cimd_target: TargetSession, cimd_metadata_host: MetadataHost
) -> None:
    """Serves the public client without token_endpoint_auth_method (whose RFC 7591 default,
    client_secret_basic, is prohibited); where consent is shown, approves and redeems the
    code as a public client.

    Expects: tokens for the public client, or a refusal with an error; never a demand for a
    secret at the token endpoint, and no 5xx.
    """
    client = public_client(cimd_metadata_host, "no-auth-method")
    attempt = cimd_target.attempt(client.client_id, client.redirect_uri)
    expected = "accepted as a public client, or refused with an error (no 5xx)"
    if attempt.outcome.status >= 500:
        raise NonConformance(expected=expected, observed=attempt.outcome.describe())
    if not attempt.outcome.accepted:
        cimd_target.require_control()
        return
    approved = cimd_target.approve(attempt) if attempt.outcome.approvable else attempt.outcome
    code = approved.params.get("code")
    if code is None or attempt.pkce is None:
        if "error" in approved.params:
            return  # refused at approval, with an error
        raise HarnessError(f"approval gave no code and no error ({approved.describe()})")
    tokens = cimd_target.redeem(
        client_id=client.client_id,
        code=code,
        redirect_uri=client.redirect_uri,
        verifier=attempt.pkce.verifier,
    )
    if not tokens.issued:
        raise NonConformance(
            expected=expected,
            observed=f"consent shown, then the public client's code: {tokens.describe()}",
        )


@pytest.mark.requirement("CIMD-DOC-15")
def test_refuses_private_key_jwt_without_usable_keys(
    cimd_target: TargetSession, cimd_metadata_host: MetadataHost
) -> None:
    """Serves private_key_jwt documents with no jwks or jwks_uri, with jwks {"keys": []},
    and with an http jwks_uri on the metadata host's plain listener, which serves a key set;
    the document with one public key inline must be accepted (the control). Where one is
    accepted, redeems codes without an assertion, and with one signed by the key the http
    jwks_uri serves (aud the token endpoint, then the issuer).

    Expects: each is refused, or no token request authenticates the client.
    """
    _require_key_documents(cimd_target, cimd_metadata_host)
    cases, authenticated = [], []
    for name in corpus.names("variants", "CIMD-DOC-15"):
        client = public_client(cimd_metadata_host, name)
        key = ClientKey.new()
        jwks_uri = client.document.get("jwks_uri")
        if isinstance(jwks_uri, str):
            cimd_metadata_host.serve_document(jwks_uri, key.jwks())
        attempt = cimd_target.attempt(client.client_id, client.redirect_uri)
        cases.append((name, attempt))
        if attempt.outcome.accepted:
            served = key if isinstance(jwks_uri, str) else None
            authenticated += [
                f"{name}: {how}" for how in _authenticates(cimd_target, client, served)
            ]
    if authenticated:
        raise NonConformance(
            expected="private_key_jwt documents without usable keys refused, or never "
            "authenticated",
            observed="tokens issued: " + "; ".join(authenticated),
        )
    if any(not attempt.outcome.accepted for _, attempt in cases):
        cimd_target.require_control()


def _authenticates(target: TargetSession, client: ProbeClient, key: ClientKey | None) -> list[str]:
    """The ways fresh codes of ``client`` were redeemed for tokens.

    Tried: without an assertion, and with one signed by ``key`` (the keys its http jwks_uri
    serves) for each audience a target may want.
    """
    ways: list[tuple[str, str | None]] = [("without a client assertion", None)]
    if key is not None:
        endpoint, issuer = target.target.token_endpoint, target.target.issuer
        for audience in dict.fromkeys((endpoint, issuer)):
            how = f"with an assertion signed by the http jwks_uri's key (aud {audience})"
            ways.append((how, key.assertion(client.client_id, audience)))
    worked = []
    for how, signed in ways:
        try:
            tokens = redeem_fresh_code(target, client, signed)
        except NotApplicable:
            continue  # not accepted this time: no code to redeem
        if tokens.issued:
            worked.append(how)
    return worked


@pytest.mark.requirement("CIMD-DOC-16")
def test_requests_fit_the_declared_flow_types(
    cimd_target: TargetSession, cimd_metadata_host: MetadataHost
) -> None:
    """Serves documents declaring grant_types ["client_credentials"], and response_types
    ["token"], and sends the usual code request for each.

    Expects: each is refused (an error page, or a redirect with unauthorized_client).
    """
    verify_refused(
        _corpus_cases(cimd_target, cimd_metadata_host, "CIMD-DOC-16"),
        "a code request from a client that declares no code flow",
    )


@pytest.mark.requirement("CIMD-DOC-17")
def test_never_links_unsafe_document_urls(
    cimd_target: TargetSession, cimd_metadata_host: MetadataHost, cimd_browser: BrowserFlow
) -> None:
    """Serves documents whose logo_uri, client_uri, tos_uri and policy_uri are javascript:,
    data:text/html and file: URLs, and reads each consent page's links, images and forms
    (rendered in the browser where script builds the page). That the target never fetched a
    file: URL cannot be seen from outside.

    Expects: no link, image or form on the consent page uses those values, or any
    javascript:, vbscript:, file: or (but for images) data: URL.
    """
    cases, unsafe = [], []
    for name in corpus.names("variants", "CIMD-DOC-17"):
        client = public_client(cimd_metadata_host, name)
        planted = {client.document[member] for member in URL_MEMBERS}
        attempt = cimd_target.attempt(client.client_id, client.redirect_uri)
        cases.append((name, attempt))
        if attempt.outcome.accepted:
            page = consent_page(cimd_target, cimd_browser.consent_dom, attempt)
            unsafe += [f"{name}: {url}" for url in unsafe_urls(page, planted)] if page else []
    if unsafe:
        raise NonConformance(
            expected="document URLs with javascript:, data: or file: never become links, "
            "images or forms",
            observed="; ".join(unsafe),
        )
    if any(not attempt.outcome.accepted for _, attempt in cases):
        cimd_target.require_control()


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
