"""One run of the suite: the shared mock servers, the browser, and each target's preflight.

A run has one metadata host, one callback listener and one browser, whatever the number of
targets. Each target is prepared once (discovery, then one login through the browser) and
its checks reuse that session; a target that cannot be prepared keeps the reason, and every
check on it becomes a harness error that names the fix.
"""

from __future__ import annotations

import contextlib
import math
import re
import secrets
import ssl
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from conformance import browser as browser_mod
from conformance import deadline, locality
from conformance.harness import Attempt, Pkce, TargetSession, ssl_context
from conformance.network import Network
from conformance.outcome import Outcome, OutcomeKind, classify_redirect, origin
from conformance.pacing import TRANSIENT_STATUSES, Pacer, Pacing, Transient
from conformance.pages import Page
from conformance.probes import public_client
from conformance.redaction import SECRETS, redact_url
from conformance.target import Target, discover
from conformance.verdicts import HarnessError
from mock_servers.callback import CallbackListener
from mock_servers.canary import can_bind
from mock_servers.metadata_host import MetadataHost, PublicUrls
from mock_servers.pki import TestCA


@dataclass(frozen=True)
class RunConfig:
    """Everything a run needs to know, from the command line or pytest options."""

    issuers: tuple[str, ...]
    report_dir: Path
    profile: str = "latest"
    strict: bool = False
    username: str = "alice"
    password: str = "wonderland-test-only"  # noqa: S105 - the reference AS test user
    browser: str | None = None
    state_dir: Path | None = None
    extra_params: tuple[tuple[str, str], ...] = ()
    login: tuple[tuple[str, str], ...] = ()
    bind: str = "127.0.0.1"
    metadata_bind: str | None = None
    metadata_port: int = 0
    metadata_plain_port: int = 0
    metadata_untrusted_port: int = 0
    metadata_bad_tls_ports: tuple[tuple[str, int], ...] = ()
    """Fixed ports of the bad-TLS listeners, by MetadataHost keyword (``expired_port``...)."""
    target_ca: Path | None = None
    public: PublicUrls | None = None
    mcp: dict[str, Any] | None = None
    pacing: Pacing = field(default_factory=Pacing)
    limits: deadline.Limits = field(default_factory=deadline.Limits)


def label_for(issuer: str) -> str:
    """A file-system-safe label for an issuer (its path, or its host and port)."""
    parts = urlsplit(issuer)
    raw = parts.path.strip("/") or f"{parts.hostname}-{parts.port or 443}"
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", raw).strip("-") or "target"


@dataclass
class TargetRun:
    """One target in a run: its discovery, its logged-in session, or why it has neither."""

    issuer: str
    label: str
    target: Target | None = None
    session: TargetSession | None = None
    preflight_error: str = ""
    login_context: Any = None
    preflight: dict[str, Any] = field(default_factory=dict)
    gone: str = ""
    """Why the target no longer answers (every remaining check is a harness error)."""

    def require_target(self) -> Target:
        """The discovered target, or the preflight's harness error."""
        if self.target is None:
            raise HarnessError(f"preflight failed: {self.preflight_error}")
        return self.target

    def require_session(self) -> TargetSession:
        """The logged-in session, or the preflight's harness error."""
        if self.session is None:
            raise HarnessError(f"preflight failed: {self.preflight_error}")
        return self.session


class SuiteRun:
    """The shared parts of a run; start with :meth:`start`, end with :meth:`stop`."""

    def __init__(self, config: RunConfig) -> None:
        self.config = config
        SECRETS.add(config.password)
        self.ca = TestCA.load_or_create(config.state_dir)
        self.tls: ssl.SSLContext = ssl_context(str(self.ca.cert_path))
        if config.target_ca is not None:  # the target's own certificate comes from it
            self.tls.load_verify_locations(cafile=str(config.target_ca))
        self.network = Network.start(public=config.public is not None)
        address, name, alias = self.network.metadata_bind
        try:  # a listener that cannot bind must not leave the canaries listening
            self.metadata_host = MetadataHost(
                self.ca,
                config.metadata_bind or address,
                name,
                alias,
                port=config.metadata_port or self.network.metadata_port,
                public=config.public,
                plain_port=config.metadata_plain_port,
                untrusted_port=config.metadata_untrusted_port,
                cache_control=config.pacing.cache_control,
                **dict(config.metadata_bad_tls_ports),
            )
            try:
                self.callback = CallbackListener(config.bind)
                # a second listener on the IPv6 loopback, where the machine has one
                # (CIMD-REDIR-02)
                self.callback_ipv6 = CallbackListener("::1") if can_bind("::1") else None
            except BaseException:
                self.metadata_host.stop()
                raise
        except BaseException:
            self.network.stop()
            raise
        self._browser: browser_mod.Browser | None = None
        self.recipe = browser_mod.LoginRecipe.from_options(
            config.username, config.password, dict(config.login)
        )
        self.targets: dict[str, TargetRun] = {}
        self.started = datetime.now(UTC).isoformat(timespec="seconds")
        self.clock = deadline.Clock(config.limits, run=True)

    def browser_version(self) -> str:
        """The browser's version, once it has started."""
        return self._browser.version if self._browser is not None else ""

    def start(self) -> SuiteRun:
        """Start the metadata host and the callback listener."""
        self.metadata_host.start()
        self.callback.start()
        if self.callback_ipv6 is not None:
            self.callback_ipv6.start()
            self.network.own.add(("::1", self.callback_ipv6.port))
        return self

    def stop(self) -> None:
        """Stop everything the run started."""
        for run in self.targets.values():
            if run.session is not None:
                run.session.client.close()
        if self._browser is not None:
            self._browser.stop()
        self.callback.stop()
        if self.callback_ipv6 is not None:
            self.callback_ipv6.stop()
        self.metadata_host.stop()
        self.network.stop()

    @property
    def browser(self) -> browser_mod.Browser:
        """The run's one browser, started on first use."""
        if self._browser is None:
            host = self.metadata_host
            maps: tuple[tuple[str, str], ...] = ()
            if self.network.is_lab:
                maps = ((host.host_name, host.address), (host.alias, host.address))
            elif host.public is not None:  # the browser reaches the host where it is bound
                local = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(host.address, host.address)  # noqa: S104
                local = f"[{local}]" if ":" in local else local
                maps = ((host.host_name, f"{local}:{host.port}"),)
            self._browser = browser_mod.Browser(
                self.ca.cert_path, self.config.browser, maps, self.config.target_ca
            ).start()
        return self._browser

    def screenshot_path(self, label: str, name: str) -> Path:
        """Where a screenshot for ``label`` goes in the report directory."""
        base = self.config.report_dir / (label if len(self.config.issuers) > 1 else "")
        return base / "screenshots" / f"{name}.png"

    def target_run(self, issuer: str) -> TargetRun:
        """The prepared target for ``issuer`` (prepared on first use)."""
        if issuer not in self.targets:
            self.targets[issuer] = self._prepare(issuer)
        return self.targets[issuer]

    def _prepare(self, issuer: str) -> TargetRun:
        run = TargetRun(issuer, label_for(issuer))
        if self.config.mcp is not None:
            run.preflight["mcp"] = self.config.mcp
        client = deadline.client(self.tls)
        try:
            run.target = discover(client, issuer, self.clock)
            run.preflight["metadata_url"] = run.target.metadata_url
            session = TargetSession(
                run.target, client, self.tls, dict(self.config.extra_params), clock=self.clock
            )
            session.pacer = Pacer(self.config.pacing)
            session.browser = BrowserFlow(self, run, session.pacer)
            session.make_control = lambda: self._control(session)
            # every wait of the run lands in the report (the list grows as checks run)
            run.preflight["pacing"] = {
                **self.config.pacing.describe(),
                "waits": session.pacer.waits,
            }
            self._check_reachability(run, session)
            run.login_context = self._login(run, session)
            run.session = session
        except HarnessError as exc:
            run.preflight_error = str(exc)
            client.close()
        except BaseException:  # interrupted: an open connection would delay the target's exit
            client.close()
            raise
        run.preflight["error"] = run.preflight_error or None
        return run

    def _control(self, session: TargetSession) -> Attempt:
        """A valid public client's authorization request, as the checks send theirs."""
        client = public_client(self.metadata_host)
        return session.attempt(client.client_id, client.redirect_uri)

    def refuse_check(self, issuer: str) -> None:
        """Stop a check before it starts when the run deadline fired or the target is gone.

        Raises:
            HarnessError: why the check cannot run (the run deadline, or the reason the
                target was given up on).
        """
        if self.clock.run is not None and self.clock.run.expired:
            raise HarnessError(self.clock.run.message("before this check"))
        run = self.targets.get(issuer)
        if run is not None and run.gone:
            raise HarnessError(run.gone)

    def after_unanswered(self, issuer: str, error: deadline.Unanswered) -> None:
        """A check ended because the target did not answer: is it still answering at all?

        The preflight's control (a valid client's authorization request with the session) is
        sent once more; if it gets no answer or is refused, the target is given up on, and
        every remaining check on it becomes a harness error at once instead of paying the
        deadline again. The control leaves no trace in the check's evidence.
        """
        run = self.targets.get(issuer)
        if run is None or run.session is None or run.gone:
            return
        if error.deadline is not None and error.deadline.name == "run":
            return  # every remaining check is refused anyway
        session = run.session
        kept = len(session.exchanges), len(session.attempts)
        client = public_client(self.metadata_host)
        try:
            outcome = session.attempt(client.client_id, client.redirect_uri).outcome
            failed = "" if outcome.accepted else f"refused: {outcome.describe()}"
        except deadline.Unanswered as exc:
            failed = exc.deadline.message() if exc.deadline is not None else str(exc)
        except HarnessError as exc:
            failed = str(exc)
        finally:
            del session.exchanges[kept[0] :], session.attempts[kept[1] :]
        if failed:
            run.gone = (
                f"the target stopped answering: {error}; then the preflight's control (a valid "
                f"client's authorization request) failed too ({failed}). Check that the target "
                "is still running and healthy"
            )
            run.preflight["stopped"] = run.gone

    def _check_reachability(self, run: TargetRun, session: TargetSession) -> None:
        """Send a valid client once without a session, and explain a refusal before login.

        A target that never fetched the document cannot be tested, and the preflight says
        why instead of blaming it. The metadata host's TLS listener counts TCP accepts and
        completed handshakes, which tells apart a target that never connected (its policy
        refuses the host, or it cannot reach it) from one that gave up during the handshake
        (it does not trust the test CA).
        """
        host = self.metadata_host
        client = public_client(host)
        before = host.connections()
        attempt = session.attempt(client.client_id, client.redirect_uri)
        fetched = host.fetches(client.client_id)
        accepted, established = (a - b for a, b in zip(host.connections(), before, strict=True))
        run.preflight["valid_client"] = attempt.outcome.describe()
        run.preflight["valid_client_fetches"] = len(fetched)
        run.preflight["metadata_host_connections"] = {
            "tcp_accepted": accepted,
            "tls_established": established,
        }
        if attempt.outcome.accepted:
            return
        refused = f"the target refused a valid client ({attempt.outcome.describe()})"
        if not fetched and accepted > established:
            raise HarnessError(
                f"{refused}: it connected to the metadata host {host.base_url} but abandoned "
                "the TLS handshake, so it does not trust the suite's test CA. Fix: trust "
                f"{self.ca.cert_path} in the target (Node: NODE_EXTRA_CA_CERTS=<file>; Python: "
                "SSL_CERT_FILE or REQUESTS_CA_BUNDLE, or the trust store your HTTP client "
                "uses; JDK: keytool -importcert -cacerts -file <file>; Go and most others: "
                "the system store, e.g. update-ca-certificates) and restart it"
            )
        if not fetched:
            raise HarnessError(self._never_connected(refused, session))
        raise HarnessError(
            f"the target fetched a valid client document ({len(fetched)} fetches) but refused "
            f"the request ({attempt.outcome.describe()}): add required parameters with --param "
            "(for example scope=openid) or check the target's client policy"
        )

    def _never_connected(self, refused: str, session: TargetSession) -> str:
        """Why a target never connected to the metadata host, as far as can be told here."""
        host = self.metadata_host
        prefix = f"{refused} without ever connecting to the metadata host {host.base_url}"
        endpoint = urlsplit(session.target.authorization_endpoint)
        port = endpoint.port or (443 if endpoint.scheme == "https" else 80)
        cause = locality.why_never_connected(endpoint.hostname or "", port)
        policy = (
            "refuses that host by policy (a client_id allowlist, or an SSRF block of loopback "
            "addresses: CIMD-02 allows loopback fetches only in development and test "
            "deployments)"
        )
        policy_fixes = (
            f"allow {host.host_name} in the target's client_id policy or switch on its "
            "development loopback exception, or score its production configuration in the "
            "lab (--lab, as root, with --target-command)"
        )
        if cause == "policy":
            return (
                f"{prefix}: it runs in this machine's network namespace, where the metadata "
                f"host is reachable, so it {policy}. Fixes: {policy_fixes}"
            )
        if cause is not None:
            forwarder = cause.removeprefix("reach: ")
            return (
                f"{prefix}: it cannot reach it. Its port is served by {forwarder}, so the "
                "target runs in another network namespace (a container), where 127.0.0.1 is "
                "not this machine's loopback. Fixes: run the target in the host's network, "
                "or bind the metadata host where the target reaches it and say so in the "
                "target file ([metadata_host] bind and public_url)"
            )
        return (
            f"{prefix}: it {policy} or cannot reach it (another network namespace or "
            f"machine). Fixes: {policy_fixes}; run the target on this machine; or give "
            "[metadata_host] bind and public_url in the target file"
        )

    def _login(self, run: TargetRun, session: TargetSession) -> Any:
        """Log in once through the browser with a valid client; keep the cookies."""
        client = public_client(self.metadata_host)
        client_id, redirect_uri = client.client_id, client.redirect_uri
        pkce = Pkce.new()
        url = session.authorization_url(
            {
                "response_type": "code",
                "client_id": client_id,
                "redirect_uri": redirect_uri,
                "state": secrets.token_urlsafe(8),
                "code_challenge": pkce.challenge,
                "code_challenge_method": "S256",
                **dict(self.config.extra_params),
            }
        )
        context = self.browser.new_context()
        shot = self.screenshot_path(run.label, "login-consent")
        seen: list[str] = []
        with within(self.clock, context):
            page = session.pacer.call(
                "the browser's authorization request",
                lambda: browser_mod.login(context, url, self.recipe, shot, seen=seen),
            )
            try:
                if seen and seen[0].startswith("consent appeared without a login"):
                    # consent before login: approving leads to the login, which the session
                    # needs; the browser logs in when asked (see approve_in_browser)
                    browser_mod.approve_in_browser(page, self.recipe, redirect_uri)
                    seen[0] += "; approved it, and logged in when the target asked"
            finally:
                page.close()
        session.add_cookies(browser_mod.cookies(context))
        run.preflight["login"] = seen[0]
        return context


class BrowserFlow:
    """Authorization flows in the real browser, in the target's logged-in context.

    It is also the session's :class:`~conformance.harness.BrowserAgent`: it approves what
    plain HTTP cannot, and reads pages that plain HTTP cannot classify. Before the login
    (the preflight's first request) it looks with a fresh, logged-out context.
    """

    SETTLE_S = 1.5  # how long a page may take to build itself by script after load
    IDLE_MS = 5_000  # how long a rendered page's own requests (images) may take

    def __init__(self, suite: SuiteRun, run: TargetRun, pacer: Pacer | None = None) -> None:
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
        """Open ``url`` in ``context`` (paced), log in if asked, approve; the redirect's query."""
        recipe, logged_in = self._suite.recipe, context is self._run.login_context
        with within(self._suite.clock, context):
            page = self._pacer.call(
                "the browser's authorization request",
                lambda: browser_mod.login(context, url, recipe, shot, logged_in=logged_in),
            )
            try:
                return browser_mod.approve_in_browser(page, recipe, redirect_uri)
            finally:
                page.close()

    def classify(self, url: str, redirect_uri: str) -> Outcome:
        """What the rendered page for ``url`` is: consent, login, a redirect, or an error."""
        context = self._context()
        with within(self._suite.clock, context):
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
        or :attr:`SETTLE_S` passed) the browser waits for its requests to finish, so that an
        image the target serves from its own URL has been asked for. Requests to the origins
        of ``blocked`` URLs are never sent: what reaches them came from the target, not
        from the browser.

        Raises:
            Transient: the page was answered 429 or 503 (the pacer retries).
            HarnessError: the browser could not open the page.
        """
        context, recipe = self._context(), self._suite.recipe
        origins = {origin(u) for u in blocked}
        with within(self._suite.clock, context):
            page = context.new_page()
            try:
                page.route(lambda u: origin(u) in origins, lambda route: route.abort())
                response = page.goto(url, wait_until="load")
                status = response.status if response is not None else 0
                approve = page.locator(recipe.approve_selector).first
                settled = time.monotonic() + self.SETTLE_S
                while not approve.is_visible() and time.monotonic() < settled:
                    if browser_mod.reaches(page.url, redirect_uri):
                        break
                    page.wait_for_timeout(100)
                with contextlib.suppress(PlaywrightTimeoutError):
                    page.wait_for_load_state("networkidle", timeout=self.IDLE_MS)
                kind = "consent" if approve.is_visible() else "page"
                if browser_mod.reaches(page.url, redirect_uri):
                    kind = "redirect"
                seen = browser_mod.View(kind, status, page.url, text=page.title())
            except PlaywrightError as exc:
                raise HarnessError(
                    f"the browser could not render the authorization request (at "
                    f"{redact_url(page.url)}): {str(exc).splitlines()[0]}"
                ) from exc
            finally:
                page.close()
        if seen.status in TRANSIENT_STATUSES:
            raise Transient(f"HTTP {seen.status} in the browser")
        return seen

    def _context(self) -> Any:
        if self._run.login_context is not None:
            return self._run.login_context
        if self._anonymous is None:
            self._anonymous = self._suite.browser.new_context()
        return self._anonymous


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
    try:
        yield
    except HarnessError as exc:
        fired = deadline.first_fired(clock.standing())
        if fired is not None:
            raise deadline.Unanswered(
                f"{fired.message('during a browser step')}: {exc}", fired
            ) from exc
        raise
    finally:
        context.set_default_timeout(browser_mod.STEP_TIMEOUT_MS)
