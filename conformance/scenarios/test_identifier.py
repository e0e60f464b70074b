"""Client Identifier URL validation (CIMD-URL): syntax rules and exact comparison.

The metadata host serves a document whose client_id is exactly the raw test string, so a
correct target can only refuse these requests on the identifier's syntax.
"""

from __future__ import annotations

import time
from urllib.parse import urlsplit

import pytest

from conformance.catalog.verdicts import NonConformance, NotApplicable
from conformance.harness import observers
from conformance.harness.clients import document_for
from conformance.harness.session import TargetSession
from conformance.harness.verify import Case, verify_accepted, verify_refused
from conformance.network import lab
from conformance.network.topology import LOOPBACK, Network, Planter
from mock_servers.lab_dns import Answer
from mock_servers.metadata_host import MetadataHost


def _attempt_raw(target: TargetSession, host: MetadataHost, raw: str, *served_at: str) -> Case:
    """Serve the public client claiming ``raw`` at each URL in ``served_at``; send ``raw``."""
    client = document_for(host, served_at[0], raw)
    for url in served_at[1:]:
        host.serve_document(url, client.document)
    return raw, target.attempt(raw, client.redirect_uri)


@pytest.mark.requirement("CIMD-URL-01")
def test_refuses_http_client_id(
    cimd_target: TargetSession, cimd_metadata_host: MetadataHost
) -> None:
    """Sends an http:// client_id whose document the metadata host also serves over plain HTTP.

    Expects: the request is refused and no plain-HTTP request reaches the metadata host.
    """
    if not cimd_metadata_host.reaches_plain:
        raise NotApplicable(
            "the target cannot reach the plain-HTTP listener (no [metadata_host] "
            "plain_public_url), so a refusal would prove nothing"
        )
    raw = cimd_metadata_host.new_client_url(base=cimd_metadata_host.plain_base_url)
    case = _attempt_raw(cimd_target, cimd_metadata_host, raw, raw)
    verify_refused([case], "an http client_id")
    plain = [f for f in cimd_metadata_host.fetches(raw) if f.listener == "plain"]
    if plain:
        raise NonConformance(
            expected="no plain-HTTP fetch", observed=f"{len(plain)} plain-HTTP GET {raw}"
        )


@pytest.mark.requirement("CIMD-URL-02")
def test_refuses_client_id_without_path(
    cimd_target: TargetSession, cimd_metadata_host: MetadataHost
) -> None:
    """Sends https://M and https://M?x=… (no path component), each served at M's root.

    Expects: both are refused.
    """
    base = cimd_metadata_host.base_url
    nonce = cimd_metadata_host.new_path("q").strip("/").replace("/", "-")
    cases = [
        _attempt_raw(cimd_target, cimd_metadata_host, base, base + "/"),
        _attempt_raw(cimd_target, cimd_metadata_host, f"{base}?x={nonce}", f"{base}/?x={nonce}"),
    ]
    verify_refused(cases, "a client_id without a path")


def _dot_cases(host: MetadataHost) -> list[tuple[str, list[str]]]:
    """Raw identifiers with dot segments, and the normalized URLs a lenient fetch would use."""
    fresh = host.new_client_url()
    directory = fresh.rsplit("/", 1)[0]
    return [
        (f"{directory}/a/../client.json", [f"{directory}/client.json"]),
        (f"{directory}/./client.json", [f"{directory}/client.json"]),
        (f"{directory}/a/.", [f"{directory}/a/", f"{directory}/a"]),
        (f"{directory}/a/..", [f"{directory}/", directory]),
    ]


@pytest.mark.requirement("CIMD-URL-03")
def test_refuses_dot_segments(cimd_target: TargetSession, cimd_metadata_host: MetadataHost) -> None:
    """Sends identifiers with . and .. path segments; the host serves the normalized paths.

    Expects: every one is refused (the check must run on the raw string).
    """
    cases = [
        _attempt_raw(cimd_target, cimd_metadata_host, raw, *served)
        for raw, served in _dot_cases(cimd_metadata_host)
    ]
    verify_refused(cases, "a client_id with dot segments")


@pytest.mark.requirement("CIMD-URL-04")
def test_refuses_fragment(cimd_target: TargetSession, cimd_metadata_host: MetadataHost) -> None:
    """Sends U#x and U# (an empty fragment); the host serves U.

    Expects: both are refused.
    """
    cases = []
    for suffix in ("#x", "#"):
        url = cimd_metadata_host.new_client_url()
        cases.append(_attempt_raw(cimd_target, cimd_metadata_host, url + suffix, url))
    verify_refused(cases, "a client_id with a fragment")


@pytest.mark.requirement("CIMD-URL-05")
def test_refuses_userinfo(cimd_target: TargetSession, cimd_metadata_host: MetadataHost) -> None:
    """Sends identifiers with user:password@, user@ and :@ before the host.

    Expects: every one is refused and the metadata host never receives credentials.
    """
    cases = []
    for userinfo in ("probe:secret@", "probe@", ":@"):
        url = cimd_metadata_host.new_client_url()
        raw = url.replace("https://", f"https://{userinfo}", 1)
        cases.append(_attempt_raw(cimd_target, cimd_metadata_host, raw, url))
        sent = [f for f in cimd_metadata_host.fetches(url) if f.header("authorization")]
        if sent:
            raise NonConformance(
                expected="no credentials sent to the metadata host",
                observed=f"Authorization header on GET {urlsplit(url).path} for {userinfo!r}",
            )
    verify_refused(cases, "a client_id with userinfo")


def _comparison_cases(host: MetadataHost) -> list[tuple[str, str, str]]:
    """(case, requested identifier, document client_id) pairs that differ in one way each."""
    url = host.new_client_url("Probe~client.json")
    query = host.new_client_url() + "?a=1&b=2"
    cases = [
        ("scheme upper-cased", url, "HTTPS" + url[len("https") :]),
        ("trailing slash added", url, url + "/"),
        ("~ written as %7E", url, url.replace("~", "%7E")),
        ("query reordered", query, query.replace("a=1&b=2", "b=2&a=1")),
        ("path case changed", url, url.replace("Probe~client", "probe~client")),
    ]
    if host.port == 443:  # the lab: the metadata host is on the default port
        # client URLs are written as users write them (no port); the probe writes it out
        netloc = urlsplit(url).netloc
        explicit = url.replace(f"://{netloc}/", f"://{netloc}:443/", 1)
        cases.append(("default port written out", url, explicit))
        cases.append(("default port left out", explicit, url))
    named = host.new_client_url("Probe~client.json", base=host.alias_base_url)
    name = urlsplit(named).hostname or ""
    if name != name.upper():  # a host with letters in it (an IP literal has no case)
        cases.insert(1, ("host upper-cased", named, named.replace(name, name.upper(), 1)))
    return cases


@pytest.mark.requirement("CIMD-URL-08")
def test_compares_client_id_as_exact_string(
    cimd_target: TargetSession, cimd_metadata_host: MetadataHost
) -> None:
    """Serves documents whose client_id differs from the requested URL in exactly one way.

    Expects: every request is refused (no case folding, percent-decoding, slash or query
    normalization). In the lab the metadata host is on 443, and ``:443`` written out or left
    out is probed too.
    """
    cases = []
    for name, requested, claimed in _comparison_cases(cimd_metadata_host):
        client = document_for(cimd_metadata_host, requested, claimed)
        cases.append((name, cimd_target.attempt(requested, client.redirect_uri)))
    verify_refused(cases, "a document whose client_id differs from the URL")


@pytest.mark.requirement("CIMD-URL-07")
def test_accepts_port_in_client_id(
    cimd_target: TargetSession, cimd_metadata_host: MetadataHost, cimd_ssrf: Planter
) -> None:
    """Lab and public-URL modes (in loopback mode every client URL carries a port already,
    on 127.0.0.1, the host of the target's development exception, where servers commonly
    allow ports for local development only). Sends a client URL with its port written out:
    the metadata host's port, or :443 where its URL has none (the lab).

    Expects: the request is accepted.
    """
    if cimd_ssrf.network.mode == LOOPBACK:
        raise NotApplicable(
            "CIMD-URL-07 is judged in lab mode (--lab, as root) or through a public URL: here "
            "every client URL is on 127.0.0.1 with a port, within the development loopback "
            "exception the target runs with, where servers commonly allow ports"
        )
    host = cimd_metadata_host
    parts = urlsplit(host.base_url)
    base = host.base_url if parts.port is not None else f"{host.base_url}:443"
    url = host.new_client_url(base=base)
    client = document_for(host, url, url)
    attempt = cimd_target.attempt(url, client.redirect_uri)
    verify_accepted(attempt, f"a client_id with a port ({urlsplit(url).netloc})")


@pytest.mark.requirement("CIMD-URL-09")
def test_checks_syntax_before_fetching(
    cimd_target: TargetSession, cimd_metadata_host: MetadataHost
) -> None:
    """Sends the identifiers of CIMD-URL-01 to -05 (http, no path, dot segments, a fragment,
    userinfo), each served wherever a lenient fetch would look for it.

    Expects: the metadata host logs no request for any identifier the target refused: the
    syntax was checked before any fetch. (Accepting one is its own row's failure.)
    """
    host, started = cimd_metadata_host, time.monotonic()
    cases = [
        (_attempt_raw(cimd_target, host, raw, *served), served)
        for raw, served in _syntax_cases(host)
    ]
    refused = [(case, served) for case, served in cases if not case[1].outcome.accepted]
    if not refused:
        raise NotApplicable("every identifier was accepted (see CIMD-URL-01 to -05)")
    cimd_target.require_control()
    fetched = [
        f"{raw} (fetched {fetch.method} {fetch.target} on the {fetch.listener} listener)"
        for (raw, _), served in refused
        for url in served
        for fetch in host.fetches(url)
        if fetch.at >= started
    ]
    if fetched:
        raise NonConformance(
            expected="identifiers that break a syntax rule are refused before any fetch",
            observed="; ".join(fetched),
        )


def _syntax_cases(host: MetadataHost) -> list[tuple[str, list[str]]]:
    """(raw identifier, URLs a lenient fetch would use) for the CIMD-URL-01 to -05 rules."""
    base = host.base_url
    nonce = host.new_path("q").strip("/").replace("/", "-")
    cases = []
    if host.reaches_plain:
        plain = host.new_client_url(base=host.plain_base_url)
        cases.append((plain, [plain]))
    cases += [(base, [base + "/"]), (f"{base}?x={nonce}", [f"{base}/?x={nonce}"])]
    cases += _dot_cases(host)
    for suffix in ("#x", "#"):
        url = host.new_client_url()
        cases.append((url + suffix, [url]))
    for userinfo in ("probe:secret@", "probe@", ":@"):
        url = host.new_client_url()
        cases.append((url.replace("https://", f"https://{userinfo}", 1), [url]))
    return cases


@pytest.mark.requirement("CIMD-URL-06")
def test_query_in_identifier_is_recorded(
    cimd_target: TargetSession, cimd_metadata_host: MetadataHost
) -> None:
    """Serves a matching document at ``U?v=1`` and sends AUTHZ(U?v=1); reads the request
    targets of the GETs of U's path in the fetch log.

    Expects: recorded, not scored: accepted or refused, and whether the fetch carried the
    identical query.
    """
    host = cimd_metadata_host
    url = host.new_client_url() + "?v=1"
    client = document_for(host, url, url)
    mark = host.mark()
    attempt = cimd_target.attempt(url, client.redirect_uri)
    host.settle(url)  # only these: another check's fetch may be left hanging
    host.settle(url.split("?", 1)[0])
    path = urlsplit(url).path
    fetched = [f.target for f in host.fetches_since(mark) if urlsplit(f.target).path == path]
    outcome = attempt.outcome
    raise observers.query_identifier(outcome.accepted, outcome.describe(), "v=1", fetched)


LONG_IDENTIFIER = 2100  # characters: past the 2,000 that clients and proxies commonly allow
IDN_LABEL = "xn--bcher-kva"  # "bücher" in punycode


@pytest.mark.requirement("CIMD-URL-10")
def test_unusual_identifiers_are_recorded(
    cimd_target: TargetSession, cimd_metadata_host: MetadataHost, cimd_network: Network
) -> None:
    """Sends AUTHZ(U) for a matching document at a client URL longer than 2,000 characters;
    in the lab also at ``https://<public IP literal>/...`` and at a punycode (IDN) host name,
    both of which the lab points at the metadata host (outside the lab such hosts would
    leave loopback, so they are not sent).

    Expects: recorded, not scored: accepted or refused, and whether a fetch came first.
    """
    host = cimd_metadata_host
    urls = {}
    short = host.new_client_url()
    padding = "p" * (LONG_IDENTIFIER - len(short))
    urls[f"a {LONG_IDENTIFIER}-character client URL"] = host.new_client_url(
        "/".join(padding[i : i + 200] for i in range(0, len(padding), 200)) + ".json"
    )
    if cimd_network.is_lab and cimd_network.dns is not None:
        urls[f"public IP literal {host.address}"] = host.new_client_url(
            base=f"https://{host.address}"
        )
        idn = f"{IDN_LABEL}.{lab.ZONE}"
        cimd_network.dns.set(idn, Answer((host.address,)))
        urls[f"IDN host {idn}"] = host.new_client_url(base=f"https://{idn}")
    cases = []
    for name, url in urls.items():
        client = document_for(host, url, url)
        attempt = cimd_target.attempt(url, client.redirect_uri)
        host.settle(url)
        fetches = host.fetch_count(url)
        outcome = attempt.outcome
        cases.append((name, outcome.accepted, fetches, outcome.describe()))
    observation = observers.unusual_identifiers(cases)
    if not cimd_network.is_lab:
        observation.observed += "; IP-literal and IDN hosts are observed in the lab only"
    raise observation
