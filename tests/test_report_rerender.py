"""`cimd-conformance report report.json`: a report renders again offline, alone, and compares.

The command runs in a fresh interpreter where pytest and Playwright cannot be imported, so
re-rendering needs nothing but the package and the report; a missing or broken report.json
is exit code 2 with one line naming the fix; `--compare` lists a regression.
"""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from conformance.target.reference import ReferenceTarget

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "reports" / "sample" / "report.json"
CLI = [sys.executable, "-m", "conformance.cli", "report"]
FAULT = "ignores-dot-segments"  # the reference AS's fault that breaks CIMD-URL-03
BLOCKED = ["pytest", "_pytest", "pytest_asyncio", "playwright", "greenlet"]

# A fresh interpreter that refuses pytest and Playwright, then runs the command's module.
OFFLINE = """
import importlib.abc, json, runpy, sys
blocked = set(json.loads(sys.argv[1]))
sys.path.insert(0, sys.argv[2])

class Blocked(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in blocked:
            raise ImportError(f"{name} is blocked: the report must render offline")
        return None

sys.meta_path.insert(0, Blocked())
sys.argv = ["rerender", *sys.argv[3:]]
try:
    runpy.run_module("conformance.report.rerender", run_name="__main__")
finally:
    loaded = sorted(m for m in sys.modules if m.split(".")[0] in blocked)
    print(json.dumps({"loaded": loaded}), file=sys.stderr)
"""


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    import os

    env = {k: v for k, v in os.environ.items() if k != "GITHUB_STEP_SUMMARY"}
    env["PYTHONPATH"] = str(ROOT)
    return {**env, **extra}


def _sample() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(SAMPLE.read_text("utf-8"))
    return data


def _regressed(data: dict[str, Any], requirement: str) -> dict[str, Any]:
    """``data`` with ``requirement`` failing: what a later run of a regressed target says."""
    changed = json.loads(json.dumps(data))
    for result in changed["results"]:
        if result["requirement"] == requirement:
            result["verdict"] = "fail"
            result["observed"] = "consent shown for <b>a client</b> it should refuse"
    changed["summary"] = None  # recomputed from the results when loaded
    changed["exit_code"] = 1
    return changed


def test_report_renders_offline_without_pytest_or_playwright(tmp_path: Path) -> None:
    outputs = {
        "--html": tmp_path / "r.html",
        "--markdown": tmp_path / "r.md",
        "--junit": tmp_path / "r.xml",
        "--badge": tmp_path / "r.svg",
    }
    args = [str(SAMPLE)] + [x for option, f in outputs.items() for x in (option, str(f))]
    done = subprocess.run(
        [sys.executable, "-I", "-c", OFFLINE, json.dumps(BLOCKED), str(ROOT), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stderr.splitlines()[-1]) == {"loaded": []}
    sample = _sample()
    page = outputs["--html"].read_text("utf-8")
    assert all(r["requirement"] in page for r in sample["results"])
    cases = list(ET.fromstring(outputs["--junit"].read_bytes()).iter("testcase"))
    assert len(cases) == len(sample["results"])
    assert "Conformant" in outputs["--markdown"].read_text("utf-8")
    passed = sum(r["verdict"] == "pass" for r in sample["results"])
    assert f"conformant {passed}/{passed}" in outputs["--badge"].read_text("utf-8")
    assert "verdict: CONFORMANT" in done.stdout


def test_without_options_every_format_is_written_beside_the_report(tmp_path: Path) -> None:
    report = tmp_path / "run" / "report.json"
    report.parent.mkdir()
    report.write_text(SAMPLE.read_text("utf-8"), "utf-8")
    done = subprocess.run(
        [*CLI, str(report)], capture_output=True, text=True, timeout=120, env=_env(tmp_path)
    )
    assert done.returncode == 0, done.stderr
    written = sorted(p.name for p in report.parent.iterdir())
    assert written == ["badge.svg", "junit.xml", "report.html", "report.json", "report.md"]


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (None, "does not exist"),
        ('{"schema": "cimd-conformance-report/1", "issuer": ', "is not JSON (line 1"),
        ('{"schema": "cimd-conformance-report/0"}', "is not a cimd-conformance-report/1 report"),
        ("[1, 2]", "is not a cimd-conformance-report/1 report"),
        ('{"schema": "cimd-conformance-report/1", "issuer": "x"}', "is a broken"),
    ],
)
def test_a_missing_or_broken_report_is_exit_2_with_one_line(
    tmp_path: Path, content: str | None, says: str
) -> None:
    report = tmp_path / "report.json"
    if content is not None:
        report.write_text(content, "utf-8")
    done = subprocess.run(
        [*CLI, str(report), "--html", str(tmp_path / "r.html")],
        capture_output=True,
        text=True,
        timeout=120,
        env=_env(tmp_path),
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert says in lines[0] and "Give the report.json a run wrote" in lines[0]
    assert not (tmp_path / "r.html").exists()


def test_the_index_of_a_multi_target_run_points_at_the_target_reports(tmp_path: Path) -> None:
    index = tmp_path / "index.json"
    index.write_text(json.dumps({"as": {"issuer": "https://as.test", "exit_code": 0}}), "utf-8")
    done = subprocess.run(
        [*CLI, str(index)], capture_output=True, text=True, timeout=120, env=_env(tmp_path)
    )
    assert done.returncode == 2 and "is the index of a run with several targets" in done.stderr


def test_a_verdict_this_version_does_not_know_is_a_broken_report(tmp_path: Path) -> None:
    data = _sample()
    data["results"][0]["verdict"] = "great"
    report = tmp_path / "report.json"
    report.write_text(json.dumps(data), "utf-8")
    done = subprocess.run(
        [*CLI, str(report)], capture_output=True, text=True, timeout=120, env=_env(tmp_path)
    )
    assert done.returncode == 2 and "is a broken" in done.stderr, done.stderr


def test_a_broken_compare_report_names_the_option(tmp_path: Path) -> None:
    done = subprocess.run(
        [*CLI, str(SAMPLE), "--compare", str(tmp_path / "old.json")],
        capture_output=True,
        text=True,
        timeout=120,
        env=_env(tmp_path),
    )
    assert done.returncode == 2 and done.stderr.startswith("cimd-conformance report: --compare "), (
        done.stderr
    )


def test_compare_lists_the_regression_and_writes_the_job_summary(tmp_path: Path) -> None:
    new = tmp_path / "new" / "report.json"
    new.parent.mkdir()
    new.write_text(json.dumps(_regressed(_sample(), "CIMD-URL-03")), "utf-8")
    summary = tmp_path / "step-summary.md"
    summary.write_text("earlier step\n", "utf-8")
    done = subprocess.run(
        [*CLI, str(new), "--compare", str(SAMPLE), "--markdown", str(tmp_path / "r.md")],
        capture_output=True,
        text=True,
        timeout=120,
        env=_env(tmp_path, GITHUB_STEP_SUMMARY=str(summary)),
    )
    assert done.returncode == 0, done.stderr
    assert f"newly failing since {_sample()['started']}: CIMD-URL-03" in done.stdout
    text = (tmp_path / "r.md").read_text("utf-8")
    assert "**Newly failing (1)**" in text and "| CIMD-URL-03 " in text
    assert "&lt;b&gt;a client&lt;/b&gt;" in text and "<b>" not in text
    assert summary.read_text("utf-8") == "earlier step\n" + text


def test_the_committed_sample_is_what_this_version_renders(tmp_path: Path) -> None:
    """reports/sample/ is re-rendered whenever a format changes (the message says how)."""
    copy = tmp_path / "report.json"
    copy.write_text(SAMPLE.read_text("utf-8"), "utf-8")
    done = subprocess.run(
        [*CLI, str(copy)], capture_output=True, text=True, timeout=120, env=_env(tmp_path)
    )
    assert done.returncode == 0, done.stderr
    stale = [
        name
        for name in ("report.html", "report.md", "junit.xml", "badge.svg")
        if (tmp_path / name).read_text("utf-8") != (SAMPLE.parent / name).read_text("utf-8")
    ]
    assert not stale, (
        f"reports/sample/{', '.join(stale)} out of date: run "
        "`python -m conformance.cli report reports/sample/report.json` and commit them"
    )


@pytest.mark.slow
def test_compare_shows_the_regression_between_two_runs(tmp_path: Path, state_dir: Path) -> None:
    """Two runs of the reference AS, the second with a fault: the comparison names its row."""
    rows = ["CIMD-URL-01", "CIMD-URL-03"]
    with ReferenceTarget(matrix=True, state_dir=state_dir) as target:
        for name, issuer in (("old", target.issuers[""]), ("new", target.issuers[FAULT])):
            run = [sys.executable, "-m", "conformance.cli", "run", "--issuer", issuer]
            run += ["--judge-only", json.dumps({issuer: rows}), "--state-dir", str(state_dir)]
            done = subprocess.run(
                [*run, "--report-dir", str(tmp_path / name)],
                capture_output=True,
                text=True,
                timeout=300,
                env=_env(tmp_path),
            )
            assert done.returncode == (0 if name == "old" else 1), done.stdout[-3000:]
    new, old = tmp_path / "new" / "report.json", tmp_path / "old" / "report.json"
    page, summary = tmp_path / "compare.html", tmp_path / "compare.md"
    done = subprocess.run(
        [*CLI, str(new), "--compare", str(old), "--html", str(page), "--markdown", str(summary)],
        capture_output=True,
        text=True,
        timeout=120,
        env=_env(tmp_path),
    )
    assert done.returncode == 0, done.stderr
    assert "newly failing since" in done.stdout and done.stdout.rstrip().count("CIMD-URL-03")
    html = page.read_text("utf-8")
    newly_failing = html[html.index('<table class="newly-failing">') :]
    assert "CIMD-URL-03" in newly_failing[: newly_failing.index("</table>")]
    text = summary.read_text("utf-8")
    newly = text[text.index("**Newly failing") :]
    assert "| CIMD-URL-03 " in newly[: newly.index("\n\n\n")]  # the fault's row (and its
    # derived MCP-AUTH-03, which restates the CIMD rows)
