"""RFC 8414 metadata, routing and the multi-issuer app."""

from __future__ import annotations

import httpx
import pytest

from mock_servers.reference_as import F, Fault, FaultSet, IssuerConfig, create_app

ORIGIN = "https://as.test"


def _client(*configs: IssuerConfig) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=create_app(configs)), base_url=ORIGIN
    )


async def test_root_issuer_publishes_cimd_metadata() -> None:
    async with _client(IssuerConfig(issuer=ORIGIN)) as http:
        response = await http.get("/.well-known/oauth-authorization-server")
    assert response.status_code == 200
    assert response.json() == {
        "issuer": ORIGIN,
        "authorization_endpoint": ORIGIN + "/authorize",
        "token_endpoint": ORIGIN + "/token",
        "pushed_authorization_request_endpoint": ORIGIN + "/par",
        "require_pushed_authorization_requests": False,
        "jwks_uri": ORIGIN + "/jwks",
        "registration_endpoint": ORIGIN + "/register",
        "revocation_endpoint": ORIGIN + "/revoke",
        "response_types_supported": ["code"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["none", "private_key_jwt"],
        "token_endpoint_auth_signing_alg_values_supported": ["ES256", "RS256", "PS256", "EdDSA"],
        "revocation_endpoint_auth_methods_supported": ["none", "private_key_jwt"],
        "client_id_metadata_document_supported": True,
        "authorization_response_iss_parameter_supported": True,
    }


async def test_matrix_issuer_uses_path_insertion() -> None:
    root = IssuerConfig(issuer=ORIGIN)
    faulty = IssuerConfig(
        issuer=ORIGIN + "/faults/drops-state",
        path_prefix="/faults/drops-state",
        faults=FaultSet([F.DROPS_STATE]),
    )
    async with _client(root, faulty) as http:
        inserted = await http.get("/.well-known/oauth-authorization-server/faults/drops-state")
        appended = await http.get("/faults/drops-state/.well-known/oauth-authorization-server")
    assert inserted.json()["issuer"] == ORIGIN + "/faults/drops-state"
    assert inserted.json()["token_endpoint"] == ORIGIN + "/faults/drops-state/token"
    assert appended.status_code == 404


@pytest.mark.parametrize(
    "path", ["/.well-known/openid-configuration", "/nowhere", "/faults/x/token"]
)
async def test_unknown_paths_are_404(path: str) -> None:
    async with _client(IssuerConfig(issuer=ORIGIN)) as http:
        assert (await http.get(path)).status_code == 404


@pytest.mark.parametrize(
    ("fault", "member", "expected"),
    [
        (F.NO_METADATA_FLAG, "client_id_metadata_document_supported", None),
        (F.FLAG_AS_STRING, "client_id_metadata_document_supported", "true"),
        (F.ISSUER_TRAILING_SLASH, "issuer", ORIGIN + "/"),
        (
            F.HTTP_REVOCATION_ENDPOINT,
            "revocation_endpoint",
            "http://reference-as.internal:8080/revoke",
        ),
    ],
)
async def test_metadata_faults(fault: Fault, member: str, expected: object) -> None:
    async with _client(IssuerConfig(issuer=ORIGIN, faults=FaultSet([fault]))) as http:
        metadata = (await http.get("/.well-known/oauth-authorization-server")).json()
    assert metadata.get(member) == expected
    assert metadata["authorization_endpoint"] == ORIGIN + "/authorize"


def test_config_rejects_unknown_faults_and_bad_prefixes() -> None:
    with pytest.raises(ValueError, match="valid faults"):
        FaultSet.named(["drops-state", "nope"])
    with pytest.raises(TypeError, match="FaultSet"):
        IssuerConfig(issuer=ORIGIN, faults=frozenset({"drops-state"}))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="path_prefix"):
        IssuerConfig(issuer=ORIGIN + "/x/", path_prefix="/x/")
    with pytest.raises(ValueError, match="own path_prefix"):
        create_app([IssuerConfig(issuer=ORIGIN), IssuerConfig(issuer=ORIGIN)])
    assert IssuerConfig(issuer=ORIGIN, exempt_hosts=frozenset()).production
    assert not IssuerConfig(issuer=ORIGIN).production


@pytest.mark.parametrize(
    ("fault", "missing"),
    [
        (F.OIDC_DISCOVERY_WITHOUT_FLAG, "client_id_metadata_document_supported"),
        (F.OIDC_DISCOVERY_WITHOUT_PKCE, "code_challenge_methods_supported"),
    ],
)
async def test_oidc_faults_publish_a_discovery_document_that_forgets(
    fault: Fault, missing: str
) -> None:
    """Only the OIDC faults publish OpenID Connect discovery (the reference AS is no OP)."""
    prefix = "/faults/" + fault.name
    faulty = IssuerConfig(issuer=ORIGIN + prefix, path_prefix=prefix, faults=FaultSet([fault]))
    async with _client(IssuerConfig(issuer=ORIGIN), faulty) as http:
        rfc8414 = (await http.get("/.well-known/oauth-authorization-server" + prefix)).json()
        oidc = await http.get(prefix + "/.well-known/openid-configuration")
        clean = await http.get("/.well-known/openid-configuration")
    assert clean.status_code == 404
    assert oidc.status_code == 200
    assert missing in rfc8414 and missing not in oidc.json()
    assert {k: v for k, v in rfc8414.items() if k != missing} == oidc.json()
