"""A reference AS whose process is killed once the test user has logged in.

Started by a test as ``--target-command``:
``python tests/dying_target.py PORT STATE_DIR PASSWORD``. It serves the reference AS on
127.0.0.1:PORT with a certificate from the test CA in STATE_DIR and PASSWORD as the test
user's password. The preflight's requests (the login and the authorization request it
returns to) are answered; the next request kills the process with SIGKILL, as a crash would.
"""

from __future__ import annotations

import os
import signal
import sys
import tempfile
from pathlib import Path

from mock_servers.pki import TestCA
from mock_servers.reference_as.app import create_app
from mock_servers.reference_as.config import IssuerConfig
from mock_servers.runner import ASGIApp, Receive, Scope, Send, Server


class DiesAfterLogin:
    """The reference AS until the login and the authorization request after it; the next
    request kills the process."""

    def __init__(self) -> None:
        self.app: ASGIApp | None = None
        self._logged_in = False
        self._after_login = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert self.app is not None
        if scope["type"] == "http":
            path, method = scope["path"], scope["method"]
            if self._after_login >= 1:
                os.kill(os.getpid(), signal.SIGKILL)
            if self._logged_in and path.endswith("/authorize"):
                self._after_login += 1
            if method == "POST" and path.endswith("/login"):
                self._logged_in = True
        await self.app(scope, receive, send)


def main() -> None:
    """Serve until killed."""
    port, state, password = int(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
    ca = TestCA.load_or_create(state)
    wrapper = DiesAfterLogin()
    leaf = ca.issue_server_pem(Path(tempfile.mkdtemp(prefix="dying-target-", dir=state)))
    with Server(wrapper, port=port, certfile=leaf) as server:
        config = IssuerConfig(server.base_url, trust_ca=ca.cert_path, password=password)
        wrapper.app = create_app([config])
        print(f"serving {server.base_url}", flush=True)
        signal.pause()  # until SIGTERM (the run's end) or SIGKILL (the next request)


if __name__ == "__main__":
    main()
