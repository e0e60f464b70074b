"""The metadata host on loopback, over real TLS: what reaches the wire, and what the log says.

These are the hostings whose point is the connection: bad certificates, sizes, lying and
endless framing, compression, slowness, HTTP versions. Every socket and client has a timeout.
"""

from __future__ import annotations

import datetime
import json
import socket
import ssl
import time
import zlib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography import x509

from mock_servers.hosting import Hosting
from mock_servers.listeners import BAD_TLS, BadTls
from mock_servers.metadata_host import MetadataHost, PublicUrls
from mock_servers.pki import WRONG_NAME, TestCA

DOC = {"client_id": "https://m.test/c.json", "redirect_uris": ["https://m.test/cb"]}
TIMEOUT_S = 10.0


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> TestCA:
    return TestCA.load_or_create(Path(tmp_path_factory.mktemp("wire-state")))


@pytest.fixture(scope="module")
def host(ca: TestCA) -> Iterator[MetadataHost]:
    with MetadataHost(ca) as host:
        yield host
        host.raise_crash()


def _trusting(ca: TestCA) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(ca.cert_path))


def _client(ca: TestCA, *, http2: bool = False) -> httpx.Client:
    return httpx.Client(verify=_trusting(ca), timeout=TIMEOUT_S, http2=http2)


def _exchange(host: MetadataHost, ca: TestCA, request: bytes) -> bytes:
    """Send raw request bytes over TLS (HTTP/1.x); every byte of the answer, until EOF."""
    with (
        socket.create_connection((host.address, host.port), timeout=TIMEOUT_S) as raw,
        _trusting(ca).wrap_socket(raw, server_hostname=host.address) as tls,
    ):
        tls.sendall(request)
        chunks = []
        while data := tls.recv(1 << 16):
            chunks.append(data)
    return b"".join(chunks)


def _get(url: str, *, version: str = "1.1", target: str | None = None) -> bytes:
    origin, path = url.split("/c/", 1)
    authority = origin.removeprefix("https://")
    line = f"GET {target or '/c/' + path} HTTP/{version}\r\nHost: {authority}\r\n"
    return (line + "Connection: close\r\n\r\n").encode()


def _head_and_body(answer: bytes) -> tuple[dict[str, str], bytes]:
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    fields = dict(line.lower().split(": ", 1) for line in lines[1:])
    return {"status-line": lines[0], **fields}, body


@pytest.mark.parametrize("kind", BAD_TLS)
def test_each_bad_certificate_is_refused_by_a_verifying_client(
    host: MetadataHost, ca: TestCA, kind: BadTls
) -> None:
    url = host.new_client_url(base=host.bad_tls_base_url(kind))
    host.serve_document(url, DOC)
    accepted, established = host.connections(kind)
    reason = {
        "expired": "certificate has expired",
        "wrong-name": "mismatch",
        "self-signed": "self-signed certificate",
        "untrusted": "unable to get local issuer certificate",
    }[kind]
    with _client(ca) as client, pytest.raises(httpx.ConnectError, match=reason):
        client.get(url)
    # the handshake was begun and abandoned: a refusal the log alone would not show
    assert host.connections(kind) == (accepted + 1, established)
    assert host.fetch_count(url) == 0
    unverified = ssl.create_default_context()
    unverified.check_hostname, unverified.verify_mode = False, ssl.CERT_NONE
    with httpx.Client(verify=unverified, timeout=TIMEOUT_S) as client:
        assert client.get(url).json() == DOC
    (fetch,) = host.fetches(url)
    assert fetch.listener == kind and fetch.answered == 200


def test_the_bad_certificates_are_bad_in_exactly_one_way(host: MetadataHost) -> None:
    now = datetime.datetime.now(datetime.UTC)
    certs = {}
    for kind in ("expired", "wrong-name", "self-signed"):
        base = host.bad_tls_base_url(kind)  # type: ignore[arg-type]
        port = int(base.rsplit(":", 1)[1])
        pem = ssl.get_server_certificate((host.address, port), timeout=TIMEOUT_S)
        certs[kind] = x509.load_pem_x509_certificate(pem.encode())
    names = {
        kind: cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        for kind, cert in certs.items()
    }
    assert certs["expired"].not_valid_after_utc < now
    assert "localhost" in names["expired"].get_values_for_type(x509.DNSName)
    assert names["wrong-name"].get_values_for_type(x509.DNSName) == [WRONG_NAME]
    assert certs["wrong-name"].not_valid_after_utc > now
    self_signed = certs["self-signed"]
    assert self_signed.issuer == self_signed.subject and self_signed.not_valid_after_utc > now
    assert "localhost" in names["self-signed"].get_values_for_type(x509.DNSName)


def test_bad_listeners_start_on_demand_or_on_their_fixed_port(ca: TestCA) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        fixed = probe.getsockname()[1]
    public = PublicUrls("https://m.example.test", self_signed="https://m-ss.example.test:8447/")
    with MetadataHost(ca, expired_port=fixed, public=public) as host:
        assert host.connections("wrong-name") == (0, 0)  # not made until asked for
        assert host.reaches_bad_tls("self-signed") and not host.reaches_bad_tls("expired")
        assert host.bad_tls_base_url("self-signed") == "https://m-ss.example.test:8447"
    with MetadataHost(ca, expired_port=fixed) as host:
        assert host.bad_tls_base_url("expired") == f"https://127.0.0.1:{fixed}"
        assert host.reaches_bad_tls("expired")
        with socket.create_connection(("127.0.0.1", fixed), timeout=TIMEOUT_S):
            pass


@pytest.mark.parametrize(("declared", "size"), [(500, 5_000_000), (5000, None)])
def test_a_lying_content_length_reaches_the_wire_as_written(
    host: MetadataHost, ca: TestCA, declared: int, size: int | None
) -> None:
    url = host.new_client_url()
    hosting = Hosting.lying_length(DOC, declared=declared, size=size)
    host.serve(url, hosting)
    head, body = _head_and_body(_exchange(host, ca, _get(url)))
    assert head["status-line"] == "HTTP/1.1 200 OK"
    assert head["content-length"] == str(declared) and head["connection"] == "close"
    assert body == hosting.content()  # all of it, whatever was declared; then the close
    assert host.settle(url)
    (fetch,) = host.fetches(url)
    assert fetch.bytes_sent == hosting.length and fetch.complete


def test_a_lying_content_length_over_http2_is_a_header(host: MetadataHost, ca: TestCA) -> None:
    url = host.new_client_url()
    host.serve(url, Hosting.lying_length(DOC, declared=10, size=1000))
    with _client(ca, http2=True) as client, pytest.raises(Exception, match="1000"):
        client.get(url)
    assert host.settle(url)
    (fetch,) = host.fetches(url)
    assert (fetch.http_version, fetch.bytes_sent) == ("2", 1000)


def test_a_padded_10_mb_document_is_sent_whole(host: MetadataHost, ca: TestCA) -> None:
    url = host.new_client_url()
    host.serve(url, Hosting.padded(DOC, 10_000_000))
    with _client(ca) as client:
        answer = client.get(url)
    assert answer.headers["content-length"] == "10000000" and len(answer.content) == 10_000_000
    assert host.settle(url) and host.fetches(url)[0].bytes_sent == 10_000_000


def test_an_endless_stream_ends_when_the_client_hangs_up(host: MetadataHost, ca: TestCA) -> None:
    url = host.new_client_url()
    host.serve(url, Hosting.endless_stream(DOC))
    read = 0
    with _client(ca) as client, client.stream("GET", url) as answer:
        assert answer.headers["transfer-encoding"] == "chunked"
        for piece in answer.iter_raw():
            read += len(piece)
            if read > 200_000:
                break
    assert host.settle(url, timeout_s=TIMEOUT_S)
    (fetch,) = host.fetches(url)
    assert fetch.disconnected and not fetch.capped and not fetch.complete
    assert read <= fetch.bytes_sent < 64 * 1024 * 1024


def test_an_endless_stream_is_cut_at_its_cap(host: MetadataHost, ca: TestCA) -> None:
    url = host.new_client_url()
    host.serve(url, Hosting.endless_stream(DOC, cap_bytes=1_000_000))
    with _client(ca) as client, pytest.raises(httpx.RemoteProtocolError):
        client.get(url)  # never a complete message: the chunked body has no last chunk
    assert host.settle(url)
    (fetch,) = host.fetches(url)
    assert fetch.capped and 1_000_000 <= fetch.bytes_sent < 1_000_000 + 2 * 65536


def test_a_gzip_bomb_is_sent_compressed(host: MetadataHost, ca: TestCA) -> None:
    url = host.new_client_url()
    hosting = Hosting.gzipped(DOC, inflates_to=20_000_000)
    host.serve(url, hosting)
    with _client(ca) as client, client.stream("GET", url) as answer:
        raw = b"".join(answer.iter_raw())
    assert answer.headers["content-encoding"] == "gzip" and raw == hosting.body
    inflater = zlib.decompressobj(31)
    assert inflater.decompress(raw, 64).startswith(b'{"client_id"')
    assert host.settle(url) and host.fetches(url)[0].bytes_sent == len(raw)


def test_a_slow_first_byte_and_a_silent_server(host: MetadataHost, ca: TestCA) -> None:
    slow, silent = host.new_client_url(), host.new_client_url()
    host.serve(slow, Hosting.slow(DOC, first_byte_s=0.5))
    host.serve(silent, Hosting.silent(cap_s=1))
    with _client(ca) as client:
        began = time.monotonic()
        assert client.get(slow).json() == DOC
        assert time.monotonic() - began >= 0.5
        with pytest.raises(httpx.RemoteProtocolError):
            client.get(silent)
    assert host.settle(silent)
    (fetch,) = host.fetches(silent)
    assert fetch.capped and fetch.bytes_sent == 0 and fetch.answered is None


def test_a_dripping_answer_arrives_a_byte_at_a_time(host: MetadataHost, ca: TestCA) -> None:
    url = host.new_client_url()
    host.serve(url, Hosting.dripping(DOC, every_ms=2))
    with (
        socket.create_connection((host.address, host.port), timeout=TIMEOUT_S) as raw,
        _trusting(ca).wrap_socket(raw, server_hostname=host.address) as tls,
    ):
        tls.sendall(_get(url))
        first = tls.recv(1 << 16)
        rest = b""
        while data := tls.recv(1 << 16):
            rest += data
    assert first == b"H"  # the status line drips too
    head, body = _head_and_body(first + rest)
    assert json.loads(body) == DOC and head["content-length"] == str(len(body))
    assert host.settle(url) and host.fetches(url)[0].bytes_sent == len(body)


def test_a_client_leaving_during_a_drip_is_recorded(host: MetadataHost, ca: TestCA) -> None:
    url = host.new_client_url()
    host.serve(url, Hosting.dripping(DOC, every_ms=20))
    with (
        socket.create_connection((host.address, host.port), timeout=TIMEOUT_S) as raw,
        _trusting(ca).wrap_socket(raw, server_hostname=host.address) as tls,
    ):
        tls.sendall(_get(url))
        assert tls.recv(1) == b"H"
    assert host.settle(url, timeout_s=TIMEOUT_S)
    (fetch,) = host.fetches(url)
    assert fetch.disconnected and fetch.bytes_sent == 0


def test_http_1_0_and_an_absolute_form_target_are_logged_as_sent(
    host: MetadataHost, ca: TestCA
) -> None:
    url = host.new_client_url() + "?x=1"
    host.serve_document(url, DOC)
    head, body = _head_and_body(_exchange(host, ca, _get(url, version="1.0", target=url)))
    assert head["status-line"].startswith("HTTP/1.") and json.loads(body) == DOC
    (fetch,) = host.fetches(url)
    assert (fetch.http_version, fetch.target, fetch.query) == ("1.0", url, "x=1")
    assert fetch.path == url.removeprefix(host.base_url).split("?")[0]


def test_http2_host_and_sni_are_logged(host: MetadataHost, ca: TestCA) -> None:
    url = host.new_client_url(base=host.alias_base_url)
    host.serve_document(url, DOC)
    with _client(ca, http2=True) as client:
        answer = client.get(url)
    assert answer.http_version == "HTTP/2" and answer.json() == DOC
    (fetch,) = host.fetches(url)
    assert (fetch.http_version, fetch.sni) == ("2", "localhost")
    assert fetch.host == f"localhost:{host.port}"


def test_the_request_target_is_logged_byte_for_byte(host: MetadataHost, ca: TestCA) -> None:
    """Dot segments, percent-encodings and parameter order stay as sent (CIMD-FETCH-02)."""
    exact = host.new_client_url("x/./a%2Fb/../client.json") + "?b=2&a=%41"
    host.serve_document(exact, DOC)
    target = exact.removeprefix(host.base_url)
    head, body = _head_and_body(_exchange(host, ca, _get(exact, target=target)))
    assert head["status-line"].startswith("HTTP/1.1 200") and json.loads(body) == DOC
    (fetch,) = host.fetches(exact)
    assert (fetch.target, fetch.query, fetch.method) == (target, "b=2&a=%41", "GET")
    assert fetch.host == host.base_url.removeprefix("https://") and fetch.sni is None
