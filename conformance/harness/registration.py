"""Dynamic client registration (RFC 7591) requests, for checks on what a target mints."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from conformance.harness.session import TargetSession
from conformance.redaction import SECRETS, redact_url
from conformance.target import deadline
from conformance.target.pacing import TRANSIENT_STATUSES, Transient, retry_after_s

# what a registration response may carry that is a credential (RFC 7591 §3.2.1, RFC 7592)
REGISTRATION_SECRETS = ("client_secret", "registration_access_token")


@dataclass(frozen=True)
class Registration:
    """The registration endpoint's answer.

    Attributes:
        status: the HTTP status.
        body: the JSON object it returned, if it returned one.
    """

    status: int
    body: dict[str, Any] | None

    @property
    def client_id(self) -> str | None:
        """The client_id the target minted, when it registered the client."""
        value = (self.body or {}).get("client_id")
        return value if self.status in (200, 201) and isinstance(value, str) else None

    def describe(self) -> str:
        """One line for reports (secrets never appear)."""
        error = (self.body or {}).get("error")
        return f"HTTP {self.status}" + (f", error {error!r}" if isinstance(error, str) else "")


def register(session: TargetSession, endpoint: str, metadata: dict[str, Any]) -> Registration:
    """POST ``metadata`` as JSON to ``endpoint`` without cookies, paced like every request."""

    def send() -> Registration:
        with deadline.client(session.tls) as http:
            response = deadline.send(
                http,
                "POST",
                endpoint,
                session.clock.exchange(),
                json=metadata,
                headers={"accept": "application/json"},
            )
        session.exchanges.append(
            {"method": "POST", "url": redact_url(endpoint), "status": response.status_code}
        )
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict):
            SECRETS.add_params(body, REGISTRATION_SECRETS)
        if response.status_code in TRANSIENT_STATUSES:
            wait = retry_after_s(response.headers.get("retry-after"))
            raise Transient(f"HTTP {response.status_code}", wait)
        return Registration(response.status_code, body if isinstance(body, dict) else None)

    return session.pacer.call("a client registration", send)
