"""Interest not charged: what a freeze or a hold kept off a claim, recorded by the cycle.

One NL consumer claim of EUR 1,000.00 (in default since 1 February 2025). The statutory
consumer rate in 2025 is 6% (``rules/nl/interest.toml``: BWBR0047640 as amended per
1-1-2025), act/365. One day of interest on EUR 1,000.00 is therefore, in the cycle's
integer micro-cents (rounded down each night, as its own accrual is):
100,000 cents x 600 bp x 100 / 365 = 16,438,356 micro-cents (EUR 0.16438...).
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, select

from respite.adapters.db.models import Case, Claim, Event
from respite.domain.lifecycle import HoldKind
from respite.domain.money import Money
from respite.services import plans
from respite.services.cases import lift_hold, place_hold
from respite.services.cycle import run_cycle
from respite.services.social_report import social_report
from respite.services.store import (
    NewCase,
    NewClaim,
    NewDebtor,
    case_reference,
    ensure_creditor,
    open_cases,
    upsert_debtors,
)

from .portfolio import NOW

START = date(2025, 3, 3)
CREDITOR = "Waterbedrijf"
MICROS_PER_DAY = 100_000 * 600 * 100 // 365  # 16,438,356


def _open(engine: Engine, key: str) -> str:
    """A case with one claim of EUR 1,000.00, due 31 January 2025; its reference."""
    with engine.begin() as conn:
        creditor = ensure_creditor(conn, CREDITOR, jurisdiction="NL", currency="EUR", now=NOW)
        ids = upsert_debtors(
            conn,
            [NewDebtor(key, "consumer", f"Debtor {key}", "NL", "nl", "Europe/Amsterdam")],
            now=NOW,
        )
        claim = NewClaim(
            f"INV-{key}", date(2025, 1, 1), date(2025, 1, 31), Money.of("1000.00", "EUR")
        )
        (case_id,) = open_cases(
            conn,
            creditor,
            [NewCase(key, (claim,))],
            ids,
            on=START,
            actor="test",
            reason="test",
            now=NOW,
        )
    return case_reference(case_id)


def _nights(engine: Engine, first: date, last: date) -> None:
    day = first
    while day <= last:
        run_cycle(engine, day, now=lambda: NOW)
        day += timedelta(days=1)


def _not_charged(engine: Engine) -> list[tuple[date, dict[str, Any]]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(Event.business_date, Event.after)
            .where(Event.kind == "interest_not_charged")
            .order_by(Event.id)
        ).all()
    return [(d, dict(a)) for d, a in rows]


def _frozen_state(engine: Engine) -> list[tuple[int, date | None]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(Claim.frozen_interest_micros, Claim.frozen_interest_from).order_by(Claim.id)
        ).all()
    return [(int(m), f) for m, f in rows]


def _propose_frozen_plan(engine: Engine, ref: str) -> None:
    plan = plans.propose(
        engine,
        ref,
        on=date(2025, 3, 10),
        instalment_cents=10_000,
        at=NOW,
        proposed_by="debtor",
        payday=28,
    )
    assert plan["status"] == "active"


def _hold(engine: Engine, ref: str, *, lift: bool) -> None:
    (place_hold if not lift else lift_hold)(
        engine,
        ref,
        HoldKind.DISPUTE,
        on=date(2025, 3, 15 if lift else 5),
        actor="agent:test",
        reason="resolved" if lift else "disputed",
        at=NOW,
    )


def _plan_with_frozen_interest(engine: Engine) -> None:
    """A plan with frozen interest from 10 March (after that night's cycle)."""
    ref = _open(engine, "k-plan")
    _nights(engine, START, date(2025, 3, 10))
    _propose_frozen_plan(engine, ref)


def _held_for_nine_days(engine: Engine) -> None:
    """A dispute hold placed on 5 March (after that night's cycle), lifted on 15 March."""
    ref = _open(engine, "k-hold")
    _nights(engine, START, date(2025, 3, 5))
    _hold(engine, ref, lift=False)
    _nights(engine, date(2025, 3, 6), date(2025, 3, 14))
    _hold(engine, ref, lift=True)
    _nights(engine, date(2025, 3, 15), date(2025, 3, 20))


def test_a_plan_with_frozen_interest_records_what_the_month_did_not_charge(
    db_engine: Engine,
) -> None:
    _plan_with_frozen_interest(db_engine)
    _nights(db_engine, date(2025, 3, 11), date(2025, 3, 31))
    # Nothing is recorded while the month runs: the days are carried on the claim.
    assert _not_charged(db_engine) == []
    # Nights 11-31 March were frozen: the days 10-30 March (21 days so far).
    assert _frozen_state(db_engine) == [(21 * MICROS_PER_DAY, date(2025, 3, 10))]
    _nights(db_engine, date(2025, 4, 1), date(2025, 4, 1))
    # The first night of April adds 31 March and records the month: 22 days from 10 March.
    # EUR 1,000.00 x 6% x 22 / 365 = EUR 3.6164; nightly: 22 x 16,438,356 = 361,643,832
    # micro-cents -> 361 cents recorded, 643,832 micro-cents carried.
    assert _not_charged(db_engine) == [
        (
            date(2025, 4, 1),
            {"amount_cents": 361, "currency": "EUR", "from": "2025-03-10", "to": "2025-03-31"},
        )
    ]
    assert _frozen_state(db_engine) == [(22 * MICROS_PER_DAY - 361 * 1_000_000, None)]
    with db_engine.connect() as conn:
        assert conn.execute(select(Case.interest_frozen)).scalar() is True  # the plan runs on


def test_a_lifted_hold_records_the_interest_not_charged_over_its_days(db_engine: Engine) -> None:
    _held_for_nine_days(db_engine)
    # Held nights 6-14 March (the hold ends the day before it is lifted) did not charge
    # the days 5-13 March: 9 x 16,438,356 = 147,945,204 micro-cents -> 147 cents
    # (EUR 1,000.00 x 6% x 9 / 365 = EUR 1.4795). Recorded on the night the hold is gone.
    assert _not_charged(db_engine) == [
        (
            date(2025, 3, 15),
            {"amount_cents": 147, "currency": "EUR", "from": "2025-03-05", "to": "2025-03-13"},
        )
    ]
    assert _frozen_state(db_engine) == [(9 * MICROS_PER_DAY - 147 * 1_000_000, None)]


def test_the_report_shows_the_interest_not_charged_recorded_in_its_period(
    db_engine: Engine,
) -> None:
    held, planned = _open(db_engine, "k-hold"), _open(db_engine, "k-plan")
    day = START
    while day <= date(2025, 4, 1):  # the two histories above, on one timeline
        run_cycle(db_engine, day, now=lambda: NOW)
        if day == date(2025, 3, 5):
            _hold(db_engine, held, lift=False)
        if day == date(2025, 3, 10):
            _propose_frozen_plan(db_engine, planned)
        if day == date(2025, 3, 14):
            _hold(db_engine, held, lift=True)
        day += timedelta(days=1)

    def shown(lo: date, hi: date, scope: str | None = None) -> Decimal:
        value = social_report(db_engine, lo, hi).value("interest_not_charged", scope, "EUR")
        assert isinstance(value, Decimal)
        return value

    march = shown(date(2025, 3, 1), date(2025, 3, 31))
    april = shown(date(2025, 4, 1), date(2025, 4, 30))
    # The hold's EUR 1.47 is recorded on 15 March; the plan's March (EUR 3.61) on 1 April,
    # the night that closes the month.
    assert march == Decimal("1.47")
    assert april == Decimal("3.61")
    assert shown(date(2025, 3, 1), date(2025, 3, 14)) == Decimal("0.00")
    assert shown(date(2025, 3, 1), date(2025, 4, 30)) == march + april
    assert shown(date(2025, 3, 1), date(2025, 4, 30), CREDITOR) == Decimal("5.08")
