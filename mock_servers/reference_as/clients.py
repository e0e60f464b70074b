"""Resolving a Client Identifier URL into a validated client: check, fetch, parse, validate.

Syntax is checked before any network I/O (CIMD-URL-09); the document is fetched only when no
fresh valid copy is cached under the exact identifier.
"""

from __future__ import annotations

import contextlib
from collections import OrderedDict
from dataclasses import replace
from typing import Literal

from .config import IssuerConfig
from .documents import ClientDocument, DocumentError, parse_document, validate_document
from .faults import F
from .fetching import (
    MAX_CACHE_LIFETIME_S,
    DocumentCache,
    Fetcher,
    FetchError,
    freshness_lifetime,
)
from .identifiers import (
    ClientIdSyntaxError,
    as_read_by_url_library,
    check_client_id,
    normalize_identifier,
    split_uri,
)
from .ratelimit import FetchLimiter, RateLimited

Stage = Literal["syntax", "fetch", "document", "rate"]
MAX_KEPT_LOGOS = 256
IGNORED_NO_STORE_S = 300
"""How long the ``ignores-no-store`` fault keeps a document that must not be stored."""
SMALL_CACHE_ENTRIES = 2  # the small-cache variant: a bounded cache under load
MAX_REGISTERED = 1024  # dynamically registered clients kept (the oldest go first)


class ClientError(Exception):
    """The client could not be established; the request must end on an error page.

    Attributes:
        description: safe to show to the user.
        stage: where it failed: identifier syntax, fetching, document validation, or a
            fetch over the ``rate-limited`` variant's limits.
        retry_after: with stage ``rate``, the seconds until a fetch is allowed again.
    """

    def __init__(self, description: str, stage: Stage, retry_after: int = 0) -> None:
        super().__init__(description)
        self.description = description
        self.stage = stage
        self.retry_after = retry_after


class ClientResolver:
    """Turns identifiers into clients for one issuer, with that issuer's cache and faults."""

    def __init__(self, config: IssuerConfig) -> None:
        self._faults = config.faults
        self._exempt_hosts = config.exempt_hosts
        self._registered: OrderedDict[str, ClientDocument] = OrderedDict()
        self.fetcher = Fetcher(config)
        capacity = SMALL_CACHE_ENTRIES if config.is_variant("small-cache") else None
        if config.is_variant("no-cache"):
            capacity = 0
        self._cache: DocumentCache[ClientDocument] = DocumentCache(capacity)
        # each client's logo with the copy of the document it was fetched for (CIMD-UI-05)
        self._logos: OrderedDict[str, tuple[ClientDocument, str | None]] = OrderedDict()
        self._failures: DocumentCache[ClientError] = DocumentCache()  # only the caching faults
        self._first: dict[str, ClientDocument] = {}  # only the pinning faults
        self._limiter = (
            FetchLimiter(config.rate_interval_s, config.rate_budget, config.rate_window_s)
            if config.is_variant("rate-limited")
            else None
        )

    async def jwks(self, url: str) -> bytes:
        """The key set at ``url`` (a client's ``jwks_uri``), fetched under the SSRF rules.

        Raises:
            FetchError: it cannot be had.
        """
        return await self.fetcher.fetch_jwks(url)

    async def logo(self, client: ClientDocument) -> str | None:
        """The client's logo as a ``data:`` URI for the consent page, if it can be had.

        The logo is fetched once per copy of the document and kept as long as that copy is
        (CIMD-UI-05): while the document cache serves the same copy, its logo comes from here;
        a document fetched again (a new copy) gets its logo fetched again.
        """
        kept = self._logos.get(client.client_id)
        if kept is not None and kept[0] is client:
            return kept[1]
        logo = await self.fetcher.fetch_logo(client.logo_uri)
        self._logos[client.client_id] = (client, logo)
        self._logos.move_to_end(client.client_id)
        while len(self._logos) > MAX_KEPT_LOGOS:
            self._logos.popitem(last=False)
        return logo

    async def logo_at(self, url: str) -> str | None:
        """The logo at ``url`` as a ``data:`` URI, if it can be had (the lazy-logo fault)."""
        return await self.fetcher.fetch_logo(url)

    def _refuse_port(self, host: str) -> None:
        """The ``refuses-client-id-port`` fault: a port only "for local development"."""
        if host not in self._exempt_hosts:
            raise ClientError("client_id must not carry a port", "syntax")

    def register(self, client: ClientDocument) -> None:
        """Keep a client registered dynamically (RFC 7591) under its minted ``client_id``."""
        self._registered[client.client_id] = client
        while len(self._registered) > MAX_REGISTERED:
            self._registered.popitem(last=False)

    async def resolve(self, identifier: str) -> ClientDocument:
        """The validated client for ``identifier``: a registered one, or a document's.

        Raises:
            ClientError: the identifier, the fetch or the document failed a rule.
        """
        registered = self._registered.get(identifier)
        if registered is not None:
            return registered
        try:
            fetch_url = check_client_id(identifier, self._faults)
        except ClientIdSyntaxError as exc:
            if self._faults.has(F.SYNTAX_CHECKED_AFTER_FETCH) and identifier.startswith("https:"):
                # the fault fetches first, as a URL library reads the identifier, and checks
                # the raw string only then (for a valid identifier the two are one fetch)
                with contextlib.suppress(FetchError):
                    await self.fetcher.fetch(as_read_by_url_library(identifier))
            raise ClientError(str(exc), "syntax") from exc
        host, port = split_uri(identifier).host_port()
        if port is not None and self._faults.has(F.REFUSES_CLIENT_ID_PORT):
            self._refuse_port(host)
        if self._faults.has(F.CLIENT_ID_NOT_FETCHED):
            # the fault: a URL that passes the syntax checks is taken on trust, never fetched
            return ClientDocument(identifier, None, None)
        key = self._cache_key(identifier)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        failed = self._failures.get(key)
        if failed is not None:
            raise failed
        if self._limiter is not None:
            try:
                self._limiter.admit(identifier)
            except RateLimited as exc:
                raise ClientError(str(exc), "rate", exc.retry_after) from exc
        try:
            fetched = await self.fetcher.fetch(fetch_url)
        except FetchError as exc:
            if exc.network and self._faults.has(F.TRUSTS_UNREACHABLE_DOCUMENTS):
                return ClientDocument(identifier, None, None)  # a placeholder public client
            error = ClientError(exc.description, "fetch")
            if self._faults.has(F.CACHES_ERRORS):
                self._failures.put(key, error, exc.cache_control)
            raise error from exc
        try:
            parsed = parse_document(fetched.body, lenient=self._faults.has(F.LENIENT_JSON))
            document = validate_document(parsed, identifier, self._faults)
        except DocumentError as exc:
            error = ClientError(exc.description, "document")
            if self._faults.has(F.CACHES_INVALID_DOCUMENTS):
                self._failures.put(key, error, fetched.cache_control)
            raise error from exc
        document = self._pinned(document)
        self._cache.store(key, document, self._lifetime(fetched.cache_control))
        return document

    def _lifetime(self, cache_control: str) -> int | None:
        """How long a valid document is kept: RFC 9111 within bounds, unless faulted."""
        lifetime = freshness_lifetime(cache_control)
        if lifetime is None and self._faults.has(F.IGNORES_NO_STORE):
            return IGNORED_NO_STORE_S
        if lifetime is not None and self._faults.has(F.FIXED_CACHE_LIFETIME):
            return MAX_CACHE_LIFETIME_S
        return lifetime

    def _cache_key(self, identifier: str) -> str:
        """The exact identifier (CIMD-CACHE-05); normalized under ``cache-keyed-normalized``."""
        if self._faults.has(F.CACHE_KEYED_NORMALIZED):
            return normalize_identifier(identifier)
        return identifier

    def _pinned(self, document: ClientDocument) -> ClientDocument:
        """``document`` with members pinned at the first fetch, under the pinning faults."""
        pins_uris = self._faults.has(F.REDIRECT_URIS_PINNED_AT_FIRST_FETCH)
        pins_keys = self._faults.has(F.KEYS_PINNED_AT_FIRST_FETCH)
        if not (pins_uris or pins_keys):
            return document
        first = self._first.setdefault(document.client_id, document)
        if pins_uris:
            document = replace(document, redirect_uris=first.redirect_uris)
        if pins_keys:
            document = replace(document, jwks=first.jwks, jwks_uri=first.jwks_uri)
        return document
