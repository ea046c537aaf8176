"""The clock: the only place that asks the system for today's date.

Domain and services take the business date as an argument; entry points get it here,
so tests and the nightly cycle can run any date.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Protocol
from zoneinfo import ZoneInfo

__all__ = ["Clock", "FixedClock", "SystemClock", "as_utc"]


class Clock(Protocol):
    def today(self) -> date: ...

    def now(self) -> datetime: ...


@dataclass(frozen=True)
class SystemClock:
    """Today in the agency's time zone (Europe/Amsterdam unless told otherwise)."""

    zone: str = "Europe/Amsterdam"

    def now(self) -> datetime:
        return datetime.now(UTC)

    def today(self) -> date:
        return self.now().astimezone(ZoneInfo(self.zone)).date()


@dataclass(frozen=True)
class FixedClock:
    at: datetime

    def now(self) -> datetime:
        return self.at

    def today(self) -> date:
        return self.at.date()


def as_utc(moment: datetime) -> datetime:
    """A stored timestamp with its zone. Timestamps are stored in UTC; SQLite hands them
    back naive, PostgreSQL with their zone."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
