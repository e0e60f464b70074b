"""The benchmark's floor (scripts/benchmark.py), read from a report, and the waits it reads."""

from __future__ import annotations

import importlib.util
import ssl
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx

from conformance.harness.session import TargetSession

from .conftest import make_target

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "benchmark.py"


def _benchmark() -> ModuleType:
    spec = importlib.util.spec_from_file_location("benchmark", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _result(requirement: str, **evidence: Any) -> dict[str, Any]:
    return {"requirement": requirement, "duration_s": 1.0, "evidence": evidence}


REPORT = {
    "preflight": {
        "timing": {"browser_start_s": 0.8, "login_s": 1.2},
        "browser_navigations": 10,
    },
    "results": [
        _result(
            "CIMD-CACHE-04",
            exchanges=[{"method": "GET"}, {"method": "POST"}],
            waits=[{"why": "max-age=2 to run out", "span_s": 2.5, "slept_s": 2.2}],
        ),
        _result(
            "CIMD-CACHE-07",
            exchanges=[{"method": "GET"}, {"method": "BROWSER"}],
            waits=[{"why": "Expires to pass", "span_s": 4.0, "slept_s": 3.8}],
        ),
        _result("CIMD-UI-01"),
    ],
}


def test_floor_is_the_longest_wait_launch_login_and_a_round_trip_per_probe() -> None:
    bench = _benchmark()
    parts = bench.floor_parts(REPORT)
    assert parts == {
        "longest_wait_s": 4.0,
        "longest_wait": "CIMD-CACHE-07: Expires to pass",
        "launch_login_s": 2.0,
        "exchanges": 3,  # a browser approval is counted as a browser page load, not twice
        "browser_navigations": 10,
    }
    assert bench.floor_of(parts, 0.01) == 4.0 + 2.0 + 13 * 0.01
    floor = bench.against_floor(24.3, REPORT, 0.01)
    assert floor["floor_s"] == 6.1 and floor["ratio"] == 3.96
    assert bench.describe(floor) == (
        "demo: 24.3 s; floor 6.1 s (longest wait 4.0 s + browser launch and login 2.0 s "
        "+ 13 round trips x 10.0 ms); 3.96x the floor (goal 1.5x)"
    )


def test_a_browser_launched_before_the_preflight_still_counts_its_launch() -> None:
    # demo launches its browser while the suite loads: the preflight waits for none of it
    early = {**REPORT, "preflight": {**REPORT["preflight"]}}
    early["preflight"]["timing"] = {
        "browser_start_s": 0.0,
        "browser_launch_s": 0.8,
        "login_s": 1.2,
    }
    assert _benchmark().floor_parts(early)["launch_login_s"] == 2.0
    # the launch timed alone stands for it: one beside the suite's loading takes longer
    assert _benchmark().floor_parts(early, 0.5)["launch_login_s"] == 1.7
    assert _benchmark().against_floor(10.0, early, 0.01, launch_s=0.5)["launch_login_s"] == 1.7


def test_the_floor_is_also_priced_at_a_typical_probe_s_round_trip() -> None:
    bench = _benchmark()
    floor = bench.against_floor(24.3, REPORT, 0.01, 0.05)
    assert floor["floor_s"] == 6.1 and floor["ratio"] == 3.96  # the goal's floor is unchanged
    # 4 s + 2 s + 13 probes x 50 ms = 6.65 s
    assert floor["probe_floor_s"] == 6.7 and floor["probe_ratio"] == 3.65
    assert bench.describe(floor).splitlines()[1].strip() == (
        "at a typical probe's round trip (50.0 ms: a fresh client's authorization request) "
        "the floor is 6.7 s; 3.65x that"
    )


def test_the_cpu_the_run_used_bounds_any_schedule_of_it() -> None:
    """14.4 CPU-s on 2 CPUs: no overlap of that work ends before 7.2 s, 1.17x the floor."""
    bench = _benchmark()
    floor = bench.against_floor(24.3, REPORT, 0.01, 0.05, (14.4, 2))
    assert (floor["cpu_s"], floor["cpus"], floor["cpu_bound_s"]) == (14.4, 2, 7.2)
    assert floor["cpu_bound_ratio"] == 1.17 and floor["ratio"] == 3.96
    assert bench.describe(floor).splitlines()[2].strip() == (
        "the run used 14.4 CPU-s (suite, target and browser): on 2 CPUs no schedule of that "
        "work ends before 7.2 s, 1.17x the floor"
    )


def test_a_run_s_cpu_counts_its_children_and_theirs() -> None:
    """``measure`` reads the CPU of the processes it waited for, grandchildren included."""
    bench = _benchmark()
    before = bench._children_cpu_s()
    burn = (
        "import subprocess, sys; subprocess.run([sys.executable, '-c', "
        + repr(
            "import time\nend = time.process_time() + 0.3\nwhile time.process_time() < end: pass"
        )
        + "])"
    )
    subprocess.run([sys.executable, "-c", burn], check=True)
    assert bench._children_cpu_s() - before >= 0.3


def test_a_report_without_the_floor_parts_has_no_ratio() -> None:
    floor = _benchmark().against_floor(10.0, {"results": []}, 0.0)
    assert floor["floor_s"] == 0.0 and floor["ratio"] is None
    assert "no floor" in _benchmark().describe(floor)


def test_a_check_s_wait_is_sat_out_and_recorded() -> None:
    client = httpx.Client(transport=httpx.MockTransport(lambda r: httpx.Response(200)))
    session = TargetSession(make_target("https://as.test"), client, ssl.create_default_context())
    started = time.monotonic()
    session.sit_out(0.2, 2.5, "max-age=2 to run out")
    session.sit_out(-1.0, 4.0, "Expires to pass")  # already over: no sleep, still recorded
    assert 0.2 <= time.monotonic() - started < 5.0
    assert session.waits == [
        {"why": "max-age=2 to run out", "span_s": 2.5, "slept_s": 0.2},
        {"why": "Expires to pass", "span_s": 4.0, "slept_s": 0.0},
    ]


def test_self_test_outcome_is_pytests_closing_summary() -> None:
    bench = _benchmark()
    output = "....  [100%]\n333 passed in 233.83s (0:03:53)\n"
    assert bench.pytest_outcome(output) == "333 passed"
    failed = "F.\n=== 1 failed, 332 passed, 2 skipped in 240.10s (0:04:00) ===\n"
    assert bench.pytest_outcome(failed) == "1 failed, 332 passed, 2 skipped"
    assert bench.pytest_outcome("no tests ran in 0.52s\n") == ""


def test_self_test_line_says_whether_the_goal_is_met() -> None:
    bench = _benchmark()
    result = {
        "command": "pytest -q -n 3 tests/test_self_conformance.py",
        "wall_s": 233.8,
        "cpus": 2,
        "outcome": "333 passed",
        "exit_code": 0,
        "goal_s": 600.0,
    }
    line = bench.describe_self_test(result)
    assert line == (
        "self-test (pytest -q -n 3 tests/test_self_conformance.py): 233.8 s on 2 CPUs, "
        "333 passed (exit 0); within the goal of 600 s on 2 cores"
    )
    over = bench.describe_self_test({**result, "wall_s": 700.0, "outcome": "", "exit_code": 5})
    assert "no pytest summary (exit 5); over the goal" in over
