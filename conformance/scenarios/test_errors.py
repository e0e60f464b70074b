"""Error behaviour (CIMD-ERR): a failed document aborts the request, shown to the user."""

from __future__ import annotations

import socket

import pytest

from conformance.harness import corpus
from conformance.harness.clients import ProbeClient, public_client
from conformance.harness.session import TargetSession
from conformance.harness.verify import Case, verify_not_sent_to_redirect_uri, verify_refused
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
