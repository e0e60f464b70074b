"""``python -m mock_servers.reference_as``: serve the reference AS over HTTPS on loopback.

(Over plain HTTP with the ``host-cookies`` variant; with ``upstream-login`` an upstream
identity provider listens on a second loopback port.)

When listening, one line of JSON goes to stdout (the issuers, the test credentials and the
pid) so that a parent process can start the server and read where it is.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import signal
import sys
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..pki import LOOPBACK_NAMES, TestCA, default_state_dir
from ..runner import Receive, Scope, Send, Server
from .app import create_app
from .config import DEFAULT_PASSWORD, DEFAULT_USER, DEV_EXEMPT_HOSTS, IssuerConfig
from .echo import EchoSecrets
from .faults import FAULTS, FaultSet, UnknownFaultError
from .upstream import create_provider_app
from .variants import VARIANTS, UnknownVariantError, check_variant_names


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m mock_servers.reference_as",
        description="Serve the cimd-conformance reference authorization server.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port to bind (default: any free)")
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="NAME",
        help="switch a fault on for the root issuer (repeatable)",
    )
    parser.add_argument(
        "--matrix",
        action="store_true",
        help="also serve one issuer per fault at /faults/<name>; one sign-in serves them all",
    )
    parser.add_argument("--list-faults", action="store_true", help="list the faults and exit")
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="NAME",
        help="switch a variant (a real server's shape) on for every issuer (repeatable)",
    )
    parser.add_argument("--list-variants", action="store_true", help="list the variants and exit")
    parser.add_argument(
        "--rate-interval",
        type=float,
        default=1.0,
        metavar="SECONDS",
        help="rate-limited: least time between two document fetches per client (default 1)",
    )
    parser.add_argument(
        "--rate-budget",
        type=int,
        default=30,
        metavar="N",
        help="rate-limited: most document fetches per origin in the window (default 30)",
    )
    parser.add_argument(
        "--rate-window",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="rate-limited: the window of the per-origin budget (default 60)",
    )
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=None,
        help="where the test CA lives (default: the suite's state directory)",
    )
    parser.add_argument(
        "--trust-ca",
        type=Path,
        default=None,
        help="CA bundle trusted when fetching documents (default: the test CA)",
    )
    parser.add_argument(
        "--production",
        action="store_true",
        help="no loopback exception: refuse every special-use address (default: documents "
        "on 127.0.0.1 may be fetched, a development setting)",
    )
    parser.add_argument(
        "--resource",
        action="append",
        default=[],
        metavar="URL",
        help="a protected resource (RFC 8707) tokens may be issued for (repeatable; default: "
        "the MCP endpoint on the AS's own origin, https://HOST:PORT/mcp)",
    )
    parser.add_argument("--user", default=DEFAULT_USER, help="the test user's name")
    parser.add_argument("--password", default=DEFAULT_PASSWORD, help="the test user's password")
    # the suite's redaction test: echo every secret (not a fault, so not listed among them)
    parser.add_argument("--echo-secrets", type=Path, default=None, help=argparse.SUPPRESS)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the reference AS until SIGTERM or SIGINT; returns the exit status.

    Args:
        argv: the arguments, without the program name; ``None`` reads ``sys.argv``.
    """
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:  # --help, or a usage error argparse already reported
        return exc.code if isinstance(exc.code, int) else 2
    if args.list_faults:
        for fault in FAULTS:
            print(f"{fault.name}\t{' '.join(fault.breaks)}\t{fault.about}")
        return 0
    if args.list_variants:
        for variant in VARIANTS:
            print(f"{variant.name}\t{variant.about}")
        return 0
    try:
        root_faults = FaultSet.named(args.fault)
        args.variants = check_variant_names(args.variant)
    except (UnknownFaultError, UnknownVariantError) as exc:
        print(f"reference-as: {exc}", file=sys.stderr)
        return 2
    if args.rate_interval < 0 or args.rate_budget < 1 or args.rate_window <= 0:
        print(
            "reference-as: --rate-interval must be >= 0, --rate-budget >= 1, --rate-window > 0",
            file=sys.stderr,
        )
        return 2
    if args.trust_ca is not None and not args.trust_ca.is_file():
        print(f"reference-as: --trust-ca {args.trust_ca}: no such file", file=sys.stderr)
        return 2
    serve(args, root_faults)
    return 0


def serve(args: argparse.Namespace, root_faults: FaultSet) -> None:
    """Serve until a termination signal arrives, then stop cleanly."""
    state_dir = args.state_dir or default_state_dir()
    ca = TestCA.load_or_create(state_dir)
    names = LOOPBACK_NAMES if args.host in LOOPBACK_NAMES else (*LOOPBACK_NAMES, args.host)
    with tempfile.TemporaryDirectory(prefix="cimd-reference-as-") as leaf_dir:
        leaf = ca.issue_server_pem(Path(leaf_dir), names)
        late = _LateApp()
        # host-cookies: plain http, where a __Host- Secure cookie is the problem to reproduce
        plain = "host-cookies" in args.variants
        server = Server(late, host=args.host, port=args.port, certfile=None if plain else leaf)
        provider: Server | None = None
        if "upstream-login" in args.variants:
            args.upstream_key = secrets.token_bytes(32)
            app = create_provider_app(args.upstream_key, args.user, args.password, server.base_url)
            provider = Server(app, host=args.host, port=0, certfile=leaf)
        args.upstream_origin = provider.base_url if provider else ""
        configs = _configs(args, server.base_url, root_faults, args.trust_ca or ca.cert_path)
        late.app = create_app(configs, single_sign_on=args.matrix)
        if args.echo_secrets is not None:
            late.app = EchoSecrets(late.app, args.echo_secrets)
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda _signum, _frame: stop.set())
        with server, provider or contextlib.nullcontext():
            print(json.dumps(_ready_line(configs, args)), flush=True)
            while not stop.wait(0.5):  # a timed wait keeps the main thread responsive
                pass


def _configs(
    args: argparse.Namespace, origin: str, root_faults: FaultSet, trust_ca: Path
) -> list[IssuerConfig]:
    def config(prefix: str, faults: FaultSet) -> IssuerConfig:
        return IssuerConfig(
            issuer=origin + prefix,
            path_prefix=prefix,
            faults=faults,
            trust_ca=trust_ca,
            user=args.user,
            password=args.password,
            exempt_hosts=frozenset() if args.production else DEV_EXEMPT_HOSTS,
            variants=args.variants,
            rate_interval_s=args.rate_interval,
            rate_budget=args.rate_budget,
            rate_window_s=args.rate_window,
            upstream_origin=args.upstream_origin,
            upstream_key=getattr(args, "upstream_key", b""),
            resources=tuple(args.resource),
        )

    configs = [config("", root_faults)]
    if args.matrix:
        configs.extend(config(f"/faults/{f.name}", FaultSet([f])) for f in FAULTS)
    return configs


def _ready_line(configs: list[IssuerConfig], args: argparse.Namespace) -> dict[str, Any]:
    issuers = {config.path_prefix.removeprefix("/faults/"): config.issuer_id for config in configs}
    return {
        "issuer": configs[0].issuer_id,
        "issuers": issuers,
        # the protected resource every issuer issues tokens for (RFC 8707)
        "resource": configs[0].protected_resources[0],
        "variants": sorted(args.variants),
        "upstream": args.upstream_origin or None,
        "user": args.user,
        "password": args.password,
        "mode": "production" if args.production else "development",
        "pid": os.getpid(),
    }


class _LateApp:
    """Forwards to an app set after construction: the issuer URL needs the bound port."""

    app: Any = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)
