"""Token requests (``TargetSession.redeem``) and ``TokenResult``.

Token requests go out on a cookie-less client of their own (the deadline-bounded one the run
uses), so these tests serve a token endpoint on a real loopback socket: the reference AS
itself over TLS for a whole flow, and a scripted endpoint for the answers a real server may
give (transient, non-JSON, errors).
"""

from __future__ import annotations

import base64
import gc
import json
import secrets
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from conformance.harness.client_assertions import ASSERTION_TYPE
from conformance.harness.outcome import OutcomeKind
from conformance.harness.session import Pkce, TargetSession, TokenResult
from conformance.redaction import SECRETS
from conformance.target import deadline
from conformance.target.pacing import Pacer, Pacing
from mock_servers.pki import TestCA
from mock_servers.reference_as import IssuerConfig, create_app
from mock_servers.runner import Receive, Scope, Send, Server, read_body

from .conftest import CALLBACK, PASSWORD, USER, Documents, make_target


class Lazy:
    """An ASGI app chosen after the server has its port (the issuer names the port)."""

    app: Any = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":  # before the app is chosen
            await _lifespan(receive, send)
            return
        await self.app(scope, receive, send)


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        await send({"type": message["type"] + ".complete"})
        if message["type"] == "lifespan.shutdown":
            return


@pytest.fixture
def live_as(
    unit_ca: TestCA, unit_tls: ssl.SSLContext, documents: Documents, tmp_path: Path
) -> Iterator[tuple[TargetSession, str]]:
    """The reference AS on a loopback TLS port, and a logged-in session as the run makes it."""
    lazy = Lazy()
    with Server(lazy, certfile=unit_ca.issue_server_pem(tmp_path)) as server:
        issuer = server.base_url
        lazy.app = create_app([IssuerConfig(issuer=issuer, trust_ca=unit_ca.cert_path)])
        with deadline.client(unit_tls) as client:
            session = TargetSession(make_target(issuer), client, unit_tls)
            login = client.post(
                f"{issuer}/login", data={"username": USER, "password": PASSWORD, "next": ""}
            )
            assert login.status_code == 302
            yield session, documents.client()
            session.cookieless.close()
        server.raise_crash()


def test_a_whole_flow_redeems_its_code_once(live_as: tuple[TargetSession, str]) -> None:
    session, client = live_as
    attempt = session.attempt(client, CALLBACK)
    approved = session.approve(attempt)
    assert approved.kind is OutcomeKind.CODE and attempt.pkce is not None
    code = approved.params["code"]
    args = {"client_id": client, "code": code, "redirect_uri": CALLBACK}

    tokens = session.redeem(**args, verifier=attempt.pkce.verifier)
    assert tokens.issued and tokens.body is not None
    assert tokens.describe() == "HTTP 200, tokens issued"
    access = tokens.body["access_token"]
    assert access in SECRETS and access not in tokens.text
    assert session.exchanges[-1] == {"method": "POST", "url": f"{session.target.issuer}/token",
                                     "status": 200}  # fmt: skip

    replayed = session.redeem(**args, verifier=attempt.pkce.verifier)
    assert not replayed.issued and replayed.error == "invalid_grant"
    assert replayed.describe() == (
        "HTTP 400, error 'invalid_grant' ('the code is invalid, expired, used or not yours')"
    )

    recorded = json.dumps(session.exchanges + session.attempts) + tokens.text + replayed.text
    for secret in (code, access, attempt.pkce.verifier):
        assert secret not in recorded


def test_a_wrong_verifier_is_refused(live_as: tuple[TargetSession, str]) -> None:
    session, client = live_as
    attempt = session.attempt(client, CALLBACK)
    code = session.approve(attempt).params["code"]
    result = session.redeem(
        client_id=client, code=code, redirect_uri=CALLBACK, verifier=Pkce.new().verifier
    )
    assert not result.issued and result.error == "invalid_grant"


PLAIN = ssl.create_default_context()  # the scripted endpoint is plain http


@dataclass
class TokenEndpoint:
    """A scripted token endpoint: each request takes the next answer, and is kept."""

    answers: list[tuple[int, dict[str, str], bytes]] = field(default_factory=list)
    requests: list[tuple[dict[str, str], bytes]] = field(default_factory=list)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        body = await read_body(receive)
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        self.requests.append((headers, body))
        status, extra, content = self.answers.pop(0)
        raw = [(k.encode(), v.encode()) for k, v in extra.items()]
        await send({"type": "http.response.start", "status": status, "headers": raw})
        await send({"type": "http.response.body", "body": content})


def _json(status: int, body: dict[str, Any], **headers: str) -> tuple[int, dict[str, str], bytes]:
    return status, {"content-type": "application/json", **headers}, json.dumps(body).encode()


@pytest.fixture
def endpoint() -> Iterator[tuple[TokenEndpoint, TargetSession, list[float], Server]]:
    scripted = TokenEndpoint()
    with Server(scripted) as server:
        session = TargetSession(make_target(server.base_url), httpx.Client(), PLAIN)
        slept: list[float] = []
        session.pacer = Pacer(Pacing(retries=2, backoff_s=0.5), sleep=slept.append)
        yield scripted, session, slept, server
        session.client.close()
        session.cookieless.close()
        server.raise_crash()


def test_the_request_is_a_public_clients_code_exchange(
    endpoint: tuple[TokenEndpoint, TargetSession, list[float], Server],
) -> None:
    scripted, session, _, _ = endpoint
    scripted.answers.append(_json(200, {"access_token": "at-" + secrets.token_hex(8)}))
    session.client.cookies.set("sid", "session-cookie-1", domain="127.0.0.1")
    session.redeem(client_id="https://m.test/c.json", code="the-code-1", redirect_uri=None,
                   verifier="the-verifier-123")  # fmt: skip
    headers, body = scripted.requests[0]
    assert parse_qs(body.decode()) == {
        "grant_type": ["authorization_code"],
        "code": ["the-code-1"],
        "client_id": ["https://m.test/c.json"],
        "code_verifier": ["the-verifier-123"],
    }
    assert "cookie" not in headers and "authorization" not in headers  # no session, no secret
    assert "the-code-1" in SECRETS and "the-verifier-123" in SECRETS


def test_token_requests_share_a_connection_and_keep_no_cookie(
    endpoint: tuple[TokenEndpoint, TargetSession, list[float], Server],
) -> None:
    scripted, session, _, server = endpoint
    for _ in range(3):
        scripted.answers.append(_json(400, {"error": "invalid_grant"}, **{"set-cookie": "t=1"}))
    before, _ = server.connections.snapshot()
    for code in ("code-shared-1", "code-shared-2"):
        session.redeem(client_id="c1", code=code, redirect_uri=None, verifier=None)
    fork = session.fork(client=httpx.Client())
    fork.redeem(client_id="c1", code="code-shared-3", redirect_uri=None, verifier=None)
    fork.client.close()
    accepted, _ = server.connections.snapshot()
    assert accepted - before == 1  # the session and its fork: one connection
    assert all("cookie" not in headers for headers, _ in scripted.requests)


def test_a_session_let_go_of_closes_its_cookieless_client(
    endpoint: tuple[TokenEndpoint, TargetSession, list[float], Server],
) -> None:
    scripted, session, _, _ = endpoint
    scripted.answers.append(_json(400, {"error": "invalid_grant"}))
    other = TargetSession(session.target, httpx.Client(), PLAIN)
    other.redeem(client_id="c1", code="code-let-go-1", redirect_uri=None, verifier=None)
    other.client.close()
    cookieless = other.cookieless.get()
    assert not cookieless.is_closed  # its connection kept for the next request
    del other
    gc.collect()  # an unclosed socket collected here would fail the test (filterwarnings)
    assert cookieless.is_closed


def test_basic_credentials_and_assertions_are_sent_and_registered(
    endpoint: tuple[TokenEndpoint, TargetSession, list[float], Server],
) -> None:
    scripted, session, _, _ = endpoint
    scripted.answers += [_json(401, {"error": "invalid_client"})] * 2
    secret = "client-secret-" + secrets.token_hex(4)
    result = session.redeem(client_id="c1", code="code-basic-1", redirect_uri=CALLBACK,
                            verifier=None, auth=("c1", secret))  # fmt: skip
    assert result.error == "invalid_client" and not result.issued
    basic = base64.b64encode(f"c1:{secret}".encode()).decode()
    assert scripted.requests[0][0]["authorization"] == f"Basic {basic}"
    assert secret in SECRETS and basic in SECRETS

    session.redeem(client_id="c1", code="code-jwt-1", redirect_uri=CALLBACK, verifier=None,
                   assertion="header.claims.signature-1")  # fmt: skip
    sent = parse_qs(scripted.requests[1][1].decode())
    assert sent["client_assertion_type"] == [ASSERTION_TYPE]
    assert sent["client_assertion"] == ["header.claims.signature-1"]
    assert "header.claims.signature-1" in SECRETS


@pytest.mark.parametrize(
    "transient",
    [
        _json(503, {"error": "server_busy"}, **{"retry-after": "2"}),
        (429, {"retry-after": "2"}, b"slow down"),
        _json(400, {"error": "temporarily_unavailable"}, **{"retry-after": "2"}),
    ],
    ids=["503", "429-text", "temporarily_unavailable"],
)
def test_a_transient_token_answer_is_waited_for_and_asked_again(
    endpoint: tuple[TokenEndpoint, TargetSession, list[float], Server],
    transient: tuple[int, dict[str, str], bytes],
) -> None:
    scripted, session, slept, _ = endpoint
    scripted.answers += [transient, _json(200, {"access_token": "at-after-wait-1"})]
    result = session.redeem(client_id="c1", code="code-wait-1", redirect_uri=CALLBACK,
                            verifier=None)  # fmt: skip
    assert result.issued and slept == [2.0] and len(scripted.requests) == 2
    assert session.pacer.waits[0].startswith("a token request: HTTP ")


def test_a_non_json_answer_is_an_error_with_its_status(
    endpoint: tuple[TokenEndpoint, TargetSession, list[float], Server],
) -> None:
    scripted, session, _, _ = endpoint
    page = b"<html>Internal error; the code-not-json-1 was kept</html>"
    scripted.answers.append((500, {"content-type": "text/html"}, page))
    result = session.redeem(client_id="c1", code="code-not-json-1", redirect_uri=CALLBACK,
                            verifier=None)  # fmt: skip
    assert (result.status, result.body, result.issued) == (500, None, False)
    assert result.error == "HTTP 500" and result.describe() == "HTTP 500, error 'HTTP 500'"
    assert "code-not-json-1" not in result.text and "Internal error" in result.text


def test_a_token_echoed_in_an_error_text_is_redacted(
    endpoint: tuple[TokenEndpoint, TargetSession, list[float], Server],
) -> None:
    scripted, session, _, _ = endpoint
    token = "echoed-token-" + secrets.token_hex(8)
    body = {"error": "invalid_grant", "access_token": token, "detail": f"saw {token}"}
    scripted.answers.append(_json(400, body))
    result = session.redeem(client_id="c1", code="code-echo-1", redirect_uri=CALLBACK,
                            verifier=None)  # fmt: skip
    assert result.error == "invalid_grant" and not result.issued
    assert token in SECRETS and token not in result.text


@pytest.mark.parametrize(
    ("result", "issued", "error"),
    [
        (TokenResult(200, {"access_token": "a", "token_type": "Bearer"}, ""), True, "HTTP 200"),
        (TokenResult(200, {"access_token": ""}, ""), False, "HTTP 200"),
        (TokenResult(200, None, "[]"), False, "HTTP 200"),
        (TokenResult(201, {"access_token": "a"}, ""), False, "HTTP 201"),
        (TokenResult(400, {"error": "invalid_grant"}, ""), False, "invalid_grant"),
        (TokenResult(400, {"error": {"code": 1}}, ""), False, "HTTP 400"),
    ],
)
def test_token_results_are_read_strictly(result: TokenResult, issued: bool, error: str) -> None:
    assert (result.issued, result.error) == (issued, error)
    assert result.describe().startswith(f"HTTP {result.status}, ")
    assert "'a'" not in result.describe()


def test_an_error_description_is_shown_redacted_and_short() -> None:
    secret = "echoed-code-" + secrets.token_hex(8)
    SECRETS.add(secret)
    said = f"authorization code  {secret}\n already consumed " + "x" * 400
    result = TokenResult(400, {"error": "invalid_grant", "error_description": said}, "")
    line = result.describe()
    assert line.startswith("HTTP 400, error 'invalid_grant' ('authorization code [redacted]")
    assert secret not in line and "\n" not in line and len(result.description) == 160
    assert TokenResult(400, {"error": "invalid_grant", "error_description": 3}, "").describe() == (
        "HTTP 400, error 'invalid_grant'"
    )
