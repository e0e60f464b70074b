"""Which loaded pages can start nothing more, in a real Chromium (conformance/browser/driver.py).

A rendering stops waiting for a page's requests at once when the page is static: its
``load`` event already covered everything it will ask for. A look at a page plain HTTP could
not classify (a 200 error page) reads a static one at once too: it will show nothing else,
so it is not watched for a consent page the way a page built by script is. Any way a page
can still start a request (a script, an inline handler, a refresh, a lazy image, a nested
document, a resource hint) makes it dynamic, and the rendering waits for its quiet time
instead, so an image a script adds after load is still asked for before the page is read.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from conformance.browser import driver
from conformance.browser.driver import STATIC_PAGE, Browser
from conformance.browser.recipe import LoginRecipe
from conformance.run.browser_flow import BrowserFlow, _Traffic
from mock_servers.runner import Receive, Scope, Send
from tests.browser_site import site_and_chromium

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)
PAGES = {
    "/static": '<!doctype html><title>s</title><p>Allow?</p><img src="/logo.png" alt="">',
    "/script": "<!doctype html><title>s</title><script>1</script>",
    "/handler": '<!doctype html><title>s</title><body onload="void 0"><p>x</p></body>',
    "/refresh": '<!doctype html><meta http-equiv="Refresh" content="60"><title>s</title>',
    "/lazy": '<!doctype html><title>s</title><img loading="lazy" src="/logo.png" alt="">',
    "/frame": '<!doctype html><title>s</title><iframe src="/static"></iframe>',
    "/hint": '<!doctype html><title>s</title><link rel="prefetch" href="/logo.png">',
    "/late-image": (
        "<!doctype html><title>s</title><script>setTimeout(() => {"
        " const image = new Image(); image.src = '/late.png'; document.body.append(image);"
        " }, 50)</script>"
    ),
}


async def _app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):
        pass
    path = scope["path"]
    kind, body = b"image/png", PNG
    if path in PAGES:
        kind, body = b"text/html; charset=utf-8", PAGES[path].encode()
    headers = [(b"content-type", kind), (b"cache-control", b"no-store")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Browser]]:
    with site_and_chromium(_app, tmp_path_factory.mktemp("ca")) as started:
        yield started


@pytest.mark.parametrize(
    ("path", "static"),
    [
        ("/static", True),
        ("/script", False),
        ("/handler", False),
        ("/refresh", False),
        ("/lazy", False),
        ("/frame", False),
        ("/hint", False),
    ],
)
def test_a_page_is_static_only_when_it_can_start_nothing(
    site: tuple[str, Browser], path: str, static: bool
) -> None:
    base, chromium = site
    context = chromium.new_context()
    try:
        page = context.new_page()
        page.goto(base + path, wait_until="load")
        assert page.evaluate(STATIC_PAGE) is static
    finally:
        context.close()


def test_an_image_a_script_adds_after_load_is_waited_for(site: tuple[str, Browser]) -> None:
    base, chromium = site
    context = chromium.new_context()
    try:
        page = context.new_page()
        asked: list[str] = []
        page.on("request", lambda request: asked.append(request.url))
        with _Traffic(page) as traffic:
            page.goto(base + "/late-image", wait_until="load")
            traffic.quiet(BrowserFlow.QUIET_MS, BrowserFlow.IDLE_MS)
        assert base + "/late.png" in asked
    finally:
        context.close()


@pytest.mark.parametrize(("path", "landed"), [("/static", True), ("/script", False)])
def test_a_static_page_the_browser_is_asked_about_is_read_at_once(
    site: tuple[str, Browser], path: str, landed: bool
) -> None:
    """A static page is read and its tab kept for the next flow; a script page is watched
    for the settle time (it may still build consent or go somewhere) and then closed."""
    base, chromium = site
    context = chromium.new_context()
    try:
        recipe = LoginRecipe("alice", "secret-pass")
        settle_s = 30.0 if landed else 0.3  # a static page must not sit the settle time out
        seen = driver.view(context, base + path, "https://client.test/cb", recipe, settle_s)
        assert (seen.kind, seen.status) == ("page", 200)
        assert len(context.pages) == (1 if landed else 0)  # kept as landed, or closed
    finally:
        context.close()
