"""Fixtures for the reference AS tests: a TLS document host and in-process AS clients."""

from __future__ import annotations

import base64
import hashlib
import itertools
import secrets
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from mock_servers.pki import TestCA
from mock_servers.reference_as import Fault, FaultSet, IssuerConfig, create_app
from mock_servers.runner import Connections, Receive, Scope, Send, Server

AS_ORIGIN = "https://as.test"
RESOURCE = AS_ORIGIN + "/mcp"  # the protected resource the issuer serves by default
JSON_TYPE = ("content-type", "application/json")
USER, PASSWORD = "alice", "wonderland-test-only"


@dataclass
class Hosted:
    status: int
    body: bytes
    headers: list[tuple[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class Logged:
    target: str
    headers: dict[str, str]


class DocumentHost:
    """A tiny ASGI document server: hosting is data, every request is logged."""

    def __init__(self) -> None:
        self.base_url = ""
        self.hosted: dict[str, Hosted] = {}
        self.log: list[Logged] = []
        self.connections = Connections()  # the serving Server's
        self._ids = itertools.count()

    def reset(self) -> None:
        self.hosted.clear()
        self.log.clear()

    def new_url(self, suffix: str = ".json") -> str:
        return f"{self.base_url}/c/{next(self._ids)}-{secrets.token_hex(4)}{suffix}"

    def serve(
        self,
        url: str,
        body: bytes | dict[str, Any] | list[Any],
        status: int = 200,
        headers: list[tuple[str, str]] | None = None,
    ) -> None:
        raw = body if isinstance(body, bytes) else httpx.Response(200, json=body).content
        given = headers or []
        kind = [] if any(name == "content-type" for name, _ in given) else [JSON_TYPE]
        all_headers = [*kind, *given]
        self.hosted[self._target(url)] = Hosted(status, raw, all_headers)

    def serve_document(self, url: str, cache_control: str = "no-store", **members: Any) -> None:
        self.serve(url, golden(url, **members), headers=[("cache-control", cache_control)])

    def fetches(self, url: str) -> int:
        return sum(1 for entry in self.log if entry.target == self._target(url))

    @staticmethod
    def _target(url: str) -> str:
        parts = urlsplit(url)
        return parts.path + ("?" + parts.query if parts.query else "")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                await send({"type": message["type"] + ".complete"})
                if message["type"] == "lifespan.shutdown":
                    return
        query = scope["query_string"].decode()
        target = scope["raw_path"].decode() + ("?" + query if query else "")
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        self.log.append(Logged(target, headers))
        hosted = self.hosted.get(target, Hosted(404, b"not found"))
        raw_headers = [(k.encode(), v.encode()) for k, v in hosted.headers]
        await send({"type": "http.response.start", "status": hosted.status, "headers": raw_headers})
        await send({"type": "http.response.body", "body": hosted.body})


def golden(url: str, **members: Any) -> dict[str, Any]:
    """The catalog's golden public-client document G, with members overridden."""
    document: dict[str, Any] = {
        "client_id": url,
        "client_name": "CIMD Probe",
        "redirect_uris": ["http://127.0.0.1/callback", "https://app.test/cb"],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
    }
    document.update(members)
    return {key: value for key, value in document.items() if value is not None}


@pytest.fixture(scope="session")
def test_ca(tmp_path_factory: pytest.TempPathFactory) -> TestCA:
    return TestCA.load_or_create(tmp_path_factory.mktemp("ca"))


@pytest.fixture(scope="session")
def _document_host(
    test_ca: TestCA, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DocumentHost]:
    host = DocumentHost()
    leaf = test_ca.issue_server_pem(tmp_path_factory.mktemp("leaf"))
    with Server(host, certfile=leaf) as server:
        host.base_url = server.base_url
        host.connections = server.connections
        yield host
        server.raise_crash()


@pytest.fixture
def docs(_document_host: DocumentHost) -> DocumentHost:
    _document_host.reset()
    return _document_host


@pytest.fixture
def ca_path(test_ca: TestCA) -> Path:
    return test_ca.cert_path


class ASClient:
    """An httpx client on the in-process reference AS, with flow helpers."""

    def __init__(self, http: httpx.AsyncClient, prefix: str = "") -> None:
        self.http = http
        self.prefix = prefix

    async def authorize(self, **params: str) -> httpx.Response:
        return await self.http.get(self.prefix + "/authorize", params=params)

    async def login(self) -> None:
        response = await self.http.post(
            self.prefix + "/login", data={"username": USER, "password": PASSWORD, "next": ""}
        )
        assert response.status_code == 302

    async def approve(self, consent_page: httpx.Response, decision: str = "approve") -> str:
        fields = hidden_fields(consent_page.text)
        fields["decision"] = decision
        response = await self.http.post(self.prefix + "/consent", data=fields)
        assert response.status_code == 302, response.text
        return response.headers["location"]

    async def token(self, **form: str) -> httpx.Response:
        return await self.http.post(self.prefix + "/token", data=form)


def hidden_fields(html: str) -> dict[str, str]:
    import re

    pattern = r'<input type="hidden" name="(\w+)" value="([^"]*)">'
    return dict(re.findall(pattern, html))


def query_of(location: str) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(location).query).items()}


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def authz_params(
    client_id: str, redirect_uri: str | None, challenge: str, **extra: str
) -> dict[str, str]:
    params = {
        "response_type": "code",
        "client_id": client_id,
        "state": "st-" + secrets.token_hex(4),
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "resource": RESOURCE,
    }
    if redirect_uri is not None:
        params["redirect_uri"] = redirect_uri
    params.update(extra)
    return params


@pytest.fixture
async def make_client(ca_path: Path) -> AsyncIterator[Any]:
    clients: list[httpx.AsyncClient] = []

    def make(*faults: Fault, prefix: str = "", timeout: float = 5.0) -> ASClient:
        config = IssuerConfig(
            issuer=AS_ORIGIN + prefix,
            path_prefix=prefix,
            faults=FaultSet(faults),
            trust_ca=ca_path,
            fetch_timeout_s=timeout,
        )
        transport = httpx.ASGITransport(app=create_app([config]))
        http = httpx.AsyncClient(transport=transport, base_url=AS_ORIGIN)
        clients.append(http)
        return ASClient(http, prefix)

    yield make
    for http in clients:
        await http.aclose()


@pytest.fixture
async def client(make_client: Any) -> ASClient:
    result: ASClient = make_client()
    return result
