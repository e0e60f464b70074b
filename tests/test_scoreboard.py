"""``cimd-conformance scoreboard``: report.json files from real runs merged into one table.

One run scores the reference AS clean and with two faults (three issuers, each judged on
the two rows the faults break: ``--judge-only``), which writes one report.json per issuer;
the scoreboard must put the three side by side, each fault failing its own row only.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from conformance import __version__
from conformance.browser.driver import Browser
from conformance.cli import main
from conformance.report import scoreboard
from conformance.target.reference import ReferenceTarget
from mock_servers.pki import TestCA

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "examples" / "github-actions" / "cimd-check.sh"
FAULTS = {"allows-empty-path": "CIMD-URL-02", "allows-fragment": "CIMD-URL-04"}
RUN_TIMEOUT_S = 300


@pytest.fixture(scope="module")
def reports(state_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The report directory of one run: the clean reference AS and two faulted issuers."""
    out = tmp_path_factory.mktemp("fleet") / "reports"
    with ReferenceTarget(matrix=True, state_dir=state_dir) as target:
        clean = target.issuer
        judge = {clean: sorted(FAULTS.values())}
        judge.update({target.issuers[fault]: [row] for fault, row in FAULTS.items()})
        command = [sys.executable, "-m", "conformance.cli", "run", "--state-dir", str(state_dir)]
        for issuer in judge:
            command += ["--issuer", issuer]
        command += ["--judge-only", json.dumps(judge), "--report-dir", str(out)]
        result = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT_S,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr[-3000:]
    yield out


def _row(markdown: str, requirement: str) -> list[str]:
    line = next(ln for ln in markdown.splitlines() if ln.startswith(f"| {requirement} "))
    return [cell.strip() for cell in line.strip("|").split("|")]


def test_scoreboard_merges_the_clean_and_faulted_runs(
    reports: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    html_file, md_file = tmp_path / "board.html", tmp_path / "board.md"
    code = main(["scoreboard", str(reports), "--html", str(html_file), "--markdown", str(md_file)])
    assert code == 0, capsys.readouterr().err
    markdown = md_file.read_text()
    head = next(ln for ln in markdown.splitlines() if ln.startswith("| Requirement | Tier |"))
    labels = [cell.strip() for cell in head.strip("|").split("|")][2:]
    assert labels[0].startswith("127.0.0.1-")  # the clean issuer, labelled by host and port
    assert labels[1:] == ["faults-allows-empty-path", "faults-allows-fragment"]
    assert _row(markdown, "CIMD-URL-02")[2:] == ["pass", "**fail**", "-"]
    assert _row(markdown, "CIMD-URL-04")[2:] == ["pass", "-", "**fail**"]
    # groups in catalog order: the URL rows, then the MCP rows derived from them
    assert markdown.index("| **CIMD-URL** |") < markdown.index("| **MCP-AUTH** |")
    assert markdown.count(f"| conformant | {__version__} |") == 1
    assert markdown.count(f"| non-conformant | {__version__} |") == 2
    assert re.search(r"\| loopback \| \d{4}-\d\d-\d\d \|", markdown)
    page = html_file.read_text()
    row = re.search(r'<tr id="CIMD-URL-02">(.*?)</tr>', page, re.S)
    assert row is not None
    assert re.findall(r'class="v ([a-z-]+)"', row.group(1)) == ["pass", "fail", "not-judged"]
    assert "<link" not in page and "src=" not in page  # self-contained


def test_scoreboard_escapes_what_reports_carry(reports: Path, tmp_path: Path) -> None:
    path = next(reports.glob("faults-allows-fragment/report.json"))
    data = json.loads(path.read_text())
    data["issuer"] = "https://evil.test/<script>alert(1)</script>|x"
    data["environment"]["target_version"] = "2.4.1 `beta`"
    hostile = tmp_path / "hostile" / "report.json"
    hostile.parent.mkdir()
    hostile.write_text(json.dumps(data))
    board = scoreboard.load([hostile])
    page, markdown = scoreboard.render_html(board), scoreboard.render_markdown(board)
    assert "<script>alert" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script>" not in markdown
    target_line = next(ln for ln in markdown.splitlines() if ln.startswith("| hostile |"))
    assert target_line.count("|") == 9  # the issuer's pipe cannot open a column
    assert "2.4.1 &#96;beta&#96;" in target_line


def test_known_failures_and_duplicate_labels(reports: Path, tmp_path: Path) -> None:
    path = next(reports.glob("faults-allows-empty-path/report.json"))
    data = json.loads(path.read_text())
    data["baseline"] = {"file": "known.toml", "known": ["CIMD-URL-02"], "stale": []}
    for n in (1, 2):
        copy = tmp_path / str(n) / "same" / "report.json"
        copy.parent.mkdir(parents=True)
        copy.write_text(json.dumps(data))
    board = scoreboard.load(scoreboard.report_files([tmp_path / "1", tmp_path / "2"]))
    assert [c.label for c in board.columns] == ["same", "same-2"]
    assert _row(scoreboard.render_markdown(board), "CIMD-URL-02")[2:] == ["fail (known)"] * 2


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such file"),
        ("{not json", "not a cimd-conformance report"),
        ('{"schema": "other/1"}', "not a cimd-conformance report"),
        ('{"schema": "cimd-conformance-report/1", "issuer": 1}', "not a cimd-conformance report"),
        ("[]", "not a cimd-conformance report"),
        (
            '{"schema": "cimd-conformance-report/1", "issuer": "x", "profile": "latest", '
            '"strict": false, "tool_version": "1", "started": 5}',
            "not a cimd-conformance report",
        ),
    ],
)
def test_a_missing_or_broken_report_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | None, message: str
) -> None:
    path = tmp_path / "report.json"
    if content is not None:
        path.write_text(content)
    assert main(["scoreboard", str(path), "--markdown", str(tmp_path / "out.md")]) == 2
    err = capsys.readouterr().err
    assert f"{path}: {message}" in err and "Give report.json files" in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out.md").exists()


def test_an_empty_directory_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scoreboard", str(tmp_path)]) == 2
    assert "no report.json in this directory" in capsys.readouterr().err


def test_fleet_scoreboard_step_writes_the_files_and_the_summary(
    reports: Path, tmp_path: Path
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    command = bin_dir / "cimd-conformance"
    command.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m conformance.cli "$@"\n')
    command.chmod(0o755)
    downloaded = tmp_path / "reports"
    shutil.copytree(reports, downloaded)
    summary = tmp_path / "summary.md"
    result = subprocess.run(
        ["bash", str(SCRIPT), "scoreboard", "reports"],
        cwd=tmp_path,
        env={
            **os.environ,
            "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
            "PYTHONPATH": str(ROOT),
            "GITHUB_STEP_SUMMARY": str(summary),
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "cimd-scoreboard.html").is_file()
    assert summary.read_text() == (tmp_path / "cimd-scoreboard.md").read_text()
    assert "## CIMD conformance scoreboard" in summary.read_text()


def test_scoreboard_fits_1280_px_in_chromium(reports: Path, tmp_path: Path) -> None:
    page_file = tmp_path / "scoreboard.html"
    page_file.write_text(
        scoreboard.render_html(scoreboard.load(scoreboard.report_files([reports])))
    )
    chromium = Browser(TestCA.load_or_create(tmp_path / "state").cert_path).start()
    try:
        context = chromium.new_context()
        page = context.new_page()
        page.set_viewport_size({"width": 1280, "height": 900})
        page.goto(page_file.as_uri())
        width = page.evaluate("document.documentElement.scrollWidth")
        fails = page.locator("td.v.fail").count()
        context.close()
    finally:
        chromium.stop()
    assert width <= 1280
    assert fails >= 2
