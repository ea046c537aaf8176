"""Login throttling and lockout, kept in the database so every worker sees the same counts.

A key is what is being protected: ``ref:<case reference>``, ``ip:<client address>``,
``user:<username>``. Failures within ``window`` count; reaching ``limit`` locks the key
for ``lockout``. A success clears the key. Unknown references are counted exactly like
known ones, so the lockout itself does not tell whether a reference exists.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, delete, select
from sqlalchemy.dialects import postgresql, sqlite

from respite.adapters.clock import as_utc
from respite.adapters.db.models import LoginThrottle

__all__ = ["Policy", "clear", "locked", "record_failure"]


@dataclass(frozen=True)
class Policy:
    limit: int
    window: timedelta
    lockout: timedelta


def _aware(value: datetime | None) -> datetime | None:
    return None if value is None else as_utc(value)


def locked(conn: Connection, keys: Sequence[str], now: datetime) -> datetime | None:
    """The latest lockout end among ``keys`` that is still in the future, else None."""
    rows = conn.execute(
        select(LoginThrottle.locked_until).where(LoginThrottle.key.in_(list(keys)))
    ).all()
    ends = [end for (until,) in rows if (end := _aware(until)) is not None and end > now]
    return max(ends) if ends else None


def record_failure(
    conn: Connection, keys_and_policies: Sequence[tuple[str, Policy]], now: datetime
) -> None:
    """Count one failed attempt against every key; lock a key that reaches its limit."""
    for key, policy in keys_and_policies:
        row = conn.execute(
            select(LoginThrottle).where(LoginThrottle.key == key).with_for_update()
        ).first()
        if row is None or (_aware(row.window_start) or now) + policy.window <= now:
            failures, start = 1, now
        else:
            failures, start = row.failures + 1, _aware(row.window_start) or now
        until = (
            now + policy.lockout
            if failures >= policy.limit
            else _aware(row.locked_until if row is not None else None)
        )
        values = {"key": key, "failures": failures, "window_start": start, "locked_until": until}
        dialect = conn.dialect.name
        ins = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(LoginThrottle)
        conn.execute(
            ins.values(**values).on_conflict_do_update(
                index_elements=[LoginThrottle.key],
                set_={k: v for k, v in values.items() if k != "key"},
            )
        )


def clear(conn: Connection, keys: Sequence[str]) -> None:
    conn.execute(delete(LoginThrottle).where(LoginThrottle.key.in_(list(keys))))
