"""A self-contained HTML page rendered from the report model: verdicts, evidence, screenshots.

Everything that came from the target (page text, URLs, parameters) is escaped by Jinja2's
autoescaping; the report's evidence is already redacted. Screenshots are embedded as data
URLs so the page stands alone.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

from jinja2 import Environment, PackageLoader, select_autoescape

from conformance.catalog.coverage import scope_line
from conformance.report.model import Report
from conformance.report.paths import SCREENSHOTS

_ENV = Environment(
    loader=PackageLoader("conformance.report", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
)
_WORDS = {0: "Conformant", 1: "Non-conformant", 2: "Not tested: the harness could not test"}


def render(report: Report, directory: Path | None = None) -> str:
    """The HTML page; screenshots in ``directory/screenshots`` are embedded."""
    shots = []
    if directory is not None and (directory / SCREENSHOTS).is_dir():
        for path in sorted((directory / SCREENSHOTS).glob("*.png")):
            shots.append((path.stem, base64.b64encode(path.read_bytes()).decode("ascii")))
    return _ENV.get_template("report.html").render(
        report=report,
        verdict=_verdict_words(report),
        summary=report.summary(),
        scope=scope_line(report.coverage),
        shots=shots,
        evidence=lambda r: json.dumps(r.evidence, indent=1),
    )


def _verdict_words(report: Report) -> str:
    if report.interrupted:
        signal = report.interrupted.get("signal", "a signal")
        judged = report.interrupted.get("checks_judged", len(report.results))
        return (
            f"Interrupted by {signal} after {judged} check(s): not a verdict, the checks "
            "not reached did not run"
        )
    code = report.exit_code()
    if report.partial and code != 2:
        word = "Partial: no failure among the selected checks" if code == 0 else _WORDS[1]
        return f"{word} ({report.selection.get('meaning', 'partial run')})"
    return _WORDS.get(code, _WORDS[2])
