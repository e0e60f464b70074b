"""Check that verdicts are stable: run the same target N times and compare every verdict.

A verdict that changes between runs of an unchanged target depends on timing, not on the
target. Runs the demo (the reference AS) by default, or any target file; prints the checks
whose verdict differed, with the verdicts seen, and exits 1 if any did (0 if all agreed).

    .venv/bin/python scripts/stability.py [--runs 10] [--target FILE | --interop-oidc-provider]
        [-- extra run options, e.g. --matrix for the demo's fault matrix]

``--interop-oidc-provider`` starts panva's oidc-provider as tests/interop/ does, from the
copy those tests installed (run them once first; ``CIMD_INTEROP_DIR`` as there).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

from conformance.target.reference import read_json_line
from mock_servers.pki import TestCA

CLI = [sys.executable, "-m", "conformance.cli"]
ROOT = Path(__file__).resolve().parents[1]
INTEROP_SOURCE = ROOT / "tests" / "interop" / "oidc-provider"
INTEROP = Path(os.environ.get("CIMD_INTEROP_DIR", ROOT / ".interop")) / "oidc-provider"

# (issuer without its port, requirement, check) -> verdict
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
            report = json.loads(path.read_text("utf-8"))
            where = re.sub(r":\d+", "", report["issuer"])  # ports differ from run to run
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


@contextlib.contextmanager
def oidc_provider(state: Path) -> Iterator[Path]:
    """oidc-provider on loopback trusting the runs' test CA; yields a target file for it."""
    if not (INTEROP / "node_modules" / "oidc-provider").is_dir():
        raise SystemExit(
            f"oidc-provider is not installed in {INTEROP}: run the interop tests once "
            "(tox -e interop), which install it"
        )
    shutil.copy(INTEROP_SOURCE / "server.mjs", INTEROP / "server.mjs")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    ca = TestCA.load_or_create(state)
    env = {**os.environ, "PORT": str(port), "NODE_EXTRA_CA_CERTS": str(ca.cert_path)}
    process = subprocess.Popen(
        ["node", "server.mjs"],
        cwd=INTEROP,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        issuer = read_json_line(process, 60, "oidc-provider")["issuer"]
        target = state / "oidc-provider.toml"
        target.write_text(  # as tests/interop/test_oidc_provider.py writes it
            f'issuer = "{issuer}"\n'
            '[user]\nname = "alice"\npassword = "any"\n'
            '[authorization]\nscope = "openid"\n'
            '[login]\nusername_selector = "input[name=login]"\n',
            "utf-8",
        )
        yield target
    finally:
        process.terminate()
        process.wait(10)
        if process.stdout is not None:
            process.stdout.close()


def main() -> int:
    """Run N times and report the verdicts that differ."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="how many runs (default 10)")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--target", type=Path, help="a target file (default: the demo)")
    which.add_argument(
        "--interop-oidc-provider", action="store_true", help="score panva's oidc-provider"
    )
    parser.add_argument("--json", type=Path, help="write the differences here as JSON")
    parser.add_argument("extra", nargs="*", help="more options for every run (after --)")
    args = parser.parse_args()
    with contextlib.ExitStack() as stack:
        state = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="cimd-stability-")))
        extra = list(args.extra)
        if "--state-dir" not in extra:  # one test CA for every run (and the target)
            extra += ["--state-dir", str(state)]
        else:
            state = Path(extra[extra.index("--state-dir") + 1])
        if args.interop_oidc_provider:
            base = ["run", "--target", str(stack.enter_context(oidc_provider(state)))]
        else:
            base = ["run", "--target", str(args.target)] if args.target else ["demo"]
        return compare(args.runs, [*base, *extra], args.json)


def compare(count: int, run_args: list[str], json_out: Path | None) -> int:
    """Run ``count`` times with ``run_args``; print and return 1 if any verdict differed."""
    runs: list[Verdicts] = []
    codes = []
    for number in range(1, count + 1):
        code, wall, verdicts = one_run(run_args)
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
        print(f"every verdict was identical across {count} runs ({len(runs[0])} checks)")
    else:
        print(f"{len(differ)} check(s) differed across {count} runs:")
        for (where, requirement, check), seen in differ.items():
            print(f"  [{where}] {requirement} {check}: {' '.join(seen)}")
    if json_out:
        rows = [
            {"report": w, "requirement": r, "check": c, "verdicts": v}
            for (w, r, c), v in differ.items()
        ]
        json_out.write_text(json.dumps(rows, indent=2) + "\n", "utf-8")
    return 1 if differ or len(set(codes)) > 1 else 0


if __name__ == "__main__":
    raise SystemExit(main())
