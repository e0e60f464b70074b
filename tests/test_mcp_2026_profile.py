"""The ``mcp-2026-07-28`` profile: the rows MCP 2026-07-28 added for an AS (RFC 9207's iss).

Each row is scored under that profile and only recorded under the others. Its fault in the
reference AS fails exactly that row under the new profile; the clean AS passes every one; under
the default profile the same faults leave the rows Informational and the run green.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conformance.catalog import requirements
from conformance.catalog.requirements import MCP_2026, MCP_2026_ROWS, MCP_2026_SOURCES, Tier
from conformance.report.model import Report
from conformance.target.reference import ReferenceTarget
from mock_servers.reference_as.faults import FAULTS, F

pytestmark = pytest.mark.slow
CLI = [sys.executable, "-m", "conformance.cli"]
ROWS = ("MCP-AUTH-19", "MCP-AUTH-21", "MCP-AUTH-22")
NEW_FAULTS = (F.NO_RESPONSE_ISS, F.RESPONSE_ISS_UNADVERTISED, F.RESPONSE_ISS_TRAILING_SLASH)


def test_the_profile_scores_exactly_the_new_rows() -> None:
    changed = {
        r.id: requirements.tier_for(r, MCP_2026)
        for r in requirements.CATALOG
        if requirements.tier_for(r, MCP_2026) is not requirements.tier_for(r, "latest")
    }
    assert changed == {
        "MCP-AUTH-19": Tier.RECOMMENDED,  # "SHOULD include the iss parameter"
        "MCP-AUTH-21": Tier.REQUIRED,  # "MUST advertise this"
        "MCP-AUTH-22": Tier.REQUIRED,  # RFC 9207 §2.1, compared as strings
    }
    for profile in ("latest", "mcp-2025-11-25"):
        assert {requirements.tier_for(requirements.get(r), profile) for r in ROWS} == {
            Tier.INFORMATIONAL
        }
    assert set(MCP_2026_ROWS) <= set(MCP_2026_SOURCES) and set(ROWS) <= set(MCP_2026_SOURCES)


def test_the_new_faults_break_their_rows_under_the_new_profile_only() -> None:
    assert [f for f in FAULTS if f.profile == MCP_2026] == list(NEW_FAULTS)
    for fault in NEW_FAULTS:
        assert fault.breaks_in("loopback") == () and fault.breaks_in("lab") == ()
        assert fault.breaks_in("loopback", MCP_2026) == fault.breaks


def _run(profile: str, out: Path, state_dir: Path) -> dict[str, Report]:
    """A strict run of the new rows on the clean issuer and each new fault's issuer."""
    with ReferenceTarget(matrix=True, state_dir=state_dir) as target:
        names = ("", *(f.name for f in NEW_FAULTS))
        issuers = {name: target.issuers[name] for name in names}
        args = ["run", "--strict", "--profile", profile, "--report-dir", str(out)]
        args += [arg for url in issuers.values() for arg in ("--issuer", url)]
        args += ["--judge-only", json.dumps({url: list(ROWS) for url in issuers.values()})]
        done = subprocess.run(
            [*CLI, *args, "--state-dir", str(state_dir)],
            capture_output=True,
            text=True,
            timeout=600,
        )
    assert done.returncode in (0, 1), done.stdout[-3000:] + done.stderr[-3000:]
    index = json.loads((out / "index.json").read_text())
    reports = {}
    for label in index:
        name = label.removeprefix("faults-") if label.startswith("faults-") else ""
        reports[name] = Report.load(out / label / "report.json")
    return reports


def _verdicts(report: Report) -> dict[str, str]:
    return {r.requirement: r.verdict for r in report.results if r.requirement in ROWS}


@pytest.fixture(scope="module")
def scored(state_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Report]:
    return _run(MCP_2026, tmp_path_factory.mktemp("mcp-2026"), state_dir)


@pytest.fixture(scope="module")
def recorded(state_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Report]:
    return _run("latest", tmp_path_factory.mktemp("latest"), state_dir)


def test_the_clean_reference_as_passes_the_new_rows(scored: dict[str, Report]) -> None:
    report = scored[""]
    assert _verdicts(report) == dict.fromkeys(ROWS, "pass")
    assert report.exit_code() == 0
    (iss,) = [r for r in report.results if r.requirement == "MCP-AUTH-19"]
    assert set(iss.evidence["observation"]["iss"]) == {"code response", "error response"}


@pytest.mark.parametrize("fault", NEW_FAULTS, ids=lambda f: f.name)
def test_each_fault_fails_exactly_its_row(fault, scored: dict[str, Report]) -> None:  # type: ignore[no-untyped-def]
    report = scored[fault.name]
    assert report.violated_requirements() == set(fault.breaks_in("loopback", MCP_2026))
    assert [r for r in report.results if r.verdict == "harness-error"] == []
    assert report.exit_code() == 1


@pytest.mark.parametrize("fault", ("", *NEW_FAULTS), ids=lambda f: getattr(f, "name", "clean"))
def test_the_default_profile_records_the_rows(fault, recorded: dict[str, Report]) -> None:  # type: ignore[no-untyped-def]
    report = recorded[getattr(fault, "name", "")]
    verdicts = _verdicts(report)
    assert set(verdicts.values()) <= {"informational", "not-applicable"}, verdicts
    assert verdicts["MCP-AUTH-19"] == "informational"
    assert report.violated_requirements() == set()
    assert report.exit_code() == 0


def test_requirements_lists_the_new_rows_with_their_faults() -> None:
    done = subprocess.run(
        [*CLI, "requirements", "--json", "--profile", MCP_2026],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    rows = {r["id"]: r for r in json.loads(done.stdout)["rows"]}
    for fault in NEW_FAULTS:
        (rid,) = fault.breaks
        assert rows[rid]["status"] == "checked" and rows[rid]["faults"] == [fault.name]
    assert rows["MCP-AUTH-20"]["tier"] == "I" and "deprecated" in rows["MCP-AUTH-20"]["source"]
    assert "SHOULD include the iss parameter" in rows["MCP-AUTH-19"]["source"]
