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
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from playwright.sync_api import Browser as PlaywrightBrowser
from playwright.sync_api import BrowserContext, Page, Playwright, sync_playwright
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from conformance.browser import login_hook
from conformance.browser.recipe import LoginRecipe
from conformance.catalog.verdicts import HarnessError
from conformance.harness.outcome import origin
from conformance.redaction import RECEIVED_SECRETS, SECRETS, redact_text, redact_url
from conformance.target.pacing import TRANSIENT_STATUSES, Transient, retry_after_s

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


def trusting_home(ca_file: Path, *more: Path) -> Path:
    """A private HOME whose NSS database trusts ``ca_file`` and ``more`` (needs certutil)."""
    certutil = shutil.which("certutil")
    if certutil is None:
        raise HarnessError(
            "certutil is missing, so the browser cannot be told to trust the test CA: "
            "install it (Debian: apt-get install libnss3-tools)"
        )
    home = Path(tempfile.mkdtemp(prefix="cimd-browser-home-"))
    nssdb = home / ".pki" / "nssdb"
    nssdb.mkdir(parents=True)
    commands = [["-N", "-d", f"sql:{nssdb}", "--empty-password"]]
    for number, file in enumerate((ca_file, *more)):
        name = "cimd-conformance" if number == 0 else f"cimd-target-ca-{number}"
        commands.append(["-A", "-d", f"sql:{nssdb}", "-n", name, "-t", "C,,", "-i", str(file)])
    for args in commands:
        done = subprocess.run([certutil, *args], capture_output=True, timeout=30, check=False)
        if done.returncode != 0:
            shutil.rmtree(home, ignore_errors=True)
            raise HarnessError(
                f"certutil could not add {args[-1]} to the browser's trust store: "
                f"{done.stderr.decode('utf-8', 'replace').strip()[:200]}"
            )
    return home


class Browser:
    """One headless Chromium for the whole run.

    Args:
        ca_file: the suite's CA certificate, trusted for every page.
        executable: an explicit browser path, else one is found.
        host_maps: (name, address or address:port) pairs Chromium resolves first.
        target_ca: the CA of the target's own certificate, trusted too (``--target-ca``).
    """

    def __init__(
        self,
        ca_file: Path,
        executable: str | None = None,
        host_maps: tuple[tuple[str, str], ...] = (),
        target_ca: Path | None = None,
    ) -> None:
        self._ca_file = ca_file
        self._target_ca = target_ca
        self._host_maps = host_maps
        self._executable = executable
        self._playwright: Playwright | None = None
        self._browser: PlaywrightBrowser | None = None
        self._home: Path | None = None
        self.version = ""

    def start(self) -> Browser:
        """Launch the browser."""
        home = trusting_home(self._ca_file, *([self._target_ca] if self._target_ca else []))
        self._home = home
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
        """Close the browser and the Playwright driver; remove the browser's HOME."""
        if self._browser is not None:
            self._browser.close()
            self._browser = None
        if self._playwright is not None:
            self._playwright.stop()
            self._playwright = None
        if self._home is not None:  # its trust store and the browser's profile
            shutil.rmtree(self._home, ignore_errors=True)
            self._home = None

    def new_context(self) -> BrowserContext:
        """A fresh browser context (its own cookies)."""
        if self._browser is None:
            raise HarnessError("the browser is not running")
        context = self._browser.new_context()
        context.set_default_timeout(STEP_TIMEOUT_MS)
        return context


def login(
    context: BrowserContext,
    authorize_url: str,
    recipe: LoginRecipe,
    shot: Path | None,
    *,
    logged_in: bool = False,
    seen: list[str] | None = None,
) -> Page:
    """Open ``authorize_url`` and log in if asked; returns the page showing consent.

    Args:
        context: the browser context (its cookies are the session).
        authorize_url: the authorization request to open.
        recipe: how to get through login and consent.
        shot: where to save a screenshot of the consent page (or of the failure).
        logged_in: the context already has a session, so a hook is skipped when consent is
            already showing; on the first login the hook runs whenever given (a flow may
            show consent before its login).
        seen: gets one line saying how consent was reached, for the preflight.

    Raises:
        HarnessError: the login or consent page did not match the recipe; the message says
            which step and what the page showed.
    """
    page = context.new_page()
    try:
        answers: list[Any] = []
        _load(page, lambda: answers.append(page.goto(authorize_url, wait_until="load")))
        first = answers[0] if answers else None
        if first is not None:
            _not_now(page, first.status, first.headers.get("retry-after"))
        how = _log_in(page, recipe, logged_in)
        if not page.locator(recipe.approve_selector).first.is_visible():
            status = _document_status(page)  # the login may have led back to a "not now"
            if seen is not None and status in TRANSIENT_STATUSES:
                seen.append(how)  # logged in; the retry finds the session and says so no more
            _not_now(page, status, None)
        _await_consent(page, recipe)
    except _NotLoading as exc:
        raise HarnessError(str(exc)) from exc  # no screenshot: a stuck page cannot take one
    except PlaywrightError as exc:
        _screenshot(page, shot)
        raise HarnessError(redact_text(_no_consent(page, exc))) from exc
    if seen is not None:
        seen.append(how)
    _screenshot(page, shot)
    return page


NAVIGATION_STATUS = "() => performance.getEntriesByType('navigation')[0]?.responseStatus ?? 0"


def _document_status(page: Page) -> int:
    """The HTTP status of the document ``page`` shows (0 when the browser cannot say)."""
    try:
        return int(page.evaluate(NAVIGATION_STATUS) or 0)
    except (PlaywrightError, TypeError, ValueError):
        return 0


def _not_now(page: Page, status: int, retry_after: str | None) -> None:
    """Close ``page`` and raise :class:`Transient` when the target answered "not now".

    A rate-limited target answers the browser's authorization request (or the one its login
    sends the browser back to) with 429 or 503 like any other; that is no page to log in or
    consent on, and the caller's pacer waits and asks again.
    """
    if status not in TRANSIENT_STATUSES:
        return
    page.close()
    raise Transient(f"HTTP {status} in the browser", retry_after_s(retry_after))


def _fill_login(page: Page, recipe: LoginRecipe) -> None:
    """Fill the login form and submit it (Enter in the password field if no submit matches).

    Pages built by script often have no form and a plain button; Enter in the password
    field is what a person would press there too.
    """
    page.locator(recipe.username_selector).first.fill(recipe.username)
    password = page.locator(recipe.password_selector).first
    password.fill(recipe.password)
    submit = page.locator(recipe.submit_selector)
    if submit.count():
        submit.first.click()
    else:
        password.press("Enter")
    page.wait_for_load_state("load")
    page.wait_for_timeout(POLL_MS)  # a scripted submit navigates after its fetch() returns


class _NotLoading(Exception):
    """A page did not finish loading (its script kept running, or a resource never came)."""


def _load(page: Page, step: Callable[[], object]) -> None:
    """Run a navigation step; a page that never finishes loading raises :class:`_NotLoading`."""
    try:
        step()
    except PlaywrightTimeoutError as exc:
        raise _NotLoading(
            f"the page at {page.url} did not finish loading within {STEP_TIMEOUT_MS // 1000} s "
            "(a script on it kept running, or a resource never arrived): the target's page "
            "hangs in a browser"
        ) from exc
    except PlaywrightError as exc:
        if "ERR_CERT_" in str(exc):
            error = next(w for w in str(exc).split() if "ERR_CERT_" in w)
            raise _NotLoading(
                f"the browser does not trust the target's TLS certificate at {page.url} "
                f"({error}): give the target's CA with --target-ca FILE (or target_ca in the "
                "target file)"
            ) from exc
        raise


def _log_in(page: Page, recipe: LoginRecipe, logged_in: bool) -> str:
    """Get past the login page, if there is one; returns what happened."""
    if recipe.hook and not (logged_in and page.locator(recipe.approve_selector).count()):
        login_hook.call(recipe.hook, page, recipe.username, recipe.password)
        _load(page, lambda: page.wait_for_load_state("load"))
        return "logged in through the login hook; consent page reached"
    if not page.locator(recipe.password_selector).count():
        return "consent appeared without a login (no password field on the first page)"
    if not page.locator(recipe.username_selector).count():
        raise HarnessError(
            f"the login page at {page.url} has a password field but no user name field "
            "matching the recipe: set [login] username_selector in the target file"
        )
    _load(page, lambda: _fill_login(page, recipe))
    if page.locator(recipe.password_selector).count():
        raise HarnessError(
            f"the password field was still there after submit, at {page.url} "
            f"({_page_text(page)!r}): check --user and --password (or [user] in the target "
            "file), or [login] submit_selector"
        )
    return "logged in with the login recipe; consent page reached"


def _no_consent(page: Page, exc: PlaywrightError) -> str:
    """What the page showed when no approve button appeared."""
    error = dict(parse_qsl(urlsplit(page.url).query)).get("error")
    if error:
        return (
            f"after login the target ended the request with error={error!r} at {page.url}: "
            "it may need more authorization parameters (add --param, e.g. scope=openid)"
        )
    if urlsplit(page.url).scheme == "chrome-error":
        return f"the browser could not load a page of the flow: {str(exc).splitlines()[0]}"
    return (
        f"no approve button appeared within {STEP_TIMEOUT_MS // 1000} s: the page at "
        f"{page.url} showed {_page_text(page)!r}. Set [login] approve_text or "
        "approve_selector in the target file to the consent page's button"
    )


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
    """Click approve and catch the navigation to ``redirect_uri``; returns its parameters.

    A flow may ask for login after consent (consent before login), or show consent again;
    the login is filled in and approve clicked again, until the redirect URI is reached.
    """
    reached: list[str] = []
    page.on("request", lambda r: reached.append(r.url) if reaches(r.url, redirect_uri) else None)
    deadline = time.monotonic() + STEP_TIMEOUT_MS / 1000
    try:
        page.locator(recipe.approve_selector).first.click()
        while not reached:
            if time.monotonic() > deadline:
                raise PlaywrightError(f"no navigation to {redirect_uri} in time")
            page.wait_for_timeout(POLL_MS)
            if reached:
                break
            if page.locator(recipe.password_selector).count():
                _fill_login(page, recipe)
            elif page.locator(recipe.approve_selector).first.is_visible():
                page.locator(recipe.approve_selector).first.click()
        # let the navigation finish: closing a page mid-navigation can hang Chromium's close
        page.wait_for_load_state("load")
    except PlaywrightError as exc:
        raise HarnessError(
            f"approving consent did not reach the redirect URI (at {redact_url(page.url)}): "
            f"{redact_text(str(exc).splitlines()[0])}"
        ) from exc
    parts = urlsplit(reached[0])
    params = dict(parse_qsl(parts.query, keep_blank_values=True))
    SECRETS.add_params(dict(parse_qsl(parts.fragment, keep_blank_values=True)), RECEIVED_SECRETS)
    SECRETS.add_params(params, RECEIVED_SECRETS)
    return params


@dataclass(frozen=True)
class View:
    """What the browser showed for an authorization request.

    Attributes:
        kind: ``consent``, ``login``, ``redirect`` (to the redirect URI) or ``page``.
        status: the HTTP status of the last document loaded (0 when none).
        url: where the browser ended.
        redirect: the redirect URI request, with its query, when ``kind`` is ``redirect``.
        text: the start of the page's visible text.
        retry_after: the ``Retry-After`` of that document, if it had one.
    """

    kind: str
    status: int
    url: str
    redirect: str = ""
    text: str = ""
    retry_after: str = ""


def view(
    context: BrowserContext, url: str, redirect_uri: str, recipe: LoginRecipe, settle_s: float
) -> View:
    """Open ``url`` and say what the rendered page is, for pages plain HTTP cannot read.

    Waits up to ``settle_s`` after load for scripts to build the page, and follows every
    navigation, to other origins too (an upstream identity provider's login).
    """
    page = context.new_page()
    reached: list[str] = []
    page.on("request", lambda r: reached.append(r.url) if reaches(r.url, redirect_uri) else None)
    status, retry_after = 0, ""
    try:
        response = page.goto(url, wait_until="load")
        status = response.status if response is not None else 0
        retry_after = (response.headers.get("retry-after") or "") if response is not None else ""
        deadline = time.monotonic() + settle_s
        while True:
            if redirect_uri and reached:
                return View("redirect", status, page.url, reached[0])
            if page.locator(recipe.approve_selector).first.is_visible():
                return View("consent", status, page.url, text=_page_text(page))
            if page.locator(recipe.password_selector).first.is_visible():
                return View("login", status, page.url, text=_page_text(page))
            if time.monotonic() > deadline or urlsplit(page.url).scheme == "chrome-error":
                text = _page_text(page)
                return View("page", status, page.url, text=text, retry_after=retry_after)
            page.wait_for_timeout(POLL_MS)
    except PlaywrightError as exc:
        if redirect_uri and reached:  # e.g. an unreachable redirect URI: the request is enough
            return View("redirect", status, page.url, reached[0])
        raise HarnessError(
            f"the browser could not open the authorization request (at {page.url}): "
            f"{str(exc).splitlines()[0]}"
        ) from exc
    finally:
        page.close()


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
