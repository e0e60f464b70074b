"""CIMD-DISC-04's reading of the fetch log: fetched, by GET over TLS, with Host and SNI right."""

from __future__ import annotations

from conformance.scenarios.test_discovery import _fetch_problems
from mock_servers.hosting import Fetch

BY_ADDRESS = "https://127.0.0.1:8443/c/1/client.json"
BY_NAME = "https://m.lab.test/c/1/client.json"


def _fetch(host: str, sni: str | None, method: str = "GET", listener: str = "tls") -> Fetch:
    return Fetch(listener, method, "/c/1/client.json", host, [], "127.0.0.1:5000", 0.0, sni=sni)


def test_one_get_with_the_urls_host_and_sni_is_right() -> None:
    assert _fetch_problems([_fetch("127.0.0.1:8443", None)], BY_ADDRESS, judge_names=True) == ""
    assert _fetch_problems([_fetch("M.lab.test", "m.lab.test")], BY_NAME, judge_names=True) == ""
    # the default port may be written out; an IP literal in SNI is tolerated
    assert (
        _fetch_problems([_fetch("m.lab.test:443", "m.lab.test")], BY_NAME, judge_names=True) == ""
    )
    got = _fetch_problems([_fetch("127.0.0.1:8443", "127.0.0.1")], BY_ADDRESS, judge_names=True)
    assert got == ""


def test_a_document_never_fetched_fails() -> None:
    assert "never fetched" in _fetch_problems([], BY_ADDRESS, judge_names=True)


def test_wrong_host_sni_method_or_listener_fail() -> None:
    cases = [
        (_fetch("127.0.0.1", None), BY_ADDRESS),  # the port left out
        (_fetch("m.lab.test", None), BY_NAME),  # no SNI for a DNS name
        (_fetch("m.lab.test", "other.lab.test"), BY_NAME),
        (_fetch("127.0.0.1:8443", None, method="HEAD"), BY_ADDRESS),
        (_fetch("127.0.0.1:8443", None, listener="plain"), BY_ADDRESS),
    ]
    for fetch, url in cases:
        assert "wrong" in _fetch_problems([fetch], url, judge_names=True), fetch


def test_at_most_one_get_per_request_naming_the_client() -> None:
    right = _fetch("127.0.0.1:8443", None)
    assert _fetch_problems([right, right], BY_ADDRESS, judge_names=True) == ""  # no-store
    assert "3 GETs" in _fetch_problems([right] * 3, BY_ADDRESS, judge_names=True)
    # a sign-in on the way sent the authorization request once more
    assert _fetch_problems([right] * 3, BY_ADDRESS, judge_names=True, requests=3) == ""
    assert "4 GETs" in _fetch_problems([right] * 4, BY_ADDRESS, judge_names=True, requests=3)


def test_behind_a_public_url_host_and_sni_are_not_judged() -> None:
    tunnelled = _fetch("tunnel.example:443", "tunnel.example")
    assert _fetch_problems([tunnelled], BY_NAME, judge_names=False) == ""
    assert "never fetched" in _fetch_problems([], BY_NAME, judge_names=False)
