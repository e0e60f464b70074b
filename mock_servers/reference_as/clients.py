"""Resolving a Client Identifier URL into a validated client: check, fetch, parse, validate.

Syntax is checked before any network I/O (CIMD-URL-09); the document is fetched only when no
fresh valid copy is cached under the exact identifier.
"""

from __future__ import annotations

import contextlib
from collections import OrderedDict
from typing import Literal

from .config import IssuerConfig
from .documents import ClientDocument, DocumentError, parse_document, validate_document
from .faults import F
from .fetching import DocumentCache, Fetcher, FetchError
from .identifiers import ClientIdSyntaxError, as_read_by_url_library, check_client_id, split_uri
from .ratelimit import FetchLimiter, RateLimited

Stage = Literal["syntax", "fetch", "document", "rate"]
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
        self._fetcher = Fetcher(config)
        self._cache: DocumentCache[ClientDocument] = DocumentCache()
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
        return await self._fetcher.fetch_jwks(url)

    async def logo(self, client: ClientDocument) -> str | None:
        """The client's logo as a ``data:`` URI for the consent page, if it can be had."""
        return await self._fetcher.fetch_logo(client.logo_uri)

    async def logo_at(self, url: str) -> str | None:
        """The logo at ``url`` as a ``data:`` URI, if it can be had (the lazy-logo fault)."""
        return await self._fetcher.fetch_logo(url)

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
                    await self._fetcher.fetch(as_read_by_url_library(identifier))
            raise ClientError(str(exc), "syntax") from exc
        host, port = split_uri(identifier).host_port()
        if port is not None and self._faults.has(F.REFUSES_CLIENT_ID_PORT):
            self._refuse_port(host)
        if self._faults.has(F.CLIENT_ID_NOT_FETCHED):
            # the fault: a URL that passes the syntax checks is taken on trust, never fetched
            return ClientDocument(identifier, None, None)
        cached = self._cache.get(identifier)
        if cached is not None:
            return cached
        if self._limiter is not None:
            try:
                self._limiter.admit(identifier)
            except RateLimited as exc:
                raise ClientError(str(exc), "rate", exc.retry_after) from exc
        try:
            fetched = await self._fetcher.fetch(fetch_url)
        except FetchError as exc:
            if exc.network and self._faults.has(F.TRUSTS_UNREACHABLE_DOCUMENTS):
                return ClientDocument(identifier, None, None)  # a placeholder public client
            raise ClientError(exc.description, "fetch") from exc
        try:
            parsed = parse_document(fetched.body, lenient=self._faults.has(F.LENIENT_JSON))
            document = validate_document(parsed, identifier, self._faults)
        except DocumentError as exc:
            raise ClientError(exc.description, "document") from exc
        self._cache.put(identifier, document, fetched.cache_control)
        return document
