"""The social collection report on a small constructed timeline, on SQLite and PostgreSQL.

Six dossiers of five people at two creditors (Water in EUR, Telecom in PLN), with every
kind of event the report reads. Each expected figure is worked out by hand in the comment
beside it, from the history below; the period is the first quarter of 2025.
"""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, insert

from respite.adapters.db.models import CostWaiver, Event
from respite.domain.money import Money
from respite.domain.social_report import AGENCY, METRICS, Report, Unit
from respite.errors import InputError, ValidationError
from respite.services.social_report import social_report
from respite.services.store import (
    NewCase,
    NewClaim,
    NewDebtor,
    ensure_creditor,
    event_row,
    open_cases,
    upsert_debtors,
)

from .portfolio import NOW

Q1 = (date(2025, 1, 1), date(2025, 3, 31))
WATER, TELECOM = "Water", "Telecom"
D = date.fromisoformat


def _open(conn: Any, creditor: int, key: str, on: str, currency: str) -> int:
    claim = NewClaim(
        f"INV-{key}-{on}",
        D(on) - timedelta(days=40),
        D(on) - timedelta(days=10),
        Money.of("100.00", currency),
    )
    (case_id,) = open_cases(
        conn,
        creditor,
        [NewCase(key, (claim,))],
        _debtor_ids,
        on=D(on),
        actor="intake",
        reason="test",
        now=NOW,
    )
    return case_id


_debtor_ids: dict[str, int] = {}


def build(engine: Engine) -> dict[str, int]:
    """The history; returns case ids by name (c1 … c6)."""
    with engine.begin() as conn:
        water = ensure_creditor(conn, WATER, jurisdiction="NL", currency="EUR", now=NOW)
        telecom = ensure_creditor(conn, TELECOM, jurisdiction="PL", currency="PLN", now=NOW)
        people = [
            NewDebtor("p1", "consumer", "Anna", "NL", "nl", "Europe/Amsterdam"),
            NewDebtor("p2", "business", "Bakkerij BV", "NL", "nl", "Europe/Amsterdam"),
            NewDebtor("p3", "consumer", "Carel", "NL", "nl", "Europe/Amsterdam"),
            NewDebtor("p5", "consumer", "Eva", "NL", "nl", "Europe/Amsterdam"),
            NewDebtor("p6", "business", "Fabryka sp. z o.o.", "PL", "pl", "Europe/Warsaw"),
        ]
        _debtor_ids.clear()
        _debtor_ids.update(upsert_debtors(conn, people, now=NOW))
        c = {
            "c1": _open(conn, water, "p1", "2024-12-01", "EUR"),
            "c2": _open(conn, water, "p2", "2025-01-05", "EUR"),
            "c3": _open(conn, water, "p3", "2024-10-01", "EUR"),
            "c5": _open(conn, water, "p5", "2024-06-01", "EUR"),
            "c4": _open(conn, telecom, "p1", "2025-01-02", "PLN"),
            "c6": _open(conn, telecom, "p6", "2025-02-01", "PLN"),
        }

        def ev(
            case: str,
            on: str,
            kind: str,
            after: dict[str, Any],
            *,
            actor: str = "agent",
            before: dict[str, Any] | None = None,
        ) -> dict[str, Any]:
            return event_row(c[case], D(on), NOW, actor, kind, "test", after, before)

        def close(case: str, on: str, reason: str) -> dict[str, Any]:
            return ev(
                case,
                on,
                "transition",
                {"stage": "closed", "close_reason": reason},
                before={"stage": "amicable"},
            )

        def hold(
            case: str,
            on: str,
            was: str,
            now: str,
            *,
            kind: str = "hold_placed",
            actor: str = "agent",
        ) -> dict[str, Any]:
            return ev(case, on, kind, {"holds": now}, before={"holds": was}, actor=actor)

        def message(case: str, on: str, mid: int, channel: str, b1: bool) -> dict[str, Any]:
            return ev(
                case,
                on,
                "message_sent",
                {"message_id": mid, "channel": channel, "b1": b1},
                actor="messaging",
            )

        rows = [
            close("c5", "2024-12-15", "paid"),
            # c1 (Water, Anna): pays, one payment reversed, closed paid on 1 March.
            ev("c1", "2025-01-10", "payment_received", {"amount_cents": 10000}, actor="payments"),
            ev("c1", "2025-02-15", "payment_received", {"amount_cents": 5000}, actor="payments"),
            ev("c1", "2025-02-20", "payment_reversed", {"amount_cents": 5000}, actor="payments"),
            close("c1", "2025-03-01", "paid"),
            # c2 (Water, Bakkerij): dispute, a plan made in the portal, broken; screened.
            hold("c2", "2025-01-07", "", "dispute"),
            hold("c2", "2025-01-20", "dispute", "", kind="hold_lifted"),
            ev(
                "c2",
                "2025-01-10",
                "plan_started",
                {"plan": 1, "months": 6, "interest_frozen": True},
                actor="portal:debtor",
            ),
            ev("c2", "2025-03-20", "plan_broken", {"plan": 1}, actor="cycle"),
            ev("c2", "2025-01-06", "portal_login", {}, actor="portal:debtor"),
            ev("c2", "2025-01-06", "portal_login", {}, actor="portal:debtor"),
            ev(
                "c2",
                "2025-02-05",
                "screening",
                {"outcome": "proceed", "court_costs_avoided_cents": 0, "currency": "EUR"},
            ),
            ev(
                "c2",
                "2025-02-10",
                "transition",
                {"stage": "legal_handover"},
                before={"stage": "legal_screening"},
            ),
            ev("c2", "2025-02-28", "interest_not_charged", {"amount_cents": 321}, actor="cycle"),
            ev(
                "c2",
                "2025-01-20",
                "contact_deferred",
                {"message_id": 103, "rule": "quiet_hours", "channel": "sms"},
                actor="messaging",
            ),
            ev(
                "c2",
                "2025-01-20",
                "contact_deferred",
                {"message_id": 103, "rule": "quiet_hours", "channel": "sms"},
                actor="messaging",
            ),
            ev(
                "c2",
                "2025-01-21",
                "contact_deferred",
                {"message_id": 103, "rule": "daily_limit", "channel": "sms"},
                actor="messaging",
            ),
            # c3 (Water, Carel): a plan from 2024 kept to its 3-month mark (15 Feb), a
            # vulnerability review, then referred; written off on 5 February.
            ev("c3", "2024-11-15", "plan_started", {"plan": 2, "months": 12}, actor="agent"),
            hold("c3", "2025-01-03", "", "vulnerability_review"),
            hold(
                "c3", "2025-01-25", "vulnerability_review", "debt_counselling,vulnerability_review"
            ),
            ev("c3", "2025-01-30", "referral_accepted", {"referral": 1}),
            ev(
                "c3",
                "2025-02-01",
                "contact_blocked",
                {"message_id": 104, "rule": "hold", "channel": "post"},
                actor="messaging",
            ),
            close("c3", "2025-02-05", "written_off"),
            # c4 (Telecom, Anna again): screened negative, paid, closed on 10 March.
            ev(
                "c4",
                "2025-02-05",
                "screening",
                {
                    "outcome": "do_not_proceed",
                    "court_costs_avoided_cents": 150000,
                    "currency": "PLN",
                },
            ),
            ev("c4", "2025-03-10", "payment_received", {"amount_cents": 20000}, actor="payments"),
            close("c4", "2025-03-10", "paid"),
            # c6 (Telecom, Fabryka): a deferral by an agent, paid, closed on 20 February.
            hold("c6", "2025-02-02", "", "deferral"),
            ev("c6", "2025-02-20", "payment_received", {"amount_cents": 7000}, actor="payments"),
            close("c6", "2025-02-20", "paid"),
            # Messages: 100 covers c4 and c6 (one Telecom message), 102 covers c1 and c4
            # (one message for both creditors).
            message("c4", "2025-02-01", 100, "email", True),
            message("c6", "2025-02-01", 100, "email", True),
            message("c1", "2025-01-15", 101, "sms", False),
            message("c1", "2025-03-05", 102, "post", True),
            message("c4", "2025-03-05", 102, "post", True),
            ev("c1", "2025-01-11", "satisfaction", {"score": 4}, actor="portal:debtor"),
            ev("c4", "2025-01-12", "satisfaction", {"score": 5}, actor="portal:debtor"),
        ]
        conn.execute(insert(Event), rows)
        conn.execute(
            insert(CostWaiver),
            [
                {
                    "case_id": c["c2"],
                    "on_date": D("2025-01-15"),
                    "amount_cents": 1234,
                    "reason": "aggregation",
                    "detail": "",
                },
                {
                    "case_id": c["c4"],
                    "on_date": D("2025-02-01"),
                    "amount_cents": 500,
                    "reason": "policy_cap",
                    "detail": "",
                },
                {
                    "case_id": c["c1"],
                    "on_date": D("2025-03-15"),
                    "amount_cents": 100,
                    "reason": "replan",
                    "detail": "",
                },
            ],
        )
    return c


@pytest.fixture
def history(db_engine: Engine) -> Engine:
    build(db_engine)
    return db_engine


def _money(r: Report, metric: str, scope: str, currency: str) -> Decimal:
    value = r.value(metric, scope, currency)
    assert isinstance(value, Decimal)
    return value


def test_every_figure_equals_the_hand_computed_value(history: Engine) -> None:
    r = social_report(history, *Q1)
    assert r.scopes == (AGENCY, TELECOM, WATER)
    expected_counts = {
        # opened by 31 March and not closed before 1 January: c1 c2 c3 c4 c6 (c5 closed 2024)
        "dossiers_handled": (5, 3, 2),
        "dossiers_opened": (3, 1, 2),  # c2; c4 and c6
        "dossiers_closed": (4, 2, 2),  # c1 c3; c4 c6
        "closed_paid": (3, 1, 2),
        "closed_settled": (0, 0, 0),
        "closed_written_off": (1, 1, 0),
        "closed_recalled": (0, 0, 0),
        # Anna is free of debt on 10 March (c4 was still open on 1 March), Fabryka on 20
        # February. Towards Water alone Anna is free on 1 March; towards Telecom on 10 March.
        "debt_free_private": (1, 1, 1),
        "debt_free_business": (1, 0, 1),
        "arrangements_made": (1, 1, 0),  # plan 1; plan 2 started in 2024
        "arrangements_completed": (0, 0, 0),
        "arrangements_broken": (1, 1, 0),
        "interest_frozen_dossiers": (3, 2, 1),  # holds on c2 c3 c6, frozen plan on c2
        "referrals_debt_counselling": (1, 1, 0),
        "referrals_accepted": (1, 1, 0),
        "vulnerability_reviews": (1, 1, 0),
        "deferrals_granted": (1, 0, 1),
        "disputes_opened": (1, 1, 0),
        "disputes_resolved": (1, 1, 0),
        "screenings": (2, 1, 1),
        "screenings_negative": (1, 0, 1),
        "legal_handovers": (1, 1, 0),
        "portal_logins": (2, 2, 0),
        # 100, 101, 102 for the agency; 101 and 102 for Water; 100 and 102 for Telecom
        "messages_sent": (3, 2, 2),
        "messages_email": (1, 0, 1),
        "messages_sms": (1, 1, 0),
        "messages_post": (1, 1, 1),
        "messages_phone": (0, 0, 0),
        "contacts_deferred": (2, 2, 0),  # message 103 on 20 January (twice) and 21 January
        "contacts_blocked": (1, 1, 0),
        "satisfaction_responses": (2, 1, 1),
    }
    for metric, (agency, water, telecom) in expected_counts.items():
        assert (r.value(metric), r.value(metric, WATER), r.value(metric, TELECOM)) == (
            agency,
            water,
            telecom,
        ), metric
    # 100.00 + 50.00 − 50.00 at Water; 200.00 + 70.00 at Telecom
    assert _money(r, "amount_collected", AGENCY, "EUR") == Decimal("100.00")
    assert _money(r, "amount_collected", AGENCY, "PLN") == Decimal("270.00")
    assert _money(r, "amount_collected", WATER, "EUR") == Decimal("100.00")
    assert _money(r, "interest_not_charged", AGENCY, "EUR") == Decimal("3.21")
    assert _money(r, "costs_not_charged", AGENCY, "EUR") == Decimal("13.34")  # 12.34 + 1.00
    assert _money(r, "costs_not_charged", AGENCY, "PLN") == Decimal("5.00")
    assert _money(r, "costs_not_charged_no_stacking", AGENCY, "EUR") == Decimal("12.34")
    assert _money(r, "costs_not_charged_cap", TELECOM, "PLN") == Decimal("5.00")
    assert _money(r, "costs_not_charged_waived", WATER, "EUR") == Decimal("1.00")
    assert _money(r, "court_costs_avoided", AGENCY, "PLN") == Decimal("1500.00")
    assert _money(r, "court_costs_avoided", AGENCY, "EUR") == Decimal("0.00")
    # Shares: part of whole.
    shares = {
        "arrangements_kept_to_date": (Decimal("0.0"), 0, 1),  # plan 1 broke on 20 March
        "arrangements_kept_3m": (Decimal("100.0"), 1, 1),  # plan 2's mark: 15 February
        "arrangements_kept_6m": (None, 0, 0),  # plan 2's mark is 15 May
        "arrangements_kept_12m": (None, 0, 0),
        "self_service_share": (Decimal("50.0"), 1, 2),  # plan 1 in the portal; c6's deferral
        "messages_b1_share": (Decimal("66.7"), 2, 3),  # 100 and 102 of 100, 101, 102
        "satisfaction_average": (Decimal("4.50"), 9, 2),
    }
    for metric, (value, part, whole) in shares.items():
        (f,) = r.figures_of(metric)
        assert (f.value, f.part, f.whole) == (value, part, whole), metric
    # Days from opening to closing: c3 (vulnerable) 127; others c1 90, c4 67, c6 19.
    assert r.value("resolution_days_vulnerable") == Decimal("127.0")
    assert r.value("resolution_days_other") == Decimal("67.0")
    assert r.value("resolution_days_other", TELECOM) == Decimal("43.0")  # (67 + 19) / 2
    assert r.value("messages_b1_share", WATER) == Decimal("50.0")
    assert r.value("satisfaction_average", TELECOM) == Decimal("5.00")
    months = {(m.scope, m.month, m.currency): m.amount for m in r.collected_by_month}
    assert months[(AGENCY, "2025-02", "EUR")] == Decimal("0.00")  # 50.00 in, 50.00 reversed
    assert months[(AGENCY, "2025-03", "PLN")] == Decimal("200.00")


def _additive_values(r: Report, scope: str) -> Counter[tuple[str, str | None]]:
    out: Counter[tuple[str, str | None]] = Counter()
    for f in r.figures:
        metric = next(m for m in METRICS if m.id == f.metric)
        if f.scope == scope and metric.additive:
            assert f.value is not None
            out[(f.metric, f.currency)] += f.value  # type: ignore[assignment]
    return out


def _nonzero(values: Counter[tuple[str, str | None]]) -> dict[tuple[str, str | None], Any]:
    return {k: v for k, v in values.items() if v != 0}


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(split=st.integers(min_value=0, max_value=(Q1[1] - Q1[0]).days - 1))
def test_additive_figures_of_a_period_are_the_sum_over_its_two_parts(
    history: Engine, split: int
) -> None:
    """For every split day b: figure[a, c] == figure[a, b] + figure[b + 1, c], for each
    additive metric, each scope and each currency."""
    a, c = Q1
    b = a + timedelta(days=split)
    whole = social_report(history, a, c)
    first, second = social_report(history, a, b), social_report(history, b + timedelta(days=1), c)
    for scope in whole.scopes:
        total = _additive_values(first, scope)
        total.update(_additive_values(second, scope))
        assert _nonzero(_additive_values(whole, scope)) == _nonzero(total), (scope, b)


def test_creditor_figures_sum_to_the_agency_figure_where_the_metric_says_so(
    history: Engine,
) -> None:
    r = social_report(history, *Q1)
    for metric in METRICS:
        if not metric.creditor_additive or metric.unit is Unit.PERCENT:
            continue
        for currency in ("EUR", "PLN"):
            if metric.unit is not Unit.MONEY and currency == "PLN":
                continue
            cur = currency if metric.unit is Unit.MONEY else None
            agency = r.value(metric.id, AGENCY, cur)
            parts = [r.value(metric.id, s, cur) for s in (WATER, TELECOM)]
            assert agency == sum(p for p in parts if p is not None), metric.id
    # Not additive over creditors, by definition: Anna is debt-free once for the agency
    # but once towards each creditor.
    assert r.value("debt_free_private") == 1
    assert r.value("debt_free_private", WATER) + r.value("debt_free_private", TELECOM) == 2  # type: ignore[operator]


def test_one_creditors_report_equals_its_part_of_the_agency_report(history: Engine) -> None:
    agency = social_report(history, *Q1)
    water = social_report(history, *Q1, creditor=WATER)
    assert water.scopes == (WATER,)
    mine = {(f.metric, f.currency): f for f in agency.figures if f.scope == WATER}
    assert {(f.metric, f.currency): f for f in water.figures} == mine


def test_later_events_do_not_change_a_past_periods_report(history: Engine) -> None:
    before = social_report(history, *Q1)
    with history.begin() as conn:  # case 2 is c2 (cases are opened in order)
        conn.execute(
            insert(Event),
            [
                event_row(
                    2,
                    date(2025, 4, 2),
                    NOW,
                    "payments",
                    "payment_received",
                    "later",
                    {"amount_cents": 99900},
                ),
                event_row(
                    2,
                    date(2025, 4, 3),
                    NOW,
                    "cycle",
                    "transition",
                    "later",
                    {"stage": "closed", "close_reason": "paid"},
                ),
            ],
        )
    assert social_report(history, *Q1) == before


def test_a_period_that_ends_before_it_starts_or_an_unknown_creditor_is_refused(
    history: Engine,
) -> None:
    with pytest.raises(ValidationError, match="before it starts"):
        social_report(history, Q1[1], Q1[0])
    with pytest.raises(InputError, match="no creditor named 'Gas'"):
        social_report(history, *Q1, creditor="Gas")
