"""An installed wheel behaves like the checkout: the suite runs from a fresh venv elsewhere."""

from __future__ import annotations

import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


def test_wheel_runs_the_demo_outside_the_checkout(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheels), str(ROOT)],
        check=True,
        timeout=300,
        capture_output=True,
    )
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    wheel = next(wheels.glob("cimd_conformance-*.whl"))
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", str(wheel)],
        check=True,
        timeout=600,
        capture_output=True,
    )
    work = tmp_path / "elsewhere"
    work.mkdir()
    done = subprocess.run(
        [str(env_dir / "bin" / "cimd-conformance"), "demo", "--state-dir", str(tmp_path / "state")],
        cwd=work,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert (work / "reports" / "latest" / "report.json").is_file()
    assert (work / "reports" / "latest" / "report.html").is_file()
