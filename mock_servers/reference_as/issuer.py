"""One issuer of the reference AS: its configuration, state, client resolver and metadata."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from .access_tokens import AccessTokenSigner
from .client_auth import ASSERTION_ALGORITHMS, Verifier
from .clients import ClientResolver
from .config import IssuerConfig
from .faults import F, Fault
from .grants import SHORT_SESSION_REQUESTS, IssuerState, Session, Sessions
from .logos import LazyLogos

WELL_KNOWN = "/.well-known/oauth-authorization-server"
OIDC_WELL_KNOWN = "/.well-known/openid-configuration"
# where the http-revocation-endpoint fault says revocation lives: an internal service's URL
INTERNAL_ORIGIN = "http://reference-as.internal:8080"


class Issuer:
    """Everything one issuer keeps; each issuer has its own, so faults never leak across.

    Args:
        config: the issuer's configuration.
        shared_sessions: a server's one sign-in for all its issuers (single sign-on, as a
            multi-tenant server with one login has); ``None`` for a sign-in of its own.
    """

    def __init__(self, config: IssuerConfig, shared_sessions: Sessions | None = None) -> None:
        self.config = config
        self.state = IssuerState(shared_sessions)
        self.clients = ClientResolver(config)
        self.lazy_logos = LazyLogos()  # the logo-fetched-lazily fault's /logo links
        self.signer = AccessTokenSigner()
        # Cookies use Path=/ so one browser holds a session per issuer: the name tells them
        # apart (prefix characters are all valid in a cookie name). Under single sign-on the
        # signed-in session's cookie is the server's one name.
        # __Host- (host-cookies): Secure, Path=/ and no Domain, or the browser refuses it
        # (RFC 6265bis §4.1.3.2), even on the plain-http loopback issuer this variant serves.
        host = "__Host-" if config.is_variant("host-cookies") else ""
        self.cookie_name = host + "cimd_ref_as" + config.path_prefix.replace("/", ".")
        self.session_cookie = self.cookie_name
        if shared_sessions is not None:
            self.session_cookie = host + "cimd_ref_as.sso"

    def has(self, fault: Fault) -> bool:
        """Whether ``fault`` (a constant of :class:`~.faults.F`) is on."""
        return self.config.has(fault)

    def path(self, suffix: str) -> str:
        """The path of one of this issuer's endpoints, e.g. ``/faults/x/authorize``."""
        return self.config.path_prefix + suffix

    @property
    def response_iss(self) -> str | None:
        """The iss of its authorization responses (RFC 9207 §2), ``None`` for none."""
        if self.has(F.NO_RESPONSE_ISS):
            return None
        if self.has(F.RESPONSE_ISS_TRAILING_SLASH):
            return self.config.issuer_id + "/"
        return self.config.issuer_id

    def is_variant(self, variant: str) -> bool:
        """Whether the named variant is on."""
        return self.config.is_variant(variant)

    def session(self, request: Request) -> tuple[str, Session] | None:
        """The session id and live signed-in session the request's cookie names, if any."""
        return self._session(request, self.session_cookie, signed_in=True)

    def authorizing_session(self, request: Request) -> tuple[str, Session] | None:
        """:meth:`session`, for an authorization request.

        Under ``short-sessions`` a sign-in ends at its :data:`SHORT_SESSION_REQUESTS`-th
        authorization request, which finds no session (the login page comes back): a short
        session lifetime, counted in requests so that a run meets it at the same place.
        """
        found = self.session(request)
        if found is not None and self.is_variant("short-sessions"):
            sessions = self.state.sessions
            if sessions.used(found[0]) >= SHORT_SESSION_REQUESTS:
                sessions.end(found[0])
                return None
        return found

    def anonymous_session(self, request: Request) -> tuple[str, Session] | None:
        """``consent-before-login``: the not-yet-signed-in session that holds a consent."""
        return self._session(request, self.cookie_name + ".pre", signed_in=False)

    def _session(
        self, request: Request, name: str, *, signed_in: bool
    ) -> tuple[str, Session] | None:
        session_id = request.cookies.get(name)
        session = self.state.session(session_id)
        if not session_id or session is None or bool(session.user) != signed_in:
            return None
        return session_id, session

    def safe_next(self, next_url: str) -> str:
        """Where to go after sign-in: ``next_url``, or the home page when it is unsafe.

        Only a relative path back into this issuer's authorization endpoint (or, for
        ``consent-before-login``, its consent resumption): anything else would make sign-in
        an open redirector.
        """
        allowed = (self.path("/authorize"), self.path("/consent/resume?"))
        if next_url.startswith(allowed) and not any(
            ch == "\\" or ord(ch) < 0x20 for ch in next_url
        ):
            return next_url
        return self.path("/")

    def set_cookie(self, response: Response, suffix: str, value: str) -> None:
        """Set one of this issuer's cookies.

        ``suffix`` "" is the session, ".pre" the anonymous session, ".login" the upstream
        login's state.
        """
        name = self.cookie_name + suffix if suffix else self.session_cookie
        response.set_cookie(name, value, path="/", secure=True, httponly=True, samesite="lax")

    def client_verifier(self) -> Verifier:
        """How this issuer checks client authentication, at the token and PAR endpoints.

        An assertion's ``aud`` may name the issuer, the token endpoint or the PAR endpoint
        (RFC 7523 §3, RFC 9126 §2); its ``jti`` is remembered until it expires.
        """
        issuer = self.config.issuer
        return Verifier(
            audiences=(self.config.issuer_id, issuer + "/token", issuer + "/par"),
            fetch_jwks=self.clients.jwks,
            resolve=self.clients.resolve,
            faults=self.config.faults,
            single_audience=self.is_variant("assertion-audience-issuer"),
            first_use=lambda key, lifetime: self.state.put_once(key, "", lifetime),
        )

    @property
    def metadata_path(self) -> str:
        """Where the RFC 8414 metadata lives: the well-known path, then the issuer's path."""
        return WELL_KNOWN + self.config.path_prefix

    def metadata(self) -> dict[str, Any]:
        """The RFC 8414 authorization server metadata."""
        issuer, published = self.config.issuer, self.config.issuer_id
        document: dict[str, Any] = {
            "issuer": published + "/" if self.has(F.ISSUER_TRAILING_SLASH) else published,
            "authorization_endpoint": issuer + "/authorize",
            "token_endpoint": issuer + "/token",
            "pushed_authorization_request_endpoint": issuer + "/par",
            "require_pushed_authorization_requests": self.config.require_par,
            "jwks_uri": issuer + "/jwks",
            "registration_endpoint": issuer + "/register",
            "revocation_endpoint": issuer + "/revoke",
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["none", "private_key_jwt"],
            "token_endpoint_auth_signing_alg_values_supported": list(ASSERTION_ALGORITHMS),
            "revocation_endpoint_auth_methods_supported": ["none", "private_key_jwt"],
            "client_id_metadata_document_supported": True,
            "authorization_response_iss_parameter_supported": True,
        }
        if self.has(F.NO_RESPONSE_ISS) or self.has(F.RESPONSE_ISS_UNADVERTISED):
            del document["authorization_response_iss_parameter_supported"]
        if self.has(F.NO_METADATA_FLAG):
            del document["client_id_metadata_document_supported"]
        elif self.has(F.FLAG_AS_STRING):
            document["client_id_metadata_document_supported"] = "true"
        if self.has(F.HTTP_REVOCATION_ENDPOINT):
            document["revocation_endpoint"] = INTERNAL_ORIGIN + self.path("/revoke")
        if self.config.client_test("no-pkce-metadata"):
            del document["code_challenge_methods_supported"]
        return document

    @property
    def oidc_metadata_path(self) -> str | None:
        """Where OpenID Connect discovery metadata is published, if anywhere.

        The reference AS is an OAuth server, not an OpenID Provider, so it publishes none;
        the OIDC faults publish a second document built by another code path, at the
        issuer's path plus the well-known suffix (OpenID Connect Discovery §4).
        """
        oidc_faults = (F.OIDC_DISCOVERY_WITHOUT_FLAG, F.OIDC_DISCOVERY_WITHOUT_PKCE)
        if not any(self.has(fault) for fault in oidc_faults):
            return None
        return self.config.path_prefix + OIDC_WELL_KNOWN

    def oidc_metadata(self) -> dict[str, Any]:
        """The OIDC faults' discovery document: the RFC 8414 one, less what each forgets."""
        document = self.metadata()
        if self.has(F.OIDC_DISCOVERY_WITHOUT_FLAG):
            del document["client_id_metadata_document_supported"]
        if self.has(F.OIDC_DISCOVERY_WITHOUT_PKCE):
            del document["code_challenge_methods_supported"]
        return document
