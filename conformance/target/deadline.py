"""Deadlines: a total time limit per network exchange, per check and per run.

httpx's read timeout restarts with every byte, so a target that drips one byte every few
seconds would hold a request open forever. Every request the suite sends to the target goes
through :func:`send` on a client from :func:`client`: its network streams cap each connect,
TLS handshake, read and write at the time left before the earliest deadline, so the whole
exchange (request and response body) ends when a deadline passes, whatever the target sends.
A fired deadline is an :class:`Unanswered` harness error that names it and the option that
raises it.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable, Iterable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import httpcore
import httpx

from conformance.catalog.verdicts import HarnessError
from conformance.redaction import redact_url

CONNECT_S = 5.0
"""The most a TCP connect may take, within the exchange deadline."""

MAX_BODY_BYTES = 16 * 1024 * 1024
"""The largest answer body read from the target; a larger (or endless) one is given up on."""

_LATE_S = 0.01  # a socket timeout can fire a hair before the clock says the deadline passed


@dataclass(frozen=True)
class Limits:
    """The run's time limits in seconds (options ``--*-timeout``)."""

    exchange_s: float = 20.0
    check_s: float = 300.0
    run_s: float = 3600.0


@dataclass(frozen=True)
class Deadline:
    """A point in time (monotonic clock) that a piece of work must end by.

    Attributes:
        name: what it limits: ``exchange``, ``check`` or ``run``.
        seconds: the limit it was started with.
        option: the option that raises it ("" when none does).
        expires: when it fires, on :func:`time.monotonic`'s clock.
    """

    name: str
    seconds: float
    option: str
    expires: float

    @classmethod
    def start(cls, name: str, seconds: float, option: str = "") -> Deadline:
        """A deadline ``seconds`` from now."""
        return cls(name, seconds, option, time.monotonic() + seconds)

    def remaining(self) -> float:
        """Seconds left (negative once it has fired)."""
        return self.expires - time.monotonic()

    @property
    def expired(self) -> bool:
        """Whether it has fired."""
        return self.remaining() <= _LATE_S

    def message(self, where: str = "") -> str:
        """One line for reports: which deadline fired, where (``on GET ...``), how to raise it."""
        where = f" {where}" if where else ""
        fix = f"; raise it with {self.option}" if self.option else ""
        return f"the {self.name} deadline of {self.seconds:g} s fired{where}{fix}"


class Unanswered(HarnessError):
    """The target did not answer: a deadline fired or the connection failed.

    Attributes:
        deadline: the deadline that fired, or None for a failed connection.
    """

    def __init__(self, message: str, deadline: Deadline | None = None) -> None:
        super().__init__(message)
        self.deadline = deadline


class Clock:
    """The run's deadlines: the run's own, the current check's, and a new one per exchange.

    Args:
        limits: the time limits.
        run: start the run deadline now (False: no run deadline, e.g. before a run starts).
    """

    def __init__(self, limits: Limits | None = None, *, run: bool = False) -> None:
        self.limits = limits or Limits()
        self.run = Deadline.start("run", self.limits.run_s, "--run-timeout") if run else None
        self.check: Deadline | None = None

    def fork(self) -> Clock:
        """A clock with the same limits and run deadline, for a check running beside others.

        Its check deadline is its own: starting or ending it leaves this clock's alone.
        """
        forked = Clock(self.limits)
        forked.run = self.run
        return forked

    def start_check(self) -> None:
        """Start the current check's deadline."""
        self.check = Deadline.start("check", self.limits.check_s, "--check-timeout")

    def end_check(self) -> None:
        """The current check has ended: only the run deadline is left."""
        self.check = None

    def standing(self) -> list[Deadline]:
        """The check and run deadlines in force."""
        return [d for d in (self.check, self.run) if d is not None]

    def exchange(self) -> list[Deadline]:
        """The deadlines for a new exchange: a fresh exchange deadline and those in force."""
        fresh = Deadline.start("exchange", self.limits.exchange_s, "--exchange-timeout")
        return [fresh, *self.standing()]

    def fired(self) -> Deadline | None:
        """The first standing deadline that has fired, if any."""
        return first_fired(self.standing())


def first_fired(deadlines: Iterable[Deadline]) -> Deadline | None:
    """The earliest of ``deadlines`` that has fired, if any."""
    fired = [d for d in deadlines if d.expired]
    return min(fired, key=lambda d: d.expires) if fired else None


_ACTIVE: ContextVar[tuple[Deadline, ...]] = ContextVar("cimd_deadlines", default=())


def _capped(timeout: float | None, raising: type[Exception]) -> float | None:
    """``timeout`` lowered to the time left before the active deadlines."""
    active = _ACTIVE.get()
    if not active:
        return timeout
    left = min(d.remaining() for d in active)
    if left <= 0:
        raise raising("deadline")
    return left if timeout is None else min(timeout, left)


class _Stream(httpcore.NetworkStream):
    """A network stream whose every operation ends by the active deadline."""

    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, _capped(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, _capped(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        capped = _capped(timeout, httpcore.ConnectTimeout)
        return _Stream(self._stream.start_tls(ssl_context, server_hostname, capped))

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _Backend(httpcore.NetworkBackend):
    """The synchronous socket backend, with streams bounded by the active deadline."""

    def __init__(self) -> None:
        self._backend = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        capped = _capped(timeout, httpcore.ConnectTimeout)
        return _Stream(self._backend.connect_tcp(host, port, capped, local_address, socket_options))

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        capped = _capped(timeout, httpcore.ConnectTimeout)
        return _Stream(self._backend.connect_unix_socket(path, capped, socket_options))

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


# How long a client keeps an idle connection to the target: well under common servers'
# keep-alive times (Node's and hypercorn's 5 s, gunicorn's 2 s), so that none is reused just
# as the server closes it (that request would go unanswered, and its check end untested).
KEEPALIVE_S = 1.0


class _Transport(httpx.HTTPTransport):
    def __init__(self, tls: ssl.SSLContext) -> None:
        super().__init__(verify=tls)
        # the same pool httpx builds, on a backend whose streams honour the deadlines
        self._pool = httpcore.ConnectionPool(
            ssl_context=tls, max_connections=100, max_keepalive_connections=20,
            keepalive_expiry=KEEPALIVE_S, network_backend=_Backend(),
        )  # fmt: skip


def client(tls: ssl.SSLContext, **kwargs: Any) -> httpx.Client:
    """An httpx client whose requests through :func:`send` end by their deadlines.

    Its idle connections are kept for :data:`KEEPALIVE_S` seconds.
    """
    transport = _Transport(tls)
    return httpx.Client(transport=transport, follow_redirects=False, **kwargs)


def send(
    http: httpx.Client, method: str, url: str, deadlines: Sequence[Deadline], **kwargs: Any
) -> httpx.Response:
    """Send one request and read the whole response body before the earliest deadline.

    Args:
        http: a client from :func:`client` (any other client is only bounded per phase).
        method: the HTTP method.
        url: the URL (redacted in messages).
        deadlines: every deadline the exchange must end by.
        kwargs: passed to :meth:`httpx.Client.stream` (``data``, ``headers``, ``auth``, ...).

    Raises:
        Unanswered: a deadline fired (the message names it and its option), or the connection
            failed or broke off.
        HarnessError: any other HTTP failure (an undecodable body, a bad URL).
    """

    def on() -> str:  # for messages only: most exchanges need none
        return f"{method} {redact_url(url)}"

    fired = first_fired(deadlines)
    if fired is not None:
        raise Unanswered(fired.message(f"on {on()}"), fired)
    left = min(d.remaining() for d in deadlines) if deadlines else None
    timeout = httpx.Timeout(left, connect=min(CONNECT_S, left or CONNECT_S))
    token = _ACTIVE.set(tuple(deadlines))
    try:
        with http.stream(method, url, timeout=timeout, **kwargs) as response:
            _read_bounded(response, on)
    except (httpx.TransportError, httpx.InvalidURL) as exc:
        fired = first_fired(deadlines)
        if fired is not None:
            raise Unanswered(fired.message(f"on {on()}"), fired) from exc
        if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
            raise HarnessError(f"{on()} failed: {type(exc).__name__}: {exc}") from exc
        raise Unanswered(f"{on()} failed: {type(exc).__name__}: {exc}") from exc
    except httpx.HTTPError as exc:
        raise HarnessError(f"{on()} failed: {type(exc).__name__}: {exc}") from exc
    finally:
        _ACTIVE.reset(token)
    return response


def _read_bounded(response: httpx.Response, on: Callable[[], str]) -> None:
    """Read the whole body, at most :data:`MAX_BODY_BYTES` of it (an endless body ends here)."""
    chunks, size = [], 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise HarnessError(
                f"the answer to {on()} was larger than {MAX_BODY_BYTES // (1024 * 1024)} MiB; "
                "the suite does not read further. Check that the URL serves what it should"
            )
        chunks.append(chunk)
    response._content = b"".join(chunks)
