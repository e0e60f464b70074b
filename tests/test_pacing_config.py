"""Pacing is configured like the other run options: target file, ``--pacing``, plugin option.

The metadata host sends the pacing's ``Cache-Control`` with client documents, so a target
with a fetch budget may cache instead of refetching.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from conformance import cli, pytest_run, run_command
from conformance.harness.session import ssl_context
from conformance.report.model import Report
from conformance.target.file import TargetFileError, load
from conformance.target.pacing import Pacing
from mock_servers.hosting import Hosting
from mock_servers.metadata_host import MetadataHost
from mock_servers.pki import TestCA


def test_pacing_is_parsed_from_key_value_options() -> None:
    pacing = Pacing.parse(
        [
            ("min_interval_s", "0.5"),
            ("retries", "2"),
            ("max_wait_s", "60"),
            ("backoff_s", "1"),
            ("cache_control", "max-age=600"),
        ]
    )
    assert pacing == Pacing(0.5, 2, 60.0, 1.0, "max-age=600")
    assert pacing.describe()["cache_control"] == "max-age=600"
    assert Pacing.parse([]) == Pacing()


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("retries", "-1", "retries must be a number >= 0"),
        ("retries", "1.5", "retries must be a number"),
        ("max_wait_s", "inf", "max_wait_s must be a number"),
        ("backoff_s", "soon", "backoff_s must be a number"),
        ("min_interval", "1", "unknown key 'min_interval'"),
        ("cache_control", "max-age=1\r\nx: y", "one line"),
    ],
)
def test_bad_pacing_names_the_key(key: str, value: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Pacing.parse([(key, value)])


def test_target_file_pacing_reaches_the_run_config(tmp_path: Path) -> None:
    path = tmp_path / "target.toml"
    path.write_text(
        'issuer = "https://a"\n[pacing]\nmin_interval_s = 1\nretries = 6\n'
        'cache_control = "max-age=300"\n'
    )
    spec = load(path)
    assert spec.pacing == {"min_interval_s": "1", "retries": "6", "cache_control": "max-age=300"}
    args = cli.parser().parse_args(["run", "--target", str(path), "--pacing", "retries=2"])
    run_command._resolve(args, spec)
    # the option comes after the file's value, so it wins
    assert args.pacing == [
        "min_interval_s=1",
        "retries=6",
        "cache_control=max-age=300",
        "retries=2",
    ]
    config = pytest_run.run_config_for(args, ["https://a"])
    assert config.pacing == Pacing(min_interval_s=1.0, retries=2, cache_control="max-age=300")


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ("retries = 1.5\n", "'retries' must be a whole number"),
        ('max_wait_s = "10"\n', "'max_wait_s' must be a number"),
        ("backoff_s = -1\n", r"\[pacing\] backoff_s must be a number >= 0"),
        ("wait = 1\n", r"\[pacing\]: unknown key 'wait'"),
    ],
)
def test_target_file_pacing_mistakes_name_the_key(tmp_path: Path, table: str, message: str) -> None:
    path = tmp_path / "target.toml"
    path.write_text(f'issuer = "https://a"\n[pacing]\n{table}')
    with pytest.raises(TargetFileError, match=message):
        load(path)


def test_bad_pacing_option_exits_2_with_one_line_and_a_report(tmp_path: Path) -> None:
    out = tmp_path / "out"
    code = cli.main(["demo", "--pacing", "retries=many", "--report-dir", str(out)])
    assert code == 2
    error = Report.load(out / "report.json").preflight["error"]
    assert "retries must be a number" in error and "Fix --pacing" in error


def test_metadata_host_sends_the_pacing_cache_control_with_documents(tmp_path: Path) -> None:
    ca = TestCA.load_or_create(tmp_path / "state")
    host = MetadataHost(ca, cache_control="max-age=600")
    with host:
        document = host.new_client_url()
        host.serve_document(document, {"client_id": document})
        own = host.new_client_url()
        host.serve(own, Hosting.document({}, headers=(("cache-control", "max-age=5"),)))
        refused = host.new_client_url()
        host.serve_document(refused, {}, status=404)
        with httpx.Client(verify=ssl_context(str(ca.cert_path)), timeout=10) as client:
            answers = [client.get(url).headers["cache-control"] for url in (document, own, refused)]
    assert answers == ["max-age=600", "max-age=5", "no-store"]


class _Context:
    pass


class _Page:
    def __init__(self) -> None:
        self.context = _Context()

    def is_closed(self) -> bool:
        return False


def test_a_429_in_the_browser_is_transient_and_frees_the_page() -> None:
    from conformance.browser.driver import _IDLE, _not_now
    from conformance.target.pacing import Transient

    page = _Page()
    _not_now(page, 200, None)  # type: ignore[arg-type]
    assert page.context not in _IDLE
    with pytest.raises(Transient) as caught:
        _not_now(page, 429, "3")  # type: ignore[arg-type]
    assert _IDLE[page.context].page is page  # type: ignore[index]  # the retry navigates it
    assert (caught.value.what, caught.value.retry_after) == ("HTTP 429 in the browser", 3.0)
