"""Fetching as a strict AS fetches: never following redirects, a time limit on every step.

Every step has its own limit (name resolution, connecting, each read) and a whole answer has
one too (three times the step limit), so a host that answers a byte at a time cannot hold
the lint. A host that cannot be reached is :class:`Unreachable` (the lint could not run); a
certificate that does not verify is :class:`TlsRefused` (the publisher's problem: every AS
refuses it too).
"""

from __future__ import annotations

import concurrent.futures
import ipaddress
import socket
import ssl
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from conformance import __version__

USER_AGENT = f"cimd-conformance-lint/{__version__}"
MAX_BYTES = 1_000_000


class Unreachable(Exception):
    """The host could not be reached or did not answer in time; the message says which."""


class TlsRefused(Exception):
    """The host's certificate did not verify; the message says why."""


@dataclass(frozen=True)
class Answer:
    """One answer, read up to :data:`MAX_BYTES` (``truncated`` when there was more)."""

    status: int
    headers: httpx.Headers
    body: bytes
    truncated: bool


def tls_context(ca_file: Path | None) -> ssl.SSLContext:
    """The system's trust store, plus ``ca_file`` when given (e.g. a test CA)."""
    context = ssl.create_default_context()
    if ca_file is not None:
        context.load_verify_locations(cafile=str(ca_file))
    return context


def client(tls: ssl.SSLContext, timeout_s: float) -> httpx.Client:
    """An HTTP client that never follows redirects and ignores proxy settings."""
    return httpx.Client(
        verify=tls,
        follow_redirects=False,
        trust_env=False,
        timeout=httpx.Timeout(timeout_s),
        headers={"user-agent": USER_AGENT},
    )


def resolve(host: str, port: int, timeout_s: float) -> list[str]:
    """The addresses ``host`` resolves to (an IP literal is its own), within ``timeout_s``.

    Raises:
        Unreachable: the name does not resolve, or not in time.
    """
    literal = host[1:-1] if host.startswith("[") else host
    try:
        return [str(ipaddress.ip_address(literal))]
    except ValueError:
        pass
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    future = pool.submit(socket.getaddrinfo, literal, port, type=socket.SOCK_STREAM)
    pool.shutdown(wait=False)  # a resolver that hangs must not hold the lint
    try:
        infos = future.result(timeout=timeout_s)
    except concurrent.futures.TimeoutError:
        raise Unreachable(f"resolving {host} took more than {timeout_s:g} s") from None
    except OSError as exc:
        raise Unreachable(f"{host} does not resolve ({exc})") from None
    return sorted({str(info[4][0]) for info in infos})


def get(http: httpx.Client, url: str, timeout_s: float, **headers: str) -> Answer:
    """GET ``url`` once, without following a redirect, reading at most :data:`MAX_BYTES`.

    Raises:
        TlsRefused: the certificate did not verify.
        Unreachable: no connection, or no whole answer within three times ``timeout_s``.
    """
    deadline = time.monotonic() + 3 * timeout_s
    try:
        with http.stream("GET", url, headers=headers) as answer:
            body = bytearray()
            for chunk in answer.iter_bytes():
                body += chunk
                if len(body) > MAX_BYTES:
                    return Answer(answer.status_code, answer.headers, bytes(body), True)
                if time.monotonic() > deadline:
                    raise Unreachable(f"{url} did not finish its answer in {3 * timeout_s:g} s")
            return Answer(answer.status_code, answer.headers, bytes(body), False)
    except httpx.InvalidURL as exc:
        raise Unreachable(f"{url} cannot be fetched: {exc}") from None
    except httpx.TimeoutException as exc:
        raise Unreachable(f"{url} did not answer in time ({type(exc).__name__})") from None
    except httpx.HTTPError as exc:
        reason = _tls_failure(exc)
        if reason is not None:
            raise TlsRefused(reason) from None
        raise Unreachable(f"{url}: {exc or type(exc).__name__}") from None


def _tls_failure(exc: BaseException) -> str | None:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return seen.verify_message or str(seen)
        if isinstance(seen, ssl.SSLError):
            return seen.reason or str(seen)
        seen = seen.__cause__ or seen.__context__
    return None
