"""Caching the document (CIMD-CACHE): HTTP caching headers are honoured, errors and invalid
documents are never cached, and a cache entry serves only the exact identifier it was
fetched for. Judged by the metadata host's fetch log: a GET logged, or not, between attempts.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from email.utils import formatdate
from typing import Any
from urllib.parse import urlsplit

import pytest

from conformance.catalog.verdicts import NonConformance, NotApplicable
from conformance.harness import observers
from conformance.harness.clients import ProbeClient, cached_for, document_for, public_client
from conformance.harness.flows import refresh_token_for
from conformance.harness.head_start import head_start
from conformance.harness.session import Attempt, TargetSession
from conformance.harness.verify import Case, verify_refused
from mock_servers.hosting import Hosting
from mock_servers.metadata_host import MetadataHost

A_DAY = "max-age=86400"
SHORT_LIFETIME_S = 2
STALE_MARGIN_S = 0.5  # past the lifetime, so that a copy fetched at its start is stale


def _attempt_counted(
    target: TargetSession, host: MetadataHost, client: ProbeClient
) -> tuple[Attempt, int]:
    """One authorization request for ``client``, and the GETs of its URL it caused."""
    host.settle(client.client_id)
    before = host.fetch_count(client.client_id)
    attempt = target.attempt(client.client_id, client.redirect_uri)
    host.settle(client.client_id)
    return attempt, host.fetch_count(client.client_id) - before


@pytest.mark.requirement("CIMD-CACHE-01")
def test_caching_follows_http_headers(
    cimd_target: TargetSession, cimd_metadata_host: MetadataHost
) -> None:
    """Serves a valid document with (a) ``Cache-Control: no-store``, (b) ``max-age=0`` and
    ``no-cache`` (with an ETag), and sends two authorization requests for each.

    Expects: the first request is accepted and the second one fetches the document again
    (a full or a conditional GET) every time.
    """
    host = cimd_metadata_host
    reused = []
    for name in ("no-store", "max-age=0", "no-cache"):
        client = public_client(host)
        etag = '"v1"' if name == "no-cache" else None  # a conditional GET revalidates
        host.serve(client.client_id, cached_for(client.document, name, etag=etag))
        first, _ = _attempt_counted(cimd_target, host, client)
        if not first.outcome.accepted:
            raise NotApplicable(
                f"a valid document served with {name} was not accepted "
                f"({first.outcome.describe()}); see CIMD-DISC-04"
            )
        second, fetched = _attempt_counted(cimd_target, host, client)
        if fetched == 0:
            reused.append(f"{name}: no GET for the second request ({second.outcome.describe()})")
    if reused:
        raise NonConformance(
            expected="a document that must not be reused unvalidated is fetched for every "
            "authorization",
            observed="; ".join(reused),
        )


@pytest.mark.requirement("CIMD-CACHE-02")
def test_error_responses_are_not_cached(
    cimd_target: TargetSession, cimd_metadata_host: MetadataHost
) -> None:
    """The client URL answers 503 with ``Cache-Control: max-age=86400`` (and the valid
    document as its body); then it serves the valid document and the request is sent again.

    Expects: the first request is refused; the second is accepted, after a new GET.
    """
    host = cimd_metadata_host
    client = public_client(host)
    host.serve(client.client_id, cached_for(client.document, A_DAY, status=503))
    failed, _ = _attempt_counted(cimd_target, host, client)
    if failed.outcome.accepted:
        raise NotApplicable("a document answered with 503 was accepted; see CIMD-FETCH-03")
    host.serve(client.client_id, cached_for(client.document, "no-store"))
    retried, fetched = _attempt_counted(cimd_target, host, client)
    _verify_not_cached(
        [("503 with max-age=86400", retried, fetched)], "an error response (HTTP 503)"
    )


@pytest.mark.requirement("CIMD-CACHE-03")
def test_invalid_documents_are_not_cached(
    cimd_target: TargetSession, cimd_metadata_host: MetadataHost
) -> None:
    """Serves, with ``Cache-Control: max-age=86400``, a document whose client_id is another
    URL, a body that is not JSON, and a document asking for ``client_secret_basic``; then
    fixes each document and sends the request again.

    Expects: each first request is refused; each second one is accepted, after a new GET.
    """
    host = cimd_metadata_host
    variants: list[tuple[str, ProbeClient, Hosting]] = []
    client = public_client(host)
    wrong = {**client.document, "client_id": host.new_client_url()}
    variants.append(("mismatched client_id", client, cached_for(wrong, A_DAY)))
    client = public_client(host)
    body = cached_for({}, A_DAY, body=b'{"client_id": "' + client.client_id.encode() + b'",')
    variants.append(("invalid JSON", client, body))
    client = public_client(host)
    secret = {**client.document, "token_endpoint_auth_method": "client_secret_basic"}
    variants.append(("client_secret_basic", client, cached_for(secret, A_DAY)))
    results, skipped = [], []
    for name, client, hosting in variants:
        host.serve(client.client_id, hosting)
        first, _ = _attempt_counted(cimd_target, host, client)
        if first.outcome.accepted:
            skipped.append(name)  # the invalid document's own row judges this
            continue
        host.serve(client.client_id, cached_for(client.document, "no-store"))
        retried, fetched = _attempt_counted(cimd_target, host, client)
        results.append((name, retried, fetched))
    if not results:
        raise NotApplicable(
            "every invalid document was accepted (" + ", ".join(skipped) + "); see CIMD-DOC"
        )
    _verify_not_cached(results, "an invalid document")


def _stale_setup(target: TargetSession, host: MetadataHost) -> tuple[ProbeClient, float, str]:
    """A client with redirect URIs r and r2 and ``max-age=2``, accepted with r; then r removed.

    Returns the client, when its document was fetched, and its ``max-age``.
    """
    client = public_client(host)
    kept = host.base_url + host.new_path("cb")
    document = {**client.document, "redirect_uris": [client.redirect_uri, kept]}
    age = f"max-age={SHORT_LIFETIME_S}"
    host.serve(client.client_id, cached_for(document, age))
    fresh = target.attempt(client.client_id, client.redirect_uri)
    if not fresh.outcome.accepted:
        raise NotApplicable(
            f"the client with both redirect URIs was not accepted ({fresh.outcome.describe()})"
        )
    host.settle(client.client_id)
    # a target that never fetched has no copy to age: the clock starts now
    fetched_at = max(
        (fetch.at for fetch in host.fetches(client.client_id)), default=time.monotonic()
    )
    host.serve(client.client_id, cached_for({**document, "redirect_uris": [kept]}, age))
    return client, fetched_at, age


@head_start("CIMD-CACHE-04")
def _stale_metadata_started(
    target: TargetSession, host: MetadataHost
) -> tuple[ProbeClient, float, str, ProbeClient]:
    """CIMD-CACHE-04 up to its wait, and a keeper: a client cached for a day beside it."""
    started = _stale_setup(target, host)
    return (*started, _keeper(target, host))


def _keeper(target: TargetSession, host: MetadataHost) -> ProbeClient:
    """A client cached for a day (asked for once): fetched again later, before its time, it
    shows that the target's cache dropped copies early (a bounded cache under the run's
    load), so that a refetch of a short-lived copy next to it says nothing of its lifetime.
    """
    keeper = public_client(host)
    host.serve(keeper.client_id, cached_for(keeper.document, A_DAY))
    target.attempt(keeper.client_id, keeper.redirect_uri)
    return keeper


def _dropped(target: TargetSession, host: MetadataHost, keeper: ProbeClient) -> bool:
    """Whether the target fetched ``keeper``'s day-long document again when asked for it."""
    return _attempt_counted(target, host, keeper)[1] > 0


def _stale_attempt(
    target: TargetSession, client: ProbeClient, fetched_at: float, age: str, why: str
) -> Attempt:
    """AUTHZ(U, r) once the copy fetched at ``fetched_at`` is stale."""
    span = SHORT_LIFETIME_S + STALE_MARGIN_S
    target.sit_out(fetched_at + span - time.monotonic(), span, why)
    return target.attempt(client.client_id, client.redirect_uri)


@pytest.mark.requirement("CIMD-CACHE-04")
def test_stale_metadata_is_fetched_again(
    cimd_target: TargetSession,
    cimd_metadata_host: MetadataHost,
    cimd_head_start: Callable[[str], Any],
) -> None:
    """A document with redirect URIs r and r2 and ``max-age=2`` is accepted with r; then r
    is removed from it, and AUTHZ(U, r) is sent once 2.5 s have passed since the fetch (a
    short lifetime keeps the run fast; the first request is sent when the target's checks
    begin, so the wait passes while they run).

    A refusal counts only if the target could still have had its copy: a keeper, a client
    cached for a day next to U, is asked for again; if the target fetches it again, its cache
    dropped copies before their time (a bounded cache under the run's load), and the whole
    measurement is made again with nothing in between.

    Expects: the request with r is refused once the cached copy is stale.
    """
    host = cimd_metadata_host
    client, fetched_at, age, keeper = cimd_head_start("CIMD-CACHE-04")
    stale = _stale_attempt(cimd_target, client, fetched_at, age, f"{age} to run out")
    label = f"{age}, {SHORT_LIFETIME_S + STALE_MARGIN_S} s after the fetch"
    if not stale.outcome.accepted and _dropped(cimd_target, host, keeper):
        # the keeper's day-long copy was gone too: the refusal says nothing of max-age
        client, fetched_at, age = _stale_setup(cimd_target, host)
        why = f"{age} to run out, again: the target fetched the keeper ({A_DAY}) again"
        stale = _stale_attempt(cimd_target, client, fetched_at, age, why)
        label += ", measured again (the run's first copy had been dropped before its time)"
    verify_refused(
        [(label, stale)],
        "a redirect URI removed from a document whose freshness lifetime has passed",
    )


def _verify_not_cached(results: list[tuple[str, Attempt, int]], what: str) -> None:
    """Each fixed document was fetched again and accepted."""
    kept = [
        f"{name}: {attempt.outcome.describe()}, {fetched} new GET(s)"
        for name, attempt, fetched in results
        if fetched == 0 or not attempt.outcome.accepted
    ]
    if kept:
        raise NonConformance(
            expected=f"{what} is never cached: once the valid document is served, the next "
            "request fetches it again and is accepted",
            observed="; ".join(kept),
        )


@pytest.mark.requirement("CIMD-CACHE-05")
def test_cache_is_keyed_by_the_exact_identifier(
    cimd_target: TargetSession, cimd_metadata_host: MetadataHost
) -> None:
    """Caches a valid document at U (``max-age=3600``, accepted), then sends identifiers U'
    that differ from U only in the host's case, an explicit ``:443``, a trailing slash or
    the query's order; the metadata host serves U's bytes (client_id = U) at every U'.

    Expects: every U' is refused (the document's client_id is not U').
    """
    host = cimd_metadata_host
    url = host.new_client_url() + "?a=1&b=2"  # host case applies where the host is a name
    client = document_for(host, url, url)
    host.serve(url, cached_for(client.document, "max-age=3600"))
    control = cimd_target.attempt(client.client_id, client.redirect_uri)
    if not control.outcome.accepted:
        raise NotApplicable(
            f"a client URL with a query was not accepted ({control.outcome.describe()})"
        )
    parts = urlsplit(url)
    variants = {
        "trailing slash": parts._replace(path=parts.path + "/").geturl(),
        "query order": parts._replace(query="b=2&a=1").geturl(),
    }
    hostname = parts.hostname or ""
    if hostname.upper() != hostname:
        variants["host case"] = parts._replace(netloc=parts.netloc.upper()).geturl()
    if parts.port is None:  # the default port: the same origin spelt with :443
        variants[":443"] = parts._replace(netloc=parts.netloc + ":443").geturl()
    cases: list[Case] = []
    for name, other in variants.items():
        host.serve(other, cached_for(client.document, "max-age=3600"))
        cases.append((name, cimd_target.attempt(other, client.redirect_uri)))
    verify_refused(cases, "an identifier that differs from a cached one only in spelling")


@pytest.mark.requirement("CIMD-CACHE-06")
def test_revalidation_answered_304_is_recorded(
    cimd_target: TargetSession, cimd_metadata_host: MetadataHost
) -> None:
    """Serves a valid document with an ETag and ``Cache-Control: no-cache`` and sends AUTHZ
    twice; a conditional GET (If-None-Match) for the second is answered 304.

    Expects: recorded, not scored: whether the AS revalidates, and whether it keeps the
    cached document on 304 (accepted) or treats the 304 as an error (refused).
    """
    host = cimd_metadata_host
    client = public_client(host)
    host.serve(client.client_id, cached_for(client.document, "no-cache", etag='"v1"'))
    first, _ = _attempt_counted(cimd_target, host, client)
    if not first.outcome.accepted:
        raise NotApplicable(f"the document was not accepted ({first.outcome.describe()})")
    mark = host.mark()
    second, _ = _attempt_counted(cimd_target, host, client)
    path = urlsplit(client.client_id).path
    refetches = [f for f in host.fetches_since(mark) if urlsplit(f.target).path == path]
    conditional = [f for f in refetches if dict(f.headers).get("if-none-match")]
    answered = conditional[0].answered if conditional else None
    raise observers.revalidation(bool(conditional), answered, second.outcome.accepted)


EXPIRES_S = 3  # the Expires lifetime: whole seconds, as an HTTP-date has no fractions
EXPIRED_MARGIN_S = 1.0  # past the Expires time (an HTTP-date is rounded down to the second)


@head_start("CIMD-CACHE-07")
def _expires_started(
    target: TargetSession, host: MetadataHost
) -> tuple[ProbeClient, float, int, ProbeClient | None]:
    """CIMD-CACHE-07 up to its wait: the two requests sent within the Expires time, and a
    keeper (:func:`_keeper`) beside them when the second was served from a cache (only
    then is a request sent after the Expires time).
    """
    client = public_client(host)
    expires_at = time.time() + EXPIRES_S
    headers = (
        ("content-type", "application/json"),
        ("expires", formatdate(expires_at, usegmt=True)),
    )
    host.serve(client.client_id, Hosting.document(client.document, headers=headers))
    first, _ = _attempt_counted(target, host, client)
    if not first.outcome.accepted:
        raise NotApplicable(f"the document was not accepted ({first.outcome.describe()})")
    _, within = _attempt_counted(target, host, client)
    return client, expires_at, within, None if within else _keeper(target, host)


@pytest.mark.requirement("CIMD-CACHE-07")
def test_expires_header_is_recorded(
    cimd_target: TargetSession,
    cimd_metadata_host: MetadataHost,
    cimd_head_start: Callable[[str], Any],
) -> None:
    """Serves a valid document with ``Expires`` 3 s ahead and no Cache-Control; sends AUTHZ
    twice, and, only if the second was served from a cache, once more after the Expires
    time (the first two are sent when the target's checks begin, so the wait passes while
    they run).

    A fetch after the Expires time counts only if the target could still have had its copy:
    a keeper cached for a day beside it is asked for again, and if it was fetched again too,
    the target's cache dropped copies early, and that is recorded instead.

    Expects: recorded, not scored: whether Expires is used for caching, and whether the
    document is fetched again once it has expired.
    """
    host = cimd_metadata_host
    client, expires_at, within, keeper = cimd_head_start("CIMD-CACHE-07")
    after, dropped = None, False
    if within == 0:
        span = EXPIRES_S + EXPIRED_MARGIN_S
        cimd_target.sit_out(expires_at + EXPIRED_MARGIN_S - time.time(), span, "Expires to pass")
        _, after = _attempt_counted(cimd_target, host, client)
        dropped = bool(after) and keeper is not None and _dropped(cimd_target, host, keeper)
    raise observers.expires_honoured(within, after, EXPIRES_S, dropped=dropped)


@pytest.mark.requirement("CIMD-CACHE-08")
def test_failing_document_refresh_is_recorded(
    cimd_target: TargetSession, cimd_metadata_host: MetadataHost
) -> None:
    """The public client (``no-store``) gets a refresh token; then its URL answers 404 and
    the refresh token is used.

    Expects: recorded, not scored: whether the AS goes on refreshing or refuses once the
    document is gone, and whether it looked.
    """
    host = cimd_metadata_host
    client = public_client(host)
    host.serve(client.client_id, cached_for(client.document, "no-store"))
    refresh_token = refresh_token_for(cimd_target, client)
    gone = Hosting(status=404, headers=(("content-type", "text/plain"),), body=b"gone")
    host.serve(client.client_id, gone)
    before = host.fetch_count(client.client_id)
    result = cimd_target.refresh(client_id=client.client_id, refresh_token=refresh_token)
    host.settle(client.client_id)
    fetched = host.fetch_count(client.client_id) - before
    raise observers.failing_document_refresh(result.issued, result.describe(), fetched)


CACHED_REQUESTS = 5


@pytest.mark.requirement("CIMD-CACHE-09")
def test_fetch_count_for_cacheable_document_is_recorded(
    cimd_target: TargetSession, cimd_metadata_host: MetadataHost
) -> None:
    """Serves a valid document with ``Cache-Control: max-age=3600`` and sends five
    authorization requests for it (CIMD-CACHE-01 (c)).

    Expects: recorded, not scored: the number of GETs (ideally 1: each fetch tells the
    client's host that someone is signing in).
    """
    host = cimd_metadata_host
    client = public_client(host)
    host.serve(client.client_id, cached_for(client.document, "max-age=3600"))
    total = 0
    for _ in range(CACHED_REQUESTS):
        _, fetched = _attempt_counted(cimd_target, host, client)
        total += fetched
    raise observers.fetch_count(total, CACHED_REQUESTS, "max-age=3600")
