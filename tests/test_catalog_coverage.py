"""Every check names exactly one known requirement; every fault breaks known requirements."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

from conformance import scenarios
from conformance.catalog import coverage, requirements
from mock_servers.reference_as import FAULTS


def _checks() -> list[tuple[str, object]]:
    found = []
    for info in pkgutil.iter_modules(scenarios.__path__):
        if not info.name.startswith("test_"):
            continue
        module = importlib.import_module(f"conformance.scenarios.{info.name}")
        for name, func in inspect.getmembers(module, inspect.isfunction):
            if name.startswith("test_") and func.__module__ == module.__name__:
                found.append((f"{info.name}.{name}", func))
    return found


def test_the_checks_are_the_scope_reports_state() -> None:
    """Reports state their scope from the checks this version has: the two must agree."""
    marked = {
        m.args[0]
        for _, f in _checks()
        for m in getattr(f, "pytestmark", [])
        if m.name == "requirement"
    }
    assert marked
    assert marked == coverage.checked_by_this_version()
    block = coverage.summarize([], "latest")
    reported = len(_checks()) + len(coverage.derived_by_this_version())  # derived rows too
    assert sum(c["checked"] for c in block["tiers"].values()) == reported


@pytest.mark.parametrize(("name", "func"), _checks(), ids=[n for n, _ in _checks()])
def test_check_names_exactly_one_known_requirement(name: str, func: object) -> None:
    marks = [m for m in getattr(func, "pytestmark", []) if m.name == "requirement"]
    assert len(marks) == 1, name
    requirements.get(marks[0].args[0])
    assert "Expects:" in (inspect.getdoc(func) or ""), f"{name} states no expectation"


@pytest.mark.parametrize(("name", "func"), _checks(), ids=[n for n, _ in _checks()])
def test_check_lives_in_its_groups_module(name: str, func: object) -> None:
    """One scenario module per catalog group: a check is found where its group says."""
    (mark,) = [m for m in getattr(func, "pytestmark", []) if m.name == "requirement"]
    module = name.split(".", 1)[0]
    assert coverage.GROUP_MODULES[coverage.group_of(mark.args[0])] == module, name


def test_every_group_has_a_module_and_every_module_a_group() -> None:
    groups = {coverage.group_of(r.id) for r in requirements.CATALOG}
    assert groups == set(coverage.GROUP_MODULES)
    modules = {i.name for i in pkgutil.iter_modules(scenarios.__path__)}
    assert {m for m in modules if m.startswith("test_")} <= set(coverage.GROUP_MODULES.values())


def test_each_requirement_has_one_check() -> None:
    ids = [
        m.args[0]
        for _, f in _checks()
        for m in getattr(f, "pytestmark", [])
        if m.name == "requirement"
    ]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("fault", FAULTS, ids=lambda f: f.name)
def test_fault_breaks_known_requirements(fault) -> None:  # type: ignore[no-untyped-def]
    own = fault.profile or "latest"  # a profile's fault breaks its rows there only
    assert fault.breaks_in("lab", own)
    for rid in (*fault.breaks, *fault.breaks_in("lab", own)):
        requirements.get(rid)
