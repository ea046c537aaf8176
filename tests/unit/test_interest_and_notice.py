"""Interest accrual and notice terms: the pure domain functions."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from respite.domain.interest import Compounding, DayCount, RatePiece, accrue_interest, add_years
from respite.domain.money import Money
from respite.domain.notice import Channel, term_from_receipt, term_from_working_day


def flat(percent: str) -> Callable[[date, date], list[RatePiece]]:
    def lookup(start: date, end: date) -> list[RatePiece]:
        return [RatePiece(start, end, Decimal(percent), "test")]

    return lookup


def test_anniversary_of_29_february_is_1_march() -> None:
    assert add_years(date(2024, 2, 29), 1) == date(2025, 3, 1)
    assert add_years(date(2024, 1, 31), 1) == date(2025, 1, 31)


def test_no_interest_for_an_empty_period() -> None:
    r = accrue_interest(
        Money.of("100"),
        date(2024, 1, 1),
        date(2024, 1, 1),
        flat("8"),
        compounding=Compounding.ANNIVERSARY,
        day_count=DayCount.ACT_365,
    )
    assert r.interest.is_zero
    assert r.periods == ()


def test_act_act_counts_a_leap_year_as_366_days() -> None:
    r = accrue_interest(
        Money.of("1000"),
        date(2024, 1, 1),
        date(2025, 1, 1),
        flat("10"),
        compounding=Compounding.NONE,
        day_count=DayCount.ACT_ACT,
    )
    assert r.interest == Money.of("100.00")


@given(
    st.integers(min_value=1, max_value=10**9),
    st.dates(min_value=date(2000, 1, 1), max_value=date(2040, 1, 1)),
    st.integers(min_value=0, max_value=3000),
    st.integers(min_value=0, max_value=3000),
)
def test_splitting_a_period_never_changes_simple_interest_by_more_than_a_cent(
    cents: int, start: date, first: int, second: int
) -> None:
    """Invariant: without compounding, interest over [a, c) equals [a, b) + [b, c) up to
    the rounding of the two totals (at most one cent)."""
    p = Money.from_minor_units(cents)
    mid, end = start + timedelta(days=first), start + timedelta(days=first + second)

    def simple(a: date, b: date) -> Money:
        return accrue_interest(
            p, a, b, flat("7.25"), compounding=Compounding.NONE, day_count=DayCount.ACT_365
        ).interest

    whole = simple(start, end)
    parts = simple(start, mid) + simple(mid, end)
    assert abs(whole.minor_units - parts.minor_units) <= 1


@given(st.integers(min_value=1, max_value=10**9), st.integers(min_value=0, max_value=4000))
def test_compounding_never_earns_less_than_simple_interest(cents: int, days: int) -> None:
    """Invariant: capitalising on anniversaries can only add interest, never remove it."""
    p = Money.from_minor_units(cents)
    start = date(2015, 5, 17)
    end = start + timedelta(days=days)
    simple = accrue_interest(
        p, start, end, flat("4"), compounding=Compounding.NONE, day_count=DayCount.ACT_365
    )
    compound = accrue_interest(
        p, start, end, flat("4"), compounding=Compounding.ANNIVERSARY, day_count=DayCount.ACT_365
    )
    assert compound.interest >= simple.interest


def every_day(_: date) -> bool:
    return True


def test_term_from_receipt_by_email_counts_from_the_sending_day() -> None:
    t = term_from_receipt(
        date(2024, 3, 4),
        Channel.EMAIL,
        term_days=14,
        post_delivery_days=2,
        email_delivery_days=0,
        is_delivery_day=every_day,
        extend_end_past=None,
    )
    assert (t.received, t.term_starts, t.term_ends, t.costs_chargeable_from) == (
        date(2024, 3, 4),
        date(2024, 3, 5),
        date(2024, 3, 18),
        date(2024, 3, 19),
    )


def test_term_from_working_day_counts_fourteen_calendar_days_including_the_first() -> None:
    t = term_from_working_day(
        date(2024, 3, 4),
        Channel.POST,
        term_days=14,
        post_start_working_day=3,
        email_start_days=1,
        is_working_day=lambda d: d.weekday() < 5,
    )
    assert (t.term_starts, t.term_ends) == (date(2024, 3, 7), date(2024, 3, 20))
