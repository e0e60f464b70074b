"""The self-test: the suite against the real reference AS, clean and with every fault.

One reference-AS process serves a clean issuer and one issuer per fault; one suite run (one
browser) scores them all. The clean issuer must be all green, and each fault must fail
exactly the requirements it declares. Every expectation comes from the fault table
(``mock_servers/reference_as/faults.py``) and the scenario modules' requirement markers: a new
check with its fault needs no edit here.
"""

from __future__ import annotations

import importlib
import inspect
import json
import os
import pkgutil
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from conformance import scenarios
from conformance.catalog import derived, requirements
from conformance.catalog.coverage import reported_by_this_version
from conformance.report.model import Report
from mock_servers.reference_as import FAULTS, F, Fault

pytestmark = pytest.mark.slow
CLI = [sys.executable, "-m", "conformance.cli"]
# Checks that need the lab (DNS answers the suite controls, no loopback exception): those
# whose requirements faults break in the lab only. Every checked requirement has a fault in
# each mode (test_every_checked_requirement_has_a_fault), so these are exactly the checks
# not applicable in default mode.
LAB_ONLY = frozenset(rid for f in FAULTS for rid in f.breaks_in("lab")) - {
    rid for f in FAULTS for rid in f.breaks_in("loopback")
}
FULL = pytest.mark.full_matrix
# an observation (an Informational row, or a derived "per row" row) records and never scores
GREEN = ("pass", "informational")


def _network_rows() -> frozenset[str]:
    """The rows whose checks ask for the network (``cimd_ssrf``, ``cimd_network``): the
    checks that see lab mode's DNS, addresses and canaries; the others do the same in both."""
    rows = set()
    for info in pkgutil.iter_modules(scenarios.__path__):
        module = importlib.import_module(f"{scenarios.__name__}.{info.name}")
        for name, check in vars(module).items():
            if not name.startswith("test_") or not callable(check):
                continue
            if set(inspect.signature(check).parameters) & {"cimd_ssrf", "cimd_network"}:
                marks = getattr(check, "pytestmark", [])
                rows.update(m.args[0] for m in marks if m.name == "requirement")
    return frozenset(rows)


# The default lab matrix scores the faults lab mode can tell apart from loopback mode: those
# whose declared rows differ between the modes, and those breaking a row whose check asks for
# the network. Every other fault's check does the same in both modes, and is proven in
# loopback mode; the full lab matrix (`-m full_matrix`) scores every fault in the lab too.
NETWORK_ROWS = _network_rows()
LAB_FAULTS = tuple(
    f
    for f in FAULTS
    if set(f.breaks_in("lab")) != set(f.breaks_in("loopback"))
    or {*f.breaks_in("lab"), *f.breaks_in("loopback")} & NETWORK_ROWS
)
MODES = {"loopback": FAULTS, "lab": LAB_FAULTS, "loopback-full": FAULTS, "lab-full": FAULTS}


def _mode_param(mode: str, *more: object, name: str = "") -> Any:
    """A ``pytest.param`` of the matrix ``mode`` (a full one marked ``full_matrix``)."""
    marks = [FULL] if mode.endswith("-full") else []
    return pytest.param(mode, *more, marks=marks, id=f"{mode}-{name}" if name else mode)


def _catches_exactly(report: Report, declared: set[str]) -> None:
    """The report violates exactly ``declared``; else each differing row's verdict and why."""
    violated = report.violated_requirements()
    if violated == declared:
        return
    differing = violated ^ declared
    rows = [
        f"{r.requirement}: {r.verdict} ({r.observed[:300]})"
        for r in report.results
        if r.requirement in differing
    ]
    missing = sorted(differing - {r.requirement for r in report.results})
    raise AssertionError(
        f"violated {sorted(violated)}, declared {sorted(declared)}; "
        + "; ".join(rows + [f"{row}: not in the report" for row in missing])
    )


def _exit_code(fault: Fault, mode: str) -> int:
    """A strict run's exit code with ``fault`` on: 1 when it breaks an R or Rec row."""
    scored = (requirements.Tier.REQUIRED, requirements.Tier.RECOMMENDED)
    tiers = {requirements.get(rid).tier for rid in fault.breaks_in(mode)}
    return 1 if tiers & set(scored) else 0


def _run(args: list[str], timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=timeout)


def _score(issuer: str, out: Path, state_dir: Path) -> subprocess.CompletedProcess[str]:
    """``run --issuer`` with its own report directory and the shared state directory."""
    return _run(
        ["run", "--issuer", issuer, "--report-dir", str(out), "--state-dir", str(state_dir)]
    )


@pytest.fixture(scope="session")
def state_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("state")


def _matrix(out: Path, state_dir: Path, *extra: str) -> dict[str, Report]:
    """Reports of one `demo --matrix --strict` run, by fault name ("" for the clean issuer)."""
    args = ["demo", "--matrix", "--strict", "--report-dir", str(out), "--state-dir", str(state_dir)]
    done = _run([*args, *extra], timeout=3600)
    assert done.returncode == 1, done.stdout[-3000:] + done.stderr[-3000:]
    return _reports(out)


def _reports(out: Path) -> dict[str, Report]:
    """The reports of a run on every matrix issuer, by fault name ("" for the clean issuer)."""
    index = json.loads((out / "index.json").read_text())
    reports = {}
    for label in index:
        name = label.removeprefix("faults-") if label.startswith("faults-") else ""
        reports[name] = Report.load(out / label / "report.json")
    return reports


@pytest.fixture(scope="session", params=[_mode_param(mode) for mode in MODES])
def matrix(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, state_dir: Path
) -> tuple[str, dict[str, Report]]:
    """(mode, reports): the default mode always; lab mode when running as root.

    By default each fault's issuer is judged on the rows its fault breaks (``--targeted``):
    the row fails with the fault, and passes on the clean issuer, which is judged on every
    row. The ``full_matrix`` runs (``pytest -m full_matrix``, about an hour) judge every
    fault on every row, so a fault that breaks a row it does not declare shows too.
    """
    mode, _, full = str(request.param).partition("-")
    if mode == "lab" and os.geteuid() != 0:
        pytest.skip("lab mode needs root (a network namespace); CI runs as root")
    out = tmp_path_factory.mktemp(f"matrix-{request.param}")
    extra = ["--lab"] if mode == "lab" else []
    if not full:
        extra.append("--targeted")
        extra += [arg for f in MODES[request.param] for arg in ("--matrix-fault", f.name)]
    return mode, _matrix(out, state_dir, *extra)


def test_reference_as_is_all_green(matrix: tuple[str, dict[str, Report]]) -> None:
    mode, reports = matrix
    report = reports[""]
    assert report.mode == mode
    assert report.preflight.get("error") is None
    not_green = [
        (r.requirement, r.verdict, r.observed)
        for r in report.results
        if r.verdict not in GREEN and not (mode == "loopback" and r.requirement in LAB_ONLY)
    ]
    assert not_green == []
    assert report.exit_code() == 0
    assert {r.requirement for r in report.results} == reported_by_this_version()


def test_lab_only_checks_are_not_applicable_in_default_mode(
    matrix: tuple[str, dict[str, Report]],
) -> None:
    mode, reports = matrix
    verdicts = {r.requirement: r for r in reports[""].results}
    for requirement in LAB_ONLY:
        if mode == "lab":
            assert verdicts[requirement].verdict == "pass"
        else:
            assert verdicts[requirement].verdict == "not-applicable"
            assert "--lab" in verdicts[requirement].observed


def test_loopback_spellings_are_reported_not_scored(
    matrix: tuple[str, dict[str, Report]],
) -> None:
    """Other spellings of the metadata host are planted in loopback mode, and marked."""
    mode, reports = matrix
    [sec02] = [r for r in reports[""].results if r.requirement == "CIMD-SEC-02"]
    planted = sec02.evidence["canaries"]["planted"]
    excepted = [p for p in planted if p.get("within_loopback_exception")]
    if mode == "lab":
        assert excepted == []
        return
    assert {p["planted"].split(" on ", 1)[1].split(" ", 1)[0] for p in excepted} >= {
        "2130706433",
        "127.1",
        "[::ffff:7f00:1]",
    }
    assert any("127.0.0.2" in p["planted"] for p in planted if p not in excepted)


@pytest.mark.parametrize(
    ("matrix", "fault"),
    [_mode_param(mode, f, name=f.name) for mode, faults in MODES.items() for f in faults],
    indirect=["matrix"],
)
def test_suite_catches_fault(fault: Fault, matrix: tuple[str, dict[str, Report]]) -> None:
    mode, reports = matrix
    report = reports[fault.name]
    harness_errors = [
        (r.requirement, r.observed) for r in report.results if r.verdict == "harness-error"
    ]
    assert harness_errors == []
    _catches_exactly(report, derived.expand(fault.breaks_in(mode)))
    assert report.exit_code() == _exit_code(fault, mode)


def test_every_checked_requirement_has_a_fault(matrix: tuple[str, dict[str, Report]]) -> None:
    mode, reports = matrix
    unscored = ("not-applicable", "informational")
    checked = {r.requirement for r in reports[""].results if r.verdict not in unscored}
    broken = derived.expand(rid for fault in FAULTS for rid in fault.breaks_in(mode))
    assert checked - broken == set()
    assert broken - checked == set()


def test_the_browser_logs_in_once_per_matrix(matrix: tuple[str, dict[str, Report]]) -> None:
    """The matrix's issuers share one sign-in: only the first target logs in."""
    _logged_in_once(matrix[1])


def _logged_in_once(reports: dict[str, Report]) -> None:
    logins = {name: report.preflight["login"] for name, report in reports.items()}
    assert logins.pop("").startswith("logged in with the login recipe")
    assert logins and all(line.startswith("already signed in") for line in logins.values())


SHARED_CONSENT = ("CIMD-UI-01", "CIMD-UI-02", "CIMD-UI-03", "CIMD-UI-04", "CIMD-SEC-09")


def test_the_consent_checks_share_two_pages_and_show_them_in_their_evidence(
    matrix: tuple[str, dict[str, Report]],
) -> None:
    """Five checks judge two consent pages, each rendered once: a check that did not render
    a page carries its request (marked with the check that did) and its document's fetches."""
    _, reports = matrix
    results = {r.requirement: r for r in reports[""].results if r.requirement in SHARED_CONSENT}
    assert set(results) == set(SHARED_CONSENT)
    renderers: dict[str, set[str]] = {}  # client_id -> the checks named as its renderer
    judged: set[str] = set()
    for requirement, result in results.items():
        attempts = result.evidence["attempts"]
        judged |= {a["client_id"] for a in attempts}
        fetched = {f["target"] for f in result.evidence["fetches"]}
        assert {urlsplit(a["client_id"]).path for a in attempts} <= fetched, requirement
        for attempt in attempts:
            if "shared" in attempt:
                by = attempt["shared"].removeprefix("rendered once for the consent checks, by ")
                assert by in results and by != requirement
                renderers.setdefault(attempt["client_id"], set()).add(by)
    assert len(renderers) == 2 and judged == set(renderers)  # the https and loopback pages
    for client_id, by in renderers.items():
        [first] = by
        assert any(
            a["client_id"] == client_id and "shared" not in a
            for a in results[first].evidence["attempts"]
        )
    assert sum("shared" not in a for r in results.values() for a in r.evidence["attempts"]) == 3
    # two renders' requests, and CIMD-SEC-09's second request for its framing attempt


def test_redirect_faults_differ_in_what_the_canaries_saw(
    matrix: tuple[str, dict[str, Report]],
) -> None:
    """Both faults break CIMD-FETCH-04; only the unchecked one connects to a canary."""
    _, reports = matrix

    def fetch04(fault: Fault) -> str:
        [result] = [r for r in reports[fault.name].results if r.requirement == "CIMD-FETCH-04"]
        return result.observed

    assert "connection(s) to canaries" in fetch04(F.REDIRECTS_TO_PRIVATE)
    assert "canaries" not in fetch04(F.FOLLOWS_REDIRECTS)
    assert "accepted" in fetch04(F.FOLLOWS_REDIRECTS)


def test_demo_writes_reports_and_exits_zero(tmp_path: Path, state_dir: Path) -> None:
    done = _run(["demo", "--report-dir", str(tmp_path), "--state-dir", str(state_dir)])
    assert done.returncode == 0, done.stdout[-3000:]
    assert "CONFORMANT on the" in done.stdout
    assert "not tested by this version" not in done.stdout  # every R and Rec row is checked
    assert "untestable from outside (the report says why): CIMD-DISC-06" in done.stdout
    report = Report.load(tmp_path / "report.json")
    judged = report.coverage["scored_rows_checked"] - len(LAB_ONLY)
    assert report.coverage["scored_rows_judged"] == judged
    assert "ssrf: judged in lab mode (--lab" in done.stdout
    html = (tmp_path / "report.html").read_text()
    assert "<dt>Untestable rows</dt>" in html and "Untestable from outside: " in html
    assert report.schema == "cimd-conformance-report/1"
    assert report.mode == "loopback"
    not_passed = {r.requirement: r.verdict for r in report.results if r.verdict not in GREEN}
    assert not_passed == dict.fromkeys(LAB_ONLY, "not-applicable")  # need the lab's DNS
    junit = (tmp_path / "junit.xml").read_text()
    assert junit.count("<testcase") == len(report.results)


def test_demo_strict_with_a_fault_exits_one(tmp_path: Path, state_dir: Path) -> None:
    done = _run(
        [
            "demo",
            "--strict",
            "--fault",
            F.FOLLOWS_REDIRECTS.name,
            "--report-dir",
            str(tmp_path),
            "--state-dir",
            str(state_dir),
        ]
    )
    assert done.returncode == 1, done.stdout[-3000:]
    failed = Report.load(tmp_path / "report.json").failed_requirements()
    assert failed == derived.expand(F.FOLLOWS_REDIRECTS.breaks)


def test_unreachable_target_is_a_harness_error(tmp_path: Path, state_dir: Path) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    done = _score(f"https://127.0.0.1:{port}", tmp_path, state_dir)
    assert done.returncode == 2, done.stdout[-3000:]
    report = Report.load(tmp_path / "report.json")
    assert "unreachable" in report.preflight["error"]
    assert {r.verdict for r in report.results} == {"harness-error"}


def test_wrong_credentials_are_a_harness_error_naming_the_recipe(
    tmp_path: Path, state_dir: Path
) -> None:
    done = _run(
        [
            "demo",
            "--password",
            "not-the-password",
            "--report-dir",
            str(tmp_path),
            "--state-dir",
            str(state_dir),
        ]
    )
    assert done.returncode == 2, done.stdout[-3000:]
    report = Report.load(tmp_path / "report.json")
    assert "the password field was still there after submit" in report.preflight["error"]
    assert report.failed_requirements() == set()
    # checks that need only discovery still ran: the target is not blamed for the login
    verdicts = {r.requirement: r.verdict for r in report.results}
    assert verdicts["CIMD-DISC-01"] == "pass"
    assert verdicts["CIMD-URL-01"] == "harness-error"


def test_baseline_accepts_known_failures_and_rejects_stale_ones(
    tmp_path: Path, state_dir: Path
) -> None:
    [broken_row] = F.FOLLOWS_REDIRECTS.breaks
    known = tmp_path / "known.toml"
    known.write_text(
        f'[[known-failure]]\nrequirement = "{broken_row}"\nreason = "fault on purpose"\n'
    )
    # the listed row and the one a stale entry names are the checks the baseline is about
    only = ["--only", broken_row, "--only", "CIMD-URL-01"]
    args = ["demo", "--fault", F.FOLLOWS_REDIRECTS.name, *only, "--state-dir", str(state_dir)]
    done = _run([*args, "--baseline", str(known), "--report-dir", str(tmp_path / "a")])
    assert done.returncode == 0, done.stdout[-3000:]
    assert "KNOWN FAILURE" in done.stdout

    stale = tmp_path / "stale.toml"
    stale.write_text(
        known.read_text() + '[[known-failure]]\nrequirement = "CIMD-URL-01"\nreason = "old"\n'
    )
    done = _run([*args, "--baseline", str(stale), "--report-dir", str(tmp_path / "b")])
    assert done.returncode == 1, done.stdout[-3000:]
    assert Report.load(tmp_path / "b" / "report.json").baseline["stale"] == ["CIMD-URL-01"]

    broken = tmp_path / "broken.toml"
    broken.write_text('[[known-failure]]\nrequirment = "CIMD-URL-01"\nreason = "typo"\n')
    done = _run([*args, "--baseline", str(broken), "--report-dir", str(tmp_path / "c")])
    assert done.returncode == 2
    assert "requirment" in Report.load(tmp_path / "c" / "report.json").preflight["error"]


def test_target_that_does_not_trust_the_ca_is_a_harness_error(
    tmp_path: Path, state_dir: Path
) -> None:
    from conformance.target.reference import ReferenceTarget
    from mock_servers.pki import TestCA

    other = TestCA.untrusted()
    with ReferenceTarget(
        state_dir=state_dir, extra_args=("--trust-ca", str(other.cert_path))
    ) as target:
        done = _score(target.issuer, tmp_path, state_dir)
    assert done.returncode == 2, done.stdout[-3000:]
    report = Report.load(tmp_path / "report.json")
    assert "abandoned the TLS handshake" in report.preflight["error"]
    assert "does not trust the suite's test CA" in report.preflight["error"]
    assert "NODE_EXTRA_CA_CERTS" in report.preflight["error"]
    connections = report.preflight["metadata_host_connections"]
    assert connections["tcp_accepted"] > connections["tls_established"]
    assert report.failed_requirements() == set()


def test_target_that_refuses_the_metadata_host_by_policy_is_a_harness_error(
    tmp_path: Path, state_dir: Path
) -> None:
    """The reference AS in production mode blocks loopback documents before connecting."""
    from conformance.target.reference import ReferenceTarget

    with ReferenceTarget(state_dir=state_dir, extra_args=("--production",)) as target:
        done = _score(target.issuer, tmp_path, state_dir)
    assert done.returncode == 2, done.stdout[-3000:]
    report = Report.load(tmp_path / "report.json")
    error = report.preflight["error"]
    assert "without ever connecting to the metadata host" in error
    assert "runs in this machine's network namespace" in error
    assert "by policy" in error and "--lab" in error
    assert report.preflight["metadata_host_connections"] == {
        "tcp_accepted": 0,
        "tls_established": 0,
    }
    assert report.failed_requirements() == set()


def test_missing_metadata_is_a_harness_error(tmp_path: Path, state_dir: Path) -> None:
    from conformance.target.reference import ReferenceTarget

    with ReferenceTarget(state_dir=state_dir) as target:
        done = _score(target.issuer + "/no-such-tenant", tmp_path, state_dir)
    assert done.returncode == 2, done.stdout[-3000:]
    error = Report.load(tmp_path / "report.json").preflight["error"]
    assert "no authorization server metadata" in error
    assert "/.well-known/oauth-authorization-server/no-such-tenant -> 404" in error


# The fault matrix again under real servers' shapes (loopback only, to keep CI time): every
# fault must still fail exactly its declared set, and the clean issuer stay all green. Under
# renewed-sessions every approval, over HTTP or in the browser, leaves the other agent's
# session cookie stale until the hand-over at the next browser step.
# The rate-limited variant gets gentler limits than its defaults (a budget a whole matrix
# run meets in time) but keeps a per-client interval, so it still answers 429 when a check
# asks about one client twice in quick succession: the reports' pacing waits prove it. Its
# Retry-After (1 s, the least whole second) is capped by the suite's pacing a little over the
# interval, as a user would pace the suite for a short interval, so that the run is not
# mostly waiting.
GENTLE_RATE_LIMITS = ("--rate-interval", "0.1", "--rate-budget", "100000", "--rate-window", "60")
VARIANT_SETS: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    "script-pages+upstream-login": (("script-pages", "upstream-login"), (), ()),
    "rate-limited+host-cookies+renewed-sessions": (
        ("rate-limited", "host-cookies", "renewed-sessions"),
        GENTLE_RATE_LIMITS,
        ("--pacing", "max_wait_s=0.15"),
    ),
}


@pytest.fixture(
    scope="session",
    params=[
        *VARIANT_SETS,
        *(pytest.param(f"{name}/full", marks=FULL) for name in VARIANT_SETS),
    ],
)
def variant_matrix(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, state_dir: Path
) -> tuple[str, dict[str, Report]]:
    """(variant set, reports): the loopback matrix against the reference AS in that shape.

    Targeted like the default matrix (each fault on its own rows); ``/full`` judges every
    fault on every row (``-m full_matrix``).
    """
    from conformance.run_command import targeted
    from conformance.target.reference import ReferenceTarget

    name, _, full = str(request.param).partition("/")
    variants, limits, pacing = VARIANT_SETS[name]
    out = tmp_path_factory.mktemp(f"matrix-{name}{'-full' if full else ''}")
    with ReferenceTarget(
        matrix=True, state_dir=state_dir, variants=variants, extra_args=limits
    ) as target:
        issuers = [arg for issuer in target.issuers.values() for arg in ("--issuer", issuer)]
        resource = ["--param", f"resource={target.ready['resource']}"]  # as demo sends it
        args = [
            "run",
            "--strict",
            "--mcp-proxy",
            *issuers,
            *resource,
            *pacing,
            *([] if full else ["--judge-only", json.dumps(targeted(target.issuers))]),
            # a full set judges every row of every fault's issuer: the rate-limited one, paced,
            # takes over an hour on 2 cores (past the run's default deadline of 3600 s)
            *(["--run-timeout", "7000"] if full else []),
            "--report-dir",
            str(out),
        ]
        done = _run([*args, "--state-dir", str(state_dir)], timeout=7200 if full else 1800)
    assert done.returncode == 1, done.stdout[-3000:] + done.stderr[-3000:]
    return name, _reports(out)


@pytest.mark.variant_matrix
def test_reference_as_is_all_green_under_variants(
    variant_matrix: tuple[str, dict[str, Report]],
) -> None:
    _, reports = variant_matrix
    report = reports[""]
    assert report.preflight.get("error") is None
    not_green = [
        (r.requirement, r.verdict, r.observed)
        for r in report.results
        if r.verdict not in GREEN and r.requirement not in LAB_ONLY
    ]
    assert not_green == []
    assert report.exit_code() == 0
    assert {r.requirement for r in report.results} == reported_by_this_version()


@pytest.mark.variant_matrix
@pytest.mark.parametrize("fault", FAULTS, ids=lambda f: f.name)
def test_suite_catches_fault_under_variants(  # type: ignore[no-untyped-def]
    fault, variant_matrix: tuple[str, dict[str, Report]]
) -> None:
    _, reports = variant_matrix
    report = reports[fault.name]
    harness_errors = [
        (r.requirement, r.observed) for r in report.results if r.verdict == "harness-error"
    ]
    assert harness_errors == []
    _catches_exactly(report, derived.expand(fault.breaks_in("loopback")))
    assert report.exit_code() == _exit_code(fault, "loopback")


@pytest.mark.variant_matrix
def test_the_browser_logs_in_once_per_variant_matrix(
    variant_matrix: tuple[str, dict[str, Report]],
) -> None:
    """Under upstream logins, script pages and __Host- cookies too."""
    _logged_in_once(variant_matrix[1])


@pytest.mark.variant_matrix
def test_rate_limited_matrix_was_rate_limited(
    variant_matrix: tuple[str, dict[str, Report]],
) -> None:
    """The variant answered 429 during the run, and the suite waited and asked again."""
    name, reports = variant_matrix
    waits = [w for r in reports.values() for w in r.preflight["pacing"]["waits"]]
    if "rate-limited" not in name:
        assert waits == []  # no other variant says "not now"
        return
    assert waits, "the rate-limited variant never answered 429: the limits are too gentle"
    assert all("HTTP 429" in w and "waited" in w for w in waits)
