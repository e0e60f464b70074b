"""Resolving a Client Identifier URL into a validated client: check, fetch, parse, validate.

Syntax is checked before any network I/O (CIMD-URL-09); the document is fetched only when no
fresh valid copy is cached under the exact identifier.
"""

from __future__ import annotations

from typing import Literal

from .config import IssuerConfig
from .documents import ClientDocument, DocumentError, parse_document, validate_document
from .faults import F
from .fetching import DocumentCache, Fetcher, FetchError
from .identifiers import ClientIdSyntaxError, check_client_id
from .ratelimit import FetchLimiter, RateLimited

Stage = Literal["syntax", "fetch", "document", "rate"]


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

    async def resolve(self, identifier: str) -> ClientDocument:
        """The validated client for ``identifier``.

        Raises:
            ClientError: the identifier, the fetch or the document failed a rule.
        """
        try:
            fetch_url = check_client_id(identifier, self._faults)
        except ClientIdSyntaxError as exc:
            raise ClientError(str(exc), "syntax") from exc
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
