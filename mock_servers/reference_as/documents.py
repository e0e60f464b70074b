"""Parsing and validating client documents (CIMD-02 §4, §4.1, §4.2)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from .faults import F, FaultSet
from .identifiers import normalize_identifier
from .redirects import is_registrable_redirect_uri

JSON_WHITESPACE = " \t\n\r"
# RFC 7517 §9.2 / RFC 7518 §6: members that only private (or symmetric) keys carry.
PRIVATE_KEY_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
SHARED_SECRET_METHODS = frozenset(
    {"client_secret_basic", "client_secret_post", "client_secret_jwt"}
)


@dataclass(frozen=True)
class ClientDocument:
    """What the AS keeps of a valid client document.

    Attributes:
        client_id: the Client Identifier URL.
        client_name: the self-asserted display name, if the document has one.
        redirect_uris: the registered redirect URIs; ``None`` means "trust the request", which
            only the ``redirect-uris-optional`` and ``trusts-unreachable-documents`` faults do.
        logo_uri: the logo's URL, if the document names one as a string.
        auth_method: ``none`` (a public client) or ``private_key_jwt``.
        jwks: the public keys published in the document, for ``private_key_jwt``.
        jwks_uri: where the public keys are published instead, for ``private_key_jwt``.
    """

    client_id: str
    client_name: str | None
    redirect_uris: tuple[str, ...] | None
    logo_uri: str | None = None
    auth_method: str = "none"
    jwks: dict[str, Any] | None = None
    jwks_uri: str | None = None


class DocumentError(ValueError):
    """The document is invalid; ``description`` says why without quoting its content."""

    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description


def parse_document(body: bytes, *, lenient: bool = False) -> dict[str, Any]:
    """Parse ``body`` as one UTF-8 JSON object (RFC 8259), strictly unless ``lenient``.

    Raises:
        DocumentError: not UTF-8, not JSON, duplicate member names, or not an object.
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise DocumentError("the client metadata document is not UTF-8") from None
    decoder = json.JSONDecoder(object_pairs_hook=_unique_members, parse_constant=_no_constant)
    try:
        if lenient:  # the lenient-json fault: whatever follows the first value is ignored
            value = decoder.raw_decode(text.lstrip(JSON_WHITESPACE))[0]
        else:
            value = decoder.decode(text)
    except ValueError:
        raise DocumentError("the client metadata document is not valid JSON") from None
    if not isinstance(value, dict):
        raise DocumentError("the client metadata document is not a JSON object")
    return value


def _unique_members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # RFC 8259 §4 leaves duplicate names to the parser; a duplicated client_id or
    # redirect_uris could make two parsers disagree about who the client is.
    members = dict(pairs)
    if len(members) != len(pairs):
        raise ValueError("duplicate member name")
    return members


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")  # Python's json accepts NaN/Infinity; RFC 8259 not


def validate_document(
    document: dict[str, Any], identifier: str, faults: FaultSet
) -> ClientDocument:
    """Check a parsed document against the identifier it was fetched for.

    Raises:
        DocumentError: the first rule the document breaks.
    """
    _check_client_id(document, identifier, faults)
    _check_credentials(document, faults)
    _check_flow_types(document)
    name = document.get("client_name")
    if name is not None and not isinstance(name, str):
        raise DocumentError("client_name must be a string")
    logo = document.get("logo_uri")
    private_key_jwt = document.get("token_endpoint_auth_method") == "private_key_jwt"
    return ClientDocument(
        identifier,
        name or None,
        _redirect_uris(document, faults),
        logo if isinstance(logo, str) else None,
        auth_method="private_key_jwt" if private_key_jwt else "none",
        jwks=document.get("jwks") if private_key_jwt else None,
        jwks_uri=document.get("jwks_uri") if private_key_jwt else None,
    )


def _check_client_id(document: dict[str, Any], identifier: str, faults: FaultSet) -> None:
    if faults.has(F.NO_CLIENT_ID_MATCH):
        return
    if "client_id" not in document and faults.has(F.CLIENT_ID_OPTIONAL):
        return
    claimed = document.get("client_id")
    if not isinstance(claimed, str):
        raise DocumentError("the document's client_id is missing or not a string")
    if faults.has(F.NORMALIZES_CLIENT_ID):
        matches = normalize_identifier(claimed) == normalize_identifier(identifier)
    else:
        matches = claimed == identifier  # CIMD-02 §3: simple string comparison, no normalizing
    if not matches:
        raise DocumentError("the document's client_id does not match the client_id URL")


def _check_credentials(document: dict[str, Any], faults: FaultSet) -> None:
    if "client_secret" in document or "client_secret_expires_at" in document:
        raise DocumentError("client metadata documents must not contain a client secret")
    method = document.get("token_endpoint_auth_method", "none")
    if method == "private_key_jwt":
        if not isinstance(document.get("jwks"), dict) and not isinstance(
            document.get("jwks_uri"), str
        ):
            raise DocumentError("a private_key_jwt client must publish jwks or jwks_uri")
    # The ignores-auth-method fault: the realistic bug is a branch that treats whatever is
    # not private_key_jwt as public, shared-secret methods included.
    elif method != "none" and not faults.has(F.IGNORES_AUTH_METHOD):
        if method in SHARED_SECRET_METHODS:
            raise DocumentError("shared-secret client authentication is not allowed")
        raise DocumentError("unsupported token_endpoint_auth_method")
    jwks = document.get("jwks")
    if "jwks" in document and "jwks_uri" in document:
        raise DocumentError("jwks and jwks_uri must not both be present")
    keys = jwks.get("keys") if isinstance(jwks, dict) else None
    if isinstance(keys, list) and any(
        isinstance(key, dict) and PRIVATE_KEY_MEMBERS & key.keys() for key in keys
    ):
        raise DocumentError("the document's jwks contains private key material")


def _check_flow_types(document: dict[str, Any]) -> None:
    # RFC 7591 §2: the authorization-code flow needs these declarations when they are given.
    for member, needed in (("response_types", "code"), ("grant_types", "authorization_code")):
        declared = document.get(member)
        if declared is not None and (not isinstance(declared, list) or needed not in declared):
            raise DocumentError(f"{member} does not allow the authorization code flow")


def _redirect_uris(document: dict[str, Any], faults: FaultSet) -> tuple[str, ...] | None:
    uris = document.get("redirect_uris")
    if not isinstance(uris, list) or not uris or not all(isinstance(u, str) for u in uris):
        if faults.has(F.REDIRECT_URIS_OPTIONAL):
            return None
        raise DocumentError("redirect_uris must be a non-empty array of strings")
    for uri in uris:
        if not is_registrable_redirect_uri(uri):
            raise DocumentError(
                "every redirect URI must be absolute, without a fragment, "
                "and use https or loopback http"
            )
    return tuple(uris)
