"""The clean reference AS is all green under every variant, with no harness error.

Each variant ``reference-as --list-variants`` lists (a real server's shape, breaking no
requirement) gets its own reference AS, as ``demo --variant NAME`` starts it; one suite run
(one browser) scores them all. A variant that makes a check fail, or that the suite cannot
judge, is a bug in the suite (or in the variant), never in the requirements.

The variants of the self-test's variant matrices (``tests/test_self_conformance.py``) are
left to them: each matrix's clean issuer is judged on every row under its variants, and every
fault under them too. This module scores the others.
"""

from __future__ import annotations

import contextlib
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conformance.report.model import CheckResult, Report
from conformance.target.reference import ReferenceTarget
from mock_servers.reference_as import VARIANTS
from tests.test_self_conformance import LAB_ONLY, VARIANT_SETS

pytestmark = pytest.mark.slow
IN_MATRICES = {name for variants, _, _ in VARIANT_SETS.values() for name in variants}
SCORED = [v.name for v in VARIANTS if v.name not in IN_MATRICES]
# variants that combine into a shape no single one has, scored beside them: a session that
# ends (short-sessions) where consent comes before login (shown by links): to sign in again,
# the browser approves the run's own sign-in client first, as in the preflight
COMBINED = {
    "consent-before-login+approve-link+short-sessions": (
        "consent-before-login",
        "approve-link",
        "short-sessions",
    ),
    # a login in two steps met again mid-run: over HTTP (the user name page is a login)
    # and in the browser
    "identifier-first+short-sessions": ("identifier-first", "short-sessions"),
}


NOT_GREEN = re.compile(r"^\[\d+/\d+\] \S+ \S+ (fail|non-strict|advisory|harness-error) [\d.]+s\b")


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Report]:
    """Reports of one run over one reference AS per variant, by variant name."""
    state, out = tmp_path_factory.mktemp("state"), tmp_path_factory.mktemp("variants")
    with contextlib.ExitStack() as stack:
        by_issuer: dict[str, str] = {}
        resource: list[str] = []  # every issuer issues tokens for the first one's resource
        shapes = {**{name: (name,) for name in SCORED}, **COMBINED}
        for variant, switched in shapes.items():
            target = ReferenceTarget(state_dir=state, variants=switched, extra_args=resource)
            by_issuer[stack.enter_context(target).issuer] = variant
            resource = resource or ["--resource", str(target.ready["resource"])]
        issuers = [arg for issuer in by_issuer for arg in ("--issuer", issuer)]
        asks = ["--param", f"resource={resource[1]}"]  # as demo sends it
        places = ["--report-dir", str(out), "--state-dir", str(state)]
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "conformance.cli",
                "run",
                "--strict",
                "--mcp-proxy",
                *issuers,
                *asks,
                *places,
            ],
            capture_output=True,
            text=True,
            timeout=1800,
        )
    # the progress lines of the rows that were not green (the tail alone may not show them)
    not_green = [line for line in done.stdout.splitlines() if NOT_GREEN.search(line)]
    assert done.returncode == 0, "\n".join(
        [*not_green, "...", done.stdout[-3000:], done.stderr[-3000:]]
    )
    found = {}
    for label in json.loads((out / "index.json").read_text()):
        report = Report.load(out / label / "report.json")
        found[by_issuer[report.issuer]] = report
    return found


def test_every_variant_is_scored_here_or_in_a_variant_matrix() -> None:
    assert SCORED and set(SCORED) | IN_MATRICES == {v.name for v in VARIANTS}


@pytest.mark.parametrize("variant", [*SCORED, *COMBINED])
def test_reference_as_is_all_green_under_the_variant(
    variant: str, reports: dict[str, Report]
) -> None:
    report = reports[variant]
    assert report.preflight.get("error") is None
    not_green = [
        (r.requirement, r.verdict, r.observed)
        for r in report.results
        if r.verdict not in ("pass", "informational") and r.requirement not in LAB_ONLY
    ]
    assert not_green == []
    assert {r.verdict for r in report.results if r.requirement in LAB_ONLY} == {"not-applicable"}
    assert report.exit_code() == 0


def test_a_run_outlives_sessions_that_end_and_says_where_it_signed_in_again(
    reports: dict[str, Report],
) -> None:
    """Under ``short-sessions`` (a sign-in ends at its 40th authorization request) the run
    lasts several sessions."""
    report = reports["short-sessions"]
    again = [e for r in report.results for e in r.evidence.get("signed_in_again", [])]
    assert again and all(e["how"].startswith("logged in with the login recipe") for e in again)
    # consent before login: the browser approved its own sign-in client to reach the login
    combined = reports["consent-before-login+approve-link+short-sessions"]
    again = [e for r in combined.results for e in r.evidence.get("signed_in_again", [])]
    assert again and all(
        "approved it, and logged in when the target asked" in e["how"] for e in again
    )
    # a login in two steps: the user name on one page, the password on the next
    two_steps = reports["identifier-first+short-sessions"]
    again = [e for r in two_steps.results for e in r.evidence.get("signed_in_again", [])]
    assert again and all("(user name, then password, on two pages)" in e["how"] for e in again)


def _demo_row(
    args: list[str], only: str, row: str, out: Path, state_dir: Path, exit_code: int
) -> CheckResult:
    """``demo --strict --only ONLY`` with ``args``: its exit code checked, ``row``'s result."""
    command = ["demo", "--strict", *args, "--only", only, "--report-dir", str(out)]
    done = subprocess.run(
        [sys.executable, "-m", "conformance.cli", *command, "--state-dir", str(state_dir)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == exit_code, done.stdout[-3000:]
    [result] = [r for r in Report.load(out / "report.json").results if r.requirement == row]
    return result


@pytest.mark.parametrize(("fault", "verdict"), [("", "pass"), ("fixed-cache-lifetime", "fail")])
def test_a_cache_that_drops_copies_early_is_judged_on_its_lifetimes(
    fault: str, verdict: str, tmp_path: Path, state_dir: Path
) -> None:
    """Under ``small-cache`` the run's other documents push CIMD-CACHE-04's copy out before
    its max-age: the target fetches it again, and a refusal would pass an AS that keeps
    copies for an hour. The check sees its keeper fetched again too, and measures again."""
    faulted = ["--fault", fault] if fault else []
    stale = _demo_row(
        ["--variant", "small-cache", *faulted],
        "CIMD-CACHE",
        "CIMD-CACHE-04",
        tmp_path,
        state_dir,
        1 if fault else 0,
    )
    assert stale.verdict == verdict, stale.observed
    whys = [wait["why"] for wait in stale.evidence["waits"]]
    assert len(whys) == 2 and "the target fetched the keeper" in whys[1]  # measured again


def test_a_logo_taken_anew_with_each_copy_of_its_document_is_not_judged_kept(
    reports: dict[str, Report],
) -> None:
    """Under ``no-cache`` every consent page fetches the document, and its logo with each
    copy: CIMD-UI-05 passes on what it saw (the logo fetched by the AS and served by it) and
    says that whether the logo is kept could not be seen, never that a new logo was shown
    within the document's cache lifetime."""
    [logo] = [r for r in reports["no-cache"].results if r.requirement == "CIMD-UI-05"]
    assert logo.verdict == "pass"
    assert "whether a logo is kept with its document could not be seen" in logo.observed
    assert len(logo.evidence["attempts"]) == 4  # the first page and three with a new logo


def test_json_error_answers_are_read_as_error_pages_are(reports: dict[str, Report]) -> None:
    """Under ``json-errors`` the authorization endpoint's errors are JSON objects: the error
    code they name is read as a page's is (CIMD-ERR-03)."""
    [codes] = [r for r in reports["json-errors"].results if r.requirement == "CIMD-ERR-03"]
    assert codes.observed.startswith("error page: invalid_client;"), codes.observed


@pytest.mark.parametrize("variant", ["", "json-errors"])
def test_a_json_error_that_reflects_the_document_host_is_caught(
    variant: str, tmp_path: Path, state_dir: Path
) -> None:
    """``error-reflects-document`` quotes the document host's answer in the authorization
    endpoint's error, a page or (``json-errors``) a JSON object: CIMD-ERR-05 sees it in
    either, not only in the PAR endpoint's answer."""
    varied = ["--variant", variant] if variant else []
    args = ["--fault", "error-reflects-document", *varied]
    # an Advisory row: reported, exit 0
    reflected = _demo_row(args, "CIMD-ERR-05", "CIMD-ERR-05", tmp_path, state_dir, 0)
    assert reflected.verdict == "advisory"
    assert "the authorization response shows the marker" in reflected.observed
