"""A loopback site and the run's kind of Chromium, for tests of browser code on real pages."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from conformance.browser.driver import Browser
from mock_servers.pki import TestCA
from mock_servers.runner import ASGIApp, Server


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
