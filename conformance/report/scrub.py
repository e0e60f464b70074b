"""The last line of defence before a report is written: every text field is redacted.

Evidence is redacted where it is recorded, but a secret can still arrive in a message the
target wrote or in a value registered only later in the run (see :mod:`conformance.redaction`).
The writers and the console call :func:`scrub` on the report and :func:`redact_output` on the
text they produce.
"""

from __future__ import annotations

from typing import Any

from conformance.redaction import redact_text, redact_value, text_redactor
from conformance.report.model import Report


def scrub(report: Report) -> Report:
    """Redact every free-text field of ``report`` in place; returns it."""
    text = text_redactor()
    report.issuer = text(report.issuer)
    report.preflight = redact_value(report.preflight, text)
    report.environment = redact_value(report.environment, text)
    for result in report.results:
        result.expected = text(result.expected)
        result.observed = text(result.observed)
        result.evidence = redact_value(result.evidence, text)
    return report


def redact_output(text: str) -> str:
    """A rendered report or console text with every known secret replaced."""
    return redact_text(text)


def redact_console(config: Any) -> None:
    """Make pytest's terminal writer redact everything it prints (progress, tracebacks)."""
    try:
        writer = config.get_terminal_writer()
    except (AttributeError, AssertionError):
        return  # no terminal reporter in this run (-p no:terminal)
    if getattr(writer, "_cimd_redacting", False):
        return
    write = writer.write

    def redacting_write(msg: str, **kwargs: Any) -> None:
        write(redact_text(msg), **kwargs)

    writer.write = redacting_write
    writer._cimd_redacting = True
