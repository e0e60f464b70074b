"""Login hooks: a Python function that gets the browser through an unusual login page.

A target file names one as ``[login] hook = "login_hook.py:log_in"`` (the path relative to the
target file). The suite opens the authorization URL and calls the function with the Playwright
page and the test user's credentials instead of its own fill-and-submit steps, even when an
approve button already shows (some flows ask for consent before login; later flows in the
logged-in browser call it only when consent is not showing); when it returns, the suite
waits for the consent page's approve button as usual::

    def log_in(page, username, password):
        page.get_by_label("Work e-mail").fill(username)
        page.get_by_role("button", name="Next").click()
        page.get_by_label("Passphrase").fill(password)
        page.get_by_role("button", name="Sign in").click()
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path
from typing import Any

from conformance.catalog.verdicts import HarnessError

Hook = Callable[[Any, str, str], object]


def split(spec: str) -> tuple[Path, str]:
    """``"file.py:function"`` as (path, function name).

    Raises:
        ValueError: the spec has no ``:function`` part or no ``.py`` file.
    """
    path, sep, name = spec.rpartition(":")
    if not sep or not path.endswith(".py") or not name.isidentifier():
        raise ValueError(f"a login hook is written 'file.py:function', got {spec!r}")
    return Path(path), name


def load(spec: str) -> Hook:
    """Import the hook function named by ``spec``.

    Raises:
        HarnessError: the file cannot be imported or has no such function.
    """
    try:
        path, name = split(spec)
        module_spec = importlib.util.spec_from_file_location(f"cimd_login_hook_{path.stem}", path)
        if module_spec is None or module_spec.loader is None:
            raise ImportError(f"cannot import {path}")
        module = importlib.util.module_from_spec(module_spec)
        module_spec.loader.exec_module(module)
    except Exception as exc:
        raise HarnessError(
            f"the login hook {spec!r} could not be loaded: {type(exc).__name__}: {exc}. "
            "Fix the [login] hook in the target file."
        ) from exc
    hook = getattr(module, name, None)
    if not callable(hook):
        raise HarnessError(
            f"the login hook file {path} has no function {name!r}. Fix the [login] hook."
        )
    return hook  # type: ignore[no-any-return]


def call(spec: str, page: Any, username: str, password: str) -> None:
    """Run the hook on ``page``.

    Raises:
        HarnessError: the hook raised; the message names it and the page it was on.
    """
    hook = load(spec)
    try:
        hook(page, username, password)
    except Exception as exc:
        raise HarnessError(
            f"the login hook {spec!r} raised {type(exc).__name__}: "
            f"{str(exc).splitlines()[0] if str(exc) else ''} (at {page.url}). The login page "
            "may have changed: update the hook."
        ) from exc
