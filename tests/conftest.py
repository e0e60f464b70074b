"""Fixtures shared by the project's own tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from conformance.target.reference import ReferenceTarget


@pytest.fixture(scope="module")
def state_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A state directory (the test CA) shared by a module's runs."""
    return tmp_path_factory.mktemp("state")


@pytest.fixture(scope="module")
def issuer(state_dir: Path) -> Iterator[str]:
    """The clean reference AS in a child process, for the module's tests."""
    with ReferenceTarget(state_dir=state_dir) as target:
        yield target.issuer
