"""No secret reaches a report or the console, against a reference AS that echoes them all.

The reference AS runs with ``--echo-secrets``: its pages, redirects and token errors repeat
the password, cookies, codes, tokens, verifiers and client assertions it was sent or issued,
and it logs every value it echoed. Each run's console output and every text file in its
report directory are then searched for each of those values.
"""

from __future__ import annotations

import html
import json
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote, quote_plus
from xml.sax.saxutils import escape

import markupsafe
import pytest

from conformance.report.model import Report
from conformance.target.reference import ReferenceTarget

pytestmark = pytest.mark.slow
CLI = [sys.executable, "-m", "conformance.cli"]
PASSWORD = 'Pw-echo&"<chk>'  # characters that JSON, HTML and URLs all escape differently


def _score(issuer: str, password: str, out: Path, state_dir: Path) -> str:
    """Run the suite; returns its console output (stdout and stderr)."""
    args = ["run", "--issuer", issuer, "--password", password]
    args += ["--report-dir", str(out), "--state-dir", str(state_dir)]
    done = subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=600)
    return done.stdout + done.stderr


def _echoed(log: Path) -> dict[str, str]:
    """Every value the target echoed: value -> kind."""
    lines = log.read_text("utf-8").splitlines() if log.exists() else []
    return {entry["value"]: entry["kind"] for entry in map(json.loads, lines)}


def _forms(value: str) -> set[str]:
    """``value`` raw and as JSON, HTML, XML, URLs and Python reprs write it."""
    forms = {value, json.dumps(value)[1:-1], repr(value)[1:-1], quote(value, safe="")}
    forms |= {quote_plus(value), html.escape(value), str(markupsafe.escape(value))}
    forms |= {escape(f, {'"': "&quot;", "\n": "&#10;"}) for f in set(forms)}
    forms |= {str(markupsafe.escape(f)) for f in set(forms)}
    return forms


def _leaks(secrets: dict[str, str], console: str, out: Path) -> list[str]:
    texts = {"console": console}
    for path in sorted(out.rglob("*")):
        if path.is_file() and path.suffix != ".png":
            texts[str(path.relative_to(out))] = path.read_text("utf-8")
    return [
        f"{kind} {form[:12]}... in {where}"
        for value, kind in secrets.items()
        for form in _forms(value)
        for where, text in texts.items()
        if form in text
    ]


def test_no_echoed_secret_reaches_reports_or_console(tmp_path: Path, state_dir: Path) -> None:
    log = tmp_path / "echoed.jsonl"
    extra = ("--echo-secrets", str(log), "--password", PASSWORD)
    with ReferenceTarget(state_dir=state_dir, extra_args=extra) as target:
        console = _score(target.issuer, PASSWORD, tmp_path / "out", state_dir)
    report = Report.load(tmp_path / "out" / "report.json")
    assert report.exit_code() == 0, console[-3000:]  # echoing changes no verdict
    secrets = _echoed(log)
    kinds = {kind.split()[0] for kind in secrets.values()}
    # the run created or received every kind of secret, and the target echoed each one
    assert {"password", "cookie", "code", "code_verifier", "client_assertion"} <= kinds
    assert {"access_token", "refresh_token"} <= kinds
    assert PASSWORD in secrets
    assert _leaks(secrets, console, tmp_path / "out") == []
    assert "[redacted]" in (tmp_path / "out" / "report.json").read_text("utf-8")


def test_a_refused_password_echoed_by_the_login_page_stays_out(
    tmp_path: Path, state_dir: Path
) -> None:
    log = tmp_path / "echoed.jsonl"
    wrong = "wrong-" + PASSWORD
    extra = ("--echo-secrets", str(log), "--password", PASSWORD)
    with ReferenceTarget(state_dir=state_dir, extra_args=extra) as target:
        console = _score(target.issuer, wrong, tmp_path / "out", state_dir)
    report = Report.load(tmp_path / "out" / "report.json")
    assert "password field was still there" in report.preflight["error"], console[-3000:]
    secrets = _echoed(log)
    assert secrets.get(wrong) == "password"  # the login page did echo it
    assert _leaks(secrets, console, tmp_path / "out") == []
