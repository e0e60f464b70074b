"""Known-failure baselines: listed failures are reported but do not fail the run.

A baseline is a TOML file::

    # why each entry is here, and the spec reading behind it
    [[known-failure]]
    requirement = "CIMD-URL-02"
    reason = "accepts https://host with no path; tracked upstream as ..."

A listed requirement that fails is reported as a known failure and does not fail the run. A
listed requirement whose check now passes is *stale* and fails the run, so the file never
outlives the defects it records (the MCP conformance suite's rule). Unknown keys and unknown
requirement IDs are errors that name the key.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from conformance.catalog import requirements
from conformance.target import toml_file

_TOP_KEYS = frozenset({"known-failure"})
_ENTRY_KEYS = frozenset({"requirement", "reason"})


class BaselineError(ValueError):
    """The baseline file cannot be used; the message names the file and the key."""


@dataclass(frozen=True)
class KnownFailure:
    """One listed failure and why it is accepted."""

    requirement: str
    reason: str


@dataclass(frozen=True)
class Baseline:
    """The known failures of a target."""

    path: str
    entries: tuple[KnownFailure, ...]

    @property
    def requirements(self) -> frozenset[str]:
        """The listed requirement IDs."""
        return frozenset(e.requirement for e in self.entries)


def load(path: Path) -> Baseline:
    """Read and validate a baseline file.

    Raises:
        BaselineError: the file is missing, not TOML, or has an unknown key or ID.
    """
    data = toml_file.read(path, "baseline", BaselineError)
    unknown = set(data) - _TOP_KEYS
    if unknown:
        raise BaselineError(
            f"{path}: unknown key {sorted(unknown)[0]!r} (expected [[known-failure]])"
        )
    entries = []
    for number, entry in enumerate(data.get("known-failure", []), start=1):
        where = f"{path}: known-failure #{number}"
        if not isinstance(entry, dict):
            raise BaselineError(f"{where} is not a table")
        extra, missing = set(entry) - _ENTRY_KEYS, _ENTRY_KEYS - set(entry)
        if extra:
            raise BaselineError(f"{where}: unknown key {sorted(extra)[0]!r}")
        if missing:
            raise BaselineError(f"{where}: missing key {sorted(missing)[0]!r}")
        try:
            requirements.get(str(entry["requirement"]))
        except KeyError as exc:
            raise BaselineError(f"{where}: unknown requirement {entry['requirement']!r}") from exc
        entries.append(KnownFailure(str(entry["requirement"]), str(entry["reason"])))
    ids = [e.requirement for e in entries]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise BaselineError(f"{path}: {duplicates[0]} is listed twice")
    return Baseline(str(path), tuple(entries))
