"""Several issuers on one origin: the browser logs in once where the server shares a sign-in.

One reference AS serves two issuers on one origin, with one sign-in for both (as its matrix
does) or a sign-in each. The second target starts with the first login's cookies: with single
sign-on its preflight finds consent at once and runs no login; without, it meets the login page
and the recipe logs in. Both are scored all the same.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from conformance.report.model import Report
from mock_servers.pki import TestCA
from mock_servers.reference_as.app import create_app
from mock_servers.reference_as.config import IssuerConfig
from mock_servers.runner import Receive, Scope, Send, Server

pytestmark = pytest.mark.slow
CLI = [sys.executable, "-m", "conformance.cli"]
TENANT = "/faults/tenant"  # an issuer path like the matrix's, with no fault on


class _Late:
    """The app, set once the server's port (and so the issuers' URLs) is known."""

    app: Any = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


@pytest.mark.parametrize("single_sign_on", [True, False], ids=["single-sign-on", "sign-in-each"])
def test_the_second_issuer_logs_in_only_when_the_first_login_does_not_serve_it(
    tmp_path: Path, single_sign_on: bool
) -> None:
    state = tmp_path / "state"
    ca = TestCA.load_or_create(state)
    late = _Late()
    with Server(late, certfile=ca.issue_server_pem(tmp_path / "leaf")) as server:
        configs = [
            IssuerConfig(server.base_url + prefix, path_prefix=prefix, trust_ca=ca.cert_path)
            for prefix in ("", TENANT)
        ]
        late.app = create_app(configs, single_sign_on=single_sign_on)
        issuers = [arg for config in configs for arg in ("--issuer", config.issuer_id)]
        places = ["--report-dir", str(tmp_path / "out"), "--state-dir", str(state)]
        done = subprocess.run(
            [*CLI, "run", *issuers, "--only", "CIMD-UI-02", *places],
            capture_output=True,
            text=True,
            timeout=300,
        )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    out = tmp_path / "out"
    reports = [
        Report.load(out / label / "report.json")
        for label in json.loads((out / "index.json").read_text())
    ]
    logins = {report.issuer: report.preflight["login"] for report in reports}
    first, second = logins[configs[0].issuer_id], logins[configs[1].issuer_id]
    assert first.startswith("logged in with the login recipe")
    expected = "already signed in" if single_sign_on else "logged in with the login recipe"
    assert second.startswith(expected), second
    assert all(r.verdict == "pass" for report in reports for r in report.results)
