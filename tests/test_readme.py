"""The README's opening commands are the ones CI runs."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_readme_opens_with_install_and_test_commands() -> None:
    lines = [
        line for line in (ROOT / "README.md").read_text().splitlines() if line.startswith("bash ")
    ]
    assert lines[0].startswith("bash scripts/setup.sh && .venv/bin/cimd-conformance demo")
    assert lines[1].startswith("bash scripts/setup.sh && .venv/bin/pytest -q")
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert "bash scripts/setup.sh" in ci
    tests = lines[1].partition(" && ")[2].partition("#")[0].strip()  # the test command itself
    assert tests in ci, f"CI does not run the README's test command {tests!r}"
