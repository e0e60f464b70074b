"""The mock MCP client's command line (mock_servers/mcp_client_command.py) refuses what it
cannot do before it publishes anything: keys by URL without run-client's place for them."""

from __future__ import annotations

from pathlib import Path

import pytest

from mock_servers import mcp_client_command as command


@pytest.fixture
def contract(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """run-client's environment but for the key set's file and URL; the document's path."""
    for name in (*command.ENVIRONMENT, *command.JWKS_ENVIRONMENT):
        monkeypatch.delenv(name, raising=False)
    document = tmp_path / "client.json"
    values = {
        "CIMD_MCP_SERVER_URL": "https://127.0.0.1:9/mcp",
        "CIMD_CA_FILE": str(tmp_path / "ca.pem"),
        "CIMD_CLIENT_ID": "https://127.0.0.1:9/client.json",
        "CIMD_CLIENT_DOCUMENT": str(document),
        "CIMD_USER_AGENT": "http://127.0.0.1:9/approve",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return document


def test_jwks_uri_without_where_to_publish_the_keys_is_a_usage_error(
    contract: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert command.main(["--private-key-jwt", "--jwks-uri"]) == 2
    said = capsys.readouterr().err
    assert "CIMD_CLIENT_JWKS, CIMD_CLIENT_JWKS_URI not set" in said
    assert not contract.exists()  # no document published with keys it could not serve


def test_jwks_uri_needs_keys(contract: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        command.main(["--jwks-uri"])
    assert stopped.value.code == 2
    assert "--jwks-uri publishes the keys of --private-key-jwt" in capsys.readouterr().err
    assert not contract.exists()
