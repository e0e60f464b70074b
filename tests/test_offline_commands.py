"""The commands that need no run work with neither pytest nor Playwright importable.

``report``, ``scoreboard``, ``lint`` (on a file), ``requirements`` and ``ca`` each run for
real through ``python -m conformance.cli`` in a fresh interpreter where importing pytest or
Playwright fails; each must do its job, and none of the blocked packages may be loaded.
Only ``run`` and ``demo`` load them (:mod:`conformance.run_command`).
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import pytest

from conformance.harness import corpus

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "reports" / "sample" / "report.json"
BLOCKED = ["pytest", "_pytest", "pytest_asyncio", "playwright", "greenlet", "pluggy"]
CLIENT = "https://client.example/oauth/client.json"

# A fresh interpreter that refuses the blocked packages, then runs `python -m conformance.cli`.
OFFLINE = """
import importlib.abc, json, runpy, sys
blocked = set(json.loads(sys.argv[1]))
sys.path.insert(0, sys.argv[2])

class Blocked(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in blocked:
            raise ImportError(f"{name} is blocked: this command must work offline")
        return None

sys.meta_path.insert(0, Blocked())
sys.argv = ["cimd-conformance", *sys.argv[3:]]
code = 0
try:
    runpy.run_module("conformance.cli", run_name="__main__", alter_sys=True)
except SystemExit as exc:
    code = exc.code
finally:
    loaded = sorted(m for m in sys.modules if m.split(".")[0] in blocked)
    package = sys.modules["conformance"].__file__
    print(json.dumps({"loaded": loaded, "code": code, "package": package}), file=sys.stderr)
"""


def _offline(tmp_path: Path, *argv: str) -> tuple[int, str]:
    """Run the command line offline; returns its exit code and standard output."""
    done = subprocess.run(
        [sys.executable, "-I", "-c", OFFLINE, json.dumps(BLOCKED), str(ROOT), *argv],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=tmp_path,
    )
    last = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "{}"
    record = json.loads(last)
    assert record.get("loaded") == [], done.stderr
    assert Path(record["package"]).is_relative_to(ROOT)  # this tree's code, not an installed one
    assert done.returncode == 0, done.stderr
    return int(record["code"] or 0), done.stdout


def _report(tmp_path: Path) -> tuple[list[str], Callable[[], None]]:
    def check() -> None:
        page = (tmp_path / "r.html").read_text("utf-8")
        assert json.loads(SAMPLE.read_text("utf-8"))["issuer"] in page
        assert ET.fromstring((tmp_path / "r.xml").read_bytes()).iter("testcase")
        assert (tmp_path / "r.md").read_text("utf-8").strip()

    files = ["--html", "r.html", "--junit", "r.xml", "--markdown", "r.md"]
    return ["report", str(SAMPLE), *files], check


def _scoreboard(tmp_path: Path) -> tuple[list[str], Callable[[], None]]:
    def check() -> None:
        issuer = json.loads(SAMPLE.read_text("utf-8"))["issuer"]
        assert issuer in (tmp_path / "b.html").read_text("utf-8")
        assert "CIMD-" in (tmp_path / "b.md").read_text("utf-8")

    return ["scoreboard", str(SAMPLE), "--html", "b.html", "--markdown", "b.md"], check


def _lint(tmp_path: Path) -> tuple[list[str], Callable[[], None]]:
    document = corpus.lint_document(
        "lint-clean", client_id=CLIENT, metadata_host="https://client.example"
    )
    (tmp_path / "client.json").write_text(json.dumps(document), "utf-8")
    return ["lint", "client.json", "--url", CLIENT, "--json"], lambda: None


def _requirements(tmp_path: Path) -> tuple[list[str], Callable[[], None]]:
    return ["requirements", "--json"], lambda: None


def _ca(tmp_path: Path) -> tuple[list[str], Callable[[], None]]:
    def check() -> None:
        assert (tmp_path / "ca.pem").read_text("ascii").startswith("-----BEGIN CERTIFICATE")

    return ["ca", "--state-dir", str(tmp_path / "state"), "--out", "ca.pem"], check


COMMANDS = {
    "report": _report,
    "scoreboard": _scoreboard,
    "lint": _lint,
    "requirements": _requirements,
    "ca": _ca,
}


@pytest.mark.parametrize("command", COMMANDS)
def test_the_command_works_without_pytest_or_playwright(tmp_path: Path, command: str) -> None:
    argv, check = COMMANDS[command](tmp_path)
    code, out = _offline(tmp_path, *argv)
    assert code == 0, out
    check()
    if command == "lint":
        assert json.loads(out)["exit_code"] == 0
    if command == "requirements":
        rows = json.loads(out)["rows"]
        assert rows and all(r["id"] for r in rows)


def test_run_and_demo_are_the_ones_that_load_pytest() -> None:
    """The split holds: the entry imports the run machinery only for ``run`` and ``demo``."""
    script = "import json, sys; sys.path.insert(0, sys.argv[1]); import conformance.cli; "
    script += "print(json.dumps(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-I", "-c", script, str(ROOT)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    loaded = set(json.loads(done.stdout))
    assert not loaded & {"pytest", "playwright", "conformance.run_command", "conformance.plugin"}


def test_the_progress_modes_the_parser_offers_are_the_displays() -> None:
    """The parser names the modes without importing the plugin; each one resolves."""
    from conformance import cli
    from conformance.plugin import progress

    assert cli.PROGRESS_MODES[0] == "auto"
    assert progress.resolve("auto", stream=io.StringIO()) == "lines"  # not a terminal
    assert [progress.resolve(m) for m in cli.PROGRESS_MODES[1:]] == list(cli.PROGRESS_MODES[1:])
