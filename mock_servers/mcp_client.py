"""A mock MCP client: the client side of MCP 2025-11-25 authorization, each step recorded.

:meth:`McpClient.journey` does what an MCP client does when it meets a server it has never
seen (MCP §4, §5.1, §8, §10):

1. POSTs ``initialize`` to the MCP endpoint without a token and reads the 401's
   ``WWW-Authenticate`` (``resource_metadata``, ``scope``);
2. fetches the protected resource metadata (RFC 9728): the challenge's URL, else the
   path-inserted then the root well-known URL; its ``resource`` must be the endpoint;
3. takes the first of ``authorization_servers`` and fetches its metadata in the MCP order
   (RFC 8414 path insertion, then the OpenID Connect variants); its ``issuer`` must match;
4. requires ``client_id_metadata_document_supported`` and PKCE S256, and uses its own client
   ID metadata document URL as ``client_id``;
5. sends the authorization request (PKCE S256, ``resource``, the scope), has it approved by
   the injected ``approve`` step (a browser, or a user agent), checks ``state`` (and ``iss``
   when present, RFC 9207), redeems the code with ``resource`` and refreshes once with it,
   then replays the old refresh token (it must be refused: rotation);
6. calls the MCP server with the bearer token: ``initialize``,
   ``notifications/initialized``, ``tools/list``, ``tools/call``;
7. calls a tool that needs a wider scope; on 403 ``insufficient_scope`` it authorizes again
   with the challenge's scope (step-up) and calls again.

Every request and answer is a :class:`Step` with secrets redacted. A step that goes wrong
raises :class:`JourneyError` naming the step; what went before stays in ``steps``.

``faults`` (names from :data:`CLIENT_FAULTS`) make it break one MCP client rule each, so
that every check ``cimd-conformance run-client`` makes of a client is seen to fail.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs, quote, urlencode, urlsplit

import httpx

from mock_servers.mcp_record import (
    REDACTED,
    Grant,
    Journey,
    JourneyError,
    Step,
    parse_challenge,
    redact,
    redact_url,
)
from mock_servers.mcp_tokens import as_metadata_urls

PROTOCOL_VERSION = "2025-11-25"
PRM_WELL_KNOWN = "/.well-known/oauth-protected-resource"
ACCEPT = "application/json, text/event-stream"
ECHO_TEXT = "hello from the CIMD conformance MCP client"
STEP_UP_TOOL = "admin_reset"

# The client's defects, each breaking one MCP client rule (catalog §3.2) as its line says.
CLIENT_FAULTS = {
    "registers": "registers by DCR although the AS supports client ID metadata documents",
    "cimd-regardless": "uses its CIMD URL although the AS does not advertise support",
    "ignores-pkce-support": "goes on when the AS metadata has no code_challenge_methods_supported",
    "no-pkce": "sends no code_challenge (no PKCE)",
    "no-resource": "sends no resource parameter (RFC 8707) in authorization or token requests",
    "unlisted-redirect-uri": "sends a redirect_uri its document does not list",
    "ignores-state": "does not compare the state of the authorization response",
    "skips-rfc9728": "looks for AS metadata at the MCP server's origin before RFC 9728",
    "oidc-first": "asks for OpenID Connect discovery before RFC 8414 metadata",
    "ignores-metadata-issuer": "uses AS metadata whose issuer is not the AS's (RFC 8414 §3.3)",
    "basic-empty-secret": "sends Authorization: Basic with an empty secret as a public client",
    "ignores-iss": "does not compare the iss of the authorization response (RFC 9207)",
}

# approve(authorization URL) -> the URL the AS redirected the user agent to (with the code)
Approve = Callable[[str], str]
# sign(token endpoint) -> an RFC 7523 client assertion for it (a private_key_jwt client)
Sign = Callable[[str], str]
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

# pace(what, send) -> the answer: sends once (``send``), or again as the caller's pacing says
# (a rate-limited answer waited for and retried); ``what`` names the request for messages
Pace = Callable[[str, Callable[[], httpx.Response]], httpx.Response]


def unpaced(what: str, send: Callable[[], httpx.Response]) -> httpx.Response:
    """Send once: the client's default :data:`Pace`."""
    del what
    return send()


def client_document(client_id: str, redirect_uri: str) -> dict[str, Any]:
    """The client's metadata document (a public client, CIMD §4)."""
    return {
        "client_id": client_id,
        "client_name": "CIMD conformance MCP client",
        "redirect_uris": [redirect_uri],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
    }


class McpClient:
    """An MCP client with a client ID metadata document URL as its ``client_id``.

    Args:
        http: the HTTP client (its TLS trust and timeouts are the journey's).
        client_id: the URL its client ID metadata document is served at (by the caller,
            e.g. ``client_document(client_id, redirect_uri)`` on a metadata host).
        redirect_uri: the redirect URI in that document.
        approve: the user's approval: given the authorization URL, returns the URL the AS
            redirected to.
        faults: the client's defects (names from :data:`CLIENT_FAULTS`).
        pace: sends each request, and again when the caller's pacing says so (a rate limit
            is the caller's to wait for); once by default.
        sign: for a ``private_key_jwt`` client, makes the client assertion of each token
            request (given the token endpoint); ``None`` for a public client.
    """

    def __init__(
        self,
        http: httpx.Client,
        client_id: str,
        redirect_uri: str,
        approve: Approve,
        faults: Iterable[str] = (),
        pace: Pace = unpaced,
        sign: Sign | None = None,
    ):
        self.sign = sign
        self.faults = frozenset(faults)
        unknown = self.faults - CLIENT_FAULTS.keys()
        if unknown:
            raise ValueError(f"unknown MCP client faults {sorted(unknown)}: see CLIENT_FAULTS")
        self.http = http
        self.client_id = client_id
        self.redirect_uri = redirect_uri
        self.approve = approve
        self.pace = pace
        self.registered: str | None = None  # the client_id DCR gave ("registers" fault)
        self._rpc_id = 0
        self.last = Journey("")  # the latest journey, kept when one stops on an error

    def journey(self, mcp_url: str, *, step_up: bool = True, issuer: str | None = None) -> Journey:
        """The whole journey to ``mcp_url``, through a tool call (and a step-up).

        Args:
            mcp_url: the MCP endpoint.
            step_up: also call the tool that needs a wider scope, and step up for it.
            issuer: go on only if the MCP server names this authorization server (else
                stop at step ``other-issuer``, before any authorization).

        Raises:
            JourneyError: a step could not go on; ``self.last.steps`` keeps what happened.
        """
        journey = self.last = Journey(mcp_url)
        self._discover(journey, issuer)
        scope = journey.challenge.get("scope") or " ".join(
            str(s) for s in journey.resource_metadata.get("scopes_supported") or []
        )
        grant = self.authorize(journey, scope)
        journey.refreshed = self._refresh(journey, grant)
        access = journey.refreshed.access_token if journey.refreshed else grant.access_token
        session = self._initialize(journey, access)
        listed = self._rpc(journey, "tools/list", {}, access, session)
        tools = _result(listed, "tools/list").get("tools")
        journey.tools = [str(t.get("name")) for t in tools or [] if isinstance(t, dict)]
        called = self._rpc(
            journey, "tools/call", _call("echo", text=ECHO_TEXT), access, session, "tools/call"
        )
        journey.tool_result = _result(called, "tools/call")
        if step_up:
            self._step_up(journey, access, session)
        return journey

    def _discover(self, journey: Journey, expected: str | None) -> None:
        """From the MCP server's 401 to the AS's metadata (MCP §4)."""
        answer = self._send(journey, "mcp-unauthenticated", "POST", journey.mcp_url, json=_init())
        header = answer.headers.get("www-authenticate", "")
        journey.steps[-1].received["www-authenticate"] = header
        if answer.status_code != 401:
            raise JourneyError(
                "mcp-unauthenticated", f"the MCP server answered {answer.status_code}, not 401"
            )
        journey.challenge = parse_challenge(header)
        if "skips-rfc9728" in self.faults:  # the 2025-03-26 fallback, tried first
            origin = "{0.scheme}://{0.netloc}".format(urlsplit(journey.mcp_url))
            self._get_json(
                journey, "as-metadata", origin + "/.well-known/oauth-authorization-server"
            )
        self._resource_metadata(journey, expected)
        self._as_metadata(journey)

    def _resource_metadata(self, journey: Journey, expected: str | None) -> None:
        """RFC 9728: the challenge's URL, else the well-known ones; its AS (MCP §4.2)."""
        named = journey.challenge.get("resource_metadata")
        candidates = ([named] if named else []) + _prm_urls(journey.mcp_url)
        for url in dict.fromkeys(candidates):
            document = self._get_json(journey, "resource-metadata", url)
            if document is None:
                continue
            if document.get("resource") != journey.mcp_url:
                raise JourneyError(
                    "resource-metadata",
                    f"resource is {document.get('resource')!r}, not {journey.mcp_url!r} "
                    "(RFC 9728 §3.3)",
                )
            journey.resource_metadata_url, journey.resource_metadata = url, document
            break
        else:
            raise JourneyError("resource-metadata", "no protected resource metadata was found")
        servers = journey.resource_metadata.get("authorization_servers")
        if not isinstance(servers, list) or not servers or not isinstance(servers[0], str):
            raise JourneyError("resource-metadata", "no authorization_servers")
        journey.issuer = servers[0]
        if expected is not None and journey.issuer.rstrip("/") != expected.rstrip("/"):
            raise JourneyError(
                "other-issuer", f"the MCP server names {journey.issuer}, not {expected}"
            )

    def _as_metadata(self, journey: Journey) -> None:
        """The AS's metadata in the MCP order (§4.3), and what the client needs of it."""
        urls = as_metadata_urls(journey.issuer)
        if "oidc-first" in self.faults:
            urls = [u for u in urls if "openid" in u] + [u for u in urls if "openid" not in u]
        for url in urls:
            document = self._get_json(journey, "as-metadata", url)
            if document is None:
                continue
            if document.get("issuer") != journey.issuer and (
                "ignores-metadata-issuer" not in self.faults
            ):
                raise JourneyError(
                    "as-metadata",
                    f"issuer {document.get('issuer')!r} at {url}, not {journey.issuer!r}",
                )
            journey.as_metadata_url, journey.as_metadata = url, document
            break
        else:
            raise JourneyError("as-metadata", f"no metadata for {journey.issuer} at its URLs")
        metadata = journey.as_metadata
        supported = metadata.get("client_id_metadata_document_supported") is True
        if not supported and "cimd-regardless" not in self.faults:
            raise JourneyError(
                "as-capabilities", "client_id_metadata_document_supported is not true"
            )
        pkce = metadata.get("code_challenge_methods_supported")
        if "S256" not in (pkce or []) and not ("ignores-pkce-support" in self.faults and not pkce):
            raise JourneyError("as-capabilities", "S256 not in code_challenge_methods_supported")
        for member in ("authorization_endpoint", "token_endpoint"):
            if not isinstance(metadata.get(member), str):
                raise JourneyError("as-capabilities", f"no {member}")

    def authorize(self, journey: Journey, scope: str) -> Grant:
        """One authorization for ``scope``: request, approval, code redemption."""
        verifier = secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
        state = secrets.token_urlsafe(16)
        client_id = self._client_id(journey)
        redirect_uri = self.redirect_uri
        if "unlisted-redirect-uri" in self.faults:
            redirect_uri += "/unlisted"
        params = {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "state": state,
            "code_challenge": challenge.rstrip(b"=").decode(),
            "code_challenge_method": "S256",
            "resource": journey.mcp_url,
        }
        if "no-pkce" in self.faults:
            del params["code_challenge"], params["code_challenge_method"]
        if "no-resource" in self.faults:
            del params["resource"]
        if scope:
            params["scope"] = scope
        endpoint = str(journey.as_metadata["authorization_endpoint"])
        url = endpoint + ("&" if "?" in endpoint else "?") + urlencode(params)
        step = Step("authorize", "BROWSER", url, sent=redact(params))
        journey.steps.append(step)
        landed = self.approve(url)
        query = {k: v[0] for k, v in parse_qs(urlsplit(landed).query).items()}
        step.received = {"redirect": redact_url(landed), "params": redact(query)}
        if not landed.startswith(redirect_uri):
            raise JourneyError("authorize", f"the approval ended at {redact_url(landed)}")
        if query.get("state") != state and "ignores-state" not in self.faults:
            raise JourneyError("authorize", "the redirect's state is not the one sent")
        if "iss" in query and query["iss"] != journey.issuer and "ignores-iss" not in self.faults:
            raise JourneyError("authorize", f"the redirect's iss is {query['iss']!r} (RFC 9207)")
        if "code" not in query:
            raise JourneyError("authorize", f"no code: error {query.get('error')!r}")
        step.note = "approved: a code came back"
        form = {
            "grant_type": "authorization_code",
            "code": query["code"],
            "redirect_uri": redirect_uri,
            "client_id": client_id,
            "code_verifier": verifier,
            "resource": journey.mcp_url,
        }
        if "no-resource" in self.faults:
            del form["resource"]
        body = self._token(journey, "token", form)
        grant = Grant(
            scope, str(body["access_token"]), _str_or_none(body.get("refresh_token")), body
        )
        journey.grants.append(grant)
        return grant

    def _refresh(self, journey: Journey, grant: Grant) -> Grant | None:
        if grant.refresh_token is None:
            return None
        form = {
            "grant_type": "refresh_token",
            "refresh_token": grant.refresh_token,
            "client_id": self.registered or self.client_id,
            "resource": journey.mcp_url,
        }
        if "no-resource" in self.faults:
            del form["resource"]
        body = self._token(journey, "refresh", form)
        refreshed = Grant(
            grant.scope, str(body["access_token"]), _str_or_none(body.get("refresh_token")), body
        )
        endpoint = str(journey.as_metadata["token_endpoint"])
        replay = self._send(
            journey, "refresh-replay", "POST", endpoint, data=self._authenticated(form, endpoint)
        )
        journey.old_refresh_reused = replay.status_code == 200 and "access_token" in _json(replay)
        journey.steps[-1].note = (
            "the old refresh token still works" if journey.old_refresh_reused else "refused"
        )
        return refreshed

    def _client_id(self, journey: Journey) -> str:
        """Its URL; with the ``registers`` fault, the client_id DCR (RFC 7591) gives it."""
        if "registers" not in self.faults:
            return self.client_id
        if self.registered is None:
            endpoint = str(journey.as_metadata.get("registration_endpoint", ""))
            document = client_document(self.client_id, self.redirect_uri)
            del document["client_id"]
            answer = self._send(journey, "register", "POST", endpoint, json=document)
            body = _json(answer)
            if answer.status_code != 201 or not isinstance(body.get("client_id"), str):
                raise JourneyError("register", f"the AS answered {answer.status_code}: {body}")
            self.registered = body["client_id"]
        return self.registered

    def _authenticated(self, form: dict[str, str], endpoint: str) -> dict[str, str]:
        """``form`` with a fresh client assertion for ``endpoint`` (private_key_jwt only)."""
        if self.sign is None:
            return form
        assertion = self.sign(endpoint)
        return {**form, "client_assertion_type": ASSERTION_TYPE, "client_assertion": assertion}

    def _token(self, journey: Journey, name: str, form: dict[str, str]) -> dict[str, Any]:
        endpoint = str(journey.as_metadata["token_endpoint"])
        form = self._authenticated(form, endpoint)
        headers = {}
        if "basic-empty-secret" in self.faults:  # client_id, then ":" and no secret
            user = quote(form["client_id"], safe="")  # form-encoded (RFC 6749 §2.3.1)
            basic = base64.b64encode(f"{user}:".encode()).decode()
            headers["authorization"] = f"Basic {basic}"
        answer = self._send(journey, name, "POST", endpoint, data=form, headers=headers)
        body = _json(answer)
        if answer.status_code != 200 or not isinstance(body.get("access_token"), str):
            raise JourneyError(name, f"the token endpoint answered {answer.status_code}: {body}")
        return body

    def _initialize(self, journey: Journey, token: str) -> str:
        answer = self._send(
            journey, "initialize", "POST", journey.mcp_url, json=_init(), token=token
        )
        if answer.status_code == 401:
            header = answer.headers.get("www-authenticate", "")
            journey.steps[-1].received["www-authenticate"] = header
            challenge = parse_challenge(header)
            if challenge.get("error") == "invalid_token":
                raise JourneyError(
                    "token-refused",
                    "the MCP server refused the access token: "
                    + challenge.get("error_description", "invalid_token"),
                )
        result = _result(answer, "initialize")
        session = str(answer.headers.get("mcp-session-id", ""))
        journey.steps[-1].received["mcp-session-id"] = session and REDACTED
        journey.steps[-1].note = f"protocol {result.get('protocolVersion')}"
        note = {"jsonrpc": "2.0", "method": "notifications/initialized"}
        self._send(
            journey, "initialized", "POST", journey.mcp_url, json=note, token=token, session=session
        )
        return session

    def _rpc(
        self,
        journey: Journey,
        method: str,
        params: dict[str, Any],
        token: str,
        session: str,
        name: str | None = None,
    ) -> httpx.Response:
        self._rpc_id += 1
        message = {"jsonrpc": "2.0", "id": self._rpc_id, "method": method, "params": params}
        answer = self._send(
            journey, name or method, "POST", journey.mcp_url, json=message, token=token,
            session=session,
        )  # fmt: skip
        return answer

    def _step_up(self, journey: Journey, token: str, session: str) -> None:
        answer = self._rpc(
            journey, "tools/call", _call(STEP_UP_TOOL), token, session, "tools/call-wider"
        )
        if answer.status_code == 200:
            journey.steps[-1].note = "ran without a wider scope: no step-up"
            journey.step_up_result = _result(answer, "tools/call-wider")
            return
        header = answer.headers.get("www-authenticate", "")
        journey.steps[-1].received["www-authenticate"] = header
        journey.step_up_challenge = parse_challenge(header)
        if answer.status_code != 403 or journey.step_up_challenge.get("error") != (
            "insufficient_scope"
        ):
            raise JourneyError(
                "tools/call-wider", f"{answer.status_code} without error=insufficient_scope"
            )
        wider = journey.step_up_challenge.get("scope")
        if not wider:
            raise JourneyError("tools/call-wider", "the insufficient_scope challenge has no scope")
        grant = self.authorize(journey, wider)
        again = self._rpc(
            journey, "tools/call", _call(STEP_UP_TOOL), grant.access_token, session, "step-up"
        )
        journey.step_up_result = _result(again, "step-up")

    def _get_json(self, journey: Journey, name: str, url: str) -> dict[str, Any] | None:
        answer = self._send(journey, name, "GET", url, headers={"accept": "application/json"})
        body = _json(answer)
        if answer.status_code != 200 or not body:
            journey.steps[-1].note = "not usable: the next URL is tried"
            return None
        return body

    def _send(
        self,
        journey: Journey,
        name: str,
        method: str,
        url: str,
        *,
        token: str | None = None,
        session: str | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        headers = dict(kwargs.pop("headers", {}))
        if method == "POST" and "json" in kwargs:
            headers["accept"] = ACCEPT
        if token is not None:
            headers["authorization"] = f"Bearer {token}"
        if session:
            headers["mcp-session-id"] = session
            headers["mcp-protocol-version"] = PROTOCOL_VERSION
        sent = redact(kwargs.get("json") or kwargs.get("data") or {})
        if token is not None:
            sent = {"authorization": f"Bearer {REDACTED}", "body": sent}
        step = Step(name, method, redact_url(url), sent=sent)
        journey.steps.append(step)
        try:
            answer = self.pace(
                f"the MCP client's {name} request",
                lambda: self.http.request(method, url, headers=headers, **kwargs),
            )
        except httpx.HTTPError as exc:
            step.note = f"no answer: {type(exc).__name__}: {exc}"
            raise JourneyError(name, f"{method} {url}: {type(exc).__name__}: {exc}") from exc
        step.status = answer.status_code
        body = _json(answer)
        step.received = {"body": redact(body)} if body else {"text": answer.text[:500]}
        return answer


def _prm_urls(url: str) -> list[str]:
    """The protected resource metadata's well-known URLs (RFC 9728 §3.1; MCP §4.2)."""
    parts = urlsplit(url)
    origin = f"{parts.scheme}://{parts.netloc}"
    path = parts.path.rstrip("/")
    return (
        [f"{origin}{PRM_WELL_KNOWN}{path}", origin + PRM_WELL_KNOWN]
        if path
        else [origin + PRM_WELL_KNOWN]
    )


def _init() -> dict[str, Any]:
    params = {
        "protocolVersion": PROTOCOL_VERSION,
        "capabilities": {},
        "clientInfo": {"name": "cimd-conformance-mcp-client", "version": "1.0.0"},
    }
    return {"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": params}


def _call(name: str, **arguments: Any) -> dict[str, Any]:
    return {"name": name, "arguments": arguments}


def _json(answer: httpx.Response) -> dict[str, Any]:
    try:
        body = json.loads(answer.content)
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _result(answer: httpx.Response, step: str) -> dict[str, Any]:
    body = _json(answer)
    result = body.get("result")
    if answer.status_code != 200 or not isinstance(result, dict):
        raise JourneyError(step, f"the MCP server answered {answer.status_code}: {body or ''}")
    return result


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
