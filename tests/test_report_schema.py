"""The report.json schema is published as a JSON Schema file, versioned, and reports meet it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import fastjsonschema
import pytest

from conformance.catalog.verdicts import Verdict
from conformance.report import writers
from conformance.report.baseline import Baseline, KnownFailure
from conformance.report.model import SCHEMA, SCHEMA_VERSION, CheckResult, Report, schema_file

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "reports" / "sample" / "report.json"


def _validator() -> Any:
    return fastjsonschema.compile(json.loads(schema_file().read_text("utf-8")))


def test_the_schema_file_is_named_by_the_reports_schema_version() -> None:
    schema = json.loads(schema_file().read_text("utf-8"))
    assert schema_file().name == f"report-{SCHEMA_VERSION}.json"
    assert f"cimd-conformance-report/{SCHEMA_VERSION}" == SCHEMA
    assert schema["properties"]["schema"] == {
        "const": SCHEMA,
        "description": "The report's schema version.",
    }
    verdicts = schema["definitions"]["result"]["properties"]["verdict"]["enum"]
    assert verdicts == [v.value for v in Verdict]


def test_the_committed_sample_meets_the_schema() -> None:
    _validator()(json.loads(SAMPLE.read_text("utf-8")))


def _every_verdict() -> Report:
    results = [
        CheckResult(
            f"CIMD-DOC-{n:02d}",
            f"test_{verdict.name.lower()}",
            "title",
            "R",
            verdict.value,
            expected="e",
            observed="<o>",
            evidence={"attempts": [{"client_id": "https://m.test/c.json"}]},
            duration_s=0.5,
        )
        for n, verdict in enumerate(Verdict, start=1)
    ]
    return Report("https://as.test", "latest", False, "0.1.0", "now", results=results)


@pytest.mark.parametrize("interrupted", [False, True])
def test_a_freshly_written_report_meets_the_schema(tmp_path: Path, interrupted: bool) -> None:
    report = _every_verdict()
    report.apply_baseline(Baseline(path="b.toml", entries=(KnownFailure("CIMD-DOC-02", "known"),)))
    if interrupted:
        report.interrupted = {"signal": "SIGINT", "checks_judged": 3, "exit_code": 130}
    writers.write(report, tmp_path)
    data = json.loads((tmp_path / "report.json").read_text("utf-8"))
    _validator()(data)
    assert data["coverage"]["tiers"] and data["baseline"]["known"] == ["CIMD-DOC-02"]


def test_a_partial_report_meets_the_schema_and_must_say_it_is_partial(tmp_path: Path) -> None:
    report = _every_verdict()
    report.selection = {
        "only": ["CIMD-DOC"],
        "keyword": "",
        "markexpr": "",
        "judge_only": [],
        "checks": 7,
        "collected": 111,
        "requirements": [r.requirement for r in report.results],
        "meaning": "partial run: 7 of 111 checks; a partial run is never a conformance verdict",
    }
    writers.write(report, tmp_path)
    data = json.loads((tmp_path / "report.json").read_text("utf-8"))
    validate = _validator()
    validate(data)
    assert data["partial"] is True
    for change in (
        lambda d: d.update(partial=False),
        lambda d: d.update(selection={}),
        lambda d: d["selection"].pop("meaning"),
        lambda d: d["selection"].update(checks=-1),
        lambda d: d["selection"].update(requirements=["not an ID"]),
    ):
        broken = json.loads(json.dumps(data))
        change(broken)
        with pytest.raises(fastjsonschema.JsonSchemaValueException):
            validate(broken)


@pytest.mark.browser
def test_a_fresh_demo_mcp_partial_report_meets_the_schema(tmp_path: Path) -> None:
    """A real run: partial (``--only``), with the MCP journey in preflight and evidence."""
    out = tmp_path / "out"
    argv = ["demo", "--mcp", "--only", "MCP-AUTH-02", "--only", "MCP-AUTH-10"]
    done = subprocess.run(
        [sys.executable, "-m", "conformance.cli", *argv, "--report-dir", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**_env(), "CIMD_STATE_DIR": str(tmp_path / "state")},
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    data = json.loads((out / "report.json").read_text("utf-8"))
    validate = _validator()
    validate(data)
    assert data["partial"] is True and data["selection"]["only"] == ["MCP-AUTH-02", "MCP-AUTH-10"]
    assert data["preflight"]["mcp_journey"]["tool_call"] is True
    journeys = [r["evidence"]["mcp_journey"] for r in data["results"]]
    assert len(journeys) == 2 and all(j["steps"] for j in journeys)
    for change in (
        lambda d: d["preflight"]["mcp_journey"].pop("tool_call"),
        lambda d: d["preflight"]["mcp_journey"].update(stopped_at="token"),  # without why
        lambda d: d["results"][0]["evidence"]["mcp_journey"]["steps"][0].update(status="200"),
        lambda d: d["results"][0]["evidence"]["mcp_journey"].update(surprise=1),
    ):
        broken = json.loads(json.dumps(data))
        change(broken)
        with pytest.raises(fastjsonschema.JsonSchemaValueException):
            validate(broken)


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "GITHUB_STEP_SUMMARY"}
    return {**env, "PYTHONPATH": str(ROOT)}


def test_a_report_of_an_unknown_verdict_or_extra_field_fails_the_schema() -> None:
    validate = _validator()
    sample = json.loads(SAMPLE.read_text("utf-8"))
    for change in (
        lambda d: d["results"][0].update(verdict="great"),
        lambda d: d.update(surprise=1),
        lambda d: d.pop("coverage"),
        lambda d: d["results"][0].update(tier="X"),
    ):
        broken = json.loads(json.dumps(sample))
        change(broken)
        with pytest.raises(fastjsonschema.JsonSchemaValueException):
            validate(broken)
