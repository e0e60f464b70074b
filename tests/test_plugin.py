"""The pytest plugin, exercised in pytest projects of its own (pytester).

Each standalone fixture is used alone, with real parts: the test CA, the metadata host on
loopback, the callback listener, Chromium, the reference AS as a child process. Then the
run itself: how a check's ending becomes a verdict and an exit code, the reports the
collector writes, and the one function that turns options into a RunConfig.
"""

from __future__ import annotations

import json
import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from conformance import cli, pytest_run, run_command
from conformance.plugin import CimdRun, ahead, options_config
from conformance.report import writers
from conformance.report.model import Report
from conformance.run.options import RunOptionError, run_config
from conformance.run.state import RunConfig
from conformance.target.deadline import Limits
from conformance.target.pacing import Pacing

pytest_plugins = ["pytester"]

README = Path(__file__).resolve().parent.parent / "README.md"
CLOSED = "https://127.0.0.1:9"  # nothing listens there; checks below never contact it


def _plugin_args() -> list[str]:
    """The plugin (explicitly where entry points are not loaded), without pytest-asyncio."""
    explicit = (
        ["-p", "conformance.plugin"] if os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD") else []
    )
    return [*explicit, "-p", "no:asyncio", "-p", "no:cacheprovider"]


@pytest.fixture
def state(tmp_path: Path) -> list[str]:
    """Options that keep the test CA in this test's own state directory."""
    return [*_plugin_args(), "--cimd-state-dir", str(tmp_path / "state")]


# --- each fixture alone -------------------------------------------------------------------


def test_ca_fixture_alone(pytester: pytest.Pytester, state: list[str], tmp_path: Path) -> None:
    pytester.makepyfile(
        f"""
        from pathlib import Path

        def test_ca(cimd_ca):
            assert cimd_ca.cert_path == Path({str(tmp_path / "state")!r}) / "ca.pem"
            assert cimd_ca.cert_pem().startswith(b"-----BEGIN CERTIFICATE-----")
        """
    )
    pytester.runpytest(*state).assert_outcomes(passed=1)


def test_metadata_host_fixture_alone(pytester: pytest.Pytester, state: list[str]) -> None:
    pytester.makepyfile(
        """
        import ssl

        import httpx

        def test_serves_and_logs(cimd_metadata_host, cimd_ca):
            url = cimd_metadata_host.new_client_url()
            cimd_metadata_host.serve_document(url, {"client_id": url})
            trust = ssl.create_default_context(cafile=str(cimd_ca.cert_path))
            with httpx.Client(verify=trust, trust_env=False, timeout=10) as client:
                assert client.get(url).json() == {"client_id": url}
            assert url.startswith("https://127.0.0.1:")
            assert cimd_metadata_host.fetch_count(url) == 1
        """
    )
    pytester.runpytest(*state).assert_outcomes(passed=1)


def test_callback_fixture_alone(pytester: pytest.Pytester, state: list[str]) -> None:
    pytester.makepyfile(
        """
        import httpx

        def test_receives(cimd_callback):
            httpx.get(cimd_callback.url("/cb") + "?code=c1&state=s", trust_env=False, timeout=10)
            assert [c.params for c in cimd_callback.received("/cb")] == [
                {"code": "c1", "state": "s"}
            ]
        """
    )
    pytester.runpytest(*state).assert_outcomes(passed=1)


@pytest.mark.browser
def test_chromium_fixture_alone(pytester: pytest.Pytester, state: list[str]) -> None:
    """Chromium trusts the test CA: it opens a metadata host page without a certificate error."""
    pytester.makepyfile(
        """
        def test_opens_a_page_on_the_metadata_host(cimd_chromium, cimd_metadata_host):
            url = cimd_metadata_host.new_client_url()
            cimd_metadata_host.serve_document(url, {"client_name": "seen in chromium"})
            context = cimd_chromium.new_context()
            try:
                page = context.new_page()
                response = page.goto(url)
                assert response is not None and response.status == 200
                assert "seen in chromium" in page.content()
            finally:
                context.close()
            assert cimd_chromium.version
        """
    )
    # its own process: the browser sets NODE_EXTRA_CA_CERTS for its driver
    result = pytester.runpytest_subprocess(*state, timeout=180)
    result.assert_outcomes(passed=1)


def test_reference_as_fixture_alone(pytester: pytest.Pytester, state: list[str]) -> None:
    pytester.makeconftest(
        """
        import pytest
        from conformance.plugin import ReferenceOptions

        @pytest.fixture(scope="session")
        def cimd_reference_as_options():
            return ReferenceOptions(variants=("trailing-slash-issuer",))
        """
    )
    pytester.makepyfile(
        """
        import ssl

        import httpx

        def test_serves_its_metadata(cimd_reference_as, cimd_ca):
            issuer = cimd_reference_as.issuer
            assert issuer.endswith("/") and cimd_reference_as.ready["variants"] == [
                "trailing-slash-issuer"
            ]
            trust = ssl.create_default_context(cafile=str(cimd_ca.cert_path))
            url = issuer.rstrip("/") + "/.well-known/oauth-authorization-server"
            with httpx.Client(verify=trust, trust_env=False, timeout=10) as client:
                metadata = client.get(url).json()
            assert metadata["issuer"] == issuer
            assert metadata["client_id_metadata_document_supported"] is True
        """
    )
    pytester.runpytest(*state).assert_outcomes(passed=1)


def test_suite_is_composed_of_the_fixtures_a_conftest_overrides(
    pytester: pytest.Pytester, state: list[str]
) -> None:
    """Overriding cimd_ca changes the run's CA and the metadata host's certificate; the
    browser is taken from cimd_chromium, and only when the run first needs it."""
    pytester.makeconftest(
        """
        import pytest
        from mock_servers.pki import TestCA

        STARTED = []

        @pytest.fixture(scope="session")
        def cimd_ca(tmp_path_factory):
            return TestCA.load_or_create(tmp_path_factory.mktemp("own-ca"))

        @pytest.fixture(scope="session")
        def cimd_chromium():
            STARTED.append("chromium")
            return "the overriding browser"
        """
    )
    pytester.makepyfile(
        """
        import ssl

        import httpx

        from conftest import STARTED

        def test_composition(cimd_suite, cimd_ca, cimd_shared_metadata_host, cimd_callback):
            assert cimd_ca.cert_path.parent.name.startswith("own-ca")
            assert cimd_suite.ca is cimd_ca
            assert cimd_suite.metadata_host is cimd_shared_metadata_host
            assert cimd_suite.callback is cimd_callback
            url = cimd_shared_metadata_host.new_client_url()
            cimd_shared_metadata_host.serve_document(url, {})
            trust = ssl.create_default_context(cafile=str(cimd_ca.cert_path))
            with httpx.Client(verify=trust, trust_env=False, timeout=10) as client:
                assert client.get(url).status_code == 200
            assert STARTED == []
            assert cimd_suite.browser == "the overriding browser"
            assert cimd_suite.browser == "the overriding browser"
            assert STARTED == ["chromium"]
        """
    )
    pytester.runpytest(*state).assert_outcomes(passed=1)


def _python_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, re.DOTALL)


def test_readme_python_blocks_compile() -> None:
    for block in _python_blocks(README.read_text()):
        compile(block, "README.md", "exec")


@pytest.mark.browser
def test_readme_fixture_examples_run_as_written(
    pytester: pytest.Pytester, state: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    section = README.read_text().split("### Fixtures, one at a time", 1)[1].split("\n## ", 1)[0]
    blocks = _python_blocks(section)
    assert [b.splitlines()[0].split(":")[0] for b in blocks] == [
        "# cimd_ca",
        "# cimd_metadata_host",
        "# cimd_callback",
        "# cimd_chromium",
        "# cimd_reference_as",
        "# conftest.py",
    ]
    pytester.makeconftest(blocks.pop())
    for number, block in enumerate(blocks):
        pytester.makepyfile(**{f"test_readme_{number}": block})
    monkeypatch.setenv("NO_PROXY", "*")  # the examples use httpx as users would
    result = pytester.runpytest_subprocess(*state, timeout=300)
    result.assert_outcomes(passed=len(blocks))


def test_a_projects_own_check_never_runs_ahead_of_its_turn(pytester: pytest.Pytester) -> None:
    """The suite's plain-HTTP checks may run in a worker thread; a project's own never do."""
    pytester.makeini(f"[pytest]\naddopts = {' '.join(_plugin_args())}\n")
    (item,) = pytester.getitems(
        """
        import pytest

        @pytest.mark.requirement("CIMD-DOC-02")
        def test_mine(cimd_target, cimd_metadata_host):
            pass
        """
    )
    assert not ahead.may_run_ahead(item)


# --- verdicts, exit codes, reports ----------------------------------------------------------

CHECK = '''
import pytest
from conformance.catalog.verdicts import HarnessError, NonConformance, NotApplicable

@pytest.mark.requirement("CIMD-FETCH-04")
def test_the_check(cimd_issuer):
    """Sends a client_id URL that redirects.

    Expects: the redirect target is never fetched.
    """
    {body}
'''


@pytest.mark.parametrize(
    ("body", "verdict", "expected", "observed", "outcome", "code"),
    [
        ("pass", "pass", "the redirect target is never fetched.", "as expected", "passed", 0),
        (
            'raise NonConformance(expected="never fetched", observed="fetched twice")',
            "fail",
            "never fetched",
            "fetched twice",
            "failed",
            1,
        ),
        (
            'raise AssertionError("the target followed it")',
            "fail",
            "the redirect target is never fetched.",
            "the target followed it",
            "failed",
            1,
        ),
        (
            'raise NotApplicable("the target has no such endpoint")',
            "not-applicable",
            "the redirect target is never fetched.",
            "the target has no such endpoint",
            "skipped",
            0,
        ),
        (
            'raise HarnessError("the browser did not start")',
            "harness-error",
            "the redirect target is never fetched.",
            "the browser did not start",
            "failed",
            2,
        ),
        (
            'raise KeyError("x")',
            "harness-error",
            "the redirect target is never fetched.",
            "the harness failed: KeyError: 'x'",
            "failed",
            2,
        ),
    ],
    ids=["pass", "non-conformance", "assert", "not-applicable", "harness-error", "other"],
)
def test_a_check_ending_becomes_a_verdict_and_an_exit_code(
    pytester: pytest.Pytester,
    tmp_path: Path,
    body: str,
    verdict: str,
    expected: str,
    observed: str,
    outcome: str,
    code: int,
) -> None:
    pytester.makepyfile(CHECK.format(body=body))
    out = tmp_path / "out"
    result = pytester.runpytest(
        *_plugin_args(), "--assert=plain", "--cimd-issuer", CLOSED, "--cimd-report-dir", str(out)
    )
    result.assert_outcomes(**{outcome: 1})
    data = json.loads((out / "report.json").read_text())
    (check,) = data["results"]
    assert (check["requirement"], check["verdict"]) == ("CIMD-FETCH-04", verdict)
    assert (check["expected"], check["observed"]) == (expected, observed)
    assert data["exit_code"] == code == Report.load(out / "report.json").exit_code()


def test_the_run_object_hands_its_reports_back(pytester: pytest.Pytester, tmp_path: Path) -> None:
    """The command line's way: a CimdRun given to pytest, the reports read from it."""
    pytester.makepyfile(CHECK.format(body='raise NonConformance(expected="e", observed="o")'))
    run = CimdRun(RunConfig(issuers=(CLOSED,), report_dir=tmp_path / "out"))
    pytester.runpytest(*_plugin_args(), plugins=[run]).assert_outcomes(failed=1)
    (report,) = run.reports
    assert report.issuer == CLOSED and report.failed_requirements() == {"CIMD-FETCH-04"}
    assert writers.combined_exit_code(run.reports) == 1
    assert Report.load(tmp_path / "out" / "report.json").to_json() == report.to_json()


def test_the_collector_writes_every_format_per_target(
    pytester: pytest.Pytester, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two targets: a directory each, an index, JSON, JUnit, HTML and a registered format."""
    monkeypatch.setitem(
        writers.FORMATS,
        "text",
        writers.Format(lambda report, directory: f"{report.issuer}\n", "report.txt"),
    )
    pytester.makepyfile(CHECK.format(body='raise NotApplicable("n/a here")'))
    out, other = tmp_path / "out", "https://127.0.0.1:9/tenant"
    result = pytester.runpytest(
        *_plugin_args(),
        "--cimd-issuer",
        CLOSED,
        "--cimd-issuer",
        other,
        "--cimd-report-dir",
        str(out),
    )
    result.assert_outcomes(skipped=2)
    index = json.loads((out / "index.json").read_text())
    # one check of our own, not the scenarios: each target's run is partial, and says why
    chosen = {
        label: Report.load(out / label / "report.json") for label in ("127.0.0.1-9", "tenant")
    }
    assert index == {
        "127.0.0.1-9": {
            "issuer": CLOSED,
            "exit_code": 0,
            "partial": True,
            "selection": chosen["127.0.0.1-9"].selection,
        },
        "tenant": {
            "issuer": other,
            "exit_code": 0,
            "partial": True,
            "selection": chosen["tenant"].selection,
        },
    }
    assert "the scenario modules given to pytest" in chosen["tenant"].selection["meaning"]
    for label, issuer in (("127.0.0.1-9", CLOSED), ("tenant", other)):
        directory = out / label
        assert Report.load(directory / "report.json").issuer == issuer
        suite = ET.parse(directory / "junit.xml").getroot().find("testsuite")
        assert suite is not None and suite.get("skipped") == "1"
        assert issuer in (directory / "report.html").read_text()
        assert (directory / "report.txt").read_text() == f"{issuer}\n"
    result.stdout.fnmatch_lines([f"cimd-conformance: {CLOSED} [[]latest]*"])


def test_a_baseline_option_is_applied(pytester: pytest.Pytester, tmp_path: Path) -> None:
    known = tmp_path / "baseline.toml"
    known.write_text('[[known-failure]]\nrequirement = "CIMD-FETCH-04"\nreason = "tracked"\n')
    pytester.makepyfile(CHECK.format(body='raise NonConformance(expected="e", observed="o")'))
    out = tmp_path / "out"
    pytester.runpytest(
        *_plugin_args(),
        "--cimd-issuer",
        CLOSED,
        "--cimd-report-dir",
        str(out),
        "--cimd-baseline",
        str(known),
    )
    report = Report.load(out / "report.json")
    assert report.baseline["known"] == ["CIMD-FETCH-04"] and report.exit_code() == 0


def test_a_bad_option_is_a_usage_error_naming_it(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_nothing():\n    pass\n")
    result = pytester.runpytest(*_plugin_args(), "--cimd-issuer", CLOSED, "--cimd-param", "scope")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--cimd-param: takes key=value, got 'scope'*"])


def test_pytest_dying_before_any_check_is_exit_2_with_a_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """No report came back from pytest (it stopped on a usage error): exit 2, a report."""
    monkeypatch.setenv("PYTEST_ADDOPTS", "--no-such-option")
    code = cli.main(
        [
            "run",
            "--issuer",
            CLOSED,
            "--report-dir",
            str(tmp_path / "r"),
            "--state-dir",
            str(tmp_path),
        ]
    )
    assert code == 2
    error = Report.load(tmp_path / "r" / "report.json").preflight["error"]
    assert error == "the run ended before any check (pytest exit status 4)"
    assert "exit code 2" in capsys.readouterr().out


@pytest.mark.browser
def test_pytest_runs_the_checks_with_the_options_alone(
    pytester: pytest.Pytester, issuer: str, state_dir: Path, tmp_path: Path
) -> None:
    """``pytest --pyargs conformance.scenarios --cimd-issuer URL``, as README shows it."""
    out = tmp_path / "out"
    result = pytester.runpytest_subprocess(
        *_plugin_args(),
        "--pyargs",
        "conformance.scenarios",
        "-k",
        "advertises_cimd_support",
        "--cimd-issuer",
        issuer,
        "--cimd-state-dir",
        str(state_dir),
        "--cimd-report-dir",
        str(out),
        timeout=300,
    )
    result.assert_outcomes(passed=1)
    report = Report.load(out / "report.json")
    assert [(r.requirement, r.verdict) for r in report.results] == [("CIMD-DISC-01", "pass")]
    assert report.preflight["error"] is None and report.preflight["login"]
    assert report.environment["browser"] and report.exit_code() == 0


RELEASE_CHECK = """
import pytest

@pytest.mark.requirement("CIMD-DISC-01")
def test_the_check(cimd_suite, cimd_target, cimd_issuer):
    \"\"\"Asks for the target's metadata on the session.

    Expects: the targets before this one have closed their sessions.
    \"\"\"
    cimd_target.client.get(cimd_target.target.metadata_url)  # a connection kept for reuse
    before = cimd_suite.config.issuers.index(cimd_issuer)
    done = [run for issuer, run in cimd_suite.targets.items() if issuer != cimd_issuer]
    assert len(done) == before and all(run.session.client.is_closed for run in done)
    assert not cimd_target.client.is_closed
"""


@pytest.mark.browser
def test_a_targets_connections_close_when_its_checks_are_done(
    pytester: pytest.Pytester, state_dir: Path, tmp_path: Path
) -> None:
    """A run over many targets (a fault matrix) holds one target's connections at a time."""
    from conformance.target.reference import ReferenceTarget

    pytester.makepyfile(RELEASE_CHECK)
    with ReferenceTarget(matrix=True, state_dir=state_dir) as target:
        issuers = list(target.issuers.values())[:2]
        result = pytester.runpytest_subprocess(
            *_plugin_args(),
            *[arg for issuer in issuers for arg in ("--cimd-issuer", issuer)],
            "--cimd-state-dir",
            str(state_dir),
            "--cimd-report-dir",
            str(tmp_path / "out"),
            timeout=300,
        )
    result.assert_outcomes(passed=2)


# --- options -> RunConfig -------------------------------------------------------------------


def test_pytest_options_and_the_command_line_make_the_same_config(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    ca = tmp_path / "target-ca.pem"
    ca.write_text("not read here")
    common = {
        "report-dir": str(tmp_path / "r"),
        "profile": "mcp-2025-11-25",
        "user": "bob",
        "password": "builder-test-only",
        "browser": "/usr/bin/chromium",
        "state-dir": str(tmp_path / "s"),
        "exchange-timeout": "3",
        "run-timeout": "600",
    }
    repeated = {"param": ["scope=openid", "prompt=consent"], "pacing": ["retries=2"]}
    issuers = ["https://a.test", "https://b.test/t"]

    def argv(prefix: str) -> list[str]:
        flags = [f"--{prefix}strict"]
        flags += [x for k, v in common.items() for x in (f"--{prefix}{k}", v)]
        flags += [x for k, vs in repeated.items() for v in vs for x in (f"--{prefix}{k}", v)]
        return flags

    config = pytester.parseconfigure(
        *_plugin_args(),
        *[x for i in issuers for x in ("--cimd-issuer", i)],
        "--cimd-target-ca",
        str(ca),
        *argv("cimd-"),
    )
    from_pytest = options_config(config)
    args = cli.parser().parse_args(["run", "--target-ca", str(ca), *argv("")])
    run_command._resolve(args, None)
    from_cli = pytest_run.run_config_for(args, issuers)
    assert from_pytest == from_cli
    assert from_cli.issuers == tuple(issuers) and from_cli.username == "bob"
    assert from_cli.extra_params == (("scope", "openid"), ("prompt", "consent"))
    assert from_cli.pacing == Pacing(retries=2)
    assert from_cli.limits == Limits(exchange_s=3.0, check_s=Limits().check_s, run_s=600.0)
    assert from_cli.strict and from_cli.target_ca == ca


def test_run_config_defaults_and_combined_options() -> None:
    assert run_config({}) == RunConfig()
    config = run_config(
        {
            "metadata_public_url": "https://m.example.test",
            "metadata_untrusted_public_url": "https://u.example.test",
            "login": {"username_selector": "#user"},
            "mcp_discovery": '{"resource": "https://mcp.test/mcp"}',
            "metadata_port": 8443,
        }
    )
    assert config.public is not None and config.public.tls == "https://m.example.test"
    assert config.public.plain is None and config.public.untrusted == "https://u.example.test"
    assert config.login == (("username_selector", "#user"),)
    assert config.mcp == {"resource": "https://mcp.test/mcp"}
    assert run_config({"mcp_discovery": {"resource": "x"}}).mcp == {"resource": "x"}
    assert config.metadata_port == 8443


def test_run_config_names_the_option_it_cannot_use() -> None:
    with pytest.raises(RunOptionError, match="takes key=value, got 'scope'") as caught:
        run_config({"param": ["scope"]})
    assert caught.value.option.flag == "--cimd-param"
    with pytest.raises(RunOptionError, match="retries") as caught:
        run_config({"pacing": ["retries=many"]})
    assert caught.value.option.name == "pacing"
    with pytest.raises(KeyError, match="usr"):
        run_config({"usr": "alice"})
