"""The browser driver: one Chromium per run through Playwright, kept on loopback.

The browser is found at run time (an explicit path, ``$CIMD_BROWSER``, Playwright's own
Chromium when installed, then the system's Chromium), trusts the suite's CA through an NSS
database under a private HOME (Chromium on Linux reads NSS from ``$HOME/.pki/nssdb`` only),
and resolves no name but loopback ones. It logs in once per target through a login recipe
and approves consent where a person would click.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from playwright.sync_api import Browser as PlaywrightBrowser
from playwright.sync_api import BrowserContext, Page, Playwright, sync_playwright
from playwright.sync_api import Error as PlaywrightError

from conformance import login_hook
from conformance.outcome import origin
from conformance.redaction import RECEIVED_SECRETS, SECRETS, redact_text, redact_url
from conformance.verdicts import HarnessError

# Keep Chromium's own traffic off the network (ENVIRONMENT.md §8): no background services,
# and every name but loopback ones resolves to nothing. Playwright's --disable-features list
# is left alone on purpose: passing our own would replace it.
CHROMIUM_ARGS = (
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE localhost , EXCLUDE *.localhost , "
    "EXCLUDE 127.0.0.1",
)


def chromium_args(host_maps: tuple[tuple[str, str], ...] = ()) -> list[str]:
    """The launch flags, with ``host_maps`` (name, address) resolved before everything else.

    Chromium resolves nothing else: every other name fails, so it can only reach loopback
    and, in the lab, the metadata host's names.
    """
    if not host_maps:
        return list(CHROMIUM_ARGS)
    maps = "".join(f"MAP {name} {address} , " for name, address in host_maps)
    return [
        arg.replace("--host-resolver-rules=", "--host-resolver-rules=" + maps, 1)
        for arg in CHROMIUM_ARGS
    ]


SYSTEM_BROWSERS = (
    "/usr/bin/chromium",
    "/usr/lib/chromium/chromium",
    "/usr/bin/chromium-browser",
    "/usr/bin/google-chrome",
)
STEP_TIMEOUT_MS = 15_000
POLL_MS = 200


@dataclass(frozen=True)
class LoginRecipe:
    """How to get through the target's login and consent pages.

    The defaults recognise common forms: a user name or e-mail field, a password field, the
    form's submit button, and an approve-like button on the consent page. ``hook`` names a
    Python function (``file.py:function``, see :mod:`conformance.login_hook`) that replaces the
    fill-and-submit steps for unusual login pages.
    """

    username: str
    password: str
    username_selector: str = (
        "input[name=username], input[name=login], input[name=email], input[type=email], "
        "input#username"
    )
    password_selector: str = "input[type=password]"  # noqa: S105 - a CSS selector
    submit_selector: str = "form:has(input[type=password]) [type=submit]"
    hook: str = ""
    approve_selector: str = (
        "button#approve, "
        'button:text-matches("^\\\\s*(approve|allow|authori[sz]e|accept|continue|yes)\\\\b", "i"), '
        'input[type=submit]:is([value="Approve" i], [value="Allow" i], [value="Continue" i])'
    )

    @classmethod
    def from_options(cls, username: str, password: str, options: dict[str, str]) -> LoginRecipe:
        """A recipe from target-file keys: ``*_selector``, ``hook`` and button texts.

        ``submit_text`` and ``approve_text`` are matched as a button's accessible name.
        """
        chosen = dict(options)
        for step in ("submit", "approve"):
            text = chosen.pop(f"{step}_text", None)
            if text is not None:
                quoted = text.replace("\\", "\\\\").replace('"', '\\"')
                chosen[f"{step}_selector"] = f'role=button[name="{quoted}"]'
        return cls(username, password, **chosen)


def find_browser(explicit: str | None, playwright: Playwright) -> str:
    """The Chromium executable: explicit, ``$CIMD_BROWSER``, Playwright's own, or the system's."""
    for candidate in (explicit, os.environ.get("CIMD_BROWSER")):
        if candidate:
            if not Path(candidate).exists():
                raise HarnessError(f"the browser {candidate!r} does not exist")
            return candidate
    own = playwright.chromium.executable_path
    if own and Path(own).exists():
        return own
    for path in SYSTEM_BROWSERS:
        if Path(path).exists():
            return path
    raise HarnessError(
        "no Chromium found: install one (Debian: apt-get install chromium libnss3-tools), "
        "or name it with --browser / CIMD_BROWSER"
    )


def trusting_home(ca_file: Path) -> Path:
    """A private HOME whose NSS database trusts ``ca_file`` (needs certutil)."""
    certutil = shutil.which("certutil")
    if certutil is None:
        raise HarnessError(
            "certutil is missing, so the browser cannot be told to trust the test CA: "
            "install it (Debian: apt-get install libnss3-tools)"
        )
    home = Path(tempfile.mkdtemp(prefix="cimd-browser-home-"))
    nssdb = home / ".pki" / "nssdb"
    nssdb.mkdir(parents=True)
    for args in (
        ["-N", "-d", f"sql:{nssdb}", "--empty-password"],
        ["-A", "-d", f"sql:{nssdb}", "-n", "cimd-conformance", "-t", "C,,", "-i", str(ca_file)],
    ):
        subprocess.run([certutil, *args], check=True, capture_output=True, timeout=30)
    return home


class Browser:
    """One headless Chromium for the whole run.

    Args:
        ca_file: the suite's CA certificate, trusted for every page.
        executable: an explicit browser path, else one is found.
        host_maps: (name, address or address:port) pairs Chromium resolves first.
    """

    def __init__(
        self,
        ca_file: Path,
        executable: str | None = None,
        host_maps: tuple[tuple[str, str], ...] = (),
    ) -> None:
        self._ca_file = ca_file
        self._host_maps = host_maps
        self._executable = executable
        self._playwright: Playwright | None = None
        self._browser: PlaywrightBrowser | None = None
        self.version = ""

    def start(self) -> Browser:
        """Launch the browser."""
        home = trusting_home(self._ca_file)
        # the driver's own fetches use Node's CA store, set before the driver starts
        os.environ.setdefault("NODE_EXTRA_CA_CERTS", str(self._ca_file))
        self._playwright = sync_playwright().start()
        try:
            path = find_browser(self._executable, self._playwright)
            self._browser = self._playwright.chromium.launch(
                executable_path=path,
                headless=True,
                args=chromium_args(self._host_maps),
                env={**os.environ, "HOME": str(home)},  # env replaces the whole environment
                timeout=60_000,
            )
        except PlaywrightError as exc:
            self.stop()
            raise HarnessError(f"the browser did not start: {exc}") from exc
        except HarnessError:
            self.stop()
            raise
        self.version = self._browser.version
        return self

    def stop(self) -> None:
        """Close the browser and the Playwright driver."""
        if self._browser is not None:
            self._browser.close()
            self._browser = None
        if self._playwright is not None:
            self._playwright.stop()
            self._playwright = None

    def new_context(self) -> BrowserContext:
        """A fresh browser context (its own cookies)."""
        if self._browser is None:
            raise HarnessError("the browser is not running")
        context = self._browser.new_context()
        context.set_default_timeout(STEP_TIMEOUT_MS)
        return context


def login(
    context: BrowserContext, authorize_url: str, recipe: LoginRecipe, shot: Path | None
) -> Page:
    """Open ``authorize_url`` and log in if asked; returns the page showing consent.

    Raises:
        HarnessError: the login or consent page did not match the recipe; the message says
            which step and what the page showed.
    """
    page = context.new_page()
    try:
        page.goto(authorize_url, wait_until="load")
        if recipe.hook and not page.locator(recipe.approve_selector).count():
            # the hook runs unless consent is already showing (a session from an earlier login)
            login_hook.call(recipe.hook, page, recipe.username, recipe.password)
            page.wait_for_load_state("load")
        elif page.locator(recipe.password_selector).count():
            page.locator(recipe.username_selector).first.fill(recipe.username)
            page.locator(recipe.password_selector).first.fill(recipe.password)
            page.locator(recipe.submit_selector).first.click()
            page.wait_for_load_state("load")
            if page.locator(recipe.password_selector).count():
                raise HarnessError(
                    f"the login recipe's credentials were refused: the login form came back at "
                    f"{redact_url(page.url)} ({_page_text(page)!r}). Check --user and --password."
                )
        _await_consent(page, recipe)
    except PlaywrightError as exc:
        _screenshot(page, shot)
        text, at = _page_text(page), redact_url(page.url)
        error = redact_text(dict(parse_qsl(urlsplit(page.url).query)).get("error") or "")
        if error:
            raise HarnessError(
                f"after login the target ended the request with error={error!r} at {at}: "
                "it may need more authorization parameters (add --param, e.g. scope=openid)"
            ) from exc
        raise HarnessError(
            f"the login recipe did not lead to a consent page (at {at}: {text!r}): "
            f"{redact_text(str(exc).splitlines()[0])}. Check the credentials and the recipe's "
            "selectors."
        ) from exc
    _screenshot(page, shot)
    return page


def _await_consent(page: Page, recipe: LoginRecipe) -> None:
    """Wait for the approve button, but stop as soon as the flow has visibly ended.

    An authorization response with ``error=`` or a browser error page will never turn into
    consent, so the wait ends at once instead of at the step timeout. (Login and consent may
    live on other hosts or ports than the authorization endpoint, so a change of host alone
    is no sign.)

    Raises:
        PlaywrightError: the approve button did not appear (the caller explains the page).
    """
    deadline = time.monotonic() + STEP_TIMEOUT_MS / 1000
    approve = page.locator(recipe.approve_selector).first
    while time.monotonic() < deadline:
        if approve.is_visible():
            return
        here = urlsplit(page.url)
        if "error" in dict(parse_qsl(here.query)) or here.scheme == "chrome-error":
            raise PlaywrightError(f"the flow ended at {redact_url(page.url)}")
        page.wait_for_timeout(POLL_MS)
    approve.wait_for(state="visible", timeout=POLL_MS)


def reaches(url: str, redirect_uri: str) -> bool:
    """Whether the browser's ``url`` is at ``redirect_uri`` (query aside).

    Browsers drop a default port (``https://h:443/cb`` is shown as ``https://h/cb``), so
    scheme, host, port and path are compared rather than the strings.
    """
    same_path = urlsplit(url).path == urlsplit(redirect_uri).path
    return same_path and origin(url) == origin(redirect_uri)


def approve_in_browser(page: Page, recipe: LoginRecipe, redirect_uri: str) -> dict[str, str]:
    """Click approve and catch the navigation to ``redirect_uri``; returns its parameters."""
    try:
        with page.expect_request(lambda r: reaches(r.url, redirect_uri)) as caught:
            page.locator(recipe.approve_selector).first.click()
        url = caught.value.url
        # let the navigation finish: closing a page mid-navigation can hang Chromium's close
        page.wait_for_url(lambda u: reaches(u, redirect_uri))
        page.wait_for_load_state("load")
    except PlaywrightError as exc:
        raise HarnessError(
            f"approving consent did not reach the redirect URI (at {redact_url(page.url)}): "
            f"{redact_text(str(exc).splitlines()[0])}"
        ) from exc
    parts = urlsplit(url)
    params = dict(parse_qsl(parts.query, keep_blank_values=True))
    SECRETS.add_params(dict(parse_qsl(parts.fragment, keep_blank_values=True)), RECEIVED_SECRETS)
    SECRETS.add_params(params, RECEIVED_SECRETS)
    return params


def cookies(context: BrowserContext) -> list[dict[str, Any]]:
    """The context's cookies, in Playwright's shape (their values are registered as secrets)."""
    found = [dict(c) for c in context.cookies()]
    SECRETS.add(*(c.get("value") for c in found))
    return found


# Replaces the given values in every text node of the page (before a screenshot).
_HIDE_TEXT = """(values) => {
  const root = document.body || document.documentElement;
  if (!root) return;
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    let text = node.nodeValue;
    for (const value of values) text = text.split(value).join("[redacted]");
    if (text !== node.nodeValue) node.nodeValue = text;
  }
}"""


def hide_secrets(page: Page) -> None:
    """Replace registered secrets the page shows (a target echoing them) in its text."""
    try:
        shown = SECRETS.found_in(page.inner_text("body", timeout=2_000))
        if shown:
            page.evaluate(_HIDE_TEXT, shown)
    except PlaywrightError:
        pass  # a page that cannot be read cannot be cleaned; the screenshot is still taken


def _screenshot(page: Page, path: Path | None) -> None:
    if path is None:
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        hide_secrets(page)
        page.screenshot(path=str(path), full_page=True)
    except PlaywrightError:
        pass  # a missing screenshot is not worth failing the step that wanted it


def _page_text(page: Page) -> str:
    try:
        return redact_text(page.inner_text("body", timeout=2_000))[:200]
    except PlaywrightError:
        return ""
