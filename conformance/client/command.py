"""``cimd-conformance run-client --command CMD``: its options, and running it from them."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path
from typing import Any

from conformance.catalog.requirements import PROFILES
from conformance.catalog.status import RowStatus

DESCRIPTION = """\
Score an MCP client: the reference AS and the mock MCP server play the other side, and the
MCP client rows of the requirement catalog (§3.2, MCP-CLI) that can be observed are judged.
CMD runs once per scenario, with the MCP server's URL, the CA file to trust, its client_id
URL, where to write its metadata document and the user agent's URL in its environment
(README "Scoring an MCP client").

Exit codes: 0 conformant, 1 the client failed a row, 2 the harness could not test.
"""


def add_parser(commands: Any) -> None:
    """Add the ``run-client`` subcommand to ``commands`` (an argparse subparsers action)."""
    parser = commands.add_parser(
        "run-client",
        help="score an MCP client (MCP-CLI rows) against the reference AS and mock MCP server",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--command",
        dest="client_command",
        required=True,
        help="the shell command that runs the client",
    )
    parser.add_argument("--report-dir", type=Path, default=Path("cimd-client-report"))
    parser.add_argument("--profile", choices=PROFILES, default="latest", help="default: latest")
    parser.add_argument("--strict", action="store_true", help="Recommended rows fail the run")
    parser.add_argument("--baseline", type=Path, help="known failures (TOML), as for run")
    parser.add_argument(
        "--timeout", type=float, default=60.0, help="seconds per scenario (default 60)"
    )
    parser.add_argument("--state-dir", type=Path, help="where the test CA is kept")


def status_rows(profile: str) -> list[RowStatus]:
    """The client rows for ``cimd-conformance requirements``.

    Each is checked or not, with the mock MCP client's faults that break it
    (``python -m mock_servers.mcp_client_command --fault NAME``).
    """
    from conformance.catalog import requirements
    from conformance.catalog.requirements import Tier
    from conformance.catalog.status import Status
    from conformance.client.checks import CHECKS
    from mock_servers.mcp_client_command import FAULT_ROWS

    rows = []
    for row in requirements.CLIENT_CATALOG:
        tier = requirements.tier_for(row, profile)
        check = CHECKS.get(row.id)
        status = Status.OPEN
        if check is not None:
            status = Status.OBSERVED if tier is Tier.INFORMATIONAL else Status.CHECKED
        faults = tuple(sorted(f for f, rid in FAULT_ROWS.items() if rid == row.id))
        rows.append(
            RowStatus(
                id=row.id,
                title=row.title,
                tier=tier.value,
                status=status,
                checks=(f"run-client::{check.__name__}",) if check else (),
                faults=faults,
            )
        )
    return rows


def run(args: argparse.Namespace) -> int:
    """Score the client; write the report; its exit code (2 when nothing could be judged)."""
    from conformance.client.run import score
    from conformance.report import baseline
    from conformance.report.publish import ReportDir, ReportDirError
    from conformance.report.writers import console_text, write

    if args.timeout <= 0:
        print("cimd-conformance: --timeout must be above 0 seconds", file=sys.stderr)
        return 2
    if not args.client_command.strip():
        print("cimd-conformance: --command is empty: give the client's command", file=sys.stderr)
        return 2
    known = None
    if args.baseline:
        try:
            known = baseline.load(args.baseline)
        except baseline.BaselineError as exc:
            print(f"cimd-conformance: {exc}. Fix the baseline file.", file=sys.stderr)
            return 2
        known = dataclasses.replace(known, path=str(args.baseline.resolve()))
    try:
        with ReportDir(args.report_dir) as out:
            report = score(
                args.client_command,
                profile=args.profile,
                strict=args.strict,
                state_dir=args.state_dir,
                timeout_s=args.timeout,
                baseline=known,
            )
            write(report, out.staging)
    except ReportDirError as exc:
        print(f"cimd-conformance: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # our servers, not the client: never the client's verdict
        print(
            f"cimd-conformance: the harness could not test: {type(exc).__name__}: {exc}",
            file=sys.stderr,
        )
        return 2
    print(console_text(report))
    print(f"report: {out.final}")
    return report.exit_code()
