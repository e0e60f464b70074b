"""The console summary printed at the end of a run."""

from __future__ import annotations

from conformance.redaction import redact_text
from conformance.report.model import Report
from conformance.verdicts import Verdict

_SHOWN = (Verdict.FAIL, Verdict.HARNESS_ERROR, Verdict.NON_STRICT, Verdict.ADVISORY)


def render(report: Report) -> str:
    """A few lines: the verdict, the counts, and every result worth a look."""
    code = report.exit_code()
    word = {0: "CONFORMANT", 1: "NON-CONFORMANT", 2: "NOT TESTED (harness could not test)"}[code]
    counts = ", ".join(f"{n} {v}" for v, n in report.summary().items() if n)
    lines = [
        f"cimd-conformance: {report.issuer} [{report.profile}{', strict' if report.strict else ''}]"
    ]
    if report.preflight.get("error"):
        lines.append(f"  preflight: {report.preflight['error']}")
    known = set(report.baseline.get("known", []))
    for result in report.results:
        if Verdict(result.verdict) in _SHOWN:
            word = "KNOWN FAILURE" if result.requirement in known else result.verdict.upper()
            lines.append(f"  {word:<14} {result.requirement:<14} {result.title}")
            if result.verdict != Verdict.HARNESS_ERROR.value or not report.preflight.get("error"):
                lines.append(f"  {'':<14} expected: {result.expected}")
                lines.append(f"  {'':<14} observed: {result.observed}")
    for stale in report.baseline.get("stale", []):
        lines.append(
            f"  {'STALE':<14} {stale:<14} listed in the baseline but now passes: remove it"
        )
    lines.append(f"  verdict: {word} ({counts or 'no checks ran'})")
    return redact_text("\n".join(lines))
