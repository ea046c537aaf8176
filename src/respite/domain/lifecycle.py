"""The collection lifecycle of one case: stages, the moves between them, and holds.

A case moves through these stages (``→`` lists the only moves allowed):

=====================  =====================================================================
``friendly_reminder``  → formal_notice, arrangement, closed (may run under the creditor's brand)
``formal_notice``      → amicable, arrangement, closed (NL 14-day letter, art. 6:96 lid 6 BW;
                       BE free first reminder, art. XIX.2 WER)
``amicable``           → arrangement, legal_screening, closed
``arrangement``        → amicable (the plan was broken), closed
``legal_screening``    → legal_handover, amicable (screened negative), arrangement, closed
``legal_handover``     → closed
``closed``             nothing: a closed case is final (it records why it closed)
=====================  =====================================================================

There is no way back to the friendly reminder or the formal notice: once the notice has
been sent, sending it again would restart the legal term and could charge costs twice.

A *hold* stops every collection action while it is active: a disputed claim is not pushed
further until the dispute is answered, a deferral or a debt-counselling moratorium (NL
*adempauze* under the Wet gemeentelijke schuldhulpverlening, BE *collectieve
schuldenregeling*, art. 1675/2 ff. Ger.W.) is honoured, a possibly vulnerable debtor is
reviewed first, and the estate of a deceased debtor is not chased as if nothing happened.
Closing stays allowed during a hold: a payment, a settlement, a write-off or a recall by
the creditor are not collection actions, and refusing them would keep a debtor in
collection longer.

Every function is pure: the business date is an argument, and each returns the new state
together with exactly one :class:`Event` (who, when, what, why, before and after) that the
service layer stores in the same transaction as the state. History is append-only: a date
before the last recorded change is refused, and lifted holds stay in the state as history.

Invariants (tested with Hypothesis in ``tests/unit/test_lifecycle.py``):

- a stage is only ever reached by a move in :data:`TRANSITIONS`;
- a case is closed exactly when it has a close reason;
- no two holds of one kind are ever active on the same day.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, timedelta
from enum import StrEnum
from types import MappingProxyType
from typing import Final

from respite.errors import ConflictError, NotAllowed, ValidationError

__all__ = [
    "TRANSITIONS",
    "CaseState",
    "CloseReason",
    "Event",
    "EventKind",
    "Hold",
    "HoldKind",
    "Stage",
    "lift_hold",
    "open_case",
    "place_hold",
    "transition",
]


class Stage(StrEnum):
    FRIENDLY_REMINDER = "friendly_reminder"  # may run under the creditor's own brand
    FORMAL_NOTICE = "formal_notice"  # NL 14-day letter, BE free first reminder
    AMICABLE = "amicable"  # amicable collection by the agency
    ARRANGEMENT = "arrangement"  # a payment plan runs
    LEGAL_SCREENING = "legal_screening"
    LEGAL_HANDOVER = "legal_handover"
    CLOSED = "closed"


class CloseReason(StrEnum):
    PAID = "paid"
    SETTLED = "settled"
    WRITTEN_OFF = "written_off"
    RECALLED = "recalled"  # the creditor took the case back


class HoldKind(StrEnum):
    DISPUTE = "dispute"
    DEFERRAL = "deferral"
    BREATHING_SPACE = "breathing_space"
    DEBT_COUNSELLING = "debt_counselling"
    VULNERABILITY_REVIEW = "vulnerability_review"
    DECEASED = "deceased"


class EventKind(StrEnum):
    """What an :class:`Event` records; a ``str``, so ``Event.kind`` compares to plain text."""

    TRANSITION = "transition"
    HOLD_PLACED = "hold_placed"
    HOLD_LIFTED = "hold_lifted"


TRANSITIONS: Final[Mapping[Stage, frozenset[Stage]]] = MappingProxyType(
    {
        Stage.FRIENDLY_REMINDER: frozenset({Stage.FORMAL_NOTICE, Stage.ARRANGEMENT, Stage.CLOSED}),
        Stage.FORMAL_NOTICE: frozenset({Stage.AMICABLE, Stage.ARRANGEMENT, Stage.CLOSED}),
        Stage.AMICABLE: frozenset({Stage.ARRANGEMENT, Stage.LEGAL_SCREENING, Stage.CLOSED}),
        # A broken plan goes back to amicable collection, never straight to legal: the
        # debtor first hears that the plan ended and gets a chance to respond.
        Stage.ARRANGEMENT: frozenset({Stage.AMICABLE, Stage.CLOSED}),
        Stage.LEGAL_SCREENING: frozenset(
            {Stage.LEGAL_HANDOVER, Stage.AMICABLE, Stage.ARRANGEMENT, Stage.CLOSED}
        ),
        Stage.LEGAL_HANDOVER: frozenset({Stage.CLOSED}),
        Stage.CLOSED: frozenset(),
    }
)
"""The allowed moves: ``TRANSITIONS[current]`` is the set of stages a case may move to."""


@dataclass(frozen=True, slots=True)
class Hold:
    """A pause of all collection actions, active from ``start`` to ``until`` inclusive.

    ``until`` is ``None`` for a hold without an end date (it runs until lifted).
    """

    kind: HoldKind
    start: date
    until: date | None
    reason: str
    placed_by: str

    def __post_init__(self) -> None:
        if self.until is not None and self.until < self.start:
            raise ValidationError(
                f"a {self.kind.value} hold cannot end ({self.until.isoformat()}) before it "
                f"starts ({self.start.isoformat()})",
                field="until",
            )

    def active_on(self, on: date) -> bool:
        return self.start <= on and (self.until is None or on <= self.until)


@dataclass(frozen=True, slots=True)
class CaseState:
    """Where a case stands in its lifecycle; change it only through the functions below."""

    stage: Stage
    stage_since: date
    holds: tuple[Hold, ...] = ()
    close_reason: CloseReason | None = None

    def __post_init__(self) -> None:
        # Also guards states loaded from storage: a closed case without a reason, or two
        # overlapping holds of one kind, would make the timeline and the reports lie.
        if (self.stage is Stage.CLOSED) != (self.close_reason is not None):
            raise ValidationError(
                "a case has a close reason exactly when it is closed; got stage "
                f"{self.stage.value} with close reason "
                f"{self.close_reason.value if self.close_reason else 'none'}",
                field="close_reason",
            )
        for i, first in enumerate(self.holds):
            for second in self.holds[i + 1 :]:
                if first.kind is second.kind and _overlap(first, second):
                    raise ValidationError(
                        f"two {first.kind.value} holds overlap (from "
                        f"{first.start.isoformat()} and from {second.start.isoformat()})",
                        field="holds",
                    )

    def active_holds(self, on: date) -> tuple[Hold, ...]:
        return tuple(hold for hold in self.holds if hold.active_on(on))

    def on_hold(self, on: date) -> bool:
        return any(hold.active_on(on) for hold in self.holds)


@dataclass(frozen=True, slots=True)
class Event:
    """One entry of the case timeline: who (``actor``), when (``on``), what, why.

    ``kind`` is one of :class:`EventKind`; ``before`` and ``after`` are small read-only
    string maps of what changed, e.g. ``{"stage": "formal_notice"}`` /
    ``{"stage": "amicable"}``, or ``{"holds": "dispute,deferral"}`` (the kinds active on
    ``on``, in :class:`HoldKind` order). Opening a case has an empty ``before``.
    """

    on: date
    actor: str
    kind: str
    reason: str
    before: Mapping[str, str]
    after: Mapping[str, str]

    def __post_init__(self) -> None:
        if self.kind not in {k.value for k in EventKind}:
            allowed = ", ".join(k.value for k in EventKind)
            raise ValidationError(
                f"unknown event kind {self.kind!r}; one of: {allowed}", field="kind"
            )
        # Read-only copies, so that an event stored in the timeline cannot change later.
        object.__setattr__(self, "before", MappingProxyType(dict(self.before)))
        object.__setattr__(self, "after", MappingProxyType(dict(self.after)))


# -- the operations -----------------------------------------------------------------------


def open_case(
    on: date, *, actor: str, reason: str, stage: Stage = Stage.FRIENDLY_REMINDER
) -> tuple[CaseState, Event]:
    """A new case in ``stage`` (a creditor that sent its own reminders may start later)."""
    _check_who_and_why(actor, reason)
    if stage is Stage.CLOSED:
        raise ValidationError("a case cannot be opened closed", field="stage")
    state = CaseState(stage=stage, stage_since=on)
    return state, Event(on, actor, EventKind.TRANSITION, reason, {}, _stage_summary(state))


def transition(
    state: CaseState,
    to: Stage,
    *,
    on: date,
    actor: str,
    reason: str,
    close_reason: CloseReason | None = None,
) -> tuple[CaseState, Event]:
    """Move the case to stage ``to`` on ``on``.

    Raises ``ValidationError`` for a missing actor or reason, a date before the last
    recorded change, or a close reason that does not fit the move (closing needs one, any
    other move must not have one); ``NotAllowed`` for a move not in :data:`TRANSITIONS`
    (including staying in the same stage) and for any move but closing while a hold is
    active on ``on``.
    """
    _check_who_and_why(actor, reason)
    _check_not_backdated(state, on)
    if to is Stage.CLOSED and close_reason is None:
        allowed = ", ".join(r.value for r in CloseReason)
        raise ValidationError(
            f"closing a case needs a close reason (one of: {allowed})", field="close_reason"
        )
    if to is not Stage.CLOSED and close_reason is not None:
        raise ValidationError(
            f"a close reason is only given when closing; got {close_reason.value} for a move "
            f"to {to.value}",
            field="close_reason",
        )
    allowed_moves = TRANSITIONS[state.stage]
    if to not in allowed_moves:
        allowed = ", ".join(s.value for s in Stage if s in allowed_moves) or "none"
        why = " (a closed case is final)" if state.stage is Stage.CLOSED else ""
        raise NotAllowed(
            f"cannot move from {state.stage.value} to {to.value}; allowed: {allowed}{why}"
        )
    if to is not Stage.CLOSED and state.on_hold(on):
        raise NotAllowed(
            f"cannot move from {state.stage.value} to {to.value} on {on.isoformat()}: the "
            f"case is on hold ({_hold_kinds(state, on, ', ')}); only closing is allowed "
            "during a hold"
        )
    new = replace(state, stage=to, stage_since=on, close_reason=close_reason)
    return new, Event(
        on, actor, EventKind.TRANSITION, reason, _stage_summary(state), _stage_summary(new)
    )


def place_hold(
    state: CaseState,
    kind: HoldKind,
    *,
    on: date,
    actor: str,
    reason: str,
    until: date | None = None,
) -> tuple[CaseState, Event]:
    """Start a hold of ``kind`` on ``on``, active up to and including ``until`` if given.

    Raises ``NotAllowed`` on a closed case (nothing is being collected any more) and
    ``ConflictError`` if a hold of the same kind is already active on ``on``.
    """
    _check_who_and_why(actor, reason)
    _check_not_backdated(state, on)
    if until is not None and until < on:
        raise ValidationError(
            f"a hold cannot end ({until.isoformat()}) before it is placed ({on.isoformat()})",
            field="until",
        )
    if state.stage is Stage.CLOSED:
        raise NotAllowed(f"cannot place a {kind.value} hold: the case is closed")
    for hold in state.active_holds(on):
        if hold.kind is kind:
            raise ConflictError(
                f"a {kind.value} hold is already active since {hold.start.isoformat()}"
                + (f" until {hold.until.isoformat()}" if hold.until else "")
                + "; lift it first or let it end"
            )
    hold = Hold(kind=kind, start=on, until=until, reason=reason, placed_by=actor)
    new = replace(state, holds=(*state.holds, hold))
    return new, Event(
        on,
        actor,
        EventKind.HOLD_PLACED,
        reason,
        _holds_summary(state, on),
        _holds_summary(new, on),
    )


def lift_hold(
    state: CaseState, kind: HoldKind, *, on: date, actor: str, reason: str
) -> tuple[CaseState, Event]:
    """End the active hold of ``kind`` so that collection may resume on ``on``.

    The hold was active up to and including the day before ``on``, so its ``until``
    becomes ``on − 1 day``; a hold placed on ``on`` itself never took effect and is
    removed. A hold may also be lifted on a closed case, so that the timeline records when
    a dispute was settled. Raises ``ConflictError`` if no hold of ``kind`` is active.
    """
    _check_who_and_why(actor, reason)
    _check_not_backdated(state, on)
    active = [hold for hold in state.active_holds(on) if hold.kind is kind]
    if not active:
        raise ConflictError(f"no {kind.value} hold is active on {on.isoformat()}; nothing to lift")
    (target,) = active  # at most one per kind, see CaseState.__post_init__
    holds: list[Hold] = []
    for hold in state.holds:
        if hold is not target:
            holds.append(hold)
        elif hold.start < on:
            holds.append(replace(hold, until=on - timedelta(days=1)))
    new = replace(state, holds=tuple(holds))
    return new, Event(
        on,
        actor,
        EventKind.HOLD_LIFTED,
        reason,
        _holds_summary(state, on),
        _holds_summary(new, on),
    )


# -- helpers ------------------------------------------------------------------------------


def _overlap(first: Hold, second: Hold) -> bool:
    return (second.until is None or first.start <= second.until) and (
        first.until is None or second.start <= first.until
    )


def _check_who_and_why(actor: str, reason: str) -> None:
    # The timeline must answer who did it and why, for the debtor and for the regulator.
    if not actor.strip():
        raise ValidationError("say who acts: the actor must not be blank", field="actor")
    if not reason.strip():
        raise ValidationError("say why: the reason must not be blank", field="reason")


def _check_not_backdated(state: CaseState, on: date) -> None:
    """History is append-only: nothing may happen before the last recorded change.

    Hold starts count too: otherwise a move dated before a hold's start would slip past
    the hold, and a back-dated hold could overlap a later one of the same kind.
    """
    last = max((state.stage_since, *(hold.start for hold in state.holds)))
    if on < last:
        raise ValidationError(
            f"{on.isoformat()} is before the last recorded change of the case on "
            f"{last.isoformat()}; history is append-only",
            field="on",
        )


def _stage_summary(state: CaseState) -> dict[str, str]:
    summary = {"stage": state.stage.value}
    if state.close_reason is not None:
        summary["close_reason"] = state.close_reason.value
    return summary


def _hold_kinds(state: CaseState, on: date, separator: str) -> str:
    active = {hold.kind for hold in state.active_holds(on)}
    return separator.join(kind.value for kind in HoldKind if kind in active)


def _holds_summary(state: CaseState, on: date) -> dict[str, str]:
    return {"holds": _hold_kinds(state, on, ",")}
