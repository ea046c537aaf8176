"""Public-holiday calendars from the ``holidays`` library, adjusted by each rule pack.

The library knows the holidays; the rule pack says which of them a statute recognises
(e.g. the NL Algemene termijnenwet counts 5 May every year and not Good Friday).
"""

from __future__ import annotations

from datetime import date
from functools import lru_cache

import holidays

from respite.rules.packs import HolidayCalendar

__all__ = ["is_holiday", "is_working_day"]


@lru_cache(maxsize=256)
def _holidays_of(calendar: HolidayCalendar, year: int) -> frozenset[date]:
    found = holidays.country_holidays(calendar.country, years=year, language="en_US")
    days = {d for d, name in found.items() if not _excluded(name, calendar.exclude_names)}
    days |= {date(year, m, d) for m, d in calendar.include_fixed}
    return frozenset(days)


def _excluded(name: str, excluded: tuple[str, ...]) -> bool:
    # The library joins two holidays on one date with "; ".
    parts = [p.strip() for p in name.split(";")]
    return all(p in excluded for p in parts)


def is_holiday(calendar: HolidayCalendar, day: date) -> bool:
    return day in _holidays_of(calendar, day.year)


def is_working_day(calendar: HolidayCalendar, day: date) -> bool:
    """Monday to Friday and not a public holiday."""
    return day.weekday() < 5 and not is_holiday(calendar, day)
