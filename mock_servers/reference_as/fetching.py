"""Fetching client documents (CIMD-02 §5) and caching the valid ones (§5.2, RFC 9111).

Every fetch is a separate, context-free request (CIMD-FETCH-10) that the metadata host logs
on its own: no cookie jar and no proxy settings from the environment. Every URL fetched, the
document's and the logo's alike, passes the SSRF guard first (:mod:`.ssrf`), and the
connection goes to the address the guard checked.

While the app is served (from its lifespan's start to its end) a fetcher keeps its
connections to each checked address for the next fetch, as a server's HTTP client pool does:
a fetch then costs no new TCP connection and TLS handshake. A kept connection goes to the
same address, so the guard's check still holds for it. Fetches the guard does not pin (the
faults that resolve again, or check nothing) and fetches outside a lifespan (an app driven
directly, as in unit tests) get a client of their own, closed with the fetch.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import ssl
import time
import urllib.request
from collections import OrderedDict
from collections.abc import AsyncIterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Generic, TypeVar
from urllib.parse import urljoin, urlsplit

import httpx

from ..no_cookies import cookieless_jar
from .config import IssuerConfig
from .faults import F
from .ssrf import SsrfPolicy, SsrfRefused, checked_addresses, guarded_address, transport

_log = logging.getLogger("mock_servers.reference_as")

MAX_CACHE_LIFETIME_S = 3600
USER_AGENT = "cimd-reference-as/0.1"
UNREACHABLE = "the client metadata document could not be retrieved"
REFUSED_HOST = "the client metadata document's host is not allowed"
MAX_REDIRECTS = 5
LOGO_TIMEOUT_S = 3.0
MAX_LOGO_BYTES = 65536
LOGO_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
# Kept connections idle this long are closed before reuse: well within the keep-alive time of
# the hosts the suite serves documents from (5 s), so a kept connection is never reused just
# as the host closes it.
KEPT_LIMITS = httpx.Limits(max_keepalive_connections=8, keepalive_expiry=2.0)
SMALL_REST = 4096  # an unread body this small is read to its end, to keep the connection
SMALL_REST_S = 0.5  # how long that reading may take
TOO_SMALL_LIMIT = 2048
"""The size-limit-too-small fault's byte limit."""

USER_HEADERS: ContextVar[dict[str, str] | None] = ContextVar("user_headers", default=None)
"""The fetch-forwards-user-headers fault: the user's request headers its fetches pass on."""

T = TypeVar("T")


@dataclass(frozen=True)
class FetchedDocument:
    """The body of a successful fetch and the caching instructions it came with."""

    body: bytes
    cache_control: str


class FetchError(Exception):
    """The document could not be obtained.

    Attributes:
        description: safe to show to the user: reflects no fetched content and no network
            internals (CIMD-ERR-05), and is the same for every network-level failure.
        network: the failure happened below HTTP (refused, TLS, timeout, reset).
        cache_control: the error response's ``Cache-Control``, if it had one (never obeyed:
            errors are not cached, CIMD-CACHE-02; only the ``caches-errors`` fault reads it).
    """

    def __init__(self, description: str, *, network: bool = False, cache_control: str = "") -> None:
        super().__init__(description)
        self.description = description
        self.network = network
        self.cache_control = cache_control


async def _read_limited(response: httpx.Response, limit: int) -> bytes | None:
    """The raw body, or ``None`` as soon as it grows past ``limit`` bytes."""
    body = bytearray()
    async for chunk in response.aiter_raw():
        body += chunk
        if len(body) > limit:
            return None
    return bytes(body)


async def _read_small_rest(response: httpx.Response) -> None:
    """Read an unread answer's body when it is small, so that its connection is kept.

    An answer whose body was left unread (an error status, a redirect, a logo that is not an
    image) closes its connection. A few bytes are worth reading instead; a body declared or
    found larger is left and its connection closed. Errors end the reading, never the fetch:
    its outcome is decided already.
    """
    declared = response.headers.get("content-length", "")
    if response.is_stream_consumed or (declared.isdigit() and int(declared) > SMALL_REST):
        return
    with contextlib.suppress(httpx.HTTPError, TimeoutError):
        async with asyncio.timeout(SMALL_REST_S):
            await _read_limited(response, SMALL_REST)


async def _read_start(response: httpx.Response, size: int) -> bytes:
    """The first ``size`` bytes of the body (the error-reflects-document fault's quote)."""
    start = bytearray()
    async for chunk in response.aiter_raw():
        start += chunk
        if len(start) >= size:
            break
    return bytes(start[:size])


class Fetcher:
    """Fetches documents the way one issuer is configured (and faulted) to."""

    def __init__(self, config: IssuerConfig) -> None:
        self._ssl = ssl.create_default_context(
            cafile=str(config.trust_ca) if config.trust_ca else None
        )
        if config.has(F.TLS_VERIFY_OFF) or config.has(F.TLS_HOSTNAME_UNCHECKED):
            self._ssl.check_hostname = False  # the faults
            if config.has(F.TLS_VERIFY_OFF):
                self._ssl.verify_mode = ssl.CERT_NONE
        # fetch-no-timeout: None is no total bound (asyncio) and no per-phase one (httpx)
        self._timeout_s = None if config.has(F.FETCH_NO_TIMEOUT) else config.fetch_timeout_s
        self._limit = config.max_document_bytes
        if config.has(F.SIZE_LIMIT_TOO_SMALL):
            self._limit = TOO_SMALL_LIMIT
        self._unbounded = config.has(F.FETCH_READS_UNBOUNDED)
        self._forwards_user = config.has(F.FETCH_FORWARDS_USER_HEADERS)
        self._follow = config.has(F.FOLLOWS_REDIRECTS) or config.has(F.REDIRECTS_TO_PRIVATE)
        self._check_redirects = not config.has(F.REDIRECTS_TO_PRIVATE)
        self._any_2xx = config.has(F.ACCEPTS_ANY_2XX)
        self._reflects = config.has(F.ERROR_REFLECTS_DOCUMENT)
        self._policy = config.ssrf_policy()
        # the lazy-logo faults fetch logos only in their /logo endpoint, unchecked
        lazy = config.has(F.LOGO_FETCHED_LAZILY) or config.has(F.LOGO_PROXIED_ANY_SCHEME)
        unchecked_logos = config.has(F.DOCUMENT_URLS_UNCHECKED) or lazy
        self._logo_policy = SsrfPolicy(enabled=False) if unchecked_logos else self._policy
        self._any_scheme_logos = config.has(F.DOCUMENT_URLS_ANY_SCHEME) or config.has(
            F.LOGO_PROXIED_ANY_SCHEME
        )
        self._jwks_policy = (
            SsrfPolicy(enabled=False) if config.has(F.JWKS_URI_UNCHECKED) else self._policy
        )
        self._jwks_schemes = ("https", "http") if config.has(F.JWKS_URI_ANY_SCHEME) else ("https",)
        self._exact_type = config.has(F.EXACT_CONTENT_TYPE)
        self._kept: dict[str, httpx.AsyncClient] | None = None  # by pinned address, if kept

    def keep_connections(self) -> None:
        """From now on keep connections between fetches, until :meth:`aclose`."""
        if self._kept is None:
            self._kept = {}

    async def aclose(self) -> None:
        """Close the kept connections; each fetch from now on has a connection of its own."""
        kept, self._kept = self._kept or {}, None
        for client in kept.values():
            await client.aclose()

    async def fetch(self, url: str) -> FetchedDocument:
        """GET ``url`` and return the body.

        Raises:
            FetchError: on any status but 200, an oversized body, a host the SSRF guard
                refuses, or a network failure.
        """
        try:
            # httpx's timeouts bound each read, not the whole fetch: a server dripping one
            # byte a second would never trip them, so the total is bounded here.
            async with asyncio.timeout(self._timeout_s):
                return await self._get(url)
        except SsrfRefused as exc:
            _log.info("document fetch refused: %s", exc.reason)
            raise FetchError(REFUSED_HOST) from exc
        except (TimeoutError, httpx.TransportError) as exc:
            _log.info("document fetch failed at the network level: %s", type(exc).__name__)
            raise FetchError(UNREACHABLE, network=True) from exc
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            _log.info("document fetch failed: %s", type(exc).__name__)
            raise FetchError(UNREACHABLE) from exc

    async def _get(self, url: str) -> FetchedDocument:
        policy = self._policy
        for _ in range(MAX_REDIRECTS + 1):
            found = await self._get_once(url, policy)
            if isinstance(found, FetchedDocument):
                return found
            url = found  # only the redirect faults follow a Location
            if not self._check_redirects:
                policy = SsrfPolicy(enabled=False)
        raise FetchError(UNREACHABLE)

    @contextlib.asynccontextmanager
    async def _guarded_get(
        self,
        url: str,
        policy: SsrfPolicy,
        timeout: float | None,
        headers: dict[str, str] | None = None,
    ) -> AsyncIterator[httpx.Response]:
        """A streamed GET of ``url`` through the SSRF guard, connected to the checked address.

        Raises:
            SsrfRefused: the guard refused the URL.
        """
        address = await guarded_address(url, policy)
        kept = self._kept_client(address)
        async with contextlib.AsyncExitStack() as stack:
            if kept is None:
                client = await stack.enter_async_context(self._new_client(address))
            else:
                client = kept
            response = await stack.enter_async_context(
                client.stream("GET", url, headers=headers or self._headers(), timeout=timeout)
            )
            try:
                yield response
            except FetchError:
                if kept is not None:
                    await _read_small_rest(response)
                raise
            if kept is not None:
                await _read_small_rest(response)

    def _kept_client(self, address: str | None) -> httpx.AsyncClient | None:
        """The kept client for ``address``'s connections; ``None``: the fetch has its own."""
        if address is None or self._kept is None:
            return None
        if address not in self._kept:
            self._kept[address] = self._new_client(address, KEPT_LIMITS)
        return self._kept[address]

    def _new_client(
        self, address: str | None, limits: httpx.Limits | None = None
    ) -> httpx.AsyncClient:
        """A client connected to ``address``.

        It keeps no cookie a host sets: a kept client would send it with its next fetches.
        """
        return httpx.AsyncClient(
            transport=transport(address, self._ssl, limits),
            follow_redirects=False,
            trust_env=False,
            cookies=cookieless_jar(),
        )

    async def _get_once(self, url: str, policy: SsrfPolicy) -> FetchedDocument | str:
        """The document at ``url``, or the next URL when a redirect fault follows one."""
        async with self._guarded_get(url, policy, self._timeout_s) as response:
            location = response.headers.get("location")
            if self._follow and response.is_redirect and location:
                return str(urljoin(url, location))
            try:
                self._check_status(response.status_code, response.headers.get_list("cache-control"))
            except FetchError as exc:
                if self._reflects:  # the fault: "the host said: <its answer>"
                    said = (await _read_start(response, 200)).decode("utf-8", "replace")
                    raise FetchError(f"{exc.description}: {said}") from exc
                raise
            if self._exact_type and response.headers.get("content-type") != "application/json":
                # the exact-content-type fault: a string comparison, parameters and all (CIMD-02
                # §4 lets a document be served as application/json with any parameters)
                raise FetchError("the document was not served as application/json")
            cache_control = ", ".join(response.headers.get_list("cache-control"))
            if self._unbounded:  # the fault: the whole body, decoded, then parsed
                return FetchedDocument(await response.aread(), cache_control)
            coding = response.headers.get("content-encoding", "identity").strip().lower()
            if coding != "identity":
                # Only identity was accepted; decoding a compressed body could inflate it far
                # beyond the byte limit before the limit is checked (CIMD-FETCH-06).
                raise FetchError("the document was served with an unrequested content coding")
            declared = response.headers.get("content-length", "")
            body = None
            if not declared.isdigit() or int(declared) <= self._limit:
                body = await _read_limited(response, self._limit)
            if body is None:
                raise FetchError("the client metadata document is too large")
            return FetchedDocument(body, cache_control)

    async def fetch_jwks(self, url: str) -> bytes:
        """The key set at a client's ``jwks_uri``: https only, SSRF-guarded, no redirects.

        (The ``jwks-uri-any-scheme`` fault fetches http too.)

        Raises:
            FetchError: the URL is refused, unreachable, not 200, or too large.
        """
        if urlsplit(url).scheme.lower() not in self._jwks_schemes:
            raise FetchError("jwks_uri must be an https URL")
        try:
            async with (
                asyncio.timeout(self._timeout_s),
                self._guarded_get(url, self._jwks_policy, self._timeout_s) as response,
            ):
                if response.status_code != 200:
                    raise FetchError("the jwks_uri answered with an error")
                body = await _read_limited(response, self._limit * 4)
                if body is None:
                    raise FetchError("the key set is too large")
                return body
        except SsrfRefused as exc:
            _log.info("jwks fetch refused: %s", exc.reason)
            raise FetchError("the jwks_uri's host is not allowed") from exc
        except (TimeoutError, httpx.HTTPError, httpx.InvalidURL) as exc:
            raise FetchError("the jwks_uri could not be retrieved", network=True) from exc

    async def fetch_logo(self, url: str | None) -> str | None:
        """The client's logo as a ``data:`` URI, or ``None`` when there is none or it fails.

        The AS fetches the logo itself so that the user's browser never contacts the client's
        hosts. Only ``https`` URLs are fetched (CIMD-SEC-06), through the same SSRF guard as the
        document (CIMD-SEC-05), without redirects, within a few seconds and 64 KiB.
        """
        if not url:
            return None
        try:
            async with asyncio.timeout(LOGO_TIMEOUT_S):
                if urlsplit(url).scheme.lower() != "https":
                    if self._any_scheme_logos:
                        await self._fetch_any_scheme(url)
                    return None
                return await self._fetch_image(url)
        except httpx.InvalidURL:
            return None
        except (TimeoutError, OSError, ValueError, SsrfRefused, httpx.HTTPError) as exc:
            _log.info("logo not fetched: %s", type(exc).__name__)
            return None

    async def _fetch_image(self, url: str) -> str | None:
        headers = {"User-Agent": USER_AGENT}
        async with self._guarded_get(url, self._logo_policy, LOGO_TIMEOUT_S, headers) as response:
            kind = response.headers.get("content-type", "").split(";")[0].strip().lower()
            if response.status_code != 200 or kind not in LOGO_TYPES:
                return None
            body = await _read_limited(response, MAX_LOGO_BYTES)
            if body is None:
                return None
        return f"data:{kind};base64,{base64.b64encode(body).decode('ascii')}"

    async def _fetch_any_scheme(self, url: str) -> None:
        """The ``document-urls-any-scheme`` fault: urllib opens ftp:// and the like."""
        parts = urlsplit(url)
        if parts.hostname:
            await checked_addresses(parts.hostname, parts.port or 21, self._logo_policy)

        def read() -> None:
            with urllib.request.urlopen(url, timeout=LOGO_TIMEOUT_S) as handle:  # noqa: S310 - the fault
                handle.read(MAX_LOGO_BYTES)

        await asyncio.to_thread(read)

    def _headers(self) -> dict[str, str]:
        headers = {
            "Accept": "application/json",
            "Accept-Encoding": "identity",
            "User-Agent": USER_AGENT,
        }
        if self._forwards_user:  # the fault: the user's request context goes along
            headers |= USER_HEADERS.get() or {}
        return headers

    def _check_status(self, status: int, cache_control: list[str]) -> None:
        # CIMD-02 §5: 200 is the only success; every other status, 2xx included, is an error.
        if status == 200 or (self._any_2xx and 200 <= status < 300):
            return
        description = f"the client metadata document was answered with HTTP status {status}"
        raise FetchError(description, cache_control=", ".join(cache_control))


def freshness_lifetime(cache_control: str) -> int | None:
    """Seconds a document may be reused for, or ``None`` when it must not be stored.

    A simple reading of RFC 9111 §5.2.2: only a positive ``max-age`` without ``no-store`` or
    ``no-cache`` is stored, for at most :data:`MAX_CACHE_LIFETIME_S` (CIMD-02 §5.2 lets the AS
    set its own bounds). A repeated ``max-age`` makes the response stale (RFC 9111 §4.2.1).
    """
    directives: dict[str, list[str]] = {}
    for item in cache_control.split(","):
        name, _, value = item.strip().partition("=")
        directives.setdefault(name.strip().lower(), []).append(value.strip().strip('"'))
    if "no-store" in directives or "no-cache" in directives:
        return None
    ages = directives.get("max-age", [])
    if len(ages) != 1 or not ages[0].isdigit() or int(ages[0]) <= 0:
        return None
    return min(int(ages[0]), MAX_CACHE_LIFETIME_S)


class DocumentCache(Generic[T]):
    """Valid documents keyed by the exact identifier string (CIMD-CACHE-05).

    Only valid documents are ever put here: errors and invalid documents are never cached
    (CIMD-CACHE-02, CIMD-CACHE-03). With a ``capacity`` it keeps that many entries, the
    least recently used going first (the ``small-cache`` variant): a dropped document is
    fetched again at its next use, before its time, as a server's bounded cache does. With
    a capacity of 0 nothing is kept (the ``no-cache`` variant).
    """

    def __init__(self, capacity: int | None = None) -> None:
        self._entries: OrderedDict[str, tuple[T, float]] = OrderedDict()
        self._capacity = capacity

    def get(self, identifier: str) -> T | None:
        """The fresh cached entry for ``identifier``, if there is one."""
        entry = self._entries.get(identifier)
        if entry is None:
            return None
        if entry[1] <= time.monotonic():
            del self._entries[identifier]
            return None
        self._entries.move_to_end(identifier)
        return entry[0]

    def put(self, identifier: str, value: T, cache_control: str) -> None:
        """Store ``value`` when ``cache_control`` allows it, for as long as it allows."""
        self.store(identifier, value, freshness_lifetime(cache_control))

    def store(self, identifier: str, value: T, lifetime_s: float | None) -> None:
        """Store ``value`` for ``lifetime_s`` seconds (``None``: drop any stored entry)."""
        if lifetime_s is None:
            self._entries.pop(identifier, None)
            return
        self._entries[identifier] = (value, time.monotonic() + lifetime_s)
        self._entries.move_to_end(identifier)
        while self._capacity is not None and len(self._entries) > self._capacity:
            self._entries.popitem(last=False)
