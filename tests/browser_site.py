"""A loopback site and the run's kind of Chromium, for tests of browser code on real pages."""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import cast

import httpx

from conformance.browser.driver import Browser
from conformance.browser.recipe import LoginRecipe
from conformance.harness.session import TargetSession
from conformance.run.browser_flow import BrowserFlow
from conformance.run.state import Suite, TargetRun
from conformance.target import deadline
from conformance.target.pacing import Pacer
from mock_servers.pki import TestCA
from mock_servers.runner import ASGIApp, Server
from tests.unit.conftest import make_target


@contextlib.contextmanager
def site_and_chromium(app: ASGIApp, state: Path) -> Iterator[tuple[str, Browser]]:
    """``app`` served over plain HTTP on loopback, and a started Chromium; stopped after.

    The browser trusts a test CA kept in ``state``, as a run's does.
    """
    ca = TestCA.load_or_create(state)
    with Server(app) as site:
        chromium = Browser(ca.cert_path).start()
        try:
            yield site.base_url, chromium
        finally:
            chromium.stop()


@contextlib.contextmanager
def site_flow(
    base: str, chromium: Browser, shots: Path
) -> Iterator[tuple[BrowserFlow, TargetSession]]:
    """A run's browser flow on the site at ``base``, in a fresh logged-in context (the
    recipe: ``alice``, ``secret-pass``), and the run's HTTP session; closed after.
    """
    context = chromium.new_context()
    session = TargetSession(make_target(base), httpx.Client(), ssl.create_default_context())
    run = TargetRun(base, "site", session=session, login_context=context)
    suite = SimpleNamespace(
        recipe=LoginRecipe("alice", "secret-pass"),
        clock=deadline.Clock(),
        screenshot_path=lambda label, name: shots / label / f"{name}.png",
    )
    try:
        yield BrowserFlow(cast(Suite, suite), run, Pacer()), session
    finally:
        session.client.close()
        context.close()
