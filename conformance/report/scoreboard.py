"""The scoreboard: many targets' report.json files merged into one table.

One column per report (a target), one row per requirement any report judged, rows grouped
by catalog group in catalog order. Each cell is the target's verdict on the row: with
several checks on one row, the one that says most (a violation over a harness error over a
pass). The column heads say what each verdict rests on: the issuer, the run's exit code,
the suite's version, the target's version where a report records one
(``environment.target_version``), the browser, the profile and mode, and the date.

Rendered as a self-contained HTML page (Jinja2, autoescaped: issuers and labels are the
user's, never trusted) and as Markdown for a CI job summary. Nothing here needs pytest or a
browser: a scoreboard is built from report.json files alone.
"""

from __future__ import annotations

import html
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from conformance.catalog import requirements
from conformance.catalog.coverage import group_of
from conformance.catalog.verdicts import Verdict
from conformance.report.model import Report
from conformance.report.template_cache import TEMPLATES

# which of a row's verdicts a cell shows: the first found in this order
_PRECEDENCE = (
    Verdict.FAIL,
    Verdict.NON_STRICT,
    Verdict.ADVISORY,
    Verdict.HARNESS_ERROR,
    Verdict.PASS,
    Verdict.INFORMATIONAL,
    Verdict.NOT_APPLICABLE,
)
_EXIT_WORDS = {0: "conformant", 1: "non-conformant", 2: "not tested"}
NOT_JUDGED = "-"


class ScoreboardError(ValueError):
    """A report cannot be read; the message names the file and the fix."""


@dataclass(frozen=True)
class Cell:
    """One target's verdict on one requirement.

    Attributes:
        verdict: the verdict shown (see the module docstring for which).
        known: the failure is listed in the target's baseline.
    """

    verdict: str
    known: bool = False

    @property
    def css(self) -> str:
        """The cell's HTML class."""
        return "not-judged" if self.verdict == NOT_JUDGED else self.verdict

    @property
    def text(self) -> str:
        """The cell's words."""
        return f"{self.verdict} (known)" if self.known else self.verdict


@dataclass(frozen=True)
class Column:
    """One target: its report's facts and its verdicts by requirement ID."""

    label: str
    path: str
    report: Report
    cells: dict[str, Cell] = field(default_factory=dict)

    @property
    def outcome(self) -> str:
        """The run's exit code in words."""
        if self.report.interrupted:
            return "interrupted"
        return _EXIT_WORDS.get(self.report.exit_code(), "not tested")

    @property
    def target_version(self) -> str:
        """The target's version, where the report records one."""
        return str(self.report.environment.get("target_version") or NOT_JUDGED)

    @property
    def date(self) -> str:
        """The day the run started (``YYYY-MM-DD``)."""
        return self.report.started[:10] or NOT_JUDGED


@dataclass(frozen=True)
class Row:
    """One requirement of the table."""

    id: str
    title: str
    tier: str


@dataclass(frozen=True)
class Scoreboard:
    """Targets by requirement."""

    columns: tuple[Column, ...]
    groups: tuple[tuple[str, tuple[Row, ...]], ...]

    def cell(self, column: Column, row: Row) -> Cell:
        """``column``'s verdict on ``row`` (``-`` when its run did not judge the row)."""
        return column.cells.get(row.id, Cell(NOT_JUDGED))


def report_files(paths: Iterable[Path]) -> list[Path]:
    """The report.json files named: files as given, directories searched for them.

    Raises:
        ScoreboardError: a path does not exist, or a directory holds no report.json.
    """
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            inside = sorted(path.rglob("report.json"))
            if not inside:
                raise ScoreboardError(f"{path}: no report.json in this directory")
            found += inside
        elif path.is_file():
            found.append(path)
        else:
            raise ScoreboardError(f"{path}: no such file")
    return found


def load(paths: Sequence[Path]) -> Scoreboard:
    """Read the reports and merge them into one table.

    Raises:
        ScoreboardError: a report is missing, not JSON, or not a cimd-conformance report.
    """
    reports = [(path, _read(path)) for path in paths]
    labels = _labels([path for path, _ in reports])
    columns = tuple(
        Column(label, str(path), report, _cells(report))
        for label, (path, report) in zip(labels, reports, strict=True)
    )
    judged = {rid for column in columns for rid in column.cells}
    return Scoreboard(columns, _groups(judged))


def _read(path: Path) -> Report:
    try:
        report = Report.load(path)
    except OSError as exc:
        raise ScoreboardError(f"{path}: cannot be read ({exc.strerror or exc})") from exc
    except ValueError as exc:  # JSON syntax (JSONDecodeError) or the schema line
        raise ScoreboardError(f"{path}: not a cimd-conformance report ({exc})") from exc
    except (TypeError, KeyError, AttributeError) as exc:  # fields missing or of another kind
        raise ScoreboardError(f"{path}: not a cimd-conformance report ({exc!r})") from exc
    texts = [report.issuer, report.profile, report.tool_version, report.started, report.mode]
    texts += [t for r in report.results for t in (r.requirement, r.verdict)]
    tables = (report.environment, report.preflight, report.baseline, report.interrupted)
    if not all(isinstance(t, str) for t in texts) or not all(isinstance(t, dict) for t in tables):
        raise ScoreboardError(f"{path}: not a cimd-conformance report (a field of another type)")
    return report


def _labels(paths: Sequence[Path]) -> list[str]:
    """Each report's label: its directory's name, made unique in the table."""
    labels: list[str] = []
    for path in paths:
        base = path.resolve().parent.name or "report"
        label, n = base, 1
        while label in labels:
            n += 1
            label = f"{base}-{n}"
        labels.append(label)
    return labels


def _cells(report: Report) -> dict[str, Cell]:
    by_row: dict[str, set[str]] = {}
    for result in report.results:
        by_row.setdefault(result.requirement, set()).add(result.verdict)
    known = set(report.baseline.get("known", []))
    cells = {}
    for rid, verdicts in by_row.items():
        shown = next((v.value for v in _PRECEDENCE if v.value in verdicts), sorted(verdicts)[0])
        cells[rid] = Cell(shown, known=shown == Verdict.FAIL.value and rid in known)
    return cells


def _groups(judged: set[str]) -> tuple[tuple[str, tuple[Row, ...]], ...]:
    """The judged rows in catalog order, by group; IDs the catalog lacks come last."""
    groups: dict[str, list[Row]] = {}
    for requirement in requirements.CATALOG:
        if requirement.id in judged:
            row = Row(requirement.id, requirement.title, requirement.tier.value)
            groups.setdefault(group_of(requirement.id), []).append(row)
    unknown = sorted(judged - set(requirements.REQUIREMENTS))
    if unknown:
        groups["not in this version's catalog"] = [Row(rid, "", "") for rid in unknown]
    return tuple((name, tuple(rows)) for name, rows in groups.items())


def render_html(board: Scoreboard) -> str:
    """The scoreboard as one self-contained HTML page."""
    return TEMPLATES.get_template("scoreboard.html").render(board=board)


def render_markdown(board: Scoreboard) -> str:
    """The scoreboard as Markdown (a CI job summary)."""
    heads = [_md(c.label) for c in board.columns]
    lines = [
        "## CIMD conformance scoreboard",
        "",
        "| Target | Issuer | Result | Suite | Target version | Profile | Mode | Date |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for c in board.columns:
        r = c.report
        lines.append(
            f"| {_md(c.label)} | {_md(r.issuer)} | {c.outcome} | {_md(r.tool_version)} | "
            f"{_md(c.target_version)} | {_md(r.profile)} | {_md(r.mode)} | {_md(c.date)} |"
        )
    lines += ["", "| Requirement | Tier | " + " | ".join(heads) + " |"]
    lines.append("|---|---|" + "---|" * len(heads))
    for group, rows in board.groups:
        lines.append(f"| **{_md(group)}** | |" + " |" * len(heads))
        for row in rows:
            cells = " | ".join(_md_cell(board.cell(c, row)) for c in board.columns)
            lines.append(f"| {row.id} {_md(row.title)} | {row.tier} | {cells} |")
    return "\n".join(lines) + "\n"


def _md_cell(cell: Cell) -> str:
    """A verdict cell; a failure the baseline does not list in bold, to stand out."""
    text = _md(cell.text)
    return f"**{text}**" if cell.verdict == Verdict.FAIL.value and not cell.known else text


def _md(text: str) -> str:
    """``text`` safe in a Markdown table cell: HTML-escaped, pipes and newlines neutral."""
    return html.escape(" ".join(text.split())).replace("|", "&#124;").replace("`", "&#96;")


def write(board: Scoreboard, *, html_file: Path | None, markdown_file: Path | None) -> None:
    """Write the HTML and Markdown files asked for."""
    if html_file is not None:
        html_file.write_text(render_html(board), "utf-8")
    if markdown_file is not None:
        markdown_file.write_text(render_markdown(board), "utf-8")


def main(reports: Sequence[Path], html_file: Path | None, markdown_file: Path | None) -> int:
    """``cimd-conformance scoreboard``: 0 written, 2 a report could not be read."""
    try:
        board = load(report_files(reports))
        if html_file is None and markdown_file is None:
            sys.stdout.write(render_markdown(board))
        write(board, html_file=html_file, markdown_file=markdown_file)
    except ScoreboardError as exc:
        print(
            f"cimd-conformance scoreboard: {exc}. Give report.json files a run wrote "
            "(or directories holding them).",
            file=sys.stderr,
        )
        return 2
    except OSError as exc:
        print(f"cimd-conformance scoreboard: cannot write: {exc}", file=sys.stderr)
        return 2
    rows = sum(len(rows) for _, rows in board.groups)
    print(
        f"cimd-conformance scoreboard: {len(board.columns)} target(s), {rows} requirement(s)"
        + "".join(f"; wrote {f}" for f in (html_file, markdown_file) if f is not None),
        file=sys.stderr,
    )
    return 0
