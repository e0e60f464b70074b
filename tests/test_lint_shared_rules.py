"""The rules the publisher lint shares with the reference AS (``cimd_rules``), against CIMD-02.

Each rule is written once: the lint reports what the reference AS, without faults, refuses,
and nothing it accepts. The cases come from CIMD-02 §3 (the identifier), RFC 6749 §3.1.2,
RFC 9700 §2.6 and RFC 8252 §7.1, §7.3 (redirect URIs) and CIMD-02 §4.1 (secrets and keys).
"""

from __future__ import annotations

import pytest

from cimd_rules.client_id import syntax_problems
from cimd_rules.credentials import PRIVATE_KEY_MEMBERS, SHARED_SECRET_METHODS
from cimd_rules.redirect_uris import form_problems, is_loopback_http
from conformance.lint.document_rules import document_findings
from conformance.lint.uri_members import redirect_uri_findings
from conformance.lint.url_rules import url_findings
from mock_servers.reference_as import FaultSet
from mock_servers.reference_as.identifiers import ClientIdSyntaxError, check_client_id
from mock_servers.reference_as.redirects import is_registrable_redirect_uri

IDENTIFIERS = {
    "https://app.example/client.json": (),
    "https://app.example:8443/c.json?v=1": (),
    "https://app.example/": (),
    "http://app.example/client.json": ("http-scheme",),
    "ftp://app.example/client.json": ("scheme",),
    "app.example/client.json": ("scheme",),
    "https://app.example": ("no-path",),
    "https://app.example?x=1": ("no-path",),
    "https:///client.json": ("no-host",),
    "https://app.example/a/../c.json": ("dot-segments",),
    "https://app.example/./c.json": ("dot-segments",),
    "https://app.example/a/.": ("dot-segments",),
    "https://app.example/c.json#x": ("fragment",),
    "https://app.example/c.json#": ("fragment",),
    "https://u:p@app.example/c.json": ("userinfo",),
    "https://:@app.example/c.json": ("userinfo",),
    "https://app.example/c.json ": ("control",),
    "http://u@app.example/a/..#": ("http-scheme", "fragment", "userinfo", "dot-segments"),
}
REDIRECT_URIS = {
    "https://app.example/cb": (),
    "http://127.0.0.1/callback": (),
    "http://[::1]:3000/callback": (),
    "http://localhost/callback": (),
    "/cb": ("relative",),
    "myapp:/cb": ("private-use-scheme",),
    "com.example.app:/cb": ("private-use-scheme",),
    "https:/cb": ("no-host",),
    "https://app.example/cb#": ("fragment",),
    "http://app.example/cb": ("http-not-loopback",),
    "http://127.0.0.1.nip.io/cb": ("http-not-loopback",),
    "http://u@127.0.0.1/cb": ("http-not-loopback",),
    "http://app.example/cb#x": ("fragment", "http-not-loopback"),
}


@pytest.mark.parametrize(("identifier", "kinds"), IDENTIFIERS.items())
def test_client_id_rules_and_the_reference_as_agree(identifier: str, kinds: tuple[str]) -> None:
    assert tuple(p.kind for p in syntax_problems(identifier)) == kinds
    lint_errors = [f for f in url_findings(identifier) if f.rule == "CIMD-PUB-01"]
    assert len(lint_errors) == len(kinds)
    if kinds:
        with pytest.raises(ClientIdSyntaxError, match=syntax_problems(identifier)[0].message):
            check_client_id(identifier, FaultSet())
    else:
        assert check_client_id(identifier, FaultSet()) == identifier


@pytest.mark.parametrize(("uri", "kinds"), REDIRECT_URIS.items())
def test_redirect_uri_rules_and_the_reference_as_agree(uri: str, kinds: tuple[str]) -> None:
    assert form_problems(uri) == kinds
    assert is_registrable_redirect_uri(uri, FaultSet()) == (not kinds)
    errors = {
        f.message
        for f in redirect_uri_findings({"redirect_uris": [uri]}, "cimd")
        if f.severity == "error"
    }
    # a reverse-DNS private-use scheme is the one form the lint allows and the AS refuses
    # (MCP §11.3 allows only localhost or https; RFC 8252 §7.1 allows it for native apps)
    reverse_dns = uri == "com.example.app:/cb"
    assert bool(errors) == (bool(kinds) and not reverse_dns)


def test_loopback_means_http_on_a_loopback_host_only() -> None:
    assert is_loopback_http("http://127.0.0.1:5000/cb") and is_loopback_http("http://[::1]/cb")
    assert not is_loopback_http("https://127.0.0.1/cb")
    assert not is_loopback_http("http://127.0.0.2/cb")
    assert not is_loopback_http("http://localhost.evil.test/cb")


@pytest.mark.parametrize("method", sorted(SHARED_SECRET_METHODS))
def test_shared_secret_methods_are_lint_errors(method: str) -> None:
    doc = {"client_id": "https://a.example/c.json", "token_endpoint_auth_method": method}
    assert [f.rule for f in document_findings(doc, None)] == ["CIMD-PUB-06"]


@pytest.mark.parametrize("member", sorted(PRIVATE_KEY_MEMBERS))
def test_each_private_key_member_is_a_lint_error(member: str) -> None:
    key = {"kty": "EC", "kid": "k", member: "AAAA"}
    doc = {"client_id": "https://a.example/c.json", "token_endpoint_auth_method": "none"}
    findings = document_findings({**doc, "jwks": {"keys": [key]}}, None)
    assert [(f.rule, f.where) for f in findings] == [("CIMD-PUB-06", "jwks.keys[0]")]
