"""Fetching the document (CIMD-FETCH): one GET of exactly the URL, before consent, 200 only,
no redirects followed, verified TLS, bounded in bytes and time, and no user context sent.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Callable
from concurrent import futures
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from conformance.catalog.verdicts import HarnessError, NonConformance, NotApplicable
from conformance.harness import corpus, observers
from conformance.harness.clients import ProbeClient, public_client
from conformance.harness.head_start import head_start
from conformance.harness.session import Attempt, TargetSession, refused_apart
from conformance.harness.verify import Case, verify_never_fetched, verify_refused
from conformance.network.aims import Aim, loopback_literals, special_names
from conformance.network.topology import Planter
from conformance.target import deadline
from mock_servers.fetch_log import Fetch, hosting_key
from mock_servers.hosting import Hosting, HostingSequence
from mock_servers.lab_dns import Answer
from mock_servers.metadata_host import BAD_TLS, CALLBACK_PATH, MetadataHost

NON_200 = (201, 202, 203, 204, 206, 226, 300, 304, 400, 401, 403, 404, 410, 429, 500, 502, 503)
NO_BODY = (204, 304)
REDIRECTS = (301, 302, 303, 307, 308)


@pytest.mark.requirement("CIMD-FETCH-01")
def test_fetches_document_before_consent(
    cimd_target: TargetSession, cimd_metadata_host: MetadataHost
) -> None:
    """Sends an authorization request for a fresh client URL no one registered.

    Expects: the metadata host logs a GET of the URL before the target shows consent.
    """
    client = public_client(cimd_metadata_host)
    attempt = cimd_target.attempt(client.client_id, client.redirect_uri)
    answered = time.monotonic()
    if not attempt.outcome.accepted:
        raise HarnessError(
            f"a valid client was not accepted ({attempt.outcome.describe()}): there is no "
            "consent to compare the fetch with; check the preflight and the login recipe"
        )
    before = [
        f
        for f in cimd_metadata_host.fetches(client.client_id)
        if f.method == "GET" and f.at <= answered
    ]
    if not before:
        raise NonConformance(
            expected="a GET of the client URL before the consent prompt",
            observed=f"{attempt.outcome.describe()} with no request for the client URL",
        )


# An unusual path (percent-encoded UTF-8, space and "+") and a query with an encoded "/"
UNUSUAL_NAME = "Caf%C3%A9%20App/client%2Bmeta.json"
UNUSUAL_QUERY = "?tenant=a%2Fb&v=1&empty="


@pytest.mark.requirement("CIMD-FETCH-02")
def test_fetches_exactly_the_client_url(
    cimd_target: TargetSession, cimd_metadata_host: MetadataHost
) -> None:
    """Sends a client URL with percent-encoded path segments and a query
    (``.../Caf%C3%A9%20App/client%2Bmeta.json?tenant=a%2Fb&v=1&empty=``), its document
    claiming exactly that URL.

    Expects: a request under the client's path, and every one a GET of the URL's path and
    query as written, with the URL's host and port as Host and its host name as TLS server
    name. (How many fetches one authorization request causes is the caching rows' concern;
    a page the suite reads again in the browser is requested twice.)
    """
    host = cimd_metadata_host
    url = host.new_client_url(UNUSUAL_NAME) + UNUSUAL_QUERY
    document = corpus.load("public-client", client_id=url, metadata_host=host.base_url)
    host.serve_document(url, document)
    client = ProbeClient(url, document, host.base_url + CALLBACK_PATH)
    mark = host.mark()
    attempt = cimd_target.attempt(client.client_id, client.redirect_uri)
    key = hosting_key(url)
    directory = "/".join(key.split("/")[:3]) + "/"  # /c/<run>-<n>/: nothing else lives there
    fetches = [f for f in host.fetches_since(mark) if hosting_key(f.target).startswith(directory)]
    wrong = [
        problem
        for f in fetches
        if (problem := _request_problem(f, url, judge_names=host.public is None))
    ]
    if not fetches or wrong:
        seen = "no request" if not fetches else f"{len(fetches)} request(s)"
        raise NonConformance(
            expected=f"a GET of exactly {key} with the URL's Host and TLS server name",
            observed=f"{seen} under the client's path ({attempt.outcome.describe()})"
            + (": " + "; ".join(wrong) if wrong else ""),
        )


def _request_problem(fetch: Fetch, url: str, *, judge_names: bool) -> str:
    """What differs between ``fetch`` and a GET of exactly ``url`` ("" if nothing)."""
    parts = urlsplit(url)
    name = (parts.hostname or "").lower()
    problems = []
    if fetch.method != "GET":
        problems.append(f"method {fetch.method}")
    if hosting_key(fetch.target) != hosting_key(url):
        problems.append(f"request target {fetch.target!r}")
    if fetch.listener != "tls":
        problems.append(f"on the {fetch.listener} listener")
    if judge_names:  # behind a public URL a tunnel may rewrite Host and SNI
        authorities = {parts.netloc.lower()}
        if parts.port in (None, 443):
            authorities |= {parts.netloc.lower().removesuffix(":443"), f"{name}:443"}
        if fetch.host.lower() not in authorities:
            problems.append(f"Host {fetch.host!r}")
        sni = (fetch.sni or "").lower() or None
        if sni not in ((None, name) if _is_ip_literal(name) else (name,)):
            problems.append(f"TLS server name {fetch.sni!r}")
    return ", ".join(problems)


def _is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


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


@pytest.mark.requirement("CIMD-FETCH-05")
def test_refuses_hosts_with_bad_certificates(
    cimd_target: TargetSession, cimd_metadata_host: MetadataHost
) -> None:
    """Serves a valid document over TLS with an expired certificate, one for another host
    name, a self-signed one and one from a CA the target does not trust.

    Expects: every request is refused.
    """
    host = cimd_metadata_host
    cases = []
    for kind in BAD_TLS:
        if not host.reaches_bad_tls(kind):  # a remote target could not reach it at all
            continue
        hosted = corpus.serve(host, f"tls-{kind}")
        attempt = cimd_target.attempt(hosted.client_id, host.base_url + CALLBACK_PATH)
        cases.append((f"{kind} certificate", attempt))
    if not cases:
        raise NotApplicable("the target cannot reach any of the metadata host's bad-TLS listeners")
    verify_refused(cases, "a document host whose TLS certificate does not verify")


FIT_BYTES = 4000
"""CIMD-FETCH-06 (a): a document of this size is below every sensible limit."""
ENDLESS_CAP_BYTES = 16 << 20
"""The endless stream stops here: a target still reading then has no limit."""
OVERSIZED = ("padded-10mb", "endless-chunked", "lying-length-short", "gzip-bomb")
CUT_SHORT = ("padded-10mb", "endless-chunked")
"""The answers a bounded reader hangs up on before the metadata host has sent them whole."""


@pytest.mark.requirement("CIMD-FETCH-06")
def test_limits_document_size(cimd_target: TargetSession, cimd_metadata_host: MetadataHost) -> None:
    """Serves (a) a valid document padded with an extension member to 4,000 bytes; (b) a
    valid 10 MB document, an endless chunked stream, ``Content-Length: 500`` before a 5 MB
    body, and a gzip body inflating to 50 MB, each cut off by the metadata host after 30 s
    (less when the exchange timeout is shorter).

    Expects: (a) is accepted; each of (b) is refused in time, and the target hangs up on the
    10 MB document and on the endless stream (16 MiB) before they are sent whole. (The bytes
    the metadata host hands over include several MB of loopback socket buffers, so the
    catalog's 1 MB is judged as hanging up early.)
    """
    host = cimd_metadata_host
    bound = _fetch_bound(cimd_target)
    fit = corpus.serve(host, "padded-4000")
    fits = cimd_target.attempt(fit.client_id, host.base_url + CALLBACK_PATH)
    cases, urls = [], {}
    for name in OVERSIZED:
        client_id = host.new_client_url()
        _, hosting = corpus.hosting(name, client_id=client_id, metadata_host=host.base_url)
        host.serve(client_id, _capped(hosting, bound, ENDLESS_CAP_BYTES))
        cases.append((name, cimd_target.attempt(client_id, host.base_url + CALLBACK_PATH)))
        urls[name] = client_id
    problems = []
    if not fits.outcome.accepted:
        cimd_target.require_control()  # a target refusing everything now is no finding
        problems.append(f"a valid {FIT_BYTES}-byte document: {fits.outcome.describe()}")
    problems += [f"{name}: {a.outcome.describe()}" for name, a in cases if a.outcome.accepted]
    problems += _read_whole(host, {name: urls[name] for name in CUT_SHORT})
    if problems:
        raise NonConformance(
            expected=f"a {FIT_BYTES}-byte document accepted; oversized ones refused, the "
            "target hanging up before they are sent whole",
            observed="; ".join(problems),
        )
    verify_refused(cases, "an oversized document")


def _read_whole(host: MetadataHost, urls: dict[str, str]) -> list[str]:
    """The oversized answers the target read to their end, or until the host cut them off."""
    found = []
    for name, url in urls.items():
        host.settle(url, timeout_s=5.0)
        for fetch in host.fetches(url):
            if fetch.capped:
                found.append(f"{name}: read until the metadata host cut it off")
            elif fetch.complete:
                found.append(f"{name}: read to its end ({fetch.bytes_sent} bytes)")
    return found


def _fetch_bound(target: TargetSession) -> float:
    """Seconds a fetch may hold an authorization request: 30 s at most (the catalog), and
    short of the suite's exchange timeout so that the answer is still awaited.
    """
    bound = min(30.0, target.clock.limits.exchange_s - 2.0)
    if bound < 5.0:
        raise HarnessError(
            "--exchange-timeout is too short to judge a document fetch's limits; give at least 7 s"
        )
    return bound


def _capped(
    hosting: Hosting | HostingSequence, seconds: float, size: int
) -> Hosting | HostingSequence:
    if isinstance(hosting, HostingSequence):
        return hosting
    return replace(
        hosting, cap_s=min(hosting.cap_s, seconds), cap_bytes=min(hosting.cap_bytes, size)
    )


HANGING = ("silent", "drip-1s")
PROBE_S = 5.0
"""How long the target may take to answer another request while a fetch hangs."""


@dataclass
class _Hanging:
    """CIMD-FETCH-07's first part: two authorization requests waiting on hanging fetches."""

    urls: list[str]
    bound: float
    served: str  # "" when the metadata was served while the fetches hung
    pool: ThreadPoolExecutor
    pending: list[Future[tuple[Attempt, float]]]
    quiet: TargetSession  # the workers' session: their own exchange and attempt logs

    def collect(self, target: TargetSession) -> list[tuple[Attempt, float]]:
        """Wait for both requests' answers; their exchanges and attempts join ``target``'s."""
        try:
            results = [future.result() for future in self.pending]
        finally:
            self.pool.shutdown(wait=True)
            self.quiet.client.close()
            target.exchanges.extend(self.quiet.exchanges)
            target.attempts.extend(self.quiet.attempts)
            target.waits.extend(self.quiet.waits)
        return results

    def close(self) -> None:
        """Abandon the requests (the run stopped before the check): their client closes."""
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.quiet.client.close()


@head_start("CIMD-FETCH-07", left_running=True)
def _fetches_hung(target: TargetSession, host: MetadataHost) -> _Hanging:
    """CIMD-FETCH-07 up to its wait: both requests sent, the metadata asked for meanwhile.

    A target that served the metadata while its fetches hung serves requests concurrently,
    and the requests are left waiting while its other checks run; one that did not is waited
    for here, so that its other checks never run beside a fetch it blocks on.
    """
    bound = _fetch_bound(target)
    urls = []
    for name in HANGING:
        client_id = host.new_client_url()
        _, hosting = corpus.hosting(name, client_id=client_id, metadata_host=host.base_url)
        host.serve(client_id, _capped(hosting, bound, ENDLESS_CAP_BYTES))
        urls.append(client_id)
    # Plain HTTP only in the worker threads: the browser belongs to the main thread. The
    # workers log into lists of their own, which the check takes when it collects them, and
    # send no session cookie: held for seconds, a request in the signed-in session would
    # keep the run's approvals waiting, and a target that writes its session back whole at
    # the end of each request would undo the approvals made meanwhile. An answer that may
    # be the missing session's doing is asked again in the session at the check's turn.
    quiet = target.detached()
    redirect_uri = host.base_url + CALLBACK_PATH
    pool = ThreadPoolExecutor(max_workers=len(urls), thread_name_prefix="cimd-fetch-07")
    pending = [pool.submit(_timed_attempt, quiet, url, redirect_uri) for url in urls]
    hanging = _Hanging(urls, bound, "", pool, pending, quiet)
    try:
        hanging.served = _served_meanwhile(target, host, urls)
    except BaseException:
        futures.wait(pending)
        hanging.close()
        raise
    if hanging.served:
        futures.wait(pending)
    return hanging


@pytest.mark.requirement("CIMD-FETCH-07")
def test_fetch_has_timeouts(
    cimd_target: TargetSession,
    cimd_metadata_host: MetadataHost,
    cimd_head_start: Callable[[str], Any],
) -> None:
    """Two client URLs whose host accepts the request and then never answers, or sends one
    byte a second; both authorization requests are sent at once, and while they wait the
    target's metadata is asked for. The metadata host cuts each answer off after the bound:
    30 s, or less when the exchange timeout is shorter. The requests are sent when the
    target's checks begin; its other checks run while the fetches hang, once the metadata
    was served meanwhile.

    The requests are sent without the session cookie; one not plainly refused (the login
    page, consent, a redirect to an upstream login) is sent again in the session.

    Expects: both requests are refused before the bound, the target hanging up first, and
    the metadata is served meanwhile.
    """
    host = cimd_metadata_host
    hanging: _Hanging = cimd_head_start("CIMD-FETCH-07")
    bound = hanging.bound
    redirect_uri = host.base_url + CALLBACK_PATH
    results = [
        (attempt, took)
        if took >= bound or refused_apart(attempt)
        else _timed_attempt(cimd_target, url, redirect_uri)  # the session's doing, maybe
        for url, (attempt, took) in zip(hanging.urls, hanging.collect(cimd_target), strict=True)
    ]
    problems = []
    for name, url, (attempt, took) in zip(HANGING, hanging.urls, results, strict=True):
        fetches = host.fetches(url)
        outcome = cimd_target.reread(attempt)  # a page built by script, an upstream login
        if outcome.accepted:
            problems.append(f"{name}: {outcome.describe()} without the document")
        elif not fetches:
            raise NotApplicable(
                f"the target refused the {name} client without fetching it "
                f"({outcome.describe()}): there was no fetch to time"
            )
        elif any(f.capped for f in fetches) or took >= bound:
            problems.append(f"{name}: answered after {took:.1f} s, when the metadata host hung up")
    if hanging.served:
        problems.append(hanging.served)
    if problems:
        waited = max((took for _, took in results), default=0.0)
        raise NonConformance(
            expected=f"a fetch that never completes is given up on within {bound:.0f} s, and "
            "other requests are served meanwhile",
            observed="; ".join(problems) + f" (waited {waited:.1f} s)",
        )
    cimd_target.require_control()


def _timed_attempt(
    session: TargetSession, client_id: str, redirect_uri: str
) -> tuple[Attempt, float]:
    started = time.monotonic()
    attempt = session.attempt(client_id, redirect_uri)
    return attempt, time.monotonic() - started


def _served_meanwhile(target: TargetSession, host: MetadataHost, urls: list[str]) -> str:
    """Ask for the target's metadata once its hanging fetches are open ("" if served)."""
    waited = time.monotonic() + PROBE_S
    while not all(host.fetches(url) for url in urls) and time.monotonic() < waited:
        time.sleep(0.05)
    started = time.monotonic()
    url = target.target.metadata_url
    response = deadline.send(target.client, "GET", url, target.clock.exchange())
    took = time.monotonic() - started
    if response.status_code != 200:
        return f"the metadata answered HTTP {response.status_code} while the fetches hung"
    if took > PROBE_S:
        return f"the metadata took {took:.1f} s while the fetches hung"
    return ""


FORWARDED_HEADERS = ("x-forwarded-for", "forwarded", "x-real-ip", "true-client-ip")
AUTHORIZATION_PARAMS = ("state", "code_challenge", "redirect_uri", "client_id", "response_type")


@pytest.mark.requirement("CIMD-FETCH-10")
def test_fetch_carries_no_user_context(
    cimd_target: TargetSession, cimd_metadata_host: MetadataHost
) -> None:
    """Sends an authorization request for a fresh client in the logged-in session (its
    cookies go along).

    Expects: the fetch carries no Cookie, no Authorization, the user's address in no
    X-Forwarded-For, Forwarded or X-Real-IP, and no Referer with the request's parameters.
    """
    client = public_client(cimd_metadata_host)
    attempt = cimd_target.attempt(client.client_id, client.redirect_uri)
    fetches = cimd_metadata_host.fetches(client.client_id)
    if not fetches:
        raise NotApplicable(
            f"the target did not fetch the client URL ({attempt.outcome.describe()}); "
            "see CIMD-FETCH-01"
        )
    user = _user_addresses(cimd_target)
    found = sorted({p for f in fetches for p in _user_context(f, user, attempt)})
    if found:
        raise NonConformance(
            expected="a document fetch without the user's cookies, credentials, address or "
            "authorization request",
            observed="the fetch carried " + ", ".join(found),
        )


def _user_context(fetch: Fetch, user: set[str], attempt: Attempt) -> list[str]:
    """The user context in ``fetch``'s headers, named (never with values: they are secrets)."""
    found = [name.title() for name in ("cookie", "authorization") if fetch.header(name)]
    for name in FORWARDED_HEADERS:
        if any(address in value for value in fetch.header_values(name) for address in user):
            found.append(f"the user's address in {name.title()}")
    referer = fetch.header("referer") or ""
    params = {k for k, _ in parse_qsl(urlsplit(referer).query, keep_blank_values=True)}
    if attempt.state in referer or params & set(AUTHORIZATION_PARAMS):
        found.append("a Referer with the authorization request's parameters")
    return found


def _user_addresses(target: TargetSession) -> set[str]:
    """The addresses the target sees the user (the suite) at: loopback, and the local address
    of a route to the target (a UDP socket's connect sends nothing).
    """
    addresses = {"127.0.0.1", "::1"}
    parts = urlsplit(target.target.authorization_endpoint)
    try:
        infos = socket.getaddrinfo(parts.hostname or "", parts.port or 443, type=socket.SOCK_DGRAM)
        for family, kind, proto, _, address in infos[:1]:
            with socket.socket(family, kind, proto) as sock:
                sock.connect(address)
                addresses.add(str(sock.getsockname()[0]))
    except OSError:
        pass  # loopback only, then
    return addresses
