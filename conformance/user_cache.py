"""Where the suite keeps what it may reuse from run to run: compiled code, nothing judged.

``$XDG_CACHE_HOME/cimd-conformance/<name>`` (``~/.cache`` when the variable is unset). What
is kept there only makes a run start or end sooner; a cache that cannot be read or written
is skipped, never an error.
"""

from __future__ import annotations

import os
from pathlib import Path


def user_cache(name: str) -> Path:
    """The directory of the cache ``name`` (not made here)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "cimd-conformance" / name
