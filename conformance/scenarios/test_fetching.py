"""Fetching the document (CIMD-FETCH): 200 only, and no redirects followed."""

from __future__ import annotations

import pytest

from conformance.harness import TargetSession
from conformance.probes import public_client
from conformance.verify import verify_never_fetched, verify_refused
from mock_servers.hosting import Hosting
from mock_servers.metadata_host import MetadataHost

NON_200 = (201, 202, 203, 204, 206, 226, 300, 304, 400, 401, 403, 404, 410, 429, 500, 502, 503)
NO_BODY = (204, 304)
REDIRECTS = (301, 302, 303, 307, 308)


@pytest.mark.requirement("CIMD-FETCH-03")
def test_only_200_counts_as_success(
    cimd_target: TargetSession, cimd_metadata_host: MetadataHost
) -> None:
    """Serves a valid document with each non-200 status (204 and 304 without a body).

    Expects: every request is refused.
    """
    cases = []
    for status in NON_200:
        client = public_client(cimd_metadata_host)
        hosting = Hosting.document(client.document, status=status)
        if status in NO_BODY:
            hosting = Hosting(status=status, headers=(("cache-control", "no-store"),))
        elif status == 206:
            size = len(hosting.body)
            hosting = Hosting(
                status,
                (*hosting.headers, ("content-range", f"bytes 0-{size - 1}/{size}")),
                hosting.body,
            )
        cimd_metadata_host.serve(client.client_id, hosting)
        cases.append((f"HTTP {status}", cimd_target.attempt(client.client_id, client.redirect_uri)))
    verify_refused(cases, "a document served with a status other than 200")


@pytest.mark.requirement("CIMD-FETCH-04")
def test_does_not_follow_redirect_when_fetching_document(
    cimd_target: TargetSession, cimd_metadata_host: MetadataHost
) -> None:
    """Answers the client URL with 301/302/303/307/308 to (a) a document claiming the client
    URL, (b) a document claiming its own URL, (c) the same on another host name.

    Expects: every request is refused and no redirect target is ever fetched.
    """
    host = cimd_metadata_host
    other_host = host.base_url.replace("127.0.0.1", "localhost", 1)
    cases, targets = [], []
    for status in REDIRECTS:
        for variant in ("same-client-id", "own-client-id", "other-host"):
            client = public_client(host)
            base = other_host if variant == "other-host" else host.base_url
            elsewhere = host.new_client_url(base=base)
            claimed = elsewhere if variant == "own-client-id" else client.client_id
            host.serve_document(elsewhere, {**client.document, "client_id": claimed})
            host.serve_redirect(client.client_id, to=elsewhere, status=status)
            targets.append(elsewhere)
            cases.append(
                (f"{status} {variant}", cimd_target.attempt(client.client_id, client.redirect_uri))
            )
    verify_refused(cases, "a client URL that answers with a redirect")
    verify_never_fetched(host, targets, "a redirect's Location when fetching a client document")
