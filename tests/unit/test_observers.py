"""The Informational rows' observers (conformance/harness/observers.py): every reading shows
different evidence for different target behaviour, so no observation records a constant.
"""

from __future__ import annotations

import pytest

from conformance.catalog.verdicts import Observation
from conformance.harness import observers as o


def _differ(*seen: Observation) -> None:
    """Each observation says something else, in words and in values."""
    assert len({s.observed for s in seen}) == len(seen)
    assert len({repr(sorted(s.values.items())) for s in seen}) == len(seen)


def test_token_lifetime_flags_more_than_a_day() -> None:
    short, long, none = o.token_lifetime(3600), o.token_lifetime(90_000), o.token_lifetime(None)
    _differ(short, long, none)
    assert long.values["above_24h"] is True and short.values["above_24h"] is False
    assert "no lifetime" in o.token_lifetime(True).observed


def test_issuer_in_response() -> None:
    issuer, code, error = "https://as.test", "code response", "error response"
    both = o.issuer_in_response({code: {"iss": issuer}, error: {"iss": issuer}}, True)
    none = o.issuer_in_response({code: {}, error: {}}, None)
    half = o.issuer_in_response({code: {"iss": issuer}, error: {}}, True)
    _differ(both, none, half)
    assert both.held and not none.held and not half.held
    assert "no iss in the error response" in half.observed


def test_issuer_flag_agrees() -> None:
    issuer, code = "https://as.test", "code response"
    agreed = o.issuer_flag_agrees({code: {"iss": issuer}}, True)
    unadvertised = o.issuer_flag_agrees({code: {"iss": issuer}}, None)
    as_string = o.issuer_flag_agrees({code: {"iss": issuer}}, "true")
    promised = o.issuer_flag_agrees({code: {}}, True)
    neither = o.issuer_flag_agrees({code: {}}, False)
    _differ(agreed, unadvertised, as_string, promised, neither)
    assert agreed.held and neither.held
    assert not (unadvertised.held or as_string.held or promised.held)


def test_issuer_value() -> None:
    issuer, code, error = "https://as.test", "code response", "error response"
    same = o.issuer_value({code: {"iss": issuer}, error: {"iss": issuer}}, issuer)
    slash = o.issuer_value({code: {"iss": issuer + "/"}}, issuer)
    cased = o.issuer_value({code: {"iss": "https://AS.test"}}, issuer)
    absent = o.issuer_value({code: {}}, issuer)
    _differ(same, slash, cased, absent)
    assert same.held and absent.held and not slash.held and not cased.held


def test_registration_endpoint() -> None:
    _differ(o.registration_endpoint({}), o.registration_endpoint({"registration_endpoint": "x"}))


def test_accept_header() -> None:
    _differ(
        o.accept_header(["application/json"]),
        o.accept_header(["application/cimd+json, application/json"]),
        o.accept_header([None]),
        o.accept_header([]),
    )
    assert "(none)" in o.accept_header([None]).observed


def test_query_identifier() -> None:
    kept = o.query_identifier(True, "consent", "v=1", ["/c/1/client.json?v=1"])
    dropped = o.query_identifier(True, "consent", "v=1", ["/c/1/client.json"])
    refused = o.query_identifier(False, "error page (HTTP 400)", "v=1", [])
    _differ(kept, dropped, refused)
    assert kept.values["query_kept"] and not dropped.values["query_kept"]


def test_unusual_identifiers() -> None:
    accepted = o.unusual_identifiers([("long", True, 1, "consent")])
    no_fetch = o.unusual_identifiers([("long", False, 0, "error page (HTTP 400)")])
    fetched = o.unusual_identifiers([("long", False, 1, "error page (HTTP 400)")])
    _differ(accepted, no_fetch, fetched)
    assert "without a fetch" in no_fetch.observed


def test_display_url_consistency() -> None:
    _differ(
        o.display_url_consistency(False, "", ""),
        o.display_url_consistency(True, "data:image/png", ""),
        o.display_url_consistency(True, "", "Warning: the logo is on another host"),
    )


def test_warning_line_needs_the_subject() -> None:
    page = "Probe\nThe name above is not verified.\nWarning: this logo comes from localhost"
    assert o.warning_line(page, ("localhost",)) == "Warning: this logo comes from localhost"
    assert o.warning_line("The name above is not verified.", ("logo",)) == ""


def test_software_statement() -> None:
    _differ(
        o.software_statement(False, False, "error page (HTTP 400)"),
        o.software_statement(True, False, "consent"),
        o.software_statement(True, True, "consent"),
    )


def test_client_only_token() -> None:
    url = "https://client.test/c.json"
    _differ(
        o.client_only_token(False, "unsupported_grant_type", None, url),
        o.client_only_token(True, "", url, url),
        o.client_only_token(True, "", "user-1", url),
    )


def test_redirect_origin_policy() -> None:
    _differ(o.redirect_origin_policy(True, "consent"), o.redirect_origin_policy(False, "error"))


def test_error_codes_mark_what_counts_against_the_as() -> None:
    clean = o.error_codes({"error page": "invalid_client", "token endpoint": "invalid_client"})
    leaky = o.error_codes({"error page": "invalid_client", "token endpoint": "tokens issued"})
    crash = o.error_codes({"error page": "HTTP 500, no error code named"})
    _differ(clean, leaky, crash)
    assert leaky.values["against"] == ["token endpoint"] and clean.values["against"] == []
    assert o.error_code_in("Error: invalid_client (the document could not be read)") == (
        "invalid_client"
    )
    assert o.error_code_in("Something went wrong") == ""


def test_revalidation() -> None:
    _differ(
        o.revalidation(False, None, True),
        o.revalidation(True, 304, True),
        o.revalidation(True, 304, False),
    )


def test_expires_honoured() -> None:
    _differ(
        o.expires_honoured(1, None, 3),
        o.expires_honoured(0, 1, 3),
        o.expires_honoured(0, 0, 3),
        o.expires_honoured(0, 1, 3, dropped=True),
    )
    dropped = o.expires_honoured(0, 1, 3, dropped=True)
    assert "copies before their time" in dropped.observed


def test_failing_document_refresh() -> None:
    _differ(
        o.failing_document_refresh(True, "HTTP 200, tokens issued", 0),
        o.failing_document_refresh(False, "HTTP 401, error 'invalid_client'", 1),
    )


def test_fetch_count() -> None:
    _differ(o.fetch_count(1, 5, "max-age=3600"), o.fetch_count(5, 5, "max-age=3600"))


def test_refresh_after_rotation() -> None:
    _differ(
        o.refresh_after_rotation(True, "HTTP 200, tokens issued"),
        o.refresh_after_rotation(False, "HTTP 400, error 'invalid_grant'"),
    )


def test_consent_after_change() -> None:
    _differ(
        o.consent_after_change("consent shown (HTTP 200)", "consent shown (HTTP 200)"),
        o.consent_after_change("code", "consent shown (HTTP 200)"),
        o.consent_after_change("code", "code"),
    )


def test_name_display_and_unverified_line() -> None:
    page = "Sign in to Probe 1a2b\nThe name above is chosen by the application itself."
    assert o.unverified_line(page) == "The name above is chosen by the application itself."
    assert o.unverified_line("Probe 1a2b wants access") == ""
    _differ(
        o.name_display(True, o.unverified_line(page)),
        o.name_display(True, ""),
        o.name_display(False, ""),
    )


def test_link_display() -> None:
    urls = {"client_uri": "https://m.test/p/1/client", "tos_uri": "https://m.test/p/2/tos"}
    as_origin = "https://as.test"
    seen = o.link_display(
        urls,
        ["https://m.test/p/1/client", "https://as.test/out?to=https%3A%2F%2Fm.test%2Fp%2F2%2Ftos"],
        "",
        as_origin,
    )
    assert seen.values["shown"] == {"client_uri": "direct link", "tos_uri": "link through the AS"}
    text_only = o.link_display(urls, [], "Terms: https://m.test/p/2/tos", as_origin)
    assert text_only.values["shown"] == {"client_uri": "not shown", "tos_uri": "text only"}


def test_fetch_timing() -> None:
    _differ(o.fetch_timing(1, "login page"), o.fetch_timing(0, "login page"))


def test_burst_records_throttling() -> None:
    open_ = o.burst(20, 20, {302: 20}, 0.5)
    limited = o.burst(20, 4, {302: 4, 429: 16}, 0.5)
    _differ(open_, limited)
    assert limited.values["throttled"] == 16 and "limited" in limited.observed


@pytest.mark.parametrize("flag", [None, False, "true"])
def test_non_supporting(flag: object) -> None:
    clean = o.non_supporting(flag, "error page (HTTP 400)", 400)
    crash = o.non_supporting(flag, "error page (HTTP 500)", 500)
    _differ(o.non_supporting(True, None, None), clean, crash)
    assert crash.values["server_error"] is True


def test_loopback_exception() -> None:
    _differ(
        o.loopback_exception("loopback", True),
        o.loopback_exception("loopback", False),
        o.loopback_exception("lab", True),
    )
