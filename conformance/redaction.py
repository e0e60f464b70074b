"""Redaction of secrets in everything the suite records: codes, tokens, cookies, passwords.

Two layers work together:

- **By name.** Query and fragment parameters, form fields and JSON members named like a
  secret (``code``, ``access_token``, ``password``...) and credential headers lose their value.
- **By value.** Every secret the run creates or receives (authorization codes, tokens, client
  assertions, cookie values, the password, PKCE verifiers) is registered in :data:`SECRETS`;
  wherever it appears later (page text, ``error_description``, exception messages, any report
  format, the console) it is replaced, raw and in its common encodings (URL-encoded,
  JSON-escaped, HTML/XML-escaped, Python ``repr``). Values shorter than
  :data:`MIN_SECRET_LENGTH` are ignored, so a short password cannot shred a report.

The report writers and the console apply both layers to the text they produce, so a value
that slipped past the places that record evidence still never reaches a file.
"""

from __future__ import annotations

import html
import json
import re
import string
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl, quote, quote_plus, urlencode, urlsplit, urlunsplit

from cimd_rules.secret_params import SECRET_PARAMS

# the names the metadata host's fetch log already redacts, plus the forms' one-time values
SECRET_NAMES = frozenset(SECRET_PARAMS) | {"csrf", "request_id"}
# Parameters whose values the run registers as secrets when it receives them.
RECEIVED_SECRETS = frozenset({"code", "access_token", "refresh_token", "id_token"})
REDACTED = "[redacted]"
MIN_SECRET_LENGTH = 6
_HEADER_SECRETS = frozenset({"authorization", "cookie", "set-cookie", "proxy-authorization"})
_URL_HEADERS = frozenset({"referer", "location", "content-location"})
_NAMES = "|".join(sorted(SECRET_NAMES, key=len, reverse=True))
# name=value in free text (a URL inside a message): a secret name just before an "=", not
# the end of a longer word (``xcode=``), and the value up to a delimiter. Found from each "="
# (a plain search for one character): a regular expression that tried each position for a
# name took about four times as long on a report's text.
_PARAM_VALUE = re.compile(r"(?!\[redacted\])[^&#\s\"'<>=\\][^&#\s\"'<>\\]*")
_NAME_LENGTHS = sorted({len(name) for name in SECRET_NAMES}, reverse=True)
_NAME_ENDS = frozenset(name[-3:] for name in SECRET_NAMES)
_NAME_CHARS = frozenset(string.ascii_letters + string.digits + "_.-")
# "name": "value" in free text (a JSON body inside a message).
_MEMBER_IN_TEXT = re.compile(rf'("(?:{_NAMES})"\s*:\s*")(?!\[redacted\])(?:[^"\\]|\\.)+(")')
# no text shorter than this holds a registered value (MIN_SECRET_LENGTH), name=v or "name":"v"
_SHORTEST_FOUND = min(MIN_SECRET_LENGTH, min(map(len, SECRET_NAMES)) + 2)


# Characters that no encoding changes: most secrets (codes, tokens, verifiers, JWTs) are
# made of these alone, and are found by scanning runs of them rather than by a regex.
_PLAIN_CHARS = string.ascii_letters + string.digits + "._~-"
_PLAIN_RUN = re.compile(rf"[{re.escape(_PLAIN_CHARS)}]{{{MIN_SECRET_LENGTH},}}")
# each byte of a text's UTF-8: "a" for a plain character, a space for any other
_PLAIN_MASK = bytes(0x61 if chr(b) in _PLAIN_CHARS else 0x20 for b in range(256))


class Secrets:
    """The values one run must never write down; thread-safe.

    ``add`` registers values; ``redact`` replaces every registered value, in its common
    encodings, in a text. Registering is cheap and redacting is linear in the text, however
    many values a long run collects: values made only of characters no encoding changes are
    indexed by their first characters and found in runs of such characters (runs shorter
    than the shortest such value, most words, are passed over, and a longer run is looked
    into only when a sampled piece of it is a piece of a value); the few others (a password,
    an odd cookie) go into one regular expression.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: set[str] = set()
        self._plain: set[str] = set()
        self._by_prefix: dict[str, list[str]] = {}  # first characters -> values, longest first
        # every plain value's pieces (MIN_SECRET_LENGTH characters) at the offsets where a
        # sampled piece of a run can meet it (see _redact_run)
        self._pieces: set[str] = set()
        # a text's runs of plain characters that may hold a plain value are as long as the
        # shortest one (shorter runs, most words, are never looked at)
        self._shortest = 0
        self._other: set[str] = set()
        self._pattern: re.Pattern[str] | None = None

    def add(self, *values: object) -> None:
        """Register ``values``; None, non-strings and values too short to matter are ignored."""
        fresh = {
            v
            for v in values
            if isinstance(v, str) and len(v.strip()) >= MIN_SECRET_LENGTH and v != REDACTED
        }
        with self._lock:
            for value in fresh - self._values:
                self._values.add(value)
                for form in encodings(value):
                    if _PLAIN_RUN.fullmatch(form):
                        self._add_plain(form)
                    elif form not in self._other:
                        self._other.add(form)
                        self._pattern = None

    def _add_plain(self, form: str) -> None:
        if form in self._plain:
            return
        self._plain.add(form)
        if not self._shortest or len(form) < self._shortest:
            self._shortest = len(form)
        bucket = self._by_prefix.setdefault(form[:MIN_SECRET_LENGTH], [])
        bucket.append(form)
        bucket.sort(key=len, reverse=True)
        # the shortest only shrinks (until clear): the offsets needed now cover any later
        for offset in range(_stride(self._shortest)):
            self._pieces.add(form[offset : offset + MIN_SECRET_LENGTH])

    def add_params(self, params: Mapping[str, object], names: Iterable[str] = SECRET_NAMES) -> None:
        """Register the values of the secret-named members of ``params`` (a query, a body)."""
        wanted = frozenset(names)
        self.add(*(v for k, v in params.items() if k.lower() in wanted))

    def clear(self) -> None:
        """Forget every value (between runs in one process)."""
        with self._lock:
            self._values.clear()
            self._plain.clear()
            self._by_prefix.clear()
            self._pieces.clear()
            self._other.clear()
            self._pattern = None
            self._shortest = 0

    def __contains__(self, value: object) -> bool:
        with self._lock:
            return value in self._values

    def __len__(self) -> int:
        with self._lock:
            return len(self._values)

    def found_in(self, text: str) -> list[str]:
        """The registered values that appear, as they are, in ``text``."""
        with self._lock:
            return [value for value in self._values if value in text]

    def redact(self, text: str) -> str:
        """``text`` with every registered value, in each of its encodings, replaced."""
        with self._lock:
            if self._pattern is None and self._other:
                ordered = sorted(self._other, key=len, reverse=True)  # longest first
                self._pattern = re.compile("|".join(re.escape(f) for f in ordered))
            pattern, shortest = self._pattern, self._shortest if self._plain else 0
        if pattern is not None:
            text = pattern.sub(REDACTED, text)
        if not shortest or len(text) < shortest:
            return text
        return self._redact_runs(text, shortest)

    def _redact_runs(self, text: str, shortest: int) -> str:
        """``text`` with the plain values in its runs of plain characters replaced.

        A regular expression for such runs would be tried at each position of the text (most
        of a redaction's time); here the text's plain characters become ``a`` and all others
        a space (one translation of its UTF-8 bytes), and each run at least ``shortest``
        long is found by searching for that many ``a``: the leftmost such window starts a
        run. Every byte of a non-ASCII character is above 127, so no run splits one.
        """
        data = text.encode("utf-8", "surrogatepass")
        mask = data.translate(_PLAIN_MASK)
        window = b"a" * shortest
        parts: list[bytes] = []
        last = 0
        start = mask.find(window)
        while start >= 0:
            end = mask.find(b" ", start + shortest)
            end = len(mask) if end < 0 else end
            run = data[start:end].decode("ascii")
            redacted = self._redact_run(run, shortest)
            if redacted != run:
                parts += [data[last:start], redacted.encode("ascii")]
                last = end
            start = mask.find(window, end)
        if not parts:
            return text
        return b"".join([*parts, data[last:]]).decode("utf-8", "surrogatepass")

    def _redact_run(self, run: str, shortest: int) -> str:
        """``run`` (plain characters, at least ``shortest`` long) with each plain value replaced.

        A value in the run is at least ``shortest`` long, so it covers at least
        :func:`_stride` consecutive starts of a piece; sampling the run's pieces at that
        stride meets one of them, at an offset of at most the stride less one into the value:
        the offsets :meth:`_add_plain` keeps. A run none of whose sampled pieces is kept
        holds no value (most runs); the others are scanned at every position.
        """
        if run in self._plain:
            return REDACTED
        size, pieces = MIN_SECRET_LENGTH, self._pieces
        for j in range(0, len(run) - size + 1, _stride(shortest)):
            if run[j : j + size] in pieces:
                break
        else:
            return run
        parts, last, i = [], 0, 0
        end = len(run) - shortest
        while i <= end:
            for form in self._by_prefix.get(run[i : i + MIN_SECRET_LENGTH], ()):
                if run.startswith(form, i):
                    parts += [run[last:i], REDACTED]
                    i = last = i + len(form)
                    break
            else:
                i += 1
        return "".join([*parts, run[last:]]) if parts else run


_SAMPLED = 20
"""How much of a plain value the sampling of runs relies on: at most this many characters
give a value's pieces (15 per value), however long the shortest registered value is."""


def _stride(shortest: int) -> int:
    """The stride at which a run's pieces are sampled while ``shortest`` is the shortest value.

    It shrinks with the shortest value and never grows (until the registry is cleared), so
    the pieces a value was given when it came are as many as any later stride needs.
    """
    return min(shortest, _SAMPLED) - MIN_SECRET_LENGTH + 1


def encodings(value: str) -> set[str]:
    """``value`` as it may appear in URLs, JSON, HTML, XML and Python reprs."""
    forms = {value, quote(value, safe=""), quote(value), quote_plus(value)}
    forms.add(json.dumps(value)[1:-1])
    forms.add(json.dumps(value, ensure_ascii=False)[1:-1])
    forms.add(repr(value)[1:-1])
    for form in list(forms):
        forms.add(html.escape(form, quote=False))
        for quotes in (("&quot;", "&#x27;"), ("&#34;", "&#39;"), ("&quot;", "&apos;")):
            escaped = html.escape(form, quote=False)
            forms.add(escaped.replace('"', quotes[0]).replace("'", quotes[1]))
    return {f for f in forms if len(f) >= MIN_SECRET_LENGTH}


SECRETS = Secrets()
"""The run-wide registry: the harness, flows, browser and assertion code add to it."""


def redact_text(text: str) -> str:
    """Free text with registered values and ``name=value`` secrets replaced."""
    if len(text) < _SHORTEST_FOUND:
        return text  # too short to hold a registered value or a secret-named pair
    text = SECRETS.redact(text)
    text = _redact_params_in_text(text)
    return _MEMBER_IN_TEXT.sub(lambda m: f"{m.group(1)}{REDACTED}{m.group(2)}", text)


def _redact_params_in_text(text: str) -> str:
    parts: list[str] = []
    last = 0
    equals = text.find("=")
    while equals >= 0:
        # most "=" follow no secret name's last three characters
        pair = (
            _secret_pair(text, equals)
            if equals >= 3 and text[equals - 3 : equals] in _NAME_ENDS
            else None
        )
        if pair is None:
            equals = text.find("=", equals + 1)
            continue
        start, end = pair
        parts += [text[last:start], f"{text[start:equals]}={REDACTED}"]
        last = end
        equals = text.find("=", end)
    return "".join([*parts, text[last:]]) if parts else text


def _secret_pair(text: str, equals: int) -> tuple[int, int] | None:
    """Where the secret-named ``name=value`` whose "=" is at ``equals`` starts and ends."""
    for length in _NAME_LENGTHS:
        start = equals - length
        if start < 0 or text[start:equals] not in SECRET_NAMES:
            continue
        if start and text[start - 1] in _NAME_CHARS:
            continue  # the end of a longer word (xcode=)
        value = _PARAM_VALUE.match(text, equals + 1)
        return None if value is None else (start, value.end())
    return None


def text_redactor() -> Callable[[str], str]:
    """:func:`redact_text` that keeps its answers, for redacting many texts at once (a report).

    A report repeats most of its texts (a host, a method, a header's name), so each distinct
    text is redacted once. Use it while no value is registered: one registered meanwhile is
    missed in the texts redacted before.
    """
    answers: dict[str, str] = {}

    def redact(text: str) -> str:
        answer = answers.get(text)
        if answer is None:
            answer = answers[text] = redact_text(text)
        return answer

    return redact


def redact_value(value: Any, text: Callable[[str], str] = redact_text) -> Any:
    """A copy of a JSON-like value with every string redacted and secret members replaced.

    ``text`` redacts each string (:func:`text_redactor` for many values at once).
    """
    if isinstance(value, str):
        return text(value)
    if isinstance(value, (list, tuple)):
        return type(value)([redact_value(v, text) for v in value])
    if value is None or isinstance(value, (int, float)):
        return value  # told apart before the Mapping ABC's slower check
    if isinstance(value, Mapping):
        return {
            k: (
                REDACTED
                if isinstance(k, str) and k.lower() in SECRET_NAMES and isinstance(v, str)
                else redact_value(v, text)
            )
            for k, v in value.items()
        }
    return value


def redact_params(params: Mapping[str, str]) -> dict[str, str]:
    """A copy of ``params`` with secret values replaced (by name and by value)."""
    return {
        k: (REDACTED if k.lower() in SECRET_NAMES else redact_text(v)) for k, v in params.items()
    }


def _redact_pairs(encoded: str) -> str:
    pairs = parse_qsl(encoded, keep_blank_values=True)
    return urlencode(
        [(k, REDACTED if k.lower() in SECRET_NAMES else SECRETS.redact(v)) for k, v in pairs],
        safe="[]",
    )


def redact_url(url: str) -> str:
    """``url`` with secret query and fragment parameters and userinfo passwords replaced.

    A fragment is treated as parameters when it has any ``=`` (``#code=...&state=...``, as
    an implicit-style or ``response_mode=fragment`` response carries them).
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return redact_text(url)
    query = _redact_pairs(parts.query) if parts.query else ""
    fragment = _redact_pairs(parts.fragment) if "=" in parts.fragment else parts.fragment
    netloc = re.sub(r":[^@/]*@", f":{REDACTED}@", parts.netloc)
    rebuilt = urlunsplit((parts.scheme, netloc, parts.path, query, fragment))
    return SECRETS.redact(rebuilt)


def redact_headers(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Headers with credentials and cookies replaced, and URLs (Referer, Location) redacted."""
    redacted = []
    for k, v in headers:
        name = k.lower()
        if name in _HEADER_SECRETS:
            redacted.append((k, REDACTED))
        elif name in _URL_HEADERS:
            redacted.append((k, redact_url(v)))
        else:
            redacted.append((k, redact_text(v)))
    return redacted
