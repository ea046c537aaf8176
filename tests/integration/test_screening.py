"""Legal screening and the legal handover on a real database (SQLite and PostgreSQL).

The rule under test above all: no held, vulnerable, counselled or plan-keeping debtor's
case ever reaches ``legal_handover`` — not by the screening, not by an approval.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, insert, select, update

from respite.adapters.db.models import BudgetStatement, Case, Event, OutboxMessage, Plan, PlanCase
from respite.domain.lifecycle import HoldKind, Stage
from respite.domain.money import Money
from respite.domain.referral import Reason, ReasonCode
from respite.errors import NotAllowed
from respite.services import cases, referrals, screening
from respite.services.compliance import ENV_WKI_REGISTRATION
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

NOW = datetime(2024, 1, 10, 9, tzinfo=UTC)
OPENED = date(2024, 1, 10)
SCREEN_ON = date(2024, 5, 1)  # court fees and bailiff tariffs of 2024 are known
AUTHORITY = Money.of("5000.00")


@dataclass(frozen=True)
class World:
    case: str  # in legal_screening: EUR 1,500 owed by Anna, who can pay EUR 200 a month
    other: str  # Anna's second case, with another creditor, in amicable collection
    debtor: int


def _debtor(key: str, name: str, kind: str = "consumer") -> NewDebtor:
    return NewDebtor(
        key, kind, name, "NL", "nl", "Europe/Amsterdam", postcode="3011 AD", city="Rotterdam"
    )


def _claim(ref: str, euros: str) -> NewClaim:
    return NewClaim(ref, date(2023, 11, 1), date(2023, 12, 1), Money.of(euros), f"Invoice {ref}")


def _hand_over(conn: Connection, creditor: int, ids: dict[str, int], claim: str, euros: str) -> int:
    """Anna's case at ``creditor``: one claim of ``euros``, handed over on OPENED."""
    (case_id,) = open_cases(
        conn,
        creditor,
        [NewCase("p:anna", (_claim(claim, euros),))],
        ids,
        on=OPENED,
        actor="test",
        reason="handed over",
        now=NOW,
    )
    return case_id


def _to(engine: Engine, ref: str, *stages: tuple[Stage, date]) -> None:
    for stage, on in stages:
        cases.move_case(engine, ref, stage, on=on, actor="test", reason="step", at=NOW)


def build(engine: Engine, *, policy: dict[str, object] | None = None) -> World:
    with engine.begin() as conn:
        phone = ensure_creditor(
            conn,
            "Telecom BV",
            jurisdiction="NL",
            currency="EUR",
            now=NOW,
            policy={"sector": "telecom", **(policy or {})},
        )
        water = ensure_creditor(conn, "Waterbedrijf", jurisdiction="NL", currency="EUR", now=NOW)
        ids = upsert_debtors(conn, [_debtor("p:anna", "Anna de Vries")], now=NOW)
        c1 = _hand_over(conn, phone, ids, "T-1", "1500.00")
        c2 = _hand_over(conn, water, ids, "W-1", "100.00")
        # Income 2,500, protected (2024 maximum, single) 1,996.21: capacity 200 a month.
        conn.execute(
            insert(BudgetStatement).values(
                debtor_id=ids["p:anna"],
                submitted_on=date(2024, 3, 1),
                household="single",
                currency="EUR",
                lines={},
                income_cents=250000,
                expenditure_cents=230000,
                protected_cents=199621,
                capacity_cents=20000,
                flags=[],
                confirmed=True,
                source="agent",
            )
        )
    ref, other = case_reference(c1), case_reference(c2)
    for r in (ref, other):
        _to(
            engine,
            r,
            (Stage.FORMAL_NOTICE, date(2024, 1, 22)),
            (Stage.AMICABLE, date(2024, 2, 15)),
        )
    _to(engine, ref, (Stage.LEGAL_SCREENING, date(2024, 4, 1)))
    return World(ref, other, ids["p:anna"])


def _screen(engine: Engine, ref: str, actor: str = "screener:eva") -> dict[str, object]:
    with engine.begin() as conn:
        return screening.screen_case(conn, ref, on=SCREEN_ON, actor=actor, at=NOW)


def _approve(
    engine: Engine, ref: str, approver: str = "manager:joost", authority: Money = AUTHORITY
) -> dict[str, object]:
    with engine.begin() as conn:
        return screening.approve_handover(
            conn, ref, on=SCREEN_ON, approver=approver, authority=authority, at=NOW
        )


def _stage(engine: Engine, ref: str) -> str:
    with engine.connect() as conn:
        return str(conn.execute(select(Case.stage).where(Case.reference == ref)).scalar_one())


def _events(engine: Engine, ref: str, kind: str) -> list[Any]:
    with engine.connect() as conn:
        case_id = conn.execute(select(Case.id).where(Case.reference == ref)).scalar_one()
        return list(
            conn.execute(
                select(Event.__table__)
                .where(Event.case_id == case_id, Event.kind == kind)
                .order_by(Event.id)
            ).all()
        )


def test_a_screening_is_stored_as_an_event_with_every_figure(db_engine: Engine) -> None:
    world = build(db_engine)
    result = _screen(db_engine, world.case)
    assert result["outcome"] == "proceed"
    (event,) = _events(db_engine, world.case, "screening")
    after = event.after
    assert event.actor == "screener:eva"
    assert after["outcome"] == "proceed"
    assert after["alternative"] is None
    assert after["currency"] == "EUR"
    assert after["court_costs_avoided_cents"] == 0
    assert after["upfront_costs_cents"] == 32800 + 11237  # court fee 2024 + summons
    assert isinstance(after["expected_recovery_cents"], int)
    assert isinstance(after["months_to_recovery"], int)
    figures = {line["figure"] for line in after["explanation"]}
    assert {"court fee", "monthly repayment capacity", "other open debts", "creditors"} <= figures
    # The capacity is shared with the other debt: 200 × 1500 / 1600 = 187.50.
    share = next(x for x in after["explanation"] if x["figure"] == "capacity share for this case")
    assert share["value"] == "187.50"


def test_a_proceed_needs_a_second_person_with_enough_authority(db_engine: Engine) -> None:
    world = build(db_engine)
    _screen(db_engine, world.case, actor="screener:eva")
    with pytest.raises(NotAllowed, match="four eyes"):
        _approve(db_engine, world.case, approver="screener:eva")
    with pytest.raises(NotAllowed, match="authority"):
        _approve(db_engine, world.case, authority=Money.of("1000.00"))
    assert _stage(db_engine, world.case) == Stage.LEGAL_SCREENING.value
    result = _approve(db_engine, world.case)
    assert result["stage"] == Stage.LEGAL_HANDOVER.value
    assert _stage(db_engine, world.case) == Stage.LEGAL_HANDOVER.value
    (approved,) = _events(db_engine, world.case, "legal_handover_approved")
    assert approved.after["screened_by"] == "screener:eva"
    assert approved.after["approved_by"] == "manager:joost"


def test_a_screening_by_the_cycle_alone_cannot_be_approved(db_engine: Engine) -> None:
    world = build(db_engine)
    _screen(db_engine, world.case, actor="cycle")
    with pytest.raises(NotAllowed, match="a person must screen"):
        _approve(db_engine, world.case)


def _hold(engine: Engine, world: World) -> None:
    cases.place_hold(
        engine, world.case, HoldKind.DISPUTE, on=SCREEN_ON, actor="agent", reason="disputed", at=NOW
    )


def _vulnerable(engine: Engine, world: World) -> None:
    # Flagged on the person's other case: the person is vulnerable, whichever case.
    cases.place_hold(
        engine,
        world.other,
        HoldKind.VULNERABILITY_REVIEW,
        on=SCREEN_ON,
        actor="agent",
        reason="told us about a serious illness",
        at=NOW,
    )


def _counselling(engine: Engine, world: World) -> None:
    with engine.begin() as conn:
        referrals.refer(
            conn,
            world.debtor,
            on=SCREEN_ON,
            reasons=(Reason(ReasonCode.AGENT, "asked for help"),),
            actor="agent",
            at=NOW,
        )


def _kept_plan(engine: Engine, world: World) -> None:
    with engine.begin() as conn:
        plan = conn.execute(
            insert(Plan)
            .values(
                debtor_id=world.debtor,
                status="active",
                created_on=SCREEN_ON,
                first_due=SCREEN_ON + timedelta(days=25),
                months=12,
                instalment_cents=12500,
                total_cents=150000,
                currency="EUR",
                interest_frozen=True,
                misses=0,
                max_misses=2,
                proposed_by="debtor",
                reason="",
            )
            .returning(Plan.id)
        ).scalar_one()
        case_id = _case_id(conn, world.case)
        conn.execute(
            insert(PlanCase).values(
                plan_id=plan, case_id=case_id, share_cents=12500, total_cents=150000
            )
        )


def _case_id(conn: Connection, ref: str) -> int:
    return int(conn.execute(select(Case.id).where(Case.reference == ref)).scalar_one())


PROTECTIONS: list[tuple[str, Callable[[Engine, World], None], str]] = [
    ("held", _hold, "on hold"),
    ("vulnerable", _vulnerable, "vulnerable"),
    ("in counselling", _counselling, "debt counselling"),
    ("kept plan", _kept_plan, "payment plan"),
]


@pytest.mark.parametrize(
    ("name", "protect", "message"), PROTECTIONS, ids=[p[0] for p in PROTECTIONS]
)
def test_a_protected_case_never_reaches_legal_handover(
    db_engine: Engine, name: str, protect: Callable[[Engine, World], None], message: str
) -> None:
    world = build(db_engine)
    _screen(db_engine, world.case)  # a proceed, before the protection arose
    protect(db_engine, world)
    # The approval checks again: refused, whatever the earlier screening said.
    with pytest.raises(NotAllowed, match=message):
        _approve(db_engine, world.case)
    assert _stage(db_engine, world.case) == Stage.LEGAL_SCREENING.value
    # A new screening says so too.
    again = _screen(db_engine, world.case)
    assert again["outcome"] != "proceed"
    with pytest.raises(NotAllowed):
        _approve(db_engine, world.case)
    assert _stage(db_engine, world.case) == Stage.LEGAL_SCREENING.value
    assert not _events(db_engine, world.case, "legal_handover_approved")


def test_a_negative_screening_counts_the_court_costs_it_avoided(db_engine: Engine) -> None:
    world = build(db_engine, policy={"sector": "housing"})
    result = _screen(db_engine, world.case)
    assert (result["outcome"], result["alternative"]) == ("alternative", "long_plan")
    (event,) = _events(db_engine, world.case, "screening")
    assert event.after["court_costs_avoided_cents"] == 32800 + 11237
    with pytest.raises(NotAllowed, match="not proceed"):
        _approve(db_engine, world.case)
    with db_engine.begin() as conn:
        declined = screening.decline_handover(
            conn, world.case, on=SCREEN_ON, actor="manager:joost", reason="offer a plan", at=NOW
        )
    assert declined["alternative"] == "long_plan"
    assert _stage(db_engine, world.case) == Stage.AMICABLE.value


def test_the_personal_contact_commitment_is_respected(db_engine: Engine) -> None:
    world = build(db_engine, policy={"commitments": ["personal_contact_before_summons"]})
    assert _screen(db_engine, world.case)["alternative"] == "personal_contact"


def test_the_nightly_cycle_screens_a_case_entering_legal_screening(db_engine: Engine) -> None:
    world = build(db_engine)
    other_night = date(2024, 4, 2)  # Anna's water case: 47 nights in amicable
    # Move the telecom case back to where the strategy takes it to legal_screening itself.
    with db_engine.begin() as conn:
        conn.execute(
            update(Case)
            .where(Case.reference == world.case)
            .values(stage=Stage.AMICABLE.value, stage_since=date(2024, 2, 15))
        )
    report = run_cycle(db_engine, other_night, now=lambda: NOW)
    assert _stage(db_engine, world.case) == Stage.LEGAL_SCREENING.value
    (event,) = _events(db_engine, world.case, "screening")
    assert event.actor == "cycle"
    assert report.actions[f"screening:{event.after['outcome']}"] == 1
    # The water case (EUR 100) is below the step's minimum of 250: no screening.
    assert _stage(db_engine, world.other) == Stage.AMICABLE.value
    assert not _events(db_engine, world.other, "screening")
    # The next night does not screen it again.
    run_cycle(db_engine, other_night + timedelta(days=1), now=lambda: NOW)
    assert len(_events(db_engine, world.case, "screening")) == 1


def _outbox(engine: Engine, ref: str) -> list[str]:
    with engine.connect() as conn:
        case_id = _case_id(conn, ref)
        return list(
            conn.execute(
                select(OutboxMessage.template).where(OutboxMessage.case_id == case_id)
            ).scalars()
        )


def test_an_unregistered_agency_takes_no_action_on_a_dutch_consumer(
    db_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    with db_engine.begin() as conn:
        creditor = ensure_creditor(conn, "Telecom BV", jurisdiction="NL", currency="EUR", now=NOW)
        ids = upsert_debtors(
            conn,
            [_debtor("p:anna", "Anna de Vries"), _debtor("co:1", "Bakkerij BV", "business")],
            now=NOW,
        )
        consumer, business = open_cases(
            conn,
            creditor,
            [
                NewCase("p:anna", (_claim("T-1", "300.00"),)),
                NewCase("co:1", (_claim("T-2", "300.00"),)),
            ],
            ids,
            on=OPENED,
            actor="test",
            reason="handed over",
            now=NOW,
        )
    monkeypatch.setenv(ENV_WKI_REGISTRATION, "none")
    run_cycle(db_engine, OPENED, now=lambda: NOW)
    anna, bakery = case_reference(consumer), case_reference(business)
    assert _outbox(db_engine, anna) == []
    assert _outbox(db_engine, bakery) == ["friendly_reminder"]
    (blocked,) = _events(db_engine, anna, "compliance_blocked")
    assert "Wki" in blocked.reason
    run_cycle(db_engine, OPENED + timedelta(days=1), now=lambda: NOW)
    assert len(_events(db_engine, anna, "compliance_blocked")) == 1  # once, not nightly
    assert _outbox(db_engine, anna) == []
    # Registered again: the reminder goes out.
    monkeypatch.delenv(ENV_WKI_REGISTRATION)
    run_cycle(db_engine, OPENED + timedelta(days=2), now=lambda: NOW)
    assert "friendly_reminder" in _outbox(db_engine, anna)


def test_an_unregistered_agency_cannot_hand_a_dutch_consumer_over(
    db_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = build(db_engine)
    _screen(db_engine, world.case)
    monkeypatch.setenv(ENV_WKI_REGISTRATION, "WKI-123")
    monkeypatch.setenv("RESPITE_AGENCY_WKI_VALID_UNTIL", "2024-03-31")
    with pytest.raises(NotAllowed, match="expired"):
        _approve(db_engine, world.case)
    assert _stage(db_engine, world.case) == Stage.LEGAL_SCREENING.value
