"""Screenshots of whole pages, as the report keeps them (conformance/browser/driver.py)."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import CDPSession, Page
from playwright.sync_api import Error as PlaywrightError

from conformance.browser.driver import SHOT_MAX_HEIGHT, Browser, capture
from mock_servers.pki import TestCA


@pytest.fixture(scope="module")
def chromium(state_dir: Path) -> Iterator[Browser]:
    browser = Browser(TestCA.load_or_create(state_dir).cert_path).start()
    try:
        yield browser
    finally:
        browser.stop()


def _size(png: Path) -> tuple[int, int]:
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


@pytest.mark.parametrize(
    ("tall", "height"), [(300, 720), (2_000, 2_000), (30_000, SHOT_MAX_HEIGHT)]
)
def test_a_screenshot_holds_the_whole_page_down_to_the_cap(
    chromium: Browser, tmp_path: Path, tall: int, height: int
) -> None:
    page = chromium.new_context().new_page()
    try:
        page.set_content(
            "<!doctype html><style>body { margin: 0 }</style>"
            f'<div style="height: {tall}px; background: #036">Allow?</div>'
        )
        shot = tmp_path / "shots" / "page.png"  # its directory is made
        capture(page, shot)
        reference = tmp_path / "reference.png"
        page.screenshot(path=str(reference), full_page=True)
    finally:
        page.context.close()
    assert _size(shot) == (1280, height)
    if tall <= SHOT_MAX_HEIGHT:
        assert _size(shot) == _size(reference)  # what Playwright's full-page screenshot holds


class _RefusingOnce:
    """A real CDP session whose first ``refusals`` screenshot asks fail as Chromium's can."""

    def __init__(self, session: CDPSession, refusals: int) -> None:
        self._session = session
        self.refusals = refusals
        self.asked = 0

    def send(self, method: str, params: dict[str, Any] | None = None) -> Any:
        if method == "Page.captureScreenshot":
            self.asked += 1
            if self.asked <= self.refusals:
                raise PlaywrightError("Protocol error: Unable to capture screenshot")
        return self._session.send(method, params)

    def detach(self) -> None:
        self._session.detach()


@pytest.mark.parametrize("refusals", [1, 2])
def test_a_refused_capture_is_asked_once_more(
    chromium: Browser, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, refusals: int
) -> None:
    page = chromium.new_context().new_page()
    sessions: list[_RefusingOnce] = []

    def refusing(target: Page) -> _RefusingOnce:
        sessions.append(_RefusingOnce(real(target), refusals))
        return sessions[-1]

    real = page.context.new_cdp_session
    monkeypatch.setattr(page.context, "new_cdp_session", refusing)
    shot = tmp_path / "page.png"
    try:
        page.set_content("<!doctype html><p>Allow?</p>")
        if refusals == 1:
            capture(page, shot)
            assert _size(shot) == (1280, 720)
        else:  # refused twice: the caller (the step's _screenshot) goes on without it
            with pytest.raises(PlaywrightError, match="Unable to capture"):
                capture(page, shot)
            assert not shot.exists()
    finally:
        page.context.close()
    assert [s.asked for s in sessions] == [2]


def test_a_page_keeps_one_cdp_session_for_its_screenshots_and_replaces_one_that_ended(
    chromium: Browser, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    page = chromium.new_context().new_page()
    made: list[CDPSession] = []
    real = page.context.new_cdp_session

    def counted(target: Page) -> CDPSession:
        made.append(real(target))
        return made[-1]

    monkeypatch.setattr(page.context, "new_cdp_session", counted)
    try:
        page.set_content("<!doctype html><p>Allow?</p>")
        capture(page, tmp_path / "first.png")
        page.set_content("<!doctype html><p>Allow again?</p>")  # a new document, same page
        capture(page, tmp_path / "second.png")
        assert len(made) == 1
        made[0].detach()  # the session ends behind the capture's back
        capture(page, tmp_path / "third.png")
        assert len(made) == 2
    finally:
        page.context.close()
    for name in ("first", "second", "third"):
        assert _size(tmp_path / f"{name}.png") == (1280, 720)
