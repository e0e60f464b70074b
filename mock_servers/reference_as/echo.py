"""A careless target for the suite's own redaction test: echo every secret it is sent.

``--echo-secrets`` (hidden; not a fault, it breaks no requirement) wraps the reference AS in
:class:`EchoSecrets`, an ASGI middleware that leaves every decision to the app and only adds
to its answers what a sloppy server might leak:

- every HTML page (login, consent, error) gains, at the top, a list of the submitted password
  and form secrets, the request's cookies and ``Authorization`` header, and the secrets sent
  and the codes and tokens issued recently;
- every redirect's ``Location`` gains an ``echo`` parameter with the same values; a redirect
  carrying a code also repeats it in ``error_description`` and in a ``#code=`` fragment;
- every JSON error (the token endpoint's) repeats them in ``error_description`` and an
  ``echo`` member, including the submitted code, verifier and client assertion.

Successful token responses are left as they are (the suite must still be able to redeem).
The suite must redact every one of these values wherever they land in its reports; every
value echoed is appended to a log file (one JSON object a line: ``kind`` and ``value``), so a
test knows what to look for.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ..runner import Receive, Scope, Send

# Form fields and token members whose values are echoed.
FORM_SECRETS = (
    "password",
    "code",
    "code_verifier",
    "client_assertion",
    "client_secret",
    "refresh_token",
)
ISSUED = ("access_token", "refresh_token", "id_token")
RECENT = 24


class EchoSecrets:
    """ASGI middleware echoing what the request carried and what was issued lately.

    Args:
        app: the reference AS app, unchanged in its decisions.
        log: the file every echoed value is appended to.
    """

    def __init__(self, app: Any, log: Path) -> None:
        self.app = app
        self.log = log
        self.recent: dict[str, str] = {}  # value -> kind, oldest first
        self.logged: set[str] = set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Let the app answer, then add the echoes to its answer."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        body = b""
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> dict[str, Any]:
            nonlocal replayed
            if replayed:
                return dict(await receive())
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        sent = self._sent(scope, body)
        start: dict[str, Any] = {}
        chunks: list[bytes] = []

        async def capture(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    await self._answer(send, start, b"".join(chunks), sent)

        await self.app(scope, replay, capture)

    def _sent(self, scope: Scope, body: bytes) -> dict[str, str]:
        """The secrets this request carried, by where they came from."""
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        sent: dict[str, str] = {}
        for pair in headers.get("cookie", "").split(";"):
            name, _, value = pair.strip().partition("=")
            if value:
                sent[f"cookie {name}"] = value
        if "authorization" in headers:
            sent["authorization"] = headers["authorization"]
        if headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            form = parse_qsl(body.decode("latin-1"), keep_blank_values=True)
            sent.update((name, value) for name, value in form if name in FORM_SECRETS and value)
        return sent

    def _remember(self, kind: str, value: str) -> None:
        self.recent.pop(value, None)
        self.recent[value] = kind
        while len(self.recent) > RECENT:
            del self.recent[next(iter(self.recent))]
        if value not in self.logged:
            self.logged.add(value)
            with self.log.open("a", encoding="utf-8") as out:
                out.write(json.dumps({"kind": kind, "value": value}) + "\n")

    def _values(self, sent: dict[str, str]) -> dict[str, str]:
        for kind, value in sent.items():
            self._remember(kind, value)
        recent = {f"recent {kind} {i}": v for i, (v, kind) in enumerate(self.recent.items())}
        return {**sent, **recent}

    async def _answer(
        self, send: Send, start: dict[str, Any], body: bytes, sent: dict[str, str]
    ) -> None:
        headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
        kind = next((v.decode("latin-1") for k, v in headers if k.lower() == b"content-type"), "")
        status = int(start.get("status", 200))
        values = self._values(sent)
        if "json" in kind:
            body = self._json(body, status, values)
        elif "html" in kind and values:
            body = _html(body, values)
        headers = [
            (k, _location(v.decode("latin-1"), values).encode("latin-1"))
            if k.lower() == b"location"
            else (k, v)
            for k, v in headers
        ]
        location = next((v.decode("latin-1") for k, v in headers if k.lower() == b"location"), "")
        for code in _codes(location):
            self._remember("code", code)
        headers.append((b"content-length", str(len(body)).encode("ascii")))
        await send({**start, "headers": headers})
        await send({"type": "http.response.body", "body": body, "more_body": False})

    def _json(self, body: bytes, status: int, values: dict[str, str]) -> bytes:
        try:
            data = json.loads(body)
        except ValueError:
            return body
        if not isinstance(data, dict):
            return body
        if status < 400:
            for name in ISSUED:
                if data.get(name):
                    self._remember(name, str(data[name]))
            return body
        if values:
            said = ", ".join(f"{k}={v}" for k, v in values.items())
            data["error_description"] = f"{data.get('error_description', '')} (you sent: {said})"
            data["echo"] = values
        return json.dumps(data).encode("utf-8")


def _html(body: bytes, values: dict[str, str]) -> bytes:
    items = "".join(
        f"<li>{html.escape(k)}: {html.escape(v)}</li>" for k, v in values.items()
    ).encode("utf-8")
    echo = b'<section id="echo"><p>You sent:</p><ul>' + items + b"</ul></section>"
    at = body.find(b"<body")
    at = body.find(b">", at) + 1 if at != -1 else 0
    return body[:at] + echo + body[at:]


def _location(location: str, values: dict[str, str]) -> str:
    parts = urlsplit(location)
    extra = [("echo", v) for v in values.values()]
    codes = _codes(location)
    extra += [("error_description", f"issued code {code}") for code in codes]
    if not extra:
        return location
    query = "&".join(q for q in (parts.query, urlencode(extra)) if q)
    fragment = parts.fragment or urlencode([("code", code) for code in codes])
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, fragment))


def _codes(location: str) -> list[str]:
    return [v for k, v in parse_qsl(urlsplit(location).query) if k == "code"]
