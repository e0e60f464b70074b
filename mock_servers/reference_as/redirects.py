"""Redirect URIs: which may be registered, which request matches, and building responses.

Matching is simple string comparison (CIMD-02 §4.2, RFC 9700 §2.1) with one exception,
RFC 8252 §7.3: a loopback ``http`` redirect URI matches whatever port the request names,
because native clients bind an ephemeral port at run time. Nothing but the port is relaxed.
"""

from __future__ import annotations

from urllib.parse import urlencode

from cimd_rules.redirect_uris import LOOPBACK_HOSTS, form_problems
from cimd_rules.redirect_uris import is_loopback_http as is_loopback_http  # re-exported

from .faults import F, FaultSet
from .identifiers import split_uri


class RedirectUriError(ValueError):
    """The request's redirect URI cannot be used; never redirect to it."""


def is_registrable_redirect_uri(uri: str, faults: FaultSet) -> bool:
    """Absolute, fragment-free, and https or loopback http (RFC 6749 §3.1.2, RFC 9700 §2.6).

    Private-use schemes are refused too (OAuth 2.1 §2.3.1 would take reverse-DNS ones from
    native apps; MCP §11.3 allows only localhost or https). Three faults each relax one rule.
    """
    form_unchecked = faults.has(F.REDIRECT_URIS_FORM_UNCHECKED)
    waived = {
        "relative": form_unchecked,
        "fragment": form_unchecked,
        "http-not-loopback": faults.has(F.ALLOWS_HTTP_REDIRECT_URIS),
    }
    for problem in form_problems(uri):
        if problem == "private-use-scheme":
            return faults.has(F.ALLOWS_PRIVATE_USE_SCHEMES) and "#" not in uri
        if not waived.get(problem, False):
            return False
    return True


def choose_redirect_uri(
    registered: tuple[str, ...] | None, requested: str | None, faults: FaultSet
) -> str:
    """The redirect URI to answer on, checked against the registered ones.

    Args:
        registered: the document's redirect URIs; ``None`` trusts the request (faults only).
        requested: the request's ``redirect_uri``, ``None`` when absent.
        faults: the issuer's faults.

    Raises:
        RedirectUriError: absent where it is needed, or not registered.
    """
    if registered is None:
        if requested is None:
            raise RedirectUriError("redirect_uri is required")
        return requested
    if requested is None:
        if len(registered) == 1 or faults.has(F.DEFAULT_REDIRECT_URI):
            return registered[0]
        # OAuth 2.1 §2.3.2: with several registered URIs the request must name one.
        raise RedirectUriError("the client registers several redirect URIs; name one")
    if any(_matches(listed, requested, faults) for listed in registered):
        return requested
    raise RedirectUriError("redirect_uri is not registered in the client metadata document")


def _matches(listed: str, requested: str, faults: FaultSet) -> bool:
    if requested == listed:
        return True
    if faults.has(F.PREFIX_REDIRECT_MATCH) and not is_loopback_http(requested):
        return requested.startswith(listed)
    return _loopback_port_match(listed, requested, faults)


def _loopback_port_match(listed: str, requested: str, faults: FaultSet) -> bool:
    want, got = split_uri(listed), split_uri(requested)
    want_host, want_port = want.host_port()
    got_host, got_port = got.host_port()
    hosts = LOOPBACK_HOSTS
    if faults.has(F.LOOPBACK_PORT_IPV4_ONLY):
        hosts = hosts - {"[::1]"}
    if faults.has(F.LOOPBACK_PORT_IP_LITERALS_ONLY):
        hosts = hosts - {"localhost"}
    if want.scheme != "http" or want_host not in hosts or "@" in (got.authority or ""):
        return False
    want_path, got_path = want.path, got.path
    if faults.has(F.LOOPBACK_PATH_PREFIX):  # the fault: /callback/x is under /callback
        got_path = want_path if got_path.startswith(want_path) else got_path
    same_otherwise = (want.scheme, want_host, want_path, want.query, want.fragment) == (
        got.scheme,
        got_host,
        got_path,
        got.query,
        got.fragment,
    )
    if not same_otherwise or not _valid_port(got_port):
        return False
    if faults.has(F.STRICT_LOOPBACK_PORT):  # a missing port is taken to be 80
        return (want_port or "80") == (got_port or "80")
    return True


def _valid_port(port: str | None) -> bool:
    return port is None or (port.isdigit() and 0 < int(port) < 65536)


def with_parameters(uri: str, parameters: dict[str, str | None]) -> str:
    """``uri`` with ``parameters`` (``None`` values left out) added to its query."""
    base = uri.partition("#")[0]  # RFC 6749 §3.1.2: the response goes in the query, never after #
    query = urlencode([(name, value) for name, value in parameters.items() if value is not None])
    if not query:
        return base
    separator = "" if base.endswith(("?", "&")) else "&" if "?" in base else "?"
    return base + separator + query
