"""The run's options, declared once, and the one function that turns them into a RunConfig.

The pytest plugin adds one ``--cimd-<name>`` option per :data:`OPTIONS` entry; the command
line hands its own values under the same names (``--user``, ``--param``, the target file's
tables ...). Both call :func:`run_config`, so ``pytest --cimd-issuer URL`` and
``cimd-conformance run --issuer URL`` configure the same run.

A new option is a :class:`RunConfig` field and one :data:`OPTIONS` line (plus, when the
command line offers it, its ``add_argument`` under the same name).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from conformance.catalog import requirements
from conformance.run.state import RunConfig
from conformance.target import deadline
from conformance.target.pacing import Pacing
from mock_servers.listeners import BAD_TLS_FIELDS, PublicUrls

Kind = Literal["text", "line", "flag", "list", "pairs", "int", "seconds", "path", "json", "pacing"]


class RunOptionError(ValueError):
    """A run option's value cannot be used; :attr:`option` names it."""

    def __init__(self, option: RunOption, message: str) -> None:
        super().__init__(message)
        self.option = option


@dataclass(frozen=True)
class RunOption:
    """One run option.

    Attributes:
        name: its key in :func:`run_config`'s values; the pytest option is ``--cimd-<name>``.
        help: one line for ``--help``.
        kind: how a given value becomes the config's (``pairs`` take ``key=value`` strings
            or a mapping; ``json`` takes JSON text or an object; ``line`` is text on one line).
        field: the :class:`RunConfig` field it sets; ``None`` when :func:`run_config`
            combines it with others (the public URLs, the timeouts).
        choices: the values it accepts, if limited.
    """

    name: str
    help: str
    kind: Kind = "text"
    field: str | None = None
    choices: tuple[str, ...] = ()

    @property
    def flag(self) -> str:
        """The pytest option, e.g. ``--cimd-report-dir``."""
        return "--cimd-" + self.name.replace("_", "-")

    @property
    def dest(self) -> str:
        """The pytest option's attribute, e.g. ``cimd_report_dir``."""
        return "cimd_" + self.name

    def convert(self, value: Any) -> Any:
        """The config's value for ``value`` as given.

        Raises:
            RunOptionError: the value cannot be used (a pair without ``=``, bad pacing).
        """
        match self.kind:
            case "flag":
                return bool(value)
            case "list":
                return tuple(str(v) for v in value)
            case "pairs":
                return self._pairs(value)
            case "int":
                return int(value)
            case "seconds":
                return float(value)
            case "path":
                return Path(value)
            case "json":
                loaded = json.loads(value) if isinstance(value, str) else value
                return dict(loaded) if loaded is not None else None
            case "line":
                text = str(value).strip()
                if any(ord(c) < 32 or ord(c) == 127 for c in text):
                    raise RunOptionError(self, "must be text on one line")
                return text
            case "pacing":
                try:
                    return Pacing.parse(self._pairs(value))
                except ValueError as exc:
                    raise RunOptionError(self, str(exc)) from None
        return str(value)

    def _pairs(self, value: Mapping[str, Any] | Iterable[str]) -> tuple[tuple[str, str], ...]:
        if isinstance(value, Mapping):
            return tuple((str(k), str(v)) for k, v in value.items())
        pairs = []
        for item in value:
            key, sep, text = item.partition("=")
            if not sep:
                raise RunOptionError(self, f"takes key=value, got {item!r}")
            pairs.append((key, text))
        return tuple(pairs)


_TIMEOUT_WHAT = {
    "exchange": "one request and its whole answer",
    "check": "one check",
    "run": "the whole run",
}

OPTIONS: tuple[RunOption, ...] = (
    RunOption("issuer", "issuer URL of a target (repeatable)", "list", "issuers"),
    RunOption(
        "report_dir", "where reports are written (default reports/latest)", "path", "report_dir"
    ),
    RunOption(
        "profile", "the catalog profile (default latest)", "text", "profile", requirements.PROFILES
    ),
    RunOption("strict", "Recommended rows fail the run", "flag", "strict"),
    RunOption("user", "the test user's login name (default alice)", "text", "username"),
    RunOption("password", "the test user's password", "text", "password"),
    RunOption("browser", "path of the Chromium to drive", "text", "browser"),
    RunOption("state_dir", "where the test CA is kept", "path", "state_dir"),
    RunOption("param", "extra authorization parameter key=value", "pairs", "extra_params"),
    RunOption("login", "login recipe selector key=value", "pairs", "login"),
    RunOption("pacing", "pacing key=value (target file keys)", "pacing", "pacing"),
    RunOption("metadata_bind", "address the metadata host binds", "text", "metadata_bind"),
    RunOption("metadata_port", "its TLS listener's port", "int", "metadata_port"),
    RunOption(
        "metadata_plain_port", "the plain-HTTP listener's port", "int", "metadata_plain_port"
    ),
    RunOption(
        "metadata_untrusted_port",
        "the untrusted-CA listener's port",
        "int",
        "metadata_untrusted_port",
    ),
    RunOption("metadata_public_url", "base URL the target reaches the metadata host at (a tunnel)"),
    RunOption("metadata_plain_public_url", "the plain-HTTP listener's public base URL"),
    RunOption("metadata_untrusted_public_url", "the untrusted-CA listener's public base URL"),
    *(
        option
        for kind in BAD_TLS_FIELDS
        for option in (
            RunOption(
                f"metadata_{kind}_port", f"the {kind.replace('_', '-')} listener's port", "int"
            ),
            RunOption(
                f"metadata_{kind}_public_url",
                f"the {kind.replace('_', '-')} listener's public base URL",
            ),
        )
    ),
    RunOption(
        "mcp_proxy",
        "the target is an MCP proxy acting as an AS (judges CIMD-UI-07)",
        "flag",
        "mcp_proxy",
    ),
    RunOption(
        "serial",
        "run every check in its turn, one at a time (else plain-HTTP checks run ahead in a "
        "worker thread while the browser's run)",
        "flag",
        "serial",
    ),
    RunOption(
        "judge_only",
        "JSON {issuer: [requirement IDs]}: judge those issuers on those rows only",
        "json",
        "judge_only",
    ),
    RunOption(
        "only",
        "run only the checks of this requirement ID or ID prefix, e.g. CIMD-DOC (repeatable; "
        "the run is partial)",
        "list",
        "only",
    ),
    RunOption("mcp_discovery", "JSON: how the issuer was found from an MCP server", "json", "mcp"),
    RunOption(
        "mcp_journey",
        "the MCP server URL the mock MCP client journeys to (through a tool call)",
        "text",
        "mcp_journey",
    ),
    RunOption("mcp_mock", "that MCP server is the suite's mock MCP server", "flag", "mcp_mock"),
    *(
        RunOption(
            f"{name}_timeout",
            f"seconds {what} may take in all (default {getattr(deadline.Limits(), name + '_s'):g})",
            "seconds",
        )
        for name, what in _TIMEOUT_WHAT.items()
    ),
    RunOption("target_ca", "CA certificate(s) of the target's own TLS (PEM)", "path", "target_ca"),
    RunOption(
        "target_version", "the target's version, recorded in the report", "line", "target_version"
    ),
)

_BY_NAME = {option.name: option for option in OPTIONS}


def option(name: str) -> RunOption:
    """The option called ``name``."""
    return _BY_NAME[name]


def run_config(values: Mapping[str, Any]) -> RunConfig:
    """The run's configuration from option values as given, keyed by :attr:`RunOption.name`.

    A missing, ``None`` or empty value keeps the :class:`RunConfig` default.

    Raises:
        RunOptionError: a value cannot be used; the error names the option.
        KeyError: ``values`` names no option of that name (a caller's typo).
    """
    unknown = set(values) - _BY_NAME.keys()
    if unknown:
        raise KeyError(f"no run option {sorted(unknown)}")
    given = {name: value for name, value in values.items() if not _unset(value)}
    chosen: dict[str, Any] = {}
    for name, value in given.items():
        field = _BY_NAME[name].field
        if field is not None:
            chosen[field] = _BY_NAME[name].convert(value)
    if "metadata_public_url" in given:
        chosen["public"] = PublicUrls(
            str(given["metadata_public_url"]),
            given.get("metadata_plain_public_url"),
            given.get("metadata_untrusted_public_url"),
            **{k: given.get(f"metadata_{k}_public_url") for k in BAD_TLS_FIELDS},
        )
    chosen["metadata_bad_tls_ports"] = tuple(
        (f"{k}_port", int(given[f"metadata_{k}_port"]))
        for k in BAD_TLS_FIELDS
        if f"metadata_{k}_port" in given
    )
    defaults = deadline.Limits()
    chosen["limits"] = deadline.Limits(
        *(
            float(given.get(f"{name}_timeout", getattr(defaults, f"{name}_s")))
            for name in _TIMEOUT_WHAT
        )
    )
    return RunConfig(**chosen)


def _unset(value: object) -> bool:
    return value is None or (isinstance(value, str | tuple | list | dict) and not value)
