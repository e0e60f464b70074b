"""The reference AS's faults: deliberate, realistic defects, each a named constant of :class:`F`.

This module is the fault table, and the only one: each fault's name (the public switch:
``--fault NAME``, ``/faults/NAME``), the requirement IDs it breaks in each network mode, and
what it does. The self-test runs the suite against an issuer with one fault on and asserts
that precisely those requirements fail, which proves every check can fail; it reads every
expectation from here. A fault changes only the behaviour its ``about`` describes.

Code asks whether a fault is on in one way only, with its constant::

    if config.has(F.DROPS_STATE): ...

(``IssuerConfig.has``, ``Issuer.has`` and ``FaultSet.has`` are the same question). Names
are turned into faults only where they come in: the command line and :meth:`FaultSet.named`.
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
        profile: the one scoring profile under which the rows are scored (the
            ``mcp-2026-07-28`` rows); under the others they are Informational, recorded and
            never violated, so the fault breaks nothing there. ``None``: every profile.
    """

    name: str
    breaks: tuple[str, ...]
    about: str
    lab_breaks: tuple[str, ...] | None = None
    profile: str | None = None

    def breaks_in(self, mode: str, profile: str = "latest") -> tuple[str, ...]:
        """The IDs this fault breaks in ``mode`` (``loopback`` or ``lab``) under ``profile``."""
        if self.profile is not None and profile != self.profile:
            return ()
        if mode == "lab" and self.lab_breaks is not None:
            return self.lab_breaks
        return self.breaks


# The profile that scores MCP 2026-07-28's rows (conformance.catalog.requirements.MCP_2026)
MCP_2026 = "mcp-2026-07-28"

# What a target that never fetches the document fails in default mode (fault client-id-not-fetched)
_NEVER_FETCHED = (
    # no fetch per authorization, and a change in the document never shows
    "CIMD-CACHE-01",
    "CIMD-CACHE-04",
    "CIMD-CACHE-05",
    "CIMD-CHG-01",
    "CIMD-CHG-02",
    "CIMD-DISC-04",
    "CIMD-DOC-01",
    "CIMD-DOC-02",
    "CIMD-DOC-03",
    "CIMD-DOC-04",
    "CIMD-DOC-05",
    "CIMD-DOC-06",
    "CIMD-DOC-07",
    "CIMD-DOC-08",
    "CIMD-DOC-09",
    "CIMD-DOC-10",
    "CIMD-DOC-11",
    "CIMD-DOC-15",
    "CIMD-DOC-16",
    "CIMD-ERR-01",
    # no GET before consent, none of the exact URL, and nothing a fetch would refuse
    "CIMD-FETCH-01",
    "CIMD-FETCH-02",
    "CIMD-FETCH-03",
    "CIMD-FETCH-04",
    "CIMD-FETCH-05",
    "CIMD-FETCH-06",
    "CIMD-FETCH-07",
    "CIMD-REDIR-01",
    "CIMD-REDIR-04",
    "CIMD-REDIR-10",
    "CIMD-SEC-02",
    "CIMD-UI-05",
    "CIMD-URL-08",
)


class F:
    """Every fault, one constant each.

    The order here is catalog order: that of ``--list-faults``, of the matrix's issuers and
    of the self-test. The constant is the fault's name in upper case with ``_`` for ``-``.
    A misspelt constant is an ``AttributeError`` (and a mypy error), never a fault silently
    off.
    """

    NO_METADATA_FLAG = Fault(
        "no-metadata-flag",
        ("CIMD-DISC-01",),
        "metadata omits client_id_metadata_document_supported",
    )
    FLAG_AS_STRING = Fault(
        "flag-as-string", ("CIMD-DISC-02",), 'publishes the flag as the string "true"'
    )
    DROPS_STATE = Fault(
        "drops-state", ("CIMD-DISC-04",), "the approval redirect carries the code but no state"
    )
    CLIENT_ID_NOT_FETCHED = Fault(
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
    )
    ALLOWS_HTTP_CLIENT_ID = Fault(
        "allows-http-client-id",
        ("CIMD-URL-01",),
        "accepts http:// identifiers and fetches them over plain HTTP",
    )
    ALLOWS_EMPTY_PATH = Fault(
        "allows-empty-path", ("CIMD-URL-02",), "skips the path check (https://h:1 is fetched as /)"
    )
    IGNORES_DOT_SEGMENTS = Fault(
        "ignores-dot-segments",
        ("CIMD-URL-03",),
        "skips the dot-segment check; the fetch URL gets its dot segments removed",
    )
    ALLOWS_FRAGMENT = Fault(
        "allows-fragment",
        ("CIMD-URL-04",),
        "skips the fragment check; fetches the URL without the fragment",
    )
    ALLOWS_USERINFO = Fault(
        "allows-userinfo",
        ("CIMD-URL-05",),
        "skips the userinfo check (the fetch then sends it as Basic auth)",
    )
    NORMALIZES_CLIENT_ID = Fault(
        "normalizes-client-id",
        # a cached document then answers for the normalized spelling too
        ("CIMD-URL-08", "CIMD-CACHE-05"),
        "compares the document's client_id and the identifier after normalizing both",
    )
    FETCH_DROPS_QUERY = Fault(
        "fetch-drops-query",
        ("CIMD-FETCH-02",),
        "builds the fetch URL from scheme, host and path: the identifier's query is left off",
    )
    ACCEPTS_ANY_2XX = Fault(
        "accepts-any-2xx", ("CIMD-FETCH-03",), "treats every 2xx status as success"
    )
    FOLLOWS_REDIRECTS = Fault(
        "follows-redirects",
        ("CIMD-FETCH-04",),
        "follows redirects when fetching (still compares with the original identifier)",
    )
    TLS_VERIFY_OFF = Fault(
        "tls-verify-off",
        ("CIMD-ERR-01", "CIMD-FETCH-05"),  # CIMD-ERR-01's failures include an untrusted CA
        "fetches documents without verifying the host's certificate (verify=False)",
    )
    TLS_HOSTNAME_UNCHECKED = Fault(
        "tls-hostname-unchecked",
        ("CIMD-FETCH-05",),
        "verifies the certificate chain but not the host name (check_hostname off)",
    )
    SIZE_LIMIT_TOO_SMALL = Fault(
        "size-limit-too-small",
        ("CIMD-FETCH-06",),
        "refuses documents over 2,048 bytes, below the 5 KB the specification recommends",
    )
    FETCH_READS_UNBOUNDED = Fault(
        "fetch-reads-unbounded",
        ("CIMD-FETCH-06",),
        "reads the whole (decoded) body before any size check: no byte limit, gzip inflated",
    )
    FETCH_NO_TIMEOUT = Fault(
        "fetch-no-timeout",
        ("CIMD-FETCH-07",),
        "fetches with no timeout: a host that never answers holds the request until it hangs up",
    )
    FETCH_FORWARDS_USER_HEADERS = Fault(
        "fetch-forwards-user-headers",
        ("CIMD-FETCH-10",),
        "the fetch passes on the user's Cookie and Authorization, their address as "
        "X-Forwarded-For and the authorization request as Referer",
    )
    LENIENT_JSON = Fault(
        "lenient-json",
        ("CIMD-DOC-01",),
        "parses with raw_decode, ignoring anything after the first JSON value",
    )
    CLIENT_ID_OPTIONAL = Fault(
        "client-id-optional",
        ("CIMD-DOC-02",),
        "compares client_id only when the member is present",
    )
    NO_CLIENT_ID_MATCH = Fault(
        "no-client-id-match",
        # never comparing also lets a document without client_id, or with another one, through
        ("CIMD-CACHE-05", "CIMD-DOC-02", "CIMD-DOC-03", "CIMD-ERR-01", "CIMD-URL-08"),
        "never compares the document's client_id with the identifier",
    )
    IGNORES_AUTH_METHOD = Fault(
        "ignores-auth-method",
        ("CIMD-DOC-04",),
        "ignores token_endpoint_auth_method: every document client is treated as public",
    )
    REDIRECT_URIS_OPTIONAL = Fault(
        "redirect-uris-optional",
        ("CIMD-DOC-08",),
        "when redirect_uris is missing, empty or malformed, trusts the requested redirect_uri",
    )
    # Discovery and document validation rows of issue 11, in catalog order.
    OIDC_DISCOVERY_WITHOUT_FLAG = Fault(
        "oidc-discovery-without-flag",
        ("CIMD-DISC-03",),
        "also publishes OpenID Connect discovery metadata, from another code path that "
        "omits client_id_metadata_document_supported",
    )
    DCR_MINTS_URL_CLIENT_IDS = Fault(
        "dcr-mints-url-client-ids",
        ("CIMD-DISC-05",),
        "dynamic client registration mints client_ids that are https URLs under the issuer",
    )
    REFUSES_CLIENT_ID_PORT = Fault(
        "refuses-client-id-port",
        # Outside the lab every client URL is on the development exception's host, where the
        # fault allows ports: only the lab, in production mode, shows it.
        (),
        "refuses identifiers with an explicit port, except on the development loopback host",
        lab_breaks=("CIMD-URL-07",),
    )
    SYNTAX_CHECKED_AFTER_FETCH = Fault(
        "syntax-checked-after-fetch",
        ("CIMD-URL-09",),
        "fetches an https identifier (as a URL library reads it) before checking its path, "
        "dot-segment, fragment and userinfo rules, then refuses it",
    )
    EXACT_CONTENT_TYPE = Fault(
        "exact-content-type",
        ("CIMD-FETCH-08",),
        "refuses a document whose Content-Type is not exactly application/json (no parameters)",
    )
    PUBLISHED_SECRET_ACCEPTED = Fault(
        "published-secret-accepted",
        ("CIMD-DOC-05",),
        "accepts a document carrying client_secret and takes that secret as the client's "
        "credential at the token endpoint (HTTP Basic or client_secret in the body)",
    )
    PRIVATE_KEYS_ACCEPTED = Fault(
        "private-keys-accepted",
        ("CIMD-DOC-06",),
        "does not look for private key members (d, p, q, dp, dq, qi, oth, k) in the jwks",
    )
    JWKS_AND_JWKS_URI_ACCEPTED = Fault(
        "jwks-and-jwks-uri-accepted",
        ("CIMD-DOC-07",),
        "accepts a document with both jwks and jwks_uri (and uses jwks)",
    )
    REDIRECT_URIS_FORM_UNCHECKED = Fault(
        "redirect-uris-form-unchecked",
        ("CIMD-DOC-09",),
        "registers relative redirect URIs and ones with a fragment",
    )
    ALLOWS_HTTP_REDIRECT_URIS = Fault(
        "allows-http-redirect-uris",
        ("CIMD-DOC-10",),
        "registers http redirect URIs on any host, not only on loopback",
    )
    ALLOWS_PRIVATE_USE_SCHEMES = Fault(
        "allows-private-use-schemes",
        ("CIMD-DOC-11",),
        "registers redirect URIs with any scheme, such as myapp:/cb",
    )
    NAMELESS_CLIENT_ANONYMOUS = Fault(
        "nameless-client-anonymous",
        ("CIMD-DOC-12",),
        "without client_name, the consent page names the client 'this application' and "
        "shows neither its host nor its client_id",
    )
    STRICT_DOCUMENT_SCHEMA = Fault(
        "strict-document-schema",
        # CIMD-FETCH-06's 4,000-byte document is padded with an extension member, and the
        # published private_key_jwt shape (CIMD-AUTHN-01) declares its signing algorithm
        # (token_endpoint_auth_signing_alg, registered but not in RFC 7591 §2)
        ("CIMD-AUTHN-01", "CIMD-DOC-13", "CIMD-FETCH-06"),
        "refuses documents with members outside RFC 7591 §2 (a schema without extensions)",
    )
    MISSING_AUTH_METHOD_IS_BASIC = Fault(
        "missing-auth-method-is-basic",
        ("CIMD-DOC-14",),
        "a document without token_endpoint_auth_method gets RFC 7591's default, "
        "client_secret_basic: consent is shown, then the token endpoint demands a secret",
    )
    JWKS_URI_ANY_SCHEME = Fault(
        "jwks-uri-any-scheme",
        ("CIMD-DOC-15",),
        "accepts a private_key_jwt client whose jwks_uri is http, and fetches its keys so",
    )
    FLOW_TYPES_IGNORED = Fault(
        "flow-types-ignored",
        ("CIMD-DOC-16",),
        "ignores the document's grant_types and response_types",
    )
    DOCUMENT_LINKS_ANY_SCHEME = Fault(
        "document-links-any-scheme",
        ("CIMD-DOC-17", "CIMD-SEC-08"),
        "the consent page links tos_uri and policy_uri whatever their scheme (javascript:, "
        "data:, file:), not only https",
    )
    OIDC_DISCOVERY_WITHOUT_PKCE = Fault(
        "oidc-discovery-without-pkce",
        ("MCP-AUTH-09",),
        "also publishes OpenID Connect discovery metadata, from another code path that "
        "omits code_challenge_methods_supported",
    )
    HTTP_REVOCATION_ENDPOINT = Fault(
        "http-revocation-endpoint",
        ("MCP-AUTH-13",),
        "publishes its revocation_endpoint under the internal service's http URL",
    )
    PREFIX_REDIRECT_MATCH = Fault(
        "prefix-redirect-match",
        ("CIMD-REDIR-01",),
        "accepts a non-loopback redirect_uri that starts with a listed URI",
    )
    STRICT_LOOPBACK_PORT = Fault(
        "strict-loopback-port",
        ("CIMD-REDIR-02", "CIMD-REDIR-03"),  # port-less localhost URIs too
        "loopback redirect URIs must match the listed port exactly (no port = 80)",
    )
    LOOPBACK_PORT_IPV4_ONLY = Fault(
        "loopback-port-ipv4-only",
        ("CIMD-REDIR-02",),
        "the any-port rule for loopback redirect URIs covers 127.0.0.1 but not [::1]",
    )
    REDIRECTS_UNVERIFIED_URI = Fault(
        "redirects-unverified-uri",
        ("CIMD-REDIR-06",),
        "on redirect_uri mismatch, redirects to the presented URI with error=invalid_request",
    )
    REDIRECTS_FETCH_ERRORS = Fault(
        "redirects-fetch-errors",
        ("CIMD-ERR-02",),
        "when the document cannot be fetched or is invalid, redirects with error=invalid_client",
    )
    TRUSTS_UNREACHABLE_DOCUMENTS = Fault(
        "trusts-unreachable-documents",
        # a bad certificate and a timeout are network-level failures too
        ("CIMD-ERR-01", "CIMD-FETCH-05", "CIMD-FETCH-07"),
        "on a network-level fetch failure, continues with a placeholder public client",
    )
    LOOPBACK_PORT_IP_LITERALS_ONLY = Fault(
        "loopback-port-ip-literals-only",
        ("CIMD-REDIR-03",),
        "the any-port rule for loopback redirect URIs covers 127.0.0.1 and [::1], not localhost",
    )
    LOOPBACK_PATH_PREFIX = Fault(
        "loopback-path-prefix",
        ("CIMD-REDIR-04",),
        "a loopback redirect URI also matches any path that starts with the listed one "
        "(/callback/x), on any port",
    )
    DEFAULT_REDIRECT_URI = Fault(
        "default-redirect-uri",
        ("CIMD-REDIR-05",),
        "a request without redirect_uri gets the document's first one, however many it lists",
    )
    CODE_NOT_BOUND_TO_CLIENT = Fault(
        "code-not-bound-to-client",
        ("CIMD-REDIR-07",),
        "the token endpoint redeems a code whatever client_id the token request names",
    )
    REDIRECTS_ERRORS_BEFORE_LOGIN = Fault(
        "redirects-errors-before-login",
        ("CIMD-REDIR-08",),
        "request errors (unsupported response_type, no PKCE) go back to the redirect URI "
        "before the user signs in",
    )
    PAR_TRUSTS_REDIRECT_URI = Fault(
        "par-trusts-redirect-uri",
        ("CIMD-REDIR-10",),
        "the PAR endpoint takes any pushed redirect_uri (RFC 9126 §2.4's exception for "
        "authenticated clients applied to public ones)",
    )
    ERROR_REDIRECT_DROPS_STATE = Fault(
        "error-redirect-drops-state",
        ("CIMD-ERR-04",),
        "error redirects after the client is verified carry no state",
    )
    ERROR_REFLECTS_DOCUMENT = Fault(
        "error-reflects-document",
        ("CIMD-ERR-05",),
        "the error page for a failed fetch quotes the start of the document host's answer",
    )
    TOKEN_DEMANDS_SECRET = Fault(
        "token-demands-secret",
        ("CIMD-AUTHN-05", "CIMD-DISC-04", "CIMD-DOC-14", "MCP-AUTH-08"),
        "the token endpoint requires HTTP Basic client authentication for URL client_ids",
    )
    NO_SSRF_CHECK = Fault(
        "no-ssrf-check",
        ("CIMD-AUTHN-07", "CIMD-SEC-02", "CIMD-SEC-05"),
        "no address check at all: any host is fetched, names and literals alike",
        lab_breaks=("CIMD-AUTHN-07", "CIMD-SEC-01", "CIMD-SEC-02", "CIMD-SEC-03", "CIMD-SEC-05"),
    )
    SSRF_LITERALS_ONLY = Fault(
        "ssrf-literals-only",
        # 2130706433, 0x7f000001, 0177.0.0.1 and 127.1 are not IP literals to ipaddress: names.
        # Outside the lab every name it lets through reaches 127.0.0.1 or ::1, within the
        # loopback exception the suite does not score, so only the lab shows this fault.
        (),
        "checks IP literals but fetches DNS names (and odd IPv4 spellings) unchecked",
        lab_breaks=("CIMD-AUTHN-07", "CIMD-SEC-01", "CIMD-SEC-02", "CIMD-SEC-03", "CIMD-SEC-05"),
    )
    SSRF_REBINDING = Fault(
        "ssrf-rebinding",
        (),
        "checks the resolved addresses, then resolves the name again to connect",
        lab_breaks=("CIMD-SEC-03",),
    )
    SSRF_MAPPED_IPV6 = Fault(
        "ssrf-mapped-ipv6",
        (),  # outside the lab ::ffff:127.0.0.1 is the metadata host, within the exception
        "does not recognise IPv4-mapped IPv6 addresses (::ffff:127.0.0.1) as their IPv4 address",
        lab_breaks=("CIMD-SEC-01", "CIMD-SEC-02"),
    )
    DOCUMENT_URLS_UNCHECKED = Fault(
        "document-urls-unchecked",
        ("CIMD-SEC-05",),
        "fetches logo_uri without the address check the client document gets",
    )
    LOGO_FETCHED_LAZILY = Fault(
        "logo-fetched-lazily",
        # The lazy endpoint still fetches https logos only, so CIMD-SEC-06 holds; only a
        # consent page rendered with its images shows the fetch. Fetched per image request,
        # the logo is not kept either (CIMD-UI-05).
        ("CIMD-SEC-05", "CIMD-UI-05"),
        "the consent page's <img> is the AS's /logo, which fetches logo_uri without the "
        "address check when the browser asks for it",
    )
    LOGO_PROXIED_ANY_SCHEME = Fault(
        "logo-proxied-any-scheme",
        # https logos on any host and ftp:// alike, only when the rendered consent page
        # asks: both document-URL checks must render the page to see it; nor is the logo
        # kept (CIMD-UI-05)
        ("CIMD-SEC-05", "CIMD-SEC-06", "CIMD-UI-05"),
        "the consent page's <img> is the AS's /logo, which fetches logo_uri unchecked when "
        "the browser asks for it, any scheme but https with urllib",
    )
    PRIVATE_KEY_JWT_OPTIONAL = Fault(
        "private-key-jwt-optional",
        # a client that moved to private_key_jwt is still served without an assertion
        ("CIMD-AUTHN-01", "CIMD-CHG-02"),
        "a private_key_jwt client that sends no assertion is served as a public client",
    )
    ASSERTION_CLAIMS_UNCHECKED = Fault(
        "assertion-claims-unchecked",
        ("CIMD-AUTHN-02", "CIMD-AUTHN-03"),
        "checks the assertion's signature but none of its claims (iss, sub, aud, exp, nor jti "
        "against replay)",
    )
    ASSERTION_KEY_FROM_ISSUER = Fault(
        "assertion-key-from-issuer",
        ("CIMD-AUTHN-04",),
        "verifies the assertion with the keys of the client its own iss names",
    )
    ASSERTION_REPLAY_ALLOWED = Fault(
        "assertion-replay-allowed",
        ("CIMD-AUTHN-03",),
        "does not remember used assertion jti values: the same assertion authenticates again",
    )
    SIGNING_ALG_NOT_ENFORCED = Fault(
        "signing-alg-not-enforced",
        ("CIMD-AUTHN-08",),
        "ignores the document's token_endpoint_auth_signing_alg: any accepted algorithm verifies",
    )
    JWKS_URI_UNCHECKED = Fault(
        "jwks-uri-unchecked",
        ("CIMD-AUTHN-07",),
        "fetches a private_key_jwt client's jwks_uri without the address check",
    )
    KEYS_PINNED_AT_FIRST_FETCH = Fault(
        "keys-pinned-at-first-fetch",
        ("CIMD-AUTHN-06",),
        "keeps a client's jwks from the first fetch of its document, whatever later fetches say",
    )
    IGNORES_NO_STORE = Fault(
        "ignores-no-store",
        ("CIMD-AUTHN-06", "CIMD-CACHE-01", "CIMD-CHG-01", "CIMD-CHG-02"),
        "caches every valid document for five minutes, no-store, no-cache and max-age=0 too",
    )
    CACHES_ERRORS = Fault(
        "caches-errors",
        ("CIMD-CACHE-02",),
        "caches a failed fetch (an error status) for the max-age its response carries",
    )
    CACHES_INVALID_DOCUMENTS = Fault(
        "caches-invalid-documents",
        ("CIMD-CACHE-03",),
        "caches the rejection of an invalid document for the max-age its response carries",
    )
    FIXED_CACHE_LIFETIME = Fault(
        "fixed-cache-lifetime",
        ("CIMD-CACHE-04",),
        "keeps every document that may be stored for an hour, whatever its max-age",
    )
    CACHE_KEYED_NORMALIZED = Fault(
        "cache-keyed-normalized",
        ("CIMD-CACHE-05",),
        "keys the document cache by the normalized identifier (host case, :443, slash, query)",
    )
    REDIRECT_URIS_PINNED_AT_FIRST_FETCH = Fault(
        "redirect-uris-pinned-at-first-fetch",
        ("CIMD-CACHE-04", "CIMD-CHG-01"),
        "keeps a client's redirect_uris from the first fetch of its document",
    )
    CLIENT_FROM_AUTHORIZATION = Fault(
        "client-from-authorization",
        ("CIMD-AUTHN-06", "CIMD-CHG-02"),
        "authenticates token requests with the document read at authorization, never re-read",
    )
    DOCUMENT_URLS_ANY_SCHEME = Fault(
        "document-urls-any-scheme",
        ("CIMD-SEC-06",),
        "fetches logo_uri with urllib, whatever its scheme (ftp:// included)",
    )
    REDIRECTS_TO_PRIVATE = Fault(
        "redirects-to-private",
        ("CIMD-FETCH-04",),
        "follows redirects when fetching and checks only the first URL's address",
    )
    CLIENT_NAME_UNESCAPED = Fault(
        "client-name-unescaped",
        ("CIMD-SEC-08",),
        "the consent page renders client_name as markup (|safe; innerHTML in script-built pages)",
    )
    CONSENT_FRAMABLE = Fault(
        "consent-framable",
        ("CIMD-SEC-09", "CIMD-UI-07"),
        "the consent page is sent without X-Frame-Options or CSP frame-ancestors",
    )
    CONSENT_HIDES_CLIENT_HOST = Fault(
        "consent-hides-client-host",
        ("CIMD-UI-01",),
        "the consent page shows the self-asserted client_name only, not the client_id host",
    )
    CONSENT_HIDES_REDIRECT_HOST = Fault(
        "consent-hides-redirect-host",
        ("CIMD-UI-02", "CIMD-UI-07"),
        "the consent page does not say which host (or URI) the user is sent back to",
    )
    CONSENT_REMEMBERED_PER_SCOPE = Fault(
        "consent-remembered-per-scope",
        ("CIMD-UI-07",),
        "an approval is remembered per user and scope, not per client: once the user approved "
        "a scope for one client, any other client asking the same scope gets a code without "
        "consent (an MCP proxy's confused deputy)",
    )
    NO_LOOPBACK_WARNING = Fault(
        "no-loopback-warning",
        ("CIMD-UI-03",),
        "no extra warning when every redirect URI of the client is on loopback",
    )
    LOGO_HOTLINKED = Fault(
        "logo-hotlinked",
        ("CIMD-UI-05",),
        "the consent page's <img> is the document's https logo_uri itself, which the user's "
        "browser fetches from the client's host",
    )
    ISSUER_TRAILING_SLASH = Fault(
        "issuer-trailing-slash", ("MCP-AUTH-02",), "the metadata's issuer gets a trailing /"
    )
    PKCE_OPTIONAL = Fault(
        "pkce-optional",
        ("MCP-AUTH-08",),
        "code_challenge is optional; the verifier is checked only when a challenge was given",
    )
    PKCE_VERIFIER_OPTIONAL = Fault(
        "pkce-verifier-optional",
        ("MCP-AUTH-08",),
        "a code issued with a challenge is redeemed without any code_verifier",
    )

    REFRESH_NOT_BOUND_TO_CLIENT = Fault(
        "refresh-not-bound-to-client",
        ("CIMD-CHG-04",),
        "the refresh grant never compares client_id: any client may use any refresh token",
    )
    TOKEN_REJECTS_RESOURCE = Fault(
        "token-rejects-resource",
        ("MCP-AUTH-10",),
        "the token endpoint refuses the resource parameter (invalid_request: unknown parameter)",
    )
    REFRESH_AUDIENCE_ISSUER = Fault(
        "refresh-audience-issuer",
        ("MCP-AUTH-10",),
        "the refresh grant's access token is for the issuer, not the resource it names: the "
        "MCP server refuses it",
    )
    REFRESH_NOT_ROTATED = Fault(
        "refresh-not-rotated",
        ("MCP-AUTH-11",),
        "the refresh grant returns a new refresh token but the old one keeps working",
    )
    NO_RESPONSE_ISS = Fault(
        "no-response-iss",
        ("MCP-AUTH-19",),
        "authorization responses carry no iss, and the metadata drops "
        "authorization_response_iss_parameter_supported",
        profile=MCP_2026,
    )
    RESPONSE_ISS_UNADVERTISED = Fault(
        "response-iss-unadvertised",
        ("MCP-AUTH-21",),
        "authorization responses carry iss, but the metadata drops "
        "authorization_response_iss_parameter_supported",
        profile=MCP_2026,
    )
    RESPONSE_ISS_TRAILING_SLASH = Fault(
        "response-iss-trailing-slash",
        ("MCP-AUTH-22",),
        "the iss of authorization responses gets a trailing / (the metadata's issuer does not)",
        profile=MCP_2026,
    )


FAULTS: tuple[Fault, ...] = tuple(value for value in vars(F).values() if isinstance(value, Fault))
"""Every fault, in the order :class:`F` declares them."""

_BY_NAME = {fault.name: fault for fault in FAULTS}
if len(_BY_NAME) != len(FAULTS):  # pragma: no cover - a broken table must not import
    raise RuntimeError("two faults in the table share a name")


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


class FaultSet:
    """The faults switched on for one issuer; ask with :meth:`has` and a constant of :class:`F`.

    It deliberately supports no ``in``, iteration or strings: ``has`` is the only question.

    Args:
        faults: the faults to switch on.

    Example:
        >>> FaultSet([F.DROPS_STATE]).has(F.DROPS_STATE)
        True
    """

    __slots__ = ("_on",)

    def __init__(self, faults: Iterable[Fault] = ()) -> None:
        on = frozenset(faults)
        for fault in on:
            _require_fault(fault)
        self._on = on

    @classmethod
    def named(cls, names: Iterable[str]) -> FaultSet:
        """The faults called ``names`` (from the command line).

        Raises:
            UnknownFaultError: naming every unknown fault and listing the valid ones.
        """
        chosen = frozenset(names)
        unknown = chosen - _BY_NAME.keys()
        if unknown:
            raise UnknownFaultError(unknown)
        return cls(_BY_NAME[name] for name in chosen)

    def has(self, fault: Fault) -> bool:
        """Whether ``fault`` is switched on."""
        return _require_fault(fault) in self._on

    @property
    def names(self) -> tuple[str, ...]:
        """The names of the faults switched on, in catalog order."""
        return tuple(fault.name for fault in FAULTS if fault in self._on)

    def __bool__(self) -> bool:
        return bool(self._on)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FaultSet) and other._on == self._on

    def __hash__(self) -> int:
        return hash(self._on)

    def __repr__(self) -> str:
        return f"FaultSet.named({list(self.names)!r})"


def _require_fault(fault: object) -> Fault:
    if not isinstance(fault, Fault):
        raise TypeError(f"ask with a fault constant such as F.DROPS_STATE, not {fault!r}")
    return fault
