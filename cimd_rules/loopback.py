"""127.0.0.1 written as URL hosts that a strict address parser does not read as 127.0.0.1.

``ipaddress.ip_address`` (and an AS that checks only what it parses as an IP literal) reads
none of the IPv4 spellings as an address: they are names, and the system resolver then reads
them the way ``inet_aton`` does, as 127.0.0.1. The suite plants them in SSRF checks
(``conformance.network.aims``); the reference AS must refuse every one
(``mock_servers.reference_as.ssrf``).
"""

from __future__ import annotations

from typing import NamedTuple


class Spelling(NamedTuple):
    """One way to write 127.0.0.1 as a URL host."""

    host: str
    """The host as written in a URL (an IPv6 literal keeps its brackets)."""
    what: str
    """How it writes 127.0.0.1, for reports."""


IPV4_LOOPBACK_SPELLINGS = (
    Spelling("2130706433", "127.0.0.1 as one number"),
    Spelling("0x7f000001", "127.0.0.1 in hex"),
    Spelling("0177.0.0.1", "127.0.0.1 in octal"),
    Spelling("127.1", "127.0.0.1 shortened"),
    Spelling("[::ffff:7f00:1]", "IPv4-mapped 127.0.0.1"),
)
