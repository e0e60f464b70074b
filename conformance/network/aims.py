"""Where the SSRF checks aim: special-use hosts, and where a connection to each one lands.

Default mode has loopback only: other loopback addresses, ``[::1]``, ``0.0.0.0``, other
spellings of ``127.0.0.1`` and ``localhost``. There the target runs with a development loopback
exception for the metadata host on ``127.0.0.1``; an aim that is that same host in another
spelling (``2130706433``, ``127.1``, ``[::ffff:7f00:1]``, ``localhost``, ``[::1]``) lies within
the exception the user had to switch on, so a connection there is reported, never scored. The
lab adds special-use addresses of every kind, behind fresh lab DNS names, and judges them all.
"""

from __future__ import annotations

from dataclasses import dataclass

from cimd_rules.loopback import IPV4_LOOPBACK_SPELLINGS
from conformance.network import lab
from conformance.network.topology import Network
from mock_servers.lab_dns import Answer


@dataclass(frozen=True)
class Aim:
    """A URL host to plant and where a connection to it lands (the canary's addresses).

    ``listen`` is empty when no canary can listen there (the address cannot be bound: a
    broadcast or link-local address); the check then rests on the refusal alone.
    """

    name: str
    host: str
    listen: tuple[str, ...]
    excepted: bool = False

    @property
    def judged(self) -> bool:
        """Whether a connection or an acceptance here counts against the target."""
        return not self.excepted


def _loopback_host(name: str, host: str, listen: tuple[str, ...], network: Network) -> Aim:
    """An aim that is the metadata host's own loopback host in another spelling.

    Outside the lab the target fetches the metadata host through a loopback exception; the
    same host written another way is within it (judged in the lab, where no exception is on).
    """
    return Aim(name, host, listen, excepted=not network.is_lab)


def loopback_literals(network: Network) -> list[Aim]:
    """Special-use IP literals (catalog row CIMD-SEC-02) with a canary behind each."""
    aims = [
        Aim("127.0.0.2 (another loopback address)", "127.0.0.2", ("127.0.0.2",)),
        Aim("127.9.9.9 (another loopback address)", "127.9.9.9", ("127.9.9.9",)),
        Aim("0.0.0.0 (reaches this host)", "0.0.0.0", ("127.0.0.1",)),  # noqa: S104 - a URL host
    ]
    aims += [
        _loopback_host(f"{s.host} ({s.what})", s.host, ("127.0.0.1",), network)
        for s in IPV4_LOOPBACK_SPELLINGS
    ]
    if network.has("::1"):
        aims.append(_loopback_host("[::1] (the IPv6 loopback)", "[::1]", ("::1",), network))
    if network.is_lab:
        lab_aims = [
            Aim("127.0.0.1", "127.0.0.1", ("127.0.0.1",)),
            Aim("10.0.0.1", "10.0.0.1", ("10.0.0.1",)),
            Aim("169.254.169.254", "169.254.169.254", ("169.254.169.254",)),
            Aim(
                "[0:0:0:0:0:ffff:a9fe:a9fe] (IPv4-mapped 169.254.169.254)",
                "[0:0:0:0:0:ffff:a9fe:a9fe]",
                ("169.254.169.254",),
            ),
            Aim("[fc00::1]", "[fc00::1]", ("fc00::1",)),
        ]
        aims += [Aim(a.name, a.host, network.listenable(a.listen)) for a in lab_aims]
    return aims


# Special-use answers for lab names (catalog row CIMD-SEC-01), and where a connection lands.
_SPECIAL_ANSWERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    *((a.address, (a.address,)) for a in lab.CANARY_ADDRESSES),
    ("0.0.0.0", ("127.0.0.1",)),  # noqa: S104 - a DNS answer, not a bind address
    ("255.255.255.255", ()),
    ("::", ("::1",)),
    ("::ffff:127.0.0.1", ("127.0.0.1",)),
)


def special_names(network: Network) -> list[Aim]:
    """Host names that resolve to special-use addresses (CIMD-SEC-01).

    ``localhost`` in default mode; in the lab, one fresh name per special-use answer.
    """
    if not network.is_lab:
        both = ("127.0.0.1", "::1")
        listen: tuple[str, ...] = both if network.has("::1") else both[:1]
        # only names the hosts file answers: anything else would become a DNS query that
        # leaves the machine (even "localhost." goes to DNS); the lab has its own DNS
        return [_loopback_host("localhost", "localhost", listen, network)]
    aims = []
    for address, listen in _SPECIAL_ANSWERS:
        host = network.new_name("sec01", Answer((address,)))
        aims.append(Aim(f"a name resolving to {address}", host, network.listenable(listen)))
    return aims
