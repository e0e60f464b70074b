"""Measure how long the suite takes: the demo, the fault matrix, and (as root) the lab.

Performance is measured here, never by a timed test. Prints wall-clock times and the slowest
checks of each run, and the demo's wall time against its floor, the time no implementation
of the same checks could beat:

    floor = the longest wait a check sits out (a cache lifetime running out)
          + the browser's start (timed alone: the median of three) and the login (the
            clean run's preflight)
          + one round trip per probe (the HTTP exchanges and browser page loads the run
            made) x the measured round trip to the reference AS (the median of plain GETs
            of its metadata)

The waits, the preflight's timing and the count of browser page loads are read from the
demo's own report. The goal is a demo within 1.5x its floor; the ratio is printed, never
enforced. With --json writes the same as JSON.

The round trip above is the target's cheapest answer. A second line prices each probe at
what a typical one costs the target instead: the median time of a fresh client's
authorization request, for which the target fetches and checks a document of its own
(a TLS connection to the metadata host) before it answers. That floor says how much of
the demo is the target's own work at one probe at a time; the goal is judged on the first.

A third line says what the run's work alone allows on this machine: the CPU seconds of all
its processes (the suite, the target, the browser) over the CPU count is a time no schedule
of that work can beat, however much of it overlaps. Where that is above the goal, the goal
needs less work, not only checks that run at the same time.

With --self-test it also times the self-test as the README's test command runs it
(``pytest -q -n 3 tests/test_self_conformance.py``: the fault matrix in default mode, in the
lab as root, and under both variant sets), against its goal: under 10 minutes on 2 cores.

    .venv/bin/python scripts/benchmark.py [--matrix] [--lab] [--self-test] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from conformance.browser.driver import Browser
from conformance.harness.clients import public_client
from conformance.harness.session import Pkce, ssl_context
from conformance.target.reference import ReferenceTarget
from mock_servers.metadata_host import MetadataHost
from mock_servers.pki import TestCA

CLI = [sys.executable, "-m", "conformance.cli"]
GOAL = 1.5  # the demo's goal: within this factor of its floor
SELF_TEST_GOAL_S = 600.0  # the self-test's goal on 2 cores
SELF_TEST = ["-m", "pytest", "-q", "-n", "3", "tests/test_self_conformance.py"]
ROOT = Path(__file__).resolve().parents[1]
ROUND_TRIPS = 25  # plain GETs timed for the round trip
LAUNCHES = 3  # browser starts timed for the launch


def measure(name: str, args: list[str]) -> dict[str, Any]:
    """Run ``cimd-conformance`` with ``args`` into a fresh report directory and time it."""
    with tempfile.TemporaryDirectory(prefix="cimd-bench-") as out:
        before = _children_cpu_s()
        started = time.monotonic()
        done = subprocess.run(
            [*CLI, *args, "--report-dir", out], capture_output=True, text=True, timeout=3600
        )
        wall = time.monotonic() - started
        cpu = _children_cpu_s() - before
        checks = []
        reports = [json.loads(path.read_text()) for path in sorted(Path(out).rglob("report.json"))]
        for report in reports:
            for result in report["results"]:
                checks.append((result["duration_s"], result["requirement"], report["issuer"]))
    checks.sort(reverse=True)
    return {
        "run": name,
        "exit_code": done.returncode,
        "wall_s": round(wall, 1),
        "cpu_s": round(cpu, 1),
        "cpus": os.cpu_count() or 1,
        "checks": len(checks),
        "check_time_s": round(sum(c[0] for c in checks), 1),
        "slowest": [{"s": s, "requirement": r, "issuer": i} for s, r, i in checks[:8]],
        "reports": reports,
    }


def _children_cpu_s() -> float:
    """CPU seconds (user and system) of the processes this one has waited for, and theirs."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def time_self_test() -> dict[str, Any]:
    """Run the self-test as the README's test command runs it, and time it."""
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, *SELF_TEST], capture_output=True, text=True, timeout=3600, cwd=ROOT
    )
    wall = time.monotonic() - started
    return {
        "run": "self-test",
        "command": " ".join(["pytest", *SELF_TEST[2:]]),
        "exit_code": done.returncode,
        "wall_s": round(wall, 1),
        "cpus": os.cpu_count(),
        "outcome": pytest_outcome(done.stdout),
        "goal_s": SELF_TEST_GOAL_S,
    }


def pytest_outcome(output: str) -> str:
    """The closing summary of pytest (``333 passed, 2 skipped``) in its output, else ``""``."""
    for line in reversed(output.splitlines()):
        found = re.search(r"\b\d+ (?:passed|failed|error|errors|skipped)\b.*? in [\d.]+s", line)
        if found:
            return found.group(0).rsplit(" in ", 1)[0]
    return ""


def describe_self_test(result: dict[str, Any]) -> str:
    """One line: the self-test's wall time against its goal, and on how many CPUs."""
    met = "within" if result["wall_s"] < result["goal_s"] else "over"
    outcome = result["outcome"] or "no pytest summary"
    return (
        f"self-test ({result['command']}): {result['wall_s']} s on {result['cpus']} CPUs, "
        f"{outcome} (exit {result['exit_code']}); {met} the goal of {result['goal_s']:.0f} s "
        "on 2 cores"
    )


def floor_parts(report: dict[str, Any], launch_s: float | None = None) -> dict[str, Any]:
    """What a run's floor is made of, read from its report (see the module's docstring).

    Returns ``longest_wait_s`` (and which check sat it out), ``launch_login_s`` (the
    browser's start and the login in the preflight), ``exchanges`` (plain HTTP exchanges in
    the checks' evidence) and ``browser_navigations`` (page loads asked of the browser).
    ``launch_s``, the browser's launch timed alone (:func:`launch_alone_s`), stands for the
    start: a demo launches its browser while the suite loads, and a launch that shares the
    CPU with the loading takes longer than the launch itself needs.
    """
    longest, waited_by = 0.0, None
    exchanges = 0
    for result in report["results"]:
        evidence = result.get("evidence", {})
        exchanges += sum(1 for e in evidence.get("exchanges", []) if e["method"] != "BROWSER")
        for wait in evidence.get("waits", []):
            if wait["span_s"] > longest:
                longest, waited_by = wait["span_s"], f"{result['requirement']}: {wait['why']}"
    preflight = report.get("preflight", {})
    timing = preflight.get("timing", {})
    launched = launch_s
    if launched is None:  # the launch's own time, wherever it happened
        launched = max(timing.get("browser_start_s", 0.0), timing.get("browser_launch_s", 0.0))
    return {
        "longest_wait_s": longest,
        "longest_wait": waited_by,
        "launch_login_s": round(launched + timing.get("login_s", 0.0), 3),
        "exchanges": exchanges,
        "browser_navigations": preflight.get("browser_navigations", 0),
    }


def floor_of(parts: dict[str, Any], round_trip_s: float) -> float:
    """The floor in seconds: the longest wait, the launch and login, a round trip per probe."""
    probes = parts["exchanges"] + parts["browser_navigations"]
    return float(parts["longest_wait_s"] + parts["launch_login_s"] + probes * round_trip_s)


def launch_alone_s(count: int = LAUNCHES) -> float:
    """The median time of the browser's start (driver, trust store, Chromium), alone."""
    times = []
    with tempfile.TemporaryDirectory(prefix="cimd-bench-state-") as state:
        ca = TestCA.load_or_create(Path(state))
        for _ in range(count):
            browser = Browser(ca.cert_path).start()
            times.append(browser.launch_s)
            browser.stop()
    return statistics.median(times)


def round_trip_s(count: int = ROUND_TRIPS) -> float:
    """The median time of a plain GET of the reference AS's metadata, over one connection."""
    with tempfile.TemporaryDirectory(prefix="cimd-bench-state-") as state:
        ca = TestCA.load_or_create(Path(state))
        with (
            ReferenceTarget(state_dir=Path(state)) as target,
            httpx.Client(verify=ssl_context(str(ca.cert_path)), timeout=10.0) as http,
        ):
            url = target.issuer.rstrip("/") + "/.well-known/oauth-authorization-server"
            http.get(url).raise_for_status()  # the connection and the TLS handshake
            times = []
            for _ in range(count):
                started = time.perf_counter()
                http.get(url).raise_for_status()
                times.append(time.perf_counter() - started)
    return statistics.median(times)


def probe_round_trip_s(count: int = ROUND_TRIPS) -> float:
    """The median time of a typical probe: a fresh client's authorization request.

    Each request names a client URL the target has never seen, so the target fetches its
    document from the metadata host, checks it and answers (without a session: its login).

    Raises:
        RuntimeError: the target answered without fetching the document.
    """
    with tempfile.TemporaryDirectory(prefix="cimd-bench-state-") as state:
        ca = TestCA.load_or_create(Path(state))
        with (
            ReferenceTarget(state_dir=Path(state)) as target,
            MetadataHost(ca) as host,
            httpx.Client(verify=ssl_context(str(ca.cert_path)), timeout=10.0) as http,
        ):
            authorize = target.issuer.rstrip("/") + "/authorize"
            times = []
            for _ in range(count + 1):  # the first opens the connection
                client = public_client(host)
                params = {
                    "response_type": "code",
                    "client_id": client.client_id,
                    "redirect_uri": client.redirect_uri,
                    "state": "benchmark",
                    "code_challenge": Pkce.new().challenge,
                    "code_challenge_method": "S256",
                }
                started = time.perf_counter()
                http.get(authorize, params=params)
                times.append(time.perf_counter() - started)
                if not host.fetches(client.client_id):
                    raise RuntimeError("the target answered without fetching the document")
    return statistics.median(times[1:])


def against_floor(
    wall_s: float,
    report: dict[str, Any],
    rtt_s: float,
    probe_s: float | None = None,
    cpu: tuple[float, int] | None = None,
    launch_s: float | None = None,
) -> dict[str, Any]:
    """The demo's wall time against its floor, with the floor's parts and their ratio.

    With ``probe_s`` (see :func:`probe_round_trip_s`) the same floor priced at a typical
    probe's round trip is added (``probe_floor_s``, ``probe_ratio``). With ``cpu`` (the
    run's CPU seconds, all its processes, and this machine's CPU count) the time no schedule
    of that work could beat here is added (``cpu_s``, ``cpus``, ``cpu_bound_s``), and its
    ratio to the floor (``cpu_bound_ratio``): the goal needs less work, not only more
    overlap, where that ratio is above it. ``launch_s`` is the browser's launch timed alone
    (see :func:`floor_parts`).
    """
    parts = floor_parts(report, launch_s)
    floor = floor_of(parts, rtt_s)
    result = {
        **parts,
        "round_trip_ms": round(rtt_s * 1000, 2),
        "floor_s": round(floor, 1),
        "wall_s": wall_s,
        "ratio": round(wall_s / floor, 2) if floor > 0 else None,
        "goal_ratio": GOAL,
    }
    if probe_s is not None:
        probe_floor = floor_of(parts, probe_s)
        result["probe_round_trip_ms"] = round(probe_s * 1000, 2)
        result["probe_floor_s"] = round(probe_floor, 1)
        result["probe_ratio"] = round(wall_s / probe_floor, 2) if probe_floor > 0 else None
    if cpu is not None:
        cpu_s, cpus = cpu
        result |= {"cpu_s": round(cpu_s, 1), "cpus": cpus, "cpu_bound_s": round(cpu_s / cpus, 1)}
        result["cpu_bound_ratio"] = round(cpu_s / cpus / floor, 2) if floor > 0 else None
    return result


def describe(floor: dict[str, Any]) -> str:
    """One line: ``demo: 52.3 s; floor 21.4 s (...); 2.4x the floor``."""
    probes = floor["exchanges"] + floor["browser_navigations"]
    ratio = "no floor" if floor["ratio"] is None else f"{floor['ratio']}x the floor"
    line = (
        f"demo: {floor['wall_s']} s; floor {floor['floor_s']} s (longest wait "
        f"{floor['longest_wait_s']} s + browser launch and login {floor['launch_login_s']:.1f} s "
        f"+ {probes} round trips x {floor['round_trip_ms']:.1f} ms); {ratio} "
        f"(goal {GOAL}x)"
    )
    if "probe_floor_s" in floor:
        line += (
            f"\n      at a typical probe's round trip ({floor['probe_round_trip_ms']:.1f} ms: "
            f"a fresh client's authorization request) the floor is {floor['probe_floor_s']} s; "
            f"{floor['probe_ratio']}x that"
        )
    if "cpu_bound_s" in floor:
        line += (
            f"\n      the run used {floor['cpu_s']} CPU-s (suite, target and browser): on "
            f"{floor['cpus']} CPUs no schedule of that work ends before {floor['cpu_bound_s']} s, "
            f"{floor['cpu_bound_ratio']}x the floor"
        )
    return line


def main() -> int:
    """Run the chosen benchmarks and print the results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--matrix", action="store_true", help="also time demo --matrix")
    parser.add_argument("--lab", action="store_true", help="also time the lab runs (root)")
    parser.add_argument(
        "--self-test", action="store_true", help="also time the self-test (pytest -n 3)"
    )
    parser.add_argument("--json", type=Path, help="write the results here as JSON")
    args = parser.parse_args()
    runs = [("demo", ["demo"])]
    if args.matrix:
        runs.append(("demo --matrix", ["demo", "--matrix"]))
    if args.lab:
        runs.append(("demo --lab", ["demo", "--lab"]))
        if args.matrix:
            runs.append(("demo --lab --matrix", ["demo", "--lab", "--matrix"]))
    results = []
    for name, run_args in runs:
        result = measure(name, run_args)
        reports = result.pop("reports")
        results.append(result)
        if name == "demo" and len(reports) == 1:
            result["floor"] = against_floor(
                result["wall_s"],
                reports[0],
                round_trip_s(),
                probe_round_trip_s(),
                (result["cpu_s"], result["cpus"]),
                launch_alone_s(),
            )
        print(
            f"{name:24} {result['wall_s']:7.1f} s wall, {result['cpu_s']} CPU-s, "
            f"{result['checks']} checks, "
            f"{result['check_time_s']} s in checks (exit {result['exit_code']})"
        )
        for slow in result["slowest"][:5]:
            print(f"    {slow['s']:6.2f} s  {slow['requirement']}")
        if "floor" in result:
            print(describe(result["floor"]))
    if args.self_test:
        results.append(time_self_test())
        print(describe_self_test(results[-1]))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n", "utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
