"""The report templates' one Jinja environment, its templates compiled once and kept.

Compiling the HTML report's template took 0.05 to 0.06 s (idle machine) at the end of every
run. Jinja checks each kept entry against the template's source and its own and Python's
versions, and compiles again when one differs; an entry that cannot be read, or a cache
directory that cannot be written, is passed over the same way.
"""

from __future__ import annotations

import contextlib
import pickle
from pathlib import Path

from jinja2 import Environment, PackageLoader, select_autoescape
from jinja2.bccache import Bucket, BytecodeCache

from conformance.user_cache import keep, user_cache

CACHE = "templates"


class TemplateCache(BytecodeCache):
    """Jinja's compiled templates in :func:`~conformance.user_cache.user_cache` ``("templates")``.

    The directory is looked up at each use, so the cache follows ``$XDG_CACHE_HOME``.
    """

    def load_bytecode(self, bucket: Bucket) -> None:
        """Fill ``bucket`` with its kept code, if there is any to read."""
        try:
            with self._path(bucket).open("rb") as kept:
                bucket.load_bytecode(kept)
        except (OSError, EOFError, ValueError, TypeError, pickle.UnpicklingError):
            bucket.reset()  # missing or unreadable: compiled as without a cache

    def dump_bytecode(self, bucket: Bucket) -> None:
        """Keep ``bucket``'s code, unless the cache cannot be written."""
        keep(self._path(bucket), bucket.write_bytecode)

    def clear(self) -> None:
        """Remove every kept template."""
        for kept in user_cache(CACHE).glob("*.cache"):
            with contextlib.suppress(OSError):
                kept.unlink()

    @staticmethod
    def _path(bucket: Bucket) -> Path:
        return user_cache(CACHE) / f"{bucket.key}.cache"


TEMPLATES = Environment(
    loader=PackageLoader("conformance.report", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    bytecode_cache=TemplateCache(),
)
"""The environment the HTML report and the scoreboard render their templates in."""
