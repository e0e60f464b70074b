"""The harness: authorization attempts over plain HTTP, consent approval and token requests.

A :class:`TargetSession` carries the logged-in user's cookies (from the browser's single
login) and sends authorization requests with httpx, following redirects only while they stay
on the target. The first redirect that leaves the target, or the page the target finally
shows, is classified into an :class:`~conformance.harness.outcome.Outcome`.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import secrets
import ssl
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator
from dataclasses import InitVar, dataclass, field
from typing import Any, Protocol
from urllib.parse import urlencode, urljoin, urlsplit

import httpx

from conformance.catalog.verdicts import HarnessError
from conformance.harness.approval_gate import ApprovalGate
from conformance.harness.client_assertions import ASSERTION_TYPE
from conformance.harness.outcome import (
    BODY_KEPT,
    Outcome,
    OutcomeKind,
    classify_redirect,
    origin,
)
from conformance.harness.pages import parse
from conformance.redaction import RECEIVED_SECRETS, SECRETS, redact_text, redact_url
from conformance.run import cookie_sync
from conformance.target import deadline
from conformance.target.discovery import Target
from conformance.target.pacing import (
    TRANSIENT_ERRORS,
    TRANSIENT_STATUSES,
    Pacer,
    Transient,
    retry_after_s,
    send_secure_cookies_to_loopback,
)
from mock_servers.no_cookies import cookieless_jar

MAX_HOPS = 8
HTTP_TIMEOUT = httpx.Timeout(20.0, connect=5.0)


class InTurnOnly(Exception):
    """A step a check run ahead of its turn cannot take: the check runs in its turn instead.

    The browser's steps (only the thread that started it may drive it); approving consent
    after the run's session moved to other cookies (the consent page was had in the session
    before); and a request shown the login page again after taking the run's new cookies
    (the session moved once more meanwhile). See :mod:`conformance.harness.ahead`.
    """


@dataclass(frozen=True)
class Pkce:
    """A PKCE S256 verifier and its challenge (RFC 7636)."""

    verifier: str
    challenge: str

    @classmethod
    def new(cls) -> Pkce:
        """A fresh verifier (43 characters) and its S256 challenge."""
        verifier = secrets.token_urlsafe(32)
        SECRETS.add(verifier)
        digest = hashlib.sha256(verifier.encode("ascii")).digest()
        return cls(verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii"))


@dataclass
class Attempt:
    """An authorization request as sent, and the target's outcome."""

    client_id: str
    redirect_uri: str | None
    state: str
    pkce: Pkce | None
    outcome: Outcome
    url: str = ""
    session: TargetSession | None = field(default=None, repr=False, compare=False)


class BrowserAgent(Protocol):
    """The run's browser, in the target's logged-in context, for what plain HTTP cannot do.

    Plain HTTP cannot finish a flow whose login is at another origin (an upstream identity
    provider), whose pages are built and submitted by script, or whose approve control is
    not a form button; the browser can, and the harness's limit is never the target's fault.
    """

    def approve(self, url: str, redirect_uri: str) -> dict[str, str]:
        """Open ``url``, approve consent, return the redirect URI's parameters."""

    def classify(self, url: str, redirect_uri: str) -> Outcome:
        """Open ``url`` and say what the rendered page is (consent, login, error ...)."""

    def sign_in_again(self, url: str) -> bool:
        """Sign in again: the target showed the login page to ``url`` in the logged-in session.

        Returns whether it signed in (False: the run has no login of its own to renew).
        """


DESCRIPTION_CHARS = 160  # of an error_description, in a report line


@dataclass(frozen=True)
class TokenResult:
    """The token endpoint's answer."""

    status: int
    body: dict[str, Any] | None
    text: str

    @property
    def issued(self) -> bool:
        """Whether an access token was issued."""
        return self.status == 200 and bool(self.body and self.body.get("access_token"))

    @property
    def error(self) -> str:
        """The ``error`` member, or a short description of a non-JSON answer."""
        if self.body and isinstance(self.body.get("error"), str):
            return str(self.body["error"])
        return f"HTTP {self.status}"

    @property
    def description(self) -> str:
        """The ``error_description`` member, redacted and cut short ("" when none)."""
        text = self.body.get("error_description") if self.body else None
        if not isinstance(text, str) or not text.strip():
            return ""
        return redact_text(" ".join(text.split()))[:DESCRIPTION_CHARS]

    def describe(self) -> str:
        """One line for reports (tokens never appear), with the error's description if any.

        The description is what tells one ``invalid_grant`` from another (a code expired,
        used twice, or a PKCE mismatch).
        """
        if self.issued:
            return f"HTTP {self.status}, tokens issued"
        line = f"HTTP {self.status}, error {self.error!r}"
        description = self.description
        return f"{line} ({description!r})" if description else line


def ssl_context(ca_file: str) -> ssl.SSLContext:
    """The system trust store plus the suite's test CA."""
    context = ssl.create_default_context()
    context.load_verify_locations(cafile=ca_file)
    return context


class Cookieless:
    """The client for requests sent without cookies, shared by a session and its forks.

    Token and PAR requests and a browser's first request without a session: each goes
    without cookies, and none the target sets is kept. One client for them all keeps its
    connections to the target between requests, so a request costs no new TLS handshake
    (idle ones for :data:`~conformance.target.deadline.KEEPALIVE_S`, as every client). Its
    connections are closed by :meth:`close`, or when it is let go of (a session a test or a
    project's fixture made and never closed).
    """

    def __init__(self, tls: ssl.SSLContext) -> None:
        self._tls = tls
        self._lock = threading.Lock()
        self._client: httpx.Client | None = None
        self._closing: weakref.finalize[Any, Cookieless] | None = None

    def get(self) -> httpx.Client:
        """The client (made on first use)."""
        with self._lock:
            if self._client is None:
                self._client = deadline.client(self._tls, cookies=cookieless_jar())
                self._closing = weakref.finalize(self, self._client.close)
            return self._client

    def close(self) -> None:
        """Close its connections."""
        with self._lock:
            if self._closing is not None:
                self._closing()  # closes the client, once
            self._client = self._closing = None


@dataclass
class TargetSession:
    """Plain-HTTP access to the target with the logged-in user's cookies.

    Args:
        target: the discovered target.
        client: an httpx client that trusts the test CA (cookies are added to it).
        tls: the TLS context of that client, for cookie-less token requests.
        extra_params: authorization parameters every request carries (e.g. ``scope``).
        clock: the deadlines every exchange must end by.
    """

    target: Target
    client: httpx.Client
    tls: ssl.SSLContext
    extra_params: dict[str, str] = field(default_factory=dict)
    exchanges: list[dict[str, Any]] = field(default_factory=list)
    attempts: list[dict[str, Any]] = field(default_factory=list)
    waits: list[dict[str, Any]] = field(default_factory=list)
    # the browser was shown the login page again in the logged-in context and signed in
    # (the target had ended its session): where, and how
    signed_in_again: list[dict[str, str]] = field(default_factory=list)
    # an approval in the browser that never reached the redirect URI, and was made once more
    # on a fresh page: where, and what the first page showed
    approved_again: list[dict[str, str]] = field(default_factory=list)
    pacer: Pacer = field(default_factory=Pacer)
    browser: BrowserAgent | None = None
    make_control: Callable[[], Attempt] | None = None
    control: Outcome | None = None
    clock: deadline.Clock = field(default_factory=deadline.Clock)
    # held while the signed-in session's cookies are used or may change: by the run's main
    # thread for its requests and browser steps, by a fork for an approval (see fork)
    signed_in: Any = field(default_factory=threading.RLock, repr=False, compare=False)
    # approvals wait for the other threads' requests in the signed-in session, and these for
    # the approvals (a target whose session store keeps the last write would lose the grant)
    approvals: ApprovalGate = field(default_factory=ApprovalGate, repr=False, compare=False)
    forked_from: TargetSession | None = field(default=None, repr=False, compare=False)
    # sent without the signed-in session's cookies (see detached)
    signed_out: bool = False
    # codes of a fork's approvals made while a browser step was under way (see token_request)
    unsure_codes: set[str] = field(default_factory=set, repr=False, compare=False)
    # whether approving consent kept the signed-in session's cookies (None: not seen yet)
    approval_keeps_session: bool | None = None
    # requests without cookies (token, PAR, anonymous): one client for the session and forks
    cookieless: Cookieless = field(init=False, repr=False, compare=False)
    shared_cookieless: InitVar[Cookieless | None] = None  # a fork's: its parent's

    def __post_init__(self, shared_cookieless: Cookieless | None) -> None:
        send_secure_cookies_to_loopback(self.client)
        self.cookieless = shared_cookieless or Cookieless(self.tls)

    @property
    def origin(self) -> str:
        """The authorization endpoint's origin: redirects within it are followed."""
        parts = urlsplit(self.target.authorization_endpoint)
        return f"{parts.scheme}://{parts.netloc}"

    def fork(
        self, browser: BrowserAgent | None = None, client: httpx.Client | None = None
    ) -> TargetSession:
        """This session for a check running beside others (in a worker thread).

        The same target, pacing and run deadline; logs, a check deadline and a control of
        its own. Its HTTP client is ``client``, or a new one with the logged-in cookies
        copied, so that what the target sets in answer to one session never changes the
        other's (copy in the thread that uses this session's client). ``browser`` stands in
        for the run's browser, which only the thread that started it may use. Its approvals
        hold this session's :attr:`signed_in` and hand the cookies they set back to it.
        """
        if client is None:
            client = deadline.client(self.tls, cookies=httpx.Cookies(self.client.cookies))
        return TargetSession(
            self.target,
            client,
            self.tls,
            dict(self.extra_params),
            pacer=self.pacer,
            browser=browser,
            clock=self.clock.fork(),
            signed_in=self.signed_in,
            approvals=self.approvals,
            forked_from=self,
            shared_cookieless=self.cookieless,
        )

    def detached(self) -> TargetSession:
        """A fork without the signed-in session: no cookies, no browser.

        For requests that wait out the target's fetch of a hanging document. Sent in the
        signed-in session, such a request holds it for seconds, and a target that writes
        the whole session back at the end of each request (the last writer wins) would then
        undo an approval made meanwhile (:mod:`conformance.harness.approval_gate`); sent
        apart, it keeps no approval waiting. A target that asks for the login before it
        fetches the document shows the login page without fetching: a check then sends the
        request again in the session (see :func:`refused_apart`).
        """
        apart = self.fork(client=deadline.client(self.tls))  # an empty cookie jar
        apart.signed_out = True
        return apart

    def sit_out(self, seconds: float, span_s: float, why: str) -> None:
        """Wait ``seconds`` that the check cannot avoid (a cache lifetime running out).

        ``span_s`` is the whole wait the check sits out, part of which may have passed in
        requests already sent; both land in the check's evidence (``waits``), so that a
        benchmark knows the run's unavoidable waits.
        """
        slept = max(0.0, seconds)
        self.waits.append({"why": why, "span_s": round(span_s, 2), "slept_s": round(slept, 2)})
        time.sleep(slept)

    def add_cookies(self, cookies: Iterable[dict[str, Any]]) -> None:
        """Add browser cookies (Playwright's shape) to the HTTP client."""
        for c in cookies:
            SECRETS.add(c["value"])
            self.client.cookies.set(c["name"], c["value"], domain=c["domain"], path=c["path"])

    def authorization_url(self, params: dict[str, str]) -> str:
        """The authorization endpoint with ``params`` as its query."""
        endpoint = self.target.authorization_endpoint
        return f"{endpoint}{'&' if '?' in endpoint else '?'}{urlencode(params)}"

    def attempt(
        self,
        client_id: str,
        redirect_uri: str | None,
        *,
        pkce: Pkce | None = None,
        with_pkce: bool = True,
        extra: dict[str, str] | None = None,
    ) -> Attempt:
        """Send one authorization request and classify the target's answer.

        Args:
            client_id: the raw client_id string (percent-encoded into the query).
            redirect_uri: the redirect URI to present, or None to leave it out.
            pkce: the PKCE pair to use; a fresh one unless ``with_pkce`` is False.
            with_pkce: False sends no code_challenge at all.
            extra: more parameters, overriding the defaults.
        """
        state = secrets.token_urlsafe(12)
        pkce = (pkce or Pkce.new()) if with_pkce else None
        params = {"response_type": "code", "client_id": client_id, "state": state}
        if redirect_uri is not None:
            params["redirect_uri"] = redirect_uri
        if pkce is not None:
            params |= {"code_challenge": pkce.challenge, "code_challenge_method": "S256"}
        params |= self.extra_params | (extra or {})
        url = self.authorization_url(params)

        def request() -> Outcome:
            return self.pacer.call(
                "an authorization request", lambda: _settled(self.look("GET", url, redirect_uri))
            )

        outcome = request()
        # signed in, yet shown the login page: the target ended the session (it expired);
        # the browser signs in again and the request is sent once more, never judged as it was
        browser = self.browser
        if outcome.kind is OutcomeKind.LOGIN and browser is not None and browser.sign_in_again(url):
            outcome = request()
            if outcome.kind is OutcomeKind.LOGIN and self.forked_from is not None:
                # the run's session moved again meanwhile (a wait for a 429, an approval)
                raise InTurnOnly("shown the login page again with the run's new cookies")
        sent = {"sent": "without the signed-in session"} if self.signed_out else {}
        self.attempts.append(
            {"client_id": client_id, "redirect_uri": redirect_uri, **sent, **outcome.evidence()}
        )
        return Attempt(client_id, redirect_uri, state, pkce, outcome, url, self)

    def look(self, method: str, url: str, redirect_uri: str | None) -> Outcome:
        """:meth:`follow`, then the browser's reading when the HTML alone is not conclusive.

        A page built by script, or a redirect to another origin that is not the client's
        (an upstream identity provider's login or consent), reads as an error page or a
        redirect elsewhere over plain HTTP; the browser renders it and says what it is.
        """
        outcome = self.follow(method, url, None, redirect_uri or "")
        if self.browser is not None and method == "GET" and _inconclusive(outcome):
            outcome = self.browser.classify(url, redirect_uri or "")
            SECRETS.add_params(outcome.params, RECEIVED_SECRETS)
        return outcome

    def reread(self, attempt: Attempt) -> Outcome:
        """An attempt made without the browser, read again in the browser if need be.

        For attempts made over plain HTTP in a worker thread: where plain HTTP could not say
        what the target did (see :meth:`look`), the browser reads the page.
        """
        outcome = attempt.outcome
        if self.browser is not None and attempt.url and _inconclusive(outcome):
            outcome = self.browser.classify(attempt.url, attempt.redirect_uri or "")
            SECRETS.add_params(outcome.params, RECEIVED_SECRETS)
        return outcome

    def require_control(self) -> None:
        """A valid client, sent as the refused ones were, is accepted in this session state.

        A refusal means something only where the same request without the hostile part is
        accepted: a target that refuses everything now (rate limited, session lost, a consent
        page the suite did not recognise) must not pass refusal checks. One control per
        check is enough.

        Raises:
            HarnessError: the control was not accepted.
        """
        if self.control is not None and self.control.accepted:
            return
        if self.make_control is None:
            return  # a session without a run (library use): the caller controls
        self.control = self.make_control().outcome
        if not self.control.accepted:
            raise HarnessError(
                "the control (a valid client, sent as the refused requests were, in the same "
                f"session) was not accepted: {self.control.describe()}. The refusals cannot be "
                "told from a target that refuses everything now; check the preflight, the "
                "login recipe and the target's rate limits"
            )

    def approve(self, attempt: Attempt) -> Outcome:
        """Submit the consent form's approve button and classify where it leads.

        A target may skip consent for a client the user approved before and redirect with a
        code at once; that outcome is returned as it is.
        """
        outcome = attempt.outcome
        if outcome.kind is OutcomeKind.CODE:
            return outcome
        if self.forked_from is not None:
            return self._approve_forked(attempt, self.forked_from)
        with self.signed_in, self.approvals.approval():  # signed_in first, as everywhere
            return self._approve(attempt)

    def _approve_forked(self, attempt: Attempt, run: TargetSession) -> Outcome:
        """Approve in a fork, with the run's session still: the approval may move it.

        A target may move the signed-in session to a new cookie when the user approves
        (against session fixation), ending the old one. Until an approval has shown that
        this target keeps the session, the run's own session waits meanwhile (it holds
        :attr:`signed_in`) and takes the cookies the approval set; the browser takes them
        from it at its next step.

        Raises:
            InTurnOnly: the run's session has other cookies than this fork had its consent
                page with: the check runs in its turn.
        """
        url, jar = self.origin, self.client.cookies.jar
        if run.approval_keeps_session:
            before = cookie_sync.session_values(jar, url)
            approved = self._approve_apart(attempt)
            if before != cookie_sync.session_values(jar, url):  # it moved after all
                with self.signed_in:
                    run.approval_keeps_session = False
                    cookie_sync.hand_over(jar, run.client.cookies.jar, url)
            return approved
        with self.signed_in:
            if not cookie_sync.holds(jar, run.client.cookies.jar, url):
                raise InTurnOnly("the run's session moved to other cookies since consent")
            before = cookie_sync.session_values(jar, url)
            try:
                approved = self._approve_apart(attempt)
            finally:
                cookie_sync.hand_over(jar, run.client.cookies.jar, url)
            kept = before == cookie_sync.session_values(jar, url)
            if run.approval_keeps_session is None or not kept:
                run.approval_keeps_session = kept
            return approved

    def _approve_apart(self, attempt: Attempt) -> Outcome:
        """A fork's approval, apart from the run's requests; its code noted if unsure.

        A browser step under way meanwhile may have loaded a page across the approval, and
        a target that writes its session back whole then undoes the approval's grant
        (:mod:`conformance.harness.approval_gate`).
        """
        with self.approvals.approval() as approval:
            approved = self._approve(attempt)
        code = approved.params.get("code")
        if approval.overlapped and code:
            self.unsure_codes.add(code)
        return approved

    def take_run_cookies(self) -> bool:
        """A fork shown the login page takes the run's session cookies, if they changed.

        Returns whether they had (the request is worth sending again).
        """
        run = self.forked_from
        if run is None:
            return False
        with self.signed_in:
            return cookie_sync.hand_over(
                run.client.cookies.jar, self.client.cookies.jar, self.origin
            )

    def _approve(self, attempt: Attempt) -> Outcome:
        """Submit the consent form (:meth:`approve` has returned a code outcome already)."""
        outcome = attempt.outcome
        form = outcome.consent_form
        button = form.approve_button() if form else None
        if form is not None and button is not None:
            data = dict(form.fields)
            if button.name:
                data[button.name] = button.value
            action = urljoin(outcome.url, form.action or outcome.url)
            method, body = form.method.upper(), data or None
            if method == "GET":  # a browser sends a GET form as the action's query
                action = urlsplit(action)._replace(query=urlencode(data), fragment="").geturl()
                body = None
            approved = self.follow(method, action, body, attempt.redirect_uri or "")
            if approved.kind is OutcomeKind.CODE or self.browser is None:
                return approved
        if self.browser is None or not attempt.url or attempt.redirect_uri is None:
            raise HarnessError(f"no consent form to approve: {outcome.describe()}")
        # plain HTTP could not approve (another origin, script pages, cookies): the browser can
        params = self.browser.approve(attempt.url, attempt.redirect_uri)
        joiner = "&" if urlsplit(attempt.redirect_uri).query else "?"  # its own query stays
        location = f"{attempt.redirect_uri}{joiner}{urlencode(params)}"
        approved = classify_redirect(location, attempt.redirect_uri, 302, attempt.url)
        approved.seen_in = "browser"
        self.exchanges.append({"method": "BROWSER", "url": redact_url(attempt.url), "status": 0})
        return approved

    def follow(
        self, method: str, url: str, data: dict[str, str] | None, redirect_uri: str
    ) -> Outcome:
        """Send a request and follow redirects while they stay on the target."""
        hops: list[str] = []
        for _ in range(MAX_HOPS):
            response = self._send(method, url, data)
            hops.append(redact_url(url))
            location = response.headers.get("location")
            if response.is_redirect and location:
                next_url = urljoin(url, location)
                if origin(next_url) != origin(self.origin):  # https://h:443 is https://h
                    outcome = classify_redirect(next_url, redirect_uri, response.status_code, url)
                    SECRETS.add_params(outcome.params, RECEIVED_SECRETS)
                    outcome.hops = hops
                    outcome.retry_after = response.headers.get("retry-after", "")
                    return outcome
                method, url, data = "GET", next_url, None
                continue
            return self._classify_page(response, url, hops, redirect_uri)
        raise HarnessError(f"the target redirected more than {MAX_HOPS} times: {hops}")

    def _send(self, method: str, url: str, data: dict[str, str] | None) -> httpx.Response:
        # the run's own session holds its cookies while it uses them; a fork's are its own;
        # every request in the signed-in session keeps clear of other threads' approvals
        with self._in_session():
            response = deadline.send(self.client, method, url, self.clock.exchange(), data=data)
            SECRETS.add(*(cookie.value for cookie in self.client.cookies.jar))
        self.exchanges.append(
            {
                "method": method,
                "url": redact_url(url),
                "status": response.status_code,
                "location": redact_url(response.headers.get("location", "")) or None,
            }
        )
        return response

    @contextlib.contextmanager
    def _in_session(self) -> Iterator[None]:
        if self.signed_out:
            yield
        elif self.forked_from is not None:
            with self.approvals.request():
                yield
        else:
            with self.signed_in, self.approvals.request():
                yield

    @staticmethod
    def _classify_page(
        response: httpx.Response, url: str, hops: list[str], redirect_uri: str
    ) -> Outcome:
        page = (
            parse(response.text) if "html" in response.headers.get("content-type", "html") else None
        )
        body = "" if page is not None else response.text[:BODY_KEPT]  # JSON or plain text
        if page is not None and page.login_form() is not None:
            kind = OutcomeKind.LOGIN
        elif page is not None and response.status_code < 400 and page.consent_form() is not None:
            kind = OutcomeKind.CONSENT
        else:
            kind = OutcomeKind.ERROR_PAGE
        return Outcome(
            kind,
            response.status_code,
            url,
            page=page,
            hops=hops,
            redirect_uri=redirect_uri,
            retry_after=response.headers.get("retry-after", ""),
            body=body,
        )

    def redeem(
        self,
        *,
        client_id: str,
        code: str,
        redirect_uri: str | None,
        verifier: str | None,
        auth: tuple[str, str] | None = None,
        assertion: str | None = None,
        extra: dict[str, str] | None = None,
        client_secret: str | None = None,
    ) -> TokenResult:
        """Exchange a code at the token endpoint.

        A public client unless ``auth`` (HTTP Basic), ``client_secret`` (in the body, as
        ``client_secret_post`` sends it) or ``assertion`` (an RFC 7523 client assertion, for
        ``private_key_jwt``) is given; ``extra`` adds parameters (``resource``).
        """
        SECRETS.add(code, verifier, assertion, client_secret)
        if auth is not None:  # the secret, and the Basic credentials it travels in
            SECRETS.add(auth[1], base64.b64encode(":".join(auth).encode()).decode("ascii"))
        data = {"grant_type": "authorization_code", "code": code, "client_id": client_id}
        if assertion is not None:
            data["client_assertion_type"] = ASSERTION_TYPE
            data["client_assertion"] = assertion
        if client_secret is not None:
            data["client_secret"] = client_secret
        if redirect_uri is not None:
            data["redirect_uri"] = redirect_uri
        if verifier is not None:
            data["code_verifier"] = verifier
        return self.token_request(data | (extra or {}), auth=auth)

    def refresh(
        self, *, client_id: str, refresh_token: str, extra: dict[str, str] | None = None
    ) -> TokenResult:
        """A refresh-token grant for a public client (``extra`` adds parameters)."""
        SECRETS.add(refresh_token)
        data = {"grant_type": "refresh_token", "refresh_token": refresh_token}
        return self.token_request({**data, "client_id": client_id, **(extra or {})})

    def token_request(
        self, data: dict[str, str], *, auth: tuple[str, str] | None = None
    ) -> TokenResult:
        """POST ``data`` to the token endpoint without cookies, paced; the answer.

        Raises:
            InTurnOnly: a code of this fork's approval made during a browser step was
                refused: the browser's page load may have undone the approval's grant
                (:meth:`_approve_apart`); the check runs in its turn.
        """
        result = self._post_form("a token request", self.target.token_endpoint, data, auth)
        if not result.issued and data.get("code") in self.unsure_codes:
            raise InTurnOnly(
                "a code refused whose approval was made while the browser was on the "
                "target's pages (a page load may have undone the approval's grant)"
            )
        return result

    def _post_form(
        self, what: str, url: str, data: dict[str, str], auth: tuple[str, str] | None = None
    ) -> TokenResult:
        """POST a form without cookies (token and PAR endpoints): a 429/503 is retried."""

        def send() -> TokenResult:
            response = deadline.send(
                self.cookieless.get(), "POST", url, self.clock.exchange(), data=data, auth=auth
            )
            self.exchanges.append({"method": "POST", "url": url, "status": response.status_code})
            try:
                body = response.json()
            except ValueError:
                body = None
            if isinstance(body, dict):
                SECRETS.add_params(body, RECEIVED_SECRETS)
            result = TokenResult(
                response.status_code,
                body if isinstance(body, dict) else None,
                redact_text(response.text)[:300],
            )
            if response.status_code in TRANSIENT_STATUSES or result.error in TRANSIENT_ERRORS:
                wait = retry_after_s(response.headers.get("retry-after"))
                raise Transient(f"HTTP {response.status_code} ({result.error})", wait)
            return result

        return self.pacer.call(what, send)

    def code_request(
        self,
        client_id: str,
        redirect_uri: str,
        *,
        state: str | None = None,
        pkce: Pkce | None = None,
    ) -> dict[str, str]:
        """An authorization code request's parameters, as a client sends them.

        A state and a PKCE S256 challenge (fresh unless given) and the run's extra
        parameters (e.g. ``resource``).
        """
        return {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "state": state or secrets.token_urlsafe(12),
            "code_challenge": (pkce or Pkce.new()).challenge,
            "code_challenge_method": "S256",
            **self.extra_params,
        }

    def anonymous(self, client_id: str, redirect_uri: str) -> Outcome:
        """An authorization request from a browser with no session (no cookies), unpaced.

        One GET, no redirect followed: what a user who is not logged in first gets (a login
        page, a redirect to one, a refusal, or a 429 when the target throttles). Used where
        the answer itself is the observation (when the target fetches, how it throttles).
        """
        url = self.authorization_url(self.code_request(client_id, redirect_uri))
        response = deadline.send(self.cookieless.get(), "GET", url, self.clock.exchange())
        self.exchanges.append(
            {"method": "GET", "url": redact_url(url), "status": response.status_code}
        )
        location = response.headers.get("location")
        if response.is_redirect and location:
            return classify_redirect(
                urljoin(url, location), redirect_uri, response.status_code, url
            )
        return self._classify_page(response, url, [redact_url(url)], redirect_uri)

    def push(self, data: dict[str, str]) -> TokenResult:
        """A pushed authorization request (RFC 9126) with ``data``; the PAR endpoint's answer.

        Raises:
            HarnessError: the target advertises no PAR endpoint.
        """
        endpoint = self.target.metadata.get("pushed_authorization_request_endpoint")
        if not isinstance(endpoint, str) or not endpoint:
            raise HarnessError("the target advertises no pushed_authorization_request_endpoint")
        return self._post_form("a pushed authorization request", endpoint, data)


def _settled(outcome: Outcome) -> Outcome:
    """``outcome``, unless it is a transient answer ("not now"), which is raised to retry."""
    if outcome.transient:
        raise Transient(outcome.transient, retry_after_s(outcome.retry_after))
    return outcome


SESSION_ERRORS = frozenset(
    {"login_required", "interaction_required", "consent_required", "account_selection_required"}
)
"""Error codes that ask for a signed-in user (OpenID Connect Core §3.1.2.6), not of a client."""


def refused_apart(attempt: Attempt) -> bool:
    """Whether an attempt sent without the session (:meth:`TargetSession.detached`) was refused.

    An error redirect (but one asking for a signed-in user) or an error page with an error
    status is what the target did with the client, signed in or not. Anything else (the
    login page, a redirect to an upstream login, consent, a page plain HTTP cannot read, a
    "not now") may be the session's doing: the attempt is made again in the session.
    """
    outcome = attempt.outcome
    if outcome.transient:
        return False
    if outcome.kind is OutcomeKind.ERROR_REDIRECT:
        return outcome.params.get("error") not in SESSION_ERRORS
    return outcome.kind is OutcomeKind.ERROR_PAGE and not _inconclusive(outcome)


def _inconclusive(outcome: Outcome) -> bool:
    """Whether plain HTTP cannot say what the target did, and the browser must look.

    An error page that did not say "error" in its status may be a page built by script, or
    consent behind an approve link; a redirect to an origin that is neither the target's
    nor the client's may be an upstream identity provider's login or consent.
    """
    if outcome.transient:
        return False
    if outcome.kind is OutcomeKind.ERROR_PAGE:
        return outcome.status < 400
    if outcome.kind is OutcomeKind.OTHER_REDIRECT:
        return not outcome.redirect_uri or origin(outcome.location) != origin(outcome.redirect_uri)
    return False
