"""The command line: ``run``, ``demo``, ``reference-as`` and ``ca``.

``run`` is a thin wrapper around pytest with the ``conformance.plugin`` plugin: it runs the
checks in ``conformance.scenarios`` against one or more targets and turns the reports into
the exit code (0 conformant, 1 non-conformant, 2 the harness could not test).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import httpx
import pytest

from conformance import __version__, baseline, lab, requirements, resource, target_file
from conformance.harness import HTTP_TIMEOUT, ssl_context
from conformance.redaction import redact_text
from conformance.reference_target import ReferenceTarget
from conformance.report.collect import write
from conformance.report.model import Report
from conformance.run import label_for
from conformance.target_command import TargetCommand
from conformance.verdicts import HarnessError
from mock_servers.pki import TestCA

SCENARIOS = Path(__file__).resolve().parent / "scenarios"
DEFAULT_REPORT_DIR = Path("reports") / "latest"


def _add_run_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--report-dir", type=Path, default=DEFAULT_REPORT_DIR, help="default: %(default)s"
    )
    parser.add_argument("--profile", choices=requirements.PROFILES, help="default: latest")
    parser.add_argument(
        "--strict", action="store_true", help="Recommended requirements fail the run too"
    )
    parser.add_argument("--user", help="the test user's login name (default alice)")
    parser.add_argument("--password", help="the test user's password")
    parser.add_argument(
        "--browser", help="Chromium executable (else $CIMD_BROWSER, Playwright's, the system's)"
    )
    parser.add_argument("--state-dir", type=Path, help="where the test CA is kept")
    parser.add_argument("--baseline", type=Path, help="TOML file of known failures")
    parser.add_argument(
        "--param", action="append", default=[], help="extra authorization parameter key=value"
    )
    parser.add_argument(
        "--lab",
        action="store_true",
        help="run inside a private network namespace with lab DNS and special-use canaries "
        "(root only; see README)",
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="show every check as pytest runs it"
    )


def parser() -> argparse.ArgumentParser:
    """The argument parser for every subcommand."""
    top = argparse.ArgumentParser(prog="cimd-conformance", description=__doc__.splitlines()[0])
    top.add_argument("--version", action="version", version=f"cimd-conformance {__version__}")
    commands = top.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="score an authorization server")
    run.add_argument("--issuer", action="append", help="the target's issuer URL (repeatable)")
    run.add_argument("--target", type=Path, help="a target file (TOML; see README)")
    run.add_argument(
        "--mcp-server",
        help="the MCP server URL: its authorization server is found from its protected "
        "resource metadata (RFC 9728) and every request carries resource=<this URL>",
    )
    run.add_argument(
        "--target-command",
        help="shell command that starts the target for the run (inside the lab with --lab); "
        "it gets the test CA as $CIMD_CA_FILE",
    )
    _add_run_options(run)
    demo = commands.add_parser("demo", help="score the built-in reference AS")
    demo.add_argument("--fault", action="append", default=[], help="switch on a reference-AS fault")
    demo.add_argument("--matrix", action="store_true", help="also score one issuer per fault")
    _add_run_options(demo)
    commands.add_parser(
        "reference-as", help="run the reference AS (see reference-as --help)", add_help=False
    )
    ca = commands.add_parser("ca", help="print or write the test CA certificate targets must trust")
    ca.add_argument("--out", type=Path, help="write the PEM here instead of printing it")
    ca.add_argument("--state-dir", type=Path, help="where the test CA is kept")
    return top


def pytest_args(args: argparse.Namespace, issuers: Sequence[str]) -> list[str]:
    """The pytest command line for a run."""
    argv = [str(SCENARIOS), "-c", str(SCENARIOS / "pytest.ini"), "--rootdir", str(SCENARIOS)]
    argv += ["--no-header", "--tb=line", "--assert=plain", "-v" if args.verbose else "-q"]
    if os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD"):
        argv += ["-p", "conformance.plugin"]
    for issuer in issuers:
        argv += ["--cimd-issuer", issuer]
    argv += ["--cimd-report-dir", str(args.report_dir.resolve()), "--cimd-profile", args.profile]
    argv += ["--cimd-user", args.user, "--cimd-password", args.password]
    for key, value in getattr(args, "login", {}).items():
        argv += ["--cimd-login", f"{key}={value}"]
    for key, value in getattr(args, "metadata_host", {}).items():
        argv += [f"--cimd-metadata-{key.replace('_', '-')}", str(value)]
    argv += ["--strict-markers"] + (["--cimd-strict"] if args.strict else [])
    if args.browser:
        argv += ["--cimd-browser", args.browser]
    if args.state_dir:
        argv += ["--cimd-state-dir", str(args.state_dir)]
    for param in args.param:
        argv += ["--cimd-param", param]
    if args.baseline:
        argv += ["--cimd-baseline", str(args.baseline.resolve())]
    if getattr(args, "mcp_discovery", None):
        argv += ["--cimd-mcp-discovery", args.mcp_discovery]
    return argv


def could_not_test(args: argparse.Namespace, issuers: Sequence[str], message: str) -> int:
    """Write a report saying why nothing could be tested; returns exit code 2."""
    for issuer in issuers or ["(no target)"]:
        report = Report(issuer, args.profile or "latest", args.strict, __version__, started="")
        report.preflight["error"] = message
        multi = len(issuers) > 1
        write(report, args.report_dir / label_for(issuer) if multi else args.report_dir)
    print(f"cimd-conformance: the harness could not test: {redact_text(message)}", file=sys.stderr)
    return 2


def run_suite(args: argparse.Namespace, issuers: Sequence[str]) -> int:
    """Run the checks against ``issuers``; returns the combined exit code."""
    if args.baseline:
        try:
            baseline.load(args.baseline)
        except baseline.BaselineError as exc:
            return could_not_test(args, issuers, f"{exc}. Fix the baseline file.")
    status = pytest.main(pytest_args(args, issuers))
    codes = []
    for issuer in issuers:
        directory = args.report_dir / label_for(issuer) if len(issuers) > 1 else args.report_dir
        path = directory / "report.json"
        if not path.exists():  # pytest stopped before the plugin could write anything
            report = Report(issuer, args.profile, args.strict, __version__, started="")
            report.preflight["error"] = (
                f"the run ended before any check (pytest exit status {int(status)})"
            )
            write(report, directory)
        codes.append(Report.load(path).exit_code())
    code = 2 if 2 in codes else max(codes, default=2)
    where = args.report_dir.resolve()
    print(f"cimd-conformance: reports in {where} (exit code {code})")
    return code


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``cimd-conformance`` command."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["reference-as"]:
        from mock_servers.reference_as import main as reference_main

        return reference_main(argv[1:])
    args = parser().parse_args(argv)
    if args.command == "ca":
        return _ca(args)
    if args.lab and not lab.inside():
        try:
            if args.command == "run" and not args.target_command:
                raise HarnessError(
                    "run --lab needs --target-command: the lab has no route out, so the "
                    "target must be started inside it"
                )
            lab.check_can_enter()
            return lab.run_inside([sys.executable, "-m", "conformance.cli", *argv])
        except HarnessError as exc:
            _resolve(args, None)
            return could_not_test(args, getattr(args, "issuer", None) or [], str(exc))
    try:
        if lab.inside():
            lab.prepare()
        if args.command == "run":
            return _run(args)
        _resolve(args, None)
        production = ("--production",) if lab.inside() else ()
        with ReferenceTarget(
            tuple(args.fault), matrix=args.matrix, state_dir=args.state_dir, extra_args=production
        ) as target:
            issuers = list(target.issuers.values()) if args.matrix else [target.issuer]
            return run_suite(args, issuers)
    except HarnessError as exc:
        print(f"cimd-conformance: the harness could not test: {exc}", file=sys.stderr)
        return 2


def _resolve(args: argparse.Namespace, spec: target_file.TargetFile | None) -> None:
    """Fill options left unset: from the target file, else the built-in defaults."""
    args.user = args.user or (spec and spec.user) or "alice"
    args.password = args.password or (spec and spec.password) or "wonderland-test-only"
    args.profile = args.profile or (spec and spec.profile) or "latest"
    if spec is not None:
        args.param = [f"{k}={v}" for k, v in spec.params.items()] + args.param
        args.login = spec.login
        args.metadata_host = spec.metadata_host


def _run(args: argparse.Namespace) -> int:
    spec = None
    if args.target is not None:
        try:
            spec = target_file.load(args.target)
        except target_file.TargetFileError as exc:
            _resolve(args, None)
            report = Report(
                ", ".join(args.issuer or ["(from the target file)"]),
                args.profile,
                args.strict,
                __version__,
                started="",
            )
            report.preflight["error"] = f"{exc}. Fix the target file."
            write(report, args.report_dir)
            print(f"cimd-conformance: the harness could not test: {exc}", file=sys.stderr)
            return 2
    _resolve(args, spec)
    issuers = args.issuer or ([spec.issuer] if spec and spec.issuer else [])
    mcp = args.mcp_server or (spec.mcp_server if spec else None)
    if bool(issuers) == bool(mcp):
        parser().error("run needs --issuer URL, --mcp-server URL or --target FILE (one of them)")
    ca = TestCA.load_or_create(args.state_dir)
    try:
        with contextlib.ExitStack() as stack:
            if args.target_command:
                started = TargetCommand(args.target_command, mcp or issuers[0], ca.cert_path)
                stack.enter_context(started)
            if mcp:
                issuers = [_through_mcp_server(args, mcp, ca)]
            return run_suite(args, issuers)
    except HarnessError as exc:
        return could_not_test(args, issuers or [mcp or ""], str(exc))


def _through_mcp_server(args: argparse.Namespace, url: str, ca: TestCA) -> str:
    """The MCP server's authorization server; requests then carry ``resource=url``."""
    with httpx.Client(verify=ssl_context(str(ca.cert_path)), timeout=HTTP_TIMEOUT) as client:
        found = resource.discover(client, url)
    if not any(p.startswith("resource=") for p in args.param):
        args.param = [*args.param, f"resource={url}"]
    args.mcp_discovery = json.dumps(found.evidence())
    return found.issuer


def _ca(args: argparse.Namespace) -> int:
    ca = TestCA.load_or_create(args.state_dir)
    if args.out:
        args.out.write_bytes(ca.cert_pem())
        print(f"wrote the test CA certificate to {args.out} (kept in {ca.cert_path.parent})")
    else:
        sys.stdout.write(ca.cert_pem().decode("ascii"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
