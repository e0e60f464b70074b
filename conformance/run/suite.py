"""One run of the suite: the shared mock servers, the browser, and each target's preflight.

A run has one metadata host, one callback listener and one browser, whatever the number of
targets. Each target is prepared once (discovery, then one login through the browser) and
its checks reuse that session; a target that cannot be prepared keeps the reason, and every
check on it becomes a harness error that names the fix.
"""

from __future__ import annotations

import ssl
from datetime import UTC, datetime
from pathlib import Path

from conformance.browser import driver as browser_mod
from conformance.catalog.verdicts import HarnessError
from conformance.harness.clients import public_client
from conformance.harness.session import ssl_context
from conformance.network.topology import Network
from conformance.redaction import SECRETS
from conformance.run import preflight
from conformance.run.state import RunConfig, TargetRun
from conformance.target import deadline
from mock_servers.callback import CallbackListener
from mock_servers.canary import can_bind
from mock_servers.metadata_host import MetadataHost
from mock_servers.pki import TestCA


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
