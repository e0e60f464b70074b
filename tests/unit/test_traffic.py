"""How long a rendering waits for a page's requests (conformance/run/browser_flow.py)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from conformance.run.browser_flow import _Traffic


class FakePage:
    """A page's event registry; its waits sleep, and run what was scheduled by then."""

    def __init__(self, static: bool = False) -> None:
        self.listeners: dict[str, list[Callable[[Any], None]]] = {}
        self.scheduled: list[tuple[float, str, object]] = []
        self.static = static  # what the page says of itself: nothing more to start

    def evaluate(self, script: str) -> bool:
        return self.static

    def on(self, event: str, listener: Callable[[Any], None]) -> None:
        self.listeners.setdefault(event, []).append(listener)

    def remove_listener(self, event: str, listener: Callable[[Any], None]) -> None:
        self.listeners[event].remove(listener)

    def emit(self, event: str, request: object) -> None:
        for listener in list(self.listeners.get(event, [])):
            listener(request)

    def wait_for_timeout(self, ms: float) -> None:
        time.sleep(ms / 1000)
        now = time.monotonic()
        for item in [s for s in self.scheduled if s[0] <= now]:
            self.scheduled.remove(item)
            self.emit(item[1], item[2])


@pytest.mark.parametrize("static", [False, True], ids=["scripted", "static"])
def test_quiet_returns_once_nothing_is_in_flight_for_the_quiet_time(static: bool) -> None:
    """A page with a request in flight waits for it, static or not."""
    page = FakePage(static=static)
    with _Traffic(page) as traffic:
        image = object()
        page.emit("request", image)
        page.scheduled.append((time.monotonic() + 0.3, "requestfinished", image))
        started = time.monotonic()
        traffic.quiet(100, 5_000)
        waited = time.monotonic() - started
    assert 0.4 <= waited < 2.0  # the image's 0.3 s, then 0.1 s of quiet; far from the cap
    assert all(not listeners for listeners in page.listeners.values())


def test_quiet_is_capped_when_a_request_never_ends() -> None:
    page = FakePage()
    with _Traffic(page) as traffic:
        page.emit("request", object())
        started = time.monotonic()
        traffic.quiet(100, 400)
        assert 0.4 <= time.monotonic() - started < 2.0


def test_a_failed_request_ends_too() -> None:
    page = FakePage()
    with _Traffic(page) as traffic:
        blocked = object()
        page.emit("request", blocked)
        page.emit("requestfailed", blocked)
        started = time.monotonic()
        traffic.quiet(100, 5_000)
        assert time.monotonic() - started < 1.0


def test_a_static_page_with_nothing_in_flight_is_quiet_at_once() -> None:
    page = FakePage(static=True)
    with _Traffic(page) as traffic:
        started = time.monotonic()
        traffic.quiet(1_000, 5_000)
        assert time.monotonic() - started < 0.5  # not the 1 s quiet time
