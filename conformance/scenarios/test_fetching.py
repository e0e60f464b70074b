"""Fetching the document (CIMD-FETCH): 200 only, and no redirects followed."""

from __future__ import annotations

import pytest

from conformance.catalog.verdicts import NonConformance
from conformance.harness import observers
from conformance.harness.clients import public_client
from conformance.harness.session import TargetSession
from conformance.harness.verify import Case, verify_never_fetched, verify_refused
from conformance.network.aims import Aim, loopback_literals, special_names
from conformance.network.topology import Planter
from mock_servers.hosting import Hosting
from mock_servers.lab_dns import Answer
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
    cimd_target: TargetSession, cimd_metadata_host: MetadataHost, cimd_ssrf: Planter
) -> None:
    """Answers the client URL with 301/302/303/307/308 to (a) a document claiming the client
    URL, (b) a document claiming its own URL, (c) the same on another host name; and with 302
    and 307 to canaries on special-use hosts (127.0.0.2, localhost, 2130706433; in the lab
    also names resolving to private and link-local addresses).

    Expects: every request is refused, no redirect target is ever fetched, and no canary
    sees a connection.
    """
    host = cimd_metadata_host
    cases, targets = [], []
    for status in REDIRECTS:
        for variant in ("same-client-id", "own-client-id", "other-host"):
            client = public_client(host)
            base = host.alias_base_url if variant == "other-host" else host.base_url
            elsewhere = host.new_client_url(base=base)
            claimed = elsewhere if variant == "own-client-id" else client.client_id
            host.serve_document(elsewhere, {**client.document, "client_id": claimed})
            host.serve_redirect(client.client_id, to=elsewhere, status=status)
            targets.append(elsewhere)
            cases.append(
                (f"{status} {variant}", cimd_target.attempt(client.client_id, client.redirect_uri))
            )
    if cimd_ssrf.network.observes_target:  # else no canary here could see the target
        cases += _redirect_to_special_use(cimd_target, host, cimd_ssrf)
    cimd_ssrf.verify_untouched("a special-use host named in a redirect's Location")
    verify_refused(cases, "a client URL that answers with a redirect")
    verify_never_fetched(host, targets, "a redirect's Location when fetching a client document")


def _redirect_to_special_use(
    target: TargetSession, host: MetadataHost, planter: Planter
) -> list[Case]:
    network = planter.network
    aims = [*loopback_literals(network)[:1], *special_names(network)[:1]]
    aims.append(Aim("2130706433", "2130706433", ("127.0.0.1",)))
    if network.is_lab:
        for address in ("10.0.0.1", "169.254.169.254"):
            name = network.new_name("redirect", Answer((address,)))
            aims.append(Aim(f"a name resolving to {address}", name, (address,)))
    cases = []
    for aim in aims:
        for status in (302, 307):
            planted = planter.plant(f"{status} Location on {aim.name}", aim.listen)
            client = public_client(host)
            to = f"https://{aim.host}:{planted.port}/c.json"
            host.serve_redirect(client.client_id, to=to, status=status)
            attempt = target.attempt(client.client_id, client.redirect_uri)
            cases.append((f"{status} to {aim.name}", attempt))
    return cases


# CIMD-FETCH-08: media types.
JSON_TYPES = ("application/json", "application/json; charset=utf-8")


@pytest.mark.requirement("CIMD-FETCH-08")
def test_accepts_application_json_with_and_without_charset(
    cimd_target: TargetSession, cimd_metadata_host: MetadataHost
) -> None:
    """Serves the public client as application/json, and as application/json; charset=utf-8.

    Expects: both are accepted (other media types are the target's policy, not scored).
    """
    refused = []
    for content_type in JSON_TYPES:
        client = public_client(cimd_metadata_host)
        headers = (("content-type", content_type), ("cache-control", "no-store"))
        cimd_metadata_host.serve(
            client.client_id, Hosting.document(client.document, headers=headers)
        )
        attempt = cimd_target.attempt(client.client_id, client.redirect_uri)
        if not attempt.outcome.accepted:
            refused.append(f"{content_type}: {attempt.outcome.describe()}")
    if refused:
        raise NonConformance(
            expected="a document served as application/json is accepted, with or without "
            "parameters",
            observed="; ".join(refused),
        )


@pytest.mark.requirement("CIMD-FETCH-09")
def test_accept_header_is_recorded(
    cimd_target: TargetSession, cimd_metadata_host: MetadataHost
) -> None:
    """Sends AUTHZ(U) for the public client and reads the Accept header of the target's
    GETs of U in the metadata host's fetch log.

    Expects: recorded, not scored: the Accept header sent (a proposal asks for
    ``application/cimd+json``; no published draft requires one).
    """
    client = public_client(cimd_metadata_host)
    cimd_target.attempt(client.client_id, client.redirect_uri)
    cimd_metadata_host.settle(client.client_id)
    fetches = cimd_metadata_host.fetches(client.client_id)
    raise observers.accept_header([dict(f.headers).get("accept") for f in fetches])


@pytest.mark.requirement("CIMD-FETCH-11")
def test_fetch_timing_against_login_is_recorded(
    cimd_target: TargetSession, cimd_metadata_host: MetadataHost
) -> None:
    """Sends AUTHZ(U) for a fresh public client from a browser with no session (no cookies,
    one GET, no redirect followed) and counts the GETs of U.

    Expects: recorded, not scored: whether the document is fetched before the user logs in.
    """
    client = public_client(cimd_metadata_host)
    outcome = cimd_target.anonymous(client.client_id, client.redirect_uri)
    cimd_metadata_host.settle(client.client_id)
    fetched = cimd_metadata_host.fetch_count(client.client_id)
    raise observers.fetch_timing(fetched, outcome.describe())
