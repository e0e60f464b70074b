"""The report formats, and writing a run's reports in all of them.

JSON is canonical; every other format is rendered from the same :class:`Report`. A new
format is one module with a ``render`` function and one line in :data:`FORMATS`: the run
writes it beside the others (a format without a file is printed at the end of the run).
Nothing here needs pytest or a browser: a ``report.json`` can be rendered again offline
(``write(Report.load(path), directory)``, or ``cimd-conformance report report.json``:
:mod:`conformance.report.rerender`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, is_dataclass
from pathlib import Path
from typing import Any

from conformance.catalog import coverage
from conformance.report import badge, console, html, junit, markdown
from conformance.report.model import Report
from conformance.report.paths import ReportPaths, label_for
from conformance.report.scrub import redact_output, scrub


@dataclass(frozen=True)
class Format:
    """One report format.

    Attributes:
        render: the format's text for a report; ``directory`` is where the report's files
            are (the HTML page embeds the screenshots found there).
        file: the file it is written to in the report's directory; ``None`` for the console.
        finish: what is added to the text once it is redacted (the HTML page's screenshots).
    """

    render: Callable[[Report, Path], str]
    file: str | None
    finish: Callable[[str, Path], str] | None = None

    def text(self, report: Report, directory: Path) -> str:
        """The format's redacted text for ``report``, finished."""
        text = redact_output(self.render(report, directory))
        return text if self.finish is None else self.finish(text, directory)


def _json(report: Report, directory: Path) -> str:
    return json.dumps(report.to_json(), indent=2, default=_plain) + "\n"


def _plain(value: Any) -> Any:
    """A dataclass in evidence as its fields (anything else JSON cannot hold is an error)."""
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    raise TypeError(f"{type(value).__name__} in a report is not JSON")


FORMATS: dict[str, Format] = {
    "json": Format(_json, "report.json"),
    "junit": Format(junit.render_report, "junit.xml"),
    "html": Format(html.page_text, "report.html", html.embed_screenshots),
    "markdown": Format(markdown.render, "report.md"),
    "badge": Format(badge.render, "badge.svg"),
    "console": Format(lambda report, directory: console.render(report), None),
}


def report_files() -> tuple[str, ...]:
    """The file names the formats write into a report directory."""
    return tuple(f.file for f in FORMATS.values() if f.file is not None)


def write(report: Report, directory: Path, formats: Iterable[str] | None = None) -> None:
    """Write ``report`` into ``directory`` in every file format (or those named).

    The report's scope (its ``coverage`` block) is computed here when missing, so every
    report states which rows its verdict rests on, including one that judged nothing. Every
    text field is redacted before rendering, and every rendered text again before it is
    written.
    """
    prepare(report)
    directory.mkdir(parents=True, exist_ok=True)
    for name in FORMATS if formats is None else formats:
        chosen = FORMATS[name]
        if chosen.file is not None:
            (directory / chosen.file).write_text(chosen.text(report, directory), "utf-8")


def prepare(report: Report) -> Report:
    """Make ``report`` ready to render: its scope computed when missing, its text redacted."""
    if not report.coverage:
        verdicts = ((r.requirement, r.verdict) for r in report.results)
        report.coverage = coverage.summarize(verdicts, report.profile)
    return scrub(report)


def write_run(
    reports: Sequence[Report], paths: ReportPaths, formats: Iterable[str] | None = None
) -> None:
    """Write each target's report where ``paths`` puts it, and the index of a multi-target run.

    In a GitHub Actions step (``$GITHUB_STEP_SUMMARY`` set), each report's Markdown summary
    is appended to the job summary too.
    """
    names = None if formats is None else tuple(formats)
    for report in reports:
        write(report, paths.directory(report.issuer), names)
    markdown.append_step_summary(reports)
    if paths.per_target:
        index = {label_for(r.issuer): _index_entry(r) for r in reports}
        paths.root.mkdir(parents=True, exist_ok=True)
        paths.index.write_text(json.dumps(index, indent=2) + "\n", "utf-8")


def _index_entry(report: Report) -> dict[str, Any]:
    """A target's line in ``index.json``: issuer, exit code, and whether the run was partial.

    A partial entry carries its report's ``selection`` (how the checks were chosen): an exit
    code 0 there means no failure among the selected checks, never a conformant target.
    """
    entry: dict[str, Any] = {
        "issuer": report.issuer,
        "exit_code": report.exit_code(),
        "partial": report.partial,
    }
    if report.partial:
        entry["selection"] = dict(report.selection)
    return entry


def console_text(report: Report, formats: Iterable[str] | None = None) -> str:
    """What the run prints for ``report`` at its end: every format without a file."""
    chosen = [FORMATS[n] for n in (FORMATS if formats is None else formats)]
    return "\n".join(f.text(report, Path()) for f in chosen if f.file is None)


def combined_exit_code(reports: Iterable[Report]) -> int:
    """The run's exit code: 2 when any target's is 2, else the highest (2 for no report)."""
    codes = [r.exit_code() for r in reports]
    return 2 if 2 in codes else max(codes, default=2)
