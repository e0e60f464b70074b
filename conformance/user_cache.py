"""Where the suite keeps what it may reuse from run to run: compiled code, nothing judged.

``$XDG_CACHE_HOME/cimd-conformance/<name>`` (``~/.cache`` when the variable is unset). What
is kept there only makes a run start or end sooner; a cache that cannot be read or written
is skipped, never an error.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


def user_cache(name: str) -> Path:
    """The directory of the cache ``name`` (not made here)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "cimd-conformance" / name


def keep(path: Path, write: Callable[[BinaryIO], object]) -> None:
    """Keep an entry at ``path``, written by ``write``; passed over if it cannot be written.

    The entry is written beside ``path`` and then moved there, so a reader (another run at
    the same time) sees the old entry or the whole new one.
    """
    partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with partial.open("wb") as out:
            write(out)
        os.replace(partial, path)
    except OSError:
        with contextlib.suppress(OSError):
            partial.unlink()
