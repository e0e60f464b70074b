"""The configuration of one issuer served by the reference AS."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from .client_tests import check_client_tests
from .faults import F, Fault, FaultSet
from .ssrf import SsrfPolicy
from .variants import check_variant_names

DEFAULT_USER = "alice"
DEFAULT_PASSWORD = "wonderland-test-only"  # noqa: S105 - a published test credential, not a secret
# Development mode's loopback exception (CIMD-02 §8.6 allows one only in dev/test): exactly
# this host string, as written in the URL, may be fetched although it is special-use.
DEV_EXEMPT_HOSTS = frozenset({"127.0.0.1"})

# Non-empty segments of unreserved characters, so the prefix can be used verbatim in paths,
# well-known URLs (RFC 8414 §3.1 path insertion) and cookie names.
_PREFIX = re.compile(r"(?:/[A-Za-z0-9._~-]+)*")


@dataclass(frozen=True)
class IssuerConfig:
    """One issuer: its identifier, where it lives in the app, and which faults it has.

    Attributes:
        issuer: the issuer identifier, e.g. ``https://127.0.0.1:8443/faults/drops-state``.
        path_prefix: ``""`` for a root issuer, else the issuer's path, e.g. ``/faults/x``.
        faults: the faults switched on, e.g. ``FaultSet([F.DROPS_STATE])`` (see
            :class:`~.faults.F`).
        trust_ca: the CA bundle trusted when fetching documents; ``None`` uses the system's.
        user: the one test user's name.
        password: the test user's password.
        fetch_timeout_s: the total time a document fetch may take.
        max_document_bytes: the most bytes read from a document; more is an error.
        exempt_hosts: URL hosts fetched despite being special-use (the development loopback
            exception); empty in production mode, where every special-use address is refused.
        variants: names of the variants switched on (see :data:`~.variants.VARIANTS`).
        rate_interval_s: ``rate-limited``: the least time between two fetches for one client.
        rate_budget: ``rate-limited``: the most fetches per origin within ``rate_window_s``.
        rate_window_s: ``rate-limited``: the window the per-origin budget counts over.
        upstream_origin: ``upstream-login``: the upstream identity provider's origin.
        upstream_key: ``upstream-login``: the key the provider signs its assertions with.
        resources: the protected resources (RFC 8707 resource indicators) this issuer
            issues tokens for; empty means the MCP endpoint on the issuer's own origin,
            ``<origin>/mcp``.
        require_par: publish ``require_pushed_authorization_requests: true`` and refuse
            authorization requests that do not come through PAR (RFC 9126 §5).
        client_tests: names of the client tests switched on (see
            :data:`~.client_tests.CLIENT_TESTS`): misbehaviours a correct client refuses.
    """

    issuer: str
    path_prefix: str = ""
    faults: FaultSet = field(default_factory=FaultSet)
    trust_ca: Path | None = None
    user: str = DEFAULT_USER
    password: str = DEFAULT_PASSWORD
    fetch_timeout_s: float = 2.0
    max_document_bytes: int = 5120
    exempt_hosts: frozenset[str] = DEV_EXEMPT_HOSTS
    variants: frozenset[str] = field(default_factory=frozenset)
    rate_interval_s: float = 1.0
    rate_budget: int = 30
    rate_window_s: float = 60.0
    upstream_origin: str = ""
    upstream_key: bytes = field(default=b"", repr=False)
    resources: tuple[str, ...] = ()
    require_par: bool = False
    client_tests: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        if not isinstance(self.faults, FaultSet):
            raise TypeError("faults must be a FaultSet, e.g. FaultSet([F.DROPS_STATE])")
        check_variant_names(self.variants)
        check_client_tests(self.client_tests)
        if self.is_variant("upstream-login") and not (self.upstream_origin and self.upstream_key):
            raise ValueError("upstream-login needs upstream_origin and upstream_key")
        if self.rate_interval_s < 0 or self.rate_budget < 1 or self.rate_window_s <= 0:
            raise ValueError("rate limits: interval >= 0, budget >= 1 and window > 0")
        if not _PREFIX.fullmatch(self.path_prefix):
            raise ValueError(f"path_prefix must be '' or like '/faults/x': {self.path_prefix!r}")
        if not self.issuer.endswith(self.path_prefix) or self.issuer.endswith("/"):
            raise ValueError("issuer must end with path_prefix and have no trailing '/'")

    @property
    def production(self) -> bool:
        """Whether no loopback exception is configured."""
        return not self.exempt_hosts

    def ssrf_policy(self) -> SsrfPolicy:
        """The address checks for fetching client documents, with this issuer's faults."""
        return SsrfPolicy(
            enabled=not self.has(F.NO_SSRF_CHECK),
            exempt_hosts=self.exempt_hosts,
            check_names=not self.has(F.SSRF_LITERALS_ONLY),
            recognise_mapped=not self.has(F.SSRF_MAPPED_IPV6),
            pin=not self.has(F.SSRF_REBINDING),
        )

    def has(self, fault: Fault) -> bool:
        """Whether ``fault`` (a constant of :class:`~.faults.F`) is switched on."""
        return self.faults.has(fault)

    def client_test(self, name: str) -> bool:
        """Whether the named client test is switched on."""
        return name in check_client_tests((name,)) & self.client_tests

    def is_variant(self, variant: str) -> bool:
        """Whether the named variant is switched on."""
        return variant in self.variants

    @property
    def protected_resources(self) -> tuple[str, ...]:
        """The resource indicators this issuer accepts (RFC 8707 §2).

        ``resources``, or else the MCP endpoint on the issuer's origin.
        """
        if self.resources:
            return self.resources
        scheme, _, rest = self.issuer.partition("://")
        return (f"{scheme}://{rest.split('/', 1)[0]}/mcp",)

    @property
    def issuer_id(self) -> str:
        """The issuer identifier as published.

        ``issuer``, with a ``/`` under the ``trailing-slash-issuer`` variant (the endpoints
        still hang off ``issuer``).
        """
        return self.issuer + "/" if self.is_variant("trailing-slash-issuer") else self.issuer
