"""Starting the run's browser: its trust store is made while the driver starts, the driver
keeps its compiled code, and a start that cannot finish leaves nothing running
(conformance/browser/driver.py)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from conformance.browser import driver
from conformance.browser.driver import Browser, find_browser
from conformance.catalog.verdicts import HarnessError
from mock_servers.pki import TestCA


def test_the_browser_trusts_the_ca_and_its_home_goes_with_it(
    state_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.delenv("NODE_COMPILE_CACHE", raising=False)
    browser = Browser(TestCA.load_or_create(state_dir).cert_path).start()
    try:
        home = getattr(browser, "_home")  # noqa: B009 - the private HOME is what is checked
        assert home is not None
        # the version names the build that ran, e.g. "156.0.8078.114 (chromium-headless-shell)"
        assert re.fullmatch(r"[\d.]+ \([\w.-]+\)", browser.version), browser.version
        listed = subprocess.run(
            ["certutil", "-L", "-d", f"sql:{home / '.pki' / 'nssdb'}"],
            capture_output=True,
            text=True,
            check=True,
        )
        assert "cimd-conformance" in listed.stdout
    finally:
        browser.stop()
    assert not home.exists()
    # the driver kept its compiled code for the next run; later processes do not get the cache
    cache = tmp_path / "cimd-conformance" / "node-compile-cache"
    assert cache == driver.node_compile_cache() and any(cache.rglob("*"))
    assert "NODE_COMPILE_CACHE" not in os.environ


def test_the_browser_is_the_one_named_then_playwrights_then_the_headless_shell(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shell, full, own, named = (tmp_path / name for name in ("shell", "full", "own", "named"))
    monkeypatch.setattr(driver, "SYSTEM_BROWSERS", (str(shell), str(full)))
    monkeypatch.delenv("CIMD_BROWSER", raising=False)
    playwright: Any = SimpleNamespace(chromium=SimpleNamespace(executable_path=str(own)))
    with pytest.raises(HarnessError, match="no Chromium found: install one"):
        find_browser(None, playwright)
    full.touch()
    assert find_browser(None, playwright) == str(full)
    shell.touch()  # the system's headless shell before its full browser
    assert find_browser(None, playwright) == str(shell)
    own.touch()
    assert find_browser(None, playwright) == str(own)
    monkeypatch.setenv("CIMD_BROWSER", str(named))
    with pytest.raises(HarnessError, match="does not exist"):
        find_browser(None, playwright)
    named.touch()
    assert find_browser(None, playwright) == str(named)
    assert find_browser(str(full), playwright) == str(full)


def test_the_browser_keeps_playwrights_disabled_features_and_adds_its_own(
    state_dir: Path,
) -> None:
    # Chromium keeps the last --disable-features it is given: the suite's must hold every
    # feature Playwright's own (given first) turns off, or those features come back on
    browser = Browser(TestCA.load_or_create(state_dir).cert_path).start()
    try:
        # the browser process's own command line (chrome://version is not in every build)
        cdp = getattr(browser, "_browser").new_browser_cdp_session()  # noqa: B009
        processes = cdp.send("SystemInfo.getProcessInfo")["processInfo"]
        (pid,) = [process["id"] for process in processes if process["type"] == "browser"]
        command_line = Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
    finally:
        browser.stop()
    lists = [
        set(arg.split("=", 1)[1].split(","))
        for arg in command_line
        if arg.startswith("--disable-features=")
    ]
    assert len(lists) == 2  # Playwright's, then the suite's
    assert lists[0] <= lists[-1]
    assert set(driver.UNSHOWN_UI_FEATURES + driver.NAVIGATION_FEATURES) <= lists[-1]


def test_a_compile_cache_of_the_users_own_is_kept(
    state_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "ours"))
    monkeypatch.setenv("NODE_COMPILE_CACHE", str(tmp_path / "theirs"))
    Browser(TestCA.load_or_create(state_dir).cert_path).start().stop()
    assert any((tmp_path / "theirs").rglob("*")) and not (tmp_path / "ours").exists()
    assert os.environ["NODE_COMPILE_CACHE"] == str(tmp_path / "theirs")


def test_without_certutil_the_start_is_a_harness_error_and_stops_the_driver(
    state_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    which = shutil.which
    monkeypatch.setattr(
        driver.shutil, "which", lambda name: None if name == "certutil" else which(name)
    )
    before = {t.name for t in threading.enumerate()}
    browser = Browser(TestCA.load_or_create(state_dir).cert_path)
    with pytest.raises(HarnessError, match="certutil is missing"):
        browser.start()
    assert getattr(browser, "_playwright") is None  # noqa: B009 - the driver was stopped
    # nothing left running: asyncio's thread that reaps the driver's process ends once node
    # has exited, a moment after the stop returned (the stop waits for its pipe to close)
    ends = time.monotonic() + 10
    while {t.name for t in threading.enumerate()} - before and time.monotonic() < ends:
        time.sleep(0.05)
    assert {t.name for t in threading.enumerate()} <= before
