"""``run-client``: every MCP-CLI check passes for the mock MCP client and fails with its fault.

The mock MCP client (``python -m mock_servers.mcp_client_command``) is the subject; each of
its faults breaks one client rule, and the report must show exactly that row violated. All
runs use the mcp-2026-07-28 profile (where MCP-CLI-11 is scored) and ``strict`` (so a
Recommended row's violation is a failure).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from conformance import cli
from conformance.catalog.requirements import CLIENT_CATALOG
from conformance.client.checks import CHECKS, NOT_CHECKED
from conformance.client.run import score
from mock_servers.mcp_client import CLIENT_FAULTS
from mock_servers.mcp_client_command import DOCUMENT_FAULTS, FAULT_ROWS, KEY_FAULTS

MOCK_CLIENT = f"{sys.executable} -m mock_servers.mcp_client_command"
PROFILE = "mcp-2026-07-28"

# Each fault of the mock client, and the one row it breaks.
BREAKS = {
    "registers": "MCP-CLI-01",
    "cimd-regardless": "MCP-CLI-01",
    "nameless-document": "MCP-CLI-02",
    "ignores-pkce-support": "MCP-CLI-04",
    "no-pkce": "MCP-CLI-04",
    "no-resource": "MCP-CLI-05",
    "unlisted-redirect-uri": "MCP-CLI-06",
    "ignores-state": "MCP-CLI-07",
    "skips-rfc9728": "MCP-CLI-08",
    "oidc-first": "MCP-CLI-08",
    "ignores-metadata-issuer": "MCP-CLI-08",
    "basic-empty-secret": "MCP-CLI-09",
    "http-redirect-uri": "MCP-CLI-10",
    "ignores-iss": "MCP-CLI-11",
    "assertion-wrong-key": "MCP-CLI-03",
    "assertion-reused-jti": "MCP-CLI-03",
}
# MCP-CLI-03 is a MAY (Informational): its fault is recorded, never scored.
SCORED_BREAKS = {fault: row for fault, row in BREAKS.items() if row != "MCP-CLI-03"}


def test_every_fault_is_expected_and_every_check_has_a_fault() -> None:
    assert set(BREAKS) == {*CLIENT_FAULTS, *DOCUMENT_FAULTS, *KEY_FAULTS}
    assert BREAKS == FAULT_ROWS  # what the listing (requirements) says each fault breaks
    assert set(BREAKS.values()) == set(CHECKS)
    assert set(CHECKS) | set(NOT_CHECKED) == {row.id for row in CLIENT_CATALOG}


def test_the_mock_client_passes_every_check(state_dir: Path) -> None:
    report = score(MOCK_CLIENT, profile=PROFILE, strict=True, state_dir=state_dir)
    verdicts = {r.requirement: r.verdict for r in report.results}
    # a public client does not use private_key_jwt (a MAY): recorded as not used
    assert verdicts == {**dict.fromkeys(CHECKS, "pass"), "MCP-CLI-03": "informational"}
    assert report.results[2].observed == "not used: the client authenticates with 'none'"
    assert report.exit_code() == 0
    clean = report.preflight["scenarios"][0]
    assert clean["name"] == "clean" and clean["exit_code"] == 0 and clean["tool_calls"] == 1


@pytest.mark.parametrize(
    ("fault", "observed", "keys"),
    [
        ("assertion-wrong-key", "Signature verification failed", "jwks"),
        ("assertion-reused-jti", "two token requests carry assertions with the same jti", "jwks"),
        # the keys at jwks_uri: the suite verifies the assertions by the set it published
        ("assertion-reused-jti", "two token requests carry assertions with the same jti", "uri"),
    ],
)
def test_private_key_jwt_passes_mcp_cli_03_and_its_faults_are_recorded(
    state_dir: Path, fault: str, observed: str, keys: str
) -> None:
    client = f"{MOCK_CLIENT} --private-key-jwt" + (" --jwks-uri" if keys == "uri" else "")
    report = score(client, profile=PROFILE, strict=True, state_dir=state_dir)
    verdicts = {r.requirement: r.verdict for r in report.results}
    # MCP-CLI-09 is about public (none) clients: not applicable to a private_key_jwt one
    assert verdicts == {**dict.fromkeys(CHECKS, "pass"), "MCP-CLI-09": "not-applicable"}
    observation = report.results[2].evidence["observation"]
    where = "jwks" if keys == "jwks" else "jwks_uri"
    assert observation == {"keys": where, "token_requests": 3, "assertions_verified": 3}
    assert report.exit_code() == 0

    faulty = score(f"{client} --fault {fault}", profile=PROFILE, strict=True, state_dir=state_dir)
    row = faulty.results[2]
    assert row.requirement == "MCP-CLI-03" and row.verdict == "informational"
    assert row.expected and observed in row.observed
    # recorded, not scored (a MAY); no other row changes
    assert {r.requirement: r.verdict for r in faulty.results} == verdicts | {
        "MCP-CLI-03": "informational"
    }
    assert faulty.violated_requirements() == set() and faulty.exit_code() == 0


@pytest.mark.parametrize("fault", sorted(SCORED_BREAKS))
def test_each_fault_fails_exactly_its_row(state_dir: Path, fault: str) -> None:
    report = score(
        f"{MOCK_CLIENT} --fault {fault}", profile=PROFILE, strict=True, state_dir=state_dir
    )
    assert report.violated_requirements() == {BREAKS[fault]}
    assert report.failed_requirements() == {BREAKS[fault]}
    assert "harness-error" not in {r.verdict for r in report.results}
    assert report.exit_code() == 1


def test_a_client_that_does_nothing_fails(state_dir: Path) -> None:
    report = score("true", profile=PROFILE, state_dir=state_dir)
    # no authorization at an AS advertising CIMD (a Rec row), no document published (R)
    assert {"MCP-CLI-01", "MCP-CLI-02"} <= report.violated_requirements()
    assert report.exit_code() == 1


def test_the_command_writes_the_report_and_exits_like_run(state_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "report"
    argv = ["run-client", "--command", f"{MOCK_CLIENT} --fault no-resource"]
    argv += ["--report-dir", str(out), "--state-dir", str(state_dir)]
    assert cli.main(argv) == 1
    data = json.loads((out / "report.json").read_text("utf-8"))
    assert data["exit_code"] == 1
    assert {r["requirement"] for r in data["results"] if r["verdict"] == "fail"} == {"MCP-CLI-05"}
    assert "MCP client behaviour" in (out / "report.html").read_text("utf-8")
    assert (out / "junit.xml").is_file() and (out / "report.md").is_file()


def test_bad_input_is_exit_2(tmp_path: Path) -> None:
    out = ["--report-dir", str(tmp_path / "r")]
    assert cli.main(["run-client", "--command", "true", "--timeout", "0", *out]) == 2
    assert cli.main(["run-client", "--command", " ", *out]) == 2
    missing = tmp_path / "missing.toml"
    assert cli.main(["run-client", "--command", "true", "--baseline", str(missing), *out]) == 2


def test_a_command_that_cannot_run_is_a_harness_error(state_dir: Path) -> None:
    report = score("/nonexistent/mcp-client", state_dir=state_dir)
    assert {r.verdict for r in report.results} == {"harness-error"}
    assert "fix --command" in report.results[0].observed
    assert report.exit_code() == 2


def test_requirements_lists_the_client_rows_with_their_checks_and_faults(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert cli.main(["requirements", "--json", "--profile", PROFILE]) == 0
    rows = {r["id"]: r for r in json.loads(capsys.readouterr().out)["client_rows"]}
    assert list(rows) == [row.id for row in CLIENT_CATALOG]
    for rid in CHECKS:
        # an Informational row's check records it ("observed"); the others are scored
        status = "observed" if rid == "MCP-CLI-03" else "checked"
        assert rows[rid]["status"] == status and rows[rid]["checks"], rid
        assert rows[rid]["faults"] == sorted(f for f, r in BREAKS.items() if r == rid)
    assert not NOT_CHECKED
