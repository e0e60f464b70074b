"""``python -m mock_servers.mcp_client_command``: the mock MCP client as a scored client.

``cimd-conformance run-client --command CMD`` runs a client with its side of the contract in
environment variables (README "Scoring an MCP client"); this is that client, built from
:class:`~mock_servers.mcp_client.McpClient`: it publishes its document in
``$CIMD_CLIENT_DOCUMENT`` (the suite serves it at ``$CIMD_CLIENT_ID``), journeys to
``$CIMD_MCP_SERVER_URL`` trusting ``$CIMD_CA_FILE``, and has the user approve by handing the
authorization URL to ``$CIMD_USER_AGENT``. ``--fault NAME`` switches on one of
:data:`~mock_servers.mcp_client.CLIENT_FAULTS`, :data:`DOCUMENT_FAULTS` or :data:`KEY_FAULTS`
(repeatable). ``--private-key-jwt`` makes it a ``private_key_jwt`` client: its document
publishes a fresh P-256 key in ``jwks`` and every token request carries an RFC 7523 assertion
signed with it; with ``--jwks-uri`` too, the key set is written to ``$CIMD_CLIENT_JWKS`` and
the document names it by ``jwks_uri`` (``$CIMD_CLIENT_JWKS_URI``, where the suite serves it).

Exit codes: 0 a tool was called, 1 the journey stopped (the reason on stderr), 2 bad input.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import ssl
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import ec

from mock_servers.mcp_client import CLIENT_FAULTS, McpClient, Sign, client_document
from mock_servers.mcp_record import JourneyError

REDIRECT_URI = "http://127.0.0.1/callback"  # caught by the user agent, never listened on
TIMEOUT_S = 20.0
ENVIRONMENT = (
    "CIMD_MCP_SERVER_URL",
    "CIMD_CA_FILE",
    "CIMD_CLIENT_ID",
    "CIMD_CLIENT_DOCUMENT",
    "CIMD_USER_AGENT",
)
# what --jwks-uri needs besides: where to write the key set, and the URL it is served at
JWKS_ENVIRONMENT = ("CIMD_CLIENT_JWKS", "CIMD_CLIENT_JWKS_URI")

# Defects of the published document rather than of the client's requests.
DOCUMENT_FAULTS = {
    "nameless-document": "its document has no client_name (MCP §5.1.1)",
    "http-redirect-uri": "its document also lists a non-loopback http redirect URI",
}

# Defects of a private_key_jwt client's assertions (each switches --private-key-jwt on).
KEY_FAULTS = {
    "assertion-wrong-key": "signs its client assertions with a key its jwks does not publish",
    "assertion-reused-jti": "puts the same jti in every client assertion (RFC 7523 §3)",
}
ASSERTION_LIFETIME_S = 60


# The MCP client row (catalog §3.2) each fault breaks, for listings: run-client's tests prove it.
FAULT_ROWS = {
    "registers": "MCP-CLI-01",
    "cimd-regardless": "MCP-CLI-01",
    "nameless-document": "MCP-CLI-02",
    "ignores-pkce-support": "MCP-CLI-04",
    "no-pkce": "MCP-CLI-04",
    "no-resource": "MCP-CLI-05",
    "unlisted-redirect-uri": "MCP-CLI-06",
    "ignores-state": "MCP-CLI-07",
    "skips-rfc9728": "MCP-CLI-08",
    "oidc-first": "MCP-CLI-08",
    "ignores-metadata-issuer": "MCP-CLI-08",
    "basic-empty-secret": "MCP-CLI-09",
    "http-redirect-uri": "MCP-CLI-10",
    "ignores-iss": "MCP-CLI-11",
    "assertion-wrong-key": "MCP-CLI-03",
    "assertion-reused-jti": "MCP-CLI-03",
}


def public_jwks(key: ec.EllipticCurvePrivateKey, kid: str) -> dict[str, Any]:
    """``key``'s public half as a JWK Set (ES256, ``kid``)."""
    public = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))
    return {"keys": [{**public, "kid": kid, "use": "sig", "alg": "ES256"}]}


def signer(
    client_id: str, key: ec.EllipticCurvePrivateKey, kid: str, jti: str | None = None
) -> Sign:
    """Makes RFC 7523 client assertions: iss = sub = ``client_id``, aud the token endpoint.

    Each has a new ``jti``, unless ``jti`` is given (the ``assertion-reused-jti`` fault).
    """

    def sign(endpoint: str) -> str:
        now = int(time.time())
        claims = {
            "iss": client_id, "sub": client_id, "aud": endpoint, "iat": now,
            "exp": now + ASSERTION_LIFETIME_S, "jti": jti or secrets.token_urlsafe(16),
        }  # fmt: skip
        return jwt.encode(claims, key, algorithm="ES256", headers={"kid": kid})

    return sign


def document(
    client_id: str,
    faults: frozenset[str],
    jwks: dict[str, Any] | None = None,
    jwks_uri: str | None = None,
) -> dict[str, object]:
    """The client's metadata document, with its faults (private_key_jwt: jwks or jwks_uri)."""
    found = client_document(client_id, REDIRECT_URI)
    if jwks is not None:
        found |= {
            "token_endpoint_auth_method": "private_key_jwt",
            "token_endpoint_auth_signing_alg": "ES256",
            **({"jwks_uri": jwks_uri} if jwks_uri else {"jwks": jwks}),
        }
    if "nameless-document" in faults:
        del found["client_name"]
    if "http-redirect-uri" in faults:
        found["redirect_uris"] = [REDIRECT_URI, "http://client.example/callback"]
    return found


def main(argv: Sequence[str] | None = None) -> int:
    """Run the journey once; see the module docstring for the exit codes."""
    parser = argparse.ArgumentParser(prog="python -m mock_servers.mcp_client_command")
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        choices=sorted({*CLIENT_FAULTS, *DOCUMENT_FAULTS, *KEY_FAULTS}),
        help="switch a client fault on (repeatable)",
    )
    parser.add_argument(
        "--private-key-jwt",
        action="store_true",
        help="authenticate with private_key_jwt (a jwks in the document)",
    )
    parser.add_argument(
        "--jwks-uri",
        action="store_true",
        help="with --private-key-jwt: publish the keys at $CIMD_CLIENT_JWKS_URI (jwks_uri)",
    )
    args = parser.parse_args(argv)
    faults = frozenset(args.fault)
    keyed = args.private_key_jwt or bool(faults & KEY_FAULTS.keys())
    if args.jwks_uri and not keyed:
        parser.error("--jwks-uri publishes the keys of --private-key-jwt: give both")
    # keys named by URL: run-client gives the file to write them to and the URL it serves
    needed = (*ENVIRONMENT, *(JWKS_ENVIRONMENT if args.jwks_uri else ()))
    missing = [name for name in needed if not os.environ.get(name)]
    if missing:
        print(f"mcp-client: {', '.join(missing)} not set (run me with run-client)", file=sys.stderr)
        return 2
    env = {name: os.environ[name] for name in needed}
    client_id = env["CIMD_CLIENT_ID"]
    sign, jwks = None, None
    if keyed:
        key, kid = ec.generate_private_key(ec.SECP256R1()), secrets.token_urlsafe(8)
        jwks = public_jwks(key, kid)
        if "assertion-wrong-key" in faults:  # same kid, a key the document does not publish
            key = ec.generate_private_key(ec.SECP256R1())
        reused = secrets.token_urlsafe(16) if "assertion-reused-jti" in faults else None
        sign = signer(client_id, key, kid, reused)
    jwks_uri = env["CIMD_CLIENT_JWKS_URI"] if args.jwks_uri else None
    if jwks is not None and jwks_uri:  # the keys at a URL: written before the document
        Path(env["CIMD_CLIENT_JWKS"]).write_text(json.dumps(jwks), "utf-8")
    published = document(client_id, faults, jwks, jwks_uri)
    Path(env["CIMD_CLIENT_DOCUMENT"]).write_text(json.dumps(published), "utf-8")
    tls = ssl.create_default_context(cafile=env["CIMD_CA_FILE"])
    with httpx.Client(verify=tls, timeout=TIMEOUT_S) as http:

        def approve(url: str) -> str:
            answer = http.post(env["CIMD_USER_AGENT"], data={"url": url})
            if answer.status_code != 200:
                raise JourneyError("authorize", f"the user agent: {answer.text.strip()}")
            return answer.text.strip()

        client = McpClient(
            http, client_id, REDIRECT_URI, approve, faults & CLIENT_FAULTS.keys(), sign=sign
        )
        try:
            client.journey(env["CIMD_MCP_SERVER_URL"], step_up=False)
        except JourneyError as exc:
            print(f"mcp-client: stopped at {exc.step}: {exc.reason}", file=sys.stderr)
            return 1
    print("mcp-client: called a tool")
    return 0


if __name__ == "__main__":
    sys.exit(main())
