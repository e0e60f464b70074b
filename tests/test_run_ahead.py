"""Plain-HTTP checks run ahead of their turn while the browser's run, against the reference AS.

Run ahead or each in its turn (``--serial``), the checks reach the same verdicts; run ahead,
each fetch of a client URL is the evidence of the one check that made the URL, never of the
check that happened to be running in the other thread (a consent page several checks judge
is also in the evidence of each, marked as shared).
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest

from conformance import cli
from conformance.report.model import Report

ONLY = ("CIMD-DOC", "CIMD-UI", "CIMD-SEC-11")
MADE = re.compile(r"/c/[0-9a-f]+-\d+/")


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Report]:
    state = tmp_path_factory.mktemp("ahead-state")
    reports = {}
    for name, extra in (("ahead", []), ("serial", ["--serial"])):
        out = tmp_path_factory.mktemp(name)
        only = [a for prefix in ONLY for a in ("--only", prefix)]
        args = ["demo", *only, *extra, "--state-dir", str(state), "--report-dir", str(out)]
        assert cli.main(args) == 0
        reports[name] = Report.load(out / "report.json")
    return reports


def test_run_ahead_or_in_turn_the_verdicts_are_the_same(runs: dict[str, Report]) -> None:
    ahead, serial = runs["ahead"], runs["serial"]
    assert {r.requirement: r.verdict for r in ahead.results} == {
        r.requirement: r.verdict for r in serial.results
    }
    ran = {r.requirement for r in ahead.results if r.evidence.get("ran_ahead")}
    assert {"CIMD-DOC-01", "CIMD-DOC-02", "CIMD-DOC-13"} <= ran
    # the browser's checks and the burst (marked serial) run in their turn
    assert not {r for r in ran if r.startswith("CIMD-UI")} and "CIMD-SEC-11" not in ran
    assert not any(r.evidence.get("ran_ahead") for r in serial.results)


def _made(url: str) -> str:
    """The part of a client URL (its path) that names the check that made it ("" if none)."""
    made = MADE.search(urlsplit(url).path)
    return made.group(0) if made else ""


def test_each_fetch_is_the_evidence_of_the_check_that_made_its_url(
    runs: dict[str, Report],
) -> None:
    owners: dict[str, set[str]] = {}
    shown: set[str] = set()  # the shared consent pages' client URLs
    for result in runs["ahead"].results:
        attempts = result.evidence.get("attempts", [])
        # a consent page rendered once for several checks is the evidence of each, marked
        # so in the checks that did not render it (see ConsentPages): made by the first
        shared = {_made(a["client_id"]) for a in attempts if "shared" in a}
        shown |= shared
        for fetch in result.evidence.get("fetches", []):
            made = _made(str(fetch["target"]))
            if made and made not in shared:
                owners.setdefault(made, set()).add(result.requirement)
    assert owners, "the checks fetched client URLs"
    assert len(shown) == 2 and shown <= set(owners)  # the https and loopback pages
    shared = {url: checks for url, checks in owners.items() if len(checks) > 1}
    assert not shared
    # the checks run ahead have their fetches: a refusal check's documents were fetched
    doc02 = next(r for r in runs["ahead"].results if r.requirement == "CIMD-DOC-02")
    assert doc02.evidence["ran_ahead"] and doc02.evidence["fetches"]
