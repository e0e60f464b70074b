"""The command line: score a target (run, demo), and the commands that need no run.

This module is the thin entry: the parser, and the commands that work offline (``ca``,
``requirements``, ``lint``, ``report``, ``scoreboard``), which never import pytest or
Playwright. ``run`` and ``demo`` (:mod:`conformance.run_command`) are imported only when
given: a thin wrapper around pytest with the ``conformance.plugin`` plugin
(:mod:`conformance.pytest_run`), whose exit code comes from the reports (0 conformant, 1
non-conformant, 2 the harness could not test).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from conformance import __version__
from conformance.catalog import requirements, status
from conformance.client import command as client_command
from conformance.lint import command as lint_command
from conformance.report import rerender, scoreboard
from conformance.report.paths import DEFAULT_ROOT
from conformance.run import interrupts
from conformance.target import deadline, reference
from mock_servers.pki import TestCA

if TYPE_CHECKING:
    from conformance.browser.driver import Browser

# conformance.plugin.progress.resolve reads these (the plugin is not imported here)
PROGRESS_MODES = ("auto", "tty", "lines", "off")


def _add_run_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--report-dir", type=Path, default=DEFAULT_ROOT, help="default: %(default)s"
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
        "--serial",
        action="store_true",
        help="run every check in its turn, one at a time (by default plain-HTTP checks run "
        "ahead in a worker thread while the browser's checks run)",
    )
    parser.add_argument(
        "--param", action="append", default=[], help="extra authorization parameter key=value"
    )
    parser.add_argument(
        "--target-version",
        metavar="TEXT",
        help="the target's version, recorded in the report (as version in a target file)",
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
        choices=PROGRESS_MODES,
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
        "--matrix-fault",
        action="append",
        default=[],
        metavar="FAULT",
        help="with --matrix: score only this fault's issuer besides the clean one "
        "(repeatable; default: every fault's)",
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


def entry() -> NoReturn:
    """The ``cimd-conformance`` command: :func:`main`, and then the process ends.

    What the command made is moved out of the garbage collector's way before the process
    ends (:func:`gc.freeze`): the interpreter's shutdown then frees it without walking it
    first, which after a run took 0.2 to 0.3 s. Exit handlers and finalizers run as always.
    An in-process caller (a test) calls :func:`main`, which leaves the collector alone.
    """
    code = main()
    gc.freeze()
    raise SystemExit(code)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``cimd-conformance`` command given by ``argv`` (the process's arguments)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["reference-as"]:
        from mock_servers.reference_as import main as reference_main

        return reference_main(argv[1:])
    top = parser()
    args = top.parse_args(argv)
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
    # run and demo only: the offline commands above never load pytest or Playwright
    spawned = reference.spawn_for_demo(args)  # starts while the suite loads
    browser: Browser | None = None
    if spawned is not None:
        interrupts.hold()  # a signal while the suite loads stops the demo where it can report
    try:
        if spawned is not None:
            browser = _browser_while_loading(args)
        from conformance import run_command

        return run_command.main(args, argv, top.error, spawned, browser)
    finally:
        with interrupts.finishing():  # a late signal must not cut the stops short
            interrupts.release(deliver=False)
            if browser is not None:
                browser.stop()  # a no-op when the run stopped it
            if spawned is not None:
                spawned.stop()


def _browser_while_loading(args: argparse.Namespace) -> Browser | None:
    """The demo's browser, launched in this thread while another loads the suite.

    Only for a plain demo (the one that spawns its reference AS early): its browser is sure to
    be used, with the state directory's CA and no names of its own to resolve. The browser
    needs this thread (Playwright's synchronous API stays in the thread that started it), so
    the other one imports pytest, the plugin and the checks meanwhile. A browser that does not
    start here is started again by the run, which reports why it could not.
    """
    from conformance.browser.driver import Browser  # Playwright, before the other thread starts

    ca = TestCA.load_or_create(args.state_dir)  # demo's only CA: it takes no --target-ca
    loading = threading.Thread(target=_load_suite, name="cimd-load-suite", daemon=True)
    loading.start()
    try:
        return Browser(ca.cert_path, args.browser).start()
    except Exception:  # the run starts it again, and its report says why
        return None
    finally:
        loading.join()


def _load_suite() -> None:
    with contextlib.suppress(Exception):  # raised again where the command imports it
        import conformance.run_command  # noqa: F401
        from conformance.catalog import coverage

        # the rows this version checks, read from the scenario modules (cached): the run
        # asks at once (--only's check), and its report again
        coverage.checked_by_this_version()


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
    entry()
