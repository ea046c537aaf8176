"""Money: exact Decimal amounts, explicit rounding, and parsing of typed amounts."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from respite.domain.money import Currency, Money, allocate_pro_rata, parse_amount
from respite.errors import ValidationError

cents = st.integers(min_value=-(10**12), max_value=10**12)
positive_cents = st.integers(min_value=1, max_value=10**12)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1.234,56", "1234.56"),
        ("1,234.56", "1234.56"),
        ("1234.56", "1234.56"),
        ("1234,56", "1234.56"),
        ("1234", "1234.00"),
        ("12,5", "12.50"),
        ("0,05", "0.05"),
        ("1.234.567", "1234567.00"),
        ("1,234,567.8", "1234567.80"),
        ("1 234,56", "1234.56"),  # Polish and French grouping
        ("1\u00a0234,56", "1234.56"),  # no-break space, as pasted from a PDF
        ("€ 1.234,56", "1234.56"),
        ("1.234,56 EUR", "1234.56"),
        ("-12,50", "-12.50"),
        ("0.123", None),  # three decimals: refused below
    ],
)
def test_parse_amount_reads_both_styles(text: str, expected: str | None) -> None:
    if expected is None:
        with pytest.raises(ValidationError, match="decimals"):
            parse_amount(text)
    else:
        assert parse_amount(text) == Decimal(expected)


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("1.234", "ambiguous"),
        ("1,234", "ambiguous"),
        ("12,345", "ambiguous"),
        ("1.23.4", "three digits"),
        ("1,2345", "decimals"),
        ("1.234,567", "decimals"),
        ("1,23,456.00", "three digits"),
        ("1.234.56", "three digits"),
        ("1,234,56", "three digits"),
        ("12.34.56,00", "three digits"),
        ("1.234,56.78", "two decimal separators"),
        ("abc", "not an amount"),
        ("", "empty"),
        ("12 34", "three digits"),
        (".5", "not an amount"),
        ("1e5", "not an amount"),
        ("NaN", "not an amount"),
        ("100 zł", "in PLN, expected EUR"),
    ],
)
def test_parse_amount_refuses_ambiguous_or_malformed_input(text: str, why: str) -> None:
    with pytest.raises(ValidationError, match=why):
        parse_amount(text)


def test_decimal_separator_hint_settles_the_ambiguous_shape() -> None:
    assert parse_amount("1.234", decimal_separator=",") == Decimal("1234.00")
    assert parse_amount("1,234", decimal_separator=".") == Decimal("1234.00")
    # With ',' as the decimal separator, "1,234" has three decimals: refused, not rounded.
    with pytest.raises(ValidationError, match="decimals"):
        parse_amount("1,234", decimal_separator=",")


def test_money_refuses_floats_and_hidden_fractions_of_a_cent() -> None:
    with pytest.raises(TypeError):
        Money(0.1, Currency.EUR)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        Money.of(0.1)  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="round explicitly"):
        Money(Decimal("0.001"), Currency.EUR)


def test_money_refuses_to_mix_currencies() -> None:
    with pytest.raises(ValidationError, match="EUR with PLN"):
        Money.of("1", "EUR") + Money.of("1", "PLN")


def test_times_rounds_half_up_to_the_cent() -> None:
    assert Money.of("0.05").times(Decimal("0.5")) == Money.of("0.03")
    assert Money.of("267.67").times(Decimal("0.15")) == Money.of("40.15")  # 40.1505


@given(cents, st.sampled_from(list(Currency)))
def test_parse_reads_back_what_both_styles_print(units: int, currency: Currency) -> None:
    """Invariant: an amount printed as 1.234,56 or as 1,234.56 parses to the same value."""
    money = Money.from_minor_units(units, currency)
    sign = "-" if money.is_negative else ""
    whole, frac = f"{abs(money.amount):.2f}".split(".")
    grouped = f"{int(whole):,}"
    english = f"{sign}{grouped}.{frac}"
    continental = f"{sign}{grouped.replace(',', '.')},{frac}"
    assert parse_amount(english, currency) == money.amount
    assert parse_amount(continental, currency) == money.amount


@given(positive_cents, st.lists(st.integers(min_value=0, max_value=10**9), min_size=1, max_size=20))
def test_pro_rata_split_creates_and_loses_no_cent(units: int, weights: list[int]) -> None:
    """Invariant: the parts add up to the total exactly, and no part is negative."""
    if sum(weights) == 0:
        weights[0] = 1
    total = Money.from_minor_units(units)
    parts = allocate_pro_rata(total, [Decimal(w) for w in weights])
    assert sum(p.minor_units for p in parts) == units
    assert all(not p.is_negative for p in parts)
    for part, weight in zip(parts, weights, strict=True):
        exact = Decimal(units) * weight / sum(weights)
        assert abs(Decimal(part.minor_units) - exact) < 1  # never more than a cent off


@given(cents, cents)
def test_addition_and_subtraction_are_exact(a: int, b: int) -> None:
    """Invariant: (a + b) - b == a, in minor units, with no rounding anywhere."""
    x, y = Money.from_minor_units(a), Money.from_minor_units(b)
    assert ((x + y) - y) == x
    assert (x + y).minor_units == a + b
