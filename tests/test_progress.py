"""Progress on long runs, ``--list``, and partial runs (``--only``, ``-k``).

The listing and the selection go through pytest's real collection of the scenarios; the
progress display runs inside pytest projects of its own (pytester); the partial run scores
the reference AS on its CIMD-DISC rows through the command line, as a user runs it.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conformance import cli
from conformance.catalog import coverage
from conformance.plugin import CimdRun
from conformance.plugin.progress import Progress, clock, resolve
from conformance.plugin.selection import matches
from conformance.report import console, html
from conformance.report.model import CheckResult, Report
from conformance.run.state import RunConfig

pytest_plugins = ["pytester"]

CLI = [sys.executable, "-m", "conformance.cli"]
CLOSED = "https://127.0.0.1:9"  # nothing listens there; the checks below never contact it
LINE = re.compile(r"^\[(\d+)/(\d+)\] (\S+::\S+) ([A-Z]+-[A-Z]+-\d\d) ([a-z-]+) (\d+\.\d\d)s$")
CHECKS = """
import pytest
from conformance.catalog.verdicts import NonConformance

@pytest.mark.requirement("CIMD-FETCH-04")
def test_redirects(cimd_issuer):
    pass

@pytest.mark.requirement("CIMD-DOC-03")
def test_client_id_matches(cimd_issuer):
    raise NonConformance(expected="the same URL", observed="another")

@pytest.mark.requirement("CIMD-DOC-05")
def test_ignored_fields(cimd_issuer):
    pass
"""


def _plugin_args() -> list[str]:
    explicit = (
        ["-p", "conformance.plugin"] if os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD") else []
    )
    return [*explicit, "-p", "no:asyncio", "-p", "no:cacheprovider"]


# --- --list ---------------------------------------------------------------------------------


def test_list_prints_every_check_with_its_requirement_and_tier(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """No target named, none contacted, no report written; exit 0."""
    out = tmp_path / "reports"
    assert cli.main(["run", "--list", "--report-dir", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["CHECK", "REQUIREMENT", "TIER", "TITLE"]
    assert re.fullmatch(r"\d+ check\(s\), \d+ requirement\(s\) \[latest\]", lines[-1])
    rows = {line.split()[1] for line in lines[1:-1]}
    assert rows == coverage.checked_by_this_version()
    assert re.search(
        r"^test_discovery::test_metadata_advertises_cimd_support +CIMD-DISC-01 +R +\S",
        "\n".join(lines),
        re.MULTILINE,
    )
    assert not out.exists()


def test_list_applies_the_selection_and_the_profile(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["demo", "--list", "--only", "cimd-disc", "--only", "MCP-AUTH-10"]
    assert cli.main([*argv, "-k", "not browser", "--profile", "mcp-2025-11-25"]) == 0
    lines = capsys.readouterr().out.splitlines()
    rows = [line.split()[1] for line in lines[1:-1]]
    assert rows and all(matches(r, "CIMD-DISC") or r == "MCP-AUTH-10" for r in rows)
    assert "CIMD-DISC-04" not in rows  # its check is ..._in_the_browser
    assert lines[-1].endswith("[mcp-2025-11-25]")


# --- a selection of no check is exit 2 --------------------------------------------------------


@pytest.mark.parametrize(
    ("selection", "said"),
    [
        (["--only", "CIMD-NOPE"], "--only CIMD-NOPE matches no check"),
        (["--only", "CIMD-DISC-06"], "--only CIMD-DISC-06 matches no check"),  # untestable
        (["-k", "no_check_is_called_this"], "matches no check; see the checks with --list"),
    ],
    ids=["unknown-prefix", "row-without-check", "keyword"],
)
@pytest.mark.parametrize("listing", [False, True], ids=["run", "list"])
def test_a_selection_of_no_check_is_exit_2(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    selection: list[str],
    said: str,
    listing: bool,
) -> None:
    out = tmp_path / "r"
    argv = ["run", "--issuer", CLOSED, "--report-dir", str(out), "--state-dir", str(tmp_path)]
    code = cli.main([*argv, *selection, *(["--list"] if listing else [])])
    assert code == 2
    assert said in capsys.readouterr().err
    if (out / "report.json").exists():  # -k is known to match nothing only once collected
        report = Report.load(out / "report.json")
        assert said in report.preflight["error"] and not report.results
        assert report.exit_code() == 2


def test_the_plugin_refuses_a_selection_of_no_check(pytester: pytest.Pytester) -> None:
    """``pytest --cimd-issuer URL --cimd-only X``: a usage error, never "no tests ran"."""
    pytester.makepyfile(CHECKS)
    result = pytester.runpytest(*_plugin_args(), "--cimd-issuer", CLOSED, "-k", "nothing_here")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*the selection (-k 'nothing_here') matches no check*"])


# --- partial runs are never conformant --------------------------------------------------------


def test_a_selected_run_is_partial_and_says_how_it_was_chosen(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    pytester.makepyfile(CHECKS)
    out = tmp_path / "out"
    run = CimdRun(RunConfig(issuers=(CLOSED,), report_dir=out, only=("CIMD-DOC-05",)))
    pytester.runpytest(*_plugin_args(), plugins=[run]).assert_outcomes(passed=1, deselected=2)
    (report,) = run.reports
    assert report.partial and report.exit_code() == 0
    assert report.selection["only"] == ["CIMD-DOC-05"]
    assert (report.selection["checks"], report.selection["collected"]) == (1, 3)
    assert "selected by --only CIMD-DOC-05" in report.selection["meaning"]
    text = console.render(report)
    assert "verdict: PARTIAL" in text and "verdict: CONFORMANT" not in text
    assert "  PARTIAL        partial run: 1 of 3 checks" in text
    page = html.render(report)
    assert "Partial: no failure among the selected checks" in page and ">Conformant<" not in page
    written = json.loads((out / "report.json").read_text())
    assert written["partial"] is True and written["selection"] == report.selection
    assert Report.load(out / "report.json").partial


def test_a_partial_run_reports_the_failures_it_found(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    pytester.makepyfile(CHECKS)
    out = tmp_path / "out"
    result = pytester.runpytest(
        *_plugin_args(), "--cimd-issuer", CLOSED, "--cimd-report-dir", str(out), "-k", "client"
    )
    result.assert_outcomes(failed=1, deselected=2)
    report = Report.load(out / "report.json")
    assert report.partial and report.selection["keyword"] == "client"
    assert report.exit_code() == 1
    assert "verdict: NON-CONFORMANT" in console.render(report)


def test_a_whole_run_is_not_partial(pytester: pytest.Pytester, tmp_path: Path) -> None:
    """Every check of the project collected and none left out: no selection record."""
    run = CimdRun(RunConfig(issuers=(CLOSED,), report_dir=tmp_path / "out"))
    pytester.makepyfile(CHECKS)
    pytester.runpytest(*_plugin_args(), plugins=[run])
    (report,) = run.reports
    # three checks are not the 100-odd of the scenarios: a subset of the modules is partial
    assert "the scenario modules given to pytest" in report.selection["meaning"]
    whole = Report(CLOSED, "latest", False, "0", started="")
    whole.results = [CheckResult("CIMD-DOC-05", "c", "t", "R", "pass")]
    assert not whole.partial and "verdict: CONFORMANT" in console.render(whole)
    assert whole.to_json()["partial"] is False


def test_a_targeted_issuer_is_partial(pytester: pytest.Pytester, tmp_path: Path) -> None:
    pytester.makepyfile(CHECKS)
    config = RunConfig(
        issuers=(CLOSED,), report_dir=tmp_path / "out", judge_only={CLOSED: ["CIMD-DOC-03"]}
    )
    run = CimdRun(config)
    pytester.runpytest(*_plugin_args(), plugins=[run]).assert_outcomes(failed=1, deselected=2)
    (report,) = run.reports
    assert report.selection["judge_only"] == ["CIMD-DOC-03"]
    assert "a targeted matrix" in report.selection["meaning"]


# --- the progress display -------------------------------------------------------------------


def test_lines_show_each_check_once_with_its_verdict_and_no_escape_codes(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    pytester.makepyfile(CHECKS)
    shown = io.StringIO()
    run = CimdRun(
        RunConfig(issuers=(CLOSED,), report_dir=tmp_path / "out"),
        progress=Progress("lines", stream=shown),
    )
    result = pytester.runpytest(
        *_plugin_args(), "-q", "-o", "console_output_style=classic", plugins=[run]
    )
    result.assert_outcomes(passed=2, failed=1)
    text = shown.getvalue()
    assert "\x1b" not in text and "\r" not in text
    first, *checks, last = text.splitlines()
    assert first == "cimd-conformance: 3 check(s) on 1 target(s)"
    parsed = [LINE.fullmatch(line) for line in checks]
    assert all(parsed), checks
    assert [m.groups()[:5] for m in parsed if m] == [
        (
            "1",
            "3",
            "test_lines_show_each_check_once_with_its_verdict_and_no_escape_codes::test_redirects",
            "CIMD-FETCH-04",
            "pass",
        ),
        (
            "2",
            "3",
            "test_lines_show_each_check_once_with_its_verdict_and_no_escape_codes"
            "::test_client_id_matches",
            "CIMD-DOC-03",
            "fail",
        ),
        (
            "3",
            "3",
            "test_lines_show_each_check_once_with_its_verdict_and_no_escape_codes"
            "::test_ignored_fields",
            "CIMD-DOC-05",
            "pass",
        ),
    ]
    assert re.fullmatch(r"cimd-conformance: 3 of 3 check\(s\) ran in 0:\d\d", last)
    # pytest's own progress letters are replaced, its counts kept
    assert not any(re.fullmatch(r"[.Fs]+", line) for line in result.outlines)


def test_lines_name_the_target_when_there_are_several(
    pytester: pytest.Pytester, tmp_path: Path
) -> None:
    pytester.makepyfile(CHECKS)
    shown = io.StringIO()
    other = "https://127.0.0.1:9/tenant"
    config = RunConfig(issuers=(CLOSED, other), report_dir=tmp_path / "out")
    run = CimdRun(config, progress=Progress("lines", stream=shown))
    pytester.runpytest(*_plugin_args(), plugins=[run]).assert_outcomes(passed=4, failed=2)
    checks = shown.getvalue().splitlines()[1:-1]
    assert len(checks) == 6
    assert {line.rsplit(" ", 1)[1] for line in checks} == {"127.0.0.1-9", "tenant"}


def test_the_terminal_line_is_redrawn_in_place_and_cleared(
    pytester: pytest.Pytester, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "300")
    pytester.makepyfile(CHECKS.replace("    pass\n", "    import time; time.sleep(0.3)\n", 1))
    shown = io.StringIO()
    other = "https://127.0.0.1:9/tenant"
    config = RunConfig(issuers=(CLOSED, other), report_dir=tmp_path / "out")
    progress = Progress("tty", stream=shown, tick_s=0.05)
    pytester.runpytest(*_plugin_args(), plugins=[CimdRun(config, progress=progress)])
    text = shown.getvalue()
    frames = text.split("\r\x1b[K")
    assert len(frames) > 8 and "\n" not in "".join(frames[:-1])
    assert any(
        re.fullmatch(
            r"cimd-conformance 0/6 done, 6 left, 0:00 \| 127\.0\.0\.1-9 0/3 \| "
            r"now CIMD-FETCH-04 \S+::test_redirects \(0:00\)",
            frame,
        )
        for frame in frames
    ), frames[:5]
    assert re.fullmatch(r"cimd-conformance: 6 of 6 check\(s\) ran in 0:\d\d\n", frames[-1])


def test_the_terminal_line_fits_the_width() -> None:
    progress = Progress("tty", stream=io.StringIO())
    line = progress.status_line(width=30)
    assert len(line) == 30 and line.endswith("...")


def test_auto_picks_lines_off_a_terminal_and_off_with_verbose(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setenv("TERM", "xterm")
    assert resolve("auto", stream=Terminal()) == "tty"
    assert resolve("auto", stream=io.StringIO()) == "lines"
    assert resolve("auto", verbose=True, stream=Terminal()) == "off"
    assert resolve("lines", stream=Terminal()) == "lines"
    monkeypatch.setenv("TERM", "dumb")
    assert resolve("auto", stream=Terminal()) == "lines"
    assert (clock(5), clock(65), clock(3725)) == ("0:05", "1:05", "1:02:05")


# --- a partial run against the reference AS ---------------------------------------------------


@pytest.mark.browser
def test_a_partial_run_against_the_reference_as(tmp_path: Path, state_dir: Path) -> None:
    """``demo --only CIMD-DISC``, piped: one line per check, exit 0, verdict PARTIAL."""
    out = tmp_path / "r"
    done = subprocess.run(
        [
            *CLI,
            "demo",
            "--only",
            "CIMD-DISC",
            "--report-dir",
            str(out),
            "--state-dir",
            str(state_dir),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "verdict: PARTIAL" in done.stdout and "verdict: CONFORMANT" not in done.stdout
    assert "\x1b" not in done.stdout + done.stderr
    assert not [line for line in done.stderr.splitlines() if line.startswith("[")]
    lines = [LINE.fullmatch(line) for line in done.stdout.splitlines() if line.startswith("[")]
    checked = sorted(r for r in coverage.checked_by_this_version() if matches(r, "CIMD-DISC"))
    assert sorted(m.group(4) for m in lines if m) == checked
    report = Report.load(out / "report.json")
    assert report.partial and report.selection["only"] == ["CIMD-DISC"]
    assert report.selection["requirements"] == checked
    assert {r.requirement for r in report.results if r.check != "derived"} == set(checked)
    assert report.exit_code() == 0
