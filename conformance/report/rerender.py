"""``cimd-conformance report report.json``: render a report again, offline, from its JSON alone.

Neither pytest nor a browser is imported: the HTML page, the Markdown summary, the JUnit XML
and the badge are rendered from ``report.json`` (and the screenshots beside it), so a report
can be re-rendered anywhere the package is installed, e.g. after an upgrade, or compared
with an earlier run's (``--compare OLD.json``: newly failing, newly passing, changed
verdicts). Without any output option every format is written beside ``report.json``. A
missing or broken ``report.json`` is exit code 2 with one line naming the fix.

``python -m conformance.report.rerender`` runs the same command without the rest of the
command line's imports.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from conformance.redaction import redact_text
from conformance.report import badge, console, html, junit, markdown
from conformance.report.compare import compare
from conformance.report.model import SCHEMA, Report
from conformance.report.paths import INDEX_FILE
from conformance.report.scrub import redact_output
from conformance.report.writers import FORMATS, prepare

PROG = "cimd-conformance report"
# each output option and its file beside report.json when no option is given
OUTPUTS: dict[str, str] = {
    "html": "report.html",
    "markdown": "report.md",
    "junit": "junit.xml",
    "badge": "badge.svg",
}


class ReportInputError(Exception):
    """A report.json that cannot be read: the message names the file and the fix."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The command's arguments (for the ``report`` subcommand and ``-m`` alike)."""
    parser.add_argument("report", type=Path, help="a report.json written by a run")
    parser.add_argument("--html", type=Path, metavar="FILE", help="write the HTML page here")
    parser.add_argument(
        "--markdown",
        type=Path,
        metavar="FILE",
        help="write the Markdown summary here (also appended to $GITHUB_STEP_SUMMARY if set)",
    )
    parser.add_argument("--junit", type=Path, metavar="FILE", help="write JUnit XML here")
    parser.add_argument("--badge", type=Path, metavar="FILE", help="write the SVG badge here")
    parser.add_argument(
        "--compare",
        type=Path,
        metavar="OLD",
        help="an earlier report.json: the HTML and Markdown say what changed since",
    )


def load(path: Path, option: str = "report.json") -> Report:
    """Read a report, or raise :class:`ReportInputError` saying what is wrong and the fix."""
    fix = "Give the report.json a run wrote (in its --report-dir)"
    if not path.is_file():
        what = "is a directory" if path.is_dir() else "does not exist"
        raise ReportInputError(f"{option} {path} {what}. {fix}.")
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ReportInputError(f"{option} {path} cannot be read ({exc}). {fix}.") from None
    except json.JSONDecodeError as exc:
        raise ReportInputError(
            f"{option} {path} is not JSON (line {exc.lineno}: {exc.msg}). {fix}, or run "
            "the suite again to write a new one."
        ) from None
    if isinstance(data, dict) and path.name == INDEX_FILE and "schema" not in data:
        raise ReportInputError(
            f"{option} {path} is the index of a run with several targets. Give one "
            "target's report.json (in the subdirectory named after it)."
        )
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        found = data.get("schema") if isinstance(data, dict) else type(data).__name__
        raise ReportInputError(
            f"{option} {path} is not a {SCHEMA} report (schema {found!r}). {fix}; a report "
            "of another version is re-rendered by that version."
        )
    try:
        report = Report.from_json(data)
        report.exit_code()  # every verdict is one this version knows
        prepare(report)
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        raise ReportInputError(
            f"{option} {path} is a broken {SCHEMA} report ({exc}). {fix}, or run the suite "
            "again to write a new one."
        ) from None
    return report


def rerender(args: argparse.Namespace) -> int:
    """Render ``args.report`` in the formats asked for; returns the exit code (0, or 2)."""
    try:
        report = load(args.report)
        old = load(args.compare, "--compare") if args.compare else None
    except ReportInputError as exc:
        print(f"{PROG}: {redact_text(str(exc))}", file=sys.stderr)
        return 2
    comparison = compare(old, report) if old is not None else None
    directory = args.report.resolve().parent
    asked = {name: getattr(args, name) for name in OUTPUTS if getattr(args, name)}
    if not asked:  # every format beside report.json
        asked = {name: directory / file for name, file in OUTPUTS.items()}
    renderers: dict[str, Callable[[], str]] = {
        "html": lambda: html.page_text(report, directory, comparison),
        "markdown": lambda: markdown.render(report, directory, comparison),
        "junit": lambda: junit.render_report(report),
        "badge": lambda: badge.render(report),
    }
    for name, target in asked.items():
        try:
            text = redact_output(renderers[name]())
            finish = FORMATS[name].finish  # the HTML page's screenshots, after redaction
            if finish is not None:
                text = finish(text, directory)
        except (TypeError, ValueError, KeyError, AttributeError) as exc:
            print(
                f"{PROG}: {args.report} is a broken {SCHEMA} report ({exc!r} rendering "
                f"{name}). Give the report.json a run wrote, or run the suite again.",
                file=sys.stderr,
            )
            return 2
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, "utf-8")
        except OSError as exc:
            print(
                f"{PROG}: cannot write --{name} {target} ({exc.strerror or exc}). "
                "Give a writable path.",
                file=sys.stderr,
            )
            return 2
    if "markdown" in asked:
        markdown.append_step_summary([report], comparison)
    print(console.render(report))
    if comparison is not None and comparison.newly_failing:
        ids = ", ".join(c.requirement for c in comparison.newly_failing)
        print(f"  newly failing since {comparison.old_started}: {ids}")
    for name, target in asked.items():
        print(f"{PROG}: wrote {name} {target}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m conformance.report.rerender REPORT [options]``."""
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    add_arguments(parser)
    return rerender(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
