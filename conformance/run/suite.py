"""One run of the suite: the shared mock servers, the browser, and each target's preflight.

A run has one metadata host, one callback listener and one browser, whatever the number of
targets (the plugin's fixtures start them; :class:`SuiteRun` composes them). Each target is
prepared once (discovery, then one login through the browser) and its checks reuse that
session; a target that cannot be prepared keeps the reason, and every check on it becomes a
harness error that names the fix.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from conformance.browser import driver as browser_mod
from conformance.browser.recipe import LoginRecipe
from conformance.catalog.verdicts import HarnessError
from conformance.harness.clients import public_client
from conformance.harness.session import ssl_context
from conformance.network.topology import Network
from conformance.redaction import SECRETS
from conformance.report.paths import ReportPaths
from conformance.run import preflight
from conformance.run.state import RunConfig, TargetRun
from conformance.target import deadline
from mock_servers.callback import CallbackListener
from mock_servers.metadata_host import MetadataHost
from mock_servers.pki import TestCA


class SuiteRun:
    """The shared parts of a run, composed from pieces started elsewhere.

    The pieces (the CA, the network, the metadata host, the callback listeners) are
    started and stopped by whoever made them: the plugin's fixtures, each of which a
    project can use alone or override. The browser is asked for only when a target needs
    it (a target whose discovery fails never starts one).

    Args:
        config: the run's configuration.
        ca: the test CA the metadata host's certificates come from.
        network: the run's network mode, canaries and (in the lab) DNS.
        metadata_host: the running metadata host.
        callback: the running loopback callback listener.
        callback_ipv6: the one on ``[::1]``, where the machine has IPv6 loopback.
        browser: starts (or returns) the run's one browser; called on first use.
    """

    def __init__(
        self,
        config: RunConfig,
        *,
        ca: TestCA,
        network: Network,
        metadata_host: MetadataHost,
        callback: CallbackListener,
        callback_ipv6: CallbackListener | None,
        browser: Callable[[], browser_mod.Browser],
    ) -> None:
        self.config = config
        SECRETS.add(config.password)
        self.ca = ca
        self.tls: ssl.SSLContext = ssl_context(str(self.ca.cert_path))
        if config.target_ca is not None:  # the target's own certificate comes from it
            self.tls.load_verify_locations(cafile=str(config.target_ca))
        self.network = network
        self.metadata_host = metadata_host
        self.callback = callback
        self.callback_ipv6 = callback_ipv6
        if callback_ipv6 is not None:  # the suite's own listener, never a stray connection
            self.network.own.add(("::1", callback_ipv6.port))
        self._start_browser = browser
        self._browser: browser_mod.Browser | None = None
        self.recipe = LoginRecipe.from_options(config.username, config.password, dict(config.login))
        self.paths = ReportPaths.of(config.report_dir, config.issuers)
        self.targets: dict[str, TargetRun] = {}
        # the cookies of each login by the recipe, by the authorization endpoint's origin:
        # a later target there starts with them (see preflight.login)
        self.sign_ins: dict[tuple[str, str, int | None], list[dict[str, Any]]] = {}
        self.started = datetime.now(UTC).isoformat(timespec="seconds")
        self.clock = deadline.Clock(config.limits, run=True)

    def browser_version(self) -> str:
        """The browser's version, once it has started."""
        return self._browser.version if self._browser is not None else ""

    def stop(self) -> None:
        """Close the targets' sessions (the pieces are stopped by whoever started them)."""
        for issuer in self.targets:
            self.release(issuer)

    def release(self, issuer: str) -> None:
        """``issuer``'s checks are done: end what they left running, close its connections.

        What the session logged stays for the report.
        """
        run = self.targets.get(issuer)
        if run is None:
            return
        if run.ahead is not None:
            run.ahead.stop()
        run.head_starts.close()
        if run.session is not None:
            run.session.client.close()
            run.session.cookieless.close()

    @property
    def browser(self) -> browser_mod.Browser:
        """The run's one browser, started on first use."""
        if self._browser is None:
            self._browser = self._start_browser()
        return self._browser

    def screenshot_path(self, label: str, name: str) -> Path:
        """Where a screenshot for ``label`` goes in the report directory."""
        return self.paths.screenshot(label, name)

    def target_run(self, issuer: str) -> TargetRun:
        """The prepared target for ``issuer`` (prepared on first use)."""
        if issuer not in self.targets:
            self.targets[issuer] = preflight.prepare(self, issuer)
        return self.targets[issuer]

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


def host_maps(network: Network, host: MetadataHost) -> tuple[tuple[str, str], ...]:
    """The names the browser must resolve itself to reach the metadata host.

    In the lab the host has DNS names the browser's resolver does not know; behind public
    URLs (a tunnel) the browser reaches the host where it is bound, not through the tunnel.
    """
    if network.is_lab:
        return ((host.host_name, host.address), (host.alias, host.address))
    if host.public is not None:
        local = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(host.address, host.address)  # noqa: S104
        local = f"[{local}]" if ":" in local else local
        return ((host.host_name, f"{local}:{host.port}"),)
    return ()


def start_browser(
    config: RunConfig, ca: TestCA, maps: tuple[tuple[str, str], ...] = ()
) -> browser_mod.Browser:
    """Start the run's Chromium, trusting ``ca`` (and ``--target-ca``), found as configured.

    Raises:
        HarnessError: no Chromium found, no certutil, or the browser did not start.
    """
    return browser_mod.Browser(ca.cert_path, config.browser, maps, config.target_ca).start()
