"""The shared rules besides the address tables: loopback spellings and secret parameters.

``tests/test_special_use_registry.py`` holds the address tables against the IANA registries.
"""

from __future__ import annotations

import ipaddress
import socket

import pytest

from cimd_rules.loopback import IPV4_LOOPBACK_SPELLINGS, Spelling
from cimd_rules.secret_params import SECRET_PARAMS
from conformance.redaction import redact_url
from mock_servers.hosting import redact_secret_params

LOOPBACK = ipaddress.IPv4Address("127.0.0.1")
VALUE = "s3cret-value-42"


@pytest.mark.parametrize("spelling", IPV4_LOOPBACK_SPELLINGS, ids=lambda s: s.host)
def test_each_spelling_is_127_0_0_1(spelling: Spelling) -> None:
    host = spelling.host
    if host.startswith("["):
        assert ipaddress.IPv6Address(host[1:-1]).ipv4_mapped == LOOPBACK
    else:
        # inet_aton reads the host as the system resolver does, without any lookup
        assert ipaddress.IPv4Address(socket.inet_aton(host)) == LOOPBACK


@pytest.mark.parametrize(
    "spelling",
    [s for s in IPV4_LOOPBACK_SPELLINGS if not s.host.startswith("[")],
    ids=lambda s: s.host,
)
def test_ipv4_spellings_are_names_to_a_strict_parser(spelling: Spelling) -> None:
    with pytest.raises(ValueError):
        ipaddress.ip_address(spelling.host)


def test_spellings_are_distinct_and_described() -> None:
    hosts = [s.host for s in IPV4_LOOPBACK_SPELLINGS]
    assert len(set(hosts)) == len(hosts)
    assert "127.0.0.1" not in hosts
    assert all("127.0.0.1" in s.what for s in IPV4_LOOPBACK_SPELLINGS)


@pytest.mark.parametrize("name", SECRET_PARAMS)
def test_both_sides_redact_every_secret_parameter(name: str) -> None:
    url = f"https://client.test/cb?state=ok&{name}={VALUE}#{name}={VALUE}"
    logged, reported = redact_secret_params(url), redact_url(url)
    assert VALUE not in logged and "state=ok" in logged
    assert VALUE not in reported and "state=ok" in reported
