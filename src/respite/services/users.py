"""Console users: accounts with an argon2id password, a role and authority limits.

Passwords are hashed with argon2id at OWASP's recommended minimum for passwords
(m = 19 MiB, t = 2, p = 1; OWASP Password Storage Cheat Sheet); a hash made with weaker
parameters is re-hashed at the next successful login. Nothing here logs a username or a
password.

Logging in (:func:`authenticate`) answers the same for an unknown user, a disabled user
and a wrong password, and takes the same time: an unknown user's password is checked
against a dummy hash with the same parameters. Failed attempts are counted per username
and per client address (:mod:`respite.services.throttle`, in the database so every
worker sees them); a locked key refuses even the right password until the lockout ends.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, NoReturn

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection, Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from respite.adapters.db.models import Creditor, User
from respite.errors import ConflictError, InputError
from respite.services import audit, throttle
from respite.services.authority import ROLES, Actor
from respite.services.throttle import Policy

__all__ = [
    "ADDRESS_POLICY",
    "MIN_PASSWORD",
    "USER_POLICY",
    "Login",
    "UserRecord",
    "authenticate",
    "create_user",
    "ensure_demo_operators",
    "hasher",
    "list_users",
    "load_user",
    "set_password",
]

# OWASP: argon2id, m=19456 KiB, t=2, p=1.
PASSWORD_HASHER = PasswordHasher(time_cost=2, memory_cost=19_456, parallelism=1)
MIN_PASSWORD = 12
MAX_PASSWORD = 1024  # hashing a megabyte on every attempt would be a denial of service
USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,99}$")
# Five wrong passwords for one username lock it for 15 minutes; an office behind one
# address gets more room before the address is locked.
USER_POLICY = Policy(limit=5, window=timedelta(minutes=15), lockout=timedelta(minutes=15))
ADDRESS_POLICY = Policy(limit=30, window=timedelta(minutes=15), lockout=timedelta(minutes=15))


def hasher() -> PasswordHasher:
    return PASSWORD_HASHER


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return PASSWORD_HASHER.hash(secrets.token_urlsafe(24))


@dataclass(frozen=True, slots=True)
class UserRecord:
    id: int
    username: str
    display_name: str
    role: str
    creditor_id: int | None
    plan_limit_cents: int
    writeoff_limit_cents: int
    active: bool

    @property
    def actor(self) -> Actor:
        return Actor(
            username=self.username,
            role=self.role,
            plan_limit_cents=self.plan_limit_cents,
            writeoff_limit_cents=self.writeoff_limit_cents,
            creditor_id=self.creditor_id,
        )


@dataclass(frozen=True, slots=True)
class Login:
    """What a login attempt came to: a user, or why not (``failed`` / ``locked``)."""

    user: UserRecord | None
    locked_until: datetime | None = None

    @property
    def ok(self) -> bool:
        return self.user is not None


def _record(row: Any) -> UserRecord:
    return UserRecord(
        id=int(row.id),
        username=row.username,
        display_name=row.display_name,
        role=row.role,
        creditor_id=None if row.creditor_id is None else int(row.creditor_id),
        plan_limit_cents=int(row.plan_limit_cents),
        writeoff_limit_cents=int(row.writeoff_limit_cents),
        active=bool(row.active),
    )


def _check_username(username: str) -> str:
    name = username.strip().lower()
    if not USERNAME.match(name):
        _invalid(
            "2 to 100 characters: lower-case letters, digits, dot, dash or underscore, "
            "starting with a letter or digit",
            "username",
        )
    return name


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        _invalid(f"at least {MIN_PASSWORD} characters", "password")
    if len(password) > MAX_PASSWORD:
        _invalid(f"at most {MAX_PASSWORD} characters", "password")


def _invalid(message: str, field: str) -> NoReturn:
    raise InputError(message, field=field)


def _creditor_id(conn: Connection, role: str, creditor: str | int | None) -> int | None:
    if role != "creditor":
        if creditor is not None:
            _invalid("only a user with role creditor is bound to a creditor", "creditor")
        return None
    if creditor is None or (isinstance(creditor, str) and not creditor.strip()):
        _invalid("a creditor user needs the creditor they work for", "creditor")
    column = Creditor.id if isinstance(creditor, int) else Creditor.name
    value = creditor if isinstance(creditor, int) else str(creditor).strip()
    found = conn.execute(select(Creditor.id).where(column == value)).scalar()
    if found is None:
        _invalid(f"no creditor {creditor!r}", "creditor")
    return int(found)


def create_user(
    conn: Connection,
    username: str,
    password: str,
    *,
    role: str,
    now: datetime,
    display_name: str | None = None,
    plan_limit_cents: int = 0,
    writeoff_limit_cents: int = 0,
    creditor: str | int | None = None,
    created_by: str = "cli",
    client: str | None = None,
) -> UserRecord:
    """A new active user; the password is kept only as its argon2id hash. The creation is
    in the audit log (who created whom, with which role)."""
    name = _check_username(username)
    if role not in ROLES:
        _invalid(f"must be one of {', '.join(ROLES)}, got {role!r}", "role")
    _check_password(password)
    if plan_limit_cents < 0 or writeoff_limit_cents < 0:
        _invalid("an authority limit cannot be negative", "limit")
    creditor_id = _creditor_id(conn, role, creditor)
    if conn.execute(select(User.id).where(User.username == name)).first() is not None:
        raise ConflictError(f"user {name!r} exists already")
    try:
        user_id = conn.execute(
            insert(User)
            .values(
                username=name,
                display_name=(display_name or name).strip()[:200],
                password_hash=PASSWORD_HASHER.hash(password),
                role=role,
                creditor_id=creditor_id,
                plan_limit_cents=plan_limit_cents,
                writeoff_limit_cents=writeoff_limit_cents,
                active=True,
                created_at=now,
            )
            .returning(User.id)
        ).scalar_one()
    except IntegrityError as exc:  # a concurrent create of the same name: roll back
        raise ConflictError(f"user {name!r} exists already") from exc
    audit.record(
        conn,
        actor=created_by,
        action="create_user",
        subject_type="user",
        subject_id=int(user_id),
        purpose=f"user {name} created with role {role}",
        at=now,
        client=client,
    )
    return load_user(conn, int(user_id))


def load_user(conn: Connection, user_id: int) -> UserRecord:
    row = conn.execute(select(User).where(User.id == user_id)).first()
    if row is None:
        raise InputError(f"no user with id {user_id}", field="user")
    return _record(row)


def set_password(conn: Connection, username: str, password: str) -> None:
    _check_password(password)
    done = conn.execute(
        update(User)
        .where(User.username == username.strip().lower())
        .values(password_hash=PASSWORD_HASHER.hash(password))
    )
    if done.rowcount == 0:
        raise InputError(f"no user {username!r}", field="username")


def list_users(conn: Connection) -> list[dict[str, Any]]:
    """Every user without the hash: name, role, limits, creditor, active."""
    rows = conn.execute(
        select(
            User.id,
            User.username,
            User.display_name,
            User.role,
            User.plan_limit_cents,
            User.writeoff_limit_cents,
            User.active,
            User.created_at,
            Creditor.name.label("creditor"),
        )
        .outerjoin(Creditor, Creditor.id == User.creditor_id)
        .order_by(User.username)
    )
    return [
        {
            "id": int(r.id),
            "username": r.username,
            "display_name": r.display_name,
            "role": r.role,
            "plan_limit_cents": int(r.plan_limit_cents),
            "writeoff_limit_cents": int(r.writeoff_limit_cents),
            "creditor": r.creditor,
            "active": bool(r.active),
        }
        for r in rows
    ]


def _keys(username: str, address: str) -> tuple[str, str]:
    return f"user:{username.strip().lower()[:150]}", f"ip:{address[:150]}"


def _verify(password_hash: str, password: str) -> bool:
    try:
        return PASSWORD_HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def authenticate(
    engine: Engine, username: str, password: str, *, address: str, now: datetime
) -> Login:
    """Check a console login; count a failure, clear the user's count on success.

    Unknown user, disabled user and wrong password look the same (``Login(None)``), in
    content and in time. A locked username or address answers ``locked_until``.
    """
    user_key, address_key = _keys(username, address)
    with engine.begin() as conn:
        until = throttle.locked(conn, [user_key, address_key], now)
        if until is not None:
            return Login(None, locked_until=until)
        row = conn.execute(select(User).where(User.username == username.strip().lower())).first()
    # The hash is checked outside the transaction: 19 MiB and some tens of milliseconds
    # should not hold a database connection (or SQLite's write lock).
    candidate = row.password_hash if row is not None else _dummy_hash()
    good = _verify(candidate, password[:MAX_PASSWORD]) and len(password) <= MAX_PASSWORD
    with engine.begin() as conn:
        if not good or row is None or not row.active:
            throttle.record_failure(
                conn, [(user_key, USER_POLICY), (address_key, ADDRESS_POLICY)], now
            )
            return Login(None)
        throttle.clear(conn, [user_key])
        if PASSWORD_HASHER.check_needs_rehash(row.password_hash):
            conn.execute(
                update(User)
                .where(User.id == row.id)
                .values(password_hash=PASSWORD_HASHER.hash(password))
            )
        audit.record(
            conn,
            actor=f"user:{row.username}",
            action="console_login",
            subject_type="user",
            subject_id=int(row.id),
            purpose="logged in to the console",
            at=now,
            client=address,
        )
    return Login(_record(row))


DEMO_OPERATORS = (
    ("agent", "agent", "Demo agent", 250_000, 0),
    ("supervisor", "supervisor", "Demo supervisor", 1_000_000, 50_000),
    ("compliance", "compliance", "Demo compliance officer", 0, 0),
    ("admin", "admin", "Demo administrator", 1_000_000, 50_000),
)


def ensure_demo_operators(engine: Engine, *, now: datetime) -> list[tuple[str, str, str]]:
    """Demo logins (username, role, fresh password): created, or given a new password.

    For ``make demo`` only: the passwords are random for each run and printed once.
    """
    logins: list[tuple[str, str, str]] = []
    with engine.begin() as conn:
        for username, role, display, plan_limit, writeoff_limit in DEMO_OPERATORS:
            password = secrets.token_urlsafe(12)
            exists = conn.execute(select(User.id).where(User.username == username)).first()
            if exists is None:
                create_user(
                    conn,
                    username,
                    password,
                    role=role,
                    now=now,
                    display_name=display,
                    plan_limit_cents=plan_limit,
                    writeoff_limit_cents=writeoff_limit,
                    created_by="demo",
                )
            else:
                set_password(conn, username, password)
            logins.append((username, role, password))
    return logins
