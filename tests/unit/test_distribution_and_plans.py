"""Distribution of capacity and the plan rules: invariants and social-collection choices."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from respite.domain.affordability import (
    Household,
    Statement,
    protected_income,
    repayment_capacity,
)
from respite.domain.distribution import (
    _segments_one_rank,
    _segments_ranked,
    coordinated_schedule,
    expand,
    split_cents,
)
from respite.domain.money import Currency, Money
from respite.domain.plans import (
    FollowUp,
    PlanPolicy,
    Route,
    add_months,
    evaluate_deferral,
    evaluate_proposal,
    first_due_date,
    follow_up,
    plan_options,
)
from respite.errors import ValidationError
from respite.rules.affordability import load_protected_income

cents = st.integers(min_value=0, max_value=5_000_000)
debts = st.lists(
    st.tuples(st.integers(1, 2_000_000), st.integers(0, 500_000), st.integers(0, 2)),
    min_size=1,
    max_size=20,
)


@given(cents, st.lists(st.integers(0, 10_000_000), min_size=1, max_size=20))
def test_split_parts_always_sum_exactly_to_the_total(total: int, weights: list[int]) -> None:
    """Largest remainder: no cent is created or lost, whatever the weights."""
    parts = split_cents(total, weights)
    assert sum(parts) == total
    assert all(p >= 0 for p in parts)


@given(st.integers(1, 5_000_000), st.lists(st.integers(1, 10_000_000), min_size=1, max_size=20))
def test_each_part_is_within_one_cent_of_its_exact_pro_rata_share(
    total: int, weights: list[int]
) -> None:
    """Pro rata by principal: |part − total × w / Σw| < 1 cent for every creditor."""
    parts = split_cents(total, weights)
    for part, w in zip(parts, weights, strict=True):
        assert abs(part * sum(weights) - total * w) < sum(weights)


@settings(max_examples=200)
@given(st.integers(1, 300_000), debts)
def test_a_schedule_pays_every_balance_exactly_and_asks_the_capacity_every_month_but_the_last(
    capacity: int, items: list[tuple[int, int, int]]
) -> None:
    """Σ months = every balance to the cent; each month but the last totals the capacity;
    a debt never receives more than it is owed."""
    names = [f"c{i}" for i in range(len(items))]
    principal = [p for p, _, _ in items]
    balance = [p + extra for p, extra, _ in items]
    ranks = [r for _, _, r in items]
    assume(sum(balance) <= capacity * 5000)
    months = coordinated_schedule(capacity, names, principal, balance, ranks, max_months=100_000)
    paid = dict.fromkeys(names, 0)
    for m in months:
        for name, amount in m.amounts.items():
            assert amount > 0
            paid[name] += amount
    assert paid == dict(zip(names, balance, strict=True))
    assert all(m.total == capacity for m in months[:-1])
    assert 0 < months[-1].total <= capacity
    assert [m.index for m in months] == list(range(len(months)))


@given(st.integers(1, 100_000), debts)
def test_a_higher_rank_is_served_in_full_before_a_lower_rank_gets_anything(
    capacity: int, items: list[tuple[int, int, int]]
) -> None:
    """Preferent (rank 0) debts take the first month's capacity before rank 1 and 2."""
    names = [f"c{i}" for i in range(len(items))]
    balance = [p + e for p, e, _ in items]
    ranks = [r for _, _, r in items]
    assume(sum(balance) <= capacity * 5000)
    first = coordinated_schedule(
        capacity, names, [p for p, _, _ in items], balance, ranks, max_months=100_000
    )[0]
    for rank in (1, 2):
        if any(first.amounts.get(n, 0) for n, r in zip(names, ranks, strict=True) if r == rank):
            higher = [b for b, r in zip(balance, ranks, strict=True) if r < rank]
            got = [first.amounts.get(n, 0) for n, r in zip(names, ranks, strict=True) if r < rank]
            assert got == higher


def test_a_too_long_schedule_is_refused_with_the_figures() -> None:
    with pytest.raises(ValidationError, match=r"within 12 months from 10\.00 a month"):
        coordinated_schedule(1000, ["a"], [50_000], [50_000], max_months=12)


POLICY = PlanPolicy(max_months=12, min_instalment_cents=2500)


@given(st.integers(1, 2_000_000), st.one_of(st.none(), st.integers(0, 200_000)))
def test_no_option_exceeds_the_capacity_or_the_policy(total: int, capacity: int | None) -> None:
    """Every offered plan pays the whole debt, within the term, at or below the capacity."""
    for o in plan_options(
        total, capacity_cents=capacity, policy=POLICY, first_due=date(2026, 12, 1)
    ):
        assert o.months <= POLICY.max_months
        assert o.instalment_cents * (o.months - 1) + o.last_instalment_cents == o.total_cents
        assert 0 < o.last_instalment_cents <= o.instalment_cents
        assert o.total_cents == total
        if capacity is not None:
            assert o.instalment_cents <= capacity
        if o.months > 1:
            assert o.instalment_cents >= POLICY.min_instalment_cents


def test_when_nothing_fits_there_is_no_option_to_force_on_the_debtor() -> None:
    assert (
        plan_options(1_000_000, capacity_cents=3000, policy=POLICY, first_due=date(2026, 1, 1))
        == []
    )


def test_a_proposal_within_policy_is_accepted_and_outside_goes_to_an_agent() -> None:
    ok = evaluate_proposal(
        total_cents=60_000, instalment_cents=5000, policy=POLICY, capacity_cents=6000
    )
    assert ok.route is Route.ACCEPT
    assert ok.reasons == ()
    long = evaluate_proposal(
        total_cents=60_000, instalment_cents=2500, policy=POLICY, capacity_cents=None
    )
    assert long.route is Route.REVIEW
    assert "24 months" in long.reasons[0]
    above = evaluate_proposal(
        total_cents=60_000, instalment_cents=10_000, policy=POLICY, capacity_cents=6000
    )
    assert above.route is Route.REVIEW
    assert "capacity" in above.reasons[0]


def test_first_due_date_falls_on_the_payday_at_least_the_minimum_days_ahead() -> None:
    assert first_due_date(date(2026, 11, 26), 25, 5) == date(2026, 12, 25)
    assert first_due_date(date(2026, 11, 10), 25, 5) == date(2026, 11, 25)
    assert first_due_date(date(2026, 11, 22), 25, 5) == date(2026, 12, 25)  # 25 Nov is too soon
    assert first_due_date(date(2027, 1, 20), 31, 5) == date(2027, 1, 31)
    assert first_due_date(date(2027, 1, 28), 31, 5) == date(2027, 2, 28)  # clamped
    assert add_months(date(2027, 1, 31), 1) == date(2027, 2, 28)


def test_a_deferral_within_policy_is_granted_and_a_longer_one_reviewed() -> None:
    p = PlanPolicy(max_deferral_days=30)
    assert evaluate_deferral(on=date(2026, 1, 1), days=30, policy=p).route is Route.ACCEPT
    assert evaluate_deferral(on=date(2026, 1, 1), days=31, policy=p).route is Route.REVIEW


def test_a_missed_instalment_gets_grace_then_a_reminder_then_a_replan_offer_then_breaks() -> None:
    p = PlanPolicy(grace_days=5, replan_offer_days=7, max_misses=2)
    due = date(2026, 3, 1)

    def at(days: int, status: str = "open", offered: bool = False, misses: int = 0) -> FollowUp:
        return follow_up(
            due=due,
            unpaid_cents=100,
            status=status,
            replan_offered=offered,
            misses_before=misses,
            on=due + timedelta(days=days),
            policy=p,
        )

    assert at(5) is FollowUp.NONE  # still inside the grace period
    assert at(6) is FollowUp.REMIND  # first miss: a friendly reminder, the plan stands
    assert at(12, "missed") is FollowUp.NONE
    assert at(13, "missed") is FollowUp.OFFER_REPLAN
    assert at(20, "missed", offered=True) is FollowUp.NONE
    assert at(6, misses=1) is FollowUp.BREAK  # the second miss reaches the policy's limit
    paid = follow_up(
        due=due,
        unpaid_cents=0,
        status="open",
        replan_offered=False,
        misses_before=1,
        on=due + timedelta(days=30),
        policy=p,
    )
    assert paid is FollowUp.NONE


def test_a_policy_with_a_wrong_type_is_refused_clearly() -> None:
    with pytest.raises(ValidationError, match="max_months"):
        PlanPolicy.from_policy({"max_months": "twelve"})
    assert PlanPolicy.from_policy({"max_months": 6, "other": 1}).max_months == 6


@settings(max_examples=300)
@given(st.integers(1, 300_000), debts)
def test_the_fast_path_without_ranks_gives_exactly_the_general_schedule(
    capacity: int, items: list[tuple[int, int, int]]
) -> None:
    """The optimised single-rank schedule equals the general ranked one, month for month."""
    names = [f"c{i}" for i in range(len(items))]
    principal = [p for p, _, _ in items]
    balance = [p + e for p, e, _ in items]
    assume(sum(balance) <= capacity * 5000)
    fast = _segments_one_rank(capacity, names, principal, list(balance), 100_000)
    general = _segments_ranked(capacity, names, principal, list(balance), [0] * len(items), 100_000)
    assert expand(fast) == expand(general)


@settings(max_examples=200)
@given(
    household=st.sampled_from(list(Household)),
    wages=st.integers(50_000, 600_000),
    housing=st.integers(0, 200_000),
    food=st.integers(0, 80_000),
    debt=st.integers(1, 3_000_000),
    day=st.dates(date(2025, 1, 1), date(2025, 12, 31)),
)
def test_no_plan_offered_ever_leaves_the_debtor_below_the_protected_minimum(
    household: Household, wages: int, housing: int, food: int, debt: int, day: date
) -> None:
    """Statement → protected income (NL) → capacity → options: net − instalment ≥ protected."""
    eur = Currency.EUR
    statement = Statement.from_lines(
        household,
        eur,
        {
            "wages": Money.from_minor_units(wages, eur),
            "housing": Money.from_minor_units(housing, eur),
            "food": Money.from_minor_units(food, eur),
        },
    )
    protected = protected_income(
        load_protected_income("NL"), household, Money.from_minor_units(wages, eur), day
    )
    capacity = repayment_capacity(statement, protected).capacity.minor_units
    for option in plan_options(debt, capacity_cents=capacity, policy=PlanPolicy(), first_due=day):
        assert wages - option.instalment_cents >= protected.protected.minor_units
        assert wages - option.instalment_cents - housing - food >= 0
