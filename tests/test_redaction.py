"""The secret registry, redaction by name and by value, and redaction at the report sinks."""

from __future__ import annotations

import io
import json
import random
import re
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from _pytest._io.terminalwriter import TerminalWriter

from conformance import redaction
from conformance.harness.client_assertions import ClientKey, hmac_signed, unsigned
from conformance.harness.outcome import Outcome, OutcomeKind, classify_redirect
from conformance.harness.pages import parse
from conformance.harness.session import Pkce
from conformance.redaction import (
    REDACTED,
    SECRET_NAMES,
    SECRETS,
    Secrets,
    redact_headers,
    redact_text,
    redact_url,
    redact_value,
    text_redactor,
)
from conformance.report import console, markdown
from conformance.report.model import CheckResult, Report
from conformance.report.scrub import redact_console
from conformance.report.writers import write
from mock_servers.hosting import Fetch
from mock_servers.reference_as import IssuerConfig, create_app
from mock_servers.reference_as.echo import EchoSecrets


def _fresh() -> str:
    """A new value, registered in the run-wide registry."""
    value = secrets.token_urlsafe(16)
    SECRETS.add(value)
    return value


def test_registered_values_are_replaced_in_every_common_encoding() -> None:
    registry = Secrets()
    value = "pa ss&\"<word>'/é"
    registry.add(value)
    texts = [
        f"raw {value} end",
        f"url {quote(value, safe='')} and {quote(value)} end",
        "json " + json.dumps({"d": value}),
        "json ascii " + json.dumps({"d": value}, ensure_ascii=True),
        "html pa ss&amp;&quot;&lt;word&gt;&#x27;/é end",
        "markupsafe pa ss&amp;&#34;&lt;word&gt;&#39;/é end",
        f"repr {value!r} end",
        "form pa+ss%26%22%3Cword%3E%27%2F%C3%A9 end",
    ]
    for text in texts:
        redacted = registry.redact(text)
        assert REDACTED in redacted, text
        assert "word" not in redacted, (text, redacted)


def test_short_values_are_ignored_and_longest_values_win() -> None:
    registry = Secrets()
    registry.add("abc12", "", None, 12345)
    assert len(registry) == 0
    assert registry.redact("abc12 stays") == "abc12 stays"
    registry.add("abcdef", "abcdefghij")
    assert registry.redact("x abcdefghij y abcdef") == f"x {REDACTED} y {REDACTED}"


def test_a_shorter_value_registered_later_is_still_found() -> None:
    # runs of plain characters shorter than the shortest value are passed over: registering
    # a shorter one must widen the search, and clearing must reset it
    registry = Secrets()
    long_value, short_value = "L0ngValue_" * 4, "s3cret"
    registry.add(long_value)
    assert registry.redact(f"a {short_value} b {long_value}.") == f"a {short_value} b {REDACTED}."
    registry.add(short_value)
    text = f"a {short_value} b x{short_value}y {long_value}."
    assert registry.redact(text) == f"a {REDACTED} b x{REDACTED}y {REDACTED}."
    registry.clear()
    registry.add("abcdefgh")
    assert registry.redact("abcdefg abcdefgh") == f"abcdefg {REDACTED}"
    registry.add("abcdef")
    assert registry.redact("abcdef") == REDACTED


def test_params_register_only_secret_names() -> None:
    registry = Secrets()
    registry.add_params({"code": "the-code-1", "state": "the-state-1", "ACCESS_TOKEN": "tok-123"})
    assert "the-code-1" in registry and "tok-123" in registry
    assert "the-state-1" not in registry
    registry.clear()
    assert len(registry) == 0


def test_fragments_lose_secret_parameters() -> None:
    url = redact_url("https://h.test/cb?state=s1#code=c0de-1&access_token=acc-1&state=s2")
    assert "c0de-1" not in url and "acc-1" not in url
    assert "state=s1" in url and "state=s2" in url and f"code={REDACTED}" in url
    assert redact_url("https://h.test/page#section-2") == "https://h.test/page#section-2"


def test_registered_values_leave_urls_under_any_name() -> None:
    code = _fresh()
    url = redact_url(f"https://h.test/cb?echo={code}&error_description=issued+{code}#x={code}")
    assert code not in url
    assert "echo=" in url and "error_description=" in url


def test_secret_parameters_in_free_text_are_replaced_but_lookalikes_stay() -> None:
    text = redact_text(
        "went to https://h.test/cb?code=zz-1&state=s with response_type=code&"
        'code_challenge=ch-1 and {"access_token": "at-1", "token_type": "Bearer"} '
        "password=hunter2"
    )
    for secret in ("zz-1", "at-1", "hunter2"):
        assert secret not in text
    assert "response_type=code" in text and "code_challenge=ch-1" in text
    assert '"token_type": "Bearer"' in text


def test_secret_parameters_in_free_text_match_a_lookbehind_pattern_on_random_text() -> None:
    # what the redaction scans for, written as one regular expression with a lookbehind:
    # the name must not go on a longer word; the faster scan must replace exactly the same
    names = "|".join(sorted(SECRET_NAMES, key=len, reverse=True))
    reference = re.compile(
        rf"(?<![A-Za-z0-9_.-])({names})=(?!\[redacted\])[^&#\s\"'<>=\\][^&#\s\"'<>\\]*"
    )
    pieces = ["code", "password", "id_token", "csrf", "=", "x", "_", "-", ".", "&", "/", " ",
              "1", '"', "'", "\\", "#", "[redacted]", "\n", "é", "code_verifier",
              "access_token", "_token", "CODE", "request_id", "=="]  # fmt: skip
    rng = random.Random(11)
    for _ in range(20_000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 14)))
        expected = reference.sub(lambda m: f"{m.group(1)}={REDACTED}", text)
        assert redaction._redact_params_in_text(text) == expected, text


def _replaced_at_every_position(values: list[str], text: str) -> str:
    """Plain values replaced by looking at every position of ``text``: longest first."""
    ordered = sorted(values, key=len, reverse=True)
    parts, last, i = [], 0, 0
    while i < len(text):
        found = next((v for v in ordered if text.startswith(v, i)), None)
        if found is None:
            i += 1
            continue
        parts += [text[last:i], REDACTED]
        i = last = i + len(found)
    return "".join([*parts, text[last:]])


def test_plain_values_are_found_wherever_they_sit_in_a_run_on_random_text() -> None:
    # a run of plain characters is looked into only where a sampled piece of it belongs to a
    # value: whatever the values' lengths and the order they came in, nothing may be missed
    rng = random.Random(5)
    alphabet = "ab1-"
    for _ in range(3_000):
        registry = Secrets()
        values: list[str] = []
        for _ in range(rng.randint(1, 4)):
            value = "".join(rng.choice(alphabet) for _ in range(rng.randint(6, 16)))
            registry.add(value)
            values.append(value)
            pieces = [*values, "ab", "1", "-", " ", ".", "&", "b1a-"]
            text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 12)))
            expected = _replaced_at_every_position(values, text)
            assert registry.redact(text) == expected, (values, text)


def test_runs_are_found_in_a_texts_bytes_as_a_pattern_finds_them() -> None:
    # a text's runs of plain characters are found in its UTF-8 bytes: the same runs,
    # replaced the same way, as a regular expression finds, whatever non-ASCII characters
    # (and lone surrogates) sit around them
    rng = random.Random(8)
    registry = Secrets()
    values = ["ab1-ab1-ab1-ab1-ab1-ab", "b1a-b1a-b1a-b1a-b1a-b1a-b1a", "-1ab" * 6]
    registry.add(*values)
    shortest = min(map(len, values))
    runs = re.compile(rf"[A-Za-z0-9._~-]{{{shortest},}}")
    pieces = [*values, "ab1", "-", "é", "\udcff", "\U0001d518", " ", "&", "a" * 25, "\n"]
    for _ in range(3_000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 14)))
        by_pattern = runs.sub(lambda m: registry._redact_run(m.group(0), shortest), text)
        assert registry.redact(text) == by_pattern, text
        assert _replaced_at_every_position(values, text) == by_pattern, text


def test_texts_too_short_to_hold_a_secret_are_returned_as_they_are() -> None:
    # below six characters no registered value, name=value or "name": "value" fits: the
    # short texts redact_text passes over are those every layer would leave alone
    registry_value = "abcdef"
    SECRETS.add(registry_value)
    try:
        pieces = ["a", "b", "c", "d", "e", "f", "=", "code", '"', ":", "[redacted]"[:3]]
        rng = random.Random(3)
        for _ in range(3_000):
            text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 4)))[:5]
            whole = redaction._MEMBER_IN_TEXT.sub(
                lambda m: f"{m.group(1)}{REDACTED}{m.group(2)}",
                redaction._redact_params_in_text(SECRETS.redact(text)),
            )
            assert redact_text(text) == whole == text, text
        assert redact_text("abcdef") == REDACTED and redact_text("code=1") == f"code={REDACTED}"
    finally:
        SECRETS.clear()


def test_a_text_redactor_answers_as_redact_text_and_redacts_each_text_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    secret = _fresh()
    texts = [f"x {secret} y", "GET", f"code=zz-{secret[:3]}", f"x {secret} y", "GET", ""]
    asked: list[str] = []

    def counted(text: str) -> str:
        asked.append(text)
        return redact_text(text)

    redact = text_redactor()
    with monkeypatch.context() as patched:
        patched.setattr(redaction, "redact_text", counted)
        answers = [redact(t) for t in texts]
    assert answers == [redact_text(t) for t in texts]
    assert sorted(asked) == sorted(set(texts))
    assert redact_value({"a": texts, "b": (texts[0],)}, redact) == redact_value(
        {"a": texts, "b": (texts[0],)}
    )


def test_headers_lose_credentials_and_secret_url_parameters() -> None:
    code = _fresh()
    headers = redact_headers(
        [
            ("Cookie", "sid=1"),
            ("Referer", f"https://h.test/cb?code={code}&state=s"),
            ("X-Echo", f"you sent {code}"),
            ("accept", "x"),
        ]
    )
    assert headers[0] == ("Cookie", REDACTED)
    assert code not in json.dumps(headers)
    assert headers[3] == ("accept", "x")


def test_fetch_log_summary_redacts_callback_urls_and_referer() -> None:
    fetch = Fetch(
        listener="tls",
        method="GET",
        target="/cb?code=c0de-value&state=s",
        host="h.test",
        headers=[
            ("referer", "https://h.test/cb?code=c0de-value&state=s#access_token=t0ken-value"),
            ("cookie", "sid=1"),
        ],
        client="127.0.0.1:1",
        at=0.0,
    )
    summary = json.dumps(fetch.summary())
    assert "c0de-value" not in summary and "t0ken-value" not in summary and "sid=1" not in summary
    assert "state=s" in summary
    assert fetch.target == "/cb?code=c0de-value&state=s"  # the raw log is what checks read


def test_evidence_values_are_redacted_by_member_name_and_value() -> None:
    token = _fresh()
    evidence = redact_value(
        {"params": {"code": "short", "state": "s"}, "text": [f"got {token}"], "n": 3}
    )
    expected = {"params": {"code": REDACTED, "state": "s"}, "text": [f"got {REDACTED}"], "n": 3}
    assert evidence == expected


def test_page_text_is_redacted_before_it_is_cut() -> None:
    token = _fresh()
    page = parse(f"<p>{'x' * 290} {token}</p>")
    outcome = Outcome(OutcomeKind.ERROR_PAGE, 400, "https://h.test/authorize", page=page)
    assert token[:6] not in json.dumps(outcome.evidence())
    assert token[:6] not in outcome.describe()


def test_an_answer_that_is_not_a_page_is_kept_redacted_as_its_text() -> None:
    """A JSON error answer (no page) is the outcome's text: checks read its error code and
    what it reflects, and the report shows it redacted, cut after redaction."""
    token = _fresh()
    body = json.dumps({"error": "invalid_client", "error_description": "x" * 290 + token})
    outcome = Outcome(OutcomeKind.ERROR_PAGE, 400, "https://h.test/authorize", body=body)
    assert outcome.text == body and "invalid_client" in outcome.describe()
    assert token[:6] not in json.dumps(outcome.evidence()) + outcome.describe()
    assert outcome.evidence()["page_text"] is None and "invalid_client" in str(
        outcome.evidence()["body"]
    )


def test_codes_in_fragments_are_redacted_in_outcomes() -> None:
    uri = "https://c.test/cb"
    outcome = classify_redirect(uri + "#code=frag-code-1&state=s", uri, 302, "")
    assert outcome.kind is OutcomeKind.CODE
    assert "frag-code-1" not in json.dumps(outcome.evidence()) + outcome.describe()


def test_the_run_registers_what_it_creates() -> None:
    pkce = Pkce.new()
    key = ClientKey.new()
    assertion = key.assertion("https://c.test/client.json", "https://as.test/token")
    forged = [unsigned({"iss": "x"}), hmac_signed({"iss": "x"}, b"k", "kid")]
    for value in (pkce.verifier, assertion, *forged):
        assert value in SECRETS


def _report(*texts: str) -> Report:
    result = CheckResult(
        requirement="CIMD-URL-01",
        check="test_x",
        title="t",
        tier="R",
        verdict="fail",
        expected=texts[0],
        observed=texts[1],
        evidence={"attempts": [{"page_text": texts[2]}], "params": {"code": texts[3]}},
    )
    report = Report("https://as.test", "latest", False, "0", started="", results=[result])
    report.preflight["error"] = texts[4]
    return report


def test_every_writer_and_the_console_redact_registered_values(tmp_path: Path) -> None:
    values = [_fresh() for _ in range(5)]
    report = _report(*(f"<{v}> & {v!r}" for v in values))
    write(report, tmp_path)
    outputs = {p.name: p.read_text("utf-8") for p in tmp_path.iterdir() if p.is_file()}
    outputs["console"] = console.render(report)
    assert set(outputs) == {
        "report.json",
        "junit.xml",
        "report.html",
        "report.md",
        "badge.svg",
        "console",
    }
    for name, text in outputs.items():
        for value in values:
            assert value not in text, name
    # every text the target sent shows as redacted (the badge carries none; Markdown escapes
    # the brackets)
    for name, text in outputs.items():
        if name == "report.md":
            assert markdown.escape(REDACTED) in text
        elif name != "badge.svg":
            assert REDACTED in text, name


def test_the_console_writer_redacts_what_pytest_prints() -> None:
    value = _fresh()
    out = io.StringIO()
    writer = TerminalWriter(out)

    class Config:
        def get_terminal_writer(self) -> Any:
            return writer

    redact_console(Config())
    redact_console(Config())  # idempotent
    writer.line(f"E   HarnessError: the page said {value}")
    writer.write(f"short summary {value}\n")
    assert value not in out.getvalue()
    assert out.getvalue().count(REDACTED) == 2


async def test_echo_switch_repeats_the_refused_password_and_logs_it(tmp_path: Path) -> None:
    log = tmp_path / "echoed.jsonl"
    app = EchoSecrets(create_app([IssuerConfig(issuer="https://as.test")]), log)
    transport = httpx.ASGITransport(app=app)
    cookies = {"sid": "cookie-value-1"}
    async with httpx.AsyncClient(
        transport=transport, base_url="https://as.test", cookies=cookies
    ) as http:
        response = await http.post(
            "/login",
            data={"username": "alice", "password": "not-it-123", "next": ""},
        )
    assert response.status_code == 401  # the decision is the app's
    assert "not-it-123" in response.text and "cookie-value-1" in response.text
    logged = [json.loads(line) for line in log.read_text("utf-8").splitlines()]
    assert {"kind": "password", "value": "not-it-123"} in logged
    assert int(response.headers["content-length"]) == len(response.content)


def test_secrets_a_page_shows_are_hidden_before_its_screenshot(state_dir: Path) -> None:
    from conformance.browser.driver import Browser, hide_secrets
    from mock_servers.pki import TestCA

    value = _fresh()
    browser = Browser(TestCA.load_or_create(state_dir).cert_path).start()
    try:
        page = browser.new_context().new_page()
        page.set_content(f"<p>You sent: <b>{value}</b>, {value}</p><button>Approve</button>")
        hide_secrets(page)
        text = page.inner_text("body")
    finally:
        browser.stop()
    assert value not in text
    assert text.count(REDACTED) == 2 and "Approve" in text
