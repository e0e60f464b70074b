"""The ``--cimd-*`` pytest options, for running the checks with pytest itself.

``pytest --pyargs conformance.scenarios --cimd-issuer URL`` builds its :class:`CimdRun` from
these options at configure time; ``cimd-conformance run`` hands pytest a ready
:class:`CimdRun` and passes none of them. Without ``--cimd-issuer`` and without a run object
the plugin stays inert: its fixtures can still be used one by one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from conformance.plugin.ahead import SERIAL_MARKER
from conformance.plugin.run import RUN_KEY, CimdRun
from conformance.report import baseline
from conformance.run.options import OPTIONS, RunOptionError, run_config
from conformance.run.state import RunConfig

_ARGPARSE: dict[str, dict[str, Any]] = {
    "flag": {"action": "store_true"},
    "list": {"action": "append", "default": []},
    "pairs": {"action": "append", "default": [], "metavar": "KEY=VALUE"},
    "pacing": {"action": "append", "default": [], "metavar": "KEY=VALUE"},
    "int": {"type": int},
    "seconds": {"type": float, "metavar": "SECONDS"},
}


def pytest_addoption(parser: pytest.Parser) -> None:
    """Add one ``--cimd-*`` option per run option, and ``--cimd-baseline``."""
    group = parser.getgroup("cimd", "CIMD conformance (cimd-conformance)")
    for option in OPTIONS:
        kwargs: dict[str, Any] = dict(_ARGPARSE.get(option.kind, {"default": None}))
        if option.choices:
            kwargs["choices"] = option.choices
        group.addoption(option.flag, dest=option.dest, help=option.help, **kwargs)
    group.addoption("--cimd-baseline", default=None, help="TOML file of known failures")


def options_config(config: pytest.Config) -> RunConfig:
    """The run's configuration from the ``--cimd-*`` options.

    Raises:
        pytest.UsageError: an option's value cannot be used (the message names it).
    """
    values = {option.name: config.getoption(option.dest) for option in OPTIONS}
    try:
        return run_config(values)
    except RunOptionError as exc:
        raise pytest.UsageError(f"{exc.option.flag}: {exc}") from None


def options_baseline(config: pytest.Config) -> baseline.Baseline | None:
    """The baseline named by ``--cimd-baseline``, loaded.

    Raises:
        pytest.UsageError: the file cannot be used (the message names the key).
    """
    path = config.getoption("cimd_baseline")
    if not path:
        return None
    try:
        return baseline.load(Path(path))
    except baseline.BaselineError as exc:
        raise pytest.UsageError(f"--cimd-baseline: {exc}") from None


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    """Register the marker; with ``--cimd-issuer`` and no run object given, make the run."""
    config.addinivalue_line("markers", "requirement(id): the catalog requirement a check verifies")
    config.addinivalue_line("markers", SERIAL_MARKER)
    if RUN_KEY not in config.stash and config.getoption("cimd_issuer"):
        run = CimdRun(options_config(config), options_baseline(config))
        config.pluginmanager.register(run, "cimd-run")
