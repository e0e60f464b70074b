"""One run of the checks from the command line: pytest with the plugin, and its reports.

``run`` and ``demo`` (:mod:`conformance.run_command`) build the run's configuration
(:func:`run_config_for`) and hand it to pytest as a plugin object
(:class:`~conformance.plugin.run.CimdRun`) that runs the checks in ``conformance.scenarios``;
the exit code comes from the reports it hands back (0 conformant, 1 non-conformant, 2 the
harness could not test). Only those two commands import this module: it loads pytest, the
plugin and, through them, Playwright.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import sys
from collections.abc import Callable, Generator, Sequence
from pathlib import Path
from typing import Any

import pytest

from conformance import __version__
from conformance.browser.driver import Browser
from conformance.plugin import progress
from conformance.plugin.run import CimdRun
from conformance.redaction import redact_text
from conformance.report import baseline
from conformance.report.model import Report
from conformance.report.paths import ReportPaths
from conformance.report.publish import ReportDir, ReportDirError
from conformance.report.writers import combined_exit_code, write, write_run
from conformance.run import interrupts
from conformance.run.options import OPTIONS, RunOptionError, run_config
from conformance.run.state import RunConfig

SCENARIOS = Path(__file__).resolve().parent / "scenarios"


def pytest_args(args: argparse.Namespace) -> list[str]:
    """The pytest command line for a run (its configuration goes as an object, not here)."""
    argv = [str(SCENARIOS), "-c", str(SCENARIOS / "pytest.ini"), "--rootdir", str(SCENARIOS)]
    argv += ["--no-header", "--assert=plain", "--strict-markers"]
    # the console summary says every verdict once; pytest's per-check errors would repeat a
    # preflight failure once per check
    argv += ["-v", "--tb=line"] if args.verbose else ["-q", "--tb=no", "-rN"]
    # only the suite's plugin: a pytest plugin installed beside it (one that reorders, reruns
    # or times out tests) must not change how a target is scored; nor is the environment's
    # every package read for plugins at each run
    argv += ["--disable-plugin-autoload", "-p", "conformance.plugin"]
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


def untested(issuer: str, args: argparse.Namespace, message: str) -> Report:
    """A report for ``issuer`` that says why nothing was tested."""
    report = Report(issuer, args.profile or "latest", args.strict, __version__, started="")
    report.preflight["error"] = message
    version = str(getattr(args, "target_version", None) or "")
    if version.isprintable() and version.strip():
        report.environment["target_version"] = version.strip()
    return report


def could_not_test(args: argparse.Namespace, issuers: Sequence[str], message: str) -> int:
    """Write a report saying why nothing could be tested; returns exit code 2."""
    named = list(issuers) or ["(no target)"]
    reports = [untested(issuer, args, message) for issuer in named]
    write_run(reports, ReportPaths.of(args.report_dir, named))
    print(f"cimd-conformance: the harness could not test: {redact_text(message)}", file=sys.stderr)
    return 2


class _CommandLineRun:
    """What only a run from the command line does around pytest (a plugin object).

    Once the checks are collected, everything loaded so far (pytest, the plugin, Playwright,
    the checks) is moved out of the garbage collector's way until pytest returns
    (:func:`gc.freeze`): collections during the checks and at pytest's end scan only what
    the run made since. When the last check's teardown is over (the browser, the metadata
    host and the canaries stopped), before the reports are written, ``checks_done`` is
    called: the demo starts stopping its reference AS meanwhile.
    """

    def __init__(self, checks_done: Callable[[], None] | None) -> None:
        self._checks_done = checks_done

    def pytest_collection_finish(self) -> None:
        gc.freeze()

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_teardown(
        self, item: pytest.Item, nextitem: pytest.Item | None
    ) -> Generator[None, None, None]:
        try:
            return (yield)
        finally:  # the last check's teardown ends the run's: browser, hosts, canaries stopped
            if nextitem is None and self._checks_done is not None:
                self._checks_done()


def run_suite(
    args: argparse.Namespace,
    issuers: Sequence[str],
    checks_done: Callable[[], None] | None = None,
    browser: Browser | None = None,
) -> int:
    """Run the checks against ``issuers``; returns the combined exit code.

    ``checks_done`` is called once the checks are done, before the reports are written
    (the targets are no longer used then). ``browser``, started already, is the run's when
    it suits it (the ``cimd_chromium`` fixture decides).
    """
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
    shown = progress.for_run(args.progress, verbose=args.verbose)
    run = CimdRun(config, known, progress=shown, started_browser=browser)
    try:
        status = pytest.main(pytest_args(args), plugins=[run, _CommandLineRun(checks_done)])
    except Exception as exc:  # the harness broke (e.g. a listener could not bind): not a verdict
        return could_not_test(args, issuers, f"the run stopped on a harness error: {exc!r}")
    finally:
        gc.unfreeze()  # what the run left is garbage again (a process that goes on, a test's)
    if run.selection.error:
        return could_not_test(args, issuers, run.selection.error)
    reports = list(run.reports)
    if not reports:  # pytest stopped before the plugin could write anything
        message = f"the run ended before any check (pytest exit status {int(status)})"
        reports = [untested(issuer, args, message) for issuer in issuers]
        write_run(reports, ReportPaths.of(args.report_dir, issuers))
    code = combined_exit_code(reports)
    where = getattr(args, "final_report_dir", args.report_dir).resolve()
    if interrupts.received() is None:  # else the interrupted line says where they are
        print(f"cimd-conformance: reports in {where} (exit code {code})")
    return code


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
        report = untested(issuer, args, "the run was interrupted before any check")
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
