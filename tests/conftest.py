"""Fixtures shared by the project's own tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conformance.target.reference import ReferenceTarget
from mock_servers.reference_as import FAULTS


@pytest.fixture(scope="module")
def state_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A state directory (the test CA) shared by a module's runs."""
    return tmp_path_factory.mktemp("state")


@pytest.fixture(scope="module")
def issuer(state_dir: Path) -> Iterator[str]:
    """The clean reference AS in a child process, for the module's tests."""
    with ReferenceTarget(state_dir=state_dir) as target:
        yield target.issuer


# Tests may run on several workers (``pytest -n 4``, pytest-xdist). Each worker builds its own
# module- and session-scoped fixtures, so the scheduler below hands out one module at a time
# (its module fixtures: a reference AS, a whole run), except that each fault matrix of the
# self-test is a unit of its own: its tests read one run's reports. Units go out in
# collection order, and the collection puts the longest first: the matrices, then the
# modules of whole runs, then the rest.
MATRIX_MODULES = ("tests/test_self_conformance.py",)


def unit_of(nodeid: str) -> str:
    """The scheduling unit of the test ``nodeid``: its module, or its module's matrix.

    A matrix test's id is its matrix's parameter, then its fault's name when it has one
    (``test_suite_catches_fault[lab-follows-redirects]``).
    """
    module, _, rest = nodeid.partition("::")
    if module not in MATRIX_MODULES or not rest.endswith("]") or "[" not in rest:
        return module
    params = rest[rest.index("[") + 1 : -1]
    named = [f.name for f in FAULTS if params.endswith("-" + f.name)]
    if named:  # the longest: one fault's name may end another's
        params = params.removesuffix("-" + max(named, key=len))
    return f"{module}[{params}]"


@pytest.hookimpl(tryfirst=True)  # before xdist's own, which would answer first
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Hand out :func:`unit_of`'s units: xdist's scope scheduling, with our scopes."""
    from xdist.scheduler import LoadScopeScheduling

    class ByUnit(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return unit_of(nodeid)

    return ByUnit(config, log)


def _rank(item: pytest.Item) -> int:
    """0 for a matrix's tests, 1 for a module of whole runs, 2 for the rest."""
    if unit_of(item.nodeid) != item.nodeid.partition("::")[0]:
        return 0
    return 1 if item.get_closest_marker("slow") else 2


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The longest first; each matrix's tests together, so that one worker (or a serial
    run) builds each matrix once: its session fixture keeps one parameter's value at a time.
    """
    firsts: dict[str, int] = {}
    for item in items:
        firsts.setdefault(unit_of(item.nodeid), len(firsts))

    def key(item: pytest.Item) -> tuple[int, int]:
        rank = _rank(item)
        return rank, firsts[unit_of(item.nodeid)] if rank == 0 else 0

    items.sort(key=key)  # stable: collection order otherwise
