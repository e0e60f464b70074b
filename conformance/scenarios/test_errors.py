"""Error behaviour (CIMD-ERR): a failed document aborts the request, shown to the user; later
errors go back to the verified client with its state; no error reflects what was fetched.
"""

from __future__ import annotations

import secrets
import socket

import pytest

from conformance.catalog.verdicts import NonConformance, NotApplicable
from conformance.harness import corpus, observers
from conformance.harness.clients import ProbeClient, cached_for, public_client
from conformance.harness.flows import code_for
from conformance.harness.outcome import Outcome, OutcomeKind
from conformance.harness.session import Pkce, TargetSession, TokenResult
from conformance.harness.verify import Case, verify_not_sent_to_redirect_uri, verify_refused
from conformance.target.discovery import Target
from mock_servers.hosting import Hosting
from mock_servers.metadata_host import MetadataHost


def _closed_port(address: str) -> int:
    with socket.socket(socket.AF_INET6 if ":" in address else socket.AF_INET) as sock:
        sock.bind((address, 0))
        return int(sock.getsockname()[1])


def _failing_documents(host: MetadataHost) -> list[tuple[str, ProbeClient]]:
    """Client URLs whose document cannot be obtained or is invalid, one way each."""
    refused = public_client(host)
    refused = ProbeClient(
        f"https://{host.host_name}:{_closed_port(host.address)}/c/refused/client.json",
        refused.document,
        refused.redirect_uri,
    )
    untrusted_url = host.new_client_url(base=host.untrusted_base_url)
    untrusted = public_client(host)
    host.serve_document(untrusted_url, {**untrusted.document, "client_id": untrusted_url})
    missing = public_client(host)
    host.serve(
        missing.client_id,
        Hosting(status=404, headers=(("content-type", "text/plain"),), body=b"gone"),
    )
    malformed = public_client(host)
    body = corpus.body("malformed", client_id=malformed.client_id, metadata_host=host.base_url)
    host.serve(malformed.client_id, Hosting.raw(body.content))
    mismatch = public_client(host, "client-id-other-url")
    cases = [
        ("connection refused", refused),
        (
            "TLS certificate from an untrusted CA",
            ProbeClient(untrusted_url, untrusted.document, untrusted.redirect_uri),
        ),
        ("HTTP 404", missing),
        ("invalid JSON", malformed),
        ("client_id mismatch", mismatch),
    ]
    # a remote target that cannot reach the untrusted listener would refuse for another reason
    return cases if host.reaches_untrusted else [c for c in cases if c[1] is not cases[1][1]]


def _attempt_all(target: TargetSession, host: MetadataHost) -> list[Case]:
    return [
        (name, target.attempt(c.client_id, c.redirect_uri)) for name, c in _failing_documents(host)
    ]


@pytest.mark.requirement("CIMD-ERR-01")
def test_document_failure_aborts_request(
    cimd_target: TargetSession, cimd_metadata_host: MetadataHost
) -> None:
    """Sends client URLs that refuse connections, fail TLS, answer 404, serve invalid JSON, or
    claim another client_id.

    Expects: every request is aborted: no consent, no code.
    """
    verify_refused(
        _attempt_all(cimd_target, cimd_metadata_host),
        "a client whose document cannot be obtained or is invalid",
    )


@pytest.mark.requirement("CIMD-ERR-02")
def test_document_failure_is_shown_not_redirected(
    cimd_target: TargetSession, cimd_metadata_host: MetadataHost
) -> None:
    """Sends the same failing client URLs as CIMD-ERR-01.

    Expects: the failure is shown to the user; the browser is never sent to the redirect URI.
    """
    verify_not_sent_to_redirect_uri(
        _attempt_all(cimd_target, cimd_metadata_host), "a client document failure"
    )


@pytest.mark.requirement("CIMD-ERR-04")
def test_later_errors_redirect_with_error_and_state(
    cimd_target: TargetSession, cimd_metadata_host: MetadataHost
) -> None:
    """A valid client and listed redirect URI, in the logged-in session, without a
    code_challenge (PKCE is required for CIMD public clients).

    Expects: a redirect to the redirect URI with error=invalid_request and the request's
    state.
    """
    client = public_client(cimd_metadata_host)
    attempt = cimd_target.attempt(client.client_id, client.redirect_uri, with_pkce=False)
    outcome = attempt.outcome
    if outcome.accepted:
        raise NotApplicable(
            "the target went on with a request without code_challenge "
            f"({outcome.describe()}), so there is no error to deliver; see MCP-AUTH-08"
        )
    params = outcome.params
    if (
        outcome.kind is not OutcomeKind.ERROR_REDIRECT
        or not outcome.sent_to_redirect_uri
        or params.get("error") != "invalid_request"
        or params.get("state") != attempt.state
    ):
        got = "no state" if "state" not in params else "another state"
        if params.get("state") == attempt.state:
            got = "the request's state"
        raise NonConformance(
            expected="a redirect to the redirect URI with error=invalid_request and the "
            "request's state",
            observed=f"{outcome.describe()} (error {params.get('error')!r}, {got})",
        )


@pytest.mark.requirement("CIMD-ERR-05")
def test_errors_never_reflect_fetched_content(
    cimd_metadata: Target, cimd_target: TargetSession, cimd_metadata_host: MetadataHost
) -> None:
    """The client URL answers 500 with a distinctive marker, an internal-looking address
    and a server banner in the body and headers; the authorization request is sent (and,
    where PAR is advertised, pushed).

    Expects: neither the error page, nor a redirect, nor the PAR endpoint's JSON contains
    the marker, the address or the banner.
    """
    client = public_client(cimd_metadata_host)
    marker, banner = f"cimd-marker-{secrets.token_hex(6)}", f"cimd-banner/{secrets.token_hex(3)}"
    address = f"10.{secrets.randbelow(200) + 20}.{secrets.randbelow(250)}.{secrets.randbelow(250)}"
    body = f"{marker}: upstream {address}:8080 refused ({banner})\n".encode()
    headers = (("content-type", "text/plain"), ("server", banner), ("x-backend", address))
    cimd_metadata_host.serve(client.client_id, Hosting(status=500, headers=headers, body=body))
    attempt = cimd_target.attempt(client.client_id, client.redirect_uri)
    outcome = attempt.outcome
    shown = {"the authorization response": " ".join((outcome.text, outcome.location))}
    if cimd_metadata.metadata.get("pushed_authorization_request_endpoint"):
        pushed = cimd_target.push(cimd_target.code_request(client.client_id, client.redirect_uri))
        shown["the PAR endpoint's answer"] = pushed.text
    reflected = [
        f"{where} shows the {what}"
        for where, text in shown.items()
        for what, value in (("marker", marker), ("address", address), ("banner", banner))
        if value in text
    ]
    if reflected:
        raise NonConformance(
            expected="errors that reflect nothing the document host sent",
            observed="; ".join(reflected),
        )


def _page_error(outcome: Outcome) -> str:
    """The error an authorization attempt ended in: its redirect's, or the page's wording."""
    if outcome.kind is OutcomeKind.ERROR_REDIRECT:
        return outcome.params.get("error", "") or "an error redirect without error"
    if outcome.accepted:
        return f"no error: {outcome.kind.value}"
    named = observers.error_code_in(outcome.text)
    return named or f"HTTP {outcome.status}, no error code named"


def _token_error(result: TokenResult) -> str:
    if result.issued:
        return "tokens issued"
    return result.error if result.body else f"HTTP {result.status} (not JSON)"


@pytest.mark.requirement("CIMD-ERR-03")
def test_error_codes_are_recorded(
    cimd_metadata: Target, cimd_target: TargetSession, cimd_metadata_host: MetadataHost
) -> None:
    """A client URL answers 404; sends AUTHZ(U) and (if the target has a PAR endpoint) a
    pushed request for U. A second, ``no-store`` client gets a code; then its URL answers 404
    too and the code is redeemed.

    Expects: recorded, not scored: the error each place uses (invalid_client,
    invalid_request or unauthorized_client expected; tokens or a 5xx count against the AS).
    """
    host = cimd_metadata_host
    gone = Hosting(status=404, headers=(("content-type", "text/plain"),), body=b"gone")
    client = public_client(host)
    host.serve(client.client_id, gone)
    attempt = cimd_target.attempt(client.client_id, client.redirect_uri)
    codes = {"error page": _page_error(attempt.outcome)}
    if cimd_metadata.metadata.get("pushed_authorization_request_endpoint"):
        pushed = cimd_target.push(
            {
                "response_type": "code",
                "client_id": client.client_id,
                "redirect_uri": client.redirect_uri,
                "code_challenge": Pkce.new().challenge,
                "code_challenge_method": "S256",
                **cimd_target.extra_params,
            }
        )
        codes["PAR endpoint"] = _token_error(pushed)
    later = public_client(host)
    host.serve(later.client_id, cached_for(later.document, "no-store"))
    try:
        issued, code = code_for(cimd_target, later)
    except NotApplicable as exc:
        codes["token endpoint"] = f"not reached: {exc}"
    else:
        assert issued.pkce is not None  # code_for refuses attempts without PKCE
        host.serve(later.client_id, gone)
        redeemed = cimd_target.redeem(
            client_id=later.client_id,
            code=code,
            redirect_uri=later.redirect_uri,
            verifier=issued.pkce.verifier,
        )
        codes["token endpoint"] = _token_error(redeemed)
    raise observers.error_codes(codes)
