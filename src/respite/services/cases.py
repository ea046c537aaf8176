"""Case actions by people: move a case, place or lift a hold, read the timeline.

Each action loads the case's lifecycle state, asks the pure domain
(:mod:`respite.domain.lifecycle`) what happens — an illegal move or a move during a hold
is refused there with a clear message — and stores the new state and its event in one
transaction.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, Engine, delete, insert, select, update

from respite.adapters.db.models import Case, Event, Hold
from respite.domain import lifecycle
from respite.domain.lifecycle import CaseState, CloseReason, HoldKind, Stage
from respite.errors import ValidationError

__all__ = ["lift_hold", "move_case", "place_hold", "timeline"]


def _load(conn: Connection, reference: str) -> tuple[int, CaseState]:
    row = conn.execute(
        select(Case.id, Case.stage, Case.stage_since, Case.close_reason).where(
            Case.reference == reference
        )
    ).first()
    if row is None:
        raise ValidationError(f"no case with reference {reference!r}")
    holds = tuple(
        lifecycle.Hold(HoldKind(h.kind), h.start, h.until, h.reason, h.placed_by)
        for h in conn.execute(
            select(Hold.kind, Hold.start, Hold.until, Hold.reason, Hold.placed_by)
            .where(Hold.case_id == row.id)
            .order_by(Hold.start, Hold.id)
        )
    )
    close = CloseReason(row.close_reason) if row.close_reason else None
    return int(row.id), CaseState(Stage(row.stage), row.stage_since, holds, close)


def _record(conn: Connection, case_id: int, event: lifecycle.Event, at: datetime) -> None:
    conn.execute(
        insert(Event).values(
            case_id=case_id,
            business_date=event.on,
            recorded_at=at,
            actor=event.actor,
            kind=str(event.kind),
            reason=event.reason,
            before=dict(event.before),
            after=dict(event.after),
        )
    )


def move_case(
    engine: Engine,
    reference: str,
    to: Stage,
    *,
    on: date,
    actor: str,
    reason: str,
    close_reason: CloseReason | None = None,
    at: datetime,
) -> dict[str, Any]:
    with engine.begin() as conn:
        return move_case_in(
            conn, reference, to, on=on, actor=actor, reason=reason, close_reason=close_reason, at=at
        )


def move_case_in(
    conn: Connection,
    reference: str,
    to: Stage,
    *,
    on: date,
    actor: str,
    reason: str,
    close_reason: CloseReason | None = None,
    at: datetime,
) -> dict[str, Any]:
    """Move a case to another stage inside the caller's transaction."""
    case_id, state = _load(conn, reference)
    new, event = lifecycle.transition(
        state, to, on=on, actor=actor, reason=reason, close_reason=close_reason
    )
    conn.execute(
        update(Case)
        .where(Case.id == case_id)
        .values(
            stage=new.stage.value,
            stage_since=new.stage_since,
            closed=new.stage is Stage.CLOSED,
            close_reason=new.close_reason.value if new.close_reason else None,
        )
    )
    _record(conn, case_id, event, at)
    return {"reference": reference, "before": dict(event.before), "after": dict(event.after)}


def place_hold(
    engine: Engine,
    reference: str,
    kind: HoldKind,
    *,
    on: date,
    actor: str,
    reason: str,
    until: date | None = None,
    at: datetime,
) -> dict[str, Any]:
    with engine.begin() as conn:
        return place_hold_in(
            conn, reference, kind, on=on, actor=actor, reason=reason, until=until, at=at
        )


def place_hold_in(
    conn: Connection,
    reference: str,
    kind: HoldKind,
    *,
    on: date,
    actor: str,
    reason: str,
    until: date | None = None,
    at: datetime,
) -> dict[str, Any]:
    """Place a hold inside the caller's transaction (for changes that span several cases)."""
    case_id, state = _load(conn, reference)
    _, event = lifecycle.place_hold(state, kind, on=on, actor=actor, reason=reason, until=until)
    conn.execute(
        insert(Hold).values(
            case_id=case_id,
            kind=kind.value,
            start=on,
            until=until,
            reason=reason,
            placed_by=actor,
        )
    )
    _record(conn, case_id, event, at)
    return {"reference": reference, "hold": kind.value, "after": dict(event.after)}


def lift_hold(
    engine: Engine,
    reference: str,
    kind: HoldKind,
    *,
    on: date,
    actor: str,
    reason: str,
    at: datetime,
) -> dict[str, Any]:
    with engine.begin() as conn:
        return lift_hold_in(conn, reference, kind, on=on, actor=actor, reason=reason, at=at)


def lift_hold_in(
    conn: Connection,
    reference: str,
    kind: HoldKind,
    *,
    on: date,
    actor: str,
    reason: str,
    at: datetime,
) -> dict[str, Any]:
    """Lift a hold inside the caller's transaction."""
    case_id, state = _load(conn, reference)
    new, event = lifecycle.lift_hold(state, kind, on=on, actor=actor, reason=reason)
    active = conn.execute(
        select(Hold.id, Hold.start)
        .where(Hold.case_id == case_id, Hold.kind == kind.value, Hold.start <= on)
        .where((Hold.until.is_(None)) | (Hold.until >= on))
    ).first()
    if active is not None:
        kept = [h for h in new.holds if h.kind is kind and h.start == active.start]
        if kept:  # the hold stays as history, ending the day before it was lifted
            conn.execute(update(Hold).where(Hold.id == active.id).values(until=kept[0].until))
        else:  # lifted on the day it was placed: it never took effect (the event says so)
            conn.execute(delete(Hold).where(Hold.id == active.id))
    _record(conn, case_id, event, at)
    return {"reference": reference, "lifted": kind.value, "after": dict(event.after)}


def timeline(engine: Engine, reference: str) -> list[dict[str, Any]]:
    """The case's events, oldest first: who, when, what, why."""
    with engine.connect() as conn:
        case_id, _ = _load(conn, reference)
        rows = conn.execute(
            select(
                Event.business_date,
                Event.recorded_at,
                Event.actor,
                Event.kind,
                Event.reason,
                Event.before,
                Event.after,
            )
            .where(Event.case_id == case_id)
            .order_by(Event.id)
        )
        return [
            {
                "date": e.business_date.isoformat(),
                "recorded_at": e.recorded_at.isoformat(),
                "actor": e.actor,
                "what": e.kind,
                "why": e.reason,
                "before": e.before,
                "after": e.after,
            }
            for e in rows
        ]
