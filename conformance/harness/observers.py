"""Observers for the Informational rows: what the target did, read from plain values.

An Informational row is recorded, never scored (catalog §0.3). Its check gathers the facts
(a token response, a fetch log entry, a rendered page) and hands them to one of these
functions, which says in one line what the target did and returns it as an
:class:`~conformance.catalog.verdicts.Observation` for the check to raise. Kept apart from
the checks so that each reading is tested with every value a target may show.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from urllib.parse import unquote, urlsplit

from conformance.catalog.verdicts import Observation

A_DAY_S = 24 * 3600
# words that mark self-asserted data as unverified on a consent page (a heuristic)
UNVERIFIED_WORDS = re.compile(
    r"unverified|not verified|self[- ]asserted|chosen by the (application|app|client)|"
    r"provided by the (application|app|client)|cannot be verified",
    re.IGNORECASE,
)
WARNING_WORDS = re.compile(r"warn|caution|unverified|not verified|different|mismatch", re.I)
ACCEPTED_ERRORS = ("invalid_client", "invalid_request", "unauthorized_client")


def token_lifetime(expires_in: object) -> Observation:
    """MCP-AUTH-12: the access token's ``expires_in``, flagged above 24 hours."""
    if isinstance(expires_in, bool) or not isinstance(expires_in, int | float):
        return Observation(f"expires_in is {expires_in!r}: no lifetime stated", expires_in=None)
    flag = expires_in > A_DAY_S
    text = f"expires_in = {expires_in:g} s ({expires_in / 3600:.2g} h)"
    text += "; above 24 h: not short-lived" if flag else "; within 24 h"
    return Observation(text, expires_in=expires_in, above_24h=flag)


ISS_FLAG = "authorization_response_iss_parameter_supported"


def _iss_of(responses: Mapping[str, Mapping[str, str]]) -> dict[str, str | None]:
    return {name: params.get("iss") for name, params in responses.items()}


def _flag(advertised: object) -> str:
    return f"{ISS_FLAG} absent" if advertised is None else f"{ISS_FLAG} = {advertised!r}"


def issuer_in_response(
    responses: Mapping[str, Mapping[str, str]], advertised: object
) -> Observation:
    """MCP-AUTH-19: ``iss`` in each authorization response (RFC 9207 §2), and the flag.

    Args:
        responses: the redirect's parameters by the response's name ("code response",
            "error response").
        advertised: the metadata's flag (``None`` when absent).
    """
    sent = _iss_of(responses)
    missing = [name for name, iss in sent.items() if iss is None]
    if not missing:
        text = f"iss in the {' and the '.join(sent)}"
    elif len(missing) == len(sent):
        text = f"no iss in the {' nor the '.join(missing)}"
    else:
        text = f"no iss in the {', '.join(missing)}; iss in the others"
    return Observation(
        f"{text}; {_flag(advertised)}",
        held=not missing,
        expected="iss in every authorization response, error responses included (RFC 9207 §2)",
        iss=sent,
        advertised=advertised,
    )


def issuer_flag_agrees(
    responses: Mapping[str, Mapping[str, str]], advertised: object
) -> Observation:
    """MCP-AUTH-21: iss sent exactly when the metadata advertises it (RFC 9207 §2, §3)."""
    sent = _iss_of(responses)
    with_iss = [name for name, iss in sent.items() if iss is not None]
    without = [name for name, iss in sent.items() if iss is None]
    if advertised is True and without:
        text, held = f"{_flag(advertised)}, yet no iss in the {', '.join(without)}", False
    elif advertised is not True and with_iss:
        text, held = f"iss in the {', '.join(with_iss)}, yet {_flag(advertised)}", False
    elif with_iss:
        text, held = f"iss in every response and {_flag(advertised)}", True
    else:
        text, held = f"no iss and {_flag(advertised)}: RFC 9207 is not offered", True
    return Observation(
        text,
        held=held,
        expected=f"iss in the responses when, and only when, {ISS_FLAG} is true",
        iss=sent,
        advertised=advertised,
    )


def issuer_value(responses: Mapping[str, Mapping[str, str]], issuer: str) -> Observation:
    """MCP-AUTH-22: each iss sent is the issuer identifier, compared as strings (RFC 9207 §2.4)."""
    sent = {name: iss for name, iss in _iss_of(responses).items() if iss is not None}
    wrong = {name: iss for name, iss in sent.items() if iss != issuer}
    if not sent:
        text = "no iss in any authorization response: nothing to compare"
    elif wrong:
        text = "; ".join(
            f"the {name}'s iss is {iss!r}, not {issuer!r}" for name, iss in wrong.items()
        )
    else:
        text = f"the iss of the {' and the '.join(sent)} is the issuer {issuer!r}"
    return Observation(
        text,
        held=not wrong,
        expected=f"iss equal to the issuer identifier {issuer!r}, character for character",
        iss=sent,
        issuer=issuer,
    )


def registration_endpoint(metadata: Mapping[str, object]) -> Observation:
    """MCP-AUTH-20: whether Dynamic Client Registration is offered beside CIMD."""
    endpoint = metadata.get("registration_endpoint")
    if not endpoint:
        return Observation(
            "no registration_endpoint: CIMD (or pre-registration) only, no DCR",
            registration_endpoint=None,
        )
    return Observation(
        f"registration_endpoint {endpoint!r}: DCR is offered beside CIMD",
        registration_endpoint=endpoint,
    )


def accept_header(values: Sequence[str | None]) -> Observation:
    """CIMD-FETCH-09: the Accept header of the target's fetches (``None``: none sent)."""
    if not values:
        return Observation("the target did not fetch the client URL", accept=[])
    seen = sorted({v if v is not None else "(none)" for v in values})
    cimd = any(v and "application/cimd+json" in v for v in values)
    note = "; includes application/cimd+json (PR #63)" if cimd else ""
    return Observation(f"Accept: {', '.join(seen)}{note}", accept=seen)


def query_identifier(
    accepted: bool, outcome: str, query: str, fetched: Sequence[str]
) -> Observation:
    """CIMD-URL-06: a client URL with a query; the fetches' request targets (path?query)."""
    carried = [t for t in fetched if urlsplit(t).query == query]
    if accepted:
        text = f"a client URL with ?{query} was accepted"
    else:
        text = f"a client URL with ?{query} was refused ({outcome})"
    if not fetched:
        text += "; it was not fetched"
    elif carried:
        text += f"; the fetch carried the identical query ({carried[0]})"
    else:
        text += f"; the fetch did not carry the query ({', '.join(fetched)})"
    return Observation(text, accepted=accepted, fetched=list(fetched), query_kept=bool(carried))


def unusual_identifiers(cases: Sequence[tuple[str, bool, int, str]]) -> Observation:
    """CIMD-URL-10: (case, accepted, fetches, outcome) for unusual client URLs."""
    parts = []
    for name, accepted, fetches, outcome in cases:
        if accepted:
            parts.append(f"{name}: accepted ({fetches} fetch(es))")
        elif fetches:
            parts.append(f"{name}: refused after {fetches} fetch(es) ({outcome})")
        else:
            parts.append(f"{name}: refused without a fetch ({outcome})")
    return Observation(
        "; ".join(parts),
        cases=[{"case": n, "accepted": a, "fetches": f} for n, a, f, _ in cases],
    )


def display_url_consistency(logo_fetched: bool, logo_shown: str, warning: str) -> Observation:
    """CIMD-DOC-18: a logo_uri on a host unrelated to client_id and redirect URIs.

    ``logo_shown`` is where the page's logo came from ("" when no logo was shown); ``warning``
    a line of the page that reads as a warning ("" when none).
    """
    fetched = "fetched" if logo_fetched else "not fetched"
    if logo_shown:
        text = f"the unrelated-host logo was {fetched} and shown (from {logo_shown})"
    else:
        text = f"the unrelated-host logo was {fetched} and hidden"
    text += f"; warning: {warning!r}" if warning else "; no warning"
    return Observation(
        text, logo_fetched=logo_fetched, logo_shown=bool(logo_shown), warned=bool(warning)
    )


def warning_line(text: str, about: Sequence[str]) -> str:
    """The first line of ``text`` that reads as a warning and names one of ``about``, or ""."""
    for line in text.splitlines():
        if WARNING_WORDS.search(line) and any(a.lower() in line.lower() for a in about):
            return line.strip()
    return ""


def software_statement(accepted: bool, claimed_name_shown: bool, outcome: str) -> Observation:
    """CIMD-DOC-19: an unsigned software_statement claiming a well-known name."""
    if not accepted:
        return Observation(
            f"the document with an unsigned software_statement was refused ({outcome})",
            accepted=False,
            trust_increased=False,
        )
    shown = "shows" if claimed_name_shown else "does not show"
    return Observation(
        f"accepted; the consent page {shown} the name the unsigned statement claims"
        + (" (trust taken from an unverified statement)" if claimed_name_shown else ""),
        accepted=True,
        trust_increased=claimed_name_shown,
    )


def client_only_token(issued: bool, error: str, sub: object, client_id: str) -> Observation:
    """CIMD-AUTHN-09: a client_credentials token for a URL client; its ``sub``."""
    if not issued:
        return Observation(
            f"client_credentials is not granted to the CIMD client ({error})",
            issued=False,
        )
    if sub is None:
        text = "client_credentials token issued; no readable sub (opaque or absent)"
    elif sub == client_id:
        text = "client_credentials token issued; sub is the client_id URL (not a user's)"
    else:
        text = f"client_credentials token issued; sub {sub!r} is not the client_id URL"
    return Observation(text, issued=True, sub=sub, sub_is_client_id=sub == client_id)


def redirect_origin_policy(accepted: bool, outcome: str) -> Observation:
    """CIMD-REDIR-09: a registered redirect URI on another origin than the client_id."""
    if accepted:
        return Observation(
            "a registered cross-origin redirect URI was accepted: no same-origin policy",
            same_origin_required=False,
        )
    return Observation(
        f"a registered cross-origin redirect URI was refused ({outcome}): same-origin policy",
        same_origin_required=True,
    )


def error_codes(codes: Mapping[str, str]) -> Observation:
    """CIMD-ERR-03: the error each place used for a client whose document is missing."""
    parts = []
    against = []
    for place, code in codes.items():
        note = ""
        if code == "tokens issued" or code.startswith("HTTP 5"):
            note = " (counts against the AS, A)"
            against.append(place)
        elif code not in ACCEPTED_ERRORS:
            note = " (not one of " + ", ".join(ACCEPTED_ERRORS) + ")"
        parts.append(f"{place}: {code}{note}")
    return Observation("; ".join(parts), codes=dict(codes), against=against)


def error_code_in(text: str) -> str:
    """The OAuth error code an error page names, or ""."""
    found = re.search(
        r"\b(invalid_[a-z_]+|unauthorized_client|access_denied|server_error|"
        r"temporarily_unavailable|unsupported_[a-z_]+)\b",
        text,
    )
    return found.group(1) if found else ""


def revalidation(conditional: bool, answered: int | None, accepted: bool) -> Observation:
    """CIMD-CACHE-06: the AS's second fetch of a no-cache document with an ETag."""
    if not conditional:
        return Observation(
            "no conditional revalidation (no If-None-Match): the document was fetched whole "
            f"again; the request was {'accepted' if accepted else 'refused'}",
            conditional=False,
            accepted=accepted,
        )
    got = f"answered {answered}" if answered else "not answered"
    kept = "kept the cached document (accepted)" if accepted else "refused the request"
    return Observation(
        f"revalidated with If-None-Match, {got}; the AS {kept}",
        conditional=True,
        answered=answered,
        accepted=accepted,
    )


def expires_honoured(
    within: int, after: int | None, lifetime_s: float, *, dropped: bool = False
) -> Observation:
    """CIMD-CACHE-07: GETs for a request within the Expires lifetime, and one after it.

    ``dropped``: a copy cached for a day was fetched again too, so the fetch after the
    lifetime may be the cache dropping copies early, not Expires.
    """
    if within:
        return Observation(
            f"fetched again within the {lifetime_s:g} s Expires lifetime: Expires not used "
            "for caching",
            cached=False,
        )
    if after is None:
        return Observation("not fetched again within the lifetime", cached=True)
    if dropped:
        return Observation(
            f"cached within the {lifetime_s:g} s Expires lifetime and fetched again after it, "
            "but a copy cached for a day was fetched again too: the cache dropped copies "
            "before their time (a bounded cache under the run's load), so whether Expires "
            "ended this one is not known",
            cached=True,
            refetched_after=None,
        )
    refetched = "fetched again" if after else "not fetched again"
    return Observation(
        f"cached within the {lifetime_s:g} s Expires lifetime and {refetched} after it",
        cached=True,
        refetched_after=bool(after),
    )


def failing_document_refresh(issued: bool, described: str, fetched: int) -> Observation:
    """CIMD-CACHE-08: a refresh grant once the client URL answers 404."""
    seen = f"{fetched} fetch(es) of the now-404 URL"
    if issued:
        return Observation(f"the refresh still worked ({seen})", continued=True, fetches=fetched)
    return Observation(f"the refresh was refused: {described} ({seen})", continued=False)


def fetch_count(fetches: int, requests: int, lifetime: str) -> Observation:
    """CIMD-CACHE-09: GETs for ``requests`` authorizations of one cacheable document."""
    return Observation(
        f"{fetches} GET(s) for {requests} authorization requests of a document with {lifetime}"
        + (" (cached)" if fetches == 1 else " (not cached)" if fetches >= requests else ""),
        fetches=fetches,
        requests=requests,
    )


def refresh_after_rotation(issued: bool, described: str) -> Observation:
    """CIMD-CHG-03: a refresh with the new key after the document's key was replaced."""
    if issued:
        return Observation(
            "refresh tokens survived the key rotation (refresh with the new key worked)",
            survived=True,
        )
    return Observation(
        f"the refresh token stopped working after the key rotation ({described})",
        survived=False,
    )


def consent_after_change(unchanged: str, changed: str) -> Observation:
    """CIMD-CHG-05: what a repeated request led to, before and after client_name changed."""
    if unchanged != "code":
        return Observation(
            f"consent is asked on every request ({unchanged}): nothing remembered to invalidate",
            remembers_consent=False,
        )
    again = changed != "code"
    return Observation(
        "consent is remembered; after client_name changed it was "
        + ("asked again" if again else "not asked again"),
        remembers_consent=True,
        asked_again=again,
    )


def name_display(name_shown: bool, indicator: str) -> Observation:
    """CIMD-UI-04: the probe client_name on the consent page; an "unverified" indicator."""
    text = "client_name shown" if name_shown else "client_name not shown"
    text += f"; unverified indicator: {indicator!r}" if indicator else "; no unverified indicator"
    return Observation(text, name_shown=name_shown, indicator=indicator or None)


def unverified_line(text: str) -> str:
    """The first line of ``text`` that marks data as unverified, or ""."""
    return next((ln.strip() for ln in text.splitlines() if UNVERIFIED_WORDS.search(ln)), "")


def link_display(
    urls: Mapping[str, str], links: Iterable[str], text: str, as_origin: str
) -> Observation:
    """CIMD-UI-06: how client_uri, tos_uri and policy_uri appear (member -> URL given).

    A link straight at the URL is "direct"; one on the AS's origin that carries the URL
    (encoded) is "through the AS"; the URL only in the text is "text only".
    """
    hrefs = list(links)
    found: dict[str, str] = {}
    for member, url in urls.items():
        if url in hrefs:
            found[member] = "direct link"
        elif any(h.startswith(as_origin) and url in unquote(h) for h in hrefs):
            found[member] = "link through the AS"
        elif url in text:
            found[member] = "text only"
        else:
            found[member] = "not shown"
    return Observation(", ".join(f"{m}: {how}" for m, how in found.items()), shown=found)


def fetch_timing(fetched_before_login: int, outcome: str) -> Observation:
    """CIMD-FETCH-11: fetches caused by a request from a user who is not logged in."""
    if fetched_before_login:
        return Observation(
            f"fetched before login: a request without a session ({outcome}) caused "
            f"{fetched_before_login} fetch(es)",
            before_login=True,
        )
    return Observation(
        f"not fetched before login: a request without a session ({outcome}) caused no fetch",
        before_login=False,
    )


def burst(requests: int, fetches: int, statuses: Mapping[int, int], seconds: float) -> Observation:
    """CIMD-SEC-11: a burst of unauthenticated requests with distinct client URLs on one host."""
    answered = ", ".join(f"{n}x HTTP {s}" for s, n in sorted(statuses.items()))
    throttled = statuses.get(429, 0) + statuses.get(503, 0)
    text = (
        f"{requests} unauthenticated requests with distinct client URLs on one host in "
        f"{seconds:.1f} s caused {fetches} fetch(es); answers: {answered}"
    )
    if fetches < requests:
        text += " (outbound fetches limited)"
    return Observation(text, requests=requests, fetches=fetches, throttled=throttled)


def non_supporting(flag: object, outcome: str | None, status: int | None) -> Observation:
    """CIMD-DISC-07: the support flag, and how a URL client_id fared where it is not true."""
    if flag is True:
        return Observation(
            "client_id_metadata_document_supported is true: the row is about servers that "
            "do not support CIMD",
            flag=True,
        )
    shown = "absent" if flag is None else repr(flag)
    crashed = status is not None and status >= 500
    return Observation(
        f"the flag is {shown}; a URL client_id led to {outcome}"
        + ("; a 5xx (not a clean refusal)" if crashed else ""),
        flag=flag,
        server_error=crashed,
    )


def loopback_exception(mode: str, accepted_on_loopback: bool) -> Observation:
    """CIMD-SEC-04: whether the deployment under test fetches client URLs on loopback."""
    if mode != "loopback":
        return Observation(
            f"{mode} mode: the metadata host is not on loopback (CIMD-SEC-02 judges loopback "
            "literals here)",
            loopback_exception=None,
        )
    if accepted_on_loopback:
        return Observation(
            "the loopback exception is on in this deployment: a client URL on 127.0.0.1 was "
            "fetched and accepted (a development setting; production must not have it)",
            loopback_exception=True,
        )
    return Observation(
        "a client URL on 127.0.0.1 was refused: no loopback exception",
        loopback_exception=False,
    )
