"""The pytest plugin (``pytest11`` entry point ``cimd``): options, fixtures, the result collector.

- :mod:`~conformance.plugin.options`: the ``--cimd-*`` options; with ``--cimd-issuer`` they
  make the run's :class:`CimdRun` at configure time.
- :mod:`~conformance.plugin.run`: :class:`CimdRun`, one run as a plugin object (config,
  baseline, collector); ``cimd-conformance run`` passes one to ``pytest.main``.
- :mod:`~conformance.plugin.collector`: each check's verdict, and the reports at the end.
- :mod:`~conformance.plugin.fixtures`: the pieces (CA, network, metadata host, callback,
  Chromium, reference AS), each usable alone and overridable.
- :mod:`~conformance.plugin.checks`: the run composed from them, and the target's fixtures.
- :mod:`~conformance.plugin.selection`: ``--only``, ``-k`` and ``judge_only``: which checks
  run, and the ``selection`` record of a partial run's reports.
- :mod:`~conformance.plugin.progress`: the command line's progress display;
  :mod:`~conformance.plugin.listing`: ``--list``.

In a pytest run without ``--cimd-issuer`` (and without a run object) the plugin is inert: it
adds its options, its marker and its fixtures, and nothing else.
"""

from __future__ import annotations

from conformance.plugin.fixtures import ReferenceOptions
from conformance.plugin.options import options_config
from conformance.plugin.run import RUN_KEY, CimdRun

__all__ = ["RUN_KEY", "CimdRun", "ReferenceOptions", "options_config"]

pytest_plugins = (
    "conformance.plugin.options",
    "conformance.plugin.fixtures",
    "conformance.plugin.checks",
)
