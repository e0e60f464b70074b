"""The example server for the tests, with a certificate from the suite's test CA.

``cimd_ca``, ``cimd_metadata_host``, ``cimd_callback`` and ``cimd_chromium`` come from the
cimd-conformance pytest plugin (installed, so pytest loads it on its own).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from cimd_flask_as.serve import Server

USER, PASSWORD = "alice", "wonderland-test-only"


@pytest.fixture(scope="session")
def example_server(cimd_ca, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The authorization server on a free loopback port, trusting the test CA.

    It fetches client documents from the suite's metadata host on 127.0.0.1, so it runs with
    its development-only loopback exception.
    """
    cert = cimd_ca.issue_server_pem(tmp_path_factory.mktemp("tls"))
    server = Server(cert, cimd_ca.cert_path, {USER: PASSWORD}, allow_loopback=True).start()
    yield server
    server.stop()
