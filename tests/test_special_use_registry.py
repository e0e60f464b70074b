"""The special-use tables (``cimd_rules.special_use``) against the registries they come from.

The expected entries are written out here by hand, apart from the table, from:

- the IANA "IPv4 Special-Purpose Address Registry" (iana-ipv4-special-registry) and the IANA
  "IPv6 Special-Purpose Address Registry" (iana-ipv6-special-registry), both created by
  RFC 6890 ("Special-Purpose IP Address Registries") and updated by RFC 8190; the newest
  entries here are 2001:1::3/128 (RFC 9665) and 100:0:0:1::/64 (RFC 9780);
- the multicast blocks: 224.0.0.0/4 from the IANA "IPv4 Multicast Address Space Registry"
  (RFC 5771) and ff00::/8 from the IPv6 addressing architecture (RFC 4291 §2.7);
- two deprecated IPv6 blocks outside the registry that are never public: IPv4-compatible
  addresses (RFC 4291 §2.5.5.1) and site-local addresses (RFC 3879).

The table may refuse a whole registry block instead of listing its sub-entries (192.0.0.0/24
covers 192.0.0.9/32), but every row must be one of these entries, with its registry name, and
every entry must be refused. When IANA adds an entry, add it here first: the test then says
what the table lacks. Nothing here touches the network.
"""

from __future__ import annotations

import ipaddress

import pytest

from cimd_rules.special_use import (
    IPV4,
    IPV4_MAPPED,
    IPV4_TRANSLATED,
    IPV6,
    Block,
    IPAddress,
    special_use,
)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# (address block, name, the RFCs the registry cites), in the registries' order.
IANA_IPV4 = (
    ("0.0.0.0/8", "This network", ("RFC 791",)),
    ("0.0.0.0/32", "This host on this network", ("RFC 1122",)),
    ("10.0.0.0/8", "Private-Use", ("RFC 1918",)),
    ("100.64.0.0/10", "Shared Address Space", ("RFC 6598",)),
    ("127.0.0.0/8", "Loopback", ("RFC 1122",)),
    ("169.254.0.0/16", "Link Local", ("RFC 3927",)),
    ("172.16.0.0/12", "Private-Use", ("RFC 1918",)),
    ("192.0.0.0/24", "IETF Protocol Assignments", ("RFC 6890",)),
    ("192.0.0.0/29", "IPv4 Service Continuity Prefix", ("RFC 7335",)),
    ("192.0.0.8/32", "IPv4 dummy address", ("RFC 7600",)),
    ("192.0.0.9/32", "Port Control Protocol Anycast", ("RFC 7723",)),
    ("192.0.0.10/32", "Traversal Using Relays around NAT Anycast", ("RFC 8155",)),
    ("192.0.0.170/32", "NAT64/DNS64 Discovery", ("RFC 8880", "RFC 7050")),
    ("192.0.0.171/32", "NAT64/DNS64 Discovery", ("RFC 8880", "RFC 7050")),
    ("192.0.2.0/24", "Documentation (TEST-NET-1)", ("RFC 5737",)),
    ("192.31.196.0/24", "AS112-v4", ("RFC 7535",)),
    ("192.52.193.0/24", "AMT", ("RFC 7450",)),
    ("192.88.99.0/24", "Deprecated (6to4 Relay Anycast)", ("RFC 7526",)),
    ("192.88.99.2/32", "6a44-relay anycast address", ("RFC 6751",)),
    ("192.168.0.0/16", "Private-Use", ("RFC 1918",)),
    ("192.175.48.0/24", "Direct Delegation AS112 Service", ("RFC 7534",)),
    ("198.18.0.0/15", "Benchmarking", ("RFC 2544",)),
    ("198.51.100.0/24", "Documentation (TEST-NET-2)", ("RFC 5737",)),
    ("203.0.113.0/24", "Documentation (TEST-NET-3)", ("RFC 5737",)),
    ("240.0.0.0/4", "Reserved", ("RFC 1112",)),
    ("255.255.255.255/32", "Limited Broadcast", ("RFC 8190", "RFC 919")),
)

IANA_IPV6 = (
    ("::1/128", "Loopback Address", ("RFC 4291",)),
    ("::/128", "Unspecified Address", ("RFC 4291",)),
    ("::ffff:0:0/96", "IPv4-mapped Address", ("RFC 4291",)),
    ("64:ff9b::/96", "IPv4-IPv6 Translat.", ("RFC 6052",)),
    ("64:ff9b:1::/48", "IPv4-IPv6 Translat.", ("RFC 8215",)),
    ("100::/64", "Discard-Only Address Block", ("RFC 6666",)),
    ("100:0:0:1::/64", "Dummy IPv6 Prefix", ("RFC 9780",)),
    ("2001::/23", "IETF Protocol Assignments", ("RFC 2928",)),
    ("2001::/32", "TEREDO", ("RFC 4380", "RFC 8190")),
    ("2001:1::1/128", "Port Control Protocol Anycast", ("RFC 7723",)),
    ("2001:1::2/128", "Traversal Using Relays around NAT Anycast", ("RFC 8155",)),
    ("2001:1::3/128", "DNS-SD Service Registration Protocol Anycast Address", ("RFC 9665",)),
    ("2001:2::/48", "Benchmarking", ("RFC 5180",)),
    ("2001:3::/32", "AMT", ("RFC 7450",)),
    ("2001:4:112::/48", "AS112-v6", ("RFC 7535",)),
    ("2001:10::/28", "Deprecated (previously ORCHID)", ("RFC 4843",)),
    ("2001:20::/28", "ORCHIDv2", ("RFC 7343",)),
    ("2001:30::/28", "Drone Remote ID Protocol Entity Tags (DETs) Prefix", ("RFC 9374",)),
    ("2001:db8::/32", "Documentation", ("RFC 3849",)),
    ("2002::/16", "6to4", ("RFC 3056",)),
    ("2620:4f:8000::/48", "Direct Delegation AS112 Service", ("RFC 7534",)),
    ("3fff::/20", "Documentation", ("RFC 9637",)),
    ("5f00::/16", "Segment Routing (SRv6) SIDs", ("RFC 9602",)),
    ("fc00::/7", "Unique-Local", ("RFC 4193", "RFC 8190")),
    ("fe80::/10", "Link-Local Unicast", ("RFC 4291",)),
)

# Blocks refused although the special-purpose registries do not list them.
ADDITIONS = (
    ("224.0.0.0/4", "Multicast", ("RFC 5771",)),
    ("::/96", "Deprecated (IPv4-compatible Address)", ("RFC 4291",)),
    ("fec0::/10", "Deprecated (Site-Local)", ("RFC 3879",)),
    ("ff00::/8", "Multicast", ("RFC 4291",)),
)

# Registry blocks whose last 32 bits are an IPv4 address: judged by that address.
EMBEDDING = ("::ffff:0:0/96", "64:ff9b::/96")

EXPECTED = {net: (name, rfcs) for net, name, rfcs in (*IANA_IPV4, *IANA_IPV6, *ADDITIONS)}
ROWS = (*IPV4, *IPV6, *IPV4_MAPPED, *IPV4_TRANSLATED)


def _networks(rows: tuple[tuple[str, str, tuple[str, ...]], ...]) -> list[Network]:
    return [ipaddress.ip_network(net) for net, _, _ in rows]


V4_BLOCKS = [n for n in _networks((*IANA_IPV4, *ADDITIONS)) if n.version == 4]
V6_BLOCKS = [
    n for n in _networks((*IANA_IPV6, *ADDITIONS)) if n.version == 6 and str(n) not in EMBEDDING
]
EMBEDDING_BLOCKS = [ipaddress.IPv6Network(net) for net in EMBEDDING]


def expected_refused(address: IPAddress) -> bool:
    """Whether the registries (written out above, not the table) make ``address`` special."""
    if isinstance(address, ipaddress.IPv4Address):
        return any(address in block for block in V4_BLOCKS)
    if any(address in block for block in EMBEDDING_BLOCKS):
        return expected_refused(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return any(address in block for block in V6_BLOCKS)


@pytest.mark.parametrize("row", ROWS, ids=lambda row: str(row.network))
def test_every_row_is_a_registry_entry_with_its_name(row: Block) -> None:
    assert str(row.network) in EXPECTED, f"{row.network} is in no registry"
    name, rfcs = EXPECTED[str(row.network)]
    assert (row.name, row.rfc in rfcs) == (name, True), f"the registry says {name}, {rfcs}"


@pytest.mark.parametrize("entry", [*IANA_IPV4, *IANA_IPV6, *ADDITIONS], ids=lambda e: e[0])
def test_every_registry_entry_is_refused_whole(entry: tuple[str, str, tuple[str, ...]]) -> None:
    network = ipaddress.ip_network(entry[0])
    if entry[0] in EMBEDDING:
        wrappers = {str(row.network) for row in (*IPV4_MAPPED, *IPV4_TRANSLATED)}
        assert entry[0] in wrappers
        return
    table = IPV4 if network.version == 4 else IPV6
    covering = [row for row in table if network.subnet_of(row.network)]  # type: ignore[arg-type]
    assert covering, f"no row of the table covers {network} ({entry[1]})"


def _edges(network: Network) -> list[IPAddress]:
    first, last = network.network_address, network.broadcast_address
    top = 2**network.max_prefixlen - 1
    edges: list[IPAddress] = [first, last]
    if int(first) > 0:
        edges.append(first - 1)
    if int(last) < top:
        edges.append(last + 1)
    return edges


@pytest.mark.parametrize(
    "network",
    [*V4_BLOCKS, *V6_BLOCKS, *EMBEDDING_BLOCKS],
    ids=str,
)
def test_block_boundaries(network: Network) -> None:
    """The first and last address of each block and the addresses either side of it."""
    for address in _edges(network):
        expected = expected_refused(address)
        assert (special_use(address) is not None) == expected, (
            f"{address} ({'inside' if address in network else 'outside'} {network}) should "
            f"{'' if expected else 'not '}be special-use"
        )


@pytest.mark.parametrize("network", V4_BLOCKS, ids=str)
def test_embedded_ipv4_judged_by_its_ipv4_block(network: ipaddress.IPv4Network) -> None:
    for embedding in EMBEDDING_BLOCKS:
        for inner in (network.network_address, network.broadcast_address):
            outer = ipaddress.IPv6Address(int(embedding.network_address) | int(inner))
            assert special_use(outer) is not None, f"{outer} embeds {inner}"


@pytest.mark.parametrize(
    "address", ["1.1.1.1", "8.8.8.8", "93.184.215.14", "2606:4700::1111", "2a00:1450::1"]
)
def test_public_addresses_and_their_embeddings_are_not_special(address: str) -> None:
    plain = ipaddress.ip_address(address)
    forms: list[IPAddress] = [plain]
    if isinstance(plain, ipaddress.IPv4Address):
        forms += [
            ipaddress.IPv6Address(int(b.network_address) | int(plain)) for b in EMBEDDING_BLOCKS
        ]
    assert [str(f) for f in forms if special_use(f) is not None] == []
