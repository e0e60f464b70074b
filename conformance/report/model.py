"""The report model: JSON is canonical, every other format is rendered from it."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Set
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from conformance.catalog.verdicts import VIOLATIONS, Verdict, exit_code
from conformance.report.baseline import Baseline

SCHEMA_VERSION = 1
"""The version of the report's JSON form: its ``schema`` field, and the JSON Schema file
``conformance/report/schema/report-<version>.json`` that describes it."""
SCHEMA = f"cimd-conformance-report/{SCHEMA_VERSION}"
SCHEMA_DIRECTORY = Path(__file__).resolve().parent / "schema"


def schema_file(version: int = SCHEMA_VERSION) -> Path:
    """The JSON Schema of the report's JSON form at ``version``."""
    return SCHEMA_DIRECTORY / f"report-{version}.json"


def _fields(instance: Any) -> dict[str, Any]:
    """A dataclass instance's fields by name, their values as they are."""
    return {f.name: getattr(instance, f.name) for f in fields(instance)}


@dataclass
class CheckResult:
    """The result of one check on one target.

    Attributes:
        requirement: the catalog ID the check verifies.
        check: the check's name (its test function).
        title: the requirement's short title.
        tier: the tier under the run's profile (R, Rec, A, I).
        verdict: one of the :class:`~conformance.catalog.verdicts.Verdict` values.
        expected: what the requirement asks for.
        observed: what the target did (or why the check could not run).
        evidence: requests, outcomes and fetches behind the verdict (redacted).
        duration_s: how long the check took.
    """

    requirement: str
    check: str
    title: str
    tier: str
    verdict: str
    expected: str = ""
    observed: str = ""
    evidence: dict[str, Any] = field(default_factory=dict)
    duration_s: float = 0.0


@dataclass
class Report:
    """Everything one run learned about one target."""

    issuer: str
    profile: str
    strict: bool
    tool_version: str
    started: str
    finished: str = ""
    mode: str = "loopback"
    environment: dict[str, Any] = field(default_factory=dict)
    preflight: dict[str, Any] = field(default_factory=dict)
    results: list[CheckResult] = field(default_factory=list)
    baseline: dict[str, Any] = field(default_factory=dict)
    coverage: dict[str, Any] = field(default_factory=dict)
    # set when a signal stopped the run: {"signal": "SIGINT", "at": ..., "checks_judged": n,
    # "exit_code": 130, "meaning": ...}; an interrupted report is never a verdict
    interrupted: dict[str, Any] = field(default_factory=dict)
    # set when the run judged only some checks (--only, -k, a targeted matrix): how they were
    # chosen, how many, and its "meaning"; a partial report is never called conformant
    selection: dict[str, Any] = field(default_factory=dict)
    schema: str = SCHEMA

    @property
    def partial(self) -> bool:
        """Whether the run left checks out on this target (:attr:`selection`)."""
        return bool(self.selection)

    def verdicts(self) -> list[Verdict]:
        """Every check's verdict."""
        return [Verdict(r.verdict) for r in self.results]

    def exit_code(self) -> int:
        """0 conformant, 1 non-conformant, 2 the harness could not test.

        Failures listed in the baseline do not count; stale baseline entries do. An
        interrupted run is never conformant: 130 after SIGINT, 2 after SIGTERM.
        """
        if self.interrupted:
            return int(self.interrupted.get("exit_code") or 2)
        code = exit_code(self.verdicts())
        if code == 2 or not self.baseline:
            return code
        unlisted = self.failed_requirements() - set(self.baseline.get("known", []))
        return 1 if unlisted or self.baseline.get("stale") else 0

    def apply_baseline(self, baseline: Baseline) -> None:
        """Record which failures the baseline knows and which of its entries are stale."""
        passed = {r.requirement for r in self.results if r.verdict == Verdict.PASS.value}
        failed = self.failed_requirements()  # a requirement failing in any check is not stale
        known = baseline.requirements & failed
        self.baseline = {
            "file": baseline.path,
            "known": sorted(known | self._derived_failures_known(known)),
            "stale": sorted(baseline.requirements & (passed - failed)),
            "reasons": {e.requirement: e.reason for e in baseline.entries},
        }

    def _derived_failures_known(self, known: Set[str]) -> set[str]:
        """Derived rows that fail only because rows the baseline knows fail."""
        found: set[str] = set()
        for result in self.results:
            sources = result.evidence.get("derived_from") if result.check == "derived" else None
            if result.verdict == Verdict.FAIL.value and sources:
                failing = {rid for rid, verdict in sources.items() if verdict == Verdict.FAIL.value}
                if failing and failing <= known:
                    found.add(result.requirement)
        return found

    def summary(self) -> dict[str, int]:
        """How many checks ended in each verdict."""
        counts = Counter(r.verdict for r in self.results)
        return {v.value: counts.get(v.value, 0) for v in Verdict}

    def failed_requirements(self) -> set[str]:
        """The requirements with a ``fail`` verdict."""
        return {r.requirement for r in self.results if r.verdict == Verdict.FAIL.value}

    def violated_requirements(self) -> set[str]:
        """The requirements the target was found to violate, whatever their tier.

        ``fail``, plus ``non-strict`` (a Recommended row without ``--strict``) and
        ``advisory`` (an Advisory row, which never fails a run).
        """
        return {r.requirement for r in self.results if r.verdict in VIOLATIONS}

    def to_json(self) -> dict[str, Any]:
        """The canonical JSON form, for writing out.

        It holds the report's own evidence objects, not copies: a copy of a long run's
        evidence took longer than writing it.
        """
        data = _fields(self)
        data["results"] = [_fields(r) for r in self.results]
        data["summary"] = self.summary()
        data["exit_code"] = self.exit_code()
        data["partial"] = self.partial
        return {"schema": data.pop("schema"), **data}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Report:
        """Rebuild a report from its JSON form."""
        if data.get("schema") != SCHEMA:
            raise ValueError(f"not a {SCHEMA} report: schema {data.get('schema')!r}")
        fields = {
            k: v for k, v in data.items() if k not in ("summary", "exit_code", "partial", "results")
        }
        report = cls(**fields)
        report.results = [CheckResult(**r) for r in data.get("results", [])]
        return report

    @classmethod
    def load(cls, path: Path) -> Report:
        """Read ``report.json``."""
        return cls.from_json(json.loads(path.read_text("utf-8")))
