"""People acting on cases: moves and holds through the lifecycle, into the timeline."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import Engine, func, select

from respite.adapters.db.models import Case, Event, Hold, OutboxMessage
from respite.domain.lifecycle import CloseReason, HoldKind, Stage
from respite.errors import NotAllowed
from respite.services import cases
from respite.services.cycle import run_cycle
from respite.services.store import case_reference

from .portfolio import NOW, build

START = date(2025, 1, 15)


def test_an_illegal_move_is_refused_and_writes_nothing(db_engine: Engine) -> None:
    (case_id,) = build(db_engine, cases=1, on=START)
    ref = case_reference(case_id)
    with db_engine.connect() as conn:
        events_before = conn.execute(select(func.count()).select_from(Event)).scalar()
    with pytest.raises(NotAllowed, match="cannot move from friendly_reminder to legal_handover"):
        cases.move_case(
            db_engine,
            ref,
            Stage.LEGAL_HANDOVER,
            on=START,
            actor="agent:anna",
            reason="test",
            at=NOW,
        )
    with db_engine.connect() as conn:
        assert conn.execute(select(Case.stage)).scalar_one() == "friendly_reminder"
        assert conn.execute(select(func.count()).select_from(Event)).scalar() == events_before


def test_a_hold_placed_by_an_agent_stops_the_cycle_until_it_is_lifted(db_engine: Engine) -> None:
    (case_id,) = build(db_engine, cases=1, on=START)
    ref = case_reference(case_id)
    cases.place_hold(
        db_engine,
        ref,
        HoldKind.DEBT_COUNSELLING,
        on=START,
        actor="agent:anna",
        reason="in debt counselling (municipality)",
        at=NOW,
    )
    for n in range(20):
        run_cycle(db_engine, START + timedelta(days=n))
    with db_engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(OutboxMessage)).scalar() == 0
    with pytest.raises(NotAllowed, match="on hold"):
        cases.move_case(
            db_engine,
            ref,
            Stage.FORMAL_NOTICE,
            on=START + timedelta(days=20),
            actor="agent:anna",
            reason="test",
            at=NOW,
        )
    cases.lift_hold(
        db_engine,
        ref,
        HoldKind.DEBT_COUNSELLING,
        on=START + timedelta(days=20),
        actor="agent:anna",
        reason="counselling ended",
        at=NOW,
    )
    with db_engine.connect() as conn:
        assert conn.execute(select(Hold.until)).scalar_one() == START + timedelta(days=19)
    # Holds stop the clock: collection resumes where it stopped, not 20 days further on.
    for n in range(20, 27):
        run_cycle(db_engine, START + timedelta(days=n))
    with db_engine.connect() as conn:
        sent = conn.execute(
            select(OutboxMessage.business_date, OutboxMessage.template).order_by(OutboxMessage.id)
        ).all()
    assert [(d - START).days for d, _ in sent] == [20, 26]
    assert [t for _, t in sent] == ["friendly_reminder", "friendly_nudge"]


def test_closing_is_allowed_during_a_hold_and_everything_lands_in_the_timeline(
    db_engine: Engine,
) -> None:
    (case_id,) = build(db_engine, cases=1, on=START)
    ref = case_reference(case_id)
    cases.place_hold(
        db_engine,
        ref,
        HoldKind.DECEASED,
        on=START,
        actor="agent:bo",
        reason="death certificate received",
        at=NOW,
    )
    cases.move_case(
        db_engine,
        ref,
        Stage.CLOSED,
        on=START + timedelta(days=1),
        actor="supervisor:cem",
        reason="estate has no assets",
        close_reason=CloseReason.WRITTEN_OFF,
        at=NOW,
    )
    events = cases.timeline(db_engine, ref)
    assert [(e["actor"], e["what"]) for e in events] == [
        ("test", "opened"),
        ("agent:bo", "hold_placed"),
        ("supervisor:cem", "transition"),
    ]
    assert events[-1]["after"] == {"stage": "closed", "close_reason": "written_off"}
    with db_engine.connect() as conn:
        assert tuple(conn.execute(select(Case.closed, Case.close_reason)).one()) == (
            True,
            "written_off",
        )


def test_a_hold_after_a_step_fired_neither_repeats_it_nor_loses_the_days_before(
    db_engine: Engine,
) -> None:
    (case_id,) = build(db_engine, cases=1, on=START)
    ref = case_reference(case_id)
    for n in range(3):  # day 0: the friendly reminder goes out
        run_cycle(db_engine, START + timedelta(days=n))
    cases.place_hold(
        db_engine,
        ref,
        HoldKind.DISPUTE,
        on=START + timedelta(days=3),
        actor="agent:anna",
        reason="disputed",
        at=NOW,
    )
    for n in (3, 4, 10, 22):  # held nights, with nights skipped in between
        run_cycle(db_engine, START + timedelta(days=n))
    cases.lift_hold(
        db_engine,
        ref,
        HoldKind.DISPUTE,
        on=START + timedelta(days=23),
        actor="agent:anna",
        reason="resolved",
        at=NOW,
    )
    for n in range(23, 28):
        run_cycle(db_engine, START + timedelta(days=n))
    with db_engine.connect() as conn:
        sent = conn.execute(
            select(OutboxMessage.business_date, OutboxMessage.template).order_by(OutboxMessage.id)
        ).all()
    # 3 days in stage before the hold, then 3 more after it: the nudge (day 6) on day 26.
    assert [(t, (d - START).days) for d, t in sent] == [
        ("friendly_reminder", 0),
        ("friendly_nudge", 26),
    ]


def test_a_hold_from_the_first_night_with_skipped_nights_still_sends_the_first_step(
    db_engine: Engine,
) -> None:
    (case_id,) = build(db_engine, cases=1, on=START)
    ref = case_reference(case_id)
    cases.place_hold(
        db_engine,
        ref,
        HoldKind.BREATHING_SPACE,
        on=START,
        actor="agent:anna",
        reason="breathing space",
        at=NOW,
    )
    for n in (0, 5):  # held, and the nights in between were not run
        run_cycle(db_engine, START + timedelta(days=n))
    cases.lift_hold(
        db_engine,
        ref,
        HoldKind.BREATHING_SPACE,
        on=START + timedelta(days=6),
        actor="agent:anna",
        reason="ended",
        at=NOW,
    )
    run_cycle(db_engine, START + timedelta(days=6))
    with db_engine.connect() as conn:
        sent = conn.execute(select(OutboxMessage.business_date, OutboxMessage.template)).all()
    assert [(t, (d - START).days) for d, t in sent] == [("friendly_reminder", 6)]
