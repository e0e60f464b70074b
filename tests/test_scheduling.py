"""How the project's tests are split among workers (``pytest -n N``; tests/conftest.py).

Each fault matrix of the self-test is one unit, whatever fault a test names (one fault's
name may end another's); every other test goes with its module, so that its module and
session fixtures are built once.
"""

from __future__ import annotations

from tests.conftest import unit_of

SELF = "tests/test_self_conformance.py"


def test_a_matrix_test_goes_with_its_matrix() -> None:
    assert unit_of(f"{SELF}::test_reference_as_is_all_green[lab]") == f"{SELF}[lab]"
    assert unit_of(f"{SELF}::test_suite_catches_fault[lab-follows-redirects]") == f"{SELF}[lab]"
    # "drops-state" is a fault too: the longest name is the fault's
    named = f"{SELF}::test_suite_catches_fault[loopback-error-redirect-drops-state]"
    assert unit_of(named) == f"{SELF}[loopback]"
    shapes = "rate-limited+host-cookies+renewed-sessions"
    variant = f"{SELF}::test_suite_catches_fault_under_variants[{shapes}-drops-state]"
    assert unit_of(variant) == f"{SELF}[{shapes}]"
    full = f"{SELF}::test_suite_catches_fault[lab-full-follows-redirects]"
    assert unit_of(full) == f"{SELF}[lab-full]"


def test_other_tests_go_with_their_module() -> None:
    assert unit_of(f"{SELF}::test_demo_writes_reports_and_exits_zero") == SELF
    assert unit_of("tests/test_lint.py::test_rule[CIMD-PUB-01]") == "tests/test_lint.py"
    assert unit_of("tests/unit/test_traffic.py::test_a_failed_request_ends_too") == (
        "tests/unit/test_traffic.py"
    )
