"""Public-holiday calendars from the ``holidays`` library, adjusted by each rule pack.

The library knows the holidays; the rule pack says which of them a statute recognises
(e.g. the NL Algemene termijnenwet counts 5 May every year and not Good Friday).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from functools import lru_cache

import holidays

from respite.errors import ValidationError
from respite.rules.loader import JURISDICTIONS, load_pack
from respite.rules.packs import HolidayCalendar

__all__ = ["is_holiday", "is_holiday_for", "is_working_day"]


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


# Contact rules cover two countries without a cost/interest pack: the United Kingdom (bank
# holidays of England and Wales, where Breathing Space applies) and the United States
# (the federal holidays of 5 U.S.C. 6103(a); the library's US calendar without a state).
_CONTACT_ONLY = {"UK": ("GB", "ENG"), "US": ("US", None)}


@lru_cache(maxsize=256)
def _library_holidays(country: str, subdiv: str | None, year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays(country, subdiv=subdiv, years=year))


def is_holiday_for(jurisdiction: str) -> Callable[[date], bool]:
    """The public-holiday test of a jurisdiction, for the contact guardrails.

    NL, BE and PL use their rule pack's calendar (the holidays a statute recognises); UK
    and US use the ``holidays`` library as described above.
    """
    code = jurisdiction.strip().upper()
    if code in _CONTACT_ONLY:
        country, subdiv = _CONTACT_ONLY[code]
        return lambda day: day in _library_holidays(country, subdiv, day.year)
    if code not in JURISDICTIONS:
        known = ", ".join((*JURISDICTIONS, *_CONTACT_ONLY))
        raise ValidationError(f"no holiday calendar for {jurisdiction!r} (known: {known})")
    calendar = load_pack(code).calendar
    return lambda day: is_holiday(calendar, day)
