"""Client Identifier URL syntax, fetch URLs and the faults' normalizations (no network)."""

from __future__ import annotations

import pytest

from mock_servers.reference_as import F, Fault, FaultSet
from mock_servers.reference_as.identifiers import (
    ClientIdSyntaxError,
    check_client_id,
    normalize_identifier,
    remove_dot_segments,
    split_uri,
)

NONE = FaultSet()


@pytest.mark.parametrize(
    "identifier",
    [
        "http://m.test/c.json",
        "HTTPS://m.test/c.json",
        "https://m.test",
        "https://m.test:1",
        "https://m.test:1?x=1",
        "https://m.test/a/../c.json",
        "https://m.test/./c.json",
        "https://m.test/a/.",
        "https://m.test/a/..",
        "https://m.test/c.json#x",
        "https://m.test/c.json#",
        "https://u:p@m.test/c.json",
        "https://u@m.test/c.json",
        "https://:@m.test/c.json",
        "https:///c.json",
        "https://m.test/c.json ",
        "urn:x:y",
    ],
)
def test_rejects_bad_identifiers(identifier: str) -> None:
    with pytest.raises(ClientIdSyntaxError):
        check_client_id(identifier, NONE)


@pytest.mark.parametrize(
    "identifier",
    [
        "https://m.test/c.json",
        "https://m.test:8443/c.json?v=1",
        "https://m.test/",
        "https://m.test/a..b/.c",
    ],
)
def test_accepts_good_identifiers_and_fetches_them_verbatim(identifier: str) -> None:
    assert check_client_id(identifier, NONE) == identifier


@pytest.mark.parametrize(
    ("fault", "identifier", "fetch_url"),
    [
        (F.ALLOWS_HTTP_CLIENT_ID, "http://m.test/c.json", "http://m.test/c.json"),
        (F.ALLOWS_EMPTY_PATH, "https://m.test:1?x=1", "https://m.test:1?x=1"),
        (F.IGNORES_DOT_SEGMENTS, "https://m.test/a/../c.json", "https://m.test/c.json"),
        (F.ALLOWS_FRAGMENT, "https://m.test/c.json?q=1#x", "https://m.test/c.json?q=1"),
        (F.ALLOWS_USERINFO, "https://u:p@m.test/c.json", "https://u:p@m.test/c.json"),
    ],
)
def test_url_faults_skip_their_check(fault: Fault, identifier: str, fetch_url: str) -> None:
    with pytest.raises(ClientIdSyntaxError):
        check_client_id(identifier, NONE)
    assert check_client_id(identifier, FaultSet([fault])) == fetch_url


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/a/b/c/./../../g", "/a/g"),
        ("mid/content=5/../6", "mid/6"),
        ("/a/..", "/"),
        ("/./c.json", "/c.json"),
        ("/../x", "/x"),
        ("/a/b/", "/a/b/"),
    ],
)
def test_remove_dot_segments(path: str, expected: str) -> None:
    assert remove_dot_segments(path) == expected


@pytest.mark.parametrize(
    "variant",
    [
        "HTTPS://M.test/c.json",
        "https://m.test:443/c.json",
        "https://m.test/c.json/",
        "https://m.test/%63.json",
    ],
)
def test_normalization_of_the_fault_hides_differences(variant: str) -> None:
    assert normalize_identifier(variant) == normalize_identifier("https://m.test/c.json")


def test_normalization_sorts_query_and_keeps_case_of_path() -> None:
    assert normalize_identifier("https://m.test/c?b=2&a=1") == "https://m.test/c?a=1&b=2"
    assert normalize_identifier("https://m.test/C.json") != normalize_identifier(
        "https://m.test/c.json"
    )


def test_split_uri_keeps_absent_and_empty_apart() -> None:
    assert split_uri("https://h/p#").fragment == ""
    assert split_uri("https://h/p").fragment is None
    assert split_uri("http://[::1]:5/cb").host_port() == ("[::1]", "5")
    assert split_uri("http://u@127.0.0.1/cb").host_port() == ("127.0.0.1", None)
