"""An SVG score badge (``badge.svg``): the verdict and the counts it rests on.

The badge reads ``cimd-conformance | conformant 33/33`` (checks passed of checks scored:
passed or violated; Informational observations and checks that judged nothing are left out),
``non-conformant 2 failed`` or ``not tested``, coloured like the HTML report's verdict. Every
text in it is XML-escaped; its width follows the text, at a fixed advance per character.
"""

from __future__ import annotations

from pathlib import Path
from xml.sax.saxutils import escape

from conformance.catalog.verdicts import VIOLATIONS, Verdict
from conformance.report.model import Report

LABEL = "cimd-conformance"
COLOURS = {0: "#2e7d32", 1: "#c62828", 2: "#9e6a00"}
_ADVANCE = 7  # px per character of 11 px Verdana, near enough for a badge
_PAD = 10
SCORED = VIOLATIONS | {Verdict.PASS.value}


def message(report: Report) -> tuple[str, int]:
    """The badge's right-hand text and its exit code (which sets the colour)."""
    if report.interrupted:
        return "interrupted", 2
    code = report.exit_code()
    summary = report.summary()
    judged = sum(n for name, n in summary.items() if name in SCORED)
    passed = summary[Verdict.PASS.value]
    if code == 0:
        return f"conformant {passed}/{judged}", code
    if code == 1:
        failed = summary[Verdict.FAIL.value]
        return f"non-conformant {failed} failed, {passed}/{judged} passed", code
    return "not tested", 2


def render(report: Report, directory: Path | None = None) -> str:
    """The badge as an SVG document."""
    text, code = message(report)
    left = len(LABEL) * _ADVANCE + 2 * _PAD
    right = len(text) * _ADVANCE + 2 * _PAD
    width = left + right
    label, value = (escape(t, {'"': "&quot;"}) for t in (LABEL, text))
    colour = COLOURS.get(code, COLOURS[2])
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="20" role="img" '
        f'aria-label="{label}: {value}">\n'
        f"<title>{label}: {value}</title>\n"
        f'<rect width="{left}" height="20" fill="#555"/>\n'
        f'<rect x="{left}" width="{right}" height="20" fill="{colour}"/>\n'
        '<g fill="#fff" font-family="Verdana,DejaVu Sans,sans-serif" font-size="11">\n'
        f'<text x="{_PAD}" y="14">{label}</text>\n'
        f'<text x="{left + _PAD}" y="14">{value}</text>\n'
        "</g>\n</svg>\n"
    )
