"""Lint findings, the lint's result, and its two outputs (text and the JSON shape).

The JSON shape (``cimd-conformance-lint/1``) is stable; fields are only ever added::

    {"schema": "cimd-conformance-lint/1", "source": "<URL or FILE as given>",
     "url": "<the client_id URL linted, or null>", "live": true, "profile": "mcp",
     "exit_code": 1, "problem": null,
     "counts": {"error": 1, "warning": 0, "info": 0},
     "findings": [{"rule": "CIMD-PUB-05", "severity": "error", "where": "client_id",
                   "message": "what is wrong", "fix": "how to fix it"}]}

``problem`` is set (and ``exit_code`` is 2) when the lint could not run.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Severity = Literal["error", "warning", "info"]
SEVERITIES: tuple[Severity, ...] = ("error", "warning", "info")
SCHEMA = "cimd-conformance-lint/1"
# user:password@ in a URL: the password is never written down
_PASSWORD = re.compile(r"(//[^/?#@\s\"]*?:)[^/?#@\s\"]*@")


def masked(text: str) -> str:
    """``text`` with the password of every ``user:password@`` in it replaced by ``***``."""
    return _PASSWORD.sub(r"\1***@", text)


@dataclass(frozen=True)
class Finding:
    """One broken (or noteworthy) rule.

    Attributes:
        rule: the catalog row, e.g. ``CIMD-PUB-05``.
        severity: ``error`` (an AS refuses, or a MUST is broken), ``warning`` (a SHOULD),
            ``info`` (worth knowing; never fails the lint).
        where: the member, header or URL part concerned.
        message: what is wrong.
        fix: how to fix it.
    """

    rule: str
    severity: Severity
    where: str
    message: str
    fix: str


def quoted(value: Any, limit: int = 80) -> str:
    """A value from the document or the wire, as JSON text, cut to ``limit`` characters.

    JSON escapes control characters, so nothing a document holds can rewrite the terminal.
    """
    text = json.dumps(value, ensure_ascii=True)
    return text if len(text) <= limit else text[: limit - 3] + "..."


@dataclass
class LintResult:
    """The outcome of one lint: its findings, or why it could not run."""

    source: str
    url: str | None = None
    live: bool = False
    profile: str = "mcp"
    findings: list[Finding] = field(default_factory=list)
    problem: str | None = None

    def count(self, severity: Severity) -> int:
        """How many findings have ``severity``."""
        return sum(1 for f in self.findings if f.severity == severity)

    @property
    def exit_code(self) -> int:
        """2 when the lint could not run, 1 on any error, else 0 (warnings do not fail)."""
        if self.problem is not None:
            return 2
        return 1 if self.count("error") else 0

    def to_json(self) -> dict[str, Any]:
        """The documented JSON shape (see the module docstring)."""
        order = {s: i for i, s in enumerate(SEVERITIES)}
        ranked = sorted(self.findings, key=lambda f: (order[f.severity], f.rule))
        return {
            "schema": SCHEMA,
            "source": masked(self.source),
            "url": None if self.url is None else masked(self.url),
            "live": self.live,
            "profile": self.profile,
            "exit_code": self.exit_code,
            "problem": None if self.problem is None else masked(self.problem),
            "counts": {s: self.count(s) for s in SEVERITIES},
            "findings": [{k: masked(v) for k, v in asdict(f).items()} for f in ranked],
        }

    def render_text(self) -> str:
        """Lines for people: one per finding, then a one-line summary."""
        shown = self.to_json()
        if self.problem is not None:
            return f"cimd-conformance lint: could not lint {shown['source']}: {shown['problem']}"
        lines = [
            f"{f['severity']:<7} {f['rule']}  {f['where']}: {f['message']}\n{'':<21}fix: {f['fix']}"
            for f in shown["findings"]
        ]
        what = (
            f"{shown['url'] or shown['source']} ({'fetched' if self.live else 'static rules only'})"
        )
        counts = ", ".join(
            f"{self.count(s)} {s}{'s' if self.count(s) != 1 else ''}" for s in SEVERITIES
        )
        verdict = "fails" if self.exit_code else "passes"
        lines.append(f"{what}: {counts}; the document {verdict} the CIMD-PUB rules")
        return "\n".join(lines)
