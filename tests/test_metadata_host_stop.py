"""A metadata host stopped while an answer hangs ends that connection cleanly.

A run that ends early (its deadline, an interrupt) can stop the metadata host while the
target's fetch of a hanging document is still open (CIMD-FETCH-07 sends those requests when
a target's checks begin). The answer is cancelled with the server; its connection must end
then, not when its transport is garbage collected, where the unclosed transport's warning
would end the run as a harness error (warnings are errors in a run).
"""

from __future__ import annotations

import gc
import socket
import ssl
import sys
import time
import warnings
from pathlib import Path

import pytest

from mock_servers.hosting import Hosting
from mock_servers.metadata_host import MetadataHost
from mock_servers.pki import TestCA

TIMEOUT_S = 10.0


@pytest.mark.parametrize("hanging", ["silent", "dripping"])
def test_stopping_during_a_hanging_answer_leaves_no_open_transport(
    tmp_path: Path, hanging: str
) -> None:
    ca = TestCA.load_or_create(tmp_path)
    doc = {"client_id": "https://m.test/c.json", "redirect_uris": ["https://m.test/cb"]}
    hosting = Hosting.silent() if hanging == "silent" else Hosting.dripping(doc, every_ms=1000)
    context = ssl.create_default_context(cafile=str(ca.cert_path))
    host = MetadataHost(ca).start()
    try:
        url = host.new_client_url()
        host.serve(url, hosting)
        raw = socket.create_connection((host.address, host.port), timeout=TIMEOUT_S)
        tls = context.wrap_socket(raw, server_hostname=host.address)
        path = url.split("://", 1)[1].split("/", 1)[1]
        tls.sendall(f"GET /{path} HTTP/1.1\r\nHost: {host.address}\r\n\r\n".encode())
        waited = time.monotonic() + TIMEOUT_S
        while not host.fetches(url) and time.monotonic() < waited:
            time.sleep(0.02)
        assert host.fetches(url), "the request never reached the metadata host"
    finally:
        unraisable: list[str] = []
        hook, sys.unraisablehook = sys.unraisablehook, lambda u: unraisable.append(repr(u))
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                host.stop()
                gc.collect()
        finally:
            sys.unraisablehook = hook
    try:
        assert [str(w.message) for w in caught if "unclosed" in str(w.message)] == []
        assert unraisable == []
        assert host.fetches(url)[0].ended is not None
    finally:
        tls.close()
