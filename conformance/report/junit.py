"""JUnit XML rendered from the report model (one test case per check).

Each target is a ``testsuite`` whose properties give the run's profile, draft revision, mode
and scope; each check is a ``testcase`` named ``<requirement ID> <check>`` with the
requirement ID as its class name and properties for the requirement, its tier, its verdict,
the draft sections it comes from and whether a baseline knows its failure. A suite's
``partial`` property says whether the run judged only some checks (``--only``, ``-k``, a
targeted matrix); a partial suite also says how they were chosen (``selection``, ...), so a CI
reading only JUnit never takes a green partial run for a conformant target.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from conformance.catalog.coverage import not_tested_line, scope_line
from conformance.catalog.verdicts import Verdict
from conformance.report import view
from conformance.report.model import CheckResult, Report


def render(reports: list[Report]) -> bytes:
    """JUnit XML with one ``testsuite`` per target."""
    suites = ET.Element("testsuites", name="cimd-conformance")
    for report in reports:
        summary = report.summary()
        suite = ET.SubElement(
            suites,
            "testsuite",
            name=f"cimd-conformance {report.issuer}",
            tests=str(len(report.results)),
            failures=str(summary[Verdict.FAIL.value]),
            errors=str(summary[Verdict.HARNESS_ERROR.value]),
            skipped=str(summary[Verdict.NOT_APPLICABLE.value]),
            timestamp=report.started,
        )
        properties = ET.SubElement(suite, "properties")
        for name, value in (
            ("issuer", report.issuer),
            ("profile", report.profile + (", strict" if report.strict else "")),
            ("draft revision", view.draft_revision(report)),
            ("mode", report.mode),
            ("tool version", report.tool_version),
            ("verdict", view.verdict_words(report)),
        ):
            ET.SubElement(properties, "property", name=name, value=value)
        if report.coverage:
            scope = f"verdict {scope_line(report.coverage)}"
            ET.SubElement(properties, "property", name="scope", value=scope)
            for tier, counts in report.coverage["tiers"].items():
                value = f"{counts['judged']} judged, {counts['checked']} checked, "
                value += f"{counts['catalog']} in the catalog"
                ET.SubElement(properties, "property", name=f"rows {tier}", value=value)
            missing = not_tested_line(report.coverage)
            ET.SubElement(properties, "property", name="not tested by this version", value=missing)
        _selection_properties(properties, report)
        if report.interrupted:
            _interrupted_case(suite, properties, report)
        known = set(report.baseline.get("known", []))
        for result in report.results:
            case = ET.SubElement(
                suite,
                "testcase",
                classname=result.requirement,
                name=f"{result.requirement} {result.check}",
                time=f"{result.duration_s:.3f}",
            )
            _case_properties(case, result, known)
            detail = f"expected: {result.expected}\nobserved: {result.observed}"
            if result.verdict == Verdict.FAIL.value:
                ET.SubElement(case, "failure", message=f"{result.requirement} failed").text = detail
            elif result.verdict == Verdict.HARNESS_ERROR.value:
                ET.SubElement(case, "error", message="the harness could not test").text = detail
            elif result.verdict == Verdict.NOT_APPLICABLE.value:
                ET.SubElement(case, "skipped", message=result.observed)
            ET.SubElement(
                case, "system-out"
            ).text = f"verdict: {result.verdict} (tier {result.tier})\n{detail}"
    ET.indent(suites)
    xml: bytes = ET.tostring(suites, encoding="utf-8", xml_declaration=True)
    return xml


def render_report(report: Report, directory: Path | None = None) -> str:
    """JUnit XML for one target, as text (the ``junit.xml`` of its report directory)."""
    return render([report]).decode("utf-8")


def _case_properties(case: ET.Element, result: CheckResult, known: set[str]) -> None:
    """A test case's requirement, tier, verdict, draft sections and baseline standing."""
    properties = ET.SubElement(case, "properties")
    sections = view.source_cell(result.requirement)
    for name, value in (
        ("requirement", result.requirement),
        ("title", result.title),
        ("tier", result.tier),
        ("verdict", result.verdict),
        ("sections", sections),
        ("known failure", "true" if result.requirement in known else "false"),
    ):
        ET.SubElement(properties, "property", name=name, value=value)


def _selection_properties(properties: ET.Element, report: Report) -> None:
    """``partial`` (true or false), and for a partial run how its checks were chosen."""
    ET.SubElement(properties, "property", name="partial", value=str(report.partial).lower())
    if not report.partial:
        return
    chosen = report.selection
    for name, value in (
        ("selection", str(chosen.get("meaning", "partial run"))),
        (
            "selected checks",
            f"{chosen.get('checks', len(report.results))} of {chosen.get('collected', '?')}",
        ),
        ("selected by --only", " ".join(chosen.get("only", []))),
        ("selected by -k", str(chosen.get("keyword") or "")),
        ("selected by -m", str(chosen.get("markexpr") or "")),
        ("judged only on", " ".join(chosen.get("judge_only", []))),
    ):
        if value:
            ET.SubElement(properties, "property", name=name, value=value)


def _interrupted_case(suite: ET.Element, properties: ET.Element, report: Report) -> None:
    """An erroring test case that says the run was interrupted, so no CI reads it as green."""
    signal = report.interrupted.get("signal", "a signal")
    judged = report.interrupted.get("checks_judged", len(report.results))
    message = f"the run was interrupted by {signal} after {judged} check(s): not a verdict"
    ET.SubElement(properties, "property", name="interrupted", value=signal)
    suite.set("tests", str(int(suite.get("tests", "0")) + 1))
    suite.set("errors", str(int(suite.get("errors", "0")) + 1))
    case = ET.SubElement(suite, "testcase", classname="cimd-conformance", name="interrupted")
    ET.SubElement(case, "error", message=message).text = report.interrupted.get("meaning", "")
