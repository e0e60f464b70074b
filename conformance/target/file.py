"""Target files: how to reach and drive one target, as strictly validated TOML.

Example::

    issuer = "https://as.example.test"     # or: mcp_server = "https://mcp.example.test/mcp"
    profile = "latest"                 # or "mcp-2025-11-25", "mcp-2026-07-28"
    version = "2.4.1"                  # the target's version, recorded in the report
    target_ca = "target-ca.pem"        # CA of the target's own certificate (relative to this file)
    mcp_proxy = true                   # the AS is an MCP proxy (MCP-SBP): judges CIMD-UI-07

    [user]
    name = "alice"
    password = "..."

    [authorization]                    # extra authorization parameters
    scope = "openid"

    [login]                            # login and consent recipe; each key optional
    username_selector = "#email"
    password_selector = "#password"
    submit_selector = "button[type=submit]"
    approve_selector = "text=Allow access"
    # or by button text: submit_text = "Sign in", approve_text = "Allow access"
    hook = "login_hook.py:log_in"      # a Python function for unusual login pages

    [metadata_host]                    # for a target elsewhere, behind a tunnel
    bind = "127.0.0.1"                 # address the metadata host binds (default loopback)
    port = 8443                        # its TLS listener's port (default: any free one)
    plain_port = 8080                  # the plain-HTTP listener's port (default: any free one)
    untrusted_port = 8444              # the untrusted-CA listener's port (default: any free one)
    public_url = "https://m.example.test"   # where the target reaches that listener
    plain_public_url = "http://m-plain.example.test"         # optional
    untrusted_public_url = "https://m-untrusted.example.test" # optional
    # likewise expired_port, wrong_name_port, self_signed_port and their *_public_url:
    # the listeners with an expired, a wrong-name and a self-signed certificate

    [pacing]                           # for a rate-limited target; each optional
    min_interval_s = 1.0               # least time between two authorization requests
    retries = 4                        # retries of a 429/503/temporarily_unavailable answer
    max_wait_s = 10                    # the longest single wait (Retry-After is capped)
    backoff_s = 0.5                    # first wait without Retry-After; doubles each retry
    cache_control = "max-age=600"      # sent with client documents, so the target may cache

    [timeouts]                         # seconds, each optional (options --*-timeout win)
    exchange = 20                      # one request and its whole answer
    check = 300                        # one check
    run = 3600                         # the whole run

A key the suite does not know is an error that names it, so a typo never silently changes
how a target is driven.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from math import inf
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from conformance.browser import login_hook
from conformance.browser.recipe import LoginRecipe
from conformance.catalog import requirements
from conformance.target import toml_file
from conformance.target.pacing import Pacing
from mock_servers.listeners import BAD_TLS_FIELDS

_SCHEMA: dict[str, Any] = {
    "issuer": str,
    "mcp_server": str,
    "profile": str,
    "version": str,
    "target_ca": str,
    "mcp_proxy": bool,
    "user": {"name": str, "password": str},
    "authorization": dict,
    "metadata_host": {
        "bind": str,
        "port": int,
        "plain_port": int,
        "untrusted_port": int,
        "public_url": str,
        "plain_public_url": str,
        "untrusted_public_url": str,
        **{f"{kind}_port": int for kind in BAD_TLS_FIELDS},
        **{f"{kind}_public_url": str for kind in BAD_TLS_FIELDS},
    },
    "login": dict.fromkeys(LoginRecipe.option_keys(), str),
    "timeouts": {"exchange": float, "check": float, "run": float},
    "pacing": {
        "min_interval_s": object,
        "retries": object,
        "max_wait_s": object,
        "backoff_s": object,
        "cache_control": str,
    },
}


METADATA_HOST_PORTS = tuple(k for k in _SCHEMA["metadata_host"] if k.endswith("port"))
"""The [metadata_host] keys that name a listener's port."""


class TargetFileError(ValueError):
    """The target file cannot be used; the message names the file and the key."""


@dataclass(frozen=True)
class TargetFile:
    """A parsed target file."""

    issuer: str | None
    profile: str | None = None
    user: str | None = None
    password: str | None = None
    params: dict[str, str] = field(default_factory=dict)
    login: dict[str, str] = field(default_factory=dict)
    metadata_host: dict[str, str | int] = field(default_factory=dict)
    mcp_server: str | None = None
    timeouts: dict[str, float] = field(default_factory=dict)
    target_ca: str | None = None
    pacing: dict[str, str] = field(default_factory=dict)
    mcp_proxy: bool = False
    version: str | None = None


def _check(table: dict[str, Any], schema: dict[str, Any], where: str) -> None:
    for key, value in table.items():
        if key not in schema:
            raise TargetFileError(
                f"{where}: unknown key {key!r} (known: {', '.join(sorted(schema))})"
            )
        expected = schema[key]
        if isinstance(expected, dict):
            if not isinstance(value, dict):
                raise TargetFileError(f"{where}: {key!r} must be a table")
            _check(value, expected, f"{where} [{key}]")
        elif expected is dict:
            if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
                raise TargetFileError(f"{where}: [{key}] must be a table of strings")
        elif expected is float:
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < inf:
                raise TargetFileError(f"{where}: {key!r} must be a number of seconds above 0")
        elif not isinstance(value, expected):
            raise TargetFileError(f"{where}: {key!r} must be a {expected.__name__}")


def load(path: Path) -> TargetFile:
    """Read and validate a target file.

    Raises:
        TargetFileError: unreadable, not TOML, an unknown key, a wrong type, or not exactly
            one of issuer and mcp_server.
    """
    data = toml_file.read(path, "target file", TargetFileError)
    _check(data, _SCHEMA, str(path))
    if ("issuer" in data) == ("mcp_server" in data):
        raise TargetFileError(f"{path}: give issuer or mcp_server (exactly one)")
    profile = data.get("profile")
    if profile is not None and profile not in requirements.PROFILES:
        raise TargetFileError(f"{path}: profile {profile!r} is not one of {requirements.PROFILES}")
    user = data.get("user", {})
    login = dict(data.get("login", {}))
    for step in ("submit", "approve"):
        if f"{step}_text" in login and f"{step}_selector" in login:
            raise TargetFileError(f"{path}: [login] give {step}_text or {step}_selector, not both")
    if "hook" in login:
        login["hook"] = _hook(path, login["hook"])
    return TargetFile(
        issuer=data.get("issuer"),
        mcp_server=data.get("mcp_server"),
        profile=profile,
        user=user.get("name"),
        password=user.get("password"),
        params=dict(data.get("authorization", {})),
        login=login,
        metadata_host=_metadata_host(path, data.get("metadata_host", {})),
        timeouts={k: float(v) for k, v in data.get("timeouts", {}).items()},
        target_ca=_relative(path, data["target_ca"]) if "target_ca" in data else None,
        pacing=_pacing(path, data.get("pacing", {})),
        mcp_proxy=bool(data.get("mcp_proxy", False)),
        version=_version(path, data.get("version")),
    )


def _version(path: Path, version: str | None) -> str | None:
    """The target's ``version``: one line of text, or ``None`` when not given."""
    if version is None:
        return None
    if not version.strip() or any(ord(c) < 32 or ord(c) == 127 for c in version):
        raise TargetFileError(f"{path}: 'version' must be text on one line")
    return version.strip()


def _pacing(path: Path, table: dict[str, Any]) -> dict[str, str]:
    """The ``[pacing]`` table as ``key=value`` strings, after checking every value."""
    pairs: dict[str, str] = {}
    for key, value in table.items():
        if key != "cache_control" and (
            isinstance(value, bool) or not isinstance(value, int | float)
        ):
            raise TargetFileError(f"{path}: [pacing] {key!r} must be a number")
        if key == "retries" and not isinstance(value, int):
            raise TargetFileError(f"{path}: [pacing] 'retries' must be a whole number")
        pairs[key] = str(value)
    try:
        Pacing.parse(pairs.items())
    except ValueError as exc:
        raise TargetFileError(f"{path}: [pacing] {str(exc).removeprefix('pacing: ')}") from exc
    return pairs


def _relative(path: Path, name: str) -> str:
    """``name`` made absolute relative to the target file's directory."""
    file = Path(name).expanduser()
    return str(file if file.is_absolute() else path.resolve().parent / file)


def _metadata_host(path: Path, table: dict[str, Any]) -> dict[str, str | int]:
    urls = [k for k in table if k.endswith("public_url")]
    for key in urls:
        if urlsplit(table[key]).scheme not in ("http", "https"):
            raise TargetFileError(f"{path}: [metadata_host] {key} must be an http(s) URL")
    if "public_url" not in table and urls:
        raise TargetFileError(f"{path}: [metadata_host] needs public_url with the other URLs")
    for key in METADATA_HOST_PORTS:
        if key in table and not 0 <= table[key] <= 65535:
            raise TargetFileError(f"{path}: [metadata_host] {key} must be 0 to 65535")
    return dict(table)


def _hook(path: Path, spec: str) -> str:
    """The hook spec with its file made absolute (relative to the target file)."""
    try:
        file, name = login_hook.split(spec)
    except ValueError as exc:
        raise TargetFileError(f"{path}: [login] hook: {exc}") from None
    file = file if file.is_absolute() else path.resolve().parent / file
    if not file.is_file():
        raise TargetFileError(f"{path}: [login] hook: no such file {file}")
    return f"{file}:{name}"
