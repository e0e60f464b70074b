"""PUB-17: the lint reports the client_id domain's expiry date from RDAP.

A local RDAP server (the metadata host on loopback over TLS, trusted with the test CA) serves
a DNS bootstrap file and domain answers; the lookup only ever contacts it. The client URLs
linted end to end are on the metadata host (an IP literal: the rule does not apply); the
domain answers are judged through the same lookup on a client_id URL under each domain.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from conformance import cli
from conformance.harness import corpus
from conformance.lint.expiry import expiry_findings, registrable_domain
from conformance.lint.fetch import client, tls_context
from conformance.lint.linter import lint_url
from conformance.lint.live import LiveOptions
from mock_servers.hosting import Hosting
from mock_servers.metadata_host import MetadataHost
from mock_servers.pki import TestCA

NOW = datetime.datetime.now(datetime.UTC)
FAR = (NOW + datetime.timedelta(days=400)).replace(microsecond=0)
NEAR = (NOW + datetime.timedelta(days=10)).replace(microsecond=0)


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> TestCA:
    return TestCA.load_or_create(Path(tmp_path_factory.mktemp("rdap-state")))


@pytest.fixture(scope="module")
def rdap(ca: TestCA) -> Iterator[tuple[MetadataHost, str]]:
    """The metadata host serving a bootstrap file for .dev and RDAP answers for its domains."""
    with MetadataHost(ca) as host:
        base = host.new_client_url("rdap").removesuffix("rdap")
        bootstrap = host.new_client_url("dns.json")
        services = [[["dev", "app"], [f"{base}rdap/"]]]
        host.serve(bootstrap, Hosting.document({"version": "1.0", "services": services}))

        def domain(name: str, events: list[dict[str, str]]) -> None:
            answer = {"objectClassName": "domain", "ldhName": name, "events": events}
            host.serve(
                f"{base}rdap/domain/{name}",
                Hosting.document(answer, content_type="application/rdap+json"),
            )

        domain("far-off.dev", [{"eventAction": "expiration", "eventDate": FAR.isoformat()}])
        domain("near.dev", [{"eventAction": "expiration", "eventDate": NEAR.isoformat()}])
        domain("past.dev", [{"eventAction": "expiration", "eventDate": "2001-01-01T00:00:00Z"}])
        domain("no-event.dev", [{"eventAction": "registration", "eventDate": "2001-01-01"}])
        host.serve(f"{base}rdap/domain/gone.dev", Hosting.raw(b"{}", status=404))
        moved = f"{base}rdap/domain/far-off.dev"
        host.serve(f"{base}rdap/domain/moved.dev", Hosting.redirect(moved, status=301))
        plain = f"{host.plain_base_url}/rdap/domain/far-off.dev"
        host.serve(f"{base}rdap/domain/downgraded.dev", Hosting.redirect(plain))
        yield host, bootstrap


def _lookup(ca: TestCA, rdap: tuple[MetadataHost, str], url: str) -> list[tuple[str, str]]:
    _, bootstrap = rdap
    with client(tls_context(ca.cert_path), 5.0) as http:
        found = expiry_findings(http, url, bootstrap, 5.0)
    assert all(f.rule == "CIMD-PUB-17" and f.fix for f in found)
    return [(f.severity, f.message) for f in found]


@pytest.mark.parametrize(
    ("host", "severity", "says"),
    [
        ("app.far-off.dev", "info", f"expires on {FAR.date().isoformat()}"),
        ("near.dev", "warning", f"expires on {NEAR.date().isoformat()}, within 30 days"),
        ("www.past.dev", "warning", "expired on 2001-01-01"),
        ("no-event.dev", "info", "no expiration event"),
        ("gone.dev", "info", "HTTP 404"),
        ("moved.dev", "info", f"expires on {FAR.date().isoformat()}"),
        ("downgraded.dev", "info", "is not https"),
        ("app.client.org", "info", "names no RDAP server for .org"),
        ("client.app.test", "info", "does not apply"),
        ("127.0.0.1", "info", "does not apply"),
    ],
)
def test_the_domain_answer_gives_exactly_its_pub_17_finding(
    ca: TestCA, rdap: tuple[MetadataHost, str], host: str, severity: str, says: str
) -> None:
    host_, _ = rdap
    mark = host_.mark()
    found = _lookup(ca, rdap, f"https://{host}/oauth/client.json")
    assert len(found) == 1 and found[0][0] == severity and says in found[0][1], found
    if "does not apply" in says:
        assert list(host_.fetches_since(mark)) == []  # no lookup at all
    if host == "downgraded.dev":  # the redirect to plain http is not followed
        assert "/rdap/domain/far-off.dev" not in {f.target for f in host_.fetches_since(mark)}


def test_a_warning_says_what_to_do(ca: TestCA, rdap: tuple[MetadataHost, str]) -> None:
    _, bootstrap = rdap
    with client(tls_context(ca.cert_path), 5.0) as http:
        (finding,) = expiry_findings(http, "https://near.dev/c.json", bootstrap, 5.0)
    assert "renew the domain" in finding.fix


def test_no_answer_in_time_is_info_never_a_failure_to_run(ca: TestCA) -> None:
    with MetadataHost(ca) as host:
        bootstrap = host.new_client_url("dns.json")
        host.serve(bootstrap, Hosting.silent(cap_s=30))
        with client(tls_context(ca.cert_path), 1.0) as http:
            (finding,) = expiry_findings(http, "https://a.dev/c.json", bootstrap, 1.0)
    assert finding.severity == "info" and "could not be found" in finding.message


@pytest.mark.parametrize(
    ("host", "domain"),
    [
        ("a.b.client.dev", "client.dev"),
        ("app.client.co.uk", "client.co.uk"),
        ("a.b.client.kawasaki.jp", "b.client.kawasaki.jp"),  # a wildcard rule (*.kawasaki.jp)
        ("app.city.kawasaki.jp", "city.kawasaki.jp"),  # its exception (!city.kawasaki.jp)
        ("app.client.com.au", "client.com.au"),
        ("app.client.github.io", "github.io"),  # a private suffix: github.io is registered
        ("www.ck", "www.ck"),
        ("client.ck", None),  # *.ck: every name under ck is a public suffix itself
        ("CLIENT.COM.", "client.com"),
        ("co.uk", None),
        ("[::1]", None),
        ("app.localhost", None),
        ("x.invalid", None),
        ("app.example.com", None),
        ("vm", None),
    ],
)
def test_the_registrable_domain(host: str, domain: str | None) -> None:
    assert registrable_domain(host) == domain


def test_a_live_lint_on_loopback_says_the_rule_does_not_apply(
    ca: TestCA, rdap: tuple[MetadataHost, str], capsys: pytest.CaptureFixture[str]
) -> None:
    """The whole lint, with the RDAP lookup on: an IP-literal host is never looked up."""
    host, bootstrap = rdap
    url = host.new_client_url()
    document = corpus.lint_document("lint-clean-served", client_id=url, metadata_host=host.base_url)
    assert isinstance(document, dict)
    document.pop("logo_uri", None)  # its live check is PUB-12's
    host.serve(url, Hosting.document(document, cache_control="max-age=3600"))
    options = LiveOptions(ca.cert_path, 5.0, True, bootstrap)
    mark = host.mark()
    result = lint_url(url, options=options)
    assert {(f.rule, f.severity) for f in result.findings} == {("CIMD-PUB-17", "info")}
    assert result.exit_code == 0 and "does not apply" in result.findings[0].message
    assert bootstrap.removeprefix(host.base_url) not in {f.target for f in host.fetches_since(mark)}
    argv = ["lint", url, "--ca", str(ca.cert_path), "--allow-special-use", "--json"]
    code = cli.main([*argv, "--rdap-bootstrap", bootstrap])
    report = json.loads(capsys.readouterr().out)
    assert code == 0 and [f["rule"] for f in report["findings"]] == ["CIMD-PUB-17"]
    assert cli.main([*argv, "--no-rdap"]) == 0
    assert json.loads(capsys.readouterr().out)["findings"] == []
    assert cli.main([*argv, "--rdap-bootstrap", "http://127.0.0.1/dns.json"]) == 2
