"""Reading the suite's TOML input files with one kind of error message."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any


def read(path: Path, what: str, error: type[ValueError]) -> dict[str, Any]:
    """Parse ``path``; an unreadable or malformed file raises ``error`` naming ``what``."""
    try:
        return tomllib.loads(path.read_text("utf-8"))
    except OSError as exc:
        raise error(f"cannot read the {what} {path}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise error(
            f"the {what} {path} is not UTF-8 text (byte {exc.object[exc.start]:#04x} at "
            f"offset {exc.start}): save it as UTF-8"
        ) from exc
    except tomllib.TOMLDecodeError as exc:
        raise error(f"the {what} {path} is not valid TOML: {exc}") from exc
