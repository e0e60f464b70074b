"""Fixtures for the observers' unit tests: the reference AS in-process, behind a session.

The reference AS runs in this process as an ASGI app behind a synchronous httpx transport,
so a :class:`~conformance.harness.session.TargetSession` talks to it exactly as it talks to
a real target (same client code, same cookie jar), without a child process or a browser.
It fetches client documents over real TLS from a small document host on loopback.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import ssl
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from conformance.harness.outcome import Outcome, OutcomeKind
from conformance.harness.session import TargetSession, ssl_context
from conformance.target.discovery import Target
from mock_servers.pki import TestCA
from mock_servers.reference_as import IssuerConfig, create_app
from mock_servers.runner import Receive, Scope, Send, Server

AS_ORIGIN = "https://as.test"
CALLBACK = "https://app.test/cb"
USER, PASSWORD = "alice", "wonderland-test-only"


class SyncASGITransport(httpx.BaseTransport):
    """A synchronous transport into an ASGI app, on an event loop of its own."""

    def __init__(self, app: Any) -> None:
        self._asgi = httpx.ASGITransport(app=app)
        self._loop = asyncio.new_event_loop()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = request.read()
        forwarded = httpx.Request(
            request.method, request.url, headers=request.headers, content=body
        )

        async def send() -> httpx.Response:
            answer = await self._asgi.handle_async_request(forwarded)
            content = await answer.aread()
            await answer.aclose()
            return httpx.Response(answer.status_code, headers=answer.headers, content=content)

        return self._loop.run_until_complete(send())

    def close(self) -> None:
        """Clients come and go (each closes its transport); :meth:`shutdown` ends the loop."""

    def shutdown(self) -> None:
        if not self._loop.is_closed():
            self._loop.run_until_complete(self._asgi.aclose())
            self._loop.close()


class Documents:
    """Client metadata documents on a TLS host on loopback, each at a fresh URL."""

    def __init__(self) -> None:
        self.base_url = ""
        self.hosted: dict[str, tuple[bytes, str]] = {}
        self.fetched: list[str] = []
        self._ids = itertools.count()

    def client(self, cache_control: str = "no-store", **members: Any) -> str:
        """Serve a valid public client's document; its URL (the client_id)."""
        path = f"/c/{next(self._ids)}.json"
        url = self.base_url + path
        document: dict[str, Any] = {
            "client_id": url,
            "client_name": "Unit Probe",
            "redirect_uris": [CALLBACK],
            "grant_types": ["authorization_code"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "none",
            **members,
        }
        self.hosted[path] = (json.dumps(document).encode(), cache_control)
        return url

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                await send({"type": message["type"] + ".complete"})
                if message["type"] == "lifespan.shutdown":
                    return
        self.fetched.append(scope["path"])
        body, cache = self.hosted.get(scope["path"], (b"not found", ""))
        status = 200 if scope["path"] in self.hosted else 404
        headers = [(b"content-type", b"application/json"), (b"cache-control", cache.encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


@pytest.fixture(scope="session")
def unit_ca(tmp_path_factory: pytest.TempPathFactory) -> TestCA:
    return TestCA.load_or_create(tmp_path_factory.mktemp("unit-ca"))


@pytest.fixture(scope="session")
def documents(unit_ca: TestCA, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Documents]:
    host = Documents()
    leaf = unit_ca.issue_server_pem(tmp_path_factory.mktemp("unit-leaf"))
    with Server(host, certfile=leaf) as server:
        host.base_url = server.base_url
        yield host
        server.raise_crash()


@dataclass
class FakeBrowser:
    """The run's browser as the session sees it: what it was asked, what it answers."""

    kind: OutcomeKind = OutcomeKind.CONSENT
    params: dict[str, str] = field(default_factory=lambda: {"code": "browser-code-1"})
    classified: list[tuple[str, str]] = field(default_factory=list)
    approved: list[tuple[str, str]] = field(default_factory=list)
    sign_in: Callable[[], None] | None = None  # how it signs in again; None: it has no login
    signed_in_again: list[str] = field(default_factory=list)

    def approve(self, url: str, redirect_uri: str) -> dict[str, str]:
        self.approved.append((url, redirect_uri))
        return dict(self.params)

    def classify(self, url: str, redirect_uri: str) -> Outcome:
        self.classified.append((url, redirect_uri))
        outcome = Outcome(self.kind, 200, url, redirect_uri=redirect_uri)
        outcome.seen_in = "browser"
        return outcome

    def sign_in_again(self, url: str) -> bool:
        if self.sign_in is None:
            return False
        self.signed_in_again.append(url)
        self.sign_in()
        return True


def make_target(issuer: str) -> Target:
    """A discovered target with the usual endpoints under ``issuer``."""
    metadata = {
        "issuer": issuer,
        "authorization_endpoint": f"{issuer}/authorize",
        "token_endpoint": f"{issuer}/token",
    }
    return Target(issuer, metadata, f"{issuer}/.well-known/oauth-authorization-server")


@dataclass
class ReferenceAS:
    """One in-process reference AS and a logged-out session on it."""

    config: IssuerConfig
    session: TargetSession
    transport: SyncASGITransport
    documents: Documents
    closers: list[Callable[[], None]] = field(default_factory=list)

    def client(self, **members: Any) -> str:
        return self.documents.client(**members)

    def login(self) -> None:
        """Sign in in another client and hand the cookies over, as the preflight does.

        The cookies travel in Playwright's shape (``session.add_cookies``), the way the
        browser's login reaches the session.
        """
        with httpx.Client(transport=self.transport, follow_redirects=False) as other:
            answer = other.post(
                f"{self.config.issuer}/login",
                data={"username": USER, "password": PASSWORD, "next": ""},
            )
            assert answer.status_code == 302, answer.text
            cookies = [
                {
                    "name": c.name,
                    "value": c.value or "",
                    "domain": c.domain,
                    "path": c.path,
                    "secure": c.secure,
                    "httpOnly": True,
                    "sameSite": "Lax",
                    "expires": -1,
                }
                for c in other.cookies.jar
            ]
        assert cookies
        self.session.add_cookies(cookies)


MakeAS = Callable[..., ReferenceAS]


@pytest.fixture(scope="session")
def unit_tls(unit_ca: TestCA) -> ssl.SSLContext:
    """The system trust store plus the unit tests' CA (slow to build, so built once)."""
    return ssl_context(str(unit_ca.cert_path))


@pytest.fixture
def reference_as(
    unit_ca: TestCA, unit_tls: ssl.SSLContext, documents: Documents
) -> Iterator[MakeAS]:
    """Build an in-process reference AS with variants; a session on it (not logged in)."""
    built: list[ReferenceAS] = []

    def make(*variants: str, issuer: str = AS_ORIGIN, **overrides: Any) -> ReferenceAS:
        config = IssuerConfig(
            issuer=issuer, trust_ca=unit_ca.cert_path, variants=frozenset(variants), **overrides
        )
        transport = SyncASGITransport(create_app([config]))
        client = httpx.Client(transport=transport, follow_redirects=False)
        session = TargetSession(make_target(issuer), client, unit_tls)
        made = ReferenceAS(
            config, session, transport, documents, [client.close, transport.shutdown]
        )
        built.append(made)
        return made

    yield make
    for made in built:
        for close in made.closers:
            close()
