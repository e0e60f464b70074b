"""Each target's preflight: discovery, one valid client, and one login through the browser.

Before any check runs, the suite learns the target's metadata, sends it one valid client
without a session (a refusal here is explained, never blamed on the target), and logs in once
in the run's browser; every check reuses that session. A target that cannot be prepared keeps
the reason, and each of its checks becomes a harness error naming the fix.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlsplit

from playwright.sync_api import Error as PlaywrightError

from conformance.browser import driver as browser_mod
from conformance.catalog.verdicts import HarnessError
from conformance.harness.clients import public_client
from conformance.harness.outcome import OutcomeKind, origin
from conformance.harness.session import Attempt, TargetSession
from conformance.run.browser_flow import BrowserFlow, sign_in_request, within
from conformance.run.state import Suite, TargetRun, label_for
from conformance.target import deadline, locality
from conformance.target.discovery import discover
from conformance.target.pacing import Pacer


def prepare(suite: Suite, issuer: str) -> TargetRun:
    """Prepare ``issuer``: discovery, the session, a valid client, the login."""
    run = TargetRun(issuer, label_for(issuer))
    if suite.config.mcp is not None:
        run.preflight["mcp"] = suite.config.mcp
    client = deadline.client(suite.tls)
    try:
        run.target = discover(client, issuer, suite.clock)
        run.preflight["metadata_url"] = run.target.metadata_url
        session = TargetSession(
            run.target, client, suite.tls, dict(suite.config.extra_params), clock=suite.clock
        )
        session.pacer = Pacer(suite.config.pacing)
        session.browser = BrowserFlow(suite, run, session.pacer)
        session.make_control = lambda: control(suite, session)
        # every wait of the run lands in the report (the list grows as checks run)
        run.preflight["pacing"] = {
            **suite.config.pacing.describe(),
            "waits": session.pacer.waits,
        }
        check_reachability(suite, run, session)
        started = time.monotonic()
        browser = suite.browser  # started on first use: timed apart from the login
        launched = time.monotonic()
        run.login_context = login(suite, run, session)
        run.preflight["timing"] = {
            "browser_start_s": round(launched - started, 3),  # what this preflight waited
            # the browser's own start, here or earlier (demo: while the suite loaded)
            "browser_launch_s": round(browser.launch_s, 3),
            "login_s": round(time.monotonic() - launched, 3),
        }
        run.session = session
    except HarnessError as exc:
        run.preflight_error = str(exc)
        if suite.config.mcp_mock and "invalid_target" in run.preflight_error:
            run.preflight_error += (
                f". The target does not issue tokens for the mock MCP server "
                f"{suite.config.mcp_journey} (RFC 8707 resource): configure it to, with "
                "--mcp-port fixing the port"
            )
        client.close()
    except BaseException:  # interrupted: an open connection would delay the target's exit
        client.close()
        raise
    run.preflight["error"] = run.preflight_error or None
    return run


def control(suite: Suite, session: TargetSession) -> Attempt:
    """A valid public client's authorization request, as the checks send theirs."""
    client = public_client(suite.metadata_host)
    return session.attempt(client.client_id, client.redirect_uri)


def check_reachability(suite: Suite, run: TargetRun, session: TargetSession) -> None:
    """Send a valid client once before the login, and explain a refusal.

    A target that never fetched the document cannot be tested, and the preflight says
    why instead of blaming it. The metadata host's TLS listener counts TCP accepts and
    completed handshakes, which tells apart a target that never connected (its policy
    refuses the host, or it cannot reach it) from one that gave up during the handshake
    (it does not trust the test CA).

    The request goes without a session, or with the cookies of an earlier login on the
    target's origin (several issuers of one server): when it then shows consent, the
    target is signed in already and :func:`login` runs no login.
    """
    host = suite.metadata_host
    client = public_client(host)
    earlier, context = latest_sign_in(suite, origin(session.target.authorization_endpoint))
    if earlier:
        session.add_cookies(earlier)
        # one user, one browser: the earlier target's context goes on, its tab reused (a
        # context of its own would cost a renderer process per target), and it reads pages
        # plain HTTP cannot
        run.login_context = context
        if context is None:
            run.login_context = suite.browser.new_context()
            browser_mod.add_cookies(run.login_context, earlier)
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
        if earlier and attempt.outcome.kind is OutcomeKind.CONSENT:
            run.preflight["login"] = SIGNED_IN
        return
    refused = f"the target refused a valid client ({attempt.outcome.describe()})"
    if not fetched and accepted > established:
        raise HarnessError(
            f"{refused}: it connected to the metadata host {host.base_url} but abandoned "
            "the TLS handshake, so it does not trust the suite's test CA. Fix: trust "
            f"{suite.ca.cert_path} in the target (Node: NODE_EXTRA_CA_CERTS=<file>; Python: "
            "SSL_CERT_FILE or REQUESTS_CA_BUNDLE, or the trust store your HTTP client "
            "uses; JDK: keytool -importcert -cacerts -file <file>; Go and most others: "
            "the system store, e.g. update-ca-certificates) and restart it"
        )
    if not fetched:
        raise HarnessError(never_connected(suite, refused, session))
    raise HarnessError(
        f"the target fetched a valid client document ({len(fetched)} fetches) but refused "
        f"the request ({attempt.outcome.describe()}): add required parameters with --param "
        "(for example scope=openid) or check the target's client policy"
    )


def never_connected(suite: Suite, refused: str, session: TargetSession) -> str:
    """Why a target never connected to the metadata host, as far as can be told here."""
    host = suite.metadata_host
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


SIGNED_IN = (
    "already signed in: the login of an earlier target on this origin was accepted "
    "(single sign-on); consent page reached"
)


def latest_sign_in(
    suite: Suite, where: tuple[str, str, int | None]
) -> tuple[list[dict[str, Any]], Any]:
    """The recipe's sign-in at the origin ``where``: its cookies now, and their context.

    A target may have renewed its session cookie since the login (some do at every
    approval): the last target prepared on that origin holds the renewed cookies, in its
    browser context and its HTTP session, which hands its own over first. The cookies are
    empty when the recipe never logged in there, and the context ``None`` when no earlier
    target's context can give them (the login's own cookies, as they were, then).
    """
    if where not in suite.sign_ins:
        return [], None
    for run in reversed(suite.targets.values()):
        session, context = run.session, run.login_context
        if session is None or context is None:
            continue
        if origin(session.target.authorization_endpoint) != where:
            continue
        try:
            with within(suite.clock, context):
                run.cookies.to_browser(session.client.cookies.jar, context, session.origin)
                return browser_mod.cookies(context), context
        except PlaywrightError:
            break
    return suite.sign_ins[where], None


def login(suite: Suite, run: TargetRun, session: TargetSession) -> Any:
    """Log in once through the browser with a valid client; keep the cookies.

    A target that :func:`check_reachability` found signed in by an earlier login needs none.
    """
    if run.preflight.get("login") == SIGNED_IN:
        return run.login_context
    url, redirect_uri = sign_in_request(suite, session)
    # a target on an origin where the recipe logged in before starts with that login's
    # cookies (check_reachability gave them): a server whose issuers share one sign-in
    # shows consent at once, any other its login page, where the recipe logs in as usual
    where = origin(session.target.authorization_endpoint)
    earlier = where in suite.sign_ins
    context = run.login_context or suite.browser.new_context()
    shot = suite.screenshot_path(run.label, "login-consent")
    seen: list[str] = []
    with within(suite.clock, context):
        page = session.pacer.call(
            "the browser's authorization request",
            lambda: browser_mod.login(
                context, url, suite.recipe, shot, logged_in=earlier, seen=seen
            ),
        )
        with browser_mod.flow_page(context, page):
            if seen and seen[0].startswith(browser_mod.NO_LOGIN_FIRST):
                # consent before login: approving leads to the login, which the session needs
                seen[0] += browser_mod.approve_to_sign_in(page, suite.recipe, redirect_uri)
    signed_in = browser_mod.cookies(context)
    session.add_cookies(signed_in)
    if seen[0].startswith(browser_mod.SIGNED_IN):  # its login page came first: a sign-in to share
        suite.sign_ins[where] = signed_in
    run.preflight["login"] = seen[0]
    return context
