"""The browser driver: one Chromium per run through Playwright, kept on loopback.

The browser is found at run time (an explicit path, ``$CIMD_BROWSER``, Playwright's own
Chromium when installed, then the system's Chromium), trusts the suite's CA through an NSS
database under a private HOME (Chromium on Linux reads NSS from ``$HOME/.pki/nssdb`` only),
and resolves no name but loopback ones. It logs in once per target through a login recipe
and approves consent where a person would click.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import shutil
import subprocess
import tempfile
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast
from urllib.parse import parse_qsl, urlsplit

from playwright.sync_api import Browser as PlaywrightBrowser
from playwright.sync_api import BrowserContext, CDPSession, Page, Playwright, sync_playwright
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from conformance.browser import login_hook
from conformance.browser.recipe import LoginRecipe
from conformance.catalog.verdicts import HarnessError
from conformance.harness.outcome import origin
from conformance.redaction import RECEIVED_SECRETS, SECRETS, redact_text, redact_url
from conformance.target.pacing import TRANSIENT_STATUSES, Transient, retry_after_s
from conformance.user_cache import user_cache

# The features Playwright (1.65) turns off in the browsers it launches. Chromium keeps the last
# --disable-features it is given, so the suite's own list repeats these.
PLAYWRIGHT_DISABLED_FEATURES = (
    "AvoidUnnecessaryBeforeUnloadCheckSync",
    "DestroyProfileOnBrowserClose",
    "HttpsUpgrades",
    "HttpsFirstBalancedModeAutoEnable",
    "LensOverlay",
    "MediaRouter",
    "PaintHolding",
    "ThirdPartyStoragePartitioning",
    "AvoidCorsURLLoaderRestartOnRedirect",
    "TcpPortRandomizationWin",
    "OptimizationHints",
    "NetworkTimeServiceQuerying",
    "AimEnabled",
    "PreconnectToSearch",
    "msForceBrowserSignIn",
    "msEdgeUpdateLaunchServicesPreferredVersion",
)
# Browser UI the run never shows: the address bar's suggestion popups, web pages of their own
# that a new window loads in a renderer of their own (about 1 CPU-second at the first page).
UNSHOWN_UI_FEATURES = ("WebUIOmniboxPopup", "WebUIOmniboxAimPopup")
# How Chromium makes a page, not what the page is: with RenderDocument every navigation to a
# new document gets a new frame in the renderer; without it a same-site navigation reuses the
# frame it replaces. The page, its requests, cookies and script are the same either way; its
# load costs about a third less CPU (a small page: 54 ms to 36 ms of Chromium's CPU).
NAVIGATION_FEATURES = ("RenderDocument",)

# Keep Chromium's own traffic off the network (ENVIRONMENT.md §8): no background services,
# and every name but loopback ones resolves to nothing.
CHROMIUM_ARGS = (
    "--disable-features="
    + ",".join(PLAYWRIGHT_DISABLED_FEATURES + UNSHOWN_UI_FEATURES + NAVIGATION_FEATURES),
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


# The headless shell first (Debian's chromium-headless-shell): the run is always headless, and
# the shell, Chromium without the browser's own UI, is what Playwright itself launches for a
# headless run. It starts faster and spends less CPU per page than the full browser.
SYSTEM_BROWSERS = (
    "/usr/bin/chromium-headless-shell",
    "/usr/lib/chromium/chromium-headless-shell",
    "/usr/bin/chromium",
    "/usr/lib/chromium/chromium",
    "/usr/bin/chromium-browser",
    "/usr/bin/google-chrome",
)
STEP_TIMEOUT_MS = 15_000
POLL_MS = 200
SUBMIT_S = 5.0  # how long a submitted login may take to navigate (a scripted one fetches first)
LAND_S = 5.0  # how long a navigation to the redirect URI may take to commit and load
CLOSE_MS = 2_000  # how long Chromium may take to close a page before the close is sent again
CLOSE_ATTEMPTS = 3
CLOSE_BROWSER_S = 30.0  # how long closing the browser may take before the driver is stopped

# Whether a page is loaded and can ask for nothing more by itself: no script (in any
# spelling: elements, inline handlers, javascript: URLs), no refresh, no lazy or hinted
# fetch, no nested document. Such a page's requests all belong to its load event, and it
# neither changes nor goes anywhere by itself: what it shows now is what it will show.
STATIC_PAGE = """() => {
  if (document.readyState !== "complete") return false;
  const dynamic = 'script, meta[http-equiv="refresh" i], [loading="lazy" i], iframe, frame,'
    + ' object, embed, link[rel~="prefetch" i], link[rel~="preload" i],'
    + ' link[rel~="modulepreload" i], link[rel~="prerender" i], img[srcset], picture';
  if (document.querySelector(dynamic)) return false;
  for (const node of document.querySelectorAll("*")) {
    for (const attribute of node.attributes) {
      const name = attribute.name.toLowerCase();
      if (name.startsWith("on")) return false;
      if (/^\\s*javascript:/i.test(attribute.value)) return false;
    }
  }
  return true;
}"""


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
        "no Chromium found: install one (Debian: apt-get install chromium-headless-shell "
        "libnss3-tools, or chromium), "
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


def node_compile_cache() -> Path:
    """Where the Playwright driver (Node.js) keeps its compiled code from run to run.

    ``$XDG_CACHE_HOME/cimd-conformance/node-compile-cache`` (``~/.cache`` by default): with
    it the driver starts about 0.1 s sooner (Node.js 22.1 or later; an older one, or a cache
    it cannot write, starts as before).
    """
    return user_cache("node-compile-cache")


@contextlib.contextmanager
def _unless_set(name: str, value: str) -> Iterator[None]:
    """Set the environment variable ``name`` to ``value`` meanwhile, unless it is set already.

    Around the start of the Playwright driver, the one process that reads it: the processes
    the run starts later (a ``--target-command``) get the user's environment.
    """
    if name in os.environ:
        yield
        return
    os.environ[name] = value
    try:
        yield
    finally:
        os.environ.pop(name, None)


def _resolved(path: Path | str | None) -> Path | None:
    return Path(path).resolve() if path else None


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
        self.launch_s = 0.0  # how long the start took (the driver, the trust store, Chromium)

    def start(self) -> Browser:
        """Launch the browser.

        Its HOME and trust store are made (certutil) while the Playwright driver starts; the
        driver keeps its compiled code in :func:`node_compile_cache`.
        """
        began = time.monotonic()
        trusted = (self._ca_file, *([self._target_ca] if self._target_ca else []))
        # the driver's own fetches use Node's CA store, set before the driver starts
        os.environ.setdefault("NODE_EXTRA_CA_CERTS", str(self._ca_file))
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="cimd-browser-home") as pool:
            making = pool.submit(trusting_home, *trusted)
            try:
                with _unless_set("NODE_COMPILE_CACHE", str(node_compile_cache())):
                    self._playwright = sync_playwright().start()
                self._home = making.result()
            except BaseException:
                if self._home is None:  # a HOME made while the driver failed is removed too
                    with contextlib.suppress(Exception):  # the first failure is the one to tell
                        self._home = making.result()
                self.stop()
                raise
        try:
            path = find_browser(self._executable, self._playwright)
            self._browser = self._playwright.chromium.launch(
                executable_path=path,
                headless=True,
                args=chromium_args(self._host_maps),
                env={**os.environ, "HOME": str(self._home)},  # env replaces the whole environment
                timeout=60_000,
            )
        except PlaywrightError as exc:
            self.stop()
            raise HarnessError(f"the browser did not start: {exc}") from exc
        except HarnessError:
            self.stop()
            raise
        # which build ran: the headless shell and the full browser differ in what they load
        self.version = f"{self._browser.version} ({Path(path).name})"
        self.launch_s = time.monotonic() - began
        return self

    def made_for(
        self,
        ca_file: Path,
        executable: str | None = None,
        host_maps: tuple[tuple[str, str], ...] = (),
        target_ca: Path | None = None,
    ) -> bool:
        """Whether this browser, running, is the one these arguments would start."""
        if self._browser is None:
            return False
        ours = (self._ca_file, self._executable, self._target_ca)
        asked = (ca_file, executable, target_ca)
        return [_resolved(p) for p in ours] == [_resolved(p) for p in asked] and tuple(
            self._host_maps
        ) == tuple(host_maps)

    def stop(self) -> None:
        """Close the browser and the Playwright driver; remove the browser's HOME."""
        if self._browser is not None:
            # bounded: a page whose close Chromium dropped must not hold the run's end
            closing = Watchdog(self._browser, CLOSE_BROWSER_S)
            with contextlib.suppress(asyncio.CancelledError, PlaywrightError), closing:
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


class Watchdog:
    """Cancels the browser call in progress once a time limit has passed.

    Most Playwright calls end by their own timeout (the context's, lowered to the time left
    before a deadline); a few have none (closing a page, reading the page's title, counting or
    testing elements, evaluating a script, CDP commands) and wait for Chromium's answer as
    long as it takes. When the limit passes, a timer thread asks the driver's event loop to
    cancel the call that is waiting; that call then raises :class:`asyncio.CancelledError`
    and :attr:`fired` is set, which the caller reports as the deadline that fired.

    Args:
        owner: a Playwright object of the run's browser (a context, the browser): its
            driver's event loop is the one to ask.
        seconds: the time limit, from now.
    """

    def __init__(self, owner: Any, seconds: float) -> None:
        self.fired = False
        self._armed = True
        self._loop: asyncio.AbstractEventLoop = owner._loop
        self._timer = threading.Timer(max(0.0, seconds), self._fire)
        self._timer.daemon = True

    def __enter__(self) -> Watchdog:
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._armed = False
        self._timer.cancel()

    def _fire(self) -> None:  # the timer thread
        with contextlib.suppress(RuntimeError):  # the loop has closed: nothing is waiting
            self._loop.call_soon_threadsafe(self._cancel)

    def _cancel(self) -> None:  # the driver's loop, while a browser call waits
        if not self._armed:
            return
        # the sync API runs each call as a task marked with its caller's frame
        calls = [
            task
            for task in asyncio.all_tasks(self._loop)
            if hasattr(task, "__pw_caller_frame__") and not task.done()
        ]
        for task in calls:
            task.cancel()
        if calls:
            self.fired = True
        else:  # no call is waiting now: cancel the next one
            self._loop.call_later(POLL_MS / 1000, self._cancel)


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
    page = open_page(context)
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
    except Transient:
        raise  # the page was released for the retry (see _not_now)
    except _NotLoading as exc:
        close_page(page)  # no screenshot: a stuck page cannot take one
        raise HarnessError(str(exc)) from exc
    except PlaywrightError as exc:
        _screenshot(page, shot)
        message = redact_text(_no_consent(page, exc))
        close_page(page)
        raise HarnessError(message) from exc
    except BaseException:
        close_page(page)  # a failed login may have left a navigation in flight
        raise
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
    """Free ``page`` and raise :class:`Transient` when the target answered "not now".

    A rate-limited target answers the browser's authorization request (or the one its login
    sends the browser back to) with 429 or 503 like any other; that is no page to log in or
    consent on, and the caller's pacer waits and asks again.
    """
    if status not in TRANSIENT_STATUSES:
        return
    release(page)  # the retry navigates it again
    raise Transient(f"HTTP {status} in the browser", retry_after_s(retry_after))


def _asks_identifier(page: Page, recipe: LoginRecipe) -> bool:
    """Whether the page is an identifier-first login's first step.

    A user name field shows and no password field does: the password is asked on the next
    page.
    """
    if page.locator(recipe.password_selector).count():
        return False
    return bool(page.locator(f"{recipe.username_selector} >> visible=true").count())


def _asks_login(page: Page, recipe: LoginRecipe) -> bool:
    """Whether the page asks for a login: a password field, or a user name field alone."""
    return bool(page.locator(recipe.password_selector).count()) or _asks_identifier(page, recipe)


def _give_identifier(page: Page, recipe: LoginRecipe) -> None:
    """An identifier-first login's first step: the user name, Enter, and the password page.

    Raises:
        HarnessError: no password field appeared (the name was refused, or the next step is
            not a password).
    """
    field = page.locator(f"{recipe.username_selector} >> visible=true").first
    field.fill(recipe.username)
    field.press("Enter")
    try:
        page.locator(recipe.password_selector).first.wait_for(
            state="visible", timeout=SUBMIT_S * 1000
        )
    except PlaywrightError:
        raise HarnessError(
            f"the login page at {redact_url(page.url)} asked for the user name alone; after "
            f"it was given no password field appeared within {SUBMIT_S:g} s "
            f"({_page_text(page)!r}): check --user, or set [login] password_selector, or "
            "sign in with a login hook"
        ) from None


def _fill_login(page: Page, recipe: LoginRecipe) -> None:
    """Fill the login form and submit it (Enter in the password field if no submit matches).

    Pages built by script often have no form and a plain button; Enter in the password
    field is what a person would press there too. An identifier-first login is given the
    user name on its first page, then the password on the next (where the user name, if
    asked again, is filled again).
    """
    if not _asks_identifier(page, recipe):
        page.locator(recipe.username_selector).first.fill(recipe.username)
    else:
        _give_identifier(page, recipe)
        again = page.locator(f"{recipe.username_selector} >> visible=true")
        if again.count():  # the password page may ask the user name again, or keep it hidden
            again.first.fill(recipe.username)
    password = page.locator(recipe.password_selector).first
    password.fill(recipe.password)
    submit = page.locator(recipe.submit_selector)
    navigated: list[str] = []

    def on_navigated(frame: Any) -> None:
        if frame.parent_frame is None:  # the main frame
            navigated.append(frame.url)

    page.on("framenavigated", on_navigated)
    try:
        if submit.count():
            submit.first.click()
        else:
            password.press("Enter")
        # a scripted submit navigates only once its fetch() has returned: wait for the
        # navigation (or the password field to go) before the page is judged
        end = time.monotonic() + SUBMIT_S
        while not navigated and time.monotonic() < end:
            if not page.locator(recipe.password_selector).count():
                break
            page.wait_for_timeout(POLL_MS / 4)
        page.wait_for_load_state("load")
    finally:
        with contextlib.suppress(PlaywrightError):
            page.remove_listener("framenavigated", on_navigated)


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


SIGNED_IN = "logged in"  # how every line of _log_in that signed in begins
NO_LOGIN_FIRST = "consent appeared without a login"  # how _log_in's line begins when it did not


def _log_in(page: Page, recipe: LoginRecipe, logged_in: bool) -> str:
    """Get past the login page, if there is one; returns what happened."""
    if recipe.hook and not (logged_in and page.locator(recipe.approve_selector).count()):
        login_hook.call(recipe.hook, page, recipe.username, recipe.password)
        _load(page, lambda: page.wait_for_load_state("load"))
        return f"{SIGNED_IN} through the login hook; consent page reached"
    identifier_first = _asks_identifier(page, recipe)
    if not identifier_first and not page.locator(recipe.password_selector).count():
        return f"{NO_LOGIN_FIRST} (no password field on the first page)"
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
    steps = " (user name, then password, on two pages)" if identifier_first else ""
    return f"{SIGNED_IN} with the login recipe{steps}; consent page reached"


def log_in_if_asked(page: Page, recipe: LoginRecipe) -> str:
    """Log in when the page asks for it, then wait for consent.

    The page asks when a password field, or a user name field alone, shows. A target may
    drop the browser's session while plain-HTTP flows go on with a copy of its cookies; a
    page that should show consent then shows the login again. Returns how it logged in (""
    when no login was asked).
    """
    if not _asks_login(page, recipe):
        return ""
    how = _log_in(page, recipe, False)
    with contextlib.suppress(PlaywrightError):
        _await_consent(page, recipe)
    return how.split(";")[0]


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


@contextlib.contextmanager
def _watching(page: Page, redirect_uri: str) -> Iterator[tuple[list[str], list[str], list[str]]]:
    """What ``page`` does while the block runs: requests to ``redirect_uri``, and more.

    Yields three lists that fill as it happens: the requests to ``redirect_uri``, the
    failures of those that failed (``net::ERR_...``), and the main frame's navigations (each
    new document's URL).
    """
    reached: list[str] = []
    failed: list[str] = []
    navigated: list[str] = []

    def on_request(request: Any) -> None:
        if redirect_uri and reaches(request.url, redirect_uri):
            reached.append(request.url)

    def on_failed(request: Any) -> None:
        if redirect_uri and reaches(request.url, redirect_uri):
            failed.append(request.failure or "")

    def on_navigated(frame: Any) -> None:
        if frame.parent_frame is None:
            navigated.append(frame.url)

    listeners = {"request": on_request, "requestfailed": on_failed, "framenavigated": on_navigated}
    for event, listener in listeners.items():
        page.on(event, listener)  # type: ignore[call-overload]
    try:
        yield reached, failed, navigated
    finally:
        for event, listener in listeners.items():
            with contextlib.suppress(PlaywrightError):
                page.remove_listener(event, listener)


def _land(page: Page, redirect_uri: str, failed: list[str]) -> bool:
    """Wait until the navigation to ``redirect_uri`` has landed; returns whether it did.

    Landed means the redirect URI's document (or the browser's error page for it) has
    committed and loaded, or the navigation was aborted (nothing follows). Closing a page
    while a navigation commits makes Chromium acknowledge the close and then drop it, and
    Playwright's ``page.close()`` waits for it for ever; navigating the page again lets the
    late commit interrupt the new navigation. A script-built consent page navigates after its
    ``fetch()`` returns, so the redirect URI's request is seen well before the navigation
    commits. A page that has not landed within :data:`LAND_S` is closed, never reused
    (:func:`close_page` is bounded).
    """
    end = time.monotonic() + LAND_S
    with contextlib.suppress(PlaywrightError):
        while time.monotonic() < end:
            here = page.url
            if reaches(here, redirect_uri) or urlsplit(here).scheme == "chrome-error":
                left_ms = max(1.0, (end - time.monotonic()) * 1000)
                page.wait_for_load_state("load", timeout=left_ms)
                return True
            if failed and "ERR_ABORTED" in failed[-1]:
                return True  # no error page follows an aborted navigation
            page.wait_for_timeout(POLL_MS / 4)
    return False


@dataclass
class _Idle:
    """A context's page that no flow is using: the next flow navigates it (one per context).

    Attributes:
        page: the page.
        consent_for: the URL whose consent the page shows, not yet decided ("" when it shows
            anything else).
    """

    page: Page
    consent_for: str = ""


_IDLE: weakref.WeakKeyDictionary[BrowserContext, _Idle] = weakref.WeakKeyDictionary()
# pages that did not close in time: never navigated again, left to their context
_ABANDONED: weakref.WeakSet[Page] = weakref.WeakSet()


def open_page(context: BrowserContext) -> Page:
    """A page of ``context`` for the next flow: the context's idle page, else a new one.

    One tab navigated from flow to flow costs Chromium far less than a new tab per flow
    (each new tab and each close start and stop renderer processes). A page is idle only
    once its last navigation has landed (see :func:`release`).
    """
    idle = _IDLE.pop(context, None)
    if idle is not None and not idle.page.is_closed() and idle.page not in _ABANDONED:
        return idle.page
    return context.new_page()


def release(page: Page, consent_for: str = "") -> None:
    """A flow is done with ``page``, which ended well: keep it as its context's idle page.

    Args:
        page: the page, with no navigation of the flow in flight.
        consent_for: the URL whose consent ``page`` shows undecided, if any.
    """
    if page.is_closed() or page in _ABANDONED:
        return
    before = _IDLE.get(page.context)
    if before is not None and before.page is not page:
        close_page(before.page)
    _IDLE[page.context] = _Idle(page, consent_for)


def shown_consent(context: BrowserContext, url: str) -> Page | None:
    """The idle page of ``context`` showing undecided consent for ``url``, taken from idle."""
    idle = _IDLE.get(context)
    if idle is None or idle.consent_for != url or idle.page.is_closed():
        return None
    del _IDLE[context]
    return idle.page


def close_page(page: Page) -> bool:
    """Close ``page`` within a bounded time; returns whether it closed.

    ``page.close()`` waits without a timeout until Chromium reports the page gone, and a
    close that meets a navigation's commit is acknowledged and then dropped (the wait never
    ends). Here the close is sent without waiting for it (``run_before_unload``), the page's
    ``close`` event is awaited for :data:`CLOSE_MS`, and the close is sent again as a
    target close while the page is still there. A page that never closes is left to its
    context (closed with the browser).
    """
    idle = _IDLE.get(page.context)
    if idle is not None and idle.page is page:
        del _IDLE[page.context]
    # the CDP commands of a target close have no timeout of their own: the whole is bounded
    guard = Watchdog(page.context, CLOSE_ATTEMPTS * (CLOSE_MS / 1000 + 1.0))
    try:
        with guard:
            for attempt in range(CLOSE_ATTEMPTS):
                if page.is_closed():
                    return True
                closing = page.expect_event("close", timeout=CLOSE_MS)
                with contextlib.suppress(PlaywrightError), closing:
                    if attempt == 0:
                        page.close(run_before_unload=True)
                    else:
                        _close_target(page)
    except asyncio.CancelledError:
        if not guard.fired:
            raise  # a deadline's watchdog, not this one
    if not page.is_closed():
        _ABANDONED.add(page)
        return False
    return True


def _close_target(page: Page) -> None:
    """Ask Chromium, over CDP, to close ``page``'s target (runs no ``beforeunload``)."""
    browser = page.context.browser
    if browser is None:
        return
    session = page.context.new_cdp_session(page)
    try:
        target = session.send("Target.getTargetInfo")["targetInfo"]["targetId"]
    finally:
        session.detach()
    root = browser.new_browser_cdp_session()
    try:
        root.send("Target.closeTarget", {"targetId": target})
    finally:
        root.detach()


class NotReached(HarnessError):
    """Approve was clicked, and the browser never reached the redirect URI in time.

    Attributes:
        shown: the start of the page's visible text when the wait ended ("" if unread).
    """

    def __init__(self, message: str, shown: str = "") -> None:
        super().__init__(message)
        self.shown = shown


def approve_in_browser(
    page: Page, recipe: LoginRecipe, redirect_uri: str, *, logins: list[str] | None = None
) -> dict[str, str]:
    """Click approve and catch the navigation to ``redirect_uri``; returns its parameters.

    A flow may ask for login after consent (consent before login), or show consent again;
    once the page has moved on to a new document, the login is filled in (its page's URL
    added to ``logins``) or approve clicked again, until the redirect URI is reached.
    Approve is never clicked twice on one page: a scripted consent may still be waiting for
    its ``fetch()``, and a second decision on the same request is an error. A page whose
    navigation to the redirect URI does not land in time is closed (bounded), never reused.
    """
    deadline = time.monotonic() + STEP_TIMEOUT_MS / 1000
    with _watching(page, redirect_uri) as (reached, failed, navigated):
        try:
            page.locator(recipe.approve_selector).first.click()
            while not reached:
                if time.monotonic() > deadline:
                    raise PlaywrightError(f"no navigation to {redirect_uri} in time")
                page.wait_for_timeout(POLL_MS / 4)
                if reached or not navigated:
                    continue  # the last step has not led to a new page yet
                if page.locator(recipe.password_selector).count():
                    navigated.clear()
                    if logins is not None:
                        logins.append(redact_url(page.url))
                    _fill_login(page, recipe)
                elif page.locator(recipe.approve_selector).first.is_visible():
                    navigated.clear()
                    page.locator(recipe.approve_selector).first.click()
                elif _asks_identifier(page, recipe):
                    navigated.clear()
                    if logins is not None:
                        logins.append(redact_url(page.url))
                    _fill_login(page, recipe)
            if not _land(page, redirect_uri, failed):
                close_page(page)  # never reused with a navigation in flight
        except PlaywrightError as exc:
            shown = _page_text(page) if not page.is_closed() else ""
            said = f"; the page shows: {shown!r}" if shown else ""
            raise NotReached(
                f"approving consent did not reach the redirect URI (at {redact_url(page.url)}): "
                f"{redact_text(str(exc).splitlines()[0])}{said}",
                shown,
            ) from exc
    parts = urlsplit(reached[0])
    params = dict(parse_qsl(parts.query, keep_blank_values=True))
    SECRETS.add_params(dict(parse_qsl(parts.fragment, keep_blank_values=True)), RECEIVED_SECRETS)
    SECRETS.add_params(params, RECEIVED_SECRETS)
    return params


def approve_to_sign_in(page: Page, recipe: LoginRecipe, redirect_uri: str) -> str:
    """Approve the run's own sign-in client where consent came before login.

    On ``page`` (:data:`NO_LOGIN_FIRST`) the browser approves, then logs in when the target
    asks, as a person signing in would. Returns what to add to the login's line: whether a
    login followed the approval (none where the browser's sign-in still held).
    """
    logins: list[str] = []
    approve_in_browser(page, recipe, redirect_uri, logins=logins)
    return "; approved it" + (
        ", and logged in when the target asked" if logins else " (no login asked)"
    )


@contextlib.contextmanager
def flow_page(context: BrowserContext, page: Page | None = None) -> Iterator[Page]:
    """A page for one flow (``page``, else the context's idle one), released or closed after.

    The page becomes the context's idle page again when the block ends well, and is closed
    (bounded, :func:`close_page`) when it raised: a failed flow may have left a navigation
    in flight.
    """
    page = page if page is not None else open_page(context)
    try:
        yield page
    except BaseException:
        close_page(page)
        raise
    release(page)


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
    navigation, to other origins too (an upstream identity provider's login); a static page
    (:data:`STATIC_PAGE`: it will show nothing else) is read at once. A page that shows
    consent is kept (:func:`shown_consent`), so that approving it needs no new request; a
    page that may still be on its way somewhere is closed (bounded).
    """
    page = open_page(context)
    status, retry_after = 0, ""
    kept, settled = False, True
    try:
        with _watching(page, redirect_uri) as (reached, failed, _):
            try:
                response = page.goto(url, wait_until="load")
                status = response.status if response is not None else 0
                refresh = False  # an HTTP Refresh header navigates a page without markup
                if response is not None:
                    retry_after = response.headers.get("retry-after") or ""
                    refresh = "refresh" in response.headers
                deadline = time.monotonic() + settle_s
                if status in TRANSIENT_STATUSES:  # "not now" builds nothing more
                    deadline = 0.0
                static: bool | None = None  # asked once, when the page first shows neither
                while True:
                    if redirect_uri and reached:
                        settled = _land(page, redirect_uri, failed)
                        seen = View("redirect", status, page.url, reached[0])
                        break
                    if page.locator(recipe.approve_selector).first.is_visible():
                        seen = View("consent", status, page.url, text=_page_text(page))
                        break
                    if page.locator(
                        recipe.password_selector
                    ).first.is_visible() or _asks_identifier(page, recipe):
                        seen = View("login", status, page.url, text=_page_text(page))
                        break
                    if static is None:
                        static = not refresh and _is_static(page)
                    over = static or time.monotonic() > deadline
                    if over or urlsplit(page.url).scheme == "chrome-error":
                        text = _page_text(page)
                        seen = View("page", status, page.url, text=text, retry_after=retry_after)
                        # a "not now" or a static page has landed; any other may still be on
                        # its way somewhere
                        settled = bool(static) or status in TRANSIENT_STATUSES
                        break
                    page.wait_for_timeout(POLL_MS / 4)
            except PlaywrightError as exc:
                if not (redirect_uri and reached):
                    raise HarnessError(
                        f"the browser could not open the authorization request (at {page.url}):"
                        f" {str(exc).splitlines()[0]}"
                    ) from exc
                # e.g. an unreachable redirect URI: the request is enough
                seen, settled = View("redirect", status, page.url, reached[0]), False
        if settled:
            release(page, url if seen.kind == "consent" else "")
            kept = True
        return seen
    finally:
        if not kept:
            close_page(page)


def _is_static(page: Page) -> bool:
    """Whether ``page`` can show nothing else by itself (:data:`STATIC_PAGE`)."""
    try:
        return bool(page.evaluate(STATIC_PAGE))
    except PlaywrightError:
        return False  # e.g. navigating on: not static


def cookies(context: BrowserContext) -> list[dict[str, Any]]:
    """The context's cookies, in Playwright's shape (their values are registered as secrets)."""
    found = [dict(c) for c in context.cookies()]
    SECRETS.add(*(c.get("value") for c in found))
    return found


def add_cookies(context: BrowserContext, found: list[dict[str, Any]]) -> None:
    """Give ``context`` cookies another context had (as :func:`cookies` returned them)."""
    context.add_cookies(cast(Any, found))  # Playwright's own shape, typed as a TypedDict


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


def hide_secrets(page: Page, text: str | None = None) -> None:
    """Replace registered secrets the page shows (a target echoing them) in its text.

    ``text`` is the page's visible text when the caller has just read it from a page that
    cannot have changed since; else it is read here.
    """
    try:
        shown = SECRETS.found_in(page.inner_text("body", timeout=2_000) if text is None else text)
        if shown:
            page.evaluate(_HIDE_TEXT, shown)
    except PlaywrightError:
        pass  # a page that cannot be read cannot be cleaned; the screenshot is still taken


def _screenshot(page: Page, path: Path | None) -> None:
    if path is None:
        return
    try:
        hide_secrets(page)
        capture(page, path)
    except PlaywrightError:
        pass  # a missing screenshot is not worth failing the step that wanted it


SHOT_MAX_HEIGHT = 8_000  # CSS pixels of a page kept in a screenshot (a longer page is cut)


def capture(page: Page, path: Path) -> None:
    """Save a PNG of ``page`` at ``path``: the whole page, down to :data:`SHOT_MAX_HEIGHT`.

    Chromium is asked over CDP with its fast PNG encoder (about half the time of
    Playwright's screenshot, for files about a third larger), on the page's own CDP session
    (made at its first screenshot and kept while the page lives: a session made and detached
    for each screenshot took two more round trips to the browser); a browser without CDP gets
    Playwright's full-page screenshot.

    Raises:
        PlaywrightError: the page could not be captured (asked twice).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        session = _cdp_session(page)
    except PlaywrightError:
        page.screenshot(path=str(path), full_page=True)
        return
    try:
        size = session.send("Page.getLayoutMetrics")["cssContentSize"]
    except PlaywrightError:  # the kept session ended (detached, its target gone): a new one
        _CDP_SESSIONS.pop(page, None)
        session = _cdp_session(page)
        size = session.send("Page.getLayoutMetrics")["cssContentSize"]
    clip = {
        "x": 0,
        "y": 0,
        "width": max(1, round(size["width"])),
        "height": max(1, min(round(size["height"]), SHOT_MAX_HEIGHT)),
        "scale": 1,
    }
    fast = {"format": "png", "optimizeForSpeed": True, "captureBeyondViewport": True}
    try:
        shot = session.send("Page.captureScreenshot", {**fast, "clip": clip})
    except PlaywrightError:
        # Chromium now and then answers a tall clip "Unable to capture screenshot" when
        # its compositor is busy (a loaded machine); a second ask is taken.
        shot = session.send("Page.captureScreenshot", {**fast, "clip": clip})
    path.write_bytes(base64.b64decode(shot["data"]))


_CDP_SESSIONS: weakref.WeakKeyDictionary[Page, CDPSession] = weakref.WeakKeyDictionary()
"""Each page's CDP session for screenshots (it ends with its page)."""


def _cdp_session(page: Page) -> CDPSession:
    session = _CDP_SESSIONS.get(page)
    if session is None:
        session = _CDP_SESSIONS[page] = page.context.new_cdp_session(page)
    return session


def _page_text(page: Page) -> str:
    try:
        return redact_text(page.inner_text("body", timeout=2_000))[:200]
    except PlaywrightError:
        return ""
