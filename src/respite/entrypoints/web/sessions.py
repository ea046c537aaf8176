"""Logged-in browsers: a random token in an HttpOnly cookie, its SHA-256 in ``web_sessions``.

Idle sessions expire (sliding), and every session ends after ``ABSOLUTE`` whatever its use.
Logging in always creates a new token (no session fixation); logging out deletes the row.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, bindparam, delete, insert, select, update
from starlette.requests import Request
from starlette.responses import Response

from respite.adapters.clock import as_utc
from respite.adapters.db.models import Case, WebSession

__all__ = [
    "ABSOLUTE",
    "COOKIE",
    "clear_cookie",
    "create",
    "destroy",
    "load",
    "set_cookie",
    "token_of",
]

COOKIE = {"portal": "respite_portal", "console": "respite_console"}
ABSOLUTE = timedelta(hours=12)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def create(
    conn: Connection,
    kind: str,
    *,
    now: datetime,
    idle: timedelta,
    person_id: int | None = None,
    case_id: int | None = None,
    user_id: int | None = None,
    language: str | None = None,
) -> str:
    """A new session; returns the token for the cookie (never stored in clear)."""
    token = secrets.token_urlsafe(32)
    conn.execute(
        insert(WebSession).values(
            token_hash=_hash(token),
            kind=kind,
            person_id=person_id,
            case_id=case_id,
            user_id=user_id,
            language=language,
            created_at=now,
            expires_at=now + idle,
            last_seen_at=now,
        )
    )
    return token


# Built once (every page asks); ``reference`` is the case a portal session logged in with.
_LOAD = (
    select(WebSession, Case.reference)
    .outerjoin(Case, Case.id == WebSession.case_id)
    .where(WebSession.token_hash == bindparam("token_hash"), WebSession.kind == bindparam("kind"))
)


def load(
    conn: Connection, kind: str, token: str | None, *, now: datetime, idle: timedelta
) -> Any | None:
    """The live session row of ``token`` (with ``reference``, the case of a portal login),
    its idle expiry pushed forward; None if none."""
    if not token:
        return None
    row = conn.execute(_LOAD, {"token_hash": _hash(token), "kind": kind}).first()
    if row is None:
        return None
    if as_utc(row.expires_at) <= now or as_utc(row.created_at) + ABSOLUTE <= now:
        conn.execute(delete(WebSession).where(WebSession.id == row.id))
        return None
    # Writing on every request would serialise reads on SQLite; a minute's slack is enough.
    if now - as_utc(row.last_seen_at) > timedelta(minutes=1):
        conn.execute(
            update(WebSession)
            .where(WebSession.id == row.id)
            .values(last_seen_at=now, expires_at=now + idle)
        )
    return row


def destroy(conn: Connection, token: str | None) -> None:
    if token:
        conn.execute(delete(WebSession).where(WebSession.token_hash == _hash(token)))


def token_of(request: Request, kind: str) -> str | None:
    return request.cookies.get(COOKIE[kind])


def secure(request: Request, forced: bool | None) -> bool:
    return forced if forced is not None else request.url.scheme == "https"


def set_cookie(
    response: Response, request: Request, kind: str, token: str, *, forced_secure: bool | None
) -> None:
    response.set_cookie(
        COOKIE[kind],
        token,
        httponly=True,
        samesite="lax",
        secure=secure(request, forced_secure),
        path="/",
    )


def clear_cookie(response: Response, kind: str) -> None:
    response.delete_cookie(COOKIE[kind], path="/")
