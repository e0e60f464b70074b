"""Target files: how to reach and drive one target, as strictly validated TOML.

Example::

    issuer = "https://as.example.test"
    profile = "latest"                 # or "mcp-2025-11-25"

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
    hook = "login_hook.py:log_in"      # a Python function for unusual login pages

A key the suite does not know is an error that names it, so a typo never silently changes
how a target is driven.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conformance import login_hook, requirements, toml_file

_SCHEMA: dict[str, Any] = {
    "issuer": str,
    "profile": str,
    "user": {"name": str, "password": str},
    "authorization": dict,
    "login": {
        "username_selector": str,
        "password_selector": str,
        "submit_selector": str,
        "approve_selector": str,
        "hook": str,
    },
}


class TargetFileError(ValueError):
    """The target file cannot be used; the message names the file and the key."""


@dataclass(frozen=True)
class TargetFile:
    """A parsed target file."""

    issuer: str
    profile: str | None = None
    user: str | None = None
    password: str | None = None
    params: dict[str, str] = field(default_factory=dict)
    login: dict[str, str] = field(default_factory=dict)


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
        elif not isinstance(value, expected):
            raise TargetFileError(f"{where}: {key!r} must be a {expected.__name__}")


def load(path: Path) -> TargetFile:
    """Read and validate a target file.

    Raises:
        TargetFileError: unreadable, not TOML, an unknown key, a wrong type, or no issuer.
    """
    data = toml_file.read(path, "target file", TargetFileError)
    _check(data, _SCHEMA, str(path))
    if "issuer" not in data:
        raise TargetFileError(f"{path}: the issuer key is missing")
    profile = data.get("profile")
    if profile is not None and profile not in requirements.PROFILES:
        raise TargetFileError(f"{path}: profile {profile!r} is not one of {requirements.PROFILES}")
    user = data.get("user", {})
    login = dict(data.get("login", {}))
    if "hook" in login:
        login["hook"] = _hook(path, login["hook"])
    return TargetFile(
        issuer=data["issuer"],
        profile=profile,
        user=user.get("name"),
        password=user.get("password"),
        params=dict(data.get("authorization", {})),
        login=login,
    )


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
