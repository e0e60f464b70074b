"""Measure how long the suite takes: the demo, the fault matrix, and (as root) the lab.

Performance is measured here, never by a timed test. Prints wall-clock times and the slowest
checks of each run; with --json writes the same as JSON.

    .venv/bin/python scripts/benchmark.py [--matrix] [--lab] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

CLI = [sys.executable, "-m", "conformance.cli"]


def measure(name: str, args: list[str]) -> dict[str, Any]:
    """Run ``cimd-conformance`` with ``args`` into a fresh report directory and time it."""
    with tempfile.TemporaryDirectory(prefix="cimd-bench-") as out:
        started = time.monotonic()
        done = subprocess.run(
            [*CLI, *args, "--report-dir", out], capture_output=True, text=True, timeout=3600
        )
        wall = time.monotonic() - started
        checks = []
        for path in Path(out).rglob("report.json"):
            report = json.loads(path.read_text())
            for result in report["results"]:
                checks.append((result["duration_s"], result["requirement"], report["issuer"]))
    checks.sort(reverse=True)
    return {
        "run": name,
        "exit_code": done.returncode,
        "wall_s": round(wall, 1),
        "checks": len(checks),
        "check_time_s": round(sum(c[0] for c in checks), 1),
        "slowest": [{"s": s, "requirement": r, "issuer": i} for s, r, i in checks[:8]],
    }


def main() -> int:
    """Run the chosen benchmarks and print the results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--matrix", action="store_true", help="also time demo --matrix")
    parser.add_argument("--lab", action="store_true", help="also time the lab runs (root)")
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
        results.append(result)
        print(
            f"{name:24} {result['wall_s']:7.1f} s wall, {result['checks']} checks, "
            f"{result['check_time_s']} s in checks (exit {result['exit_code']})"
        )
        for slow in result["slowest"][:5]:
            print(f"    {slow['s']:6.2f} s  {slow['requirement']}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n", "utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
