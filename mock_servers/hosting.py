"""How the metadata host answers one URL: hosting is data, not code.

A :class:`Hosting` says what is sent (status, headers, body) and how (after a delay, dripped,
with a lying ``Content-Length``, streamed without end, gzip-encoded, answered 304 when a
conditional request matches). A :class:`HostingSequence` answers the Nth fetch of a URL with
its Nth hosting. The classmethods build the repertoire the catalog's FETCH, CACHE and CHG rows
name; :mod:`mock_servers.answer` sends them.
"""

from __future__ import annotations

import json
import struct
import zlib
from dataclasses import dataclass, replace
from typing import Any

from mock_servers.fetch_log import SECRET_PARAMS, Fetch, redact_secret_params

__all__ = [
    "CONTENT_TYPES",
    "FETCH_ERROR_STATUSES",
    "JSON_HEADERS",
    "PAD_MEMBER",
    "REDIRECT_STATUSES",
    "SECRET_PARAMS",
    "Fetch",
    "Hosting",
    "HostingSequence",
    "redact_secret_params",
]

JSON_HEADERS: tuple[tuple[str, str], ...] = (
    ("content-type", "application/json"),
    ("cache-control", "no-store"),
)
FETCH_ERROR_STATUSES: tuple[int, ...] = (201, 202, 203, 204, 206, 226, 300, 304, 400, 401)
FETCH_ERROR_STATUSES += (403, 404, 410, 429, 500, 502, 503)
"""The statuses CIMD-FETCH-03 serves a valid document with; each must be refused."""
REDIRECT_STATUSES = (301, 302, 303, 307, 308)
"""The redirect statuses CIMD-FETCH-04 names."""
CONTENT_TYPES: tuple[str | None, ...] = (
    "application/json",
    "application/json; charset=utf-8",
    "application/cimd+json",
    "application/jrd+json",
    "text/plain",
    "text/html",
    "application/octet-stream",
    None,
)
"""Content types CIMD-FETCH-08 serves a valid document with (``None``: no Content-Type)."""
PAD_MEMBER = "x-cimd-padding"
"""The extension member that pads documents to an exact size (CIMD-FETCH-06)."""
CAP_BYTES = 64 * 1024 * 1024
"""Default safety cap: no answer sends more body bytes than this."""
CAP_S = 60.0
"""Default safety cap: no answer takes longer than this, delays and drips included."""
_NO_STORE = (("cache-control", "no-store"),)


@dataclass(frozen=True)
class Hosting:
    """One URL's answer: status, headers, body, timing and framing.

    Attributes:
        status: the HTTP status code.
        headers: response headers, in order (names lower-case). A ``content-length`` here is
            sent as given; otherwise the true length is added (or the declared one).
        body: the response body bytes (already gzip-compressed for a gzip hosting), before
            any padding.
        delay_s: seconds to wait before the first byte (a slow or silent server).
        drip_ms: when set, the body is sent one byte every ``drip_ms`` milliseconds.
        drip_head: the status line and headers drip too (HTTP/1.x, written byte by byte on
            the connection; on HTTP/2 only the body drips).
        declared_length: a ``Content-Length`` that is not the body's length (a lie). On
            HTTP/1.x the response is written as bytes on the connection, the whole body
            whatever was declared, then the connection is closed; on HTTP/2 the header is
            sent with the whole body.
        endless: after ``body``, filler bytes (``a``) follow without end, chunked (no
            ``Content-Length``), until the client hangs up or the cap ends the answer.
        chunked: send the body without ``Content-Length`` (chunked on HTTP/1.1).
        etag: an ``ETag`` sent with the answer; a request whose ``If-None-Match`` names it
            (or ``*``) is answered 304.
        last_modified: a ``Last-Modified`` HTTP-date sent with the answer; a request with
            ``If-Modified-Since`` at or after it (and no ``If-None-Match``) is answered 304.
        expires_in_s: send ``Expires`` this many seconds after the moment of sending.
        cap_bytes: the safety cap on body bytes; past it the connection is cut.
        cap_s: the safety cap on the whole answer's time; past it the connection is cut.
        padding: filler bytes (``a``) sent after ``body``, then ``tail``: a padded body is
            held as its two ends and a count, never as megabytes kept for the whole run.
        tail: bytes sent after the padding.
    """

    status: int = 200
    headers: tuple[tuple[str, str], ...] = JSON_HEADERS
    body: bytes = b""
    delay_s: float = 0.0
    drip_ms: float = 0.0
    drip_head: bool = False
    declared_length: int | None = None
    endless: bool = False
    chunked: bool = False
    etag: str | None = None
    last_modified: str | None = None
    expires_in_s: float | None = None
    cap_bytes: int = CAP_BYTES
    cap_s: float = CAP_S
    padding: int = 0
    tail: bytes = b""

    @property
    def length(self) -> int:
        """The body's length in bytes (without the endless filler)."""
        return len(self.body) + self.padding + len(self.tail)

    def content(self) -> bytes:
        """The whole body as bytes (the padding spelled out; never the endless filler)."""
        return self.body + b"a" * self.padding + self.tail

    @classmethod
    def document(
        cls,
        doc: Any,
        *,
        status: int = 200,
        content_type: str | None = "application/json",
        cache_control: str | None = "no-store",
        **changes: Any,
    ) -> Hosting:
        """A JSON body (any JSON value), by default with ``application/json`` and ``no-store``.

        ``content_type`` or ``cache_control`` ``None`` leaves that header out; ``changes``
        override any field (``headers=`` replaces all headers).
        """
        headers = _headers(content_type, cache_control)
        return replace(cls(status=status, headers=headers, body=_json(doc)), **changes)

    @classmethod
    def raw(
        cls, body: bytes, *, content_type: str | None = "application/json", status: int = 200
    ) -> Hosting:
        """An arbitrary body with the given content type (``None``: no Content-Type)."""
        return cls(status=status, body=body, headers=_headers(content_type, "no-store"))

    @classmethod
    def redirect(cls, to: str, *, status: int = 302) -> Hosting:
        """A redirect to ``to`` (an absolute URL, or a relative reference sent as given)."""
        return cls(status=status, body=b"", headers=(("location", to), *_NO_STORE))

    @classmethod
    def with_status(cls, doc: Any, status: int) -> Hosting:
        """A valid document served with ``status``, shaped as that status requires.

        204 and 304 carry no body; 206 a ``Content-Range`` over the whole body; 401 a
        ``WWW-Authenticate``; 429 and 503 a ``Retry-After``.
        """
        if status in (204, 304):
            return cls(status=status, headers=_NO_STORE)
        hosting = cls.document(doc, status=status)
        extra = {
            206: ("content-range", f"bytes 0-{hosting.length - 1}/{hosting.length}"),
            401: ("www-authenticate", 'Basic realm="cimd"'),
            429: ("retry-after", "1"),
            503: ("retry-after", "1"),
        }.get(status)
        return replace(hosting, headers=(*hosting.headers, extra)) if extra else hosting

    @classmethod
    def padded(cls, doc: dict[str, Any], size: int, **changes: Any) -> Hosting:
        """``doc`` padded with a :data:`PAD_MEMBER` string to a body of exactly ``size`` bytes."""
        prefix, padding, tail = _padded(doc, size)
        return cls.document(doc, body=prefix, padding=padding, tail=tail, **changes)

    @classmethod
    def endless_stream(cls, doc: dict[str, Any], **changes: Any) -> Hosting:
        """``doc``'s JSON up to an open :data:`PAD_MEMBER` string, then filler without end."""
        prefix = _json({**doc, PAD_MEMBER: ""})[:-2]
        return cls.document(doc, body=prefix, endless=True, **changes)

    @classmethod
    def lying_length(
        cls, doc: dict[str, Any], *, declared: int, size: int | None = None, **changes: Any
    ) -> Hosting:
        """``doc`` (padded to ``size`` bytes when given) sent under ``Content-Length: declared``."""
        if size is None:
            return cls.document(doc, declared_length=declared, **changes)
        prefix, padding, tail = _padded(doc, size)
        return cls.document(
            doc, body=prefix, padding=padding, tail=tail, declared_length=declared, **changes
        )

    @classmethod
    def gzipped(cls, doc: dict[str, Any], *, inflates_to: int | None = None) -> Hosting:
        """``doc`` gzip-compressed, with ``Content-Encoding: gzip``.

        With ``inflates_to``, the document is padded to that many bytes before compression:
        a gzip bomb (50 MB of padding compresses to some 50 KB).
        """
        body = _gzip(doc, inflates_to)
        headers = (("content-type", "application/json"), ("content-encoding", "gzip"))
        return cls(headers=(*headers, *_NO_STORE), body=body)

    @classmethod
    def slow(cls, doc: Any, *, first_byte_s: float, **changes: Any) -> Hosting:
        """``doc``, after ``first_byte_s`` seconds of silence."""
        return cls.document(doc, delay_s=first_byte_s, **changes)

    @classmethod
    def silent(cls, *, cap_s: float = CAP_S) -> Hosting:
        """A server that accepts the request and never answers (cut after ``cap_s``)."""
        return cls(status=200, delay_s=cap_s, cap_s=cap_s)

    @classmethod
    def dripping(cls, doc: Any, *, every_ms: float, head: bool = True, **changes: Any) -> Hosting:
        """``doc`` sent one byte every ``every_ms`` ms, from the status line on (``head``)."""
        return cls.document(doc, drip_ms=every_ms, drip_head=head, **changes)

    @classmethod
    def cached(cls, doc: Any, cache_control: str | None, **changes: Any) -> Hosting:
        """``doc`` with ``Cache-Control: cache_control`` (``None``: no Cache-Control)."""
        return cls.document(doc, cache_control=cache_control, **changes)

    @classmethod
    def expiring(cls, doc: Any, *, in_s: float, **changes: Any) -> Hosting:
        """``doc`` with ``Expires`` ``in_s`` seconds after sending and no Cache-Control."""
        return cls.document(doc, cache_control=None, expires_in_s=in_s, **changes)

    @classmethod
    def validated(
        cls,
        doc: Any,
        *,
        etag: str | None = '"v1"',
        last_modified: str | None = "Mon, 01 Jan 2024 00:00:00 GMT",
        cache_control: str | None = "no-cache",
        **changes: Any,
    ) -> Hosting:
        """``doc`` with validators: a matching conditional request gets 304, no body."""
        return cls.document(
            doc, cache_control=cache_control, etag=etag, last_modified=last_modified, **changes
        )

    def then(self, *later: Hosting) -> HostingSequence:
        """A sequence: this hosting for the first fetch, ``later`` for the following ones."""
        return HostingSequence((self, *later))

    @property
    def byte_exact(self) -> bool:
        """Whether HTTP/1.x needs this answer written as bytes (a framing a server refuses)."""
        return self.declared_length is not None or self.drip_head

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (lower-case) this hosting sends, if any."""
        return next((v for k, v in self.headers if k == name), None)


@dataclass(frozen=True)
class HostingSequence:
    """Different answers over time: the Nth fetch of the URL gets ``steps[N-1]``.

    Every request for the URL counts (any method, listener, conditional or not), from the
    moment it is served. Past the last step the last one repeats (``cycle``: start again).
    """

    steps: tuple[Hosting, ...]
    cycle: bool = False

    def __post_init__(self) -> None:
        if not self.steps:
            raise ValueError("a hosting sequence needs at least one hosting")

    def step(self, fetch_number: int) -> tuple[int, Hosting]:
        """The (1-based step, hosting) answering the ``fetch_number``-th fetch (1-based)."""
        index = fetch_number - 1
        index = index % len(self.steps) if self.cycle else min(index, len(self.steps) - 1)
        return index + 1, self.steps[index]

    def then(self, *later: Hosting) -> HostingSequence:
        """This sequence followed by ``later``."""
        return HostingSequence((*self.steps, *later), self.cycle)


def padded_body(doc: dict[str, Any], size: int) -> bytes:
    """``doc`` as JSON of exactly ``size`` bytes, padded with a :data:`PAD_MEMBER` string."""
    return Hosting.padded(doc, size).content()


def _padded(doc: dict[str, Any], size: int) -> tuple[bytes, int, bytes]:
    """``doc`` as JSON of ``size`` bytes: the bytes before the padding, its length, the rest.

    The padding is the value of a :data:`PAD_MEMBER` string, which the JSON ends with.
    """
    bare = _json({**doc, PAD_MEMBER: ""})
    if size < len(bare):
        raise ValueError(f"the document needs {len(bare)} bytes, more than {size}")
    return bare[:-2], size - len(bare), bare[-2:]


def _json(doc: Any) -> bytes:
    return json.dumps(doc).encode()


def _headers(content_type: str | None, cache_control: str | None) -> tuple[tuple[str, str], ...]:
    if content_type == "application/json" and cache_control == "no-store":
        return JSON_HEADERS  # the same object: the metadata host's pacing recognises it
    headers = [("content-type", content_type), ("cache-control", cache_control)]
    return tuple((k, v) for k, v in headers if v is not None)


# gzip's member header (RFC 1952): deflate, no flags, no time, maximum compression, OS unknown
_GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
_PIECE = b"a" * (1 << 20)  # the padding, a piece at a time


def _deflated(data: bytes, *, last: bool) -> bytes:
    """Raw deflate blocks of ``data`` that refer to nothing before them, ending on a byte.

    Such runs can be put one after another, any number of times: the result inflates to
    their data in the same order (only the last run may end the stream).
    """
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    ending = zlib.Z_FINISH if last else zlib.Z_FULL_FLUSH
    return compressor.compress(data) + compressor.flush(ending)


def _gzip(doc: dict[str, Any], inflates_to: int | None) -> bytes:
    """Compress; with ``inflates_to``, without ever holding or compressing the inflated body.

    The padding's 1 MiB piece is compressed once and its blocks repeated; the gzip trailer's
    CRC-32 and size are computed over the pieces.
    """
    if inflates_to is None:
        compressor = zlib.compressobj(9, zlib.DEFLATED, 31)  # wbits 31: gzip framing
        return compressor.compress(_json(doc)) + compressor.flush()
    bare = _json({**doc, PAD_MEMBER: ""})
    if inflates_to < len(bare):
        raise ValueError(f"the document needs {len(bare)} bytes, more than {inflates_to}")
    head, end = bare[:-2], bare[-2:]  # the padding goes between the quotes
    whole, rest = divmod(inflates_to - len(bare), len(_PIECE))
    last = _PIECE[:rest] + end
    crc = zlib.crc32(head)
    for _ in range(whole):
        crc = zlib.crc32(_PIECE, crc)
    crc = zlib.crc32(last, crc)
    return b"".join(
        [
            _GZIP_HEADER,
            _deflated(head, last=False),
            _deflated(_PIECE, last=False) * whole,
            _deflated(last, last=True),
            struct.pack("<II", crc, inflates_to & 0xFFFFFFFF),
        ]
    )
