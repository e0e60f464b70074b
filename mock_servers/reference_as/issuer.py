"""One issuer of the reference AS: its configuration, state, client resolver and metadata."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from .client_auth import ASSERTION_ALGORITHMS
from .clients import ClientResolver
from .config import IssuerConfig
from .grants import IssuerState, Session

WELL_KNOWN = "/.well-known/oauth-authorization-server"


class Issuer:
    """Everything one issuer keeps; each issuer has its own, so faults never leak across.

    Args:
        config: the issuer's configuration.
    """

    def __init__(self, config: IssuerConfig) -> None:
        self.config = config
        self.state = IssuerState()
        self.clients = ClientResolver(config)
        # Cookies use Path=/ so one browser holds a session per issuer: the name tells them
        # apart (prefix characters are all valid in a cookie name).
        self.cookie_name = "cimd_ref_as" + config.path_prefix.replace("/", ".")

    @property
    def faults(self) -> frozenset[str]:
        """The faults switched on for this issuer."""
        return self.config.faults

    def has(self, fault: str) -> bool:
        """Whether the named fault is on."""
        return self.config.has(fault)

    def path(self, suffix: str) -> str:
        """The path of one of this issuer's endpoints, e.g. ``/faults/x/authorize``."""
        return self.config.path_prefix + suffix

    def session(self, request: Request) -> tuple[str, Session] | None:
        """The session id and live session the request's cookie names, if any."""
        session_id = request.cookies.get(self.cookie_name)
        session = self.state.session(session_id)
        return (session_id, session) if session_id and session else None

    @property
    def metadata_path(self) -> str:
        """Where the RFC 8414 metadata lives: the well-known path, then the issuer's path."""
        return WELL_KNOWN + self.config.path_prefix

    def metadata(self) -> dict[str, Any]:
        """The RFC 8414 authorization server metadata."""
        issuer = self.config.issuer
        document: dict[str, Any] = {
            "issuer": issuer + "/" if self.has("issuer-trailing-slash") else issuer,
            "authorization_endpoint": issuer + "/authorize",
            "token_endpoint": issuer + "/token",
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["none", "private_key_jwt"],
            "token_endpoint_auth_signing_alg_values_supported": list(ASSERTION_ALGORITHMS),
            "client_id_metadata_document_supported": True,
            "authorization_response_iss_parameter_supported": True,
        }
        if self.has("no-metadata-flag"):
            del document["client_id_metadata_document_supported"]
        elif self.has("flag-as-string"):
            document["client_id_metadata_document_supported"] = "true"
        return document
