"""A small OAuth authorization server with Client ID Metadata Documents: Flask and Authlib.

Clients are not registered: a ``client_id`` is an https URL, and Authlib's ``query_client``
fetches the document it serves (:mod:`cimd_flask_as.client_documents`). The rest is the
authorization-code grant as Authlib ships it, with PKCE (S256) required and the ``iss``
parameter in every authorization response (RFC 9207). Users log in with a form; consent
names the client, its redirect URI and where its document lives.
"""

from __future__ import annotations

import secrets
import ssl
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import AuthorizationCodeMixin, grants
from authlib.oauth2.rfc6749.errors import InvalidRequestError, UnauthorizedClientError
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc9207 import IssuerParameter
from flask import Flask, Response, g, redirect, render_template_string, request, session

from cimd_flask_as.client_documents import Client, ClientDocumentError, ClientDocuments

CODE_LIFETIME_S = 60


@dataclass
class AuthorizationCode(AuthorizationCodeMixin):  # type: ignore[misc]
    """An issued authorization code, kept in memory until redeemed or expired."""

    code: str
    client_id: str
    redirect_uri: str
    scope: str
    user: str
    code_challenge: str | None
    code_challenge_method: str | None
    issued_at: float = field(default_factory=time.monotonic)

    def get_redirect_uri(self) -> str:
        """The redirect URI the code was issued for."""
        return self.redirect_uri

    def get_scope(self) -> str:
        """The scope granted with the code."""
        return self.scope

    def expired(self) -> bool:
        """Whether the code outlived :data:`CODE_LIFETIME_S`."""
        return time.monotonic() - self.issued_at > CODE_LIFETIME_S


@dataclass
class Store:
    """Codes and tokens, in memory (a real server keeps them in its database)."""

    codes: dict[str, AuthorizationCode] = field(default_factory=dict)
    tokens: list[dict[str, Any]] = field(default_factory=list)


class CodeGrant(grants.AuthorizationCodeGrant):  # type: ignore[misc]
    """The authorization-code grant for public clients (documents carry no secret)."""

    TOKEN_ENDPOINT_AUTH_METHODS = ("none",)

    def save_authorization_code(self, code: str, request: Any) -> None:
        """Keep a new code with what it was issued for (PKCE challenge included)."""
        store: Store = self.server.store
        store.codes[code] = AuthorizationCode(
            code=code,
            client_id=request.client.get_client_id(),
            redirect_uri=request.payload.redirect_uri or "",
            scope=request.payload.scope or "",
            user=request.user,
            code_challenge=request.payload.data.get("code_challenge"),
            code_challenge_method=request.payload.data.get("code_challenge_method"),
        )

    def query_authorization_code(self, code: str, client: Client) -> AuthorizationCode | None:
        """The unexpired code issued to ``client``, if any."""
        found: AuthorizationCode | None = self.server.store.codes.get(code)
        if found is None or found.client_id != client.get_client_id() or found.expired():
            return None
        return found

    def delete_authorization_code(self, authorization_code: AuthorizationCode) -> None:
        """Forget a redeemed code: it works once."""
        self.server.store.codes.pop(authorization_code.code, None)

    def authenticate_user(self, authorization_code: AuthorizationCode) -> str:
        """The user who approved the code."""
        return authorization_code.user


class Issuer(IssuerParameter):  # type: ignore[misc]
    """Adds ``iss`` to authorization responses (RFC 9207)."""

    def __init__(self, issuer: str) -> None:
        self.issuer = issuer

    def get_issuer(self) -> str:
        """This server's issuer URL."""
        return self.issuer


LOGIN = """<!doctype html><title>Sign in</title><h1>Sign in</h1>
<form method="post"><label>User name <input name="username" autocomplete="username"></label>
<label>Password <input type="password" name="password"></label>
<button type="submit">Sign in</button></form>{% if error %}<p>{{ error }}</p>{% endif %}"""

CONSENT = """<!doctype html><title>Authorize {{ client.name }}</title>
<h1>Authorize {{ client.name }}?</h1>
<p>The name above is chosen by the application itself and is not verified.</p>
<p>Its metadata document is at <strong>{{ host }}</strong>
(<code>{{ client.client_id }}</code>).</p>
<p>You will be sent back to <code>{{ redirect_uri }}</code>.</p>
{% if loopback %}<p><strong>Warning:</strong> this redirect goes to an application on your own
computer (a loopback address); approve only if you started it.</p>{% endif %}
<form method="post"><input type="hidden" name="consent" value="{{ consent }}">
<button type="submit" name="decision" value="approve">Approve</button>
<button type="submit" name="decision" value="deny">Deny</button></form>"""

ERROR = """<!doctype html><title>Authorization error</title><h1>This request cannot go on</h1>
<p>{{ error }}: {{ description }}</p>"""


def create_app(
    issuer: str, trust: ssl.SSLContext, users: dict[str, str], *, allow_loopback: bool = False
) -> Flask:
    """The authorization server at ``issuer``.

    Args:
        issuer: its issuer URL (https, no trailing slash).
        trust: TLS trust for fetching client documents.
        users: user name -> password of those who may log in.
        allow_loopback: development only: fetch client documents from loopback addresses.
    """
    app = Flask(__name__)
    app.config.update(SECRET_KEY=secrets.token_hex(32), SESSION_COOKIE_SECURE=True)
    documents = ClientDocuments(trust, allow_loopback=allow_loopback)
    pending: dict[str, Client] = {}  # consent shown -> the client it showed (a real server
    # keeps this with the user's session, and expires it)

    def query_client(client_id: str) -> Client | None:
        shown: Client | None = g.get("consented_client")
        if shown is not None and shown.client_id == client_id:
            return shown  # the document the user just saw: approving does not fetch again
        try:
            return documents.client(client_id)
        except ClientDocumentError as exc:
            app.logger.info("client %s refused: %s", client_id, exc)
            return None

    server = AuthorizationServer(app, query_client=query_client, save_token=lambda t, r: None)
    server.store = Store()
    server.save_token = lambda token, req: server.store.tokens.append(dict(token))
    server.register_grant(CodeGrant, [CodeChallenge(required=True)])
    server.register_extension(Issuer(issuer))

    @app.after_request
    def no_framing(response: Response) -> Response:
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Content-Security-Policy", "frame-ancestors 'none'")
        response.headers.setdefault("Cache-Control", "no-store")
        return response

    @app.get("/.well-known/oauth-authorization-server")
    def metadata() -> dict[str, Any]:
        return {
            "issuer": issuer,
            "authorization_endpoint": f"{issuer}/authorize",
            "token_endpoint": f"{issuer}/token",
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["none"],
            "authorization_response_iss_parameter_supported": True,
            "client_id_metadata_document_supported": True,
        }

    @app.route("/login", methods=["GET", "POST"])
    def login() -> Any:
        error = ""
        if request.method == "POST":
            name = request.form.get("username", "")
            if secrets.compare_digest(users.get(name, "\0"), request.form.get("password", "")):
                session["user"] = name
                return redirect(_local(request.args.get("next", "/")))
            error = "Wrong user name or password."
        return render_template_string(LOGIN, error=error)

    @app.route("/authorize", methods=["GET", "POST"])
    def authorize() -> Any:
        user = session.get("user")
        if not user:
            return redirect("/login?" + urlencode({"next": request.full_path}))
        if request.method == "POST":
            g.consented_client = pending.pop(request.form.get("consent", ""), None)
        try:
            grant = server.get_consent_grant(end_user=user)
            _check_code_request(grant)
        except OAuth2Error as error:
            error.state = error.state or request.args.get("state")
            if error.redirect_uri and error.error != "invalid_client":
                return server.handle_error_response(None, error)
            return render_template_string(
                ERROR, error=error.error, description=error.description
            ), 400
        if request.method == "GET":
            client: Client = grant.client
            redirect_uri = grant.redirect_uri or ""
            consent = secrets.token_urlsafe(16)
            pending[consent] = client
            return render_template_string(
                CONSENT,
                consent=consent,
                client=client,
                host=urlsplit(client.client_id).hostname,
                redirect_uri=redirect_uri,
                loopback=urlsplit(redirect_uri).hostname in ("127.0.0.1", "::1", "localhost"),
            )
        approved = request.form.get("decision") == "approve"
        return server.create_authorization_response(
            grant_user=user if approved else None, grant=grant
        )

    @app.post("/token")
    def token() -> Any:
        return server.create_token_response()

    return app


def _check_code_request(grant: Any) -> None:
    """What Authlib leaves to the server: PKCE with S256, and a client that uses this flow.

    Raises:
        OAuth2Error: ``invalid_request`` or ``unauthorized_client``, sent to the redirect URI.
    """
    payload, client = grant.request.payload, grant.client
    if not client.check_grant_type("authorization_code") or not client.check_response_type("code"):
        raise UnauthorizedClientError(
            "the client document does not declare the code flow",
            redirect_uri=grant.redirect_uri,
        )
    if not payload.data.get("code_challenge") or payload.data.get("code_challenge_method") != (
        "S256"
    ):
        raise InvalidRequestError(
            "PKCE with code_challenge_method S256 is required", redirect_uri=grant.redirect_uri
        )


def _local(target: str) -> str:
    """``target`` when it stays on this server, else ``/`` (no open redirect after login)."""
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc and target.startswith("/") else "/"
