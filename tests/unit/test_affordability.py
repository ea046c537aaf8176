"""Affordability: the statement validator and the protected-minimum invariants."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import ROUND_HALF_DOWN, Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from respite.domain.affordability import (
    CATEGORIES,
    BEProtectedIncomeRule,
    DeclaredTotals,
    Household,
    IncomeKind,
    NLProtectedIncomeRule,
    ReferenceBudget,
    Section,
    Statement,
    protected_income,
    repayment_capacity,
    validate_statement,
)
from respite.domain.money import Currency, Money
from respite.errors import RuleCoverageError, ValidationError
from respite.rules import affordability as rules
from respite.rules.affordability import load_protected_income, reference_budget
from respite.rules.loader import rules_dir
from respite.rules.tables import RuleTable

NL_RULE = load_protected_income("NL")
BE_RULE = load_protected_income("BE")
PL_RULE = load_protected_income("PL")
# Dates with every NL figure verified: 2024-01-01..2024-06-30 and all of 2025.
NL_DATES = st.one_of(
    st.dates(date(2024, 1, 1), date(2024, 6, 30)), st.dates(date(2025, 1, 1), date(2025, 12, 31))
)
HOUSEHOLDS = st.sampled_from(list(Household))
CENTS = st.integers(min_value=0, max_value=1_500_000)


def eur(cents: int, currency: Currency = Currency.EUR) -> Money:
    return Money.from_minor_units(cents, currency)


def nl_maximum(household: Household, on: date) -> Money:
    assert isinstance(NL_RULE, NLProtectedIncomeRule)
    row = NL_RULE.maximum.at(on).value
    assert row is not None
    return Money.rounded(row[household], Currency.EUR)


# NL --------------------------------------------------------------------------------


@given(HOUSEHOLDS, NL_DATES, CENTS)
def test_nl_protected_never_exceeds_the_maximum_for_household_and_date(
    household: Household, on: date, cents: int
) -> None:
    """protected ≤ the published maximum BVV for the household on that date, always."""
    result = protected_income(NL_RULE, household, eur(cents), on)
    assert result.protected <= nl_maximum(household, on)


@given(HOUSEHOLDS, NL_DATES, CENTS)
def test_nl_at_least_five_percent_of_income_remains_for_repayment(
    household: Household, on: date, cents: int
) -> None:
    """available = net − protected ≥ 5 % of net income (to the cent, rounded half-down:
    the 95 % is rounded half-up in the debtor's favour) and never negative."""
    net = eur(cents)
    result = protected_income(NL_RULE, household, net, on)
    assert result.protected + result.available == net
    five = (net.amount * Decimal("0.05")).quantize(Decimal("0.01"), rounding=ROUND_HALF_DOWN)
    assert result.available.amount >= five
    assert not result.available.is_negative


@given(HOUSEHOLDS, NL_DATES, CENTS)
def test_nl_protected_is_never_below_the_statutory_lower_bound(
    household: Household, on: date, cents: int
) -> None:
    """Low income: exactly 95 % of net income. Above the norm: at least 95 % of the norm
    (the statutory middle-income BVV starts there), so the approximation never protects
    less than the law."""
    assert isinstance(NL_RULE, NLProtectedIncomeRule)
    net = eur(cents)
    norm = Money.rounded(NL_RULE.norm.at(on).value[household], Currency.EUR)
    result = protected_income(NL_RULE, household, net, on)
    if net <= norm:
        assert result.regime == "low_income"
        assert result.protected == net.times(Decimal("0.95"))
    else:
        assert result.protected >= norm.times(Decimal("0.95"))


@given(HOUSEHOLDS, NL_DATES, CENTS, st.integers(min_value=1, max_value=100_000))
def test_nl_more_income_never_lowers_the_protected_amount(
    household: Household, on: date, cents: int, more: int
) -> None:
    """The protected amount is non-decreasing in net income."""
    low = protected_income(NL_RULE, household, eur(cents), on)
    high = protected_income(NL_RULE, household, eur(cents + more), on)
    assert high.protected >= low.protected


def test_nl_middle_income_is_capped_so_that_five_percent_remains() -> None:
    # Single, 2025-03-01: norm 1345.45, maximum 2071.24. 2000.00 net is above the norm and
    # 95 % of it (1900.00) is below the maximum: the approximation protects 1900.00.
    result = protected_income(NL_RULE, Household.SINGLE, Money.of("2000.00"), date(2025, 3, 1))
    assert result.regime == "middle_income"
    assert (str(result.protected), str(result.available)) == ("1900.00", "100.00")
    assert "compensatiekop is not modelled" in result.explanation


def test_nl_refuses_income_in_another_currency_and_negative_income() -> None:
    with pytest.raises(ValidationError, match="EUR"):
        protected_income(NL_RULE, Household.SINGLE, Money.of("100", "PLN"), date(2025, 1, 1))
    with pytest.raises(ValidationError, match="negative"):
        protected_income(NL_RULE, Household.SINGLE, Money.of("-1"), date(2025, 1, 1))


# BE and PL -------------------------------------------------------------------------


@given(
    st.dates(date(2024, 1, 1), date(2025, 12, 31)),
    CENTS,
    st.integers(min_value=0, max_value=6),
    st.sampled_from(list(IncomeKind)),
)
def test_be_seizable_part_is_within_income_and_children_only_lower_it(
    on: date, cents: int, children: int, kind: IncomeKind
) -> None:
    """0 ≤ seizable ≤ net; protected + seizable = net; a dependent child never raises it."""
    net = eur(cents)
    with_children = protected_income(
        BE_RULE, Household.SINGLE, net, on, children=children, income_kind=kind
    )
    without = protected_income(BE_RULE, Household.SINGLE, net, on, income_kind=kind)
    assert Money.zero() <= with_children.available <= net
    assert with_children.protected + with_children.available == net
    assert with_children.available <= without.available


@given(st.dates(date(2025, 1, 1), date(2026, 12, 31)), CENTS)
def test_pl_at_most_half_the_wage_and_never_below_the_free_amount(on: date, cents: int) -> None:
    """available ≤ 50 % of the net wage; protected ≥ min(net wage, net minimum wage)."""
    net = eur(cents, Currency.PLN)
    result = protected_income(PL_RULE, Household.SINGLE, net, on)
    free = Money.of("3605.85" if on.year == 2026 else "3510.92", Currency.PLN)
    assert result.available.amount * 2 <= net.amount
    assert result.protected >= net.min(free)
    assert not result.available.is_negative


# repayment capacity -----------------------------------------------------------------

AMOUNTS = st.integers(min_value=0, max_value=400_000)


@st.composite
def statements(draw: st.DrawFn) -> Statement:
    def section(names: tuple[str, ...]) -> dict[str, Money]:
        chosen = draw(st.lists(st.sampled_from(names), unique=True, max_size=len(names)))
        return {name: eur(draw(AMOUNTS)) for name in chosen}

    savings = draw(st.one_of(st.none(), AMOUNTS.map(eur)))
    return Statement(
        draw(HOUSEHOLDS),
        Currency.EUR,
        section(CATEGORIES[Section.INCOME]),
        section(CATEGORIES[Section.FIXED]),
        section(CATEGORIES[Section.FLEXIBLE]),
        savings,
    )


@settings(max_examples=300)
@given(statements(), NL_DATES, st.integers(min_value=-200_000, max_value=200_000))
def test_capacity_never_leaves_the_debtor_below_the_protected_minimum(
    statement: Statement, on: date, income_shift: int
) -> None:
    """Any plan paying at most the capacity leaves the debtor at least the protected amount
    of the income it was computed for and of the statement's income; the capacity is never
    negative and never more than income − expenditure − savings."""
    net = eur(max(0, statement.total_income.minor_units + income_shift))
    protected = protected_income(NL_RULE, statement.household, net, on)
    cap = repayment_capacity(statement, protected)
    assert not cap.capacity.is_negative
    assert cap.capacity <= cap.surplus.max(Money.zero())
    for instalment in (cap.capacity, cap.capacity.times(Decimal("0.5"))):
        assert net - instalment >= protected.protected
        assert statement.total_income - instalment >= protected.protected or cap.capacity.is_zero


def test_capacity_is_the_budget_surplus_when_the_protected_minimum_allows_it() -> None:
    statement = Statement.from_lines(
        Household.SINGLE,
        Currency.EUR,
        {"wages": Money.of("3000.00"), "housing": Money.of("900.00"), "food": Money.of("400.00")},
    )
    protected = protected_income(
        NL_RULE, Household.SINGLE, statement.total_income, date(2025, 3, 1)
    )
    cap = repayment_capacity(statement, protected)
    assert (str(cap.surplus), str(cap.protection_limit)) == ("1700.00", "928.76")
    assert (str(cap.capacity), cap.binding) == ("928.76", "protected_minimum")


def test_capacity_is_zero_when_spending_exceeds_income() -> None:
    statement = Statement.from_lines(
        Household.COUPLE,
        Currency.EUR,
        {"benefits": Money.of("1900.00"), "housing": Money.of("1200.00"), "food": Money.of("800")},
    )
    protected = protected_income(
        NL_RULE, Household.COUPLE, statement.total_income, date(2025, 3, 1)
    )
    cap = repayment_capacity(statement, protected)
    assert str(cap.surplus) == "-100.00"
    assert (str(cap.capacity), cap.binding) == ("0.00", "budget")


# the statement and its validation ----------------------------------------------------


def uk_sfs_1(*, fill_the_gap: bool = False) -> Statement:
    """MAPS SFS developer toolkit, dds/v1.1/json/sfs-summary-example-data.json, mapped to
    Respite's categories (several SFS lines share one category)."""
    g = Currency.GBP

    def p(text: str) -> Money:
        return Money.of(text, g)

    fixed = {
        "housing": p("797.50"),  # mortgage 650.50 + other home & contents 147.00
        "other_debts": p("120.52"),  # secured loans
        "local_taxes": p("75.90"),  # council tax / rates
        "energy": p("59.50"),  # gas 37.50 + electricity 22.00
        "water": p("16.67"),
        "transport": p("172.08"),
        "education": p("10.00"),  # school
        "insurance": p("240.00"),  # pensions & insurances
        "other_fixed": p("162.68" if not fill_the_gap else "517.42"),  # utilities + essential
    }
    return Statement(
        Household.COUPLE_WITH_CHILDREN,
        g,
        {"wages": p("3000.00"), "benefits": p("112.67"), "other_income": p("45.00")},
        fixed,
        {"leisure": p("95.00"), "food": p("788.33"), "personal_care": p("79.16")},
        savings=p("18.00"),
        declared=DeclaredTotals(
            income=p("3157.67"), fixed=p("2009.59"), flexible=p("962.49"), expenditure=p("2972.08")
        ),
    )


def test_uk_sfs_1_is_flagged_as_internally_inconsistent() -> None:
    # The toolkit's fixed-cost lines add up to £1,654.85, not the stated £2,009.59 (RULES.md).
    flags = validate_statement(uk_sfs_1(), None)
    inconsistent = [f for f in flags if f.severity == "inconsistent"]
    assert [(f.code, f.category) for f in inconsistent] == [("subtotal_mismatch", "fixed")]
    message = inconsistent[0].message
    for figure in ("1654.85", "2009.59", "354.74"):
        assert figure in message


def test_uk_sfs_1_with_consistent_lines_leaves_the_published_167_59() -> None:
    # Published: income 3,157.67 − outgoings 2,972.08 − savings 18 = 167.59 available.
    statement = uk_sfs_1(fill_the_gap=True)
    assert validate_statement(statement, None) == []
    surplus = statement.total_income - statement.total_expenditure - statement.savings_contribution
    assert str(surplus) == "167.59"


def reference() -> ReferenceBudget:
    ref = reference_budget("NL", date(2025, 3, 1))
    assert ref is not None
    return ref


def single(**lines: str) -> Statement:
    return Statement.from_lines(
        Household.SINGLE, Currency.EUR, {k: Money.of(v) for k, v in lines.items()}
    )


def test_unusual_values_are_flagged_for_confirmation_not_rejected() -> None:
    low = single(wages="2000", housing="700", energy="120", food="50.00")
    high = single(wages="2000", housing="700", energy="120", food="900.00")
    assert [(f.code, f.category, f.severity) for f in validate_statement(low, reference())] == [
        ("below_reference", "food", "confirm")
    ]
    assert [(f.code, f.category, f.severity) for f in validate_statement(high, reference())] == [
        ("above_reference", "food", "confirm")
    ]


def test_a_usual_statement_has_no_flags() -> None:
    ok = single(wages="2000", housing="700", energy="120", food="300")
    assert validate_statement(ok, reference()) == []


def test_missing_essentials_high_fixed_costs_and_a_deficit_ask_for_confirmation() -> None:
    statement = single(wages="1000", housing="900", food="300")
    codes = [(f.code, f.category) for f in validate_statement(statement, reference())]
    assert codes == [
        ("missing_expected", "energy"),
        ("fixed_costs_share_high", "fixed"),
        ("expenditure_exceeds_income", "statement"),
    ]


def test_a_declared_total_that_contradicts_its_sub_totals_is_flagged() -> None:
    statement = Statement.from_lines(
        Household.SINGLE,
        Currency.EUR,
        {"wages": Money.of("1500"), "housing": Money.of("600"), "food": Money.of("300")},
        declared=DeclaredTotals(
            income=Money.of("1500"), fixed=Money.of("600"), expenditure=Money.of("950")
        ),
    )
    flags = validate_statement(statement, None)
    assert [(f.code, f.severity) for f in flags] == [("total_mismatch", "inconsistent")]


def test_malformed_statements_are_input_errors() -> None:
    with pytest.raises(ValidationError, match="negative"):
        single(wages="-5")
    with pytest.raises(ValidationError, match="unknown category 'beer'"):
        single(beer="5")
    with pytest.raises(ValidationError, match="belongs to flexible costs"):
        Statement(Household.SINGLE, Currency.EUR, {}, {"food": Money.of("5")}, {})
    with pytest.raises(ValidationError, match="GBP"):
        Statement(Household.SINGLE, Currency.EUR, {"wages": Money.of("5", "GBP")}, {}, {})
    with pytest.raises(ValidationError, match="reference figures are in EUR"):
        validate_statement(uk_sfs_1(), reference())


def test_household_parses_the_cli_spelling() -> None:
    assert Household.parse("Single-Parent") is Household.SINGLE_PARENT
    assert Household.COUPLE_WITH_CHILDREN.cli_name == "couple-with-children"
    with pytest.raises(ValidationError, match="single, single-parent"):
        Household.parse("family")


# the rule files ---------------------------------------------------------------------


@pytest.fixture
def rules_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    target = tmp_path / "rules"
    shutil.copytree(rules_dir(), target)
    monkeypatch.setenv("RESPITE_RULES_DIR", str(target))
    rules.cache_clear()
    yield target
    monkeypatch.delenv("RESPITE_RULES_DIR")
    rules.cache_clear()


def test_every_protected_income_row_is_dated_and_sourced() -> None:
    for code in ("NL", "BE", "PL"):
        rule = load_protected_income(code)
        tables = (
            [rule.norm, rule.maximum]
            if isinstance(rule, NLProtectedIncomeRule)
            else [rule.scale]
            if isinstance(rule, BEProtectedIncomeRule)
            else [rule.free_amount]
        )
        for table in tables:
            assert isinstance(table, RuleTable)
            for row in table.rows:
                assert row.source.strip()
            assert table.covered_until is not None


def test_rules_dir_override_is_honoured(rules_copy: Path) -> None:
    path = rules_copy / "pl" / "protected_income.toml"
    path.write_text(path.read_text().replace('"3605.85"', '"3700.00"'))
    result = protected_income(
        load_protected_income("PL"), Household.SINGLE, Money.of("3700", "PLN"), date(2026, 3, 1)
    )
    assert str(result.available) == "0.00"


def test_a_float_amount_in_a_rule_file_is_refused(rules_copy: Path) -> None:
    path = rules_copy / "nl" / "protected_income.toml"
    path.write_text(path.read_text().replace('single = "2071.24"', "single = 2071.24"))
    with pytest.raises(ValidationError, match="quoted decimal"):
        load_protected_income("NL")


def test_a_day_after_coverage_is_a_rule_coverage_error_naming_the_file() -> None:
    on = date(2025, 12, 31) + timedelta(days=1)
    with pytest.raises(RuleCoverageError, match=r"protected_income\.toml"):
        protected_income(NL_RULE, Household.SINGLE, Money.of("1000"), on)
