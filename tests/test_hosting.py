"""The hosting repertoire as data: each value says exactly what the metadata host will send."""

from __future__ import annotations

import json
import zlib
from dataclasses import replace

import pytest

from mock_servers.answer import body_pieces, head_fields, not_modified
from mock_servers.fetch_log import Fetch, hosting_key
from mock_servers.hosting import (
    CONTENT_TYPES,
    FETCH_ERROR_STATUSES,
    JSON_HEADERS,
    PAD_MEMBER,
    REDIRECT_STATUSES,
    Hosting,
    HostingSequence,
    padded_body,
)
from mock_servers.hosting_spec import from_spec, merge_patch

DOC = {"client_id": "https://m.test/c.json", "redirect_uris": ["https://m.test/cb"]}


def _fetch(*headers: tuple[str, str]) -> Fetch:
    return Fetch("tls", "GET", "/c.json", "m.test", list(headers), "127.0.0.1:1", 0.0)


def test_the_catalogs_status_and_redirect_lists_are_complete() -> None:
    # CIMD-FETCH-03 and -04 as the catalog writes them
    assert (
        *(201, 202, 203, 204, 206, 226, 300, 304, 400, 401, 403, 404, 410, 429, 500, 502, 503),
    ) == FETCH_ERROR_STATUSES
    assert REDIRECT_STATUSES == (301, 302, 303, 307, 308)
    assert "application/json; charset=utf-8" in CONTENT_TYPES and None in CONTENT_TYPES


def test_the_existing_constructors_keep_their_shape() -> None:
    assert Hosting.document(DOC) == Hosting(200, JSON_HEADERS, json.dumps(DOC).encode())
    assert Hosting.raw(b"x", content_type="text/html").headers[0] == ("content-type", "text/html")
    assert Hosting.redirect("/elsewhere", status=307).header("location") == "/elsewhere"
    # positional construction, as checks write it
    assert Hosting(404, (("content-type", "text/plain"),), b"gone").body == b"gone"


@pytest.mark.parametrize("status", FETCH_ERROR_STATUSES)
def test_each_error_status_serves_the_document_as_the_status_allows(status: int) -> None:
    hosting = Hosting.with_status(DOC, status)
    assert hosting.status == status
    if status in (204, 304):
        assert hosting.body == b"" and ("content-length" not in dict(head_fields(hosting)))
        return
    assert json.loads(hosting.body) == DOC
    size = len(hosting.body)
    expected = {
        206: ("content-range", f"bytes 0-{size - 1}/{size}"),
        401: ("www-authenticate", 'Basic realm="cimd"'),
        429: ("retry-after", "1"),
        503: ("retry-after", "1"),
    }.get(status)
    if expected:
        assert expected in hosting.headers


@pytest.mark.parametrize("size", [4000, 5121, 1_000_000])
def test_padded_documents_have_the_exact_size_and_stay_valid(size: int) -> None:
    hosting = Hosting.padded(DOC, size)
    assert hosting.length == size and b"".join(body_pieces(hosting)) == hosting.content()
    parsed = json.loads(hosting.content())
    assert {k: v for k, v in parsed.items() if k != PAD_MEMBER} == DOC
    assert ("content-length", str(size)) in head_fields(hosting)
    assert hosting.content() == padded_body(DOC, size)


def test_a_padded_body_is_held_as_its_ends_and_made_as_it_is_sent() -> None:
    """A run serves several 10 MB documents per target; none is kept whole until it ends."""
    hosting = Hosting.padded(DOC, 10_000_000)
    assert len(hosting.body) + len(hosting.tail) < 1000 and hosting.padding > 9_999_000
    assert sum(len(piece) for piece in body_pieces(hosting)) == 10_000_000
    dripped = list(body_pieces(replace(Hosting.padded(DOC, 200), drip_ms=1.0)))
    assert {len(piece) for piece in dripped} == {1} and b"".join(dripped) == padded_body(DOC, 200)


def test_a_size_below_the_document_is_refused() -> None:
    with pytest.raises(ValueError, match="needs"):
        padded_body(DOC, 10)


def test_an_endless_stream_is_an_open_json_string_without_a_length() -> None:
    hosting = Hosting.endless_stream(DOC)
    assert hosting.endless and hosting.body.endswith(f'"{PAD_MEMBER}": "'.encode())
    assert not any(k == "content-length" for k, _ in head_fields(hosting))
    pieces = body_pieces(hosting)
    first = [next(pieces) for _ in range(4)]
    assert first[0] == hosting.body and first[1] == first[2] == first[3] == b"a" * len(first[1])


def test_a_lying_length_declares_what_it_does_not_send() -> None:
    short = Hosting.lying_length(DOC, declared=500, size=5_000_000)
    assert short.length == 5_000_000 and ("content-length", "500") in head_fields(short)
    long = Hosting.lying_length(DOC, declared=5000)
    assert long.body == json.dumps(DOC).encode() and ("content-length", "5000") in head_fields(long)
    assert short.byte_exact and long.byte_exact and not Hosting.document(DOC).byte_exact


def test_a_gzip_bomb_is_small_and_inflates_to_exactly_the_size() -> None:
    hosting = Hosting.gzipped(DOC, inflates_to=50_000_000)
    assert ("content-encoding", "gzip") in hosting.headers
    assert len(hosting.body) < 200_000
    inflater, total, head = zlib.decompressobj(31), 0, b""
    data = hosting.body
    while data:  # bounded pieces: never 50 MB in memory at once
        piece = inflater.decompress(data, 1 << 20)
        head = head or piece[:100]
        total += len(piece)
        data = inflater.unconsumed_tail
    total += len(inflater.flush())
    assert total == 50_000_000 and head.startswith(b'{"client_id"')
    assert inflater.eof and inflater.unused_data == b""  # trailer read: CRC-32 and size agree
    for size in (len(json.dumps({**DOC, PAD_MEMBER: ""})), 1 << 20, 3 << 20, 3_000_001):
        body = zlib.decompress(Hosting.gzipped(DOC, inflates_to=size).body, 31)
        assert len(body) == size and json.loads(body)["client_id"] == DOC["client_id"]
    assert zlib.decompress(Hosting.gzipped(DOC).body, 31) == json.dumps(DOC).encode()


def test_dripping_sends_single_bytes() -> None:
    hosting = Hosting.dripping(DOC, every_ms=5)
    assert hosting.drip_head and hosting.byte_exact
    assert all(len(p) == 1 for p in body_pieces(hosting))
    assert b"".join(body_pieces(hosting)) == hosting.body


def test_slow_and_silent_wait_before_the_first_byte() -> None:
    assert Hosting.slow(DOC, first_byte_s=2).delay_s == 2
    silent = Hosting.silent(cap_s=3)
    assert silent.delay_s == silent.cap_s == 3


def test_cache_headers() -> None:
    assert Hosting.cached(DOC, "max-age=60").header("cache-control") == "max-age=60"
    assert Hosting.cached(DOC, None).header("cache-control") is None
    expiring = Hosting.expiring(DOC, in_s=60)
    fields = dict(head_fields(expiring))
    assert "cache-control" not in fields and fields["expires"].endswith(" GMT")
    assert Hosting.document(DOC, content_type=None).header("content-type") is None


def test_validators_answer_a_matching_conditional_request_with_304() -> None:
    hosting = Hosting.validated(DOC, etag='"v1"', last_modified="Mon, 01 Jan 2024 00:00:00 GMT")
    assert not_modified(hosting, _fetch()) is None
    for header in (
        ("if-none-match", '"v1"'),
        ("if-none-match", 'W/"v1", "v0"'),
        ("if-none-match", "*"),
        ("if-modified-since", "Mon, 01 Jan 2024 00:00:00 GMT"),
        ("if-modified-since", "Tue, 02 Jan 2024 00:00:00 GMT"),
    ):
        answer = not_modified(hosting, _fetch(header))
        assert answer is not None and answer.status == 304 and answer.body == b"", header
        assert ("etag", '"v1"') in head_fields(answer)
    for header in (
        ("if-none-match", '"v2"'),
        ("if-modified-since", "Sun, 31 Dec 2023 00:00:00 GMT"),
        ("if-modified-since", "not a date"),
    ):
        assert not_modified(hosting, _fetch(header)) is None, header
    # If-None-Match wins over If-Modified-Since (RFC 9110 §13.2.2)
    both = _fetch(("if-none-match", '"v2"'), ("if-modified-since", "Tue, 02 Jan 2024 00:00:00 GMT"))
    assert not_modified(hosting, both) is None
    assert not_modified(Hosting.document(DOC), _fetch(("if-none-match", "*"))) is None


def test_a_sequence_answers_the_nth_fetch_with_the_nth_hosting() -> None:
    first, second = Hosting.with_status(DOC, 503), Hosting.document(DOC)
    sequence = first.then(second)
    assert [sequence.step(n) for n in (1, 2, 3)] == [(1, first), (2, second), (2, second)]
    cycling = HostingSequence((first, second), cycle=True)
    assert [cycling.step(n)[0] for n in (1, 2, 3, 4)] == [1, 2, 1, 2]
    with pytest.raises(ValueError, match="at least one"):
        HostingSequence(())


def test_hosting_keys_ignore_scheme_host_and_fragment() -> None:
    assert hosting_key("https://m.test:8443/c/x.json?a=1#frag") == "/c/x.json?a=1"
    assert hosting_key("https://m.test?q") == "/?q"
    assert hosting_key("/c/x.json") == "/c/x.json"


def test_specs_read_into_the_same_values() -> None:
    assert from_spec({}, DOC) == Hosting.document(DOC)
    assert from_spec({"status": 206}, DOC) == Hosting.with_status(DOC, 206)
    assert from_spec({"pad_to": 4000}, DOC) == Hosting.padded(DOC, 4000)
    assert from_spec({"redirect": 308}, DOC, location="/x") == Hosting.redirect("/x", status=308)
    assert from_spec({"content_type": None}, DOC).header("content-type") is None
    spec = {"cache_control": "max-age=5", "headers": [["X-Extra", "1"]], "drip_ms": 3}
    hosting = from_spec(spec, DOC)
    assert isinstance(hosting, Hosting)
    assert hosting.header("cache-control") == "max-age=5" and hosting.header("x-extra") == "1"
    assert hosting.drip_ms == 3
    sequence = from_spec({"sequence": [{"status": 503}, {"patch": {"client_name": "B"}}]}, DOC)
    assert isinstance(sequence, HostingSequence)
    assert sequence.steps[0].status == 503
    assert json.loads(sequence.steps[1].body)["client_name"] == "B"
    with pytest.raises(ValueError, match="unknown"):
        from_spec({"statsu": 200}, DOC)
    with pytest.raises(ValueError, match="location"):
        from_spec({"redirect": 302}, DOC)


def test_merge_patch_follows_rfc_7396() -> None:
    assert merge_patch({"a": 1, "b": {"c": 2, "d": 3}}, {"a": None, "b": {"c": None, "e": 4}}) == {
        "b": {"d": 3, "e": 4}
    }
    assert merge_patch({"a": [1]}, {"a": [2]}) == {"a": [2]}
