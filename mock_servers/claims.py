"""Which check a fetch belongs to, when checks run at the same time on one metadata host.

A check that runs beside others (in a worker thread) makes its URLs inside a
:class:`Claim`: every URL it asks the host for (``new_client_url``, ``new_path``) and every
URL it serves is the claim's, and so is every fetch of them, including fetches of other URLs
in a directory the claim was given (``/c/<run>-<n>/...``: a target that rewrites the path
it was given still fetches there). The fetch log stays one log; each check's evidence is the
part of it its claim owns, and a check that runs alone gets the part no claim owns.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from mock_servers.fetch_log import hosting_key

# the directory of a URL the host made (new_client_url, new_path): /c/<run>-<n>/ or /p/...
_MADE = re.compile(r"/[cp]/[0-9a-f]+-\d+/")


class Claim:
    """The URLs of one check running beside others."""

    def __init__(self, name: str) -> None:
        self.name = name


class Claims:
    """Every claim made on one host, and the claim of the thread making URLs now."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._current = threading.local()
        self._keys: dict[str, Claim] = {}
        self._dirs: dict[str, Claim] = {}

    @contextmanager
    def claiming(self, name: str) -> Iterator[Claim]:
        """URLs made and served by this thread meanwhile are a new claim's (``name``)."""
        claim = Claim(name)
        self._current.claim = claim
        try:
            yield claim
        finally:
            self._current.claim = None

    def add(self, url: str) -> None:
        """``url`` is the current thread's claim's, if it has one."""
        claim: Claim | None = getattr(self._current, "claim", None)
        if claim is None:
            return
        key = hosting_key(url)
        made = _MADE.match(key)
        with self._lock:
            self._keys[key] = claim
            if made is not None:
                self._dirs[made.group(0)] = claim

    def owner(self, target: str) -> Claim | None:
        """The claim a request for ``target`` (path and query) belongs to, if any."""
        key = hosting_key(target)
        made = _MADE.match(key)
        with self._lock:
            claim = self._keys.get(key)
            if claim is None and made is not None:
                claim = self._dirs.get(made.group(0))
        return claim
