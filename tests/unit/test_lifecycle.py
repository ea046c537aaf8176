"""The collection lifecycle: allowed moves, closing, holds and the case timeline."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from respite.domain.lifecycle import (
    TRANSITIONS,
    CaseState,
    CloseReason,
    Event,
    Hold,
    HoldKind,
    Stage,
    lift_hold,
    open_case,
    place_hold,
    transition,
)
from respite.errors import ConflictError, NotAllowed, ValidationError

DAY = date(2025, 3, 3)
WHO = "agent:ines"
WHY = "no reply to the reminder"

# The specification, written out independently of the module's table.
SPEC: dict[str, set[str]] = {
    "friendly_reminder": {"formal_notice", "arrangement", "closed"},
    "formal_notice": {"amicable", "arrangement", "closed"},
    "amicable": {"arrangement", "legal_screening", "closed"},
    "arrangement": {"amicable", "closed"},
    "legal_screening": {"legal_handover", "amicable", "arrangement", "closed"},
    "legal_handover": {"closed"},
    "closed": set(),
}
ALLOWED = [(Stage(a), Stage(b)) for a, tos in SPEC.items() for b in sorted(tos)]
DISALLOWED = [(a, b) for a in Stage for b in Stage if b.value not in SPEC[a.value]]


def at(stage: Stage, since: date = DAY, holds: tuple[Hold, ...] = ()) -> CaseState:
    reason = CloseReason.PAID if stage is Stage.CLOSED else None
    return CaseState(stage=stage, stage_since=since, holds=holds, close_reason=reason)


def reason_for(to: Stage) -> CloseReason | None:
    return CloseReason.PAID if to is Stage.CLOSED else None


def days(n: int) -> date:
    return DAY + timedelta(days=n)


def with_hold(kind: HoldKind, stage: Stage = Stage.AMICABLE) -> CaseState:
    state, _ = place_hold(at(stage), kind, on=DAY, actor=WHO, reason="debtor disputes")
    return state


# -- the transition table ------------------------------------------------------------------


def test_transition_table_is_exactly_the_specified_one() -> None:
    assert {k.value: {s.value for s in v} for k, v in TRANSITIONS.items()} == SPEC


@pytest.mark.parametrize(("start", "to"), ALLOWED, ids=lambda s: s.value)
def test_every_allowed_move_works_and_records_who_and_why(start: Stage, to: Stage) -> None:
    state, event = transition(
        at(start), to, on=days(5), actor=WHO, reason=WHY, close_reason=reason_for(to)
    )
    assert state.stage is to
    assert state.stage_since == days(5)
    assert (event.on, event.actor, event.reason, event.kind) == (days(5), WHO, WHY, "transition")
    assert event.before == {"stage": start.value}
    expected_after = {"stage": to.value}
    if to is Stage.CLOSED:
        expected_after["close_reason"] = "paid"
    assert event.after == expected_after


@pytest.mark.parametrize(("start", "to"), DISALLOWED, ids=lambda s: s.value)
def test_every_disallowed_move_is_refused_naming_both_stages(start: Stage, to: Stage) -> None:
    with pytest.raises(NotAllowed) as refused:
        transition(at(start), to, on=days(5), actor=WHO, reason=WHY, close_reason=reason_for(to))
    message = str(refused.value)
    assert f"cannot move from {start.value} to {to.value}; allowed: " in message


def test_refusal_lists_the_allowed_stages() -> None:
    with pytest.raises(NotAllowed) as refused:
        transition(at(Stage.FORMAL_NOTICE), Stage.LEGAL_HANDOVER, on=DAY, actor=WHO, reason=WHY)
    assert str(refused.value) == (
        "cannot move from formal_notice to legal_handover; allowed: amicable, arrangement, closed"
    )


def test_staying_in_the_same_stage_is_refused() -> None:
    with pytest.raises(NotAllowed, match="from amicable to amicable"):
        transition(at(Stage.AMICABLE), Stage.AMICABLE, on=days(1), actor=WHO, reason=WHY)


# -- closing -------------------------------------------------------------------------------


def test_closing_records_the_reason() -> None:
    state, _ = transition(
        at(Stage.ARRANGEMENT),
        Stage.CLOSED,
        on=days(30),
        actor=WHO,
        reason="last instalment received",
        close_reason=CloseReason.PAID,
    )
    assert state.close_reason is CloseReason.PAID


def test_closing_without_a_reason_is_refused() -> None:
    with pytest.raises(ValidationError, match="close reason"):
        transition(at(Stage.AMICABLE), Stage.CLOSED, on=DAY, actor=WHO, reason=WHY)


def test_a_close_reason_on_any_other_move_is_refused() -> None:
    with pytest.raises(ValidationError, match="only given when closing"):
        transition(
            at(Stage.AMICABLE),
            Stage.ARRANGEMENT,
            on=DAY,
            actor=WHO,
            reason=WHY,
            close_reason=CloseReason.SETTLED,
        )


@pytest.mark.parametrize("to", list(Stage), ids=lambda s: s.value)
def test_a_closed_case_is_final(to: Stage) -> None:
    closed, _ = transition(
        at(Stage.AMICABLE),
        Stage.CLOSED,
        on=DAY,
        actor=WHO,
        reason="creditor recalled",
        close_reason=CloseReason.RECALLED,
    )
    with pytest.raises(NotAllowed, match="a closed case is final"):
        transition(closed, to, on=days(1), actor=WHO, reason=WHY, close_reason=reason_for(to))


def test_no_hold_can_be_placed_on_a_closed_case() -> None:
    with pytest.raises(NotAllowed, match="closed"):
        place_hold(at(Stage.CLOSED), HoldKind.DISPUTE, on=days(1), actor=WHO, reason=WHY)


def test_a_case_with_a_close_reason_must_be_closed_and_the_other_way_round() -> None:
    with pytest.raises(ValidationError, match="close reason"):
        CaseState(Stage.CLOSED, DAY)
    with pytest.raises(ValidationError, match="close reason"):
        CaseState(Stage.AMICABLE, DAY, close_reason=CloseReason.PAID)


# -- holds stop collection ---------------------------------------------------------------


@pytest.mark.parametrize("kind", list(HoldKind), ids=lambda k: k.value)
def test_a_hold_blocks_every_move_and_names_itself(kind: HoldKind) -> None:
    state = with_hold(kind)
    for to in TRANSITIONS[Stage.AMICABLE] - {Stage.CLOSED}:
        with pytest.raises(NotAllowed, match=f"on hold \\({kind.value}\\)"):
            transition(state, to, on=days(1), actor=WHO, reason=WHY)


@pytest.mark.parametrize("kind", list(HoldKind), ids=lambda k: k.value)
@pytest.mark.parametrize("close_reason", list(CloseReason), ids=lambda r: r.value)
def test_a_hold_does_not_block_closing(kind: HoldKind, close_reason: CloseReason) -> None:
    state, event = transition(
        with_hold(kind),
        Stage.CLOSED,
        on=days(1),
        actor="creditor:acme",
        reason="recalled",
        close_reason=close_reason,
    )
    assert state.stage is Stage.CLOSED
    assert state.close_reason is close_reason
    assert event.after == {"stage": "closed", "close_reason": close_reason.value}


def test_the_refusal_names_every_active_hold() -> None:
    state = with_hold(HoldKind.DEFERRAL)
    state, _ = place_hold(state, HoldKind.DISPUTE, on=days(1), actor=WHO, reason=WHY)
    with pytest.raises(NotAllowed, match=r"on hold \(dispute, deferral\)"):
        transition(state, Stage.LEGAL_SCREENING, on=days(2), actor=WHO, reason=WHY)


def test_an_illegal_move_is_reported_as_illegal_even_during_a_hold() -> None:
    with pytest.raises(NotAllowed, match="allowed: arrangement, legal_screening, closed"):
        transition(with_hold(HoldKind.DISPUTE), Stage.LEGAL_HANDOVER, on=DAY, actor=WHO, reason=WHY)


def test_collection_resumes_on_the_day_a_hold_is_lifted() -> None:
    state = with_hold(HoldKind.DISPUTE)
    state, _ = lift_hold(state, HoldKind.DISPUTE, on=days(10), actor=WHO, reason="answered")
    state, _ = transition(state, Stage.LEGAL_SCREENING, on=days(10), actor=WHO, reason=WHY)
    assert state.stage is Stage.LEGAL_SCREENING


def test_a_hold_with_an_end_date_expires_by_itself() -> None:
    state, _ = place_hold(
        at(Stage.AMICABLE), HoldKind.DEFERRAL, on=DAY, actor=WHO, reason=WHY, until=days(3)
    )
    assert state.on_hold(days(3))
    with pytest.raises(NotAllowed, match="deferral"):
        transition(state, Stage.LEGAL_SCREENING, on=days(3), actor=WHO, reason=WHY)
    assert not state.on_hold(days(4))
    moved, _ = transition(state, Stage.LEGAL_SCREENING, on=days(4), actor=WHO, reason=WHY)
    assert moved.stage is Stage.LEGAL_SCREENING


def test_a_hold_is_active_from_its_start_to_its_end_inclusive() -> None:
    hold = Hold(HoldKind.DEFERRAL, start=days(1), until=days(3), reason=WHY, placed_by=WHO)
    assert [hold.active_on(days(n)) for n in range(5)] == [False, True, True, True, False]
    open_ended = Hold(HoldKind.DECEASED, start=days(1), until=None, reason=WHY, placed_by=WHO)
    assert not open_ended.active_on(DAY)
    assert open_ended.active_on(days(10_000))


# -- hold bookkeeping ----------------------------------------------------------------------


def test_placing_a_hold_records_who_why_and_the_active_holds() -> None:
    state = with_hold(HoldKind.DISPUTE)
    state, event = place_hold(
        state, HoldKind.DEFERRAL, on=days(2), actor=WHO, reason="asked for a month", until=days(32)
    )
    assert state.holds[-1] == Hold(HoldKind.DEFERRAL, days(2), days(32), "asked for a month", WHO)
    assert state.stage_since == DAY  # a hold does not change the stage
    assert (event.kind, event.actor, event.reason, event.on) == (
        "hold_placed",
        WHO,
        "asked for a month",
        days(2),
    )
    assert event.before == {"holds": "dispute"}
    assert event.after == {"holds": "dispute,deferral"}


def test_a_second_active_hold_of_the_same_kind_is_refused() -> None:
    state = with_hold(HoldKind.DISPUTE)
    with pytest.raises(ConflictError, match="dispute hold is already active"):
        place_hold(state, HoldKind.DISPUTE, on=days(1), actor=WHO, reason=WHY)


def test_a_hold_of_the_same_kind_may_follow_an_expired_one() -> None:
    state, _ = place_hold(
        at(Stage.AMICABLE), HoldKind.DEFERRAL, on=DAY, actor=WHO, reason=WHY, until=days(3)
    )
    state, _ = place_hold(state, HoldKind.DEFERRAL, on=days(4), actor=WHO, reason=WHY)
    assert [h.start for h in state.holds] == [DAY, days(4)]


def test_a_hold_may_not_end_before_it_is_placed() -> None:
    with pytest.raises(ValidationError, match="before it is placed"):
        place_hold(
            at(Stage.AMICABLE), HoldKind.DEFERRAL, on=DAY, actor=WHO, reason=WHY, until=days(-1)
        )
    state, _ = place_hold(
        at(Stage.AMICABLE), HoldKind.DEFERRAL, on=DAY, actor=WHO, reason=WHY, until=DAY
    )
    assert state.on_hold(DAY)
    assert not state.on_hold(days(1))


def test_lifting_ends_the_hold_the_day_before_and_keeps_it_as_history() -> None:
    state = with_hold(HoldKind.DISPUTE)
    state, event = lift_hold(state, HoldKind.DISPUTE, on=days(7), actor=WHO, reason="answered")
    (hold,) = state.holds
    assert (hold.start, hold.until) == (DAY, days(6))
    assert (event.kind, event.before, event.after) == (
        "hold_lifted",
        {"holds": "dispute"},
        {"holds": ""},
    )
    assert state.on_hold(days(6))
    assert not state.on_hold(days(7))


def test_lifting_a_hold_on_the_day_it_was_placed_removes_it() -> None:
    state, _ = place_hold(at(Stage.AMICABLE), HoldKind.DEFERRAL, on=DAY, actor=WHO, reason=WHY)
    state, _ = place_hold(state, HoldKind.DISPUTE, on=days(2), actor=WHO, reason=WHY)
    state, _ = lift_hold(state, HoldKind.DISPUTE, on=days(2), actor=WHO, reason="placed in error")
    assert [h.kind for h in state.holds] == [HoldKind.DEFERRAL]


def test_lifting_ends_a_dated_hold_early() -> None:
    state, _ = place_hold(
        at(Stage.AMICABLE), HoldKind.DEFERRAL, on=DAY, actor=WHO, reason=WHY, until=days(30)
    )
    state, _ = lift_hold(state, HoldKind.DEFERRAL, on=days(10), actor=WHO, reason="paid up")
    assert state.holds[0].until == days(9)


def test_lifting_only_touches_the_hold_of_that_kind() -> None:
    state = with_hold(HoldKind.DISPUTE)
    state, _ = place_hold(state, HoldKind.DEFERRAL, on=days(1), actor=WHO, reason=WHY)
    before = state.holds
    state, event = lift_hold(state, HoldKind.DISPUTE, on=days(3), actor=WHO, reason="answered")
    assert state.holds[1] == before[1]
    assert event.after == {"holds": "deferral"}


@pytest.mark.parametrize("kind", list(HoldKind), ids=lambda k: k.value)
def test_lifting_a_hold_that_is_not_active_is_refused(kind: HoldKind) -> None:
    with pytest.raises(ConflictError, match=f"no {kind.value} hold is active"):
        lift_hold(at(Stage.AMICABLE), kind, on=DAY, actor=WHO, reason=WHY)


def test_lifting_an_expired_hold_is_refused() -> None:
    state, _ = place_hold(
        at(Stage.AMICABLE), HoldKind.DEFERRAL, on=DAY, actor=WHO, reason=WHY, until=days(3)
    )
    with pytest.raises(ConflictError, match="no deferral hold is active"):
        lift_hold(state, HoldKind.DEFERRAL, on=days(4), actor=WHO, reason=WHY)


def test_a_hold_can_be_lifted_after_the_case_closed() -> None:
    state, _ = transition(
        with_hold(HoldKind.DISPUTE),
        Stage.CLOSED,
        on=days(1),
        actor="creditor:acme",
        reason="recalled",
        close_reason=CloseReason.RECALLED,
    )
    state, _ = lift_hold(state, HoldKind.DISPUTE, on=days(5), actor=WHO, reason="settled")
    assert state.holds[0].until == days(4)


def test_overlapping_holds_of_one_kind_are_refused_in_a_state() -> None:
    first = Hold(HoldKind.DISPUTE, DAY, days(5), WHY, WHO)
    second = Hold(HoldKind.DISPUTE, days(5), None, WHY, WHO)
    with pytest.raises(ValidationError, match="two dispute holds overlap"):
        CaseState(Stage.AMICABLE, DAY, holds=(first, second))
    after = Hold(HoldKind.DISPUTE, days(6), None, WHY, WHO)
    assert CaseState(Stage.AMICABLE, DAY, holds=(first, after)).holds == (first, after)


# -- who, when, why ------------------------------------------------------------------------


def test_opening_a_case_writes_its_first_event() -> None:
    state, event = open_case(DAY, actor="import:acme", reason="invoice 2025-17 overdue")
    assert state == CaseState(Stage.FRIENDLY_REMINDER, DAY)
    assert (event.kind, event.before, event.after) == (
        "transition",
        {},
        {"stage": "friendly_reminder"},
    )
    assert (event.actor, event.reason) == ("import:acme", "invoice 2025-17 overdue")


def test_a_case_may_be_opened_in_a_later_stage_but_not_closed() -> None:
    state, _ = open_case(DAY, actor=WHO, reason=WHY, stage=Stage.FORMAL_NOTICE)
    assert state.stage is Stage.FORMAL_NOTICE
    with pytest.raises(ValidationError, match="opened closed"):
        open_case(DAY, actor=WHO, reason=WHY, stage=Stage.CLOSED)


OPERATIONS = {
    "open": lambda actor, reason: open_case(DAY, actor=actor, reason=reason),
    "transition": lambda actor, reason: transition(
        at(Stage.AMICABLE), Stage.ARRANGEMENT, on=DAY, actor=actor, reason=reason
    ),
    "place": lambda actor, reason: place_hold(
        at(Stage.AMICABLE), HoldKind.DISPUTE, on=DAY, actor=actor, reason=reason
    ),
    "lift": lambda actor, reason: lift_hold(
        with_hold(HoldKind.DISPUTE), HoldKind.DISPUTE, on=days(1), actor=actor, reason=reason
    ),
}


@pytest.mark.parametrize("operation", sorted(OPERATIONS))
@pytest.mark.parametrize(("actor", "reason", "field"), [("", WHY, "actor"), (WHO, " ", "reason")])
def test_every_change_needs_an_actor_and_a_reason(
    operation: str, actor: str, reason: str, field: str
) -> None:
    with pytest.raises(ValidationError) as refused:
        OPERATIONS[operation](actor, reason)
    assert refused.value.field == field


def test_a_move_dated_before_the_current_stage_began_is_refused() -> None:
    with pytest.raises(ValidationError, match="history is append-only"):
        transition(at(Stage.AMICABLE), Stage.ARRANGEMENT, on=days(-1), actor=WHO, reason=WHY)
    with pytest.raises(ValidationError, match="history is append-only"):
        place_hold(at(Stage.AMICABLE), HoldKind.DISPUTE, on=days(-1), actor=WHO, reason=WHY)


def test_a_move_cannot_be_back_dated_past_a_hold() -> None:
    state, _ = place_hold(at(Stage.AMICABLE), HoldKind.DISPUTE, on=days(5), actor=WHO, reason=WHY)
    with pytest.raises(ValidationError, match="history is append-only"):
        transition(state, Stage.LEGAL_SCREENING, on=days(4), actor=WHO, reason=WHY)


def test_several_changes_may_happen_on_one_day() -> None:
    state, _ = open_case(DAY, actor=WHO, reason=WHY)
    state, _ = transition(state, Stage.FORMAL_NOTICE, on=DAY, actor=WHO, reason=WHY)
    state, _ = transition(
        state, Stage.CLOSED, on=DAY, actor=WHO, reason=WHY, close_reason=CloseReason.PAID
    )
    assert state.stage is Stage.CLOSED


def test_an_event_cannot_be_changed_after_it_is_written() -> None:
    after = {"stage": "amicable"}
    event = Event(DAY, WHO, "transition", WHY, {"stage": "formal_notice"}, after)
    after["stage"] = "closed"
    assert event.after == {"stage": "amicable"}
    with pytest.raises(TypeError):
        event.after["stage"] = "closed"  # type: ignore[index]


def test_an_event_of_an_unknown_kind_is_refused() -> None:
    with pytest.raises(ValidationError, match="unknown event kind 'stage_changed'"):
        Event(DAY, WHO, "stage_changed", WHY, {}, {})


# -- the invariants over any sequence of operations -------------------------------------------

Op = tuple[str, int, Stage | HoldKind, CloseReason | int | None]

gaps = st.integers(min_value=0, max_value=4)
moves: st.SearchStrategy[Op] = st.tuples(
    st.just("transition"),
    gaps,
    st.sampled_from(Stage),
    # A close reason that fits the move, or None for one that does not (see run()).
    st.sampled_from([*CloseReason, None]),
)
operations: st.SearchStrategy[Op] = st.one_of(
    moves,
    moves,  # twice: holds pile up otherwise and most moves would only test the hold check
    st.tuples(
        st.just("place"),
        gaps,
        st.sampled_from(HoldKind),
        st.none() | st.integers(min_value=-1, max_value=8),
    ),
    st.tuples(st.just("lift"), gaps, st.sampled_from(HoldKind), st.none()),
)


def is_active(hold: Hold, on: date) -> bool:
    return hold.start <= on and (hold.until is None or on <= hold.until)


def active_kinds(state: CaseState, on: date) -> str:
    kinds = {h.kind for h in state.holds if is_active(h, on)}
    return ",".join(k.value for k in HoldKind if k in kinds)


def stage_summary(state: CaseState) -> dict[str, str]:
    summary = {"stage": state.stage.value}
    if state.close_reason is not None:
        summary["close_reason"] = state.close_reason.value
    return summary


def expected_error(state: CaseState, op: Op, on: date) -> type[Exception] | None:
    """What the rules say an operation must raise on ``state``, or None if it may run."""
    name, _, target, extra = op
    if name == "transition":
        assert isinstance(target, Stage)
        if extra is None:
            return ValidationError
        if target.value not in SPEC[state.stage.value]:
            return NotAllowed
        if target is not Stage.CLOSED and active_kinds(state, on):
            return NotAllowed
        return None
    assert isinstance(target, HoldKind)
    active_same_kind = any(h.kind is target and is_active(h, on) for h in state.holds)
    if name == "place":
        if isinstance(extra, int) and extra < 0:
            return ValidationError
        if state.stage is Stage.CLOSED:
            return NotAllowed
        return ConflictError if active_same_kind else None
    return None if active_same_kind else ConflictError


def run(state: CaseState, op: Op, on: date) -> tuple[CaseState, Event]:
    name, _, target, extra = op
    if name == "transition":
        assert isinstance(target, Stage)
        closing = target is Stage.CLOSED
        if isinstance(extra, CloseReason):
            close_reason = extra if closing else None
        else:  # the misfit: no reason for closing, a reason for any other move
            close_reason = None if closing else CloseReason.PAID
        return transition(state, target, on=on, actor=WHO, reason=WHY, close_reason=close_reason)
    assert isinstance(target, HoldKind)
    if name == "place":
        until = on + timedelta(days=extra) if isinstance(extra, int) else None
        return place_hold(state, target, on=on, actor=WHO, reason=WHY, until=until)
    return lift_hold(state, target, on=on, actor=WHO, reason=WHY)


def assert_invariants(state: CaseState) -> None:
    assert (state.stage is Stage.CLOSED) == (state.close_reason is not None)
    # Two periods overlap exactly when one starts inside the other.
    for hold in state.holds:
        same_kind_active = [
            h for h in state.holds if h.kind is hold.kind and is_active(h, hold.start)
        ]
        assert len(same_kind_active) == 1, f"two {hold.kind.value} holds on {hold.start}"


def assert_event_matches(
    op: Op, on: date, previous: CaseState, state: CaseState, event: Event
) -> None:
    name, _, target, _ = op
    assert isinstance(event, Event)
    assert (event.on, event.actor, event.reason) == (on, WHO, WHY)
    if name == "transition":
        assert event.kind == "transition"
        assert (previous.stage.value, state.stage.value) in {(a.value, b.value) for a, b in ALLOWED}
        assert state.stage is target
        assert state.stage_since == on
        assert state.holds == previous.holds
        assert event.before == stage_summary(previous)
        assert event.after == stage_summary(state)
        return
    assert (state.stage, state.stage_since, state.close_reason) == (
        previous.stage,
        previous.stage_since,
        previous.close_reason,
    )
    assert event.before == {"holds": active_kinds(previous, on)}
    assert event.after == {"holds": active_kinds(state, on)}
    if name == "place":
        assert event.kind == "hold_placed"
        assert state.holds[:-1] == previous.holds
        assert (state.holds[-1].kind, state.holds[-1].start) == (target, on)
    else:
        assert event.kind == "hold_lifted"
        assert not any(h.kind is target and is_active(h, on) for h in state.holds)
        untouched = [h for h in previous.holds if not (h.kind is target and is_active(h, on))]
        assert [h for h in state.holds if h in untouched] == untouched
        assert len(previous.holds) - len(state.holds) in (0, 1)


@settings(max_examples=400)
@given(
    st.sampled_from([s for s in Stage if s is not Stage.CLOSED]), st.lists(operations, max_size=30)
)
def test_no_sequence_of_operations_breaks_the_lifecycle(start: Stage, ops: list[Op]) -> None:
    """Invariant: a stage is only reached by a move in the specified table, a case is
    closed exactly when it has a close reason, no two holds of one kind are ever active on
    the same day; an operation succeeds exactly when the rules allow it, and then yields one
    event whose before/after describe the old and the new state."""
    on = DAY
    state, event = open_case(on, actor=WHO, reason=WHY, stage=start)
    assert (event.before, event.after) == ({}, stage_summary(state))
    for op in ops:
        on += timedelta(days=op[1])
        expected = expected_error(state, op, on)
        if expected is not None:
            with pytest.raises(expected):
                run(state, op, on)
            continue
        new, event = run(state, op, on)
        assert_event_matches(op, on, state, new, event)
        assert_invariants(new)
        state = new
