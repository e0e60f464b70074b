"""What a run is given (:class:`RunConfig`) and what it keeps per target (:class:`TargetRun`)."""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from conformance.browser import driver as browser_mod
from conformance.browser.recipe import LoginRecipe
from conformance.catalog.verdicts import HarnessError
from conformance.harness.ahead import RunAhead
from conformance.harness.head_start import HeadStarts
from conformance.harness.session import TargetSession
from conformance.report.paths import DEFAULT_ROOT, label_for
from conformance.run.cookie_sync import CookieSync
from conformance.target import deadline
from conformance.target.discovery import Target
from conformance.target.pacing import Pacing
from mock_servers.metadata_host import MetadataHost, PublicUrls
from mock_servers.pki import TestCA

__all__ = ["RunConfig", "Suite", "TargetRun", "label_for"]


@dataclass(frozen=True)
class RunConfig:
    """Everything a run needs to know, from the command line or pytest options.

    Both build it with :func:`conformance.run.options.run_config`.
    """

    issuers: tuple[str, ...] = ()
    report_dir: Path = DEFAULT_ROOT
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
    # issuer -> the requirement IDs it is judged on (a targeted fault matrix); others: all
    judge_only: dict[str, list[str]] | None = None
    # requirement IDs or prefixes (CIMD-DOC, MCP-AUTH-10): only their checks run (partial)
    only: tuple[str, ...] = ()
    mcp_proxy: bool = False  # the target is an MCP proxy acting as an AS (CIMD-UI-07 applies)
    mcp_journey: str | None = None  # the MCP server the mock MCP client journeys to
    mcp_mock: bool = False  # that MCP server is the suite's mock MCP server
    pacing: Pacing = field(default_factory=Pacing)
    target_version: str | None = None  # the target's version as the user gave it, reported
    limits: deadline.Limits = field(default_factory=deadline.Limits)
    serial: bool = False  # every check in its turn: none runs ahead in a worker thread


@dataclass
class TargetRun:
    """One target in a run: its discovery, its logged-in session, or why it has neither."""

    issuer: str
    label: str
    target: Target | None = None
    session: TargetSession | None = None
    preflight_error: str = ""
    login_context: Any = None
    cookies: CookieSync = field(default_factory=CookieSync)
    """What the browser's and the HTTP session's cookies agreed on at the last hand-over."""
    preflight: dict[str, Any] = field(default_factory=dict)
    gone: str = ""
    """Why the target no longer answers (every remaining check is a harness error)."""
    head_starts: HeadStarts = field(default_factory=HeadStarts)
    """The first parts of checks that wait, run when the target's checks begin."""
    ahead: RunAhead | None = None
    """The worker that runs plain-HTTP checks ahead of their turn (None: not begun, or serial)."""

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


class Suite(Protocol):
    """What a target's preflight and browser flows use of the run (:class:`SuiteRun`)."""

    config: RunConfig
    ca: TestCA
    tls: ssl.SSLContext
    metadata_host: MetadataHost
    recipe: LoginRecipe
    clock: deadline.Clock
    sign_ins: dict[tuple[str, str, int | None], list[dict[str, Any]]]  # cookies by origin
    targets: dict[str, TargetRun]  # the targets prepared so far, in order

    @property
    def browser(self) -> browser_mod.Browser:
        """The run's one browser."""
        ...

    def screenshot_path(self, label: str, name: str) -> Path:
        """Where a screenshot for ``label`` goes."""
        ...
