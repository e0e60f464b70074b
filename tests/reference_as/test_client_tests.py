"""The reference AS's client tests: misbehaviours a correct MCP client refuses.

Their effect on a client is proven in tests/test_run_client.py (the mock client's
``ignores-state`` and ``ignores-pkce-support`` faults fail MCP-CLI-07 and -04 only because
of them); here, what the AS itself does.
"""

from __future__ import annotations

import httpx
import pytest

from mock_servers.reference_as import IssuerConfig, create_app
from mock_servers.reference_as.client_tests import (
    CLIENT_TESTS,
    UnknownClientTestError,
    tampered,
)

ORIGIN = "https://as.test"


async def _metadata(config: IssuerConfig) -> dict[str, object]:
    transport = httpx.ASGITransport(app=create_app([config]))
    async with httpx.AsyncClient(transport=transport, base_url=ORIGIN) as http:
        answer = await http.get("/.well-known/oauth-authorization-server")
    body: dict[str, object] = answer.json()
    return body


async def test_no_pkce_metadata_drops_code_challenge_methods_supported() -> None:
    clean = await _metadata(IssuerConfig(issuer=ORIGIN))
    changed = await _metadata(
        IssuerConfig(issuer=ORIGIN, client_tests=frozenset({"no-pkce-metadata"}))
    )
    assert clean["code_challenge_methods_supported"] == ["S256"]
    assert {k: v for k, v in clean.items() if k != "code_challenge_methods_supported"} == changed


def test_tampered_state_is_another_value_of_the_same_length() -> None:
    for state in ("abcA", "abcB", "x", "A"):
        assert tampered(state) != state and len(tampered(state) or "") == len(state)
    assert tampered(None) is None


def test_an_unknown_client_test_is_refused_naming_the_valid_ones() -> None:
    with pytest.raises(UnknownClientTestError, match="tampered-state"):
        IssuerConfig(issuer=ORIGIN, client_tests=frozenset({"no-such-test"}))
    assert IssuerConfig(issuer=ORIGIN).client_test("tampered-state") is False
    with pytest.raises(UnknownClientTestError):
        IssuerConfig(issuer=ORIGIN).client_test("misspelt")
    assert set(CLIENT_TESTS) == {"tampered-state", "no-pkce-metadata"}
