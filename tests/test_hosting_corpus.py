"""The corpus's hosting variants and real-world documents: plain data that reads into hostings."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from conformance.catalog.requirements import REQUIREMENTS
from conformance.harness import corpus
from mock_servers.hosting import Hosting, HostingSequence
from mock_servers.hosting_spec import KNOWN_KEYS
from mock_servers.listeners import BAD_TLS
from mock_servers.metadata_host import MetadataHost
from mock_servers.pki import TestCA

M = "https://m.test:8443"
U = f"{M}/c/1/client.json"
EXPECT = {"accept", "refuse", "record"}
OBSERVE = {
    "",
    "location-not-fetched",
    "cut-off",
    "refetched",
    "fetched-again-after-error",
    "exact-request",
}
LOCATIONS = {"", "same-client-id", "own-client-id", "other-host", "relative", "chain", "loop"}
REAL_WORLD = (
    "loopback-localhost-portless",
    "loopback-ip-portless",
    "fixed-port-and-https",
    "several-redirect-uris",
    "private-key-jwt-jwks-uri",
    "extension-members",
)


def test_the_manifest_is_plain_json_with_the_documented_sections() -> None:
    raw = json.loads((corpus.corpus_dir() / "manifest.json").read_text("utf-8"))
    assert raw["schema"] == "cimd-conformance-corpus/1"
    sections = {"documents", "variants", "bodies", "hostings", "lint"}
    assert set(raw) == {"schema", "description", *sections}
    for word in (
        "'hostings'",
        "'observe'",
        "'request'",
        "{{callback_port}}",
        "hosting_spec",
        "'lint'",
    ):
        assert word in raw["description"]


@pytest.mark.parametrize("name", corpus.names("hostings"))
def test_each_hosting_variant_reads_into_a_hosting(name: str) -> None:
    entry = corpus.hosting_entry(name)
    assert entry.requirement in REQUIREMENTS and entry.expect in EXPECT, name
    assert entry.observe in OBSERVE and entry.location in LOCATIONS and entry.about
    assert set(entry.spec) <= KNOWN_KEYS
    assert entry.listener in ("", *BAD_TLS)
    location = f"{M}/c/2/client.json" if entry.location else None
    document, hosting = corpus.hosting(name, client_id=U, metadata_host=M, location=location)
    assert document["client_id"] == U
    steps = hosting.steps if isinstance(hosting, HostingSequence) else (hosting,)
    assert all(isinstance(step, Hosting) for step in steps)


def test_the_hostile_hostings_are_all_there() -> None:
    by_requirement: dict[str, list[str]] = {}
    for name in corpus.names("hostings"):
        by_requirement.setdefault(corpus.hosting_entry(name).requirement, []).append(name)
    assert len(by_requirement["CIMD-FETCH-03"]) == 17
    assert len(by_requirement["CIMD-FETCH-04"]) == 5 * 3 + 3
    listeners = {corpus.hosting_entry(n).listener for n in by_requirement["CIMD-FETCH-05"]}
    assert listeners == set(BAD_TLS)
    assert set(by_requirement["CIMD-FETCH-06"]) >= {"padded-4000", "gzip-bomb", "endless-chunked"}
    assert _single("padded-4000").length == 4000
    assert _single("lying-length-short").declared_length == 500
    assert _single("endless-chunked").endless
    for name in ("CIMD-CACHE-01", "CIMD-CACHE-02", "CIMD-CACHE-03", "CIMD-CHG-01", "CIMD-FETCH-07"):
        assert by_requirement[name], name


def _single(name: str) -> Hosting:
    hosting = corpus.hosting(name, client_id=U, metadata_host=M)[1]
    assert isinstance(hosting, Hosting)
    return hosting


def test_a_sequence_variant_is_templated_per_step() -> None:
    _, hosting = corpus.hosting("invalid-then-fixed", client_id=U, metadata_host=M)
    assert isinstance(hosting, HostingSequence)
    first, second = (json.loads(step.body) for step in hosting.steps)
    assert first["client_id"] == f"{M}/c/other/client.json" and second["client_id"] == U
    assert hosting.steps[0].header("cache-control") == "max-age=86400"


@pytest.mark.parametrize("name", REAL_WORLD)
def test_real_world_documents_are_valid_clients(name: str) -> None:
    entry: dict[str, Any] = corpus.manifest()["documents"][name]
    assert entry["expect"] == "accept" and entry["requirement"] in REQUIREMENTS
    document = corpus.load(name, client_id=U, metadata_host=M)
    assert document["client_id"] == U and "{{" not in json.dumps(document)
    uris = document["redirect_uris"]
    assert isinstance(uris, list) and uris and all(isinstance(u, str) for u in uris)
    request = corpus.request(name, client_id=U, metadata_host=M, callback_port=49152)
    listed = request["redirect_uri"].replace(":49152", "")
    assert listed in uris, "the request uses a listed URI (a loopback one on any port)"


def test_real_world_shapes() -> None:
    def load(name: str) -> dict[str, Any]:
        return corpus.load(name, client_id=U, metadata_host=M)

    assert load("loopback-localhost-portless")["redirect_uris"] == ["http://localhost/callback"]
    assert load("loopback-ip-portless")["redirect_uris"] == ["http://127.0.0.1/callback"]
    fixed = load("fixed-port-and-https")["redirect_uris"]
    assert fixed[0] == "http://127.0.0.1:33418/callback" and fixed[1].startswith("https://")
    assert not fixed[1].startswith(M)
    assert len(load("several-redirect-uris")["redirect_uris"]) >= 3
    jwt = load("private-key-jwt-jwks-uri")
    assert jwt["token_endpoint_auth_method"] == "private_key_jwt"
    assert jwt["jwks_uri"].startswith(M + "/") and "jwks" not in jwt
    assert {"software_id", "x_vendor_features"} <= set(load("extension-members"))


async def test_a_corpus_hosting_is_served_as_it_reads(tmp_path: Path) -> None:
    host = MetadataHost(TestCA.load_or_create(tmp_path / "state"))
    try:
        url = host.new_client_url()
        document, hosting = corpus.hosting(
            "error-then-document", client_id=url, metadata_host=host.base_url
        )
        host.serve(url, hosting)
        transport = httpx.ASGITransport(app=host.app())
        async with httpx.AsyncClient(transport=transport, timeout=10) as client:
            first, second = await client.get(url), await client.get(url)
        assert (first.status_code, first.headers["cache-control"]) == (503, "max-age=86400")
        assert second.status_code == 200 and second.json() == document
    finally:
        host.stop()


@pytest.fixture(scope="module")
def unstarted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MetadataHost]:
    host = MetadataHost(TestCA.load_or_create(Path(tmp_path_factory.mktemp("serve-state"))))
    yield host
    host.stop()


@pytest.mark.parametrize("name", corpus.names("hostings", "CIMD-FETCH-04"))
async def test_serving_a_redirect_variant_serves_its_targets(
    unstarted: MetadataHost, name: str
) -> None:
    served = corpus.serve(unstarted, name)
    transport = httpx.ASGITransport(app=unstarted.app())
    async with httpx.AsyncClient(transport=transport, timeout=10, max_redirects=5) as client:
        if served.entry.location == "loop":
            with pytest.raises(httpx.TooManyRedirects):
                await client.get(served.client_id, follow_redirects=True)
            assert len(served.elsewhere) == 1 and unstarted.fetch_count(served.elsewhere[0]) > 1
            return
        answer = await client.get(served.client_id, follow_redirects=True)
    assert answer.status_code == 200 and answer.history  # followed: the targets are served
    claimed = answer.json()["client_id"]
    own = served.entry.location == "own-client-id"
    assert claimed == (served.elsewhere[-1] if own else served.client_id)
    assert all(unstarted.fetch_count(url) == 1 for url in served.elsewhere)
    if served.entry.location == "other-host":
        assert served.elsewhere[0].startswith(unstarted.alias_base_url)
    if served.entry.location == "relative":
        assert answer.history[0].headers["location"].startswith("/c/")


@pytest.mark.parametrize("name", ["tls-expired", "status-503", "error-then-document"])
async def test_serving_other_variants(unstarted: MetadataHost, name: str) -> None:
    served = corpus.serve(unstarted, name)
    assert served.elsewhere == () and served.document["client_id"] == served.client_id
    if served.entry.listener:
        assert served.client_id.startswith(unstarted.bad_tls_base_url("expired"))
        return
    transport = httpx.ASGITransport(app=unstarted.app())
    async with httpx.AsyncClient(transport=transport, timeout=10) as client:
        assert (await client.get(served.client_id)).status_code == 503


def test_a_document_loaded_again_is_untouched_by_what_a_caller_changed() -> None:
    # each document's template is read once: a load's result is the caller's own to change
    name = corpus.names("documents")[0]
    first = corpus.load(name, client_id=U, metadata_host=M)
    nonce = first["client_name"].rsplit(" ", 1)[-1]  # a fresh one in each load
    expected = json.dumps(first).replace(nonce, "")
    for value in first.values():
        if isinstance(value, list):
            value.append("changed")
        elif isinstance(value, dict):
            value["changed"] = True
    first["client_id"] = "changed"
    again = corpus.load(name, client_id=U, metadata_host=M)
    assert json.dumps(again).replace(again["client_name"].rsplit(" ", 1)[-1], "") == expected
    assert again["client_id"] == U and "changed" not in json.dumps(again)
    other = corpus.load(name, client_id=f"{M}/c/2/client.json", metadata_host=M)
    assert other["client_id"] == f"{M}/c/2/client.json"
