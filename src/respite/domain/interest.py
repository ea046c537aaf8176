"""Statutory interest over a period, split at every rate change.

The period is half-open, ``[start, end)``: interest accrues for each day from ``start``
(the first day of default) up to but not including ``end``. Entry points that take an
inclusive end date add one day before calling in here.

Each period in which one rate and one base apply is computed exactly as
``base × rate × days / year_days``; nothing is rounded until the total, which is rounded
half-up to the cent (as in the published NL worked example of vergoedingsns.nl: EUR 100
from 1-2-2013 to 30-10-2023 = EUR 128.94, which rounds per period would miss). Each
period also shows its own amount rounded to the cent, for reading; those shown amounts
may differ from the total by a cent.

Compounding follows NL art. 6:119 lid 2 BW (and 6:119a lid 3): "telkens na afloop van een
jaar wordt het bedrag waarover de wettelijke rente wordt berekend, vermeerderd met de over
dat jaar verschuldigde rente" — interest is added to the base on each anniversary of the
start of default, not on 1 January. Jurisdictions without capitalisation pass
``Compounding.NONE``.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_EVEN, Context, Decimal, localcontext
from enum import Enum

from respite.domain.money import Currency, Money
from respite.errors import ValidationError

__all__ = [
    "Compounding",
    "DayCount",
    "InterestPeriod",
    "InterestResult",
    "RatePiece",
    "accrue_interest",
    "add_years",
]

HUNDRED = Decimal(100)
# Intermediate results keep 34 significant digits whatever the caller's context says, so
# the only rounding that matters is the explicit one of the total.
_EXACT = Context(prec=34, rounding=ROUND_HALF_EVEN)


class DayCount(Enum):
    """How a day's share of the yearly rate is counted."""

    ACT_365 = "act/365"  # every day is 1/365 of a year, also in leap years
    ACT_ACT = "act/act"  # a day is 1/366 of a year in a leap year

    def year_days(self, year: int) -> int:
        if self is DayCount.ACT_ACT and calendar.isleap(year):
            return 366
        return 365


class Compounding(Enum):
    NONE = "none"
    ANNIVERSARY = "anniversary"


@dataclass(frozen=True, slots=True)
class RatePiece:
    """One yearly percentage in force over ``[start, end)``, with the rule's source."""

    start: date
    end: date
    percent: Decimal
    source: str


@dataclass(frozen=True, slots=True)
class InterestPeriod:
    start: date
    end: date  # exclusive
    days: int
    year_days: int
    percent: Decimal
    base: Decimal  # exact: capitalised interest is added unrounded
    exact: Decimal
    source: str

    def interest(self, currency: Currency) -> Money:
        return Money.rounded(self.exact, currency)


@dataclass(frozen=True, slots=True)
class InterestResult:
    principal: Money
    interest: Money
    periods: tuple[InterestPeriod, ...]
    capitalised: tuple[tuple[date, Money], ...]

    @property
    def total(self) -> Money:
        return self.principal + self.interest


def add_years(start: date, years: int) -> date:
    """The same calendar date ``years`` later; 29 February rolls to 1 March."""
    try:
        return start.replace(year=start.year + years)
    except ValueError:
        return date(start.year + years, 3, 1)


RateLookup = Callable[[date, date], Sequence[RatePiece]]


def accrue_interest(
    principal: Money,
    start: date,
    end: date,
    rates: RateLookup,
    *,
    compounding: Compounding,
    day_count: DayCount,
) -> InterestResult:
    """Interest on ``principal`` over ``[start, end)`` with the rates ``rates`` gives."""
    with localcontext(_EXACT):
        return _accrue(principal, start, end, rates, compounding, day_count)


def _accrue(
    principal: Money,
    start: date,
    end: date,
    rates: RateLookup,
    compounding: Compounding,
    day_count: DayCount,
) -> InterestResult:
    if principal.is_negative:
        raise ValidationError(f"principal must not be negative, got {principal}")
    if end < start:
        raise ValidationError(
            f"the period ends ({end.isoformat()}) before it starts ({start.isoformat()})"
        )
    periods: list[InterestPeriod] = []
    capitalised: list[tuple[date, Money]] = []
    base = principal.amount
    total = Decimal(0)

    year_index = 0
    block_start = start
    while block_start < end:
        if compounding is Compounding.ANNIVERSARY:
            block_end = min(end, add_years(start, year_index + 1))
        else:
            block_end = end
        accrued_in_block = Decimal(0)
        for piece in _split_calendar_years(rates(block_start, block_end), day_count):
            days = (piece.end - piece.start).days
            year_days = day_count.year_days(piece.start.year)
            exact = base * piece.percent * days / (HUNDRED * year_days)
            periods.append(
                InterestPeriod(
                    piece.start,
                    piece.end,
                    days,
                    year_days,
                    piece.percent,
                    base,
                    exact,
                    piece.source,
                )
            )
            accrued_in_block += exact
        total += accrued_in_block
        if compounding is Compounding.ANNIVERSARY and block_end < end:
            capitalised.append((block_end, Money.rounded(accrued_in_block, principal.currency)))
            base += accrued_in_block
        block_start = block_end
        year_index += 1

    interest = Money.rounded(total, principal.currency)
    return InterestResult(principal, interest, tuple(periods), tuple(capitalised))


def _split_calendar_years(pieces: Sequence[RatePiece], day_count: DayCount) -> list[RatePiece]:
    """Under ACT/ACT a period that spans 1 January is split so each part has one year length."""
    if day_count is DayCount.ACT_365:
        return list(pieces)
    out: list[RatePiece] = []
    for piece in pieces:
        cursor = piece.start
        while cursor < piece.end:
            stop = min(piece.end, date(cursor.year + 1, 1, 1))
            out.append(RatePiece(cursor, stop, piece.percent, piece.source))
            cursor = stop
    return out
