"""A metadata host stopped while an answer hangs, or a client keeps a connection, ends it cleanly.

A run that ends early (its deadline, an interrupt) can stop the metadata host while the
target's fetch of a hanging document is still open (CIMD-FETCH-07 sends those requests when
a target's checks begin). The answer is cancelled with the server; its connection must end
then, not when its transport is garbage collected, where the unclosed transport's warning
would end the run as a harness error (warnings are errors in a run). A target that keeps its
fetch connections open for its next fetch (a connection pool) holds them idle when the run
ends: the host's close of each waits on a TLS close_notify that such a client sends only
when it next looks at the connection, so the host cuts it.
"""

from __future__ import annotations

import gc
import socket
import ssl
import sys
import threading
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
        unclosed, unraisable = _stopped(host)
    try:
        assert unclosed == [] and unraisable == []
        assert host.fetches(url)[0].ended is not None
    finally:
        tls.close()


def test_stopping_with_a_kept_idle_connection_leaves_no_open_transport(tmp_path: Path) -> None:
    ca = TestCA.load_or_create(tmp_path)
    context = ssl.create_default_context(cafile=str(ca.cert_path))
    host = MetadataHost(ca).start()
    try:
        url = host.new_client_url()
        host.serve(url, Hosting.document({"client_id": url, "redirect_uris": ["https://m/cb"]}))
        raw = socket.create_connection((host.address, host.port), timeout=TIMEOUT_S)
        tls = context.wrap_socket(raw, server_hostname=host.address)
        path = url.split("://", 1)[1].split("/", 1)[1]
        tls.sendall(f"GET /{path} HTTP/1.1\r\nHost: {host.address}\r\n\r\n".encode())
        answer = b""
        while b"}" not in answer:  # the whole document: the connection is idle, kept open
            answer += tls.recv(65536)
    finally:
        unclosed, unraisable = _stopped(host)  # the client never reads the host's close
    try:
        assert answer.startswith(b"HTTP/1.1 200")
        assert unclosed == [] and unraisable == []
        serving = [t for t in threading.enumerate() if t.name == f"server-{host.port}"]
        assert serving == []  # the stop ended the server, not its wait for the client
    finally:
        tls.close()


def _stopped(host: MetadataHost) -> tuple[list[str], list[str]]:
    """Stop ``host``; the unclosed-transport warnings and unraisable exceptions meanwhile."""
    unraisable: list[str] = []
    hook, sys.unraisablehook = sys.unraisablehook, lambda u: unraisable.append(repr(u))
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            host.stop()
            gc.collect()
    finally:
        sys.unraisablehook = hook
    return [str(w.message) for w in caught if "unclosed" in str(w.message)], unraisable
