"""The ``cimd-conformance`` command ends without walking what it made (conformance/cli.py)."""

from __future__ import annotations

import gc
import tomllib
from pathlib import Path

import pytest

from conformance import cli

ROOT = Path(__file__).resolve().parents[2]


def test_the_command_is_the_entry_that_ends_the_process() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["scripts"]["cimd-conformance"] == "conformance.cli:entry"


def test_the_entry_freezes_what_was_made_and_exits_with_the_code(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(cli, "main", lambda: 3)
    before = gc.get_freeze_count()
    try:
        with pytest.raises(SystemExit) as ended:
            cli.entry()
        assert ended.value.code == 3
        assert gc.get_freeze_count() > before
    finally:
        gc.unfreeze()
