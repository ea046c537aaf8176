"""The social report's pure parts: definitions, shares, medians, marks and debt-free days."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from respite.domain.social_report import (
    METRIC_BY_ID,
    METRICS,
    CaseSpan,
    Unit,
    add_months,
    average,
    debt_free_days,
    kept_counts,
    median,
    percent,
)


def test_every_metric_has_a_unique_id_a_title_and_a_written_definition() -> None:
    assert len(METRIC_BY_ID) == len(METRICS)
    for m in METRICS:
        assert m.title.strip()
        assert len(m.definition) > 40, m.id
        assert "  " not in m.definition  # folded to one line for every format


def test_shares_averages_and_medians_are_never_marked_additive() -> None:
    for m in METRICS:
        if m.unit in (Unit.PERCENT, Unit.SCORE, Unit.DAYS):
            assert not m.additive, m.id
            assert not m.creditor_additive, m.id


def test_percent_has_one_decimal_rounded_half_up_and_none_without_a_whole() -> None:
    assert percent(2, 3) == Decimal("66.7")
    assert percent(1, 8) == Decimal("12.5")
    assert percent(1, 16) == Decimal("6.3")  # 6.25 → 6.3
    assert percent(0, 5) == Decimal("0.0")
    assert percent(3, 0) is None


def test_average_is_rounded_to_two_places() -> None:
    assert average(9, 2) == Decimal("4.50")
    assert average(10, 3) == Decimal("3.33")
    assert average(5, 0) is None


def test_median_of_an_odd_and_an_even_number_of_values() -> None:
    assert median({19: 1, 67: 1, 90: 1}) == Decimal("67.0")
    assert median({19: 1, 67: 1}) == Decimal("43.0")
    assert median({4: 3, 10: 1}) == Decimal("4.0")
    assert median({1: 1, 2: 1, 3: 1, 4: 1}) == Decimal("2.5")
    assert median({}) is None
    assert median({5: 0}) is None


@given(st.lists(st.integers(min_value=0, max_value=400), min_size=1, max_size=60))
def test_median_from_a_histogram_equals_the_median_of_the_sorted_values(
    values: list[int],
) -> None:
    """Counting values into a histogram does not change their median."""
    ordered = sorted(values)
    n = len(ordered)
    expected = Decimal(ordered[(n - 1) // 2] + ordered[n // 2]) / 2
    hist: dict[int, int] = {}
    for v in values:
        hist[v] = hist.get(v, 0) + 1
    assert median(hist) == expected.quantize(Decimal("0.1"))


def test_add_months_keeps_the_day_or_takes_the_last_day_of_a_shorter_month() -> None:
    assert add_months(date(2024, 11, 15), 3) == date(2025, 2, 15)
    assert add_months(date(2025, 1, 31), 1) == date(2025, 2, 28)
    assert add_months(date(2024, 1, 31), 1) == date(2024, 2, 29)
    assert add_months(date(2025, 3, 31), -12) == date(2024, 3, 31)
    assert add_months(date(2025, 6, 30), 12) == date(2026, 6, 30)


def test_a_plan_counts_at_a_mark_in_the_period_and_is_kept_unless_it_broke_before() -> None:
    q1 = (date(2025, 1, 1), date(2025, 3, 31))
    starts = [
        ("a", date(2024, 10, 10)),  # mark 10 Jan: in Q1, never broken: kept
        ("b", date(2024, 11, 1)),  # mark 1 Feb: in Q1, broke 31 Jan: not kept
        ("c", date(2024, 12, 5)),  # mark 5 Mar: in Q1, broke on the mark itself: kept
        ("d", date(2025, 1, 5)),  # mark 5 Apr: after Q1, not counted yet
        ("e", date(2024, 9, 30)),  # mark 30 Dec 2024: before Q1
    ]
    breaks = {"b": date(2025, 1, 31), "c": date(2025, 3, 5), "d": date(2025, 1, 20)}
    assert kept_counts(starts, breaks, 3, *q1) == (2, 3)


def test_one_case_closed_paid_makes_its_person_debt_free_that_day() -> None:
    spans = [CaseSpan(1, date(2025, 1, 1), date(2025, 2, 1), "paid")]
    assert debt_free_days(spans, date(2025, 1, 1), date(2025, 3, 31)) == {(1, date(2025, 2, 1))}


def test_a_person_with_another_open_case_is_not_debt_free_until_it_closes() -> None:
    spans = [
        CaseSpan(1, date(2024, 12, 1), date(2025, 3, 1), "paid"),
        CaseSpan(1, date(2025, 1, 2), date(2025, 3, 10), "paid"),
        CaseSpan(1, date(2025, 3, 20), None, None),  # opened after: does not matter
    ]
    assert debt_free_days(spans, date(2025, 1, 1), date(2025, 3, 31)) == {(1, date(2025, 3, 10))}


def test_a_write_off_or_a_recall_does_not_make_anyone_debt_free() -> None:
    spans = [
        CaseSpan(1, date(2025, 1, 1), date(2025, 2, 1), "written_off"),
        CaseSpan(2, date(2025, 1, 1), date(2025, 2, 1), "recalled"),
    ]
    assert debt_free_days(spans, date(2025, 1, 1), date(2025, 3, 31)) == set()


def test_closing_the_last_open_case_as_written_off_does_not_count_an_earlier_payment() -> None:
    spans = [
        CaseSpan(1, date(2025, 1, 1), date(2025, 1, 10), "paid"),
        CaseSpan(1, date(2025, 1, 1), date(2025, 2, 1), "written_off"),
    ]
    assert debt_free_days(spans, date(2025, 1, 1), date(2025, 3, 31)) == set()


# (person, opened day, closed day or None, close reason), days counted from 1 January 2025
RAW_SPANS = st.lists(
    st.tuples(
        st.integers(min_value=1, max_value=5),
        st.integers(min_value=0, max_value=80),
        st.one_of(st.none(), st.integers(min_value=0, max_value=80)),
        st.sampled_from(["paid", "settled", "written_off", "recalled"]),
    ),
    max_size=12,
)


@given(RAW_SPANS, st.integers(min_value=0, max_value=89))
def test_debt_free_days_of_a_period_are_those_of_its_two_parts(
    raw: list[tuple[int, int, int | None, str]], split: int
) -> None:
    """Becoming debt-free is dated: [a, c] has exactly the days of [a, b] and [b+1, c]."""
    a = date(2025, 1, 1)
    c = a + timedelta(days=89)
    b = a + timedelta(days=split)
    spans = [
        CaseSpan(
            who,
            a + timedelta(days=o),
            None if d is None else a + timedelta(days=max(o, d)),
            None if d is None else reason,
        )
        for who, o, d, reason in raw
    ]
    first = debt_free_days(spans, a, b)
    second = debt_free_days(spans, b + timedelta(days=1), c)
    assert debt_free_days(spans, a, c) == first | second
    assert not first & second


@given(RAW_SPANS)
def test_debt_free_days_equal_the_definition_checked_day_by_day(
    raw: list[tuple[int, int, int | None, str]],
) -> None:
    """The definition, read literally for every day and person (people with one dossier
    take a shortcut in the code; this catches it disagreeing with the rest)."""
    a = date(2025, 1, 1)
    c = a + timedelta(days=45)
    spans = [
        CaseSpan(
            who,
            a + timedelta(days=o - 10),
            None if d is None else a + timedelta(days=max(o, d) - 10),
            None if d is None else reason,
        )
        for who, o, d, reason in raw
    ]
    expected = set()
    for offset in range((c - a).days + 1):
        day = a + timedelta(days=offset)
        for who in {s.person for s in spans}:
            mine = [s for s in spans if s.person == who]
            closes_today = any(
                s.closed_on == day and s.close_reason in ("paid", "settled") for s in mine
            )
            all_closed = all(
                s.closed_on is not None and s.closed_on <= day for s in mine if s.opened_on <= day
            )
            if closes_today and all_closed:
                expected.add((who, day))
    assert debt_free_days(spans, a, c) == expected
