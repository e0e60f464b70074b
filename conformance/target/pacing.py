"""Pacing and transient answers: a rate limit is never a verdict.

Real servers rate-limit CIMD fetches (a per-client minimum interval, a per-origin budget) and
answer HTTP 429 or 503, or redirect with ``error=temporarily_unavailable``. None of these says
anything about the request: the suite waits (``Retry-After`` first, else exponential backoff,
within a bound) and asks again; when the target still says "later", the check is a harness
error naming the rate limit and the fix, never a refusal and never a pass.
"""

from __future__ import annotations

import math
import threading
import time
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

import httpx

from conformance.catalog.verdicts import HarnessError

TRANSIENT_STATUSES = frozenset({429, 503})
TRANSIENT_ERRORS = frozenset({"temporarily_unavailable"})
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})

T = TypeVar("T")

PACING_NUMBERS: dict[str, tuple[type[int] | type[float], float]] = {
    "min_interval_s": (float, 0.0),
    "retries": (int, 0),
    "max_wait_s": (float, 0.0),
    "backoff_s": (float, 0.0),
}
"""The numeric pacing keys: their type and least value."""


@dataclass(frozen=True)
class Pacing:
    """How gently the suite asks a target.

    Attributes:
        min_interval_s: the least time between two authorization requests.
        retries: how many times a transient answer is retried before giving up.
        max_wait_s: the longest single wait (a larger ``Retry-After`` is capped, and said).
        backoff_s: the first wait without ``Retry-After``; it doubles with each retry.
        cache_control: the ``Cache-Control`` the metadata host sends with client documents
            (empty: none), so a server with a fetch budget may cache instead of refetching.
    """

    min_interval_s: float = 0.0
    retries: int = 4
    max_wait_s: float = 10.0
    backoff_s: float = 0.5
    cache_control: str = ""

    @classmethod
    def parse(cls, options: Iterable[tuple[str, str]]) -> Pacing:
        """Pacing from ``key=value`` options (the target file's ``[pacing]`` keys).

        Raises:
            ValueError: an unknown key or a value out of range, named in one line.
        """
        values: dict[str, Any] = {}
        for key, text in options:
            if key == "cache_control":
                if any(ord(c) < 32 or ord(c) == 127 for c in text):
                    raise ValueError("pacing: cache_control must be a header value on one line")
                values[key] = text.strip()
                continue
            if key not in PACING_NUMBERS:
                known = ", ".join([*PACING_NUMBERS, "cache_control"])
                raise ValueError(f"pacing: unknown key {key!r} (known: {known})")
            kind, least = PACING_NUMBERS[key]
            try:
                value = kind(text)
            except ValueError:
                value = None
            if value is None or not least <= value < math.inf:
                raise ValueError(f"pacing: {key} must be a number >= {least:g}, got {text!r}")
            values[key] = value
        return cls(**values)

    def describe(self) -> dict[str, Any]:
        """The pacing in force, for the report."""
        return {
            "min_interval_s": self.min_interval_s,
            "retries": self.retries,
            "max_wait_s": self.max_wait_s,
            "backoff_s": self.backoff_s,
            "cache_control": self.cache_control or None,
        }


class Transient(HarnessError):
    """The target said "not now": the answer is about its load, not the request.

    Unretried, it is a harness error like any other; :meth:`Pacer.call` retries it.

    Args:
        what: what the target answered, for messages.
        retry_after: seconds the target asked the suite to wait, if it said.
    """

    def __init__(self, what: str, retry_after: float | None = None) -> None:
        super().__init__(what)
        self.what = what
        self.retry_after = retry_after


def retry_after_s(value: str | None) -> float | None:
    """``Retry-After`` as seconds: delta-seconds or an HTTP date (RFC 9110 §10.2.3)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


@dataclass
class Pacer:
    """Keeps the pacing for one target and retries transient answers.

    ``waits`` records every wait, for the report.
    """

    pacing: Pacing = field(default_factory=Pacing)
    waits: list[str] = field(default_factory=list)
    _last: float = 0.0
    sleep: Callable[[float], None] = time.sleep
    _spacing: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def space(self) -> None:
        """Wait until ``min_interval_s`` has passed since the previous request.

        Requests from checks running at the same time take their turns.
        """
        with self._spacing:
            gap = self.pacing.min_interval_s - (time.monotonic() - self._last)
            if gap > 0:
                self.sleep(gap)
            self._last = time.monotonic()

    def call(self, what: str, send: Callable[[], T]) -> T:
        """Run ``send`` (which raises :class:`Transient`), waiting and retrying as paced.

        Raises:
            HarnessError: the target still answered "not now" after every retry.
        """
        wait = self.pacing.backoff_s
        seen: list[str] = []
        longest_asked = 0.0
        for attempt in range(self.pacing.retries + 1):
            self.space()
            try:
                return send()
            except Transient as exc:
                seen.append(exc.what)
                longest_asked = max(longest_asked, exc.retry_after or 0.0)
                if attempt == self.pacing.retries:
                    break
                delay = exc.retry_after if exc.retry_after is not None else wait
                # the note is for a Retry-After over the cap; a long backoff is capped quietly
                capped = exc.retry_after is not None and delay > self.pacing.max_wait_s
                delay = min(delay, self.pacing.max_wait_s)
                note = f" (it asked for {exc.retry_after:g} s: max_wait_s)" if capped else ""
                self.waits.append(f"{what}: {exc.what}; waited {delay:.1f} s{note}")
                self.sleep(delay)
                wait *= 2
        asked = (
            f"; it asked to wait {longest_asked:g} s, more than max_wait_s"
            if longest_asked > self.pacing.max_wait_s
            else ""
        )
        raise HarnessError(
            f"the target kept answering {seen[-1]} to {what} ({len(seen)} tries, with waits"
            f"{asked}): it is rate limiting the suite, which is not a verdict on the request. "
            "Fix: lift the limit for the test, or pace the suite ([pacing] in the target file, "
            "or --pacing KEY=VALUE: min_interval_s, retries, max_wait_s; cache_control for "
            "document fetches)"
        )


_SENDING_SECURE_COOKIES: weakref.WeakSet[httpx.Client] = weakref.WeakSet()


def send_secure_cookies_to_loopback(client: httpx.Client) -> None:
    """Make ``client`` send ``Secure`` cookies to loopback over plain http, as browsers do.

    Browsers treat ``http://127.0.0.1`` and ``http://localhost`` as secure contexts, so a
    target on a loopback http issuer may keep its session in a ``Secure`` or ``__Host-``
    cookie. The standard library's cookie jar never sends those over http, and every request
    would look logged out. Once per client: sessions sharing a client share the hook.
    """
    if client in _SENDING_SECURE_COOKIES:
        return
    _SENDING_SECURE_COOKIES.add(client)

    def add(request: httpx.Request) -> None:
        if request.url.scheme != "http" or request.url.host not in LOOPBACK_HOSTS:
            return
        header = request.headers.get("cookie", "")
        present = {part.split("=", 1)[0].strip() for part in header.split(";") if part.strip()}
        extra = [
            f"{cookie.name}={cookie.value}"
            for cookie in client.cookies.jar
            if cookie.secure
            and cookie.name not in present
            and jar_host(cookie.domain) == request.url.host
            and request.url.path.startswith(cookie.path or "/")
        ]
        if extra:
            request.headers["cookie"] = "; ".join(filter(None, [header, *extra]))

    client.event_hooks["request"] = [*client.event_hooks["request"], add]


def jar_host(domain: str) -> str:
    """The host a cookie jar's domain stands for.

    The standard library's jar files a cookie from a host without a dot (``localhost``,
    ``[::1]``) under ``<host>.local``, and an IPv6 host in its brackets.
    """
    host = domain.lstrip(".").removesuffix(".local")
    return host[1:-1] if host.startswith("[") and host.endswith("]") else host
