"""The GitHub Actions example: its workflows lint clean, and its script scores for real.

``examples/github-actions/cimd-check.sh`` is what the copied workflows run; here it runs
against the reference AS, as a workflow step would (``cimd-conformance`` on the PATH,
``GITHUB_STEP_SUMMARY`` and ``GITHUB_OUTPUT`` files), and must exit 0 on the clean issuer,
1 on a faulted one, 0 again when a baseline lists the fault's row, and 2 when the issuer
does not answer, writing the job summary each time. The runs judge two rows each
(``--judge-only``): what is proven here is the script, not the checks.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from conformance.report.baseline import load as load_baseline
from conformance.target import file as target_file
from conformance.target.reference import ReferenceTarget

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "github-actions"
SCRIPT = EXAMPLE / "cimd-check.sh"
WORKFLOWS = sorted(EXAMPLE.glob("*.yml"))
TOOLS = Path(sys.executable).parent
ROWS = ["CIMD-URL-02", "CIMD-URL-04"]
FAULT = "allows-empty-path"  # breaks CIMD-URL-02
RUN_TIMEOUT_S = 300


@dataclass(frozen=True)
class Step:
    """One script phase as a workflow step ran it."""

    code: int
    stdout: str
    stderr: str
    summary: str
    output: str


@pytest.fixture(scope="module")
def reference(state_dir: Path) -> Iterator[ReferenceTarget]:
    """The reference AS with one issuer per fault."""
    with ReferenceTarget(matrix=True, state_dir=state_dir) as target:
        yield target


@pytest.fixture(scope="module")
def path_with_cli(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A PATH whose ``cimd-conformance`` runs this checkout's code, as an install would."""
    bin_dir = tmp_path_factory.mktemp("bin")
    command = bin_dir / "cimd-conformance"
    command.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m conformance.cli "$@"\n')
    command.chmod(0o755)
    return f"{bin_dir}{os.pathsep}{os.environ['PATH']}"


def _step(phase: list[str], tmp_path: Path, state_dir: Path, path: str, **env: str) -> Step:
    summary, output, github_env = (tmp_path / n for n in ("summary.md", "output", "env"))
    environment = {
        **os.environ,
        "PATH": path,
        "PYTHONPATH": str(ROOT),
        "PYTHON": sys.executable,
        "CIMD_STATE_DIR": str(state_dir),
        "GITHUB_STEP_SUMMARY": str(summary),
        "GITHUB_OUTPUT": str(output),
        "GITHUB_ENV": str(github_env),
        **env,
    }
    result = subprocess.run(
        ["bash", str(SCRIPT), *phase],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
    )
    read = [p.read_text() if p.exists() else "" for p in (summary, output)]
    return Step(result.returncode, result.stdout, result.stderr, *read)


def _judge_only(issuer: str) -> str:
    return "--judge-only " + json.dumps({issuer: ROWS}, separators=(",", ":"))


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_lints_clean(workflow: Path) -> None:
    schema = subprocess.run(
        [TOOLS / "check-jsonschema", "--builtin-schema", "vendor.github-workflows", workflow],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert schema.returncode == 0, schema.stdout + schema.stderr
    audit = subprocess.run(
        [TOOLS / "zizmor", "--offline", "--no-progress", workflow],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert audit.returncode == 0, audit.stdout + audit.stderr
    assert "cimd-check.sh" in workflow.read_text()


def test_script_lints_clean() -> None:
    result = subprocess.run(
        [TOOLS / "shellcheck", SCRIPT], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout


def test_clean_target_passes_and_writes_the_summary(
    reference: ReferenceTarget, tmp_path: Path, state_dir: Path, path_with_cli: str
) -> None:
    step = _step(
        ["score"],
        tmp_path,
        state_dir,
        path_with_cli,
        CIMD_ISSUER=reference.issuer,
        CIMD_RUN_ARGS=_judge_only(reference.issuer),
    )
    assert step.code == 0, step.stdout + step.stderr
    assert "exit-code=0" in step.output
    # the run's own report.md (a targeted run is partial), written once
    assert "## cimd-conformance: Partial: no failure among the selected checks" in step.summary
    assert step.summary.count("## cimd-conformance:") == 1
    assert "::error" not in step.stdout
    assert (tmp_path / "cimd-report" / "report.json").is_file()


def test_faulted_target_fails_the_job(
    reference: ReferenceTarget, tmp_path: Path, state_dir: Path, path_with_cli: str
) -> None:
    issuer = reference.issuers[FAULT]
    step = _step(
        ["score"],
        tmp_path,
        state_dir,
        path_with_cli,
        CIMD_ISSUER=issuer,
        CIMD_RUN_ARGS=_judge_only(issuer),
    )
    assert step.code == 1, step.stdout + step.stderr
    assert (
        "::error title=CIMD conformance (non-conformant)::the target is not conformant"
        in step.stdout
    )
    assert "exit-code=1" in step.output
    assert "## cimd-conformance: Non-conformant" in step.summary
    assert "| CIMD-URL-02 Client identifier URL has a path | R | fail |" in step.summary


def test_baseline_listing_the_fault_passes(
    reference: ReferenceTarget, tmp_path: Path, state_dir: Path, path_with_cli: str
) -> None:
    issuer = reference.issuers[FAULT]
    (tmp_path / "known.toml").write_text(
        '[[known-failure]]\nrequirement = "CIMD-URL-02"\nreason = "the fault under test"\n'
    )
    step = _step(
        ["score"],
        tmp_path,
        state_dir,
        path_with_cli,
        CIMD_ISSUER=issuer,
        CIMD_RUN_ARGS=_judge_only(issuer),
        CIMD_BASELINE="known.toml",
    )
    assert step.code == 0, step.stdout + step.stderr
    assert "| CIMD-URL-02 Client identifier URL has a path | R | fail (known, baseline) |" in (
        step.summary
    )


def test_unreachable_issuer_is_marked_not_tested(
    tmp_path: Path, state_dir: Path, path_with_cli: str
) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    step = _step(
        ["score"],
        tmp_path,
        state_dir,
        path_with_cli,
        CIMD_ISSUER=f"https://127.0.0.1:{port}",
    )
    assert step.code == 2, step.stdout + step.stderr
    assert (
        "::error title=CIMD conformance (not tested)::the harness could not test the target"
        in step.stdout
    )
    assert "Not tested: the harness could not test" in step.summary
    assert "Preflight:" in step.summary
    assert "exit-code=2" in step.output


def test_no_target_is_not_tested(tmp_path: Path, state_dir: Path, path_with_cli: str) -> None:
    step = _step(["score"], tmp_path, state_dir, path_with_cli)
    assert step.code == 2
    assert "::error title=CIMD conformance (not tested)::the harness could not test" in step.stdout


def test_ca_writes_the_suites_ca_and_exports_it(
    tmp_path: Path, state_dir: Path, path_with_cli: str
) -> None:
    step = _step(["ca"], tmp_path, state_dir, path_with_cli)
    assert step.code == 0, step.stderr
    written = tmp_path / "cimd-test-ca.pem"
    assert written.read_bytes() == (state_dir / "ca.pem").read_bytes()
    assert f"CIMD_CA_FILE={written}" in (tmp_path / "env").read_text()


def test_install_finds_the_browser(tmp_path: Path, state_dir: Path, path_with_cli: str) -> None:
    found = [
        p for p in ("/usr/bin/chromium-headless-shell", "/usr/bin/chromium") if Path(p).exists()
    ]
    if not (shutil.which("certutil") and found):
        pytest.skip("needs the system Chromium and certutil (scripts/setup.sh)")
    step = _step(["install"], tmp_path, state_dir, path_with_cli, CIMD_PACKAGE="")
    assert step.code == 0, step.stderr
    # the headless shell first, as the suite itself chooses
    assert f"cimd-check: browser: {found[0]}\n" in step.stdout


def test_example_targets_are_a_matrix_of_valid_target_files(
    tmp_path: Path, state_dir: Path, path_with_cli: str
) -> None:
    step = _step(["targets", str(EXAMPLE / "targets")], tmp_path, state_dir, path_with_cli)
    assert step.code == 0, step.stderr
    assert step.output == 'targets=["follows-redirects", "reference"]\n'
    for name in json.loads(step.output.partition("=")[2]):
        spec = target_file.load(EXAMPLE / "targets" / f"{name}.toml")
        assert spec.issuer == "https://127.0.0.1:8443"
        assert (EXAMPLE / "targets" / f"{name}.sh").is_file()
    known = load_baseline(EXAMPLE / "targets" / "follows-redirects.baseline.toml")
    assert known.requirements == {"CIMD-FETCH-04"}


def test_example_target_starts_its_server_and_keeps_its_known_failure(
    tmp_path: Path, state_dir: Path, path_with_cli: str
) -> None:
    """targets/follows-redirects: its .sh starts the faulted reference AS, its baseline
    lists CIMD-FETCH-04, so the fault fails that row and the job still passes."""
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", 8443))
        except OSError:
            pytest.skip("port 8443, which the example targets use, is taken on this machine")
    targets = EXAMPLE / "targets"
    issuer = target_file.load(targets / "follows-redirects.toml").issuer
    assert issuer is not None
    step = _step(
        ["score"],
        tmp_path,
        state_dir,
        path_with_cli,
        CIMD_TARGET_FILE=str(targets / "follows-redirects.toml"),
        CIMD_BASELINE=str(targets / "follows-redirects.baseline.toml"),
        CIMD_RUN_ARGS="--judge-only "
        + json.dumps({issuer: ["CIMD-FETCH-04"]}, separators=(",", ":")),
    )
    assert step.code == 0, step.stdout + step.stderr
    assert "| CIMD-FETCH-04 " in step.summary and "| fail (known, baseline) |" in step.summary
