"""Parsing and validating client documents (CIMD-02 §4, §4.1, §4.2)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from cimd_rules.credentials import PRIVATE_KEY_MEMBERS, SECRET_MEMBERS, SHARED_SECRET_METHODS

from .faults import F, FaultSet
from .identifiers import normalize_identifier, split_uri
from .redirects import is_registrable_redirect_uri

JSON_WHITESPACE = " \t\n\r"
# the algorithms client assertions may use: asymmetric only, since an HMAC "signature" keyed
# with the published public key proves nothing
SIGNING_ALGORITHMS = ("ES256", "RS256", "PS256", "EdDSA")
# RFC 7591 §2 and §2.3, and CIMD's client_id: all a schema without extensions knows (the
# strict-document-schema fault refuses anything else; CIMD-02 §4 allows any registered member).
RFC7591_MEMBERS = frozenset(
    {
        "client_id",
        "redirect_uris",
        "token_endpoint_auth_method",
        "grant_types",
        "response_types",
        "client_name",
        "client_uri",
        "logo_uri",
        "scope",
        "contacts",
        "tos_uri",
        "policy_uri",
        "jwks_uri",
        "jwks",
        "software_id",
        "software_version",
        "software_statement",
    }
)
# RFC 7591 §2: the method a client registered without token_endpoint_auth_method would get
RFC7591_DEFAULT_METHOD = "client_secret_basic"


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
        signing_alg: ``token_endpoint_auth_signing_alg``, the one algorithm its assertions
            may use, when the document declares one.
        tos_uri: the terms of service's URL, if the document names one as a string.
        policy_uri: the privacy policy's URL, if the document names one as a string.
        client_secret: a secret the document published; kept only by the
            ``published-secret-accepted`` fault, which then takes it as a credential.
    """

    client_id: str
    client_name: str | None
    redirect_uris: tuple[str, ...] | None
    logo_uri: str | None = None
    auth_method: str = "none"
    jwks: dict[str, Any] | None = None
    jwks_uri: str | None = None
    signing_alg: str | None = None
    tos_uri: str | None = None
    policy_uri: str | None = None
    client_secret: str | None = field(default=None, repr=False)


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
    return validate_metadata(document, identifier, faults)


def validate_metadata(document: dict[str, Any], client_id: str, faults: FaultSet) -> ClientDocument:
    """Check client metadata (a document's, or a registration request's) and keep it.

    Raises:
        DocumentError: the first rule the metadata breaks.
    """
    if faults.has(F.STRICT_DOCUMENT_SCHEMA) and document.keys() - RFC7591_MEMBERS:
        raise DocumentError("the client metadata has members this server does not know")
    _check_credentials(document, faults)
    if not faults.has(F.FLOW_TYPES_IGNORED):
        _check_flow_types(document)
    name = document.get("client_name")
    if name is not None and not isinstance(name, str):
        raise DocumentError("client_name must be a string")
    declared = document.get("token_endpoint_auth_method")
    private_key_jwt = declared == "private_key_jwt"
    method = "private_key_jwt" if private_key_jwt else "none"
    if declared is None and faults.has(F.MISSING_AUTH_METHOD_IS_BASIC):
        method = RFC7591_DEFAULT_METHOD  # a secret no URL client can have is now required
    secret = document.get("client_secret")
    return ClientDocument(
        client_id,
        name or None,
        _redirect_uris(document, faults),
        _text(document, "logo_uri"),
        auth_method=method,
        jwks=document.get("jwks") if private_key_jwt else None,
        jwks_uri=document.get("jwks_uri") if private_key_jwt else None,
        signing_alg=_signing_alg(document) if private_key_jwt else None,
        tos_uri=_text(document, "tos_uri"),
        policy_uri=_text(document, "policy_uri"),
        client_secret=secret if isinstance(secret, str) else None,
    )


def _signing_alg(document: dict[str, Any]) -> str | None:
    # RFC 7591 §2: "none" must not be used; only asymmetric algorithms prove anything here
    alg = document.get("token_endpoint_auth_signing_alg")
    if alg is None:
        return None
    if alg not in SIGNING_ALGORITHMS:
        raise DocumentError("token_endpoint_auth_signing_alg is not an accepted algorithm")
    return str(alg)


def _text(document: dict[str, Any], member: str) -> str | None:
    value = document.get(member)
    return value if isinstance(value, str) else None


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
    secret_members = any(member in document for member in SECRET_MEMBERS)
    if secret_members and not faults.has(F.PUBLISHED_SECRET_ACCEPTED):
        raise DocumentError("client metadata documents must not contain a client secret")
    method = document.get("token_endpoint_auth_method", "none")
    if method == "private_key_jwt":
        _check_key_source(document, faults)
    # The ignores-auth-method fault: the realistic bug is a branch that treats whatever is
    # not private_key_jwt as public, shared-secret methods included.
    elif method != "none" and not faults.has(F.IGNORES_AUTH_METHOD):
        if method in SHARED_SECRET_METHODS:
            raise DocumentError("shared-secret client authentication is not allowed")
        raise DocumentError("unsupported token_endpoint_auth_method")
    jwks = document.get("jwks")
    both = "jwks" in document and "jwks_uri" in document
    if both and not faults.has(F.JWKS_AND_JWKS_URI_ACCEPTED):
        raise DocumentError("jwks and jwks_uri must not both be present")
    keys = jwks.get("keys") if isinstance(jwks, dict) else None
    if (
        isinstance(keys, list)
        and not faults.has(F.PRIVATE_KEYS_ACCEPTED)
        and any(isinstance(key, dict) and PRIVATE_KEY_MEMBERS & key.keys() for key in keys)
    ):
        raise DocumentError("the document's jwks contains private key material")


def _check_key_source(document: dict[str, Any], faults: FaultSet) -> None:
    """A ``private_key_jwt`` client publishes usable public keys (CIMD-02 §8.2, CIMD-DOC-15).

    Inline keys are a JWK Set with at least one key; a ``jwks_uri`` is https, the same trust
    anchor as the document itself (the ``jwks-uri-any-scheme`` fault takes http too).
    """
    jwks, jwks_uri = document.get("jwks"), document.get("jwks_uri")
    if jwks is None and jwks_uri is None:
        raise DocumentError("a private_key_jwt client must publish jwks or jwks_uri")
    if jwks is not None:
        keys = jwks.get("keys") if isinstance(jwks, dict) else None
        if not isinstance(keys, list) or not keys or not all(isinstance(k, dict) for k in keys):
            raise DocumentError("jwks must be a JWK Set with at least one key")
    if jwks_uri is not None:
        schemes = ("https", "http") if faults.has(F.JWKS_URI_ANY_SCHEME) else ("https",)
        if not isinstance(jwks_uri, str) or split_uri(jwks_uri).scheme not in schemes:
            raise DocumentError("jwks_uri must be an https URL")


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
        if not is_registrable_redirect_uri(uri, faults):
            raise DocumentError(
                "every redirect URI must be absolute, without a fragment, "
                "and use https or loopback http"
            )
    return tuple(uris)
