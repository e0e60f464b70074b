"""Client ID Metadata Documents: the client_id URL checked, the document fetched and read.

What draft-ietf-oauth-client-id-metadata-document asks of the authorization server when a
``client_id`` is an https URL: the URL's shape, a bounded fetch without redirects from an
address that is not internal, and a document whose ``client_id`` is that URL exactly, with
no shared secret.
"""

from __future__ import annotations

import ipaddress
import json
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx
from authlib.oauth2.rfc6749 import ClientMixin

MAX_BYTES = 5 * 1024
TIMEOUT_S = 5.0
MAX_CACHE_S = 24 * 3600
LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")
LOOPBACK_ADDRESSES = (ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1"))
PRIVATE_KEY_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "k"}


class ClientDocumentError(Exception):
    """The client_id URL or its document cannot be used (the message says why)."""


def check_client_id_url(client_id: str) -> None:
    """Refuse a ``client_id`` that is not a usable client identifier URL.

    Raises:
        ClientDocumentError: https only, a path, no fragment, credentials, dot segments.
    """
    parts = urlsplit(client_id)
    if parts.scheme != "https" or not parts.hostname:
        raise ClientDocumentError("client_id must be an https URL")
    if parts.fragment or "#" in client_id:
        raise ClientDocumentError("client_id must not have a fragment")
    if parts.username is not None or parts.password is not None:
        raise ClientDocumentError("client_id must not carry credentials")
    if not parts.path or parts.path == "/":
        raise ClientDocumentError("client_id must have a path")
    segments = parts.path.split("/")
    if "." in segments or ".." in segments:
        raise ClientDocumentError("client_id must not have dot segments")


def _internal(address: str, allow_loopback: bool) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip in LOOPBACK_ADDRESSES:
        return not allow_loopback
    return not ip.is_global or ip.is_multicast


def check_address(host: str, port: int, allow_loopback: bool) -> None:
    """Refuse a host that resolves to an internal address (SSRF).

    Raises:
        ClientDocumentError: an address is private, link-local, reserved or the like.
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise ClientDocumentError(f"client_id host does not resolve: {exc}") from None
    for info in infos:
        if _internal(str(info[4][0]), allow_loopback):
            raise ClientDocumentError("client_id host resolves to an internal address")


@dataclass
class Client(ClientMixin):  # type: ignore[misc]
    """A client known from its metadata document (Authlib's client model)."""

    client_id: str
    document: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """What the consent page calls the client (its own, unverified, name)."""
        return str(self.document.get("client_name") or self.client_id)

    @property
    def redirect_uris(self) -> list[str]:
        """The document's redirect URIs."""
        return [str(u) for u in self.document.get("redirect_uris", [])]

    def get_client_id(self) -> str:
        """The client_id: the document's URL."""
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:
        """The only redirect URI, when the document lists exactly one."""
        uris = self.redirect_uris
        return uris[0] if len(uris) == 1 else None

    def get_allowed_scope(self, scope: str) -> str:
        """The requested scopes the document's ``scope`` allows (all when it has none)."""
        allowed = set(str(self.document.get("scope", "")).split())
        return " ".join(s for s in scope.split() if not allowed or s in allowed) if scope else ""

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        """Exact match; a loopback http URI may use any port (RFC 8252 §7.3)."""
        if redirect_uri in self.redirect_uris:
            return True
        given = urlsplit(redirect_uri)
        if given.scheme != "http" or given.hostname is None:
            return False
        for registered in map(urlsplit, self.redirect_uris):
            if (
                registered.scheme == "http"
                and registered.hostname in LOOPBACK_HOSTS
                and registered.hostname == given.hostname
                and (registered.path, registered.query) == (given.path, given.query)
            ):
                return True
        return False

    def check_client_secret(self, client_secret: str) -> bool:
        """Never: a metadata document carries no shared secret."""
        return False  # a metadata document never carries a shared secret

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        """Public clients only: ``none``."""
        return method == "none"

    def check_response_type(self, response_type: str) -> bool:
        """Whether the document declares ``response_type`` (default ``code``)."""
        return response_type in self.document.get("response_types", ["code"])

    def check_grant_type(self, grant_type: str) -> bool:
        """Whether the document declares ``grant_type`` (default authorization_code)."""
        return grant_type in self.document.get("grant_types", ["authorization_code"])


def read_document(client_id: str, body: bytes, content_type: str) -> Client:
    """The client a fetched document describes.

    Raises:
        ClientDocumentError: not JSON, not an object, another client_id, a shared secret,
            no redirect URIs.
    """
    if content_type.split(";", 1)[0].strip().lower() != "application/json":
        raise ClientDocumentError("the client document is not application/json")
    try:
        document = json.loads(body)
    except ValueError:
        raise ClientDocumentError("the client document is not JSON") from None
    if not isinstance(document, dict):
        raise ClientDocumentError("the client document is not a JSON object")
    if document.get("client_id") != client_id:
        raise ClientDocumentError("the document's client_id is not its URL")
    if "client_secret" in document or "client_secret_expires_at" in document:
        raise ClientDocumentError("a client document must not carry a client secret")
    if document.get("token_endpoint_auth_method", "none") != "none":
        # this server has public clients only: no shared secrets, no private_key_jwt
        raise ClientDocumentError("only token_endpoint_auth_method none is supported")
    _check_keys(document)
    uris = document.get("redirect_uris")
    if not isinstance(uris, list) or not uris or not all(isinstance(u, str) for u in uris):
        raise ClientDocumentError("the client document has no redirect_uris")
    for uri in uris:
        check_redirect_uri(uri)
    return Client(client_id, document)


def _check_keys(document: dict[str, Any]) -> None:
    if "jwks" in document and "jwks_uri" in document:
        raise ClientDocumentError("a client document has jwks or jwks_uri, not both")
    jwks = document.get("jwks")
    keys = jwks.get("keys", []) if isinstance(jwks, dict) else []
    if any(isinstance(k, dict) and PRIVATE_KEY_MEMBERS & k.keys() for k in keys):
        raise ClientDocumentError("the client document publishes private key material")


def check_redirect_uri(uri: str) -> None:
    """Refuse a listed redirect URI that cannot be one.

    Relative, with a fragment, http off loopback, or a private-use scheme without a dot
    (RFC 8252 §7.1).

    Raises:
        ClientDocumentError: the URI says why.
    """
    parts = urlsplit(uri)
    if not parts.scheme or parts.fragment or "#" in uri:
        raise ClientDocumentError(f"redirect URI {uri!r} is relative or has a fragment")
    if parts.scheme == "http" and parts.hostname not in LOOPBACK_HOSTS:
        raise ClientDocumentError(f"redirect URI {uri!r} is http off loopback")
    if parts.scheme not in ("http", "https") and "." not in parts.scheme:
        raise ClientDocumentError(f"redirect URI {uri!r} has a private-use scheme without a dot")


class ClientDocuments:
    """Fetches client documents, and keeps them as long as their Cache-Control allows.

    Args:
        trust: the TLS trust for fetching (the system's, plus your test CA in tests).
        allow_loopback: development only: fetch from loopback addresses.
    """

    def __init__(self, trust: ssl.SSLContext, *, allow_loopback: bool = False) -> None:
        self.trust = trust
        self.allow_loopback = allow_loopback
        self._cache: dict[str, tuple[float, Client]] = {}
        self._lock = threading.Lock()

    def client(self, client_id: str) -> Client:
        """The client ``client_id`` names, fetched (or cached).

        Raises:
            ClientDocumentError: the URL or its document cannot be used.
        """
        check_client_id_url(client_id)
        with self._lock:
            kept = self._cache.get(client_id)
        if kept is not None and kept[0] > time.monotonic():
            return kept[1]
        client, lifetime = self._fetch(client_id)
        if lifetime > 0:
            with self._lock:
                self._cache[client_id] = (time.monotonic() + lifetime, client)
        return client

    def _fetch(self, client_id: str) -> tuple[Client, float]:
        parts = urlsplit(client_id)
        check_address(parts.hostname or "", parts.port or 443, self.allow_loopback)
        timeout = httpx.Timeout(TIMEOUT_S)
        headers = {"Accept": "application/json", "Accept-Encoding": "identity"}
        try:
            with (
                httpx.Client(verify=self.trust, timeout=timeout, trust_env=False) as http,
                http.stream("GET", client_id, headers=headers, follow_redirects=False) as answer,
            ):
                if answer.status_code != 200:
                    raise ClientDocumentError(
                        f"fetching the client document answered {answer.status_code}"
                    )
                body = bytearray()
                deadline = time.monotonic() + TIMEOUT_S
                for chunk in answer.iter_raw():
                    body += chunk
                    if len(body) > MAX_BYTES:
                        raise ClientDocumentError("the client document is too large")
                    if time.monotonic() > deadline:
                        raise ClientDocumentError("the client document took too long")
                content_type = answer.headers.get("content-type", "")
                encoding = answer.headers.get("content-encoding", "identity")
                cache_control = answer.headers.get("cache-control", "")
        except httpx.HTTPError as exc:
            raise ClientDocumentError(f"the client document could not be fetched: {exc}") from None
        if encoding.strip().lower() not in ("", "identity"):
            raise ClientDocumentError("the client document came compressed")
        return read_document(client_id, bytes(body), content_type), _lifetime(cache_control)


def _lifetime(cache_control: str) -> float:
    """Seconds a document may be kept: its ``max-age`` (capped), none for no-store/no-cache."""
    directives = [d.strip().lower() for d in cache_control.split(",")]
    if "no-store" in directives or "no-cache" in directives:
        return 0.0
    for directive in directives:
        name, _, value = directive.partition("=")
        if name == "max-age" and value.isdigit():
            return float(min(int(value), MAX_CACHE_S))
    return 0.0
