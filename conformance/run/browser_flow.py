"""Authorization flows in the run's one browser: the session's agent where plain HTTP ends."""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any

from playwright.sync_api import Error as PlaywrightError

from conformance.browser import driver as browser_mod
from conformance.catalog.verdicts import HarnessError
from conformance.harness.clients import public_client
from conformance.harness.outcome import Outcome, OutcomeKind, classify_redirect, origin
from conformance.harness.pages import URL_ATTRIBUTES, Page
from conformance.harness.session import TargetSession
from conformance.redaction import redact_text, redact_url
from conformance.run.state import Suite, TargetRun
from conformance.target import deadline
from conformance.target.pacing import TRANSIENT_STATUSES, Pacer, Transient, retry_after_s
from mock_servers.hosting import Hosting
from mock_servers.metadata_host import MetadataHost

# What a rendered page is made of, for judging a consent page by its DOM: the elements and
# attribute names carrying ``mark`` (hostile document text turned into markup), whether a
# script planted in that text ran, the URLs links and frames point at, and the images.
_DOM_FACTS = """(mark) => {
  const all = [...document.querySelectorAll("*")];
  const elements = all.filter(e => e.tagName.toLowerCase().includes(mark))
    .map(e => e.tagName.toLowerCase());
  const attributes = [];
  for (const e of all) for (const a of e.attributes)
    if (a.name.toLowerCase().includes(mark))
      attributes.push(e.tagName.toLowerCase() + "[" + a.name + "]");
  const links = [];
  const linking = "a[href], area[href], iframe[src], frame[src], embed[src], object[data], " +
    "form[action], button[formaction], base[href], link[href]";
  for (const e of document.querySelectorAll(linking)) {
    for (const name of ["href", "src", "data", "action", "formaction"]) {
      if (e.hasAttribute(name)) links.push([e.tagName.toLowerCase(), e.getAttribute(name)]);
    }
  }
  const images = [...document.images].map(i => ({
    src: i.currentSrc || i.src, width: i.naturalWidth, height: i.naturalHeight}));
  return {elements, attributes, links, images, ran: window["cimd_" + mark] === 1};
}"""


@dataclass(frozen=True)
class Rendered:
    """A page as the logged-in browser rendered it, for judging what a user sees.

    Attributes:
        kind: ``consent`` (the approve control is visible), ``redirect`` or ``page``.
        status: the HTTP status of the page's document.
        url: where the browser ended.
        headers: the document response's headers (names lower-case).
        text: the page's visible text (``innerText`` of the body).
        dom: the facts :data:`_DOM_FACTS` reads (elements, attributes, links, images, ran).
        shot: the screenshot kept as evidence, if one was taken.
    """

    kind: str
    status: int
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    text: str = ""
    dom: dict[str, Any] = field(default_factory=dict)
    shot: Path | None = None


@dataclass(frozen=True)
class Framed:
    """What a page on another origin showed when it framed a URL.

    Attributes:
        shown: the framed page loaded (the frame holds a document from the framed origin).
        consent: the approve control was visible inside the frame.
        frame_url: the frame's URL in the end (``chrome-error://...`` when it was blocked).
        shot: the screenshot of the framing page.
    """

    shown: bool
    consent: bool
    frame_url: str
    shot: Path | None


class BrowserFlow:
    """Authorization flows in the real browser, in the target's logged-in context.

    It is also the session's :class:`~conformance.harness.session.BrowserAgent`: it approves what
    plain HTTP cannot, and reads pages that plain HTTP cannot classify. Before the login
    (the preflight's first request) it looks with a fresh, logged-out context.
    """

    SETTLE_S = 1.5  # how long a page may take to build itself by script after load
    IDLE_MS = 5_000  # how long a rendered page's own requests (images) may take
    QUIET_MS = 200  # no request in flight for this long: the page's requests are done

    def __init__(self, suite: Suite, run: TargetRun, pacer: Pacer | None = None) -> None:
        self._suite = suite
        self._run = run
        self._anonymous: Any = None
        self._pacer = pacer or Pacer(suite.config.pacing)

    def authorize(self, authorize_url: str, redirect_uri: str, shot_name: str) -> dict[str, str]:
        """Open ``authorize_url``, approve consent, and return the redirect's parameters."""
        if self._run.login_context is None:
            raise HarnessError(f"preflight failed: {self._run.preflight_error}")
        shot = self._suite.screenshot_path(self._run.label, shot_name)
        return self._approve(self._run.login_context, authorize_url, redirect_uri, shot)

    def approve(self, url: str, redirect_uri: str) -> dict[str, str]:
        """Approve ``url``'s consent in the browser (plain HTTP could not)."""
        return self._approve(self._context(), url, redirect_uri, None)

    def _approve(
        self, context: Any, url: str, redirect_uri: str, shot: Path | None
    ) -> dict[str, str]:
        """Open ``url`` in ``context`` (paced), log in if asked, approve; the redirect's query.

        An approval that never reaches the redirect URI is made once more, on a fresh page
        with the request sent anew (the check's evidence says so, ``approved_again``): a
        decision lost once is the browser's or the page's, and only a second loss is a
        harness error. Approve is never clicked twice on one page.
        """
        try:
            return self._approve_once(context, url, redirect_uri, shot, fresh=False)
        except browser_mod.NotReached as exc:
            session = self._run.session
            if session is not None:
                session.approved_again.append({"at": redact_url(url), "shown": exc.shown})
            return self._approve_once(context, url, redirect_uri, shot, fresh=True)

    def _approve_once(
        self, context: Any, url: str, redirect_uri: str, shot: Path | None, *, fresh: bool
    ) -> dict[str, str]:
        recipe, logged_in = self._suite.recipe, context is self._run.login_context
        with self._step(context):
            # the consent page classify() just read is approved where it is
            page = browser_mod.shown_consent(context, url) if shot is None and not fresh else None
            if page is None:
                self._navigated()
                seen: list[str] = []
                page = self._pacer.call(
                    "the browser's authorization request",
                    lambda: browser_mod.login(
                        context, url, recipe, shot, logged_in=logged_in, seen=seen
                    ),
                )
                if logged_in and seen and seen[-1].startswith(browser_mod.SIGNED_IN):
                    self._signed_in_again(url, seen[-1])
            with browser_mod.flow_page(context, page), self._approving(context):
                self._navigated()  # the approval's request
                return browser_mod.approve_in_browser(page, recipe, redirect_uri)

    def classify(self, url: str, redirect_uri: str) -> Outcome:
        """What the rendered page for ``url`` is: consent, login, a redirect, or an error."""
        context = self._context()
        self._navigated()
        with self._step(context):
            seen = browser_mod.view(context, url, redirect_uri, self._suite.recipe, self.SETTLE_S)
        if seen.kind == "redirect":
            outcome = classify_redirect(seen.redirect, redirect_uri, 302, url)
        else:
            kind = {"consent": OutcomeKind.CONSENT, "login": OutcomeKind.LOGIN}.get(
                seen.kind, OutcomeKind.ERROR_PAGE
            )
            page = Page((), (), seen.text)
            outcome = Outcome(
                kind,
                seen.status,
                seen.url,
                page=page,
                redirect_uri=redirect_uri,
                retry_after=seen.retry_after,
            )
        outcome.seen_in = "browser"
        return outcome

    def render(self, url: str, redirect_uri: str, blocked: Iterable[str] = ()) -> browser_mod.View:
        """Open ``url`` as the user would see it, with its images, and approve nothing.

        The page loads in the logged-in context; once it has built itself (consent showing,
        or :attr:`SETTLE_S` passed) the browser waits for its requests to finish (none in
        flight for :attr:`QUIET_MS`, at most :attr:`IDLE_MS`), so that an image the target
        serves from its own URL has been asked for. Requests to the origins
        of ``blocked`` URLs are never sent: what reaches them came from the target, not
        from the browser.

        Raises:
            Transient: the page was answered 429 or 503 (the pacer retries).
            HarnessError: the browser could not open the page.
        """
        context, recipe = self._context(), self._suite.recipe
        with (
            self._step(context),
            _rendering(context, blocked) as tab,
            _Traffic(tab.page) as traffic,
        ):
            page = tab.page
            try:
                self._navigated()
                response = page.goto(url, wait_until="load")
                status = response.status if response is not None else 0
                asked = response.headers.get("retry-after") if response is not None else None
                approve = page.locator(recipe.approve_selector).first
                shown = self._built(page, approve, redirect_uri, status, traffic)
                kind = "consent" if shown else "page"
                if browser_mod.reaches(page.url, redirect_uri):
                    kind = "redirect"
                seen = browser_mod.View(kind, status, page.url, text=page.title())
                tab.landed = _landed(page, kind, status)
            except PlaywrightError as exc:
                raise HarnessError(
                    f"the browser could not render the authorization request (at "
                    f"{redact_url(page.url)}): {str(exc).splitlines()[0]}"
                ) from exc
        if seen.status in TRANSIENT_STATUSES:
            raise Transient(f"HTTP {seen.status} in the browser", retry_after_s(asked))
        return seen

    def inspect(
        self,
        url: str,
        redirect_uri: str,
        shot_name: str,
        mark: str = "",
        blocked: Iterable[str] = (),
    ) -> Rendered:
        """Render ``url`` like :meth:`render` and read the page: headers, text, DOM facts.

        ``mark`` is the token hostile document text carries (see :data:`_DOM_FACTS`). A
        screenshot is kept as evidence under ``shot_name``.

        Raises:
            Transient: the page was answered 429 or 503 (the pacer retries).
            HarnessError: the browser could not open the page.
        """
        context, recipe = self._context(), self._suite.recipe
        shot = self._suite.screenshot_path(self._run.label, shot_name)
        with (
            self._step(context),
            _rendering(context, blocked) as tab,
            _Traffic(tab.page) as traffic,
        ):
            page = tab.page
            try:
                self._navigated()
                response = page.goto(url, wait_until="load")
                status = response.status if response is not None else 0
                headers = response.all_headers() if response is not None else {}
                approve = page.locator(recipe.approve_selector).first

                def log_in(shown: bool) -> None:
                    if not shown and not browser_mod.reaches(page.url, redirect_uri):
                        at = page.url
                        how = browser_mod.log_in_if_asked(page, recipe)
                        if how:
                            self._signed_in_again(at, how)

                shown = self._built(page, approve, redirect_uri, status, traffic, log_in)
                kind = "consent" if shown else "page"
                if browser_mod.reaches(page.url, redirect_uri):
                    kind = "redirect"
                    seen = Rendered(kind, status, page.url, headers)
                else:
                    text, dom = page.evaluate(_TEXT_AND_DOM_FACTS, mark or "\x00")
                    # a page that changes nothing by itself still shows the text just read
                    browser_mod.hide_secrets(page, text if traffic.static else None)
                    browser_mod.capture(page, shot)
                    seen = Rendered(kind, status, page.url, headers, text, dom, shot)
                tab.landed = _landed(page, kind, status)
            except PlaywrightError as exc:
                raise HarnessError(
                    f"the browser could not render the authorization request (at "
                    f"{redact_url(page.url)}): {str(exc).splitlines()[0]}"
                ) from exc
        if seen.status in TRANSIENT_STATUSES:
            asked = retry_after_s(headers.get("retry-after"))
            raise Transient(f"HTTP {seen.status} in the browser", asked)
        return seen

    def frame(self, url: str, host: MetadataHost, shot_name: str) -> Framed:
        """Open a page on the metadata host that frames ``url``; say what the frame shows.

        The framing page is served on the suite's own origin (another origin than the
        target's) and opened in the logged-in context, as an attacker's page would be.

        Raises:
            HarnessError: the browser could not open the framing page.
        """
        context, recipe = self._context(), self._suite.recipe
        framing = host.base_url + host.new_path("frame.html")
        self._navigated(2)  # the framing page and the framed one
        body = (
            "<!doctype html><title>Framing probe</title><p>A page on another origin.</p>"
            f'<iframe id="probe" src="{escape(url)}" width="900" height="700"></iframe>'
        )
        host.serve(
            framing,
            Hosting(
                headers=(
                    ("content-type", "text/html; charset=utf-8"),
                    ("cache-control", "no-store"),
                ),
                body=body.encode(),
            ),
        )
        shot = self._suite.screenshot_path(self._run.label, shot_name)
        with self._step(context):
            page = browser_mod.open_page(context)
            try:
                page.goto(framing, wait_until="load")
                element = page.query_selector("#probe")
                inner = element.content_frame() if element is not None else None
                consent = False
                settled = time.monotonic() + self.SETTLE_S
                while inner is not None and time.monotonic() < settled:
                    consent = inner.locator(recipe.approve_selector).first.is_visible()
                    if consent or inner.url.startswith(BLOCKED_FRAME):
                        break  # shown, or refused for good: the browser's error page is final
                    page.wait_for_timeout(100)
                frame_url = inner.url if inner is not None else ""
                shown = consent
                if inner is not None and not consent and frame_url.startswith("http"):
                    # a blocked frame holds the browser's error page, not the target's
                    shown = bool(inner.inner_text("body").strip())
                browser_mod.hide_secrets(page)
                browser_mod.capture(page, shot)
            except PlaywrightError as exc:
                raise HarnessError(
                    f"the browser could not open the framing page: {str(exc).splitlines()[0]}"
                ) from exc
            finally:
                # a framed page may still navigate itself: the framing page is not reused
                browser_mod.close_page(page)
        return Framed(shown, consent, redact_url(frame_url), shot)

    def consent_dom(self, url: str, redirect_uri: str) -> Page | None:
        """The consent page for ``url`` as the browser built it, approving nothing.

        Returns its visible text and every URL-valued attribute of its elements (links,
        images, forms), read from the live DOM after scripts ran, as a
        :class:`~conformance.harness.pages.Page` without forms; ``None`` when no consent
        page showed (a refusal, or a redirect with a code).

        Raises:
            Transient: the page was answered 429 or 503 (the pacer retries).
            HarnessError: the browser could not open the page.
        """
        context, recipe = self._context(), self._suite.recipe
        with self._step(context), _rendering(context, ()) as tab:
            page = tab.page
            try:
                self._navigated()
                response = page.goto(url, wait_until="load")
                status = response.status if response is not None else 0
                approve = page.locator(recipe.approve_selector).first
                shown = self._built(page, approve, redirect_uri, status)
                text = redact_text(page.evaluate(_BODY_TEXT)) if shown else ""
                urls = page.evaluate(_URL_ATTRIBUTES, list(URL_ATTRIBUTES)) if shown else []
                kind = "redirect" if browser_mod.reaches(page.url, redirect_uri) else "page"
                tab.landed = _landed(page, "consent" if shown else kind, status)
            except PlaywrightError as exc:
                raise HarnessError(
                    f"the browser could not render the authorization request (at "
                    f"{redact_url(page.url)}): {str(exc).splitlines()[0]}"
                ) from exc
        if status in TRANSIENT_STATUSES:
            raise Transient(f"HTTP {status} in the browser")
        if not shown:
            return None
        return Page((), (), text[:INSPECTED_TEXT], 0, tuple((t, a, v) for t, a, v in urls))

    @contextlib.contextmanager
    def _step(self, context: Any) -> Iterator[None]:
        """Browser steps in ``context`` (see :func:`within`), in step with the HTTP session.

        In the logged-in context the steps begin with the cookies the HTTP session changed
        and end by handing back the ones the browser changed: a target that renews its
        session cookie on approval must find the user signed in in both
        (:mod:`conformance.run.cookie_sync`). The session's cookies are the step's while it
        runs (``signed_in``: a check run ahead of its turn approves meanwhile); a step
        begins only while no check run ahead approves, and such an approval made during a
        step is marked as such (:mod:`conformance.harness.approval_gate`).

        Raises:
            HarnessError: the cookies could not be handed over.
        """
        session = self._run.session if context is self._run.login_context else None
        with contextlib.ExitStack() as held:
            if session is not None:  # signed_in first, as everywhere
                held.enter_context(session.signed_in)
                held.enter_context(session.approvals.browser_step())
            held.enter_context(within(self._suite.clock, context))
            if session is not None:
                with _handing_over("the HTTP session's cookies to the browser"):
                    self._run.cookies.to_browser(
                        session.client.cookies.jar, context, session.origin
                    )
            yield
            if session is not None:
                with _handing_over("the browser's cookies to the HTTP session"):
                    jar = session.client.cookies.jar
                    self._run.cookies.from_browser(jar, context, session.origin)

    def _approving(self, context: Any) -> contextlib.AbstractContextManager[object]:
        """An approval in the logged-in context, apart from the other threads' requests.

        See :mod:`conformance.harness.approval_gate`; the step holds ``signed_in`` already.
        """
        session = self._run.session if context is self._run.login_context else None
        return session.approvals.approval() if session is not None else contextlib.nullcontext()

    def sign_in_again(self, url: str) -> bool:
        """Sign in again in the logged-in context, after ``url`` was shown the login page.

        The target ended the run's session (it expired): the browser signs in through a
        valid client's authorization request, as the preflight did, approving nothing, and
        the HTTP session takes the new cookies at the step's end. The check's evidence says
        so (``signed_in_again``). Returns False when the run has no login of its own yet
        (the preflight's requests).

        Raises:
            HarnessError: the login recipe could not sign in again.
        """
        run, recipe = self._run, self._suite.recipe
        context = run.login_context
        if run.session is None or context is None:
            return False
        sign_in, redirect_uri = sign_in_request(self._suite, run.session)
        seen: list[str] = []
        with self._step(context):
            self._navigated()
            page = self._pacer.call(
                "the browser's authorization request",
                lambda: browser_mod.login(
                    context, sign_in, recipe, None, logged_in=True, seen=seen
                ),
            )
            if seen and seen[-1].startswith(browser_mod.NO_LOGIN_FIRST):
                # consent before login, as in the preflight
                with browser_mod.flow_page(context, page), self._approving(context):
                    self._navigated()  # the approval's request
                    seen[-1] += browser_mod.approve_to_sign_in(page, recipe, redirect_uri)
            else:
                browser_mod.release(page, sign_in)
        how = seen[-1] if seen else "signed in"
        self._signed_in_again(url, f"{how} (the target showed the login page over HTTP)")
        return True

    def _signed_in_again(self, url: str, how: str) -> None:
        """Note in the check's evidence that the logged-in browser had to sign in again.

        The target had ended the session the browser held: the check went on, and its
        report says so, instead of the new login passing unseen.
        """
        session = self._run.session
        if session is not None and self._run.login_context is not None:  # not a logged-out look
            session.signed_in_again.append({"at": redact_url(url), "how": how})

    def _navigated(self, pages: int = 1) -> None:
        """Count page loads the suite asked of the browser.

        The count is the preflight's ``browser_navigations``: a benchmark's count of browser
        round trips (redirects within a load are not counted).
        """
        counts = self._run.preflight
        counts["browser_navigations"] = counts.get("browser_navigations", 0) + pages

    def _built(
        self,
        page: Any,
        approve: Any,
        redirect_uri: str,
        status: int,
        traffic: _Traffic | None = None,
        then: Callable[[bool], None] | None = None,
    ) -> bool:
        """Let a loaded page build itself; whether its approve control shows in the end.

        A page answered 429 or 503 ("not now") builds nothing more: it is read at once.
        Otherwise the page has up to :attr:`SETTLE_S` to show the control by script (the
        wait ends early once it shows or the page has gone on to the redirect URI);
        ``then`` runs next, told whether it shows (a login asked for on the way); with
        ``traffic`` the page's own requests are then waited for (:meth:`_Traffic.quiet`).
        The control is looked for again unless the page is known to have changed nothing
        since: a static page (``driver.STATIC_PAGE``) still where it was, and ``then`` had
        nothing to do (the control showed) or there is none.
        """
        if status in TRANSIENT_STATUSES:
            return False
        settled = time.monotonic() + self.SETTLE_S
        shown = bool(approve.is_visible())
        while not shown and time.monotonic() < settled:
            if browser_mod.reaches(page.url, redirect_uri):
                break
            page.wait_for_timeout(100)
            shown = bool(approve.is_visible())
        if traffic is None:
            return shown or bool(approve.is_visible())
        before = page.url
        if then is not None:
            then(shown)
        traffic.quiet(self.QUIET_MS, self.IDLE_MS)
        if traffic.static and page.url == before and (shown or then is None):
            return shown
        return bool(approve.is_visible())

    def _context(self) -> Any:
        if self._run.login_context is not None:
            return self._run.login_context
        if self._anonymous is None:
            self._anonymous = self._suite.browser.new_context()
        return self._anonymous


def sign_in_request(suite: Suite, session: TargetSession) -> tuple[str, str]:
    """A valid public client's authorization request to sign in with; its redirect URI."""
    client = public_client(suite.metadata_host)
    params = session.code_request(client.client_id, client.redirect_uri)
    return session.authorization_url(params), client.redirect_uri


INSPECTED_TEXT = 4000  # characters of a rendered page's text kept
_BODY_TEXT = "() => document.body ? document.body.innerText : ''"  # a page's visible text
# both at once, in one round trip to the browser
_TEXT_AND_DOM_FACTS = f"(mark) => [({_BODY_TEXT})(), ({_DOM_FACTS})(mark)]"
BLOCKED_FRAME = "chrome-error:"  # where a frame the framed page refused ends (its error page)
# (tag, attribute, value) of every element's URL-valued attributes, as written
_URL_ATTRIBUTES = """(names) => {
  const found = [];
  for (const node of document.querySelectorAll("*")) {
    for (const name of names) {
      if (node.hasAttribute(name)) {
        found.push([node.tagName.toLowerCase(), name, node.getAttribute(name)]);
      }
    }
  }
  return found;
}"""


@contextlib.contextmanager
def _handing_over(what: str) -> Iterator[None]:
    try:
        yield
    except PlaywrightError as exc:
        raise HarnessError(f"could not hand {what}: {str(exc).splitlines()[0]}") from exc


@dataclass
class _Tab:
    """The page a rendering uses, and whether it may be reused (its navigation has landed)."""

    page: Any
    landed: bool = False


@contextlib.contextmanager
def _rendering(context: Any, blocked: Iterable[str]) -> Iterator[_Tab]:
    """The context's page for rendering, with requests to ``blocked`` origins aborted.

    The page is kept for the next flow only when the rendering says it has landed (see
    :func:`_landed`), and closed (bounded) otherwise: a page with a navigation in flight is
    never navigated again.
    """
    origins = {origin(u) for u in blocked}
    tab = _Tab(browser_mod.open_page(context))
    page = tab.page

    def is_blocked(url: str) -> bool:
        return origin(url) in origins

    def abort(route: Any) -> None:
        route.abort()

    try:
        if origins:
            page.route(is_blocked, abort)
        yield tab
        if origins:
            try:
                page.unroute(is_blocked, abort)  # the next flow on this page sends everything
            except PlaywrightError:
                tab.landed = False
    except BaseException:
        browser_mod.close_page(page)
        raise
    if tab.landed:
        browser_mod.release(page)
    else:
        browser_mod.close_page(page)


class _Traffic:
    """The requests a page has in flight, counted from its events while in the context.

    Playwright's ``networkidle`` waits for a fixed 500 ms without traffic; :meth:`quiet`
    waits for a shorter quiet time, as soon as every request the page sent has ended.
    """

    def __init__(self, page: Any) -> None:
        self._page = page
        self._open: set[Any] = set()
        self._last = time.monotonic()
        self.static = False  # the last quiet() found a page that can change nothing itself

    def __enter__(self) -> _Traffic:
        self._page.on("request", self._sent)
        self._page.on("requestfinished", self._ended)
        self._page.on("requestfailed", self._ended)
        return self

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(PlaywrightError):
            self._page.remove_listener("request", self._sent)
            self._page.remove_listener("requestfinished", self._ended)
            self._page.remove_listener("requestfailed", self._ended)

    def _sent(self, request: Any) -> None:
        self._open.add(request)
        self._last = time.monotonic()

    def _ended(self, request: Any) -> None:
        self._open.discard(request)
        self._last = time.monotonic()

    def quiet(self, quiet_ms: float, cap_ms: float) -> None:
        """Wait until no request was in flight for ``quiet_ms``, or ``cap_ms`` passed.

        A loaded page that can start nothing more (see ``driver.STATIC_PAGE``) with nothing in
        flight is quiet at once: its ``load`` event already waited for its images, frames
        and stylesheets, and no script, handler, refresh or lazy element is left to ask
        for more.
        """
        until = time.monotonic() + cap_ms / 1000
        static = False
        with contextlib.suppress(PlaywrightError):
            static = not self._open and bool(self._page.evaluate(browser_mod.STATIC_PAGE))
        self.static = static and not self._open  # and nothing started while it was asked
        if self.static:
            return
        while time.monotonic() < until:
            if not self._open and time.monotonic() - self._last >= quiet_ms / 1000:
                return
            self._page.wait_for_timeout(min(50.0, quiet_ms / 4))


def _landed(page: Any, kind: str, status: int) -> bool:
    """Whether a rendered page is done navigating: consent, a "not now", the redirect URI."""
    if kind == "consent" or status in TRANSIENT_STATUSES:
        return True
    if kind != "redirect":
        return False  # it may still be on its way somewhere
    try:
        page.wait_for_load_state("load", timeout=browser_mod.LAND_S * 1000)
    except PlaywrightError:
        return False
    return True


@contextlib.contextmanager
def within(clock: deadline.Clock, context: Any) -> Iterator[None]:
    """Browser steps in ``context`` that end by the check and run deadlines.

    Each step's own timeout is lowered to the time left, and a step that failed because a
    deadline fired says so.

    Raises:
        deadline.Unanswered: a check or run deadline fired before or during the steps.
    """
    standing = clock.standing()
    fired = deadline.first_fired(standing)
    if fired is not None:
        raise deadline.Unanswered(fired.message("before a browser step"), fired)
    left_ms = min([d.remaining() * 1000 for d in standing], default=math.inf)
    context.set_default_timeout(max(1.0, min(browser_mod.STEP_TIMEOUT_MS, left_ms)))
    # calls without a timeout of their own (a page's close among them) end by the deadline
    # too, a grace second later
    watchdog = browser_mod.Watchdog(context, left_ms / 1000 + 1.0) if standing else None
    try:
        with watchdog or contextlib.nullcontext():
            yield
    except asyncio.CancelledError as exc:
        if watchdog is None or not watchdog.fired:
            raise
        fired = deadline.first_fired(clock.standing()) or min(standing, key=lambda d: d.expires)
        raise deadline.Unanswered(
            f"{fired.message('during a browser step')}: a browser call did not end", fired
        ) from exc
    except HarnessError as exc:
        fired = deadline.first_fired(clock.standing())
        if fired is not None:
            raise deadline.Unanswered(
                f"{fired.message('during a browser step')}: {exc}", fired
            ) from exc
        raise
    finally:
        context.set_default_timeout(browser_mod.STEP_TIMEOUT_MS)
