"""The example authorization server (``examples/flask-authlib``), as its users would run it.

A Flask + Authlib server with Client ID Metadata Documents whose own test suite uses the
plugin's fixtures (CA, metadata host, corpus, callback, browser) and runs the checks through
the plugin with a baseline of its known failures. Its packages are pinned in its own
requirements file, apart from the product's.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "flask-authlib"


def test_the_example_pins_its_own_packages_apart_from_the_products() -> None:
    lines = [
        line
        for line in (EXAMPLE / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines and all(re.fullmatch(r"[A-Za-z0-9_.-]+==\d[\w.]*", line) for line in lines)
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    product = [*project["dependencies"], *project["optional-dependencies"]["dev"]]
    names = {re.split(r"[=\[]", d)[0].lower() for d in product}
    assert {line.split("==")[0].lower() for line in lines} & names == set()
    assert "examples/flask-authlib/requirements.txt" in (ROOT / "scripts" / "setup.sh").read_text()


@pytest.mark.browser
def test_the_example_passes_its_own_tests_and_the_conformance_checks(tmp_path: Path) -> None:
    plugin = (
        ["-p", "conformance.plugin"] if os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD") else []
    )
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            *plugin,
            "--cimd-state-dir",
            str(tmp_path / "state"),
            "--basetemp",
            str(tmp_path / "runs"),
        ],
        cwd=EXAMPLE,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert re.search(r"\b6 passed\b", done.stdout), done.stdout[-2000:]
