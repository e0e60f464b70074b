"""The special-use address blocks, and which block an address falls in.

An authorization server must never fetch a client document (or a URL named in one) from a
special-use address (CIMD-02 §8.6). The reference AS refuses every address in these blocks
(``mock_servers.reference_as.ssrf``); in the lab the suite counts every packet to them as
evidence (``conformance.network.topology``).

Sources: the IANA IPv4 Special-Purpose Address Registry
(https://www.iana.org/assignments/iana-ipv4-special-registry/) and the IANA IPv6
Special-Purpose Address Registry
(https://www.iana.org/assignments/iana-ipv6-special-registry/), both created by RFC 6890 and
updated by RFC 8190; plus the multicast blocks from the IPv4 (RFC 5771) and IPv6 (RFC 4291)
multicast address space registries, and two deprecated IPv6 blocks that are never public.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import NamedTuple

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class Block(NamedTuple):
    """One special-use block: its addresses, its registry name and the RFC that assigned it."""

    network: ipaddress.IPv4Network | ipaddress.IPv6Network
    name: str
    rfc: str


def _table(*rows: tuple[str, str, str]) -> tuple[Block, ...]:
    return tuple(Block(ipaddress.ip_network(net), name, rfc) for net, name, rfc in rows)


# Every row is refused. Some registry entries are marked globally reachable (AS112, AMT, the
# 192.0.0.0/24 anycast /32s, the 2001::/23 sub-blocks); an AS has no business fetching client
# documents from them, so whole blocks are refused rather than carving out exceptions.
IPV4 = _table(
    ("0.0.0.0/8", "This network", "RFC 791"),
    ("10.0.0.0/8", "Private-Use", "RFC 1918"),
    ("100.64.0.0/10", "Shared Address Space", "RFC 6598"),
    ("127.0.0.0/8", "Loopback", "RFC 1122"),
    ("169.254.0.0/16", "Link Local", "RFC 3927"),
    ("172.16.0.0/12", "Private-Use", "RFC 1918"),
    ("192.0.0.0/24", "IETF Protocol Assignments", "RFC 6890"),
    ("192.0.2.0/24", "Documentation (TEST-NET-1)", "RFC 5737"),
    ("192.31.196.0/24", "AS112-v4", "RFC 7535"),
    ("192.52.193.0/24", "AMT", "RFC 7450"),
    ("192.88.99.0/24", "Deprecated (6to4 Relay Anycast)", "RFC 7526"),
    ("192.168.0.0/16", "Private-Use", "RFC 1918"),
    ("192.175.48.0/24", "Direct Delegation AS112 Service", "RFC 7534"),
    ("198.18.0.0/15", "Benchmarking", "RFC 2544"),
    ("198.51.100.0/24", "Documentation (TEST-NET-2)", "RFC 5737"),
    ("203.0.113.0/24", "Documentation (TEST-NET-3)", "RFC 5737"),
    ("224.0.0.0/4", "Multicast", "RFC 5771"),
    ("240.0.0.0/4", "Reserved", "RFC 1112"),
    ("255.255.255.255/32", "Limited Broadcast", "RFC 919"),
)

# Blocks whose last 32 bits are an IPv4 address that decides the verdict instead.
IPV4_MAPPED = _table(("::ffff:0:0/96", "IPv4-mapped Address", "RFC 4291"))
IPV4_TRANSLATED = _table(("64:ff9b::/96", "IPv4-IPv6 Translat.", "RFC 6052"))

# Order matters where blocks nest: the first match names the verdict.
IPV6 = _table(
    ("::1/128", "Loopback Address", "RFC 4291"),
    ("::/128", "Unspecified Address", "RFC 4291"),
    ("::/96", "Deprecated (IPv4-compatible Address)", "RFC 4291"),
    ("64:ff9b:1::/48", "IPv4-IPv6 Translat.", "RFC 8215"),
    ("100::/64", "Discard-Only Address Block", "RFC 6666"),
    ("100:0:0:1::/64", "Dummy IPv6 Prefix", "RFC 9780"),
    ("2001::/32", "TEREDO", "RFC 4380"),
    ("2001::/23", "IETF Protocol Assignments", "RFC 2928"),
    ("2001:db8::/32", "Documentation", "RFC 3849"),
    ("2002::/16", "6to4", "RFC 3056"),
    ("2620:4f:8000::/48", "Direct Delegation AS112 Service", "RFC 7534"),
    ("3fff::/20", "Documentation", "RFC 9637"),
    ("5f00::/16", "Segment Routing (SRv6) SIDs", "RFC 9602"),
    ("fc00::/7", "Unique-Local", "RFC 4193"),
    ("fe80::/10", "Link-Local Unicast", "RFC 4291"),
    # Not in the registry, but deprecated site-local addresses are never public (RFC 3879).
    ("fec0::/10", "Deprecated (Site-Local)", "RFC 3879"),
    ("ff00::/8", "Multicast", "RFC 4291"),
)


def _match(address: IPAddress, table: Iterable[Block]) -> Block | None:
    return next((block for block in table if address in block.network), None)


def classify(address: IPAddress, *, recognise_mapped: bool = True) -> Block | None:
    """The special-use block ``address`` falls in, or ``None`` for an ordinary address.

    An IPv4-mapped (``::ffff:0:0/96``) or translated (``64:ff9b::/96``) address is judged by
    the IPv4 address in its last 32 bits, and named after both blocks, e.g.
    ``Private-Use in IPv4-mapped Address``. A ``%scope`` changes no verdict.

    Args:
        address: the address to judge.
        recognise_mapped: ``False`` judges an IPv4-mapped address by the IPv6 table alone,
            the mistake the reference AS's ``ssrf-mapped-ipv6`` fault makes.
    """
    if isinstance(address, ipaddress.IPv4Address):
        return _match(address, IPV4)
    plain = ipaddress.IPv6Address(int(address))  # drops a %scope
    wrappers = (*IPV4_MAPPED, *IPV4_TRANSLATED) if recognise_mapped else IPV4_TRANSLATED
    outer = _match(plain, wrappers)
    if outer is None:
        return _match(plain, IPV6)
    inner = _match(ipaddress.IPv4Address(int(plain) & 0xFFFFFFFF), IPV4)
    if inner is None:
        return None
    return Block(outer.network, f"{inner.name} in {outer.name}", inner.rfc)


def special_use(address: IPAddress, *, recognise_mapped: bool = True) -> str | None:
    """Name the special-use block ``address`` falls in.

    Args:
        address: the address to judge.
        recognise_mapped: as for :func:`classify`.

    Returns:
        The block, e.g. ``Loopback (RFC 1122)``, when the address must not be fetched from;
        ``None`` when it may.
    """
    block = classify(address, recognise_mapped=recognise_mapped)
    return None if block is None else f"{block.name} ({block.rfc})"
