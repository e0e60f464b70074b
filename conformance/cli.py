"""The command line: ``run``, ``demo``, ``reference-as``, ``ca`` and ``scoreboard``.

``run`` is a thin wrapper around pytest with the ``conformance.plugin`` plugin: it builds the
run's configuration (:func:`run_config_for`), hands it to pytest as a plugin object
(:class:`~conformance.plugin.run.CimdRun`) that runs the checks in ``conformance.scenarios``
against one or more targets, and takes the exit code from the reports it hands back (0
conformant, 1 non-conformant, 2 the harness could not test).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from conformance import __version__
from conformance.catalog import requirements, status
from conformance.catalog.verdicts import HarnessError
from conformance.client import command as client_command
from conformance.harness.session import ssl_context
from conformance.lint import command as lint_command
from conformance.network import lab
from conformance.plugin import progress
from conformance.plugin.listing import list_checks
from conformance.plugin.run import CimdRun
from conformance.plugin.selection import only_problem
from conformance.redaction import redact_text
from conformance.report import baseline, rerender, scoreboard
from conformance.report.model import Report
from conformance.report.paths import ReportPaths
from conformance.report.publish import ReportDir, ReportDirError
from conformance.report.writers import combined_exit_code, write, write_run
from conformance.run import input_checks, interrupts, mcp_journey
from conformance.run.options import OPTIONS, RunOptionError, run_config
from conformance.run.state import RunConfig
from conformance.target import deadline, resource
from conformance.target import file as target_file
from conformance.target.command import TargetCommand
from conformance.target.reference import ReferenceTarget
from mock_servers.pki import TestCA

SCENARIOS = Path(__file__).resolve().parent / "scenarios"
DEFAULT_REPORT_DIR = RunConfig().report_dir
# The pacing a user gives a server with the rate-limited variant's budget (30 document
# fetches a minute per origin): honour its Retry-After in full, and let it cache documents.
RATE_LIMITED_DEMO_PACING = ("max_wait_s=60", "cache_control=max-age=600")


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
        "--judge-only",
        metavar="JSON",
        help='judge some issuers on some rows only: {"ISSUER": ["CIMD-DOC-03", ...]} '
        "(a targeted fault matrix; their reports are partial)",
    )
    parser.add_argument(
        "--mcp-proxy",
        action="store_true",
        help="the target is an MCP proxy acting as an AS (MCP security best practices): "
        "judges CIMD-UI-07 (demo: always)",
    )
    parser.add_argument(
        "--param", action="append", default=[], help="extra authorization parameter key=value"
    )
    parser.add_argument(
        "--pacing",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="pace the suite for a rate-limited target: min_interval_s, retries, max_wait_s, "
        "backoff_s, cache_control (as [pacing] in a target file)",
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
    _add_selection_options(parser)
    _add_timeout_options(parser)


def _add_selection_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--progress",
        choices=progress.MODES,
        default="auto",
        help="tty: one status line; lines: one plain line per check (CI logs); off: none "
        "(default auto: tty on a terminal's stderr, else lines; off with -v)",
    )
    parser.add_argument(
        "--list",
        action="store_true",
        help="print the checks (requirement ID, tier) the run would judge, and exit 0; "
        "contacts no target",
    )
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="ID-PREFIX",
        help="run only the checks of this requirement ID or prefix, e.g. CIMD-DOC, "
        "MCP-AUTH-10 (repeatable). A partial run is never conformant: exit 0 means no "
        "failure among the selected checks (verdict PARTIAL), 1 a failure, 2 not tested or "
        "a selection of no check",
    )
    parser.add_argument(
        "-k",
        dest="keyword",
        metavar="EXPR",
        help="run only the checks matching this pytest -k expression (partial, as --only)",
    )


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a number of seconds above 0, got {text!r}")
    return value


def _add_timeout_options(parser: argparse.ArgumentParser) -> None:
    limits = deadline.Limits()
    for name, default, what in (
        ("exchange", limits.exchange_s, "one request to the target and its whole answer"),
        ("check", limits.check_s, "one check"),
        ("run", limits.run_s, "the whole run"),
    ):
        parser.add_argument(
            f"--{name}-timeout",
            type=_seconds,
            metavar="SECONDS",
            help=f"the most {what} may take, in all (default {default:g})",
        )


def _add_mcp_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--mcp",
        action="store_true",
        help="also run the MCP journey: the mock MCP client, through the mock MCP server the "
        "target protects, to a tool call (with --mcp-server: through that server)",
    )
    parser.add_argument(
        "--mcp-port",
        type=int,
        default=0,
        help="the mock MCP server's port (default: any free), so the target can be told its "
        "URL https://127.0.0.1:PORT/mcp as a resource (RFC 8707)",
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
    run.add_argument(
        "--target-ca",
        type=Path,
        help="CA certificate(s) of the target's own TLS certificate, when the system does not "
        "trust it (PEM)",
    )
    _add_run_options(run)
    _add_mcp_options(run)
    demo = commands.add_parser("demo", help="score the built-in reference AS")
    demo.add_argument("--fault", action="append", default=[], help="switch on a reference-AS fault")
    demo.add_argument("--matrix", action="store_true", help="also score one issuer per fault")
    demo.add_argument(
        "--targeted",
        action="store_true",
        help="with --matrix: judge each fault's issuer on the rows its fault breaks only "
        "(the clean issuer on every row); fast, but blind to a fault breaking other rows",
    )
    demo.add_argument(
        "--variant",
        action="append",
        default=[],
        help="switch on a reference-AS variant, a real server's shape (repeatable; "
        "see reference-as --list-variants)",
    )
    _add_run_options(demo)
    _add_mcp_options(demo)
    commands.add_parser(
        "reference-as", help="run the reference AS (see reference-as --help)", add_help=False
    )
    listing = commands.add_parser(
        "requirements",
        help="print the catalog: each row's tier, checks, faults and coverage status",
    )
    listing.add_argument("--json", action="store_true", help="print JSON instead of a table")
    listing.add_argument(
        "--profile", choices=requirements.PROFILES, default="latest", help="default: latest"
    )
    lint_command.add_parser(commands)
    client_command.add_parser(commands)
    rerender.add_arguments(
        commands.add_parser("report", help="render a report.json again, offline (--compare OLD)")
    )
    ca = commands.add_parser("ca", help="print or write the test CA certificate targets must trust")
    ca.add_argument("--out", type=Path, help="write the PEM here instead of printing it")
    ca.add_argument("--state-dir", type=Path, help="where the test CA is kept")
    board = commands.add_parser("scoreboard", help="merge report.json files into one table")
    board.add_argument(
        "reports", nargs="+", type=Path, metavar="REPORT", help="report.json or a directory"
    )
    board.add_argument("--html", type=Path, metavar="FILE", help="write the table as HTML")
    board.add_argument("--markdown", type=Path, metavar="FILE", help="write it as Markdown")
    return top


def pytest_args(args: argparse.Namespace) -> list[str]:
    """The pytest command line for a run (its configuration goes as an object, not here)."""
    argv = [str(SCENARIOS), "-c", str(SCENARIOS / "pytest.ini"), "--rootdir", str(SCENARIOS)]
    argv += ["--no-header", "--assert=plain", "--strict-markers"]
    # the console summary says every verdict once; pytest's per-check errors would repeat a
    # preflight failure once per check
    argv += ["-v", "--tb=line"] if args.verbose else ["-q", "--tb=no", "-rN"]
    if os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD"):
        argv += ["-p", "conformance.plugin"]
    argv += ["-k", args.keyword] if getattr(args, "keyword", None) else []
    argv += progress.pytest_options(getattr(args, "progress", "off"), verbose=args.verbose)
    return argv


def run_config_for(args: argparse.Namespace, issuers: Sequence[str]) -> RunConfig:
    """The run's configuration from the command line (after :func:`_resolve`).

    Options are taken by their run-option names (``args.user`` is the run option ``user``);
    the target file's ``[metadata_host]`` table gives the ``metadata_*`` options.

    Raises:
        RunOptionError: an option's value cannot be used.
    """
    values: dict[str, Any] = {
        o.name: getattr(args, o.name) for o in OPTIONS if hasattr(args, o.name)
    }
    values.update({f"metadata_{k}": v for k, v in getattr(args, "metadata_host", {}).items()})
    values.update(issuer=list(issuers), report_dir=args.report_dir.resolve())
    if getattr(args, "target_ca", None):
        values["target_ca"] = Path(args.target_ca).resolve()
    return run_config(values)


def _untested(issuer: str, args: argparse.Namespace, message: str) -> Report:
    """A report for ``issuer`` that says why nothing was tested."""
    report = Report(issuer, args.profile or "latest", args.strict, __version__, started="")
    report.preflight["error"] = message
    return report


def could_not_test(args: argparse.Namespace, issuers: Sequence[str], message: str) -> int:
    """Write a report saying why nothing could be tested; returns exit code 2."""
    named = list(issuers) or ["(no target)"]
    reports = [_untested(issuer, args, message) for issuer in named]
    write_run(reports, ReportPaths.of(args.report_dir, named))
    print(f"cimd-conformance: the harness could not test: {redact_text(message)}", file=sys.stderr)
    return 2


def run_suite(args: argparse.Namespace, issuers: Sequence[str]) -> int:
    """Run the checks against ``issuers``; returns the combined exit code."""
    known = None
    if args.baseline:
        try:
            known = baseline.load(args.baseline)
        except baseline.BaselineError as exc:
            return could_not_test(args, issuers, f"{exc}. Fix the baseline file.")
        known = dataclasses.replace(known, path=str(args.baseline.resolve()))  # named in full
    try:
        config = run_config_for(args, issuers)
    except RunOptionError as exc:
        flag = "--" + exc.option.name.replace("_", "-")
        return could_not_test(args, issuers, f"{flag}: {exc}. Fix {flag}.")
    run = CimdRun(config, known, progress=progress.for_run(args.progress, verbose=args.verbose))
    try:
        status = pytest.main(pytest_args(args), plugins=[run])
    except Exception as exc:  # the harness broke (e.g. a listener could not bind): not a verdict
        return could_not_test(args, issuers, f"the run stopped on a harness error: {exc!r}")
    if run.selection.error:
        return could_not_test(args, issuers, run.selection.error)
    reports = list(run.reports)
    if not reports:  # pytest stopped before the plugin could write anything
        message = f"the run ended before any check (pytest exit status {int(status)})"
        reports = [_untested(issuer, args, message) for issuer in issuers]
        write_run(reports, ReportPaths.of(args.report_dir, issuers))
    code = combined_exit_code(reports)
    where = getattr(args, "final_report_dir", args.report_dir).resolve()
    if interrupts.received() is None:  # else the interrupted line says where they are
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
    if args.command == "requirements":
        return _requirements(args)
    if args.command == "lint":
        return lint_command.run(args)
    if args.command == "run-client":
        return client_command.run(args)
    if args.command == "scoreboard":
        return scoreboard.main(args.reports, args.html, args.markdown)
    if args.command == "report":
        return rerender.rerender(args)
    if only_problem(args.only):
        print(f"cimd-conformance: {only_problem(args.only)}", file=sys.stderr)
        return 2
    if args.list:
        return list_checks(run_config_for(args, []), pytest_args(args))
    unwritable = input_checks.report_dir_problem(args.report_dir)
    if unwritable:
        print(f"cimd-conformance: {unwritable}. Give a writable --report-dir.", file=sys.stderr)
        return 2
    interrupts.install()
    try:
        if args.lab and not lab.inside():
            return _enter_lab(args, argv)
        return in_report_dir(args, lambda: _command(args))
    except KeyboardInterrupt:  # outside any report directory: nothing to mark
        return interrupts.exit_code(interrupts.received())
    finally:
        interrupts.uninstall()


def _enter_lab(args: argparse.Namespace, argv: Sequence[str]) -> int:
    """Re-run the command inside the lab (the run inside writes the reports)."""
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
        issuers, message = getattr(args, "issuer", None) or [], str(exc)
        return in_report_dir(args, lambda: could_not_test(args, issuers, message))


def _command(args: argparse.Namespace) -> int:
    try:
        if lab.inside():
            lab.prepare()
        if args.command == "run":
            return _run(args)
        _resolve(args, None)
        production = ("--production",) if lab.inside() else ()
        unknown = _unknown_variants(args.variant) or pacing_problem(args.pacing)
        if unknown:
            return could_not_test(args, [], unknown)
        if "rate-limited" in args.variant and not args.pacing:
            args.pacing = list(RATE_LIMITED_DEMO_PACING)
        with contextlib.ExitStack() as stack:
            mcp = None
            if args.mcp:  # the AS is told the mock MCP server's URL, a resource it serves
                ca = TestCA.load_or_create(args.state_dir)
                mcp = stack.enter_context(mcp_journey.mock_mcp_server(ca, port=args.mcp_port))
                production = (*production, "--resource", mcp.url)
            target = stack.enter_context(
                ReferenceTarget(
                    tuple(args.fault),
                    matrix=args.matrix,
                    state_dir=args.state_dir,
                    extra_args=production,
                    variants=tuple(args.variant),
                )
            )
            if mcp is not None:
                mcp.issuer = target.issuer
                mcp_journey.declare(args, mcp.url, ours=True)
            issuers = list(target.issuers.values()) if args.matrix else [target.issuer]
            if args.matrix and args.targeted:
                args.judge_only = targeted(target.issuers)
            if not any(p.startswith("resource=") for p in args.param):
                # as an MCP client would: every request names the MCP server (RFC 8707)
                args.param = [*args.param, f"resource={target.ready['resource']}"]
            # the reference AS fronts its own MCP endpoint and keeps the MCP proxy's consent
            # rules, so CIMD-UI-07 is judged on it
            args.mcp_proxy = True
            return run_suite(args, issuers)
    except HarnessError as exc:
        print(f"cimd-conformance: the harness could not test: {exc}", file=sys.stderr)
        return 2


def targeted(issuers: dict[str, str]) -> dict[str, list[str]]:
    """``judge_only`` for a matrix: each fault's issuer on the rows its fault breaks.

    The rows of both modes: a fault that breaks a row only in the lab is judged on it in
    loopback mode too, where it must not fail; and a fault of one profile's rows is judged on
    them under any profile, where the others record them.

    Args:
        issuers: the reference AS's issuers by fault name ("" for the clean one, judged on all).
    """
    from mock_servers.reference_as.faults import get_fault

    def rows(name: str) -> list[str]:
        fault = get_fault(name)  # its rows even where its profile is not the run's: recorded
        own = fault.profile or "latest"
        return sorted({*fault.breaks_in("loopback", own), *fault.breaks_in("lab", own)})

    return {issuer: rows(name) for name, issuer in issuers.items() if name}


def _unknown_variants(names: Sequence[str]) -> str | None:
    """A one-line message naming unknown reference-AS variants, or ``None``."""
    from mock_servers.reference_as.variants import UnknownVariantError, check_variant_names

    try:
        check_variant_names(names)
    except UnknownVariantError as exc:
        return f"{exc}. Fix --variant."
    return None


def pacing_problem(options: Sequence[str]) -> str | None:
    """A one-line message for bad ``--pacing`` options, or ``None``."""
    from conformance.target.pacing import Pacing

    pairs = []
    for option in options:
        key, sep, value = option.partition("=")
        if not sep:
            return f"--pacing takes KEY=VALUE, got {option!r}. Fix --pacing."
        pairs.append((key.strip(), value))
    try:
        Pacing.parse(pairs)
    except ValueError as exc:
        return f"{exc}. Fix --pacing (or [pacing] in the target file)."
    return None


def in_report_dir(args: argparse.Namespace, body: Callable[[], int]) -> int:
    """Run ``body`` writing into a staged copy of ``--report-dir``, published at the end.

    A second run on the same report directory is refused (exit 2). A run stopped by
    SIGINT or SIGTERM still publishes what it judged, every report marked ``interrupted``,
    and exits 130 (SIGINT) or 2 (SIGTERM).
    """
    final = args.report_dir
    try:
        with ReportDir(final) as out:
            args.report_dir, args.final_report_dir = out.staging, final
            stopped = False
            try:
                code = body()
            except KeyboardInterrupt:
                code, stopped = 2, True
            finally:
                interrupts.defer()  # a late signal must not cut the publishing short
            name = interrupts.received() or ("SIGINT" if stopped else None)
            if name is not None:
                _mark_interrupted(args, out.staging)
                code = interrupts.exit_code(name)
                print(
                    f"cimd-conformance: interrupted by {name}, not a verdict: reports in "
                    f"{out.final} (exit code {code})",
                    file=sys.stderr,
                )
            return code
    except ReportDirError as exc:
        print(f"cimd-conformance: {exc}", file=sys.stderr)
        return 2
    finally:
        args.report_dir = final


def _mark_interrupted(args: argparse.Namespace, staging: Path) -> None:
    """Mark every report in ``staging`` interrupted; write one if the run wrote none."""
    paths = sorted(staging.glob("report.json")) + sorted(staging.glob("*/report.json"))
    if not paths:
        issuer = ", ".join(getattr(args, "issuer", None) or []) or "(not started)"
        report = _untested(issuer, args, "the run was interrupted before any check")
        report.interrupted = interrupts.record(0)
        write(report, staging)
        return
    for path in paths:
        report = Report.load(path)
        if not report.interrupted:
            report.interrupted = interrupts.record(len(report.results))
            write(report, path.parent)
    index = ReportPaths(staging).index
    if index.exists():
        entries = json.loads(index.read_text("utf-8"))
        for entry in entries.values():
            entry["exit_code"] = interrupts.exit_code(interrupts.received())
            entry["interrupted"] = True
        index.write_text(json.dumps(entries, indent=2) + "\n", "utf-8")


def _resolve(args: argparse.Namespace, spec: target_file.TargetFile | None) -> None:
    """Fill options left unset: from the target file, else the built-in defaults."""
    args.user = args.user or (spec and spec.user) or "alice"
    args.password = args.password or (spec and spec.password) or "wonderland-test-only"
    args.profile = args.profile or (spec and spec.profile) or "latest"
    defaults = deadline.Limits()
    for name in ("exchange", "check", "run"):
        chosen = getattr(args, f"{name}_timeout", None)
        from_file = spec.timeouts.get(name) if spec is not None else None
        setattr(args, f"{name}_timeout", chosen or from_file or getattr(defaults, f"{name}_s"))
    if spec is not None:
        args.param = [f"{k}={v}" for k, v in spec.params.items()] + args.param
        args.pacing = [f"{k}={v}" for k, v in spec.pacing.items()] + args.pacing
        args.login = spec.login
        args.mcp_proxy = args.mcp_proxy or spec.mcp_proxy
        args.metadata_host = spec.metadata_host


def _run(args: argparse.Namespace) -> int:
    spec = None
    if args.target is not None:
        try:
            spec = target_file.load(args.target)
        except target_file.TargetFileError as exc:
            _resolve(args, None)
            issuer = ", ".join(args.issuer or ["(from the target file)"])
            write(_untested(issuer, args, f"{exc}. Fix the target file."), args.report_dir)
            print(f"cimd-conformance: the harness could not test: {exc}", file=sys.stderr)
            return 2
    _resolve(args, spec)
    issuers = args.issuer or ([spec.issuer] if spec and spec.issuer else [])
    mcp = args.mcp_server or (spec.mcp_server if spec else None)
    if bool(issuers) == bool(mcp):
        parser().error("run needs --issuer URL, --mcp-server URL or --target FILE (one of them)")
    problem = _input_problem(args, spec, issuers, mcp)
    if problem:
        return could_not_test(args, [", ".join(issuers or [mcp or ""])], problem)
    ca = TestCA.load_or_create(args.state_dir)
    try:
        with contextlib.ExitStack() as stack:
            if args.target_command:
                started = TargetCommand(
                    args.target_command, mcp or issuers[0], ca.cert_path, args.target_ca
                )
                stack.enter_context(started)
            if mcp:
                issuers = [_through_mcp_server(args, mcp, ca)]
                mcp_journey.declare(args, mcp, ours=False)
            elif args.mcp:
                if len(issuers) != 1:
                    raise HarnessError("--mcp journeys to one target: give one --issuer")
                server = mcp_journey.mock_mcp_server(ca, args.target_ca, args.mcp_port)
                mock = stack.enter_context(server)
                mock.issuer = issuers[0]
                mcp_journey.declare(args, mock.url, ours=True)
            return run_suite(args, issuers)
    except HarnessError as exc:
        return could_not_test(args, issuers or [mcp or ""], str(exc))


def _input_problem(
    args: argparse.Namespace,
    spec: target_file.TargetFile | None,
    issuers: Sequence[str],
    mcp: str | None,
) -> str | None:
    """What is wrong with the run's URLs, target CA or metadata-host ports, or None."""
    in_file = f"in {args.target}"
    urls = [(u, "--issuer" if args.issuer else f"issuer {in_file}") for u in issuers]
    if mcp:
        urls.append((mcp, "--mcp-server" if args.mcp_server else f"mcp_server {in_file}"))
    problems = [input_checks.url_problem(url, name) for url, name in urls]
    if args.target_ca is None and spec is not None and spec.target_ca:
        args.target_ca = Path(spec.target_ca)
        problems.append(input_checks.ca_file_problem(args.target_ca, f"target_ca {in_file}"))
    elif args.target_ca is not None:
        problems.append(input_checks.ca_file_problem(args.target_ca, "--target-ca"))
    host = getattr(args, "metadata_host", {})
    if not lab.inside():
        for key in target_file.METADATA_HOST_PORTS:
            if host.get(key):
                address = str(host.get("bind", "127.0.0.1"))
                where = f"[metadata_host] {key} {in_file}"
                problems.append(input_checks.port_problem(address, int(host[key]), where))
    problems.append(pacing_problem(args.pacing))
    return next((p for p in problems if p), None)


def _through_mcp_server(args: argparse.Namespace, url: str, ca: TestCA) -> str:
    """The MCP server's authorization server; requests then carry ``resource=url``."""
    limits = deadline.Limits(args.exchange_timeout, args.check_timeout, args.run_timeout)
    tls = ssl_context(str(ca.cert_path))
    if args.target_ca:
        tls.load_verify_locations(cafile=str(args.target_ca))
    with deadline.client(tls) as client:
        found = resource.discover(client, url, deadline.Clock(limits))
    if not any(p.startswith("resource=") for p in args.param):
        args.param = [*args.param, f"resource={url}"]
    args.mcp_discovery = found.evidence()
    return found.issuer


def _requirements(args: argparse.Namespace) -> int:
    from mock_servers.reference_as.faults import FAULTS

    profile = args.profile
    broken = {
        f.name: {*f.breaks_in("loopback", profile), *f.breaks_in("lab", profile)} for f in FAULTS
    }
    rows = status.table(profile, status.faults_by_row(broken))
    client_rows = client_command.status_rows(profile)  # MCP-CLI, scored by run-client
    if args.json:
        doc = {"profile": args.profile, "rows": [r.to_json() for r in rows]}
        doc["client_rows"] = [r.to_json() for r in client_rows]
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
    else:
        sys.stdout.write(status.render_text(rows) + "\n")
        sys.stdout.write("\nMCP client rows (run-client; faults of the mock MCP client)\n")
        sys.stdout.write(status.render_text(client_rows) + "\n")
    return 0


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
