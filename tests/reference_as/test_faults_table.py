"""The fault table and its lookup."""

from __future__ import annotations

import re

import pytest

from mock_servers.reference_as import FAULTS, fault_names, get_fault
from mock_servers.reference_as.faults import UnknownFaultError

REQUIREMENT_ID = re.compile(r"(CIMD|MCP)-[A-Z]+-\d\d")


def test_faults_have_unique_names_and_requirement_ids() -> None:
    assert len(set(fault_names())) == len(FAULTS)
    for fault in FAULTS:
        assert re.fullmatch(r"[a-z0-9-]+", fault.name)
        lab = fault.breaks_in("lab")
        assert fault.breaks or lab, "a fault must break something, at least in the lab"
        assert all(REQUIREMENT_ID.fullmatch(rid) for rid in (*fault.breaks, *lab))
        assert fault.about


def test_only_ssrf_faults_need_the_lab_to_show() -> None:
    """Outside the lab, these faults reach only the loopback exception, which is not scored."""
    assert [f.name for f in FAULTS if not f.breaks] == [
        "ssrf-literals-only",
        "ssrf-rebinding",
        "ssrf-mapped-ipv6",
    ]
    assert get_fault("ssrf-rebinding").breaks_in("lab") == ("CIMD-SEC-03",)


def test_get_fault_names_the_valid_faults_when_unknown() -> None:
    assert get_fault("token-demands-secret").breaks == (
        "CIMD-AUTHN-05",
        "CIMD-DISC-04",
        "MCP-AUTH-08",
    )
    with pytest.raises(UnknownFaultError, match="drops-state"):
        get_fault("no-such-fault")
