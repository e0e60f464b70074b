"""Dynamic client registration (RFC 7591): clients for which no document exists.

MCP lets DCR coexist with CIMD (MCP §5). A client registered here gets a ``client_id``
minted by this server, which never starts with ``https://`` (CIMD-02 §7.1, CIMD-DISC-05): an
https client_id is a Client Identifier URL, and must not be mistaken for one. Registration is
open (no initial access token) and issues no client secret: a client authenticates with
``none`` or ``private_key_jwt``, as document clients do.
"""

from __future__ import annotations

import json
import secrets
import time
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from cimd_rules.credentials import SHARED_SECRET_METHODS

from .documents import DocumentError, validate_metadata
from .faults import F
from .issuer import Issuer

MAX_REQUEST_BYTES = 16384
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
# what a registration response repeats of the request, once validated (RFC 7591 §3.2.1)
ECHOED = (
    "redirect_uris",
    "client_name",
    "client_uri",
    "logo_uri",
    "tos_uri",
    "policy_uri",
    "grant_types",
    "response_types",
    "scope",
    "contacts",
    "jwks",
    "jwks_uri",
    "software_id",
    "software_version",
)


async def register(issuer: Issuer, request: Request) -> Response:
    """POST /register: validate the client metadata, mint a client_id, answer 201."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/json":
        return _error("invalid_client_metadata", "send the client metadata as application/json")
    body = await request.body()
    if len(body) > MAX_REQUEST_BYTES:
        return _error("invalid_client_metadata", "the client metadata is too large")
    try:
        metadata = json.loads(body)
    except ValueError:
        return _error("invalid_client_metadata", "the client metadata is not JSON")
    if not isinstance(metadata, dict):
        return _error("invalid_client_metadata", "the client metadata is not a JSON object")
    if "client_id" in metadata or "client_secret" in metadata:
        return _error(
            "invalid_client_metadata", "the server assigns client_id; it issues no secret"
        )
    method = metadata.get("token_endpoint_auth_method")
    if method in SHARED_SECRET_METHODS:
        return _error("invalid_client_metadata", "this server issues no client secrets")
    # RFC 7591 §2 defaults a missing method to client_secret_basic; §3.2.1 lets the server
    # register another value and say so: with no secrets here, that is "none".
    metadata = {**metadata, "token_endpoint_auth_method": method or "none"}
    client_id = _mint(issuer)
    try:
        client = validate_metadata(metadata, client_id, issuer.config.faults)
    except DocumentError as exc:
        error = (
            "invalid_redirect_uri" if "redirect" in exc.description else "invalid_client_metadata"
        )
        return _error(error, exc.description)
    issuer.clients.register(client)
    registered: dict[str, Any] = {
        "client_id": client_id,
        "client_id_issued_at": int(time.time()),
        "token_endpoint_auth_method": client.auth_method,
        **{member: metadata[member] for member in ECHOED if member in metadata},
    }
    return JSONResponse(registered, status_code=201, headers=NO_STORE)


def _mint(issuer: Issuer) -> str:
    if issuer.has(F.DCR_MINTS_URL_CLIENT_IDS):  # the fault: an id that looks like a CIMD URL
        public = urlsplit(issuer.config.issuer)._replace(scheme="https").geturl()
        return f"{public}/clients/{secrets.token_urlsafe(12)}"
    return "dcr_" + secrets.token_urlsafe(16)


def _error(error: str, description: str) -> Response:
    """An RFC 7591 §3.2.2 error response."""
    body = {"error": error, "error_description": description}
    return JSONResponse(body, status_code=400, headers=NO_STORE)
