"""The lab DNS: authoritative answers, rebinding sequences, CNAMEs, TCP, and the query log."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
from dnslib import QTYPE, RCODE, DNSRecord

from conformance.network.topology import LAB, Network
from mock_servers.canary import Canaries
from mock_servers.lab_dns import Answer, LabDns


@pytest.fixture
def dns() -> Iterator[LabDns]:
    with LabDns("127.0.0.1", 0) as server:
        yield server
        server.raise_crash()


def ask(dns: LabDns, name: str, qtype: str = "A", *, tcp: bool = False) -> Any:
    question = DNSRecord.question(name, qtype)
    return DNSRecord.parse(question.send(dns.host, dns.port, tcp=tcp, timeout=5))


def served(reply: Any) -> list[str]:
    return [f"{QTYPE[rr.rtype]} {rr.rdata}" for rr in reply.rr]


def test_answers_a_with_the_address_set_and_ttl_zero(dns: LabDns) -> None:
    dns.address("client.lab.test", "127.0.0.1")

    reply = ask(dns, "client.lab.test")

    assert reply.header.rcode == RCODE.NOERROR
    assert reply.header.aa == 1
    assert reply.header.ra == 0
    assert served(reply) == ["A 127.0.0.1"]
    assert [rr.ttl for rr in reply.rr] == [0]


def test_names_are_case_insensitive_and_the_trailing_dot_optional(dns: LabDns) -> None:
    dns.address("Client.LAB.test.", "127.0.0.2")

    assert served(ask(dns, "client.lab.TEST")) == ["A 127.0.0.2"]
    assert dns.queries("CLIENT.lab.test.")[0].name == "client.lab.test"


def test_a_and_aaaa_each_get_their_own_family(dns: LabDns) -> None:
    dns.address("dual.lab.test", "10.0.0.1", "::1", "fe80::1", ttl=30)

    assert served(ask(dns, "dual.lab.test", "A")) == ["A 10.0.0.1"]
    aaaa = ask(dns, "dual.lab.test", "AAAA")
    assert served(aaaa) == ["AAAA ::1", "AAAA fe80::1"]
    assert [rr.ttl for rr in aaaa.rr] == [30, 30]


def test_ipv4_mapped_ipv6_is_served_as_aaaa(dns: LabDns) -> None:
    dns.address("mapped.lab.test", "::ffff:127.0.0.1")

    assert served(ask(dns, "mapped.lab.test", "AAAA")) == ["AAAA ::ffff:7f00:1"]
    assert dns.queries("mapped.lab.test")[0].answer == ["::ffff:127.0.0.1"]


def test_mixed_public_and_private_addresses_are_served_together(dns: LabDns) -> None:
    dns.address("mixed.lab.test", "11.0.0.10", "10.0.0.1")

    assert served(ask(dns, "mixed.lab.test")) == ["A 11.0.0.10", "A 10.0.0.1"]


def test_unknown_names_are_nxdomain_even_when_recursion_is_desired(dns: LabDns) -> None:
    dns.address("known.lab.test", "127.0.0.1")

    reply = ask(dns, "example.com")

    assert reply.header.rd == 1
    assert reply.header.rcode == RCODE.NXDOMAIN
    assert reply.header.aa == 1
    assert reply.header.ra == 0
    assert reply.rr == []


def test_aaaa_of_an_ipv4_only_name_is_nodata(dns: LabDns) -> None:
    dns.address("v4only.lab.test", "127.0.0.1")

    reply = ask(dns, "v4only.lab.test", "AAAA")

    assert reply.header.rcode == RCODE.NOERROR
    assert reply.rr == []


def test_other_query_types_of_a_known_name_are_nodata(dns: LabDns) -> None:
    dns.address("known.lab.test", "127.0.0.1")

    for qtype in ("MX", "TXT", "CNAME"):
        reply = ask(dns, "known.lab.test", qtype)
        assert (reply.header.rcode, reply.rr) == (RCODE.NOERROR, [])


def test_rebinding_sequence_advances_per_query_type(dns: LabDns) -> None:
    dns.set(
        "rebind.lab.test",
        Answer(("11.0.0.10", "2001:db8::10")),
        Answer(("10.0.0.1", "::1")),
    )

    lookups = [
        (served(ask(dns, "rebind.lab.test", "A")), served(ask(dns, "rebind.lab.test", "AAAA")))
        for _ in range(3)
    ]

    assert lookups == [
        (["A 11.0.0.10"], ["AAAA 2001:db8::10"]),
        (["A 10.0.0.1"], ["AAAA ::1"]),
        (["A 11.0.0.10"], ["AAAA 2001:db8::10"]),
    ]


def test_setting_a_name_again_restarts_its_sequence(dns: LabDns) -> None:
    dns.set("rebind.lab.test", Answer(("11.0.0.10",)), Answer(("10.0.0.1",)))
    ask(dns, "rebind.lab.test")

    dns.set("rebind.lab.test", Answer(("11.0.0.10",)), Answer(("10.0.0.1",)))

    assert served(ask(dns, "rebind.lab.test")) == ["A 11.0.0.10"]


def test_cname_chain_in_zone_appends_the_targets_records(dns: LabDns) -> None:
    dns.set("x.lab.test", Answer(cname="y.lab.test"))
    dns.address("y.lab.test", "169.254.169.254")

    reply = ask(dns, "x.lab.test")

    assert served(reply) == ["CNAME y.lab.test.", "A 169.254.169.254"]
    assert [str(rr.rname) for rr in reply.rr] == ["x.lab.test.", "y.lab.test."]
    assert dns.queries("x.lab.test")[0].answer == ["CNAME y.lab.test", "169.254.169.254"]


def test_cname_query_gets_only_the_cname(dns: LabDns) -> None:
    dns.set("x.lab.test", Answer(cname="y.lab.test"))
    dns.address("y.lab.test", "169.254.169.254")

    assert served(ask(dns, "x.lab.test", "CNAME")) == ["CNAME y.lab.test."]


def test_cname_to_an_unset_name_is_left_for_the_resolver(dns: LabDns) -> None:
    dns.set("x.lab.test", Answer(cname="elsewhere.test"))

    reply = ask(dns, "x.lab.test")

    assert (reply.header.rcode, served(reply)) == (RCODE.NOERROR, ["CNAME elsewhere.test."])


def test_cname_target_sequence_advances_through_the_alias(dns: LabDns) -> None:
    dns.set("x.lab.test", Answer(cname="y.lab.test"))
    dns.set("y.lab.test", Answer(("11.0.0.10",)), Answer(("127.0.0.1",)))

    first, second = ask(dns, "x.lab.test"), ask(dns, "x.lab.test")

    assert served(first)[-1] == "A 11.0.0.10"
    assert served(second)[-1] == "A 127.0.0.1"


def test_cname_loop_ends(dns: LabDns) -> None:
    dns.set("a.lab.test", Answer(cname="b.lab.test"))
    dns.set("b.lab.test", Answer(cname="a.lab.test"))

    reply = ask(dns, "a.lab.test")

    assert reply.header.rcode == RCODE.NOERROR
    assert 2 <= len(reply.rr) <= 8


def test_answers_over_tcp(dns: LabDns) -> None:
    dns.address("tcp.lab.test", "127.0.0.1")

    assert served(ask(dns, "tcp.lab.test", tcp=True)) == ["A 127.0.0.1"]
    assert dns.queries("tcp.lab.test")[0].transport == "tcp"


def test_tcp_connection_serves_several_queries(dns: LabDns) -> None:
    dns.set("rebind.lab.test", Answer(("11.0.0.10",)), Answer(("10.0.0.1",)))
    answers = []
    with socket.create_connection((dns.host, dns.port), timeout=5) as conn:
        for _ in range(2):
            packed = DNSRecord.question("rebind.lab.test").pack()
            conn.sendall(len(packed).to_bytes(2, "big") + packed)
            size = int.from_bytes(conn.recv(2), "big")
            data = b""
            while len(data) < size:
                data += conn.recv(size - len(data))
            answers.append(served(DNSRecord.parse(data)))

    assert answers == [["A 11.0.0.10"], ["A 10.0.0.1"]]


def test_long_udp_answer_is_truncated_and_whole_over_tcp(dns: LabDns) -> None:
    many = tuple(f"10.0.{i // 250}.{i % 250 + 1}" for i in range(60))
    dns.address("many.lab.test", *many)

    over_udp = ask(dns, "many.lab.test")
    over_tcp = ask(dns, "many.lab.test", tcp=True)

    assert over_udp.header.tc == 1
    assert [str(q.qname) for q in over_udp.questions] == ["many.lab.test."]
    assert over_udp.rr == []
    assert over_tcp.header.tc == 0
    assert len(over_tcp.rr) == 60


def test_queries_log_what_was_asked_and_served(dns: LabDns) -> None:
    dns.address("logged.lab.test", "127.0.0.1")
    before = time.monotonic()

    ask(dns, "logged.lab.test", "A")
    ask(dns, "logged.lab.test", "AAAA", tcp=True)
    ask(dns, "nowhere.lab.test")

    logged = dns.queries("logged.lab.test")
    assert [(q.qtype, q.transport, q.answer) for q in logged] == [
        ("A", "udp", ["127.0.0.1"]),
        ("AAAA", "tcp", []),
    ]
    assert all(q.source.startswith("127.0.0.1:") for q in logged)
    assert before <= logged[0].at <= logged[1].at <= time.monotonic()
    assert [q.name for q in dns.queries()] == ["logged.lab.test"] * 2 + ["nowhere.lab.test"]


def test_clear_forgets_names_and_the_log(dns: LabDns) -> None:
    dns.address("gone.lab.test", "127.0.0.1")
    ask(dns, "gone.lab.test")

    dns.clear()

    assert dns.queries() == [] and dns.queries("gone.lab.test") == []
    assert ask(dns, "gone.lab.test").header.rcode == RCODE.NXDOMAIN


def test_garbage_is_ignored_and_serving_goes_on(dns: LabDns) -> None:
    dns.address("still.lab.test", "127.0.0.1")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.sendto(b"\x00not dns", (dns.host, dns.port))

    assert served(ask(dns, "still.lab.test")) == ["A 127.0.0.1"]


def test_answer_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="not both"):
        Answer(("127.0.0.1",), cname="y.test")
    with pytest.raises(ValueError):
        Answer(("127.0.0.300",))
    with pytest.raises(ValueError, match="TTL"):
        Answer(("127.0.0.1",), ttl=-1)


def test_set_needs_an_answer(dns: LabDns) -> None:
    with pytest.raises(ValueError, match="at least one"):
        dns.set("empty.lab.test")


def test_udp_and_tcp_share_the_port_and_stop_without_start_closes_them() -> None:
    server = LabDns("127.0.0.1", 0)
    try:
        for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
            with socket.socket(socket.AF_INET, kind) as probe, pytest.raises(OSError):
                probe.bind(("127.0.0.1", server.port))
    finally:
        server.stop()


def test_a_crash_answers_servfail_and_is_re_raised(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(qname: str, qtype: int) -> None:
        raise KeyError(qname)

    with LabDns("127.0.0.1", 0) as server:
        monkeypatch.setattr(server._zone, "resolve", broken)

        assert ask(server, "any.lab.test").header.rcode == RCODE.SERVFAIL
        with pytest.raises(KeyError):
            server.raise_crash()


def test_stop_ends_open_tcp_connections_quietly() -> None:
    server = LabDns("127.0.0.1", 0).start()
    with socket.create_connection((server.host, server.port), timeout=5) as conn:
        conn.sendall(b"\x00")  # half a length prefix: the server waits for more
        time.sleep(0.05)

        server.stop()

        assert conn.recv(2) == b""
    server.raise_crash()


def test_stop_is_idempotent() -> None:
    server = LabDns("127.0.0.1", 0).start()
    server.stop()
    server.stop()


def test_a_checks_dns_log_holds_the_queries_for_the_names_it_created(dns: LabDns) -> None:
    network = Network(LAB, Canaries(), dns=dns)  # the canaries are never started here
    before = network.new_name("before", Answer(("10.0.0.1",)))
    started = time.monotonic()
    mine = [network.new_name("mine", Answer(("10.0.0.2",))) for _ in range(3)]
    ended = time.monotonic()
    after = network.new_name("after", Answer(("10.0.0.3",)))
    for name in (before, *mine, after):
        ask(dns, name)

    logged = network.dns_log(started, ended)

    assert [line.split()[1] for line in logged] == mine
    assert all(line.endswith(": 10.0.0.2") for line in logged)
    assert [line.split()[1] for line in network.dns_log(started, None)] == [*mine, after]
