"""The run's network: where the metadata host lives, the canaries, and (in the lab) the DNS.

Three modes:

- **loopback** (default, no privileges): the metadata host is on ``127.0.0.1``, so the target
  can only fetch it with a loopback exception switched on, a development or test setting
  (CIMD-SEC-04). The SSRF checks then score connections to loopback addresses other than the
  metadata host's own (``127.0.0.2``, ``127.9.9.9``, ``0.0.0.0``). Other spellings of the
  metadata host (``2130706433``, ``127.1``, ``[::ffff:7f00:1]``, ``[::1]``, ``localhost``)
  are planted too, but a connection there is within the exception the user had to switch on,
  so it is reported, not scored: SSRF is judged in the lab.
- **lab** (``--lab``, root): the run is inside a private network namespace (see
  :mod:`conformance.network.lab`). The metadata host has a DNS name and an ordinary-looking address,
  so the target runs in its production configuration; canaries sit on RFC 1918, link-local,
  CGNAT, ULA ... addresses, and the lab DNS answers per-check names, including rebinding
  sequences.
- **public-url**: the target reaches the metadata host through public URLs (a tunnel), so it
  runs elsewhere; no canary here can see its connections and the SSRF checks are
  not applicable.
"""

from __future__ import annotations

import bisect
import ipaddress
import itertools
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from cimd_rules.special_use import special_use
from conformance.catalog.verdicts import NonConformance, NotApplicable
from conformance.network import lab
from mock_servers.canary import Canaries, Hit, Plant, can_bind
from mock_servers.lab_dns import Answer, LabDns
from mock_servers.packet_watch import Attempt, PacketWatch

# A connection a target opens in the background (after answering) still counts: a check's
# canaries keep listening this long after it ends, while the run goes on, and the report is
# written only after the last of them closed (late connections fail their check then).
SETTLE_S = 2.0

LOOPBACK = "loopback"
LAB = "lab"
PUBLIC_URL = "public-url"


@dataclass
class Network:
    """The run's network mode, its canaries and its DNS (lab only)."""

    mode: str
    canaries: Canaries
    dns: LabDns | None = None
    packets: PacketWatch | None = None
    _names: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _addresses: itertools.count[int] = field(default_factory=itertools.count)
    _created: list[tuple[float, str]] = field(default_factory=list)
    _run: str = field(default_factory=lambda: secrets.token_hex(2))
    # the suite's own listeners on special-use addresses (the IPv6 callback): never strays
    own: set[tuple[str, int]] = field(default_factory=set)

    @classmethod
    def start(cls, public: bool = False) -> Network:
        """The network of this process: the lab when inside it, else loopback.

        Args:
            public: the target reaches the metadata host through public URLs (a tunnel), so
                it is elsewhere and canaries on this machine cannot see its connections.
        """
        canaries = Canaries().start()
        if not lab.inside():
            return cls(PUBLIC_URL if public else LOOPBACK, canaries)
        dns = LabDns(lab.DNS_ADDRESS, 53)
        dns.address(lab.METADATA_NAME, lab.METADATA_ADDRESS)
        dns.address(lab.ALIAS_NAME, lab.METADATA_ADDRESS)
        return cls(LAB, canaries, dns.start(), PacketWatch(_watched).start())

    def stop(self) -> None:
        """Stop the canaries, the DNS and the packet watch."""
        self.canaries.stop()
        if self.dns is not None:
            self.dns.stop()
        if self.packets is not None:
            self.packets.stop()

    def stray_attempts(self, since: float, until: float | None) -> list[Attempt]:
        """Lab only: attempts to special-use addresses at endpoints no canary listened on."""
        if self.packets is None:
            return []
        planted = {(a, p.port) for p in self.canaries.plants() for a in p.addresses}
        known = planted | self.own
        return [
            a for a in self.packets.attempts(since, until) if (a.destination, a.port) not in known
        ]

    @property
    def is_lab(self) -> bool:
        """Whether the run is in the lab (DNS and special-use canaries available)."""
        return self.mode == LAB

    @property
    def metadata_bind(self) -> tuple[str, str | None, str]:
        """(address, DNS name or None, alias name) for the metadata host."""
        if self.is_lab:
            return lab.METADATA_ADDRESS, lab.METADATA_NAME, lab.ALIAS_NAME
        return "127.0.0.1", None, "localhost"

    @property
    def metadata_port(self) -> int:
        """The metadata host's TLS port: 443 in the lab, else any free port.

        On 443 the default-port spellings of a client URL can be probed (CIMD-URL-08).
        """
        return 443 if self.is_lab else 0

    def new_name(self, stem: str, *answers: Answer) -> str:
        """A fresh lab DNS name answered with ``answers`` (a sequence rebinds in turn)."""
        if self.dns is None:
            raise RuntimeError("lab DNS names exist only in lab mode")
        name = f"{stem}-{self._run}-{next(self._names)}.{lab.ZONE}"
        self.dns.set(name, *answers)
        bisect.insort(self._created, (time.monotonic(), name))  # in time order, for dns_log
        return name

    def dns_log(self, since: float, until: float | None) -> list[str]:
        """Lab only: the queries for the names created in ``[since, until]``, one line each."""
        if self.dns is None:
            return []
        first = bisect.bisect_left(self._created, (since, ""))
        last = (
            len(self._created)
            if until is None
            else bisect.bisect_right(self._created, (until, "\uffff"))
        )
        names = [name for _, name in self._created[first:last]]
        return [
            f"{q.qtype} {q.name} from {q.source}: {', '.join(q.answer) or 'no answer'}"
            for name in names
            for q in self.dns.queries(name)
        ]

    def fresh_address(self, block: int) -> str:
        """An address no other check uses, in ``10.<block>.0.0/16`` (lab only)."""
        if not self.is_lab:
            raise RuntimeError("fresh private addresses exist only in lab mode")
        n = next(self._addresses)
        return f"10.{block}.{n // 250}.{n % 250 + 1}"

    def has(self, address: str) -> bool:
        """Whether a canary can listen on ``address`` here."""
        return can_bind(address)

    def listenable(self, addresses: tuple[str, ...]) -> tuple[str, ...]:
        """The addresses a canary can listen on here (IPv6 may be off in the namespace)."""
        return tuple(a for a in addresses if self.has(a))

    @property
    def observes_target(self) -> bool:
        """Whether canaries here can see the target's connections (it runs on this machine)."""
        return self.mode != PUBLIC_URL

    def require_canaries(self) -> None:
        """Raise NotApplicable when the target's connections cannot be observed here."""
        if not self.observes_target:
            raise NotApplicable(
                "the target reaches the metadata host through a public URL, so it runs "
                "elsewhere and canaries on this machine cannot see its connections; score its "
                "SSRF protection in the lab (--lab with --target-command)"
            )

    def describe(self) -> dict[str, Any]:
        """The mode and what it means, for the report."""
        if self.mode == PUBLIC_URL:
            return {
                "mode": PUBLIC_URL,
                "meaning": (
                    "the target reached the metadata host through the public URLs of the "
                    "target file's [metadata_host]; SSRF checks were not applicable"
                ),
            }
        if self.is_lab:
            return {
                "mode": LAB,
                "meaning": (
                    "the target ran inside the suite's private network namespace with the lab "
                    "DNS; the metadata host was an ordinary public-looking host "
                    f"({lab.METADATA_NAME} = {lab.METADATA_ADDRESS}), so the target ran without "
                    "any loopback exception"
                ),
            }
        return {
            "mode": LOOPBACK,
            "meaning": (
                "the metadata host was on 127.0.0.1, so the target fetched it through a "
                "loopback exception, which CIMD-02 allows only in development and test "
                "deployments (CIMD-SEC-04); SSRF rows are judged in lab mode (--lab): here "
                "they aimed at other loopback addresses only, connections to other spellings "
                "of the metadata host (localhost, [::1], 2130706433 ...) were reported as "
                "within the exception, and checks that need DNS answers were not applicable"
            ),
        }


def _watched(address: str) -> bool:
    """Whether every packet to ``address`` in the lab is evidence.

    Special-use addresses are, except the suite's own loopback services: the target, the
    browser and the suite on 127.0.0.1, and the lab DNS.
    """
    if address in ("127.0.0.1", lab.DNS_ADDRESS):
        return False
    try:
        return special_use(ipaddress.ip_address(address)) is not None
    except ValueError:
        return False


@dataclass
class Planter:
    """One check's canaries: plants them, then verifies none was contacted."""

    network: Network
    check: str
    plants: list[Plant] = field(default_factory=list)
    excepted: list[Plant] = field(default_factory=list)
    what: str = "the special-use hosts planted by this check"
    started: float = field(default_factory=time.monotonic)
    ended: float | None = None

    def plant(
        self, label: str, addresses: Sequence[str], port: int = 0, *, excepted: bool = False
    ) -> Plant:
        """A canary on ``addresses`` for what ``label`` describes.

        Args:
            label: what was planted there, for the evidence.
            addresses: where the canary listens.
            port: its port (0: a fresh one).
            excepted: the host is within the development loopback exception the target runs
                with (loopback mode): a connection is reported, never scored.

        Raises:
            NotApplicable: the target runs elsewhere, so no canary here could see it.
        """
        self.network.require_canaries()
        planted = self.network.canaries.plant(self.check, label, addresses, port)
        self.plants.append(planted)
        if excepted:
            self.excepted.append(planted)
        return planted

    def hits(self) -> list[Hit]:
        """Every connection to this check's canaries so far."""
        return self.network.canaries.hits(self.plants)

    def scored_hits(self) -> list[Hit]:
        """The connections that count: not those within the loopback exception."""
        return [h for h in self.hits() if not any(h.plant is p for p in self.excepted)]

    def verify_untouched(self, what: str) -> None:
        """No canary of this check has seen a connection so far.

        Connections that come later, while the canaries still listen, fail the check when
        the report is written (see :meth:`late_violation`).

        Raises:
            NonConformance: listing every connection, with what had been planted there.
        """
        self.what = what
        self.ended = time.monotonic()
        violation = self._violation(self.scored_hits(), self.strays())
        if violation is not None:
            raise violation

    def strays(self) -> list[Attempt]:
        """Lab only: this check's attempts to special-use endpoints where nothing listened."""
        until = None if self.ended is None else self.ended + SETTLE_S
        return self.network.stray_attempts(self.started, until)

    def _violation(self, hits: list[Hit], strays: list[Attempt]) -> NonConformance | None:
        if not hits and not strays:
            return None
        observed = [f"{len(hits)} connection(s) to canaries"] if hits else []
        observed += [f"{h.plant.label}: {h.describe()}" for h in hits]
        if strays:
            observed.append(f"{len(strays)} attempt(s) where no canary listened")
            observed += [a.describe() for a in strays]
        return NonConformance(
            expected=f"the target never connects to {self.what}", observed="; ".join(observed)
        )

    def late_violation(self, seen: int) -> NonConformance | None:
        """The violation, if more connections arrived than the ``seen`` the check judged."""
        hits, strays = self.scored_hits(), self.strays()
        return self._violation(hits, strays) if len(hits) + len(strays) > seen else None

    def close(self) -> None:
        """Stop this check's canaries after the settle time (in the background)."""
        self.network.canaries.close(self.plants, after=SETTLE_S)

    def evidence(self) -> dict[str, Any]:
        """What was planted and every connection seen, for the report."""
        evidence: dict[str, Any] = {
            "planted": [
                {**p.summary(), "within_loopback_exception": True}
                if any(p is e for e in self.excepted)
                else p.summary()
                for p in self.plants
            ],
            "canary_connections": [h.summary() for h in self.scored_hits()],
        }
        within = [h.summary() for h in self.hits() if h not in self.scored_hits()]
        if self.excepted:
            evidence["within_loopback_exception"] = within
        if self.network.packets is not None:
            evidence["stray_attempts"] = [a.describe() for a in self.strays()]
        if self.network.dns is not None:
            evidence["dns_queries"] = self.network.dns_log(self.started, self.ended)
        return evidence
