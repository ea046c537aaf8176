"""API keys of creditors: ``rsp_<key_id>_<secret>``, scoped, stored hashed, revocable.

A key is shown once, when it is created; the database keeps its public ``key_id``, the
creditor it belongs to, its scopes and an argon2id hash of the secret. A key can do only
what its scopes say, and only for its own creditor (the API filters every query on the
key's creditor):

====================  ==========================================================
``claims:write``      submit claims (JSON, CSV), recall cases, correct claims
``claims:read``       read a claim by the creditor's own invoice number
``cases:read``        list cases, read a case's status and timeline (audited)
``remittances:read``  collected amounts and remittance statements
``webhooks:manage``   register, list and remove webhook endpoints
====================  ==========================================================
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection, Engine, insert, select, update
from sqlalchemy.exc import OperationalError

from respite.adapters.clock import as_utc
from respite.adapters.db.models import ApiKey, Creditor
from respite.errors import ConflictError, InputError

__all__ = [
    "SCOPES",
    "ApiPrincipal",
    "KeyInfo",
    "NewKey",
    "create_key",
    "creditor_id_by_name",
    "list_keys",
    "parse_scopes",
    "revoke_key",
    "touch_key",
    "verify_key",
]

SCOPES = ("claims:write", "claims:read", "cases:read", "remittances:read", "webhooks:manage")
PREFIX = "rsp"
_KEY = re.compile(r"rsp_([0-9a-f]{16})_([0-9a-f]{64})")
# argon2id at its smallest useful cost (1 MiB, one pass: about 0.6 ms here). The cost of
# argon2 protects secrets that people choose or that are short: a guess must be hashed.
# An API secret is 256 random bits; nobody can enumerate 2^255 guesses however fast the
# hash is, so the expensive settings would only slow every API request (and the bulk
# benchmark) without adding safety. A cheap hash per request also means no in-process
# cache is needed: revoking a key takes effect on the next request in every worker.
_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
# Verifying against this when the key id is unknown makes "unknown key" and "wrong
# secret" take the same time (the key id is not secret, but there is no need to tell).
_DUMMY_HASH = _HASHER.hash("0" * 64)
# last_used_at is written at most this often per key: a busy client must not turn every
# read into a database write.
_TOUCH_EVERY = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class ApiPrincipal:
    """Who is calling: one key of one creditor, with its scopes."""

    key_id: str
    creditor_id: int
    scopes: frozenset[str]
    stale: bool = False  # last_used_at is due for an update (see touch_key)

    @property
    def actor(self) -> str:
        """The actor name in timelines and the audit log."""
        return f"api:{self.key_id}"


@dataclass(frozen=True, slots=True)
class NewKey:
    key_id: str
    key: str  # the plaintext, shown once
    creditor: str
    scopes: tuple[str, ...]
    label: str

    def as_dict(self) -> dict[str, object]:
        return {
            "key_id": self.key_id,
            "key": self.key,
            "creditor": self.creditor,
            "scopes": list(self.scopes),
            "label": self.label,
        }


@dataclass(frozen=True, slots=True)
class KeyInfo:
    key_id: str
    creditor: str
    scopes: tuple[str, ...]
    label: str
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None

    def as_dict(self) -> dict[str, object]:
        return {
            "key_id": self.key_id,
            "creditor": self.creditor,
            "scopes": list(self.scopes),
            "label": self.label,
            "created_at": self.created_at.isoformat(),
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
            "last_used_at": self.last_used_at.isoformat() if self.last_used_at else None,
        }


def parse_scopes(raw: str | Iterable[str]) -> tuple[str, ...]:
    """Scopes from ``claims:write,cases:read`` or a list; unknown ones are an input error."""
    items = raw.split(",") if isinstance(raw, str) else list(raw)
    scopes = tuple(dict.fromkeys(s.strip() for s in items if s.strip()))
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown:
        raise InputError(
            f"unknown scope(s) {', '.join(unknown)}; the scopes are {', '.join(SCOPES)}",
            field="scopes",
        )
    if not scopes:
        raise InputError(f"give at least one of {', '.join(SCOPES)}", field="scopes")
    return scopes


def creditor_id_by_name(conn: Connection, name: str) -> int:
    found = conn.execute(select(Creditor.id).where(Creditor.name == name)).scalar()
    if found is None:
        raise InputError(
            f"unknown creditor {name!r}; create it with `respite creditor add`", field="creditor"
        )
    return int(found)


def create_key(
    conn: Connection,
    creditor: str,
    scopes: str | Iterable[str],
    *,
    label: str = "",
    now: datetime,
) -> NewKey:
    """A new key for the creditor called ``creditor``; its plaintext is returned only here."""
    wanted = parse_scopes(scopes)
    label = " ".join(label.split())
    if len(label) > 100:
        raise InputError("is longer than 100 characters", field="label")
    creditor_id = creditor_id_by_name(conn, creditor)
    key_id = secrets.token_hex(8)
    secret = secrets.token_hex(32)
    conn.execute(
        insert(ApiKey).values(
            creditor_id=creditor_id,
            key_id=key_id,
            secret_hash=_HASHER.hash(secret),
            scopes=list(wanted),
            label=label,
            created_at=now,
        )
    )
    return NewKey(key_id, f"{PREFIX}_{key_id}_{secret}", creditor, wanted, label)


def list_keys(conn: Connection, creditor: str | None = None) -> list[KeyInfo]:
    query = (
        select(
            ApiKey.key_id,
            Creditor.name,
            ApiKey.scopes,
            ApiKey.label,
            ApiKey.created_at,
            ApiKey.revoked_at,
            ApiKey.last_used_at,
        )
        .join(Creditor, Creditor.id == ApiKey.creditor_id)
        .order_by(ApiKey.id)
    )
    if creditor is not None:
        query = query.where(ApiKey.creditor_id == creditor_id_by_name(conn, creditor))
    return [
        KeyInfo(
            r.key_id,
            r.name,
            tuple(r.scopes),
            r.label,
            as_utc(r.created_at),
            as_utc(r.revoked_at) if r.revoked_at else None,
            as_utc(r.last_used_at) if r.last_used_at else None,
        )
        for r in conn.execute(query)
    ]


def revoke_key(conn: Connection, key_id: str, *, now: datetime) -> KeyInfo:
    """Revoke a key for good; revoking it again is refused (it says when it was revoked)."""
    row = conn.execute(select(ApiKey.revoked_at).where(ApiKey.key_id == key_id)).first()
    if row is None:
        raise InputError(f"no API key {key_id!r}", field="key_id")
    if row.revoked_at is not None:
        raise ConflictError(f"API key {key_id} was already revoked at {row.revoked_at.isoformat()}")
    conn.execute(update(ApiKey).where(ApiKey.key_id == key_id).values(revoked_at=now))
    return next(k for k in list_keys(conn) if k.key_id == key_id)


def verify_key(conn: Connection, presented: str, *, now: datetime) -> ApiPrincipal | None:
    """The key's principal, or None for a malformed, unknown, wrong or revoked key.

    Every failure returns the same None, so the caller answers them all alike. Reads
    only: see :func:`touch_key` for ``last_used_at``.
    """
    match = _KEY.fullmatch(presented.strip())
    if match is None:
        return None
    key_id, secret = match.groups()
    row = conn.execute(
        select(
            ApiKey.creditor_id,
            ApiKey.secret_hash,
            ApiKey.scopes,
            ApiKey.revoked_at,
            ApiKey.last_used_at,
        ).where(ApiKey.key_id == key_id)
    ).first()
    if not _secret_matches(row.secret_hash if row is not None else _DUMMY_HASH, secret):
        return None
    if row is None or row.revoked_at is not None:
        return None
    last = row.last_used_at
    stale = last is None or as_utc(now) - as_utc(last) >= _TOUCH_EVERY
    return ApiPrincipal(key_id, int(row.creditor_id), frozenset(row.scopes or ()), stale)


def touch_key(engine: Engine, key_id: str, *, now: datetime) -> None:
    """Record that the key was used, if the database is free right now.

    ``last_used_at`` is a hint for an operator (which keys are idle), never worth a wait:
    on SQLite a bulk import holds the one write lock for seconds, and a read must not
    queue behind it just to stamp this column, so a busy database (or a locked row on
    PostgreSQL) skips the stamp.
    """
    with engine.connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        previous = conn.exec_driver_sql("PRAGMA busy_timeout").scalar() if sqlite else None
        if sqlite:
            conn.exec_driver_sql("PRAGMA busy_timeout = 50")
        try:
            if conn.dialect.name == "postgresql":
                conn.exec_driver_sql("SET LOCAL lock_timeout = '50ms'")
            conn.execute(update(ApiKey).where(ApiKey.key_id == key_id).values(last_used_at=now))
            conn.commit()
        except OperationalError:
            conn.rollback()
        finally:
            if sqlite:
                conn.exec_driver_sql(f"PRAGMA busy_timeout = {int(previous or 0)}")
                conn.commit()


def _secret_matches(stored: str, secret: str) -> bool:
    try:
        return bool(_HASHER.verify(stored, secret))
    except (VerificationError, InvalidHashError):
        return False
