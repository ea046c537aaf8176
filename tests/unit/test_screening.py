"""The legal screening on constructed cases whose right answer is clear by hand."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from respite.domain.compliance import (
    Commitments,
    WkiRegistration,
    collection_allowed,
    parse_commitments,
)
from respite.domain.court_costs import Claimant, court_costs
from respite.domain.money import Currency, Money
from respite.domain.screening import (
    Alternative,
    Outcome,
    ProtectedStatus,
    ScreeningInputs,
    Sector,
    Thresholds,
    blocking_reasons,
    screen,
)
from respite.errors import ValidationError
from respite.rules.court_costs import load_court_costs

EUR = Currency.EUR
ON = date(2024, 5, 1)
NL = load_court_costs("NL")


def m(text: str) -> Money:
    return Money.of(text)


def case(
    principal: str = "1500.00",
    *,
    capacity: str | None = "200.00",
    protected: ProtectedStatus = ProtectedStatus.ABOVE_MINIMUM,
    other_total: str = "0.00",
    others: int = 0,
    creditors: int = 1,
    **changes: Any,
) -> ScreeningInputs:
    """A debtor who can pay EUR 200 a month, owes one creditor EUR 1,500, never paid."""
    total = m(principal)
    inputs = ScreeningInputs(
        currency=EUR,
        principal=total,
        interest=Money.zero(EUR),
        costs=Money.zero(EUR),
        court_costs=court_costs(NL, total, Claimant.LEGAL, ON),
        court_costs_unknown="",
        capacity=None if capacity is None else m(capacity),
        capacity_source="statement 1",
        protected=protected,
        protected_source="statement 1",
        other_debts_count=others,
        other_debts_total=m(other_total),
        creditors=creditors,
        vulnerable=False,
        holds=(),
        in_counselling=False,
        kept_plan=False,
        payments_last_12_months=0,
        paid_last_12_months=Money.zero(EUR),
        sector=Sector.TELECOM,
        personal_contact=True,
    )
    return replace(inputs, **changes)


DEFAULTS = Thresholds()


def test_a_debtor_who_can_pay_and_ignores_everything_is_a_proceed() -> None:
    # 1500 + court fee 328 + summons 112.37 + service 122.34 = 2062.71; at 200 a month that
    # is 11 months, net recovery 2062.71 - 562.71 = 1500.00.
    result = screen(case(), DEFAULTS)
    assert result.outcome is Outcome.PROCEED
    assert result.legal_costs == m("562.71")
    assert result.upfront_costs == m("440.37")
    assert result.expected_recovery == m("2062.71")
    assert result.expected_net_recovery == m("1500.00")
    assert result.months_to_recovery == 11
    assert result.court_costs_avoided == Money.zero(EUR)


def test_a_debtor_at_the_protected_minimum_is_never_a_proceed() -> None:
    result = screen(case(protected=ProtectedStatus.AT_MINIMUM), DEFAULTS)
    assert result.outcome is Outcome.ALTERNATIVE
    assert result.alternative is Alternative.REFERRAL
    assert result.court_costs_avoided == m("440.37")
    assert "protected minimum" in result.reasons[0]


def test_no_capacity_and_a_small_balance_is_written_off() -> None:
    result = screen(case("80.00", capacity="0.00"), DEFAULTS)
    assert (result.outcome, result.alternative) == (Outcome.ALTERNATIVE, Alternative.WRITE_OFF)


def test_unknown_capacity_asks_for_personal_contact_first() -> None:
    result = screen(case(capacity=None), DEFAULTS)
    assert result.alternative is Alternative.PERSONAL_CONTACT


@pytest.mark.parametrize(
    ("changes", "outcome", "alternative"),
    [
        ({"in_counselling": True}, Outcome.DO_NOT_PROCEED, None),
        ({"vulnerable": True}, Outcome.ALTERNATIVE, Alternative.REFERRAL),
        ({"holds": ("dispute",)}, Outcome.DO_NOT_PROCEED, None),
        ({"kept_plan": True}, Outcome.DO_NOT_PROCEED, None),
    ],
)
def test_a_protected_debtor_is_never_a_proceed(
    changes: dict[str, Any], outcome: Outcome, alternative: Alternative | None
) -> None:
    result = screen(case(**changes), DEFAULTS)
    assert (result.outcome, result.alternative) == (outcome, alternative)
    assert blocking_reasons(case(**changes))


def test_many_creditors_mean_a_referral_not_a_summons() -> None:
    result = screen(case(others=2, other_total="600.00", creditors=3), DEFAULTS)
    assert result.alternative is Alternative.REFERRAL


def test_a_housing_debt_gets_a_plan_instead_of_eviction_risk() -> None:
    result = screen(case(sector=Sector.HOUSING), DEFAULTS)
    assert result.alternative is Alternative.LONG_PLAN
    allowed = Thresholds.parse({"allow_essential_services": True})
    assert screen(case(sector=Sector.HOUSING), allowed).outcome is Outcome.PROCEED


def test_a_debtor_who_pays_gets_a_plan() -> None:
    result = screen(case(payments_last_12_months=2, paid_last_12_months=m("50.00")), DEFAULTS)
    assert result.alternative is Alternative.LONG_PLAN


def test_a_small_claim_does_not_pay_off() -> None:
    # 150 owed at 10 a month; legal costs 130 + 112.37 + 122.34 = 364.71; 36 months bring
    # 360.00 of the 514.71, so the net recovery is -4.71. It does not pay off, is too large
    # to write off (> 100) and fits a plan of 15 months.
    result = screen(case("150.00", capacity="10.00"), DEFAULTS)
    assert result.alternative is Alternative.LONG_PLAN
    assert result.expected_recovery == m("360.00")
    assert result.expected_net_recovery == m("-4.71")
    assert result.court_costs_avoided == m("242.37")


def test_the_personal_contact_commitment_holds_back_a_summons() -> None:
    commitments = parse_commitments(["personal_contact_before_summons"])
    result = screen(case(personal_contact=False, commitments=commitments), DEFAULTS)
    assert result.alternative is Alternative.PERSONAL_CONTACT
    assert screen(case(personal_contact=True, commitments=commitments), DEFAULTS).outcome is (
        Outcome.PROCEED
    )


def test_unknown_court_costs_are_never_a_proceed() -> None:
    result = screen(case(court_costs=None, court_costs_unknown="2025 not known"), DEFAULTS)
    assert result.outcome is Outcome.DO_NOT_PROCEED
    assert "2025 not known" in result.reasons[0]
    assert result.court_costs_avoided == Money.zero(EUR)


def test_the_explanation_lists_every_figure_with_its_source() -> None:
    result = screen(case(), DEFAULTS)
    figures = {line.figure for line in result.lines}
    for needed in (
        "outstanding total",
        "court fee",
        "bailiff: summons",
        "monthly repayment capacity",
        "protected minimum",
        "other open debts",
        "creditors",
        "vulnerable",
        "payments in the last 12 months",
        "expected net recovery",
        "months to recovery by suing",
        "threshold min_net_recovery",
    ):
        assert needed in figures
    assert all(line.source for line in result.lines)
    after = result.event_after()
    assert after["outcome"] == "proceed"
    assert after["court_costs_avoided_cents"] == 0
    assert after["upfront_costs_cents"] == 44037


def test_thresholds_come_from_the_creditor_policy() -> None:
    t = Thresholds.parse({"min_net_recovery": "2000.00"})
    assert t.source("min_net_recovery") == "creditor policy (screening.min_net_recovery)"
    assert t.source("max_plan_months") == "Respite default"
    assert screen(case(), t).outcome is not Outcome.PROCEED
    commitments = parse_commitments(["max_plan_months:12"])
    assert Thresholds.parse(None, commitments).max_plan_months == 12


@pytest.mark.parametrize(
    "policy",
    [
        {"min_net_recovery": 1.5},
        {"unknown": 1},
        {"max_plan_months": 0},
        {"min_recovery_ratio": "2"},
    ],
)
def test_a_bad_screening_policy_is_refused(policy: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        Thresholds.parse(policy)


def test_commitments_are_validated() -> None:
    assert parse_commitments(["b1_messages", "max_plan_months:24"]).max_plan_months == 24
    for bad in (["send_flowers"], "b1_messages", ["max_plan_months:x"], ["b1_messages:1"]):
        with pytest.raises(ValidationError):
            parse_commitments(bad)


def test_wki_registration_is_needed_for_dutch_natural_persons_only() -> None:
    reg = WkiRegistration("12345", date(2025, 3, 31))
    nl = {"debtor_kind": "consumer", "debtor_country": "NL"}
    assert not collection_allowed(None, **nl, on=ON).allowed
    assert collection_allowed(reg, **nl, on=date(2025, 3, 31)).allowed
    assert not collection_allowed(reg, **nl, on=date(2025, 4, 1)).allowed
    assert collection_allowed(None, debtor_kind="business", debtor_country="NL", on=ON).allowed
    assert collection_allowed(None, debtor_kind="consumer", debtor_country="BE", on=ON).allowed


# --- invariants --------------------------------------------------------------------------

amounts = st.decimals(min_value=Decimal("1.00"), max_value=Decimal("20000.00"), places=2)


@st.composite
def inputs(draw: st.DrawFn) -> ScreeningInputs:
    principal = draw(amounts)
    capacity = draw(st.none() | st.decimals(min_value=0, max_value=3000, places=2))
    return case(
        str(principal),
        capacity=None if capacity is None else str(capacity),
        protected=draw(st.sampled_from(ProtectedStatus)),
        other_total=str(draw(st.decimals(min_value=0, max_value=50000, places=2))),
        others=draw(st.integers(0, 6)),
        creditors=draw(st.integers(1, 6)),
        vulnerable=draw(st.booleans()),
        holds=draw(st.sampled_from([(), ("dispute",), ("deferral", "deceased")])),
        in_counselling=draw(st.booleans()),
        kept_plan=draw(st.booleans()),
        payments_last_12_months=draw(st.integers(0, 3)),
        sector=draw(st.sampled_from(Sector)),
        personal_contact=draw(st.booleans()),
        commitments=draw(
            st.sampled_from([Commitments(), parse_commitments(["personal_contact_before_summons"])])
        ),
    )


@settings(max_examples=300, deadline=None)
@given(inputs())
def test_protected_debtors_are_never_a_proceed(i: ScreeningInputs) -> None:
    """Held, in counselling, vulnerable, in a kept plan, at the protected minimum, or with
    no (known) capacity: the outcome is never proceed."""
    result = screen(i, DEFAULTS)
    protected = (
        i.holds
        or i.in_counselling
        or i.vulnerable
        or i.kept_plan
        or i.protected is ProtectedStatus.AT_MINIMUM
        or i.capacity is None
        or not i.capacity.is_positive
    )
    if protected:
        assert result.outcome is not Outcome.PROCEED


@settings(max_examples=300, deadline=None)
@given(inputs())
def test_a_negative_outcome_counts_the_upfront_costs_it_avoided(i: ScreeningInputs) -> None:
    """A proceed avoids nothing; any other outcome avoids exactly court fee + summons, and
    every outcome carries a reason and sourced figures."""
    result = screen(i, DEFAULTS)
    assert i.court_costs is not None
    if result.outcome is Outcome.PROCEED:
        assert result.court_costs_avoided.is_zero
        assert result.expected_net_recovery >= Money.of("100.00")
    else:
        assert result.court_costs_avoided == i.court_costs.total_upfront
    assert (result.alternative is not None) == (result.outcome is Outcome.ALTERNATIVE)
    assert result.reasons
    assert all(line.source for line in result.lines)
