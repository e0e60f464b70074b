"""A self-contained HTML page rendered from the report model.

At the top, the verdict and its scope (profile, draft revision, mode, rows judged per tier,
untestable rows); then, with a previous report, what changed; every failure with what was
expected and what was observed; and the requirement matrix grouped by catalog topic, each
row linked to the draft sections it comes from, with its evidence (attempts, HTTP exchanges,
the metadata host's fetch log, canary connections). A few lines of script filter the matrix
(failures only, by tier); without script every row is shown.

Everything that came from the target (page text, URLs, parameters) is escaped by Jinja2's
autoescaping, and no value from a report is marked safe; the report's evidence is already
redacted. Screenshots are embedded as data URLs so the page stands alone; they go in after
the page's text was redacted (:func:`page_text`, then :func:`embed_screenshots`): an image's
base64 is no text to look for secrets in (the screenshots hid them before they were taken).
"""

from __future__ import annotations

import base64
import re
from pathlib import Path

from conformance.report import view
from conformance.report.compare import Comparison
from conformance.report.model import Report
from conformance.report.paths import SCREENSHOTS
from conformance.report.template_cache import TEMPLATES


def render(
    report: Report, directory: Path | None = None, comparison: Comparison | None = None
) -> str:
    """The HTML page; screenshots in ``directory/screenshots`` are embedded.

    Args:
        report: the report to show.
        directory: where the report's files are (its screenshots).
        comparison: the changes since a previous report, shown in their own section.
    """
    return embed_screenshots(page_text(report, directory, comparison), directory)


def _screenshots(directory: Path | None) -> list[Path]:
    if directory is None or not (directory / SCREENSHOTS).is_dir():
        return []
    return sorted((directory / SCREENSHOTS).glob("*.png"))


_SOURCES = re.compile(r'src="screenshot:(0|[1-9][0-9]*)"')
"""How the page names its screenshots until they are embedded (the template's
``src="screenshot:<index>"``, the index in :func:`_screenshots`' order).

Page text from a report is escaped, so no report value can spell this (a double quote is
never written raw).
"""


def embed_screenshots(page: str, directory: Path | None) -> str:
    """``page`` (from :func:`page_text`) with its screenshots embedded as data URLs.

    Each screenshot goes in where the page first names it, in one pass over the page.
    """
    shots = _screenshots(directory)
    embedded: set[int] = set()

    def embed(source: re.Match[str]) -> str:
        index = int(source.group(1))
        if index >= len(shots) or index in embedded:
            return source.group(0)
        embedded.add(index)
        data = base64.b64encode(shots[index].read_bytes()).decode("ascii")
        return f'src="data:image/png;base64,{data}"'

    return _SOURCES.sub(embed, page) if shots else page


def page_text(
    report: Report, directory: Path | None = None, comparison: Comparison | None = None
) -> str:
    """The HTML page without its screenshots' data: :func:`embed_screenshots` adds it."""
    shots = [(path.stem, i) for i, path in enumerate(_screenshots(directory))]
    return TEMPLATES.get_template("report.html").render(
        report=report,
        verdict=view.verdict_words(report),
        verdict_class=view.verdict_class(report),
        scope=view.scope_sentence(report),
        draft=view.draft_revision(report),
        draft_url=view.draft_url(report),
        tiers=view.tier_rows(report),
        tier_names=view.TIER_NAMES,
        untestable=view.untestable_rows(report),
        summary=report.summary(),
        groups=view.groups(report),
        failures=view.failures(report),
        known=set(report.baseline.get("known", [])),
        comparison=comparison,
        shots=shots,
        other_evidence=view.other_evidence,
        fetch_target=view.fetch_target,
    )
