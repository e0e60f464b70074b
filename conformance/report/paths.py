"""Where a run's reports go: one directory, or one per target when a run scores several.

Every writer, the command line and the browser's screenshots ask :class:`ReportPaths`, so the
layout is decided here once::

    report_dir/                     one target
        report.json junit.xml report.html screenshots/
    report_dir/                     several targets
        index.json
        <label>/report.json ... <label>/screenshots/
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

DEFAULT_ROOT = Path("reports") / "latest"  # a run's report directory unless told
INDEX_FILE = "index.json"
SCREENSHOTS = "screenshots"


def label_for(issuer: str) -> str:
    """A file-system-safe label for an issuer (its path, or its host and port)."""
    try:
        parts = urlsplit(issuer)
        raw = parts.path.strip("/") or f"{parts.hostname}-{parts.port or 443}"
    except ValueError:  # not a URL (the input checks say so): label what was given
        raw = issuer
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", raw).strip("-") or "target"


@dataclass(frozen=True)
class ReportPaths:
    """The report layout of one run.

    Args:
        root: the run's report directory.
        issuers: the run's targets; with more than one, each gets its own subdirectory.
    """

    root: Path
    issuers: tuple[str, ...] = ()

    @classmethod
    def of(cls, root: Path, issuers: Sequence[str]) -> ReportPaths:
        """The layout for ``issuers`` under ``root``."""
        return cls(Path(root), tuple(issuers))

    @property
    def per_target(self) -> bool:
        """Whether each target has its own subdirectory (and the root an index)."""
        return len(self.issuers) > 1

    def directory(self, issuer: str) -> Path:
        """The directory of ``issuer``'s report."""
        return self.labelled(label_for(issuer)) if self.per_target else self.root

    def labelled(self, label: str) -> Path:
        """The directory of the target labelled ``label`` (see :func:`label_for`)."""
        return self.root / label if self.per_target else self.root

    def screenshot(self, label: str, name: str) -> Path:
        """Where the screenshot ``name`` of the target labelled ``label`` goes."""
        return self.labelled(label) / SCREENSHOTS / f"{name}.png"

    @property
    def index(self) -> Path:
        """The index of a run with several targets (label -> issuer and exit code)."""
        return self.root / INDEX_FILE
