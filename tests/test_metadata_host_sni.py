"""The metadata host records the TLS server name (SNI) each fetch's connection sent."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from conformance.harness.session import ssl_context
from mock_servers.metadata_host import MetadataHost
from mock_servers.pki import TestCA


@pytest.fixture(scope="module")
def hosted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[MetadataHost, TestCA]]:
    ca = TestCA.load_or_create(Path(tmp_path_factory.mktemp("sni-state")))
    with MetadataHost(ca) as host:
        yield host, ca


def _get(ca: TestCA, url: str, sni: str | None = None) -> int:
    extensions = {"sni_hostname": sni} if sni else None
    with httpx.Client(verify=ssl_context(str(ca.cert_path)), timeout=10) as client:
        return client.get(url, extensions=extensions).status_code


def test_a_name_is_recorded_and_an_ip_literal_sends_none(
    hosted: tuple[MetadataHost, TestCA],
) -> None:
    host, ca = hosted
    by_address = host.new_client_url()
    by_name = host.new_client_url(base=host.alias_base_url)
    host.serve_document(by_address, {})
    host.serve_document(by_name, {})
    assert _get(ca, by_address) == 200
    assert _get(ca, by_name) == 200
    (fetch,) = host.fetches(by_address)
    assert fetch.sni is None  # RFC 6066 §3: no IP literals in server_name
    (fetch,) = host.fetches(by_name)
    assert fetch.sni == "localhost"
    assert fetch.summary()["sni"] == "localhost"


def test_the_name_sent_is_recorded_even_when_it_differs_from_the_host_header(
    hosted: tuple[MetadataHost, TestCA],
) -> None:
    host, ca = hosted
    url = host.new_client_url()
    host.serve_document(url, {})
    assert _get(ca, url, sni="localhost") == 200
    (fetch,) = host.fetches(url)
    assert (fetch.host, fetch.sni) == (f"127.0.0.1:{host.port}", "localhost")


def test_plain_http_has_no_server_name(hosted: tuple[MetadataHost, TestCA]) -> None:
    host, _ = hosted
    url = host.new_client_url(base=host.plain_base_url)
    host.serve_document(url, {})
    with httpx.Client(timeout=10) as client:
        assert client.get(url).status_code == 200
    (fetch,) = host.fetches(url)
    assert (fetch.listener, fetch.sni) == ("plain", None)
