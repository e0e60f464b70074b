"""The publisher lint: each corpus entry fires exactly its CIMD-PUB rule; the clean ones none.

Entries without a hosting are linted as files; entries with one are served by the metadata
host on loopback over TLS (the run's test CA given as ``--ca``) and linted at their URL.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conformance import cli
from conformance.harness import corpus
from conformance.lint.findings import LintResult
from conformance.lint.linter import lint_file, lint_url
from conformance.lint.live import LiveOptions
from mock_servers.hosting import Hosting
from mock_servers.hosting_spec import KNOWN_KEYS, from_spec
from mock_servers.listeners import BAD_TLS
from mock_servers.metadata_host import MetadataHost
from mock_servers.pki import TestCA

M = "https://client.example"
U = f"{M}/oauth/client.json"
NAMES = corpus.names("lint")
STATIC = [n for n in NAMES if corpus.lint_entry(n).hosting is None]
LIVE = [n for n in NAMES if corpus.lint_entry(n).hosting is not None]
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"


def _fired(result: LintResult) -> set[tuple[str, str]]:
    return {(f.rule, f.severity) for f in result.findings}


def _assert_exactly_its_rule(result: LintResult, name: str) -> None:
    entry = corpus.lint_entry(name)
    assert result.problem is None, result.problem
    if not entry.rule:
        assert result.findings == [], result.render_text()
        assert result.exit_code == 0
        return
    assert _fired(result) == {(entry.rule, entry.severity)}, result.render_text()
    assert result.exit_code == (1 if entry.severity == "error" else 0)
    assert all(f.message and f.fix and f.where for f in result.findings)


def test_every_rule_has_a_violating_entry_and_the_entries_read() -> None:
    rules = {corpus.lint_entry(n).rule for n in NAMES}
    assert rules - {""} == {f"CIMD-PUB-{n:02d}" for n in range(1, 21)}
    assert {"lint-clean", "lint-clean-served"} <= set(NAMES)
    for name in NAMES:
        entry = corpus.lint_entry(name)
        assert entry.about and entry.profile in ("mcp", "cimd", "atproto")
        assert entry.severity in (("",) if not entry.rule else ("error", "warning", "info"))
        assert entry.logo in ("served", "missing")
        if entry.hosting is not None:
            assert set(entry.hosting) <= KNOWN_KEYS and entry.hosting.get("listener", "") in (
                "",
                *BAD_TLS,
            )


def _write(tmp_path: Path, name: str, url: str, metadata_host: str) -> Path:
    document = corpus.lint_document(name, client_id=url, metadata_host=metadata_host)
    path = tmp_path / "client.json"
    if isinstance(document, corpus.Body):
        path.write_bytes(document.content)
    else:
        path.write_text(json.dumps(document), "utf-8")
    return path


@pytest.mark.parametrize("name", STATIC)
def test_a_file_fires_exactly_its_rule(tmp_path: Path, name: str) -> None:
    url = corpus.lint_client_id(name, client_id=U, metadata_host=M)
    path = _write(tmp_path, name, url, M)
    result = lint_file(path, url=url, profile=corpus.lint_entry(name).profile)
    _assert_exactly_its_rule(result, name)


@pytest.fixture(scope="module")
def state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return Path(tmp_path_factory.mktemp("lint-state"))


@pytest.fixture(scope="module")
def host(state: Path) -> Iterator[MetadataHost]:
    with MetadataHost(TestCA.load_or_create(state)) as running:
        yield running


def _serve(host: MetadataHost, name: str) -> str:
    entry = corpus.lint_entry(name)
    spec: dict[str, Any] = dict(entry.hosting or {})
    listener = spec.pop("listener", "")
    client_id = host.new_client_url(base=host.bad_tls_base_url(listener) if listener else None)
    document = corpus.lint_document(name, client_id=client_id, metadata_host=host.base_url)
    assert isinstance(document, dict)
    location = None
    if "redirect" in spec:
        location = host.new_client_url()
        host.serve_document(location, document)
    host.serve(client_id, from_spec(spec, document, location=location))
    logo = document.get("logo_uri")
    if entry.logo == "served" and isinstance(logo, str) and logo.startswith(host.base_url):
        host.serve(logo, Hosting.raw(PNG, content_type="image/png"))
    return client_id


@pytest.mark.parametrize("name", LIVE)
def test_a_served_document_fires_exactly_its_rule(
    host: MetadataHost, state: Path, name: str
) -> None:
    url = _serve(host, name)
    entry = corpus.lint_entry(name)
    # PUB-17 entries are linted with a local RDAP bootstrap file (tests/test_lint_expiry.py
    # judges the domain answers); the others without the lookup
    rdap = host.new_client_url("dns.json") if entry.rule == "CIMD-PUB-17" else None
    options = LiveOptions(
        TestCA.load_or_create(state).cert_path, 5.0, entry.allow_special_use, rdap
    )
    mark = host.mark()
    result = lint_url(url, profile=entry.profile, options=options)
    assert result.live
    _assert_exactly_its_rule(result, name)
    if rdap is not None:  # an IP literal: no lookup
        assert rdap.removeprefix(host.base_url) not in {f.target for f in host.fetches_since(mark)}


def test_the_lint_never_follows_a_redirect(host: MetadataHost, state: Path) -> None:
    url = _serve(host, "lint-redirected")
    options = LiveOptions(TestCA.load_or_create(state).cert_path, 5.0, True)
    mark = host.mark()
    lint_url(url, options=options)
    assert {f.target for f in host.fetches_since(mark)} == {url.removeprefix(host.base_url)}


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(["lint", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_the_command_prints_json_and_exits_1_on_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(tmp_path, "lint-client-id-mismatch", U, M)
    code, out, _ = _cli(capsys, str(path), "--url", U, "--json")
    report = json.loads(out)
    assert code == 1 and report["exit_code"] == 1
    assert set(report) == {
        "schema",
        "source",
        "url",
        "live",
        "profile",
        "exit_code",
        "problem",
        "counts",
        "findings",
    }
    assert report["schema"] == "cimd-conformance-lint/1" and report["url"] == U
    assert report["counts"] == {"error": 1, "warning": 0, "info": 0}
    assert set(report["findings"][0]) == {"rule", "severity", "where", "message", "fix"}


def test_the_command_takes_the_url_from_client_id_and_passes_warnings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(tmp_path, "lint-no-auth-method", U, M)
    code, out, _ = _cli(capsys, str(path))
    assert code == 0
    assert "warning CIMD-PUB-09" in out and U in out and "passes" in out


def test_not_json_is_the_documents_error_not_a_failure_to_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(tmp_path, "lint-not-json", U, M)
    code, out, _ = _cli(capsys, str(path))
    assert code == 1 and "error   CIMD-PUB-04" in out


def test_what_cannot_be_linted_exits_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _cli(capsys, str(tmp_path / "absent.json"))
    assert code == 2 and not out and "cannot read the file" in err and err.count("\n") == 1
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    code, out, _ = _cli(capsys, f"https://127.0.0.1:{port}/c.json", "--json", "--timeout", "3")
    assert code == 2 and json.loads(out)["problem"]
    code, _, err = _cli(capsys, U, "--url", U)
    assert code == 2 and "--url goes with a FILE" in err
    code, _, err = _cli(capsys, U, "--ca", str(tmp_path / "none.pem"))
    assert code == 2 and "no such file" in err


def test_a_url_breaking_pub_01_is_not_fetched(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _cli(capsys, "http://127.0.0.1:9/client.json")
    assert code == 1 and "CIMD-PUB-01" in out and "not fetched" in out


def test_a_special_use_ip_literal_is_an_error_even_in_a_file(tmp_path: Path) -> None:
    url = "https://10.1.2.3/oauth/client.json"
    path = _write(tmp_path, "lint-clean", url, "https://10.1.2.3")
    result = lint_file(path)
    assert _fired(result) == {("CIMD-PUB-14", "error")}
    assert "Private-Use (RFC 1918)" in result.findings[0].message
    assert lint_file(path, allow_special_use=True).findings == []


def test_a_password_in_the_url_is_never_printed(tmp_path: Path) -> None:
    url = "https://app:hunter2@client.example/oauth/client.json"
    result = lint_file(_write(tmp_path, "lint-clean", url, M))
    assert _fired(result) == {("CIMD-PUB-01", "error")}
    assert "hunter2" not in json.dumps(result.to_json()) + result.render_text()


def test_a_body_without_end_is_cut_off_and_reported(host: MetadataHost, state: Path) -> None:
    url = host.new_client_url()
    host.serve(url, Hosting.endless_stream({"client_id": url}))
    options = LiveOptions(TestCA.load_or_create(state).cert_path, 5.0, True)
    result = lint_url(url, options=options)
    cut_off = [f for f in result.findings if f.rule in ("CIMD-PUB-13", "CIMD-PUB-04")]
    assert result.problem is None and result.exit_code == 1
    assert len(cut_off) == 2 and all("stopped reading" in f.message for f in cut_off)


def test_a_host_that_never_answers_is_left_within_the_time_limit(
    host: MetadataHost, state: Path
) -> None:
    url = host.new_client_url()
    host.serve(url, Hosting.silent(cap_s=30))
    options = LiveOptions(TestCA.load_or_create(state).cert_path, 1.0, True)
    started = time.monotonic()
    result = lint_url(url, options=options)
    assert result.exit_code == 2 and "did not answer in time" in (result.problem or "")
    assert time.monotonic() - started < 5


AS_SIDE = [(kind, name) for kind in ("documents", "variants") for name in corpus.names(kind)]


@pytest.mark.parametrize(("kind", "name"), AS_SIDE)
def test_the_lint_agrees_with_the_as_side_corpus(tmp_path: Path, kind: str, name: str) -> None:
    """A document every AS must accept has no lint error; one it must refuse has a finding."""
    expect = corpus.manifest()[kind][name]["expect"]
    path = tmp_path / "client.json"
    path.write_text(json.dumps(corpus.load(name, client_id=U, metadata_host=M)), "utf-8")
    severities = {f.severity for f in lint_file(path, url=U).findings}
    if expect == "accept":
        assert "error" not in severities
    elif expect == "refuse":
        assert severities & {"error", "warning"}


def test_a_huge_file_is_read_up_to_the_cap(tmp_path: Path) -> None:
    path = tmp_path / "huge.json"
    path.write_bytes(b" " * 2_000_000)
    result = lint_file(path, url=U)
    assert _fired(result) == {("CIMD-PUB-13", "warning"), ("CIMD-PUB-04", "error")}
    assert result.exit_code == 1


def test_the_command_lints_a_served_document_with_the_test_ca(
    host: MetadataHost, state: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = _serve(host, "lint-clean-served")
    ca = str(TestCA.load_or_create(state).cert_path)
    code, out, _ = _cli(capsys, url, "--ca", ca, "--allow-special-use", "--json", "--no-rdap")
    report = json.loads(out)
    assert code == 0 and report["live"] and report["findings"] == [] and report["url"] == url
    code, out, _ = _cli(capsys, url, "--ca", ca)  # a production host may not be loopback
    assert code == 1 and "error   CIMD-PUB-14" in out
    code, out, _ = _cli(capsys, url, "--allow-special-use")  # without the CA: not trusted
    assert code == 1 and "CIMD-PUB-14" in out and "does not verify" in out
