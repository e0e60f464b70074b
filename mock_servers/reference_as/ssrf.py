"""SSRF protection for the reference AS's outbound fetches (CIMD-SEC-01, -02, -03).

Every URL the AS fetches (a client document, or a URL found in one such as ``logo_uri``) has
its host resolved once, every answer judged against the IANA Special-Purpose Address
Registries, and the connection made to exactly the address that was judged: the name is never
resolved a second time, so a DNS answer that changes between check and connect (DNS rebinding)
cannot redirect the fetch.

The tables (IANA special-purpose registries, multicast) are :mod:`cimd_rules.special_use`,
shared with the suite and tested against the registries' entries on their own.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from collections.abc import AsyncIterable, AsyncIterator, Iterable
from dataclasses import dataclass
from typing import Any

import httpcore
import httpx

from cimd_rules.special_use import IPAddress, classify
from cimd_rules.special_use import special_use as special_use  # re-exported for callers


@dataclass(frozen=True)
class SsrfPolicy:
    """How one issuer guards its outbound fetches.

    Attributes:
        enabled: ``False`` is a fault: no address check at all.
        exempt_hosts: the dev/test loopback exception: URL hosts, compared as exact strings
            with the host as httpx gives it (IPv6 without brackets; a bracketed entry also
            matches), that may be fetched although special-use. Listing ``127.0.0.1`` does not
            exempt ``127.1``, ``2130706433``, ``localhost`` or ``::1``.
        check_names: ``False`` is a fault: IP literals are checked, DNS names are resolved and
            used unchecked.
        recognise_mapped: ``False`` is a fault: an IPv4-mapped IPv6 address (``::ffff:0:0/96``)
            is judged by the IPv6 table only, not as the IPv4 address it embeds.
        pin: ``False`` is a fault: the check resolves the name, then the connection resolves
            it again (DNS rebinding gets through).
    """

    enabled: bool = True
    exempt_hosts: frozenset[str] = frozenset()
    check_names: bool = True
    recognise_mapped: bool = True
    pin: bool = True


class SsrfRefused(Exception):
    """The URL's host is, or resolves to, a special-use address.

    Attributes:
        reason: a short text safe to log or show, e.g.
            ``resolves to 10.0.0.1 (Private-Use, RFC 1918)``.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


async def _resolve(host: str, port: int) -> list[str]:
    loop = asyncio.get_running_loop()
    try:
        answers = await loop.getaddrinfo(
            host, port, family=socket.AF_UNSPEC, type=socket.SOCK_STREAM
        )
    except (OSError, UnicodeError) as exc:
        raise SsrfRefused("does not resolve") from exc
    addresses = list(dict.fromkeys(str(sockaddr[0]) for *_, sockaddr in answers))
    if not addresses:
        raise SsrfRefused("does not resolve")
    return addresses


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _is_exempt(host: str, policy: SsrfPolicy) -> bool:
    return host in policy.exempt_hosts or (":" in host and f"[{host}]" in policy.exempt_hosts)


async def checked_addresses(host: str, port: int, policy: SsrfPolicy) -> list[str]:
    """Resolve ``host`` once and refuse it if any answer is a special-use address.

    An answer set mixing public and special-use addresses is refused as a whole. Host strings
    that :func:`ipaddress.ip_address` rejects (``127.1``, ``2130706433``, ``0x7f000001``) are
    names: the system resolver reads them the way ``inet_aton`` does, and the result is judged.

    Args:
        host: a URL host as httpx gives it (IPv6 without brackets).
        port: the URL's port, passed to the resolver.
        policy: the issuer's policy; an exempt host, or any host when the policy is disabled,
            is resolved and returned unchecked.

    Returns:
        The checked addresses, in the resolver's order.

    Raises:
        SsrfRefused: the host is, or resolves to, a special-use address, or does not resolve.
    """
    if not host:
        raise SsrfRefused("has no host")
    literal = _literal(host)
    addresses = [str(literal)] if literal is not None else await _resolve(host, port)
    if not policy.enabled or _is_exempt(host, policy):
        return addresses
    if literal is None and not policy.check_names:
        return addresses
    verb = "is" if literal is not None else "resolves to"
    for text in addresses:
        block = classify(ipaddress.ip_address(text), recognise_mapped=policy.recognise_mapped)
        if block is not None:
            raise SsrfRefused(f"{verb} {text} ({block.name}, {block.rfc})")
    return addresses


class _PinnedBackend(httpcore.AsyncNetworkBackend):
    """Opens every TCP connection to one fixed address, whatever host httpcore asks for."""

    def __init__(self, address: str) -> None:
        self._address = address
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        # ``host`` is the URL's name; resolving it here would be the second DNS lookup that
        # DNS rebinding needs (CIMD-SEC-03). TLS still uses the name for SNI and verification.
        del host
        return await self._inner.connect_tcp(
            self._address,
            port,
            timeout=timeout,
            local_address=local_address,
            socket_options=socket_options,
        )

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


# httpx maps httpcore's exceptions in a private helper, so the mapping is restated here.
_ERRORS: tuple[tuple[type[Exception], type[httpx.TransportError]], ...] = (
    (httpcore.ConnectTimeout, httpx.ConnectTimeout),
    (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout),
    (httpcore.PoolTimeout, httpx.PoolTimeout),
    (httpcore.TimeoutException, httpx.TimeoutException),
    (httpcore.ConnectError, httpx.ConnectError),
    (httpcore.ReadError, httpx.ReadError),
    (httpcore.WriteError, httpx.WriteError),
    (httpcore.NetworkError, httpx.NetworkError),
    (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol),
    (httpcore.LocalProtocolError, httpx.LocalProtocolError),
    (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
    (httpcore.ProtocolError, httpx.ProtocolError),
)


def _translated(exc: Exception) -> Exception:
    mapped = next((to for source, to in _ERRORS if isinstance(exc, source)), None)
    return exc if mapped is None else mapped(str(exc))


class _PinnedStream(httpx.AsyncByteStream):
    def __init__(self, stream: AsyncIterable[bytes]) -> None:
        self._stream = stream

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._stream:
                yield chunk
        except Exception as exc:
            raise _translated(exc) from exc

    async def aclose(self) -> None:
        aclose = getattr(self._stream, "aclose", None)
        if aclose is not None:
            await aclose()


# httpcore's own pool limits, which a pinned transport has unless given others
_HTTPCORE_LIMITS = httpx.Limits(
    max_connections=10, max_keepalive_connections=None, keepalive_expiry=None
)


class _PinnedTransport(httpx.AsyncBaseTransport):
    def __init__(
        self, address: str, ssl_context: ssl.SSLContext, limits: httpx.Limits | None = None
    ) -> None:
        limits = limits or _HTTPCORE_LIMITS
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context,
            network_backend=_PinnedBackend(address),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if not isinstance(request.stream, httpx.AsyncByteStream):
            raise TypeError("the pinned transport needs an async request body")
        core_request = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=request.url.raw_scheme,
                host=request.url.raw_host,
                port=request.url.port,
                target=request.url.raw_path,
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        try:
            response = await self._pool.handle_async_request(core_request)
        except Exception as exc:
            raise _translated(exc) from exc
        if not isinstance(response.stream, AsyncIterable):
            raise TypeError("httpcore returned a synchronous response body")
        return httpx.Response(
            status_code=response.status,
            headers=response.headers,
            stream=_PinnedStream(response.stream),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        await self._pool.aclose()


def transport(
    address: str | None, ssl_context: ssl.SSLContext, limits: httpx.Limits | None = None
) -> httpx.AsyncBaseTransport:
    """An httpx transport that connects every request to ``address``.

    The URL's host still gives the TLS server name (SNI), the name the certificate is verified
    against, and the ``Host`` header.

    Args:
        address: the checked IP address to connect to; ``None`` for an ordinary transport that
            resolves each URL's host itself (the ``pin`` fault, or a disabled policy).
        ssl_context: the context TLS connections are verified with.
        limits: how many connections it keeps, and for how long (httpx's defaults if
            ``None``).

    Returns:
        A transport for ``httpx.AsyncClient(transport=...)``.
    """
    if address is None:
        if limits is None:
            return httpx.AsyncHTTPTransport(verify=ssl_context)
        return httpx.AsyncHTTPTransport(verify=ssl_context, limits=limits)
    return _PinnedTransport(address, ssl_context, limits)


async def guarded_address(url: str, policy: SsrfPolicy) -> str | None:
    """Check ``url``'s host and return the address its connection must go to.

    Args:
        url: the URL about to be fetched.
        policy: the issuer's policy.

    Returns:
        The first checked address, or ``None`` when nothing is pinned (the policy is
        disabled or does not pin): the connection then resolves the host itself.

    Raises:
        SsrfRefused: the URL is not http(s), or its host is refused by :func:`checked_addresses`.
    """
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise SsrfRefused("not a valid URL") from exc
    if parsed.scheme not in ("https", "http"):
        raise SsrfRefused("scheme not allowed")
    if not policy.enabled:
        return None
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    addresses = await checked_addresses(parsed.host, port, policy)
    return addresses[0] if policy.pin else None


async def guarded_client_kwargs(
    url: str, policy: SsrfPolicy, ssl_context: ssl.SSLContext
) -> dict[str, Any]:
    """Check ``url``'s host and return the arguments for an ``httpx.AsyncClient`` that fetches it.

    The client must also be built with ``trust_env=False``: an environment proxy would resolve
    the name itself. A pinned client must not follow redirects to other hosts: it would connect
    them to the same address.

    Returns:
        ``{"transport": ...}``, pinned to the first checked address unless the policy is
        disabled or does not pin (:func:`guarded_address`).

    Raises:
        SsrfRefused: the URL is not http(s), or its host is refused by :func:`checked_addresses`.
    """
    return {"transport": transport(await guarded_address(url, policy), ssl_context)}
