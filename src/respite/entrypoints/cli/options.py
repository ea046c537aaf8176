"""What every command needs from its options: dates, and the migrated database."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date

from sqlalchemy import Engine

from respite.adapters.clock import SystemClock
from respite.adapters.db.engine import make_engine, upgrade
from respite.errors import InputError

__all__ = ["date_or_today", "open_database", "parse_date"]


def parse_date(value: str, option: str) -> date:
    """A YYYY-MM-DD option; a bad one is an input error naming the option."""
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise InputError(f"expected a date as YYYY-MM-DD, got {value!r}", field=option) from None


def date_or_today(value: str | None, option: str) -> date:
    """The business date given, or today from the clock (only here, at the edge)."""
    return SystemClock().today() if value is None else parse_date(value, option)


@contextmanager
def open_database() -> Iterator[Engine]:
    """The database of RESPITE_DATABASE_URL (default ./respite.db), migrated to the newest schema."""
    engine = make_engine()
    try:
        upgrade(engine)
        yield engine
    finally:
        engine.dispose()
