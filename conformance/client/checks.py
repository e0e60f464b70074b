"""The MCP-CLI checks: each judges one catalog row (§3.2) on what the client did.

A check reads the scenario runs (:class:`~conformance.client.scenarios.ScenarioRun`) and
returns the facts a pass rests on, or raises :class:`NonConformance` (the row is violated)
or :class:`NotApplicable` (the client never got to where the row can be seen: the row
that stopped it says why). A client that never reaches the authorization endpoint of a
correct AS fails MCP-CLI-01, so a client that does nothing is never scored conformant.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt

from cimd_rules.redirect_uris import is_loopback_http
from conformance.catalog.verdicts import NonConformance, NotApplicable, Observation
from conformance.client.scenarios import ScenarioRun
from conformance.lint.linter import static_findings
from mock_servers.resource_server import as_metadata_urls

Runs = Mapping[str, ScenarioRun]
Check = Callable[[Runs], dict[str, Any]]
PRM_WELL_KNOWN = "/.well-known/oauth-protected-resource"


def _query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def _stopped(run: ScenarioRun) -> str:
    """How the client ended in ``run``, for an observation it never got to."""
    how = "was stopped at the time limit" if run.exit_code is None else f"exited {run.exit_code}"
    return f"the client {how} in scenario {run.scenario.name!r}"


def _went_to_authorize(run: ScenarioRun) -> bool:
    """Whether the client sent an authorization request (through the user or by itself)."""
    return bool(run.opened) or any(r.path.endswith("/authorize") for r in run.as_requests)


def _first_authorization(run: ScenarioRun) -> dict[str, str]:
    if not run.opened:
        raise NotApplicable(f"no authorization request: {_stopped(run)} before one")
    return _query(run.opened[0])


def _document(run: ScenarioRun) -> dict[str, Any]:
    if run.document is None:
        raise NotApplicable(f"no document was written: {_stopped(run)}")
    try:
        found = json.loads(run.document)
    except ValueError as exc:
        raise NotApplicable(f"the document is not JSON ({exc}): see MCP-CLI-02") from exc
    if not isinstance(found, dict):
        raise NotApplicable("the document is not a JSON object: see MCP-CLI-02")
    return found


def uses_its_url(runs: Runs) -> dict[str, Any]:
    """MCP-CLI-01: the CIMD URL as client_id where the AS advertises support, only there."""
    run = runs["clean"]
    registered = [r.path for r in run.as_requests if r.path.endswith("/register")]
    if not run.opened:
        raise NonConformance(
            expected=f"an authorization request with client_id={run.client_id}",
            observed=f"no authorization request: {_stopped(run)} ({run.output[-300:]!r})",
        )
    client_id = _query(run.opened[0]).get("client_id")
    if client_id != run.client_id or registered:
        raise NonConformance(
            expected=f"client_id={run.client_id} (the CIMD URL) and no registration",
            observed=f"client_id={client_id!r}; registration requests: {len(registered)}",
        )
    unflagged = runs["no-cimd-flag"]
    used = [u for u in unflagged.opened if _query(u).get("client_id") == unflagged.client_id]
    if used:
        raise NonConformance(
            expected="no CIMD client_id at an AS that does not advertise "
            "client_id_metadata_document_supported (DCR, or ask the user)",
            observed=f"client_id={unflagged.client_id} sent to it",
        )
    fallback = (
        "registered (DCR)"
        if any(r.path.endswith("/register") for r in unflagged.as_requests)
        else "did not register"
    )
    return {"client_id": client_id, "without_the_flag": fallback}


def _lint(runs: Runs) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """The CIMD-PUB lint's errors on the published document: PUB-10's, then the others'."""
    run = runs["clean"]
    if run.document is None:
        return [], []
    findings, _doc = static_findings(run.document, run.client_id, "mcp")
    errors = [
        {"rule": f.rule, "where": f.where, "message": f.message}
        for f in findings
        if f.severity == "error"
    ]
    return (
        [e for e in errors if e["rule"] == "CIMD-PUB-10"],
        [e for e in errors if e["rule"] != "CIMD-PUB-10"],
    )


def document_published(runs: Runs) -> dict[str, Any]:
    """MCP-CLI-02: the published document passes the CIMD-PUB lint (MCP profile)."""
    run = runs["clean"]
    if run.document is None:
        raise NonConformance(
            expected=f"a client ID metadata document published at {run.client_id}",
            observed=f"no document was published: {_stopped(run)}",
        )
    _redirects, errors = _lint(runs)
    if errors:
        raise NonConformance(
            expected="a document with client_id (its URL), client_name and redirect_uris, "
            "passing the CIMD-PUB lint",
            observed="; ".join(f"{e['rule']}: {e['message']}" for e in errors),
        )
    return {"client_id": runs["clean"].client_id, "lint_errors": 0}


def redirect_uris_safe(runs: Runs) -> dict[str, Any]:
    """MCP-CLI-10: the document's redirect URIs are loopback or https (CIMD-PUB-10)."""
    _document(runs["clean"])
    errors, _others = _lint(runs)
    if errors:
        raise NonConformance(
            expected="redirect URIs that are https or loopback http",
            observed="; ".join(e["message"] for e in errors),
        )
    return {"redirect_uris": _document(runs["clean"]).get("redirect_uris")}


ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_CLAIMS = ["exp", "iss", "sub", "aud", "jti"]
ASSERTION_ALGORITHMS = ("ES256", "RS256", "PS256", "EdDSA")  # those the reference AS accepts


def _assertion_claims(assertion: str, keys: Any, client_id: str, audiences: list[str]) -> str:
    """The ``jti`` of an assertion that verifies (RFC 7523 §3) by a key of ``keys``.

    Raises:
        NonConformance: it does not (the reason, without the assertion itself).
    """
    try:
        key_set = jwt.PyJWKSet.from_dict(keys)
        header = jwt.get_unverified_header(assertion)
    except (jwt.PyJWTError, jwt.exceptions.PyJWKSetError, ValueError) as exc:
        raise NonConformance(
            expected="a signed JWT and a JWK Set in the document",
            observed=f"the assertion or the document's jwks is malformed ({exc})",
        ) from exc
    kid, algorithm = header.get("kid"), header.get("alg")
    if algorithm not in ASSERTION_ALGORITHMS:
        raise NonConformance(
            expected=f"an assertion signed with one of {list(ASSERTION_ALGORITHMS)}",
            observed=f"alg {algorithm!r}",
        )
    reasons = []
    for key in key_set.keys:
        if kid is not None and key.key_id != kid:
            continue
        try:
            claims: dict[str, Any] = jwt.decode(
                assertion, key.key, algorithms=[str(algorithm)], audience=audiences,
                issuer=client_id, options={"require": ASSERTION_CLAIMS},
            )  # fmt: skip
        except jwt.PyJWTError as exc:
            reasons.append(str(exc))
            continue
        if claims.get("sub") != client_id or not isinstance(claims.get("jti"), str):
            reasons.append(f"sub is {claims.get('sub')!r}, not the client_id, or no string jti")
            continue
        return str(claims["jti"])
    raise NonConformance(
        expected="an assertion signed by a key of the published jwks, iss = sub = "
        f"{client_id}, aud one of {audiences}, with exp and jti (RFC 7523 §3)",
        observed="; ".join(reasons) or f"no key of the published jwks has kid {kid!r}",
    )


def _published_keys(run: ScenarioRun, uri: str) -> tuple[Any, str]:
    """The JWK Set at ``jwks_uri`` if the suite published it, and where the keys were.

    The suite published it when the client wrote it to ``CIMD_CLIENT_JWKS``. Keys at any
    other URL are the AS's alone to fetch (``None``): the assertions are then judged by the
    AS's answer only.

    Raises:
        NonConformance: the published key set is not a JSON object.
    """
    if uri != run.jwks_uri:
        return None, "jwks_uri (elsewhere: judged by the reference AS, which fetched it)"
    if run.jwks is None:
        raise NonConformance(
            expected=f"the JWK Set written to CIMD_CLIENT_JWKS, published at {uri}",
            observed="the document's jwks_uri is the suite's URL, but no key set was written",
        )
    try:
        keys = json.loads(run.jwks)
    except ValueError:
        keys = None
    if not isinstance(keys, dict):
        raise NonConformance(
            expected="a JWK Set (a JSON object with keys) at jwks_uri",
            observed="the key set written to CIMD_CLIENT_JWKS is not a JSON object",
        )
    return keys, "jwks_uri"


def private_key_jwt(runs: Runs) -> dict[str, Any]:
    """MCP-CLI-03: a private_key_jwt client's token requests carry valid assertions.

    A client whose document does not declare ``private_key_jwt`` does not use this MAY: the
    row is recorded as not used.
    """
    run = runs["clean"]
    document = _document(run)
    method = document.get("token_endpoint_auth_method", "none")
    if method != "private_key_jwt":
        raise Observation(f"not used: the client authenticates with {method!r}", used=False)
    keys, where = document.get("jwks"), "jwks"
    if not isinstance(keys, dict) and not isinstance(document.get("jwks_uri"), str):
        raise NonConformance(
            expected="private_key_jwt with its keys in the document (jwks or jwks_uri)",
            observed="neither jwks nor jwks_uri is in the document",
        )
    if not isinstance(keys, dict):
        keys, where = _published_keys(run, document["jwks_uri"])
    tokens = run.token_requests()
    if not tokens:
        raise NotApplicable(f"no token request: {_stopped(run)} before one")
    audiences = [run.issuer, run.issuer + "/token"]  # those the reference AS accepts
    seen: set[str] = set()
    for request in tokens:
        assertion = request.form.get("client_assertion", [""])[0]
        kind = request.form.get("client_assertion_type", [""])[0]
        if kind != ASSERTION_TYPE or not assertion:
            raise NonConformance(
                expected=f"client_assertion_type={ASSERTION_TYPE} and a client_assertion "
                "in every token request",
                observed=f"a token request with client_assertion_type={kind!r}"
                + ("" if assertion else " and no client_assertion"),
            )
        if isinstance(keys, dict):  # keys elsewhere are the AS's alone to fetch and judge
            jti = _assertion_claims(assertion, keys, run.client_id, audiences)
            if jti in seen:
                raise NonConformance(
                    expected="a new jti in each assertion (RFC 7523 §3)",
                    observed="two token requests carry assertions with the same jti",
                )
            seen.add(jti)
        if request.status == 401 or b"invalid_client" in request.answer:
            raise NonConformance(
                expected="the reference AS accepts the client's assertion",
                observed=f"the token endpoint answered {request.status} invalid_client",
            )
    return {
        "keys": where,
        "token_requests": len(tokens),
        "assertions_verified": len(seen),
    }


def pkce(runs: Runs) -> dict[str, Any]:
    """MCP-CLI-04: S256 at a correct AS; no authorization at an AS without PKCE metadata."""
    refused = runs["no-pkce-metadata"]
    if _went_to_authorize(refused):
        raise NonConformance(
            expected="the client refuses to go on: the AS metadata has no "
            "code_challenge_methods_supported",
            observed="it sent an authorization request to "
            + refused.issuer.rstrip("/")
            + "/authorize",
        )
    read = any(r.path.startswith("/.well-known/") for r in refused.metadata_requests())
    query = _first_authorization(runs["clean"])
    if query.get("code_challenge_method") != "S256" or not query.get("code_challenge"):
        raise NonConformance(
            expected="code_challenge with code_challenge_method=S256",
            observed=f"code_challenge_method={query.get('code_challenge_method')!r}, "
            f"code_challenge {'present' if query.get('code_challenge') else 'absent'}",
        )
    if not read:
        raise NotApplicable(
            "the client never read the metadata without code_challenge_methods_supported: "
            + _stopped(refused)
        )
    return {"code_challenge_method": "S256", "refused_without_pkce_metadata": True}


def resource(runs: Runs) -> dict[str, Any]:
    """MCP-CLI-05: resource=<the MCP server> in the authorization and every token request."""
    run = runs["clean"]
    query = _first_authorization(run)
    if query.get("resource") != run.mcp.url:
        raise NonConformance(
            expected=f"resource={run.mcp.url} in the authorization request",
            observed=f"resource={query.get('resource')!r}",
        )
    tokens = run.token_requests()
    if not tokens:
        raise NotApplicable(f"no token request: {_stopped(run)} before one")
    wrong = [r.param("resource") for r in tokens if r.param("resource") != run.mcp.url]
    if wrong:
        raise NonConformance(
            expected=f"resource={run.mcp.url} in every token request",
            observed=f"token requests with resource={wrong[0]!r}",
        )
    return {"resource": run.mcp.url, "token_requests": len(tokens)}


def _without_loopback_port(uri: str) -> str:
    """``uri`` with the port of a loopback http URI left out (RFC 8252 §7.3)."""
    if not is_loopback_http(uri):
        return uri
    parts = urlsplit(uri)
    netloc = parts.netloc if parts.netloc.endswith("]") else parts.netloc.rsplit(":", 1)[0]
    return parts._replace(netloc=netloc).geturl()


def redirect_uri_listed(runs: Runs) -> dict[str, Any]:
    """MCP-CLI-06: the redirect_uri sent is one the document lists (loopback port aside)."""
    run = runs["clean"]
    query = _first_authorization(run)
    listed = _document(run).get("redirect_uris")
    listed = [u for u in listed if isinstance(u, str)] if isinstance(listed, list) else []
    sent = query.get("redirect_uri", "")
    if _without_loopback_port(sent) not in {_without_loopback_port(u) for u in listed}:
        raise NonConformance(
            expected=f"a redirect_uri the document lists: {listed}", observed=f"{sent!r}"
        )
    return {"redirect_uri": sent}


def state(runs: Runs) -> dict[str, Any]:
    """MCP-CLI-07: state sent, and a response with another state discarded."""
    query = _first_authorization(runs["clean"])
    if not query.get("state"):
        raise NonConformance(expected="a state parameter", observed="no state was sent")
    for name, what in (("tampered-state", "another state"), ("dropped-state", "no state")):
        run = runs[name]
        _first_authorization(run)
        if run.code_redemptions():
            raise NonConformance(
                expected=f"a response with {what} discarded: its code never redeemed",
                observed=f"the client redeemed the code of a response with {what}",
            )
    return {"state_sent": True, "redeemed_with_wrong_state": False}


def discovery_order(runs: Runs) -> dict[str, Any]:
    """MCP-CLI-08: RFC 9728 metadata first, then the AS metadata in the MCP order.

    Metadata whose issuer is not the AS's is never used (RFC 8414 §3.3).
    """
    run = runs["clean"]
    events = [(at, "mcp", path) for at, method, path in run.mcp.requests
              if method == "GET" and path.startswith("/.well-known/")]  # fmt: skip
    events += [(r.at, "as", r.path) for r in run.metadata_requests()]
    # up to the first authorization request: later ones are the MCP server's, for its keys
    opened = [r.at for r in run.as_requests if r.path.endswith("/authorize")]
    events = sorted(e for e in events if not opened or e[0] < opened[0])
    if not events:
        raise NotApplicable(f"no metadata was requested: {_stopped(run)}")
    order = [f"{where} {path}" for _at, where, path in events]
    if not events[0][2].startswith(PRM_WELL_KNOWN) or events[0][1] != "mcp":
        raise NonConformance(
            expected="the protected resource metadata (RFC 9728) first",
            observed="requested first: " + order[0],
        )
    first_as = next((path for _at, where, path in events if where == "as"), None)
    rfc8414 = urlsplit(as_metadata_urls(run.issuer)[0]).path
    if first_as is not None and first_as != rfc8414:
        raise NonConformance(
            expected=f"the AS metadata first at {rfc8414} (RFC 8414 path insertion)",
            observed=f"first AS metadata request: {first_as}",
        )
    other = runs["other-issuer-metadata"]
    if _went_to_authorize(other):
        raise NonConformance(
            expected="metadata whose issuer is not the AS's never used (RFC 8414 §3.3)",
            observed=f"the client used the metadata of issuer {other.issuer}/ to authorize "
            f"at {other.issuer}",
        )
    if not other.metadata_requests():
        raise NotApplicable(
            "the client never read the metadata with another issuer: " + _stopped(other)
        )
    return {"order": order, "refused_other_issuer_metadata": True}


def _basic_with_empty_secret(header: str) -> bool:
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8", "replace")
    except (binascii.Error, ValueError):
        return False
    # RFC 6749 §2.3.1 form-encodes the client_id (its ":" too); a client that does not still
    # ends the credentials with the separator when the secret is empty
    return decoded.endswith(":")


def no_empty_basic(runs: Runs) -> dict[str, Any]:
    """MCP-CLI-09: a none client sends client_id in the body, no Basic with an empty secret."""
    run = runs["clean"]
    method = _document(run).get("token_endpoint_auth_method", "none")
    if method != "none":
        raise NotApplicable(f"the client authenticates with {method!r}, not none")
    tokens = run.token_requests()
    if not tokens:
        raise NotApplicable(f"no token request: {_stopped(run)} before one")
    for request in tokens:
        if _basic_with_empty_secret(request.headers.get("authorization", "")):
            raise NonConformance(
                expected="no Authorization header; client_id in the body",
                observed="Authorization: Basic with an empty secret",
            )
        if not request.form.get("client_id"):
            raise NonConformance(
                expected="client_id in the token request body", observed="no client_id in it"
            )
    return {"token_requests": len(tokens)}


def iss_checked(runs: Runs) -> dict[str, Any]:
    """MCP-CLI-11: a response whose iss is not the issuer is discarded (RFC 9207)."""
    run = runs["wrong-iss"]
    _first_authorization(run)
    if run.code_redemptions():
        raise NonConformance(
            expected=f"the response with iss={run.issuer}/ discarded: it is not {run.issuer}",
            observed="the client redeemed the code of a response with the wrong iss",
        )
    return {"wrong_iss_redeemed": False}


CHECKS: dict[str, Check] = {
    "MCP-CLI-01": uses_its_url,
    "MCP-CLI-02": document_published,
    "MCP-CLI-03": private_key_jwt,
    "MCP-CLI-04": pkce,
    "MCP-CLI-05": resource,
    "MCP-CLI-06": redirect_uri_listed,
    "MCP-CLI-07": state,
    "MCP-CLI-08": discovery_order,
    "MCP-CLI-09": no_empty_basic,
    "MCP-CLI-10": redirect_uris_safe,
    "MCP-CLI-11": iss_checked,
}
"""Each checked row and its check, in catalog order."""

NOT_CHECKED: dict[str, str] = {}
"""The client rows run-client does not check yet, each with why (for the record)."""
