"""Who is logged in to the console, and may they open this page.

``console_user`` loads the console session (cookie ``respite_console``, kind ``console``,
idle timeout ``WebSettings.console_idle``) and its active user; without one the browser is
sent to ``/console/login`` (303, the wanted page kept as ``next``, a path in the console
only). ``need(permission)`` is the dependency every page uses: it adds the role check of
:mod:`respite.services.authority` on the server, so a forbidden page answers 403 whatever
the browser shows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlencode

from fastapi import Depends, HTTPException, Request
from sqlalchemy import select

from respite.adapters.db.models import User
from respite.entrypoints.web import deps, sessions
from respite.services.authority import Actor, Permission, require

__all__ = ["ConsoleUser", "console_user", "current_user", "need", "safe_next"]


@dataclass(frozen=True)
class ConsoleUser:
    id: int
    username: str
    display_name: str
    role: str
    creditor_id: int | None
    actor: Actor
    session_token: str


def safe_next(value: str | None) -> str:
    """A page inside the console to go to after logging in; anything else: the start."""
    if value and value.startswith("/console") and not value.startswith("//") and "\\" not in value:
        return value
    return "/console/"


def _to_login(request: Request) -> HTTPException:
    wanted = request.url.path
    if request.method == "GET" and request.url.query:
        wanted += "?" + request.url.query
    return HTTPException(
        status_code=303,
        detail="Please log in.",
        headers={"Location": "/console/login?" + urlencode({"next": safe_next(wanted)})},
    )


def console_user(request: Request) -> ConsoleUser:
    user = current_user(request)
    if user is None:
        raise _to_login(request)
    return user


def current_user(request: Request) -> ConsoleUser | None:
    """The live session's active user, or None (no cookie, expired, user disabled)."""
    token = sessions.token_of(request, "console")
    settings = deps.settings(request)
    with deps.engine(request).begin() as conn:
        row = sessions.load(
            conn, "console", token, now=deps.now(request), idle=settings.console_idle
        )
        user = (
            conn.execute(select(User).where(User.id == row.user_id, User.active.is_(True))).first()
            if row is not None and row.user_id is not None
            else None
        )
    if token is None or user is None:
        return None
    return ConsoleUser(
        id=int(user.id),
        username=user.username,
        display_name=user.display_name,
        role=user.role,
        creditor_id=None if user.creditor_id is None else int(user.creditor_id),
        actor=Actor(
            username=user.username,
            role=user.role,
            plan_limit_cents=int(user.plan_limit_cents),
            writeoff_limit_cents=int(user.writeoff_limit_cents),
            creditor_id=None if user.creditor_id is None else int(user.creditor_id),
        ),
        session_token=token,
    )


def need(permission: Permission) -> Callable[[ConsoleUser], ConsoleUser]:
    """A dependency: the logged-in user, if their role has ``permission`` (else 403)."""

    def dependency(user: ConsoleUser = Depends(console_user)) -> ConsoleUser:  # noqa: B008
        require(user.actor, permission)
        return user

    return dependency
