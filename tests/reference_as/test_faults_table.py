"""The fault table: its constants, its lookups, and the one way code asks for a fault."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from mock_servers import reference_as
from mock_servers.reference_as import FAULTS, F, Fault, FaultSet, fault_names, get_fault
from mock_servers.reference_as.faults import UnknownFaultError

REQUIREMENT_ID = re.compile(r"(CIMD|MCP)-[A-Z]+-\d\d")
PACKAGE = Path(reference_as.__file__).parent


def _constants() -> dict[str, Fault]:
    return {name: value for name, value in vars(F).items() if isinstance(value, Fault)}


def _asked_for() -> dict[str, list[str]]:
    """Every ``F.NAME`` the reference AS's modules mention, with the modules mentioning it."""
    found: dict[str, list[str]] = {}
    for module in sorted(PACKAGE.glob("*.py")):
        if module.name == "faults.py":
            continue
        for node in ast.walk(ast.parse(module.read_text("utf-8"))):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id == "F"
            ):
                found.setdefault(node.attr, []).append(module.name)
    return found


def test_faults_have_unique_names_and_requirement_ids() -> None:
    assert len(set(fault_names())) == len(FAULTS)
    for fault in FAULTS:
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", fault.name)
        lab = fault.breaks_in("lab")
        assert fault.breaks or lab, "a fault must break something, at least in the lab"
        assert all(REQUIREMENT_ID.fullmatch(rid) for rid in (*fault.breaks, *lab))
        assert len(set(fault.breaks)) == len(fault.breaks)
        assert len(set(lab)) == len(lab)
        assert fault.about


def test_each_fault_is_one_constant_named_after_it() -> None:
    constants = _constants()
    assert tuple(constants.values()) == FAULTS
    for constant, fault in constants.items():
        assert constant == fault.name.upper().replace("-", "_")


def test_every_fault_changes_some_behaviour_and_none_is_unknown() -> None:
    """A fault in the table that no module asks for would fail the self-test only after
    a whole matrix run; one asked for but not in the table would not import."""
    asked = _asked_for()
    assert set(asked) == set(_constants()), {
        "in the table, asked for nowhere": sorted(set(_constants()) - set(asked)),
        "asked for, not in the table": sorted(set(asked) - set(_constants())),
    }


def test_lookup_by_name_finds_the_constant() -> None:
    for fault in FAULTS:
        assert get_fault(fault.name) is fault
    assert get_fault("token-demands-secret") is F.TOKEN_DEMANDS_SECRET
    with pytest.raises(UnknownFaultError, match="drops-state"):
        get_fault("no-such-fault")


def test_fault_set_from_names_checks_every_name() -> None:
    chosen = FaultSet.named([F.PKCE_OPTIONAL.name, F.DROPS_STATE.name])
    assert chosen == FaultSet([F.DROPS_STATE, F.PKCE_OPTIONAL])
    assert chosen.has(F.PKCE_OPTIONAL) and not chosen.has(F.FOLLOWS_REDIRECTS)
    # catalog order, whatever order the names came in
    assert chosen.names == tuple(f.name for f in FAULTS if f in (F.DROPS_STATE, F.PKCE_OPTIONAL))
    assert not FaultSet() and chosen
    with pytest.raises(UnknownFaultError, match=r"nope.*valid faults: no-metadata-flag"):
        FaultSet.named(["drops-state", "nope"])


def test_has_is_the_only_question() -> None:
    """A name is never taken for a fault: asking with a string, or with ``in``, is an error."""
    faults = FaultSet([F.DROPS_STATE])
    with pytest.raises(TypeError, match=r"F\.DROPS_STATE"):
        faults.has("drops-state")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        F.DROPS_STATE in faults  # type: ignore[operator] # noqa: B015
    with pytest.raises(TypeError):
        FaultSet(["drops-state"])  # type: ignore[list-item]
