"""``--list``: the checks a run would judge, collected by pytest and never run.

The same selection as a run (``--only``, ``-k``) applies; no target is named or contacted,
no server starts and no report is written.
"""

from __future__ import annotations

import contextlib
import io
import sys
from collections.abc import Sequence
from typing import TextIO

import pytest

from conformance.plugin.run import CimdRun
from conformance.plugin.selection import listing
from conformance.redaction import redact_text
from conformance.run.state import RunConfig


def list_checks(config: RunConfig, pytest_argv: Sequence[str], out: TextIO | None = None) -> int:
    """Print the checks ``config`` selects; 0, or 2 when the selection keeps none.

    Args:
        config: the run's configuration (its ``only`` and ``profile``; targets are ignored).
        pytest_argv: the run's pytest command line (scenarios, ini, ``-k``).
        out: where the table goes (standard output by default).
    """
    out = sys.stdout if out is None else out
    run = CimdRun(RunConfig(only=config.only, profile=config.profile, report_dir=config.report_dir))
    said = io.StringIO()
    # pytest's own list of node IDs is not the table; its usage error is said below
    with contextlib.redirect_stdout(said), contextlib.redirect_stderr(said):
        status = pytest.main([*pytest_argv, "--collect-only"], plugins=[run])
    if run.selection.error:
        print(f"cimd-conformance: {redact_text(run.selection.error)}", file=sys.stderr)
        return 2
    if status != pytest.ExitCode.OK:
        sys.stderr.write(redact_text(said.getvalue()[-3000:]))
        print(
            f"cimd-conformance: listing the checks failed (pytest status {status})", file=sys.stderr
        )
        return 2
    out.write(listing(run.selection.kept, config.profile) + "\n")
    return 0
