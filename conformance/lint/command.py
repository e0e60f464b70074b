"""``cimd-conformance lint URL|FILE``: its options, and running it from them."""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

from conformance.lint.expiry import IANA_DNS_BOOTSTRAP
from conformance.lint.findings import LintResult
from conformance.lint.linter import lint_file, lint_url
from conformance.lint.live import LiveOptions
from conformance.lint.profiles import PROFILES
from conformance.run.input_checks import ca_file_problem

_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
DESCRIPTION = """\
Check a client's own metadata document against the CIMD-PUB rules (requirement catalog
§3.1). With a FILE the static rules run on the document and its URL (the document's
client_id, or --url). With a URL the document is also fetched as a strict authorization
server fetches it (no redirects followed, a time limit on every step) and the live rules
run: 200 without redirects, content type, size, TLS and public addresses, cache headers,
the same document for every requester, jwks_uri and logo_uri, and when the domain's
registration expires (PUB-17, from RDAP: --rdap-bootstrap, --no-rdap). The registrable
domain is the host's public suffix and one label more, by the ICANN section of the Public
Suffix List (app.client.co.uk: client.co.uk).

Exit codes: 0 no errors (warnings and info do not fail), 1 the document breaks a rule at
error level, 2 the lint could not run: an unreadable FILE, a URL that does not resolve,
refuses the connection or does not answer in time, a bad option. A body that is not JSON,
a redirect, an error status or a certificate that does not verify are the document's
errors (exit 1): every AS would refuse them too.
"""


def add_parser(commands: Any) -> None:
    """Add the ``lint`` subcommand to ``commands`` (an argparse subparsers action)."""
    lint = commands.add_parser(
        "lint",
        help="check a client's own metadata document against the CIMD-PUB rules",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    lint.add_argument("target", metavar="URL|FILE", help="the client_id URL, or a JSON file")
    lint.add_argument("--url", help="with a FILE: the URL it is served at (default: its client_id)")
    lint.add_argument("--json", action="store_true", help="print the cimd-conformance-lint/1 JSON")
    lint.add_argument(
        "--profile",
        choices=PROFILES,
        default="mcp",
        help="mcp: client_name is required (default); cimd: the draft alone; atproto: "
        "cimd plus the atproto client rules",
    )
    lint.add_argument(
        "--ca",
        type=Path,
        metavar="FILE",
        help="a CA certificate (PEM) to trust besides the system's",
    )
    lint.add_argument(
        "--timeout",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="the limit on each network step (default %(default)g; a whole answer: 3 times it)",
    )
    lint.add_argument(
        "--rdap-bootstrap",
        default=IANA_DNS_BOOTSTRAP,
        metavar="URL",
        help="the RDAP DNS bootstrap file (RFC 9224) that finds the domain's expiry date "
        "(PUB-17; default: IANA's)",
    )
    lint.add_argument(
        "--no-rdap", action="store_true", help="do not look up the domain's expiry date"
    )
    lint.add_argument(
        "--allow-special-use",
        action="store_true",
        help="a development host: do not report loopback or private addresses (PUB-14)",
    )


def run(args: argparse.Namespace) -> int:
    """Lint as ``args`` say, print the result, return the exit code."""
    result = _lint(args)
    if args.json:
        sys.stdout.write(json.dumps(result.to_json(), indent=2) + "\n")
    elif result.problem is not None:
        print(result.render_text(), file=sys.stderr)
    else:
        print(result.render_text())
    return result.exit_code


def _lint(args: argparse.Namespace) -> LintResult:
    is_url = bool(_URL.match(args.target))
    problem = _option_problem(args, is_url)
    if problem is not None:
        return LintResult(source=args.target, profile=args.profile, problem=problem)
    if not is_url:
        return lint_file(
            Path(args.target),
            url=args.url,
            profile=args.profile,
            allow_special_use=args.allow_special_use,
        )
    rdap = None if args.no_rdap else args.rdap_bootstrap
    options = LiveOptions(args.ca, args.timeout, args.allow_special_use, rdap)
    return lint_url(args.target, profile=args.profile, options=options)


def _option_problem(args: argparse.Namespace, is_url: bool) -> str | None:
    if is_url and args.url is not None:
        return "--url goes with a FILE; a URL is linted at itself"
    if not 0 < args.timeout < 3600:
        return f"--timeout {args.timeout:g} is not a number of seconds between 0 and 3600"
    if not args.rdap_bootstrap.startswith("https://"):
        return f"--rdap-bootstrap {args.rdap_bootstrap!r} is not an https URL"
    if args.ca is not None:
        return ca_file_problem(args.ca, "--ca")
    return None
