"""Who may watch the wallboard: the service's bearer tokens, and browser sessions made from them.

A browser's EventSource cannot send an ``Authorization`` header, so the page posts the token
once (``POST /login``) and gets a session cookie (HttpOnly: the page's script never reads it;
SameSite=Strict: another site cannot make the browser send it). The session holds the token's
hash, never the token, and lives while it is used: it ends after ``IDLE_S`` without a request or
an open stream, on ``POST /logout``, or as soon as its token is revoked, reloaded away or its
tenant deleted (checked at every refresh). Programs may send ``Authorization: Bearer <token>``
on every request instead.

Roles: supervisor and admin of a tenant (the roles that may call ``StreamQueueStats`` and
``ListAgents``), and only for their own tenant; every other role is refused (403).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from acd.server.auth import Identity, Role, TokenTable, bearer_token, hash_token

COOKIE = "acd_wallboard"
ROLES = frozenset({Role.SUPERVISOR, Role.ADMIN})
IDLE_S = 12 * 3600.0
# Sessions kept at most; a new login beyond this ends the longest unused one.
MAX_SESSIONS = 1000


class Refused(Exception):
    """Not allowed to watch: 401 (no valid token or session) or 403 (not these roles)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True, slots=True)
class Viewer:
    """Someone watching: whom the token stands for and the token's hash (for revocation)."""

    identity: Identity
    token_hash: str

    @property
    def tenant(self) -> str:
        assert self.identity.tenant is not None
        return self.identity.tenant


def check_identity(who: Identity | None, tenants: Mapping[str, object]) -> Identity:
    if who is None:
        raise Refused(401, "unknown token")
    if who.role not in ROLES:
        raise Refused(403, f"the {who.role} role may not watch the wallboard")
    if who.tenant is None or who.tenant not in tenants:
        raise Refused(403, "this token belongs to no running tenant")
    return who


def still_valid(
    viewer: Viewer, live: Mapping[str, Identity], tenants: Mapping[str, object]
) -> bool:
    """Whether the viewer's token still stands for the same identity, in a running tenant.
    ``live``: the token table now, by hash."""
    return live.get(viewer.token_hash) == viewer.identity and viewer.tenant in tenants


class Sessions:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._by_id: dict[str, tuple[Viewer, float]] = {}

    def __len__(self) -> int:
        return len(self._by_id)

    def create(self, viewer: Viewer) -> str:
        """A new session for ``viewer``; gives its id (the cookie's value)."""
        if len(self._by_id) >= MAX_SESSIONS:
            oldest = min(self._by_id, key=lambda sid: self._by_id[sid][1])
            del self._by_id[oldest]
        sid = secrets.token_urlsafe(32)
        self._by_id[sid] = (viewer, self._clock())
        return sid

    def get(self, sid: str) -> Viewer | None:
        """The session's viewer (and the session counts as used now), or None."""
        found = self._by_id.get(sid)
        if found is None:
            return None
        now = self._clock()
        if now - found[1] > IDLE_S:
            del self._by_id[sid]
            return None
        self._by_id[sid] = (found[0], now)
        return found[0]

    def drop(self, sid: str) -> None:
        self._by_id.pop(sid, None)

    def prune(self, valid: Callable[[Viewer], bool], in_use: set[str]) -> None:
        """Ends sessions idle too long or no longer ``valid``; ``in_use`` (ids with an open
        stream) count as used now."""
        now = self._clock()
        for sid, (viewer, used) in list(self._by_id.items()):
            if not valid(viewer):
                del self._by_id[sid]
            elif sid in in_use:
                self._by_id[sid] = (viewer, now)
            elif now - used > IDLE_S:
                del self._by_id[sid]


def live_tokens(tokens: TokenTable) -> dict[str, Identity]:
    """The token table now, by hash."""
    return {e.hash: e.identity for e in tokens.entries()}


def login(tokens: TokenTable, token: str, tenants: Mapping[str, object]) -> Viewer:
    who = check_identity(tokens.authenticate(token), tenants)
    return Viewer(who, hash_token(token))


def viewer_of(
    headers: Mapping[str, str],
    cookies: Mapping[str, str],
    tokens: TokenTable,
    sessions: Sessions,
    tenants: Mapping[str, object],
) -> tuple[Viewer, str | None]:
    """Who is asking (a bearer token first, else the session cookie) and the session's id
    (None for a bearer token); Refused when nobody allowed."""
    authorization = headers.get("authorization")
    if authorization is not None:
        token = bearer_token(authorization)
        if token is None:
            raise Refused(401, "expected 'Authorization: Bearer <token>'")
        return login(tokens, token, tenants), None
    sid = cookies.get(COOKIE)
    viewer = sessions.get(sid) if sid else None
    if viewer is None or sid is None:
        raise Refused(401, "sign in first")
    if not still_valid(viewer, live_tokens(tokens), tenants):
        sessions.drop(sid)
        raise Refused(401, "the session's token was revoked or its tenant removed")
    return viewer, sid


def cookie_header(sid: str | None) -> tuple[str, str]:
    """Set-Cookie for a new session, or (``None``) one that ends the browser's."""
    if sid is None:
        return ("Set-Cookie", f"{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0")
    return ("Set-Cookie", f"{COOKIE}={sid}; Path=/; HttpOnly; SameSite=Strict")
