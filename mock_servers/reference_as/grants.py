"""One issuer's server-side state: sessions, pending consents, codes and refresh tokens.

Everything lives in memory and is touched only from the server's event loop, so no locks.
Secrets are ``secrets.token_urlsafe`` values and are never logged.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Protocol, TypeVar

from .documents import ClientDocument

SESSION_LIFETIME_S = 8 * 3600
# the short-sessions variant: a sign-in ends at this authorization request (that one finds none)
SHORT_SESSION_REQUESTS = 40
PENDING_LIFETIME_S = 600
CODE_LIFETIME_S = 60
PUSHED_LIFETIME_S = 60  # RFC 9126 §2.2: a request_uri is short-lived
REQUEST_URI_PREFIX = "urn:ietf:params:oauth:request_uri:"
ACCESS_TOKEN_LIFETIME_S = 3600
REFRESH_LIFETIME_S = 30 * 24 * 3600


class _Expiring(Protocol):
    @property
    def expires_at(self) -> float: ...


E = TypeVar("E", bound=_Expiring)


@dataclass(frozen=True)
class Session:
    """A logged-in user; ``csrf`` guards the forms the session submits."""

    user: str
    csrf: str
    expires_at: float


@dataclass(frozen=True)
class AuthorizationRequest:
    """A verified authorization request, as later bound to a code."""

    client_id: str
    redirect_uri: str
    redirect_uri_sent: bool  # RFC 6749 §4.1.3: then the token request must repeat it
    state: str | None
    code_challenge: str | None  # None only with the pkce-optional fault
    scope: str | None
    resources: tuple[str, ...]
    client: ClientDocument | None = None  # how the client authenticates at the token endpoint


@dataclass(frozen=True)
class Grant:
    """What a code or refresh token stands for: a user's approval of a request."""

    request: AuthorizationRequest
    user: str
    expires_at: float


@dataclass(frozen=True)
class Tokens:
    """A freshly issued token pair."""

    access_token: str
    refresh_token: str


class Sessions:
    """Signed-in and anonymous sessions by id: one issuer's own, or a server's shared store."""

    def __init__(self) -> None:
        self._sessions: dict[str, Session] = {}
        self._uses: dict[str, int] = {}  # authorization requests per session id

    def start(self, user: str) -> tuple[str, Session]:
        """A new session (a fresh id at every login, against session fixation)."""
        session_id = secrets.token_urlsafe(32)
        session = Session(user, secrets.token_urlsafe(32), _deadline(SESSION_LIFETIME_S))
        _purge(self._sessions)
        self._uses = {key: uses for key, uses in self._uses.items() if key in self._sessions}
        self._sessions[session_id] = session
        return session_id, session

    def renew(self, session_id: str) -> str:
        """Move the session and its count of requests to a fresh id (``renewed-sessions``)."""
        renewed = secrets.token_urlsafe(32)
        self._sessions[renewed] = self._sessions.pop(session_id)
        if session_id in self._uses:
            self._uses[renewed] = self._uses.pop(session_id)
        return renewed

    def used(self, session_id: str) -> int:
        """Count one more authorization request in the session; returns how many so far."""
        self._uses[session_id] = self._uses.get(session_id, 0) + 1
        return self._uses[session_id]

    def end(self, session_id: str) -> None:
        """End the session (``short-sessions``): its id finds nothing from now on."""
        self._sessions.pop(session_id, None)
        self._uses.pop(session_id, None)

    def get(self, session_id: str | None) -> Session | None:
        """The live session with this id, if any."""
        session = self._sessions.get(session_id or "")
        return session if session and session.expires_at > time.monotonic() else None


class IssuerState:
    """The mutable state of one issuer.

    Args:
        sessions: where its sign-ins live: shared by a server's issuers under single
            sign-on, else (``None``) its own.
    """

    def __init__(self, sessions: Sessions | None = None) -> None:
        self.sessions = sessions if sessions is not None else Sessions()
        self._pending: dict[str, tuple[str, AuthorizationRequest, float]] = {}
        self._codes: dict[str, Grant] = {}
        self._redeemed: dict[str, str] = {}  # code -> the refresh token it produced
        self._refresh: dict[str, Grant] = {}
        self._approved: dict[str, tuple[str, AuthorizationRequest, float]] = {}
        self._once: dict[str, tuple[str, float]] = {}  # login states, used assertion ids
        self._pushed: dict[str, tuple[AuthorizationRequest, float]] = {}
        self._scopes_granted: set[tuple[str, str]] = set()  # consent-remembered-per-scope

    def remember_scope(self, user: str, scope: str | None) -> None:
        """Record that ``user`` approved ``scope`` (kept only by the consent-per-scope fault)."""
        if scope:
            self._scopes_granted.add((user, scope))

    def scope_granted(self, user: str, scope: str | None) -> bool:
        """Whether ``user`` approved ``scope`` before, for whichever client."""
        return bool(scope) and (user, scope or "") in self._scopes_granted

    def start_session(self, user: str) -> tuple[str, Session]:
        """A new session (a fresh id at every login, against session fixation)."""
        return self.sessions.start(user)

    def session(self, session_id: str | None) -> Session | None:
        """The live session with this id, if any."""
        return self.sessions.get(session_id)

    def renew_session(self, session_id: str) -> str:
        """Move a session to a fresh id, with the consents it has pending; the new id."""
        renewed = self.sessions.renew(session_id)
        self._pending = {
            key: (renewed if owner == session_id else owner, request, expires)
            for key, (owner, request, expires) in self._pending.items()
        }
        return renewed

    def add_pending(self, session_id: str, request: AuthorizationRequest) -> str:
        """Keep a request awaiting the user's decision; returns its id for the consent form."""
        request_id = secrets.token_urlsafe(16)
        entry = (session_id, request, _deadline(PENDING_LIFETIME_S))
        now = time.monotonic()
        self._pending = {key: value for key, value in self._pending.items() if value[2] > now}
        self._pending[request_id] = entry
        return request_id

    def take_pending(self, request_id: str, session_id: str) -> AuthorizationRequest | None:
        """Remove and return the pending request, if it is live and belongs to the session."""
        entry = self._pending.get(request_id)
        if entry is None or entry[0] != session_id:
            return None
        del self._pending[request_id]
        return entry[1] if entry[2] > time.monotonic() else None

    def hold_approval(self, session_id: str, request: AuthorizationRequest) -> str:
        """``consent-before-login``: keep an approved request until its user has signed in."""
        approval_id = secrets.token_urlsafe(16)
        now = time.monotonic()
        self._approved = {key: value for key, value in self._approved.items() if value[2] > now}
        self._approved[approval_id] = (session_id, request, _deadline(PENDING_LIFETIME_S))
        return approval_id

    def take_approval(self, approval_id: str, session_id: str) -> AuthorizationRequest | None:
        """Remove and return a held approval, if it is live and belongs to the session."""
        entry = self._approved.get(approval_id)
        if entry is None or entry[0] != session_id:
            return None
        del self._approved[approval_id]
        return entry[1] if entry[2] > time.monotonic() else None

    def put_once(self, key: str, value: str, lifetime_s: float) -> bool:
        """Keep ``value`` under ``key`` for a while.

        Returns ``False`` when ``key`` is already live: a one-time value seen before.
        """
        now = time.monotonic()
        self._once = {k: v for k, v in self._once.items() if v[1] > now}
        if key in self._once:
            return False
        self._once[key] = (value, now + lifetime_s)
        return True

    def take_once(self, key: str) -> str | None:
        """Remove and return the live value under ``key``, if any."""
        entry = self._once.pop(key, None)
        return entry[0] if entry and entry[1] > time.monotonic() else None

    def push(self, request: AuthorizationRequest) -> str:
        """Keep a pushed authorization request (RFC 9126); returns its ``request_uri``."""
        now = time.monotonic()
        self._pushed = {key: value for key, value in self._pushed.items() if value[1] > now}
        request_uri = REQUEST_URI_PREFIX + secrets.token_urlsafe(32)
        self._pushed[request_uri] = (request, now + PUSHED_LIFETIME_S)
        return request_uri

    def pushed(self, request_uri: str, client_id: str) -> AuthorizationRequest | None:
        """The live pushed request behind ``request_uri``, if it was pushed by ``client_id``."""
        entry = self._pushed.get(request_uri)
        if entry is None or entry[1] <= time.monotonic() or entry[0].client_id != client_id:
            return None
        return entry[0]

    def take_pushed(self, request_uri: str) -> None:
        """Use up ``request_uri``: a pushed request is used once."""
        self._pushed.pop(request_uri, None)

    def issue_code(self, request: AuthorizationRequest, user: str) -> str:
        """A one-time authorization code for the approved request."""
        code = secrets.token_urlsafe(32)
        _purge(self._codes)
        self._codes[code] = Grant(request, user, _deadline(CODE_LIFETIME_S))
        return code

    def take_code(self, code: str) -> Grant | None:
        """Consume a code: it works once. A second use revokes what the first produced."""
        grant = self._codes.pop(code, None)
        if grant is None:
            # OAuth 2.1 §4.1.3: a replayed code suggests theft; revoke its tokens.
            self._refresh.pop(self._redeemed.pop(code, ""), None)
            return None
        return grant if grant.expires_at > time.monotonic() else None

    def return_code(self, code: str, grant: Grant) -> None:
        """Put back a code taken for a request answered "not now" (a rate limit), unused."""
        self._codes[code] = grant

    def issue_tokens(self, grant: Grant, access_token: str, code: str | None = None) -> Tokens:
        """``access_token`` and a new refresh token for ``grant``."""
        tokens = Tokens(access_token, secrets.token_urlsafe(32))
        _purge(self._refresh)
        self._refresh[tokens.refresh_token] = Grant(
            grant.request, grant.user, _deadline(REFRESH_LIFETIME_S)
        )
        if code is not None:
            self._redeemed[code] = tokens.refresh_token
        return tokens

    def refresh_grant(self, token: str) -> Grant | None:
        """The grant behind a live refresh token, without consuming it."""
        grant = self._refresh.get(token)
        return grant if grant and grant.expires_at > time.monotonic() else None

    def retire_refresh(self, token: str) -> None:
        """Rotation: the old refresh token stops working (OAuth 2.1 §4.3.1)."""
        self._refresh.pop(token, None)


def _deadline(lifetime_s: float) -> float:
    return time.monotonic() + lifetime_s


def _purge(entries: dict[str, E]) -> None:
    # Called before every insertion, so memory stays bounded on a long-running server.
    now = time.monotonic()
    for key in [key for key, value in entries.items() if value.expires_at <= now]:
        del entries[key]
