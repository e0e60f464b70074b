"""Discovery and advertisement (CIMD-DISC): the metadata, the full flow, and DCR client_ids."""

from __future__ import annotations

import ipaddress
import json
import secrets
from urllib.parse import urlsplit

import pytest

from conformance.catalog.verdicts import NonConformance, NotApplicable
from conformance.harness import observers
from conformance.harness.clients import public_client
from conformance.harness.registration import register
from conformance.harness.session import Pkce, TargetSession
from conformance.run.browser_flow import BrowserFlow
from conformance.target.discovery import Target
from mock_servers.hosting import Fetch
from mock_servers.metadata_host import CALLBACK_PATH, MetadataHost

FLAG = "client_id_metadata_document_supported"


@pytest.mark.requirement("CIMD-DISC-01")
def test_metadata_advertises_cimd_support(cimd_metadata: Target) -> None:
    """Reads the target's RFC 8414 metadata.

    Expects: client_id_metadata_document_supported is present and true.
    """
    if FLAG not in cimd_metadata.metadata or cimd_metadata.metadata[FLAG] in (False, None):
        raise NonConformance(
            expected=f"{FLAG} present with value true in {cimd_metadata.metadata_url}",
            observed=f"{FLAG} = {cimd_metadata.metadata.get(FLAG, '(absent)')!r}",
        )


@pytest.mark.requirement("CIMD-DISC-02")
def test_support_flag_is_a_json_boolean(cimd_metadata: Target) -> None:
    """Reads the flag's JSON type.

    Expects: the literal true or false, not a string, number, null or object.
    """
    if FLAG not in cimd_metadata.metadata:
        raise NotApplicable(f"the metadata has no {FLAG} member (see CIMD-DISC-01)")
    value = cimd_metadata.metadata[FLAG]
    if not isinstance(value, bool):
        raise NonConformance(
            expected=f"{FLAG} is a JSON boolean", observed=f"{type(value).__name__} {value!r}"
        )


@pytest.mark.requirement("CIMD-DISC-03")
def test_oidc_discovery_carries_the_same_flag(cimd_metadata: Target) -> None:
    """Compares the flag in every metadata document discovery found: RFC 8414, and OpenID
    Connect discovery at its path-inserted and appended URLs (MCP clients may read either).

    Expects: every published document carries the same value (absent counts as a value); a
    target that publishes one document only passes.
    """
    found = cimd_metadata.published()
    values = {url: document.get(FLAG, ABSENT) for url, document in found}
    if len({json.dumps(value) for value in values.values()}) > 1:
        raise NonConformance(
            expected=f"the same {FLAG} in every metadata document",
            observed="; ".join(f"{url}: {value!r}" for url, value in values.items()),
        )


@pytest.mark.requirement("CIMD-DISC-04")
def test_conforming_client_completes_the_flow_in_the_browser(
    cimd_metadata: Target,
    cimd_target: TargetSession,
    cimd_metadata_host: MetadataHost,
    cimd_browser: BrowserFlow,
) -> None:
    """Drives a conforming public client through the browser: consent, approve, redeem.

    Expects: the code and the client's state reach the registered https redirect URI, the
    code redeems for tokens, and the client URL was fetched: GETs over TLS with the URL's Host
    and TLS server name (SNI), at least one and at most one per request naming the client
    (the authorization and the token request; the document is served no-store, so a server
    that needs it at the token endpoint fetches it again).
    """
    if cimd_metadata.metadata.get(FLAG) is not True:
        raise NotApplicable(f"the target does not advertise {FLAG}: true (see CIMD-DISC-01)")
    client = public_client(cimd_metadata_host)
    pkce, state = Pkce.new(), secrets.token_urlsafe(12)
    asked = cimd_target.code_request(client.client_id, client.redirect_uri, state=state, pkce=pkce)
    url = cimd_target.authorization_url(asked)
    params = cimd_browser.authorize(url, client.redirect_uri, "disc-04-consent")
    expected = "a code with the client's state at the redirect URI, redeemable for tokens"
    if "code" not in params or params.get("state") != state:
        echoed = "echoed" if params.get("state") == state else "missing or changed"
        observed = f"redirect parameters {sorted(params)}; state {echoed}"
        raise NonConformance(expected=expected, observed=observed)
    tokens = cimd_target.redeem(
        client_id=client.client_id,
        code=params["code"],
        redirect_uri=client.redirect_uri,
        verifier=pkce.verifier,
    )
    if not tokens.issued:
        raise NonConformance(expected=expected, observed=f"token request: {tokens.describe()}")
    fetches = cimd_metadata_host.fetches(client.client_id)
    # a sign-in on the way (the target had ended the session) sends the authorization
    # request once more, after the login: one more request naming the client
    requests = FLOW_REQUESTS_NAMING_THE_CLIENT + len(cimd_target.signed_in_again)
    public = cimd_metadata_host.public
    problems = _fetch_problems(fetches, client.client_id, judge_names=not public, requests=requests)
    if problems:
        raise NonConformance(
            expected="the target fetches the client URL with GET over TLS, with the URL's "
            "Host and TLS server name, once for the authorization request and at most once "
            "more for the token request",
            observed=problems,
        )


FLOW_REQUESTS_NAMING_THE_CLIENT = 2  # the authorization request and the token request
ABSENT = "(absent)"


def _fetch_problems(
    fetches: list[Fetch],
    client_id: str,
    *,
    judge_names: bool,
    requests: int = FLOW_REQUESTS_NAMING_THE_CLIENT,
) -> str:
    """What is wrong with the target's fetches of ``client_id`` in one flow ("" if nothing).

    At least one GET (the flag promises the document is fetched), and at most one per request
    of the flow that names the client (``requests``: a sign-in on the way sends the
    authorization request again): the document is served ``no-store``, so a target that
    needs it again at the token endpoint must fetch it again (RFC 9111 §5.2.2.5), and an
    upper bound of one would fail a correct server that does not cache. Each GET reaches the
    TLS listener with the URL's authority as Host and its host name as SNI (an IP-literal
    host sends none, RFC 6066 §3; sending the literal is tolerated). Host and SNI are not
    judged when the host sits behind a public URL: the tunnel in between may rewrite them.
    """
    if not fetches:
        return "the client URL was never fetched: consent was shown without the document"
    parts = urlsplit(client_id)
    name = (parts.hostname or "").lower()
    netloc = parts.netloc.lower()
    authorities = {netloc}
    if parts.port is None:
        authorities.add(netloc + ":443")
    elif parts.port == 443:
        authorities.add(netloc.removesuffix(":443"))
    literal = _is_ip_literal(name)
    wrong = []
    for fetch in fetches:
        sni = (fetch.sni or "").lower() or None
        right_sni = sni in ((None, name) if literal else (name,))
        host_ok = fetch.host.lower() in authorities
        if fetch.method != "GET" or fetch.listener != "tls":
            wrong.append(f"{fetch.method} on the {fetch.listener} listener")
        elif judge_names and not (host_ok and right_sni):
            wrong.append(f"GET with Host {fetch.host!r} and SNI {fetch.sni!r}")
    if wrong:
        return f"{len(fetches)} fetch(es) of the client URL, wrong: {'; '.join(wrong)}"
    if len(fetches) > requests:
        return (
            f"{len(fetches)} GETs of the client URL in one flow, whose requests name the "
            f"client {requests} times"
        )
    return ""


def _is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


@pytest.mark.requirement("CIMD-DISC-05")
def test_dcr_client_ids_are_not_https_urls(
    cimd_metadata: Target, cimd_target: TargetSession, cimd_metadata_host: MetadataHost
) -> None:
    """Where the metadata advertises a registration_endpoint, registers a minimal public
    client there (RFC 7591: redirect URI, name, token_endpoint_auth_method none).

    Expects: the client_id the target mints does not start with https:// (it would pass
    for a Client Identifier URL). Not applicable without DCR, or when registration needs
    what the suite does not have (an initial access token).
    """
    endpoint = cimd_metadata.metadata.get("registration_endpoint")
    if not isinstance(endpoint, str) or not endpoint:
        raise NotApplicable("the metadata advertises no registration_endpoint (no DCR)")
    nonce = secrets.token_hex(4)
    answer = register(
        cimd_target,
        endpoint,
        {
            "redirect_uris": [cimd_metadata_host.base_url + CALLBACK_PATH],
            "client_name": f"CIMD Probe DCR {nonce}",
            "token_endpoint_auth_method": "none",
            "grant_types": ["authorization_code"],
            "response_types": ["code"],
        },
    )
    client_id = answer.client_id
    if client_id is None:
        raise NotApplicable(
            f"{endpoint} did not register the client ({answer.describe()}), so there is no "
            "minted client_id to judge (registration may need an initial access token)"
        )
    if client_id.lower().startswith("https://"):
        raise NonConformance(
            expected="a minted client_id that does not start with https://",
            observed=f"registered as {client_id!r}",
        )


@pytest.mark.requirement("CIMD-DISC-07")
def test_non_supporting_server_is_recorded(
    cimd_metadata: Target, cimd_target: TargetSession, cimd_metadata_host: MetadataHost
) -> None:
    """Reads client_id_metadata_document_supported; when it is absent or not true, sends
    AUTHZ(U) for a valid public client.

    Expects: recorded, not scored: a server without the flag refuses URL client_ids cleanly
    (no 5xx); one that advertises support is outside this row.
    """
    flag = cimd_metadata.metadata.get(FLAG)
    if flag is True:
        raise observers.non_supporting(flag, None, None)
    client = public_client(cimd_metadata_host)
    outcome = cimd_target.attempt(client.client_id, client.redirect_uri).outcome
    raise observers.non_supporting(flag, outcome.describe(), outcome.status)
