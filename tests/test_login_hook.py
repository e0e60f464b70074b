"""Login hooks: a Python function drives an unusual login page; its failures are the harness's."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from conformance.report.model import Report
from conformance.target.file import TargetFileError, load

pytestmark = pytest.mark.slow

HOOK = """
def log_in(page, username, password):
    # as if the page were unusual: fields found by their labels, the button by its text
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
"""

BROKEN = """
def log_in(page, username, password):
    page.get_by_label("One-time code").fill("123456", timeout=2000)
"""


def _target(directory: Path, issuer: str, hook_source: str) -> Path:
    (directory / "hooks").mkdir()
    (directory / "hooks" / "login.py").write_text(hook_source)
    target = directory / "target.toml"
    target.write_text(
        f'issuer = "{issuer}"\n[user]\nname = "alice"\npassword = "wonderland-test-only"\n'
        '[login]\nhook = "hooks/login.py:log_in"\n'
    )
    return target


# the checks that use the login's session in the browser: the consent pages, and the one
# check that clicks Approve there (the other checks are the same whatever the login)
ONLY = ("--only", "CIMD-UI", "--only", "CIMD-DISC-04")


def _run(target: Path, state_dir: Path, out: Path) -> subprocess.CompletedProcess[str]:
    args = ["run", "--target", str(target), "--state-dir", str(state_dir), "--report-dir", str(out)]
    args += ONLY
    return subprocess.run(
        [sys.executable, "-m", "conformance.cli", *args],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=out,  # the hook path resolves against the target file, not the working directory
    )


def test_a_hook_logs_in_and_the_run_scores_the_target(
    tmp_path: Path, issuer: str, state_dir: Path
) -> None:
    target = _target(tmp_path, issuer, HOOK)
    assert load(target).login["hook"] == f"{tmp_path / 'hooks' / 'login.py'}:log_in"
    done = _run(target, state_dir, tmp_path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = Report.load(tmp_path / "report.json")
    assert report.preflight.get("error") is None
    assert report.failed_requirements() == set()


def test_a_hook_that_no_longer_matches_is_a_harness_error(
    tmp_path: Path, issuer: str, state_dir: Path
) -> None:
    done = _run(_target(tmp_path, issuer, BROKEN), state_dir, tmp_path)
    assert done.returncode == 2, done.stdout[-3000:]
    error = Report.load(tmp_path / "report.json").preflight["error"]
    assert "the login hook" in error and "raised" in error and "update the hook" in error


def test_a_hook_that_is_not_there_is_a_target_file_error(tmp_path: Path) -> None:
    target = tmp_path / "target.toml"
    target.write_text('issuer = "https://127.0.0.1:9"\n[login]\nhook = "nowhere.py:log_in"\n')
    with pytest.raises(TargetFileError, match="no such file"):
        load(target)
    target.write_text('issuer = "https://127.0.0.1:9"\n[login]\nhook = "login.py"\n')
    with pytest.raises(TargetFileError, match=r"file\.py:function"):
        load(target)


def test_button_texts_replace_selectors(tmp_path: Path, issuer: str, state_dir: Path) -> None:
    target = tmp_path / "target.toml"
    target.write_text(
        f'issuer = "{issuer}"\n[user]\nname = "alice"\npassword = "wonderland-test-only"\n'
        '[login]\nsubmit_text = "Sign in"\napprove_text = "Approve"\n'
    )
    done = _run(target, state_dir, tmp_path)
    assert done.returncode == 0, done.stdout[-3000:]
    target.write_text(
        f'issuer = "{issuer}"\n[login]\napprove_text = "OK"\napprove_selector = "#ok"\n'
    )
    with pytest.raises(TargetFileError, match="approve_text or approve_selector"):
        load(target)


def test_button_text_becomes_a_role_selector() -> None:
    from conformance.browser.recipe import LoginRecipe

    recipe = LoginRecipe.from_options("u", "p", {"approve_text": 'Say "yes"'})
    assert recipe.approve_selector == 'role=button[name="Say \\"yes\\""]'
