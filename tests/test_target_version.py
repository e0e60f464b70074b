"""The target's version (``--target-version``, ``version`` in a target file) is reported.

It is recorded in report.json ``environment.target_version`` (the JSON Schema describes it),
shown in the HTML report's scope list, the Markdown summary and the console header, and the
scoreboard's target version column.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import fastjsonschema
import pytest

from conformance import cli, pytest_run, run_command
from conformance.report import scoreboard
from conformance.report.model import schema_file
from conformance.target.file import TargetFileError, load

CLI = [sys.executable, "-m", "conformance.cli"]


def _target_file(tmp_path: Path, issuer: str, version: str) -> Path:
    path = tmp_path / "target.toml"
    path.write_text(f'issuer = "{issuer}"\nversion = "{version}"\n')
    return path


def test_the_option_wins_over_the_target_file(tmp_path: Path) -> None:
    spec = load(_target_file(tmp_path, "https://a.test", "1.0"))
    assert spec.version == "1.0"
    for given, chosen in ((["--target-version", "2.0-rc1"], "2.0-rc1"), ([], "1.0")):
        args = cli.parser().parse_args(["run", "--target", "t.toml", *given])
        run_command._resolve(args, spec)
        assert pytest_run.run_config_for(args, ["https://a.test"]).target_version == chosen
    args = cli.parser().parse_args(["run", "--issuer", "https://a.test"])
    run_command._resolve(args, None)
    assert pytest_run.run_config_for(args, ["https://a.test"]).target_version is None


@pytest.mark.parametrize("text", ['version = ""', "version = 2", 'version = "1\\n2"'])
def test_a_bad_version_names_the_key(tmp_path: Path, text: str) -> None:
    path = tmp_path / "target.toml"
    path.write_text(f'issuer = "https://a.test"\n{text}\n')
    with pytest.raises(TargetFileError, match="'version' must be"):
        load(path)


@pytest.mark.slow
def test_a_run_reports_the_version_everywhere(issuer: str, state_dir: Path, tmp_path: Path) -> None:
    target = _target_file(tmp_path, issuer, "4.2.0 <beta>")
    out = tmp_path / "out"
    done = subprocess.run(
        [
            *(*CLI, "run", "--target", str(target), "--only", "CIMD-DISC-01"),
            *("--state-dir", str(state_dir), "--report-dir", str(out)),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "  target version: 4.2.0 <beta>" in done.stdout
    data: dict[str, Any] = json.loads((out / "report.json").read_text())
    assert data["environment"]["target_version"] == "4.2.0 <beta>"
    fastjsonschema.compile(json.loads(schema_file().read_text("utf-8")))(data)
    page = (out / "report.html").read_text()
    assert "<dt>Target version</dt><dd>4.2.0 &lt;beta&gt;</dd>" in page
    assert "- Target version: 4.2.0" in (out / "report.md").read_text()
    board = scoreboard.load([out / "report.json"])
    assert "4.2.0 &lt;beta&gt;" in scoreboard.render_html(board)
    assert "4.2.0" in scoreboard.render_markdown(board)


def test_the_schema_refuses_an_empty_or_non_text_version() -> None:
    validate = fastjsonschema.compile(json.loads(schema_file().read_text("utf-8")))
    sample = json.loads((Path(__file__).parent.parent / "reports/sample/report.json").read_text())
    for bad in ("", 3):
        sample["environment"]["target_version"] = bad
        with pytest.raises(fastjsonschema.JsonSchemaValueException):
            validate(sample)
    sample["environment"]["target_version"] = "1.0"
    validate(sample)


def test_a_version_option_on_two_lines_is_a_harness_error(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            *(*CLI, "run", "--issuer", "https://127.0.0.1:9", "--target-version", "1\n2"),
            *("--report-dir", str(tmp_path)),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stdout[-2000:] + done.stderr[-2000:]
    assert "--target-version: must be text on one line" in done.stderr
    assert "target_version" not in json.loads((tmp_path / "report.json").read_text())["environment"]
