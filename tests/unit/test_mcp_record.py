"""The mock MCP client's records: challenges read as RFC 6750 writes them, secrets redacted."""

from __future__ import annotations

from mock_servers.mcp_record import parse_challenge, redact, redact_url


def test_a_bearer_challenge_with_quoted_and_bare_values() -> None:
    header = (
        'Bearer error="insufficient_scope", scope="mcp:tools mcp:admin", '
        'error_description="needs \\"admin\\", really", resource_metadata="https://m.test/x",'
        " max_age=60"
    )
    assert parse_challenge(header) == {
        "error": "insufficient_scope",
        "scope": "mcp:tools mcp:admin",
        "error_description": 'needs "admin", really',
        "resource_metadata": "https://m.test/x",
        "max_age": "60",
    }
    assert parse_challenge('Basic realm="x"') == {}
    assert parse_challenge("") == {}


def test_secrets_are_redacted_by_name() -> None:
    body = {"access_token": "a" * 20, "token_type": "Bearer", "nested": [{"code": "c" * 9}]}
    assert redact(body) == {
        "access_token": "[redacted]",
        "token_type": "Bearer",
        "nested": [{"code": "[redacted]"}],
    }
    url = redact_url("https://cb.test/cb?code=secret-code&state=s1&iss=https%3A%2F%2Fas.test")
    assert "secret-code" not in url and "state=s1" in url and "iss=https://as.test" in url
