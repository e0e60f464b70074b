"""``run`` and ``demo``: from the parsed command line to a run of the checks.

The target resolved (``--issuer``, ``--target`` file, ``--mcp-server``, or the reference AS
for ``demo``), the lab entered, the report directory staged and published, interrupts kept;
the run itself is :func:`conformance.pytest_run.run_suite`. The command line
(:mod:`conformance.cli`) imports this module only for these two commands, so that its offline
commands never load pytest or Playwright.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn

from conformance.browser.driver import Browser
from conformance.catalog.verdicts import HarnessError
from conformance.harness.session import ssl_context
from conformance.network import lab
from conformance.plugin.listing import list_checks
from conformance.plugin.selection import only_problem
from conformance.pytest_run import (
    could_not_test,
    in_report_dir,
    pytest_args,
    run_config_for,
    run_suite,
    untested,
)
from conformance.report.writers import write
from conformance.run import input_checks, interrupts, mcp_journey
from conformance.target import deadline, reference, resource
from conformance.target import file as target_file
from conformance.target.command import TargetCommand
from conformance.target.reference import ReferenceTarget
from mock_servers.pki import TestCA

# The pacing a user gives a server with the rate-limited variant's budget (30 document
# fetches a minute per origin): honour its Retry-After in full, and let it cache documents.
RATE_LIMITED_DEMO_PACING = ("max_wait_s=60", "cache_control=max-age=600")
UsageError = Callable[[str], NoReturn]


def main(
    args: argparse.Namespace,
    argv: Sequence[str],
    usage_error: UsageError,
    spawned: ReferenceTarget | None = None,
    browser: Browser | None = None,
) -> int:
    """Run ``run`` or ``demo`` as parsed in ``args`` (``argv`` is re-run inside the lab).

    Args:
        args: the parsed command line.
        argv: the command line as given.
        usage_error: stops the command on a usage error (the parser's ``error``).
        spawned: the reference AS already spawned for ``demo``
            (:func:`~conformance.target.reference.spawn_for_demo`), used when it is the
            one ``demo`` wants; the caller stops it.
        browser: the browser already started for ``demo`` while the suite loaded, used when
            it suits the run (:meth:`~conformance.browser.driver.Browser.made_for`); the
            caller stops it.
    """
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
        return in_report_dir(args, lambda: _command(args, usage_error, spawned, browser))
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


def _command(
    args: argparse.Namespace,
    usage_error: UsageError,
    spawned: ReferenceTarget | None = None,
    browser: Browser | None = None,
) -> int:
    try:
        interrupts.release()  # a signal held while the suite loaded interrupts here
        if lab.inside():
            lab.prepare()
        if args.command == "run":
            return _run(args, usage_error)
        _resolve(args, None)
        production = ("--production",) if lab.inside() else ()
        unknown = (
            _unknown_variants(args.variant)
            or _unscorable_faults(args.matrix_fault, args.matrix)
            or pacing_problem(args.pacing)
        )
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
            wanted = reference.for_demo(args, production)
            if spawned is not None and not spawned.same_as(wanted):
                spawned.stop()
                spawned = None
            target = stack.enter_context(spawned or wanted)
            if mcp is not None:
                mcp.issuer = target.issuer
                mcp_journey.declare(args, mcp.url, ours=True)
            scored = _scored_issuers(target.issuers, args.matrix_fault)
            issuers = list(scored.values()) if args.matrix else [target.issuer]
            if args.matrix and args.targeted:
                args.judge_only = targeted(scored)
            if not any(p.startswith("resource=") for p in args.param):
                # as an MCP client would: every request names the MCP server (RFC 8707)
                args.param = [*args.param, f"resource={target.ready['resource']}"]
            # the reference AS fronts its own MCP endpoint and keeps the MCP proxy's consent
            # rules, so CIMD-UI-07 is judged on it
            args.mcp_proxy = True
            # the reports are written while the AS shuts down
            return run_suite(args, issuers, checks_done=target.terminate, browser=browser)
    except HarnessError as exc:
        print(f"cimd-conformance: the harness could not test: {exc}", file=sys.stderr)
        return 2


def _scored_issuers(issuers: dict[str, str], chosen: Sequence[str]) -> dict[str, str]:
    """The matrix's issuers to score, by fault name: the clean one, and ``chosen``'s.

    Every fault's issuer when none is chosen.
    """
    if not chosen:
        return issuers
    return {name: issuer for name, issuer in issuers.items() if not name or name in chosen}


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


def _unscorable_faults(names: Sequence[str], matrix: bool) -> str | None:
    """A one-line message when ``--matrix-fault`` names an unknown fault or lacks --matrix."""
    if not names:
        return None
    from mock_servers.reference_as.faults import fault_names

    unknown = sorted(set(names) - set(fault_names()))
    if unknown:
        return (
            f"unknown fault(s) in --matrix-fault: {', '.join(unknown)} (see reference-as "
            "--list-faults). Fix --matrix-fault."
        )
    if names and not matrix:
        return "--matrix-fault chooses among the matrix's issuers: add --matrix"
    return None


def _unknown_variants(names: Sequence[str]) -> str | None:
    """A one-line message naming unknown reference-AS variants, or ``None``."""
    if not names:
        return None  # the reference AS's package is not imported here for nothing
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


def _resolve(args: argparse.Namespace, spec: target_file.TargetFile | None) -> None:
    """Fill options left unset: from the target file, else the built-in defaults."""
    args.user = args.user or (spec and spec.user) or "alice"
    args.password = args.password or (spec and spec.password) or "wonderland-test-only"
    args.profile = args.profile or (spec and spec.profile) or "latest"
    args.target_version = getattr(args, "target_version", None) or (spec and spec.version) or None
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


def _run(args: argparse.Namespace, usage_error: UsageError) -> int:
    spec = None
    if args.target is not None:
        try:
            spec = target_file.load(args.target)
        except target_file.TargetFileError as exc:
            _resolve(args, None)
            issuer = ", ".join(args.issuer or ["(from the target file)"])
            write(untested(issuer, args, f"{exc}. Fix the target file."), args.report_dir)
            print(f"cimd-conformance: the harness could not test: {exc}", file=sys.stderr)
            return 2
    _resolve(args, spec)
    issuers = args.issuer or ([spec.issuer] if spec and spec.issuer else [])
    mcp = args.mcp_server or (spec.mcp_server if spec else None)
    if bool(issuers) == bool(mcp):
        usage_error("run needs --issuer URL, --mcp-server URL or --target FILE (one of them)")
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
