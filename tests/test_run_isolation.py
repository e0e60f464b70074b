"""A run loads the suite's pytest plugin alone, whatever else is installed beside it.

conformance/pytest_run.py: a plugin autoloaded from the environment (one that reorders,
reruns or times out tests) could change how a target is scored.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from conformance import cli
from conformance.plugin import listing


def test_a_run_loads_no_plugin_but_the_suites(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    seen: dict[str, bool] = {}

    class Probe:
        def pytest_configure(self, config: pytest.Config) -> None:
            manager = config.pluginmanager
            seen["xdist"] = manager.hasplugin("xdist")  # installed here, autoloadable
            seen["suite"] = manager.hasplugin("conformance.plugin")

    real = pytest.main

    def main(argv: Sequence[str], plugins: Sequence[Any] = ()) -> int | pytest.ExitCode:
        return real(list(argv), plugins=[*plugins, Probe()])

    monkeypatch.setattr(listing.pytest, "main", main)
    assert cli.main(["run", "--list", "--report-dir", str(tmp_path)]) == 0
    assert "CHECK" in capsys.readouterr().out
    assert seen == {"xdist": False, "suite": True}
