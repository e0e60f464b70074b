"""Screenshots of whole pages, as the report keeps them (conformance/browser/driver.py)."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path

import pytest

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
