"""Check that verdicts are stable: run the same target N times and compare every verdict.

A verdict that changes between runs of an unchanged target depends on timing, not on the
target. Runs the demo (the reference AS) by default, or any target file; prints the checks
whose verdict differed, with the verdicts seen, and exits 1 if any did (0 if all agreed).

    .venv/bin/python scripts/stability.py [--runs 10] [--target FILE] [-- extra run options]

Against the interop OIDC provider, start it as the README's interop section says and
pass a target file naming it (``--target tests/interop/...toml``).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

CLI = [sys.executable, "-m", "conformance.cli"]

# (report directory relative to the run's --report-dir, requirement, check) -> verdict
Verdicts = dict[tuple[str, str, str], str]


def one_run(args: list[str]) -> tuple[int, float, Verdicts]:
    """Run ``cimd-conformance`` with ``args`` into a fresh report directory."""
    with tempfile.TemporaryDirectory(prefix="cimd-stability-") as out:
        started = time.monotonic()
        done = subprocess.run(
            [*CLI, *args, "--report-dir", out], capture_output=True, text=True, timeout=3600
        )
        wall = time.monotonic() - started
        verdicts: Verdicts = {}
        for path in sorted(Path(out).rglob("report.json")):
            where = str(path.parent.relative_to(out))
            report = json.loads(path.read_text("utf-8"))
            if report["preflight"].get("error"):
                verdicts[(where, "(preflight)", "error")] = "harness-error"
            for result in report["results"]:
                verdicts[(where, result["requirement"], result["check"])] = result["verdict"]
    return done.returncode, wall, verdicts


def differences(runs: list[Verdicts]) -> dict[tuple[str, str, str], list[str]]:
    """Every check whose verdict was not the same in every run (missing counts as differing)."""
    keys = sorted({key for run in runs for key in run})
    seen: dict[tuple[str, str, str], list[str]] = defaultdict(list)
    for key in keys:
        verdicts = [run.get(key, "(absent)") for run in runs]
        if len(set(verdicts)) > 1:
            seen[key] = verdicts
    return dict(seen)


def main() -> int:
    """Run N times and report the verdicts that differ."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="how many runs (default 10)")
    parser.add_argument("--target", type=Path, help="a target file (default: the demo)")
    parser.add_argument("--json", type=Path, help="write the differences here as JSON")
    parser.add_argument("extra", nargs="*", help="more options for every run (after --)")
    args = parser.parse_args()
    base = ["run", "--target", str(args.target)] if args.target else ["demo"]
    runs: list[Verdicts] = []
    codes = []
    for number in range(1, args.runs + 1):
        code, wall, verdicts = one_run([*base, *args.extra])
        runs.append(verdicts)
        codes.append(code)
        counts: dict[str, int] = defaultdict(int)
        for verdict in verdicts.values():
            counts[verdict] += 1
        summary = ", ".join(f"{n} {v}" for v, n in sorted(counts.items()))
        print(f"run {number:3}: exit {code}, {wall:6.1f} s, {summary}", flush=True)
    differ = differences(runs)
    if len(set(codes)) > 1:
        print(f"exit codes differ: {codes}")
    if not differ:
        print(f"every verdict was identical across {args.runs} runs ({len(runs[0])} checks)")
    else:
        print(f"{len(differ)} check(s) differed across {args.runs} runs:")
        for (where, requirement, check), verdicts in differ.items():
            place = "" if where == "." else f"[{where}] "
            print(f"  {place}{requirement} {check}: {' '.join(verdicts)}")
    if args.json:
        rows = [
            {"report": w, "requirement": r, "check": c, "verdicts": v}
            for (w, r, c), v in differ.items()
        ]
        args.json.write_text(json.dumps(rows, indent=2) + "\n", "utf-8")
    return 1 if differ or len(set(codes)) > 1 else 0


if __name__ == "__main__":
    raise SystemExit(main())
