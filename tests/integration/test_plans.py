"""Payment plans end to end: one debtor, three creditors, one schedule, missed instalments."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import Connection, Engine, func, select, update

from respite.adapters.db.models import (
    Case,
    Claim,
    Event,
    Hold,
    Instalment,
    LedgerEntry,
    OutboxMessage,
    Plan,
)
from respite.domain.money import Money
from respite.errors import ConflictError, NotAllowed
from respite.services import plans
from respite.services.cycle import run_cycle
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
PRINCIPALS = {"Energie Noord": "1200.00", "Water West": "300.00", "Telecom Zuid": "450.50"}


def three_creditors(engine: Engine, policy: dict[str, object] | None = None) -> list[str]:
    """One debtor with a case at each of three creditors; returns the case references."""
    refs = []
    with engine.begin() as conn:
        ids = upsert_debtors(
            conn,
            [NewDebtor("k-anna", "consumer", "Anna de Vries", "NL", "nl", "Europe/Amsterdam")],
            now=NOW,
        )
        for n, (name, amount) in enumerate(PRINCIPALS.items()):
            creditor = ensure_creditor(
                conn, name, jurisdiction="NL", currency="EUR", now=NOW, policy=policy
            )
            (case_id,) = open_cases(
                conn,
                creditor,
                [
                    NewCase(
                        "k-anna",
                        (
                            NewClaim(
                                f"INV-{n}",
                                START - timedelta(days=60),
                                START - timedelta(days=30),
                                Money.of(amount, "EUR"),
                            ),
                        ),
                    )
                ],
                ids,
                on=START,
                actor="test",
                reason="test",
                now=NOW,
            )
            refs.append(case_reference(case_id))
    return refs


def balances(conn: Connection) -> dict[int, int]:
    rows = conn.execute(
        select(
            Claim.case_id,
            func.sum(
                Claim.open_principal_cents + Claim.open_interest_cents + Claim.open_costs_cents
            ),
        ).group_by(Claim.case_id)
    ).all()
    return {int(c): int(b) for c, b in rows}


def test_a_coordinated_plan_shares_the_instalment_pro_rata_and_pays_every_balance(
    db_engine: Engine,
) -> None:
    refs = three_creditors(db_engine)
    for d in range(20):  # costs and interest arrive as the strategy runs
        run_cycle(db_engine, START + timedelta(days=d))
    on = START + timedelta(days=20)
    offer = plans.offer(db_engine, refs[0], on=on, all_cases=True, capacity_cents=10_000, payday=25)
    assert len(offer["cases"]) == 3
    assert all(Money.of(o["instalment"], "EUR").minor_units <= 10_000 for o in offer["options"])
    result = plans.propose(
        db_engine,
        refs[0],
        on=on,
        instalment_cents=10_000,
        at=NOW,
        proposed_by="debtor",
        all_cases=True,
        payday=25,
        capacity_cents=10_000,
    )
    assert result["status"] == "active"
    assert result["first_due"] == "2025-04-25"
    # Pro rata by principal: 1200 / 300 / 450.50 of 1950.50 -> 61.52 / 15.38 / 23.10.
    assert list(result["shares"].values()) == ["61.52", "15.38", "23.10"]
    with db_engine.connect() as conn:
        per_case = dict(
            conn.execute(
                select(Instalment.case_id, func.sum(Instalment.amount_cents)).group_by(
                    Instalment.case_id
                )
            ).all()
        )
        assert per_case == balances(conn)  # the schedule pays every balance to the cent
        monthly = (
            conn.execute(
                select(func.sum(Instalment.amount_cents))
                .group_by(Instalment.due_date)
                .order_by(Instalment.due_date)
            )
            .scalars()
            .all()
        )
        assert set(monthly[:-1]) == {10_000}
        assert set(conn.execute(select(Case.stage)).scalars()) == {"arrangement"}
        assert all(conn.execute(select(Case.interest_frozen)).scalars())
    with pytest.raises(ConflictError, match="already covers"):
        plans.propose(
            db_engine, refs[1], on=on, instalment_cents=5000, at=NOW, proposed_by="debtor"
        )


def test_a_missed_instalment_is_reminded_then_offered_a_replan_and_breaks_only_at_the_limit(
    db_engine: Engine,
) -> None:
    refs = three_creditors(
        db_engine, policy={"max_misses": 2, "grace_days": 5, "replan_offer_days": 7}
    )
    on = START + timedelta(days=1)
    run_cycle(db_engine, START)
    plan = plans.propose(
        db_engine,
        refs[0],
        on=on,
        instalment_cents=20_000,
        at=NOW,
        proposed_by="debtor",
        all_cases=True,
        payday=10,
    )
    first_due = date.fromisoformat(plan["first_due"])
    assert first_due == date(2025, 3, 10)
    day = on
    while day <= first_due + timedelta(days=13):
        run_cycle(db_engine, day)
        day += timedelta(days=1)
    with db_engine.connect() as conn:
        templates = conn.execute(
            select(OutboxMessage.template, OutboxMessage.business_date)
            .where(OutboxMessage.template.in_(("missed_instalment_friendly", "offer_replan")))
            .order_by(OutboxMessage.business_date)
        ).all()
        # One message per debtor (not one per creditor): a reminder after the 5-day grace
        # period, a re-plan offer seven days later.
        assert [(t, d) for t, d in templates] == [
            ("missed_instalment_friendly", first_due + timedelta(days=6)),
            ("offer_replan", first_due + timedelta(days=13)),
        ]
        assert conn.execute(select(Plan.status, Plan.misses)).one() == ("active", 1)
        costs_before = conn.execute(
            select(func.count()).select_from(LedgerEntry).where(LedgerEntry.bucket == "costs")
        ).scalar()
    # The debtor accepts the offer: a smaller instalment, the old plan superseded.
    new = plans.replan(
        db_engine, plan["plan"], on=day, instalment_cents=15_000, at=NOW, actor="debtor"
    )
    assert new["status"] == "active"
    with db_engine.connect() as conn:
        statuses = dict(conn.execute(select(Plan.id, Plan.status)).all())
        assert statuses == {plan["plan"]: "superseded", new["plan"]: "active"}
        # Re-planning never adds collection costs.
        assert (
            conn.execute(
                select(func.count()).select_from(LedgerEntry).where(LedgerEntry.bucket == "costs")
            ).scalar()
            == costs_before
        )
    # Two misses of the new plan: the first is reminded, the second breaks it.
    second_due = date.fromisoformat(new["first_due"])
    end = second_due + timedelta(days=40)
    while day <= end:
        run_cycle(db_engine, day)
        day += timedelta(days=1)
    with db_engine.connect() as conn:
        assert conn.execute(select(Plan.status).where(Plan.id == new["plan"])).scalar() == "broken"
        assert set(conn.execute(select(Case.stage)).scalars()) == {"amicable"}
        assert not any(conn.execute(select(Case.interest_frozen)).scalars())
        assert (
            conn.execute(
                select(func.count())
                .select_from(Instalment)
                .where(Instalment.plan_id == new["plan"], Instalment.status == "open")
            ).scalar()
            == 0
        )
        kinds = conn.execute(select(Event.kind).where(Event.kind.like("plan_%"))).scalars().all()
        assert kinds.count("plan_broken") == 3  # one event per case


def test_paying_the_plan_keeps_it_running_and_completes_it(db_engine: Engine) -> None:
    refs = three_creditors(db_engine)
    run_cycle(db_engine, START)
    plan = plans.propose(
        db_engine,
        refs[0],
        on=START,
        instalment_cents=100_000,
        at=NOW,
        proposed_by="debtor",
        all_cases=True,
    )
    assert plan["months"] == 2
    day = START + timedelta(days=1)
    for due in (
        date.fromisoformat(s["due_date"])
        for s in plans.plan_summary(db_engine, plan["plan"])["schedule"]
    ):
        while day < due:
            run_cycle(db_engine, day)
            day += timedelta(days=1)
        amount = sum(
            Money.of(s["amount"], "EUR").minor_units
            for s in plans.plan_summary(db_engine, plan["plan"])["schedule"]
            if s["due_date"] == due.isoformat()
        )
        with db_engine.begin() as conn:
            plans.book_plan_payment(conn, plan["plan"], amount, due, f"bank-{due}", now=NOW)
    for _ in range(10):
        run_cycle(db_engine, day)
        day += timedelta(days=1)
    summary = plans.plan_summary(db_engine, plan["plan"])
    assert summary["status"] == "completed"
    assert summary["misses"] == 0
    with db_engine.connect() as conn:
        assert all(conn.execute(select(Case.closed)).scalars())
        assert set(balances(conn).values()) == {0}


def test_a_proposal_outside_policy_waits_for_an_agent_and_is_not_active(db_engine: Engine) -> None:
    refs = three_creditors(db_engine, policy={"max_months": 6})
    plan = plans.propose(
        db_engine,
        refs[0],
        on=START,
        instalment_cents=5_000,
        at=NOW,
        proposed_by="debtor",
        all_cases=True,
    )
    assert plan["status"] == "pending_review"
    assert any("longer than the policy" in r for r in plan["review_reasons"])
    with db_engine.connect() as conn:
        assert set(conn.execute(select(Case.stage)).scalars()) == {"friendly_reminder"}
        review = conn.execute(select(OutboxMessage.template, OutboxMessage.kind)).all()
        assert ("plan_review", "review") in review
    plans.approve_plan(db_engine, plan["plan"], on=START, actor="agent:bram", at=NOW)
    with db_engine.connect() as conn:
        assert set(conn.execute(select(Case.stage)).scalars()) == {"arrangement"}
        assert conn.execute(select(Plan.decided_by)).scalar() == "agent:bram"


def test_a_deferral_within_policy_holds_the_case_and_moves_its_instalments(
    db_engine: Engine,
) -> None:
    refs = three_creditors(db_engine, policy={"max_deferral_days": 30})
    plan = plans.propose(
        db_engine, refs[0], on=START, instalment_cents=50_000, at=NOW, proposed_by="debtor"
    )
    first = date.fromisoformat(plan["first_due"])
    result = plans.defer(db_engine, refs[0], on=START, days=30, actor="debtor", reason="", at=NOW)
    assert result["status"] == "granted"
    assert result["instalments_moved"] == 1
    with db_engine.connect() as conn:
        assert conn.execute(select(Hold.kind, Hold.until)).one() == (
            "deferral",
            START + timedelta(days=29),
        )
        assert min(conn.execute(select(Instalment.due_date)).scalars()) == first + timedelta(
            days=30
        )
    longer = plans.defer(db_engine, refs[1], on=START, days=90, actor="debtor", reason="", at=NOW)
    assert longer["status"] == "review"
    # Asking again on the same day joins the review already queued instead of failing.
    again = plans.defer(db_engine, refs[1], on=START, days=60, actor="debtor", reason="", at=NOW)
    assert again["status"] == "review"
    with db_engine.connect() as conn:
        reviews = conn.execute(
            select(OutboxMessage.id).where(OutboxMessage.template == "deferral_review")
        ).all()
    assert len(reviews) == 1


def test_a_plan_for_a_closed_case_is_refused(db_engine: Engine) -> None:
    refs = three_creditors(db_engine)
    with db_engine.begin() as conn:
        conn.execute(update(Case).values(closed=True))
    with pytest.raises(NotAllowed, match="closed"):
        plans.offer(db_engine, refs[0], on=START)
