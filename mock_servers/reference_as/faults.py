"""The reference AS's faults: deliberate, realistic defects, each switched on by name.

Each fault names the requirement IDs it breaks, exactly. The self-test runs the suite against
an issuer with one fault on and asserts that precisely those requirements fail, which proves
every check can fail. A fault changes only the behaviour its ``about`` describes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Fault:
    """One deliberate defect of the reference AS.

    Attributes:
        name: the switch, e.g. ``follows-redirects``.
        breaks: the requirement IDs a correct suite reports as failing with this fault on,
            in the default (loopback) mode.
        about: one line saying what the defect does.
        lab_breaks: the IDs in lab mode, where DNS answers and special-use canaries make
            more of the defect observable; ``None`` means the same as ``breaks``.
    """

    name: str
    breaks: tuple[str, ...]
    about: str
    lab_breaks: tuple[str, ...] | None = None

    def breaks_in(self, mode: str) -> tuple[str, ...]:
        """The IDs this fault breaks in ``mode`` (``loopback`` or ``lab``)."""
        if mode == "lab" and self.lab_breaks is not None:
            return self.lab_breaks
        return self.breaks


# What a target that never fetches the document fails in default mode (fault client-id-not-fetched)
_NEVER_FETCHED = (
    "CIMD-DISC-04",
    "CIMD-DOC-01",
    "CIMD-DOC-02",
    "CIMD-DOC-03",
    "CIMD-DOC-04",
    "CIMD-DOC-08",
    "CIMD-ERR-01",
    "CIMD-FETCH-03",
    "CIMD-FETCH-04",
    "CIMD-REDIR-01",
    "CIMD-SEC-02",
    "CIMD-URL-08",
)

FAULTS: tuple[Fault, ...] = (
    Fault(
        "no-metadata-flag",
        ("CIMD-DISC-01",),
        "metadata omits client_id_metadata_document_supported",
    ),
    Fault("flag-as-string", ("CIMD-DISC-02",), 'publishes the flag as the string "true"'),
    Fault("drops-state", ("CIMD-DISC-04",), "the approval redirect carries the code but no state"),
    Fault(
        "client-id-not-fetched",
        # Never fetching, it refuses nothing a document would have refused: every check whose
        # refusal rests on the document's content, its fetch or its host fails too (a consent
        # for a client on a special-use literal is shown where it must be refused). The AUTHN
        # rows become not-applicable: a private_key_jwt document is never read, so the
        # control's valid assertion is refused as a public client's.
        _NEVER_FETCHED,
        "advertises the flag but never fetches the document: any syntactically valid https "
        "client_id gets consent, with the request's redirect_uri trusted",
        # the lab also judges names resolving to special-use addresses
        lab_breaks=tuple(sorted((*_NEVER_FETCHED, "CIMD-SEC-01"))),
    ),
    Fault(
        "allows-http-client-id",
        ("CIMD-URL-01",),
        "accepts http:// identifiers and fetches them over plain HTTP",
    ),
    Fault(
        "allows-empty-path", ("CIMD-URL-02",), "skips the path check (https://h:1 is fetched as /)"
    ),
    Fault(
        "ignores-dot-segments",
        ("CIMD-URL-03",),
        "skips the dot-segment check; the fetch URL gets its dot segments removed",
    ),
    Fault(
        "allows-fragment",
        ("CIMD-URL-04",),
        "skips the fragment check; fetches the URL without the fragment",
    ),
    Fault(
        "allows-userinfo",
        ("CIMD-URL-05",),
        "skips the userinfo check (the fetch then sends it as Basic auth)",
    ),
    Fault(
        "normalizes-client-id",
        ("CIMD-URL-08",),
        "compares the document's client_id and the identifier after normalizing both",
    ),
    Fault("accepts-any-2xx", ("CIMD-FETCH-03",), "treats every 2xx status as success"),
    Fault(
        "follows-redirects",
        ("CIMD-FETCH-04",),
        "follows redirects when fetching (still compares with the original identifier)",
    ),
    Fault(
        "lenient-json",
        ("CIMD-DOC-01",),
        "parses with raw_decode, ignoring anything after the first JSON value",
    ),
    Fault(
        "client-id-optional",
        ("CIMD-DOC-02",),
        "compares client_id only when the member is present",
    ),
    Fault(
        "no-client-id-match",
        # never comparing also lets a document without client_id, or with another one, through
        ("CIMD-DOC-02", "CIMD-DOC-03", "CIMD-ERR-01", "CIMD-URL-08"),
        "never compares the document's client_id with the identifier",
    ),
    Fault(
        "ignores-auth-method",
        ("CIMD-DOC-04",),
        "ignores token_endpoint_auth_method: every document client is treated as public",
    ),
    Fault(
        "redirect-uris-optional",
        ("CIMD-DOC-08",),
        "when redirect_uris is missing, empty or malformed, trusts the requested redirect_uri",
    ),
    Fault(
        "prefix-redirect-match",
        ("CIMD-REDIR-01",),
        "accepts a non-loopback redirect_uri that starts with a listed URI",
    ),
    Fault(
        "strict-loopback-port",
        ("CIMD-REDIR-02",),
        "loopback redirect URIs must match the listed port exactly (no port = 80)",
    ),
    Fault(
        "loopback-port-ipv4-only",
        ("CIMD-REDIR-02",),
        "the any-port rule for loopback redirect URIs covers 127.0.0.1 but not [::1]",
    ),
    Fault(
        "redirects-unverified-uri",
        ("CIMD-REDIR-06",),
        "on redirect_uri mismatch, redirects to the presented URI with error=invalid_request",
    ),
    Fault(
        "redirects-fetch-errors",
        ("CIMD-ERR-02",),
        "when the document cannot be fetched or is invalid, redirects with error=invalid_client",
    ),
    Fault(
        "trusts-unreachable-documents",
        ("CIMD-ERR-01",),
        "on a network-level fetch failure, continues with a placeholder public client",
    ),
    Fault(
        "token-demands-secret",
        ("CIMD-AUTHN-05", "CIMD-DISC-04", "MCP-AUTH-08"),
        "the token endpoint requires HTTP Basic client authentication for URL client_ids",
    ),
    Fault(
        "no-ssrf-check",
        ("CIMD-AUTHN-07", "CIMD-SEC-02", "CIMD-SEC-05"),
        "no address check at all: any host is fetched, names and literals alike",
        lab_breaks=("CIMD-AUTHN-07", "CIMD-SEC-01", "CIMD-SEC-02", "CIMD-SEC-03", "CIMD-SEC-05"),
    ),
    Fault(
        "ssrf-literals-only",
        # 2130706433, 0x7f000001, 0177.0.0.1 and 127.1 are not IP literals to ipaddress: names.
        # Outside the lab every name it lets through reaches 127.0.0.1 or ::1, within the
        # loopback exception the suite does not score, so only the lab shows this fault.
        (),
        "checks IP literals but fetches DNS names (and odd IPv4 spellings) unchecked",
        lab_breaks=("CIMD-AUTHN-07", "CIMD-SEC-01", "CIMD-SEC-02", "CIMD-SEC-03", "CIMD-SEC-05"),
    ),
    Fault(
        "ssrf-rebinding",
        (),
        "checks the resolved addresses, then resolves the name again to connect",
        lab_breaks=("CIMD-SEC-03",),
    ),
    Fault(
        "ssrf-mapped-ipv6",
        (),  # outside the lab ::ffff:127.0.0.1 is the metadata host, within the exception
        "does not recognise IPv4-mapped IPv6 addresses (::ffff:127.0.0.1) as their IPv4 address",
        lab_breaks=("CIMD-SEC-01", "CIMD-SEC-02"),
    ),
    Fault(
        "document-urls-unchecked",
        ("CIMD-SEC-05",),
        "fetches logo_uri without the address check the client document gets",
    ),
    Fault(
        "logo-fetched-lazily",
        # The lazy endpoint still fetches https logos only, so CIMD-SEC-06 holds; only a
        # consent page rendered with its images shows the fetch.
        ("CIMD-SEC-05",),
        "the consent page's <img> is the AS's /logo, which fetches logo_uri without the "
        "address check when the browser asks for it",
    ),
    Fault(
        "logo-proxied-any-scheme",
        # https logos on any host and ftp:// alike, only when the rendered consent page
        # asks: both document-URL checks must render the page to see it
        ("CIMD-SEC-05", "CIMD-SEC-06"),
        "the consent page's <img> is the AS's /logo, which fetches logo_uri unchecked when "
        "the browser asks for it, any scheme but https with urllib",
    ),
    Fault(
        "private-key-jwt-optional",
        ("CIMD-AUTHN-01",),
        "a private_key_jwt client that sends no assertion is served as a public client",
    ),
    Fault(
        "assertion-claims-unchecked",
        ("CIMD-AUTHN-02",),
        "checks the assertion's signature but not its iss, sub, aud or exp",
    ),
    Fault(
        "assertion-key-from-issuer",
        ("CIMD-AUTHN-04",),
        "verifies the assertion with the keys of the client its own iss names",
    ),
    Fault(
        "jwks-uri-unchecked",
        ("CIMD-AUTHN-07",),
        "fetches a private_key_jwt client's jwks_uri without the address check",
    ),
    Fault(
        "document-urls-any-scheme",
        ("CIMD-SEC-06",),
        "fetches logo_uri with urllib, whatever its scheme (ftp:// included)",
    ),
    Fault(
        "redirects-to-private",
        ("CIMD-FETCH-04",),
        "follows redirects when fetching and checks only the first URL's address",
    ),
    Fault("issuer-trailing-slash", ("MCP-AUTH-02",), "the metadata's issuer gets a trailing /"),
    Fault(
        "pkce-optional",
        ("MCP-AUTH-08",),
        "code_challenge is optional; the verifier is checked only when a challenge was given",
    ),
    Fault(
        "pkce-verifier-optional",
        ("MCP-AUTH-08",),
        "a code issued with a challenge is redeemed without any code_verifier",
    ),
)

_BY_NAME = {fault.name: fault for fault in FAULTS}


class UnknownFaultError(ValueError):
    """A fault name that is not in :data:`FAULTS`."""

    def __init__(self, names: Iterable[str]) -> None:
        unknown = ", ".join(sorted(names))
        super().__init__(f"unknown fault(s): {unknown}; valid faults: {', '.join(fault_names())}")


def fault_names() -> tuple[str, ...]:
    """The names of all faults, in catalog order."""
    return tuple(fault.name for fault in FAULTS)


def get_fault(name: str) -> Fault:
    """Look a fault up by name.

    Raises:
        UnknownFaultError: ``name`` is not a known fault.
    """
    try:
        return _BY_NAME[name]
    except KeyError:
        raise UnknownFaultError([name]) from None


def check_fault_names(names: Iterable[str]) -> frozenset[str]:
    """Return ``names`` as a frozenset after checking that every one is a known fault.

    Raises:
        UnknownFaultError: naming every unknown fault and listing the valid ones.
    """
    chosen = frozenset(names)
    unknown = chosen - _BY_NAME.keys()
    if unknown:
        raise UnknownFaultError(unknown)
    return chosen
