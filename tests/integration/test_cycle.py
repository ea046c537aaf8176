"""The nightly cycle on SQLite and PostgreSQL: law, strategy, holds, idempotency."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import Engine, func, insert, select, text

from respite.adapters.db.models import Case, Claim, Hold, LedgerEntry, OutboxMessage
from respite.domain.money import Money
from respite.errors import ConflictError
from respite.services.calculators import interest
from respite.services.cycle import run_cycle
from respite.services.payments import book_payment

from .portfolio import NOW, build, snapshot

START = date(2025, 1, 15)


def run_days(engine: Engine, first: date, days: int) -> None:
    for n in range(days):
        run_cycle(engine, first + timedelta(days=n), batch_size=7)


def test_nightly_interest_adds_up_to_the_calculators_figure(db_engine: Engine) -> None:
    """Invariant: 45 nights of accrual equal `calc interest` for the same period, ±1 cent."""
    build(db_engine, cases=5, on=START)
    with db_engine.begin() as conn:  # freeze costs out of the picture: no notice yet
        conn.execute(text("UPDATE cases SET interest_frozen = false"))
    run_days(db_engine, START, 46)  # accrues [default_start, START+45)
    with db_engine.connect() as conn:
        rows = conn.execute(
            select(
                Claim.default_start,
                Claim.principal_cents,
                Claim.open_interest_cents,
                Claim.interest_carry_micros,
            )
        ).all()
    for start, principal, posted, carry in rows:
        expected = interest(
            "NL", "consumer", Money.from_minor_units(principal), start, START + timedelta(days=45)
        )
        exact_cents = posted + carry // 1_000_000
        assert abs(exact_cents - Money.of(expected["interest"]).minor_units) <= 1


def test_the_strategy_sends_the_formal_notice_and_costs_follow_its_term(db_engine: Engine) -> None:
    (case_id,) = build(db_engine, cases=1, on=START)
    run_days(db_engine, START, 40)
    with db_engine.connect() as conn:
        case = conn.execute(select(Case).where(Case.id == case_id)).one()
        outbox = conn.execute(
            select(OutboxMessage.business_date, OutboxMessage.template).order_by(
                OutboxMessage.business_date
            )
        ).all()
        costs = conn.execute(
            select(LedgerEntry.on_date, LedgerEntry.amount_cents).where(
                LedgerEntry.bucket == "costs", LedgerEntry.kind == "charge"
            )
        ).all()
        principal = conn.execute(select(Claim.principal_cents)).scalar_one()
    templates = [(d - START).days for d, _ in outbox], [t for _, t in outbox]
    assert templates[1][:3] == ["friendly_reminder", "friendly_nudge", "formal_notice"]
    assert templates[0][:3] == [0, 6, 12]
    notice_day = START + timedelta(days=12)  # Monday 2025-01-27
    assert case.notice_sent_on == notice_day
    # NL: letter on Monday 27 Jan -> 2nd delivery day Wed 29 Jan -> term to 12 Feb -> 13 Feb.
    assert case.costs_chargeable_from == date(2025, 2, 13)
    # EUR 50 principal: the statutory minimum of EUR 40 (Besluit BIK art. 2 lid 2).
    assert principal == 5000
    assert costs == [(date(2025, 2, 13), 4000)]
    assert case.stage == "amicable"  # 24 days after the notice


def test_costs_are_recomputed_on_a_partial_payment_inside_the_term(db_engine: Engine) -> None:
    (case_id,) = build(db_engine, cases=1, on=START)
    with db_engine.begin() as conn:
        conn.execute(
            text("UPDATE claims SET principal_cents = 100000, open_principal_cents = 100000")
        )
    run_days(db_engine, START, 20)  # notice on day 12
    with db_engine.begin() as conn:
        book_payment(
            conn, case_id, 60000, START + timedelta(days=20), "bank-1", now=NOW, jurisdiction="NL"
        )
    run_days(db_engine, START + timedelta(days=20), 15)
    with db_engine.connect() as conn:
        costs = conn.execute(
            select(LedgerEntry.amount_cents).where(
                LedgerEntry.bucket == "costs", LedgerEntry.kind == "charge"
            )
        ).scalar_one()
        open_principal = conn.execute(select(Claim.open_principal_cents)).scalar_one()
    # The payment went to interest first (6:44), the rest to principal; costs are 15 % of
    # the principal still open at the end of the term (HR 2016:2704), not of 1,000.
    assert costs == Money.from_minor_units(open_principal).times(Decimal("0.15")).minor_units
    assert costs < 15000


def test_a_hold_stops_interest_messages_and_moves(db_engine: Engine) -> None:
    (case_id,) = build(db_engine, cases=1, on=START)
    with db_engine.begin() as conn:
        conn.execute(
            insert(Hold).values(
                case_id=case_id,
                kind="dispute",
                start=START,
                reason="debtor disputes the bill",
                placed_by="agent",
            )
        )
    run_days(db_engine, START, 40)
    with db_engine.connect() as conn:
        assert conn.execute(select(Case.stage)).scalar_one() == "friendly_reminder"
        assert conn.execute(select(OutboxMessage.id)).first() is None
        claim = conn.execute(select(Claim.open_interest_cents, Claim.interest_carry_micros)).one()
    assert tuple(claim) == (0, 0)


def test_running_the_same_date_twice_changes_nothing(db_engine: Engine) -> None:
    build(db_engine, cases=30, on=START)
    run_days(db_engine, START, 14)
    before = snapshot(db_engine)
    report = run_cycle(db_engine, START + timedelta(days=13), batch_size=7)
    assert report.cases == 0
    assert snapshot(db_engine) == before


def test_an_earlier_date_than_the_last_cycle_is_refused(db_engine: Engine) -> None:
    build(db_engine, cases=3, on=START)
    run_cycle(db_engine, START + timedelta(days=3))
    with pytest.raises(ConflictError, match="already ran for 2025-01-18"):
        run_cycle(db_engine, START + timedelta(days=2))


def test_a_case_paid_in_full_is_closed_and_thanked(db_engine: Engine) -> None:
    (case_id,) = build(db_engine, cases=1, on=START)
    run_cycle(db_engine, START)
    with db_engine.begin() as conn:
        total = conn.execute(
            select(Claim.open_principal_cents + Claim.open_interest_cents + Claim.open_costs_cents)
        ).scalar_one()
        carry = conn.execute(select(Claim.interest_carry_micros)).scalar_one()
        book_payment(
            conn,
            case_id,
            total + carry // 1_000_000 + 1,
            START + timedelta(days=1),
            "bank-2",
            now=NOW,
            jurisdiction="NL",
        )
    run_cycle(db_engine, START + timedelta(days=1))
    with db_engine.connect() as conn:
        case = conn.execute(select(Case.closed, Case.close_reason)).one()
        assert tuple(case) == (True, "paid")
        assert conn.execute(
            select(OutboxMessage.template).where(OutboxMessage.template == "paid_thank_you")
        ).scalar_one()
        assert (
            conn.execute(select(Claim.credit_cents)).scalar_one() == 1
        )  # the overpaid cent waits for a refund


def test_booking_the_same_payment_twice_books_it_once(db_engine: Engine) -> None:
    (case_id,) = build(db_engine, cases=1, on=START)
    with db_engine.begin() as conn:
        assert (
            book_payment(conn, case_id, 1000, START, "bank-3", now=NOW, jurisdiction="NL") is True
        )
    with db_engine.begin() as conn:
        assert (
            book_payment(conn, case_id, 1000, START, "bank-3", now=NOW, jurisdiction="NL") is False
        )
        assert (
            conn.execute(select(LedgerEntry.id).where(LedgerEntry.kind == "payment"))
            .all()
            .__len__()
            == 1
        )


def test_a_small_rest_after_the_principal_is_written_off_by_creditor_policy(
    db_engine: Engine,
) -> None:
    (case_id,) = build(db_engine, cases=1, on=START)
    with db_engine.begin() as conn:
        conn.execute(
            text("UPDATE creditors SET policy = :p"),
            {"p": '{"small_balance_write_off_cents": 500}'},
        )
    run_days(db_engine, START, 40)  # interest posted at the month end; costs after the notice
    with db_engine.begin() as conn:
        principal = conn.execute(select(Claim.open_principal_cents)).scalar_one()
        rest = conn.execute(select(Claim.open_interest_cents + Claim.open_costs_cents)).scalar_one()
        # Pays exactly the principal (allocation goes to costs and interest first: 6:44).
        book_payment(
            conn,
            case_id,
            principal,
            START + timedelta(days=40),
            "bank-4",
            now=NOW,
            jurisdiction="NL",
        )
    run_cycle(db_engine, START + timedelta(days=40))
    with db_engine.connect() as conn:
        closed = tuple(conn.execute(select(Case.closed, Case.close_reason)).one())
        written = conn.execute(
            select(func.sum(LedgerEntry.amount_cents)).where(LedgerEntry.kind == "write_off")
        ).scalar()
    # The rest (EUR 40 costs + interest) is above EUR 5: it stays open and is not written off.
    assert rest > 500
    assert closed == (False, None)
    assert written is None
    with db_engine.begin() as conn:
        open_now = conn.execute(
            select(Claim.open_principal_cents + Claim.open_interest_cents + Claim.open_costs_cents)
        ).scalar_one()
        book_payment(
            conn,
            case_id,
            open_now - 300,
            START + timedelta(days=41),
            "bank-5",
            now=NOW,
            jurisdiction="NL",
        )
    run_cycle(db_engine, START + timedelta(days=41))
    with db_engine.connect() as conn:
        assert tuple(conn.execute(select(Case.closed, Case.close_reason)).one()) == (
            True,
            "settled",
        )
        written = conn.execute(
            select(func.sum(LedgerEntry.amount_cents)).where(LedgerEntry.kind == "write_off")
        ).scalar()
    assert written is not None
    assert 300 <= written <= 301  # the EUR 3.00 left (plus at most a cent of the night's interest)


def test_nightly_accrual_capitalises_on_the_anniversary_like_the_calculator(
    db_engine: Engine,
) -> None:
    """Invariant: across an anniversary of default (6:119 lid 2 BW) the nightly cycle and
    `calc interest` agree within a cent."""
    build(db_engine, cases=3, on=START)
    default_start = START - timedelta(days=358)  # the first anniversary falls on START + 7
    with db_engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE claims SET default_start = :d, interest_accrued_to = :d, principal_cents = 1000000, open_principal_cents = 1000000"
            ),
            {"d": default_start},
        )
        conn.execute(text("UPDATE cases SET interest_frozen = false"))
    end = START + timedelta(days=20)
    for n in range(
        21
    ):  # night D accrues [accrued_to, D): after START+20, [default_start, START+20)
        run_cycle(db_engine, START + timedelta(days=n), batch_size=7)
    with db_engine.connect() as conn:
        rows = conn.execute(
            select(Claim.open_interest_cents, Claim.interest_carry_micros, Claim.capitalised_cents)
        ).all()
    expected = interest("NL", "consumer", Money.of("10000"), default_start, end)
    assert expected["capitalised"], "the period must cross an anniversary"
    for posted, carry, capitalised in rows:
        assert capitalised > 0
        assert abs(posted + carry // 1_000_000 - Money.of(expected["interest"]).minor_units) <= 1


def test_a_night_past_the_rate_tables_coverage_waits_for_the_rate_and_the_rest_goes_on(
    db_engine: Engine,
) -> None:
    """Never a silent default: interest waits, a warning names the table, steps still run."""
    opened = date(2026, 7, 1)  # the NL tables are known up to 2026-06-30
    build(db_engine, cases=2, on=opened)
    assert run_cycle(db_engine, opened).warnings == {}  # accrues days up to 30 June: known
    report = run_cycle(db_engine, opened + timedelta(days=6))  # would need 1..6 July
    assert any("known up to 2026-06-30" in w for w in report.warnings)
    with db_engine.connect() as conn:
        accrued = {d for (d,) in conn.execute(select(Claim.interest_accrued_to))}
        # Nothing accrued past the table, nothing skipped: it resumes from 1 July.
        assert accrued == {opened}
        templates = [
            t for (t,) in conn.execute(select(OutboxMessage.template).order_by(OutboxMessage.id))
        ]
    assert templates == ["friendly_reminder"] * 2 + ["friendly_nudge"] * 2  # the strategy goes on
