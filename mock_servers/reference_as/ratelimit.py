"""The ``rate-limited`` variant: a budget on document fetches, as real servers keep one.

Two limits, both checked before a fetch and both counted when one is made: a minimum interval
between two fetches for one client identifier, and a budget of fetches per origin (the
identifier's scheme, host and port) within a sliding window. Cached documents are not
fetched, so they are never limited.
"""

from __future__ import annotations

import math
import time
from collections import deque

from .identifiers import split_uri


class RateLimited(Exception):
    """A fetch is over a limit; ``retry_after`` is the whole seconds until it is not."""

    def __init__(self, retry_after: int, why: str) -> None:
        super().__init__(why)
        self.retry_after = retry_after


class FetchLimiter:
    """Counts document fetches per client and per origin.

    Args:
        interval_s: the least time between two fetches for one client identifier.
        budget: the most fetches per origin within ``window_s``.
        window_s: the sliding window of the per-origin budget.
    """

    def __init__(self, interval_s: float, budget: int, window_s: float) -> None:
        self._interval_s = interval_s
        self._budget = budget
        self._window_s = window_s
        self._last: dict[str, float] = {}
        self._recent: dict[str, deque[float]] = {}

    def admit(self, identifier: str) -> None:
        """Count a fetch of ``identifier`` now, or refuse it.

        Raises:
            RateLimited: the client fetched too recently, or its origin spent its budget.
        """
        now = time.monotonic()
        self._last = {key: at for key, at in self._last.items() if now - at < self._interval_s}
        last = self._last.get(identifier)
        if last is not None:
            wait = self._interval_s - (now - last)
            raise RateLimited(max(1, math.ceil(wait)), "this client's document was just fetched")
        origin = _origin(identifier)
        recent = self._recent.setdefault(origin, deque())
        while recent and now - recent[0] >= self._window_s:
            recent.popleft()
        if len(recent) >= self._budget:
            wait = self._window_s - (now - recent[0])
            raise RateLimited(max(1, math.ceil(wait)), "too many documents fetched from this host")
        recent.append(now)
        self._last[identifier] = now


def _origin(identifier: str) -> str:
    parts = split_uri(identifier)
    host, port = parts.host_port()
    return f"{(parts.scheme or '').lower()}://{host.lower()}:{port or ''}"
