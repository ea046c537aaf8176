"""Guardrails as properties: no sequence of strategy, agent and portal actions gets past them.

The simulation plays random requests from the three sources against one person over about
30 days: a *send* is appended to the person's history, a *defer* is tried again at its
``not_before``, a *block* with a date is tried again then, a block without a date ends.
The sent history is then checked by an independent, naive reading of the rules.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from respite.adapters.calendars import is_holiday_for
from respite.domain.guardrails import (
    CHANNELS,
    ContactRequest,
    ContactRules,
    ContactState,
    Decision,
    Outcome,
    PastContact,
    decide,
    next_allowed,
)
from respite.domain.lifecycle import HoldKind
from respite.rules.contact import load_contact_rules

PEOPLE = (
    ("NL", "Europe/Amsterdam"),
    ("PL", "Europe/Warsaw"),
    ("US", "America/New_York"),
    ("UK", "Europe/London"),
    ("BE", "Europe/Brussels"),
)
# Periods with a DST change (March, October/November), many holidays (late April, May,
# December) and none in particular.
STARTS = (date(2026, 3, 1), date(2026, 4, 20), date(2026, 10, 15), date(2026, 12, 15))
POLICIES: tuple[Mapping[str, Any] | None, ...] = (
    None,
    {
        "contact": {
            "caps": {
                "sms": {"limit": 1},
                "phone_week": {"channels": ["phone"], "limit": 2, "window_days": 7},
            }
        }
    },
    {"contact": {"windows": {"saturday": "closed", "monday": ["10:00", "16:00"]}}},
    {
        "contact": {
            "holidays_closed": True,
            "closed_dates": ["2026-03-10", "2026-04-28", "2026-10-20", "2026-12-24"],
            "caps": {"letters": {"channels": ["post"], "limit": 2, "window_days": 14}},
        }
    },
)
CASES = (1, 2, 3)
SOURCES = ("strategy", "agent", "portal")
MINUTES = 30 * 24 * 60
HOLIDAYS = {code: is_holiday_for(code) for code, _ in PEOPLE}
BLOCKING = ("hold:", "opt_out:", "consent:", "deceased")


@dataclass(frozen=True)
class Scenario:
    rules: ContactRules
    tz: ZoneInfo
    origin: datetime
    holds: Mapping[int, tuple[tuple[str, date, date | None], ...]]
    opted_out: frozenset[str]
    consented: frozenset[str]
    deceased: bool
    # channel, cases, minute after origin, source, a conversation if the call is answered
    requests: tuple[tuple[str, frozenset[int], int, str, bool], ...]
    inbound: tuple[tuple[int, frozenset[int]], ...]  # the person calls in and talks

    @property
    def is_holiday(self) -> Callable[[date], bool]:
        return HOLIDAYS[self.rules.jurisdiction]

    def state(self, history: tuple[PastContact, ...]) -> ContactState:
        return ContactState(
            self.tz, history, self.holds, self.opted_out, self.consented, self.deceased
        )


case_sets = st.frozensets(st.sampled_from(CASES), min_size=1, max_size=2)
# Minutes after the first local midnight; whole hours often, to hit window edges exactly.
moments = st.integers(0, MINUTES - 1) | st.integers(0, MINUTES // 60 - 1).map(lambda h: h * 60)


@st.composite
def scenarios(draw: st.DrawFn, max_requests: int = 25) -> Scenario:
    code, zone = draw(st.sampled_from(PEOPLE))
    tz = ZoneInfo(zone)
    start = draw(st.sampled_from(STARTS))
    rules = load_contact_rules(code, start, draw(st.sampled_from(POLICIES)))
    holds: dict[int, tuple[tuple[str, date, date | None], ...]] = {}
    for case in CASES:
        items = []
        for _ in range(draw(st.integers(0, 2))):
            begin = start + timedelta(days=draw(st.integers(-5, 35)))
            open_ended = draw(st.integers(0, 4)) == 0
            until = None if open_ended else begin + timedelta(days=draw(st.integers(0, 12)))
            items.append((draw(st.sampled_from([k.value for k in HoldKind])), begin, until))
        if items:
            holds[case] = tuple(items)
    requests = draw(
        st.lists(
            st.tuples(
                st.sampled_from(CHANNELS),
                case_sets,
                moments,
                st.sampled_from(SOURCES),
                st.booleans(),
            ),
            min_size=1,
            max_size=max_requests,
        )
    )
    inbound = draw(st.lists(st.tuples(st.integers(0, MINUTES - 1), case_sets), max_size=3))
    return Scenario(
        rules=rules,
        tz=tz,
        origin=datetime.combine(start, time(0), tzinfo=tz).astimezone(UTC),
        holds=holds,
        opted_out=draw(st.frozensets(st.sampled_from(CHANNELS), max_size=2)),
        consented=draw(st.frozensets(st.sampled_from(CHANNELS))),
        deceased=draw(st.integers(0, 29)) == 0,
        requests=tuple(requests),
        inbound=tuple(inbound),
    )


@dataclass
class Run:
    history: list[PastContact]  # in the order things happened, inbound calls included
    sent: list[tuple[PastContact, str]]  # with the request's source
    final: dict[int, Decision]


def simulate(sc: Scenario) -> Run:
    queue: list[tuple[datetime, int, str, int]] = []
    seq = 0
    for i, (_, _, minute, _, _) in enumerate(sc.requests):
        queue.append((sc.origin + timedelta(minutes=minute), seq, "request", i))
        seq += 1
    for j, (minute, _) in enumerate(sc.inbound):
        queue.append((sc.origin + timedelta(minutes=minute), seq, "inbound", j))
        seq += 1
    heapq.heapify(queue)
    run = Run([], [], {})
    steps = 0
    while queue:
        steps += 1
        assert steps < 20_000, "the simulation does not settle"
        moment, _, kind, index = heapq.heappop(queue)
        if kind == "inbound":
            cases = sc.inbound[index][1]
            run.history.append(PastContact(moment, "phone", cases, conversation=True, inbound=True))
            continue
        channel, cases, _, source, answered = sc.requests[index]
        request = ContactRequest(channel, cases, moment, source)
        state = sc.state(tuple(run.history))
        decision = decide(request, state, sc.rules, sc.is_holiday)
        if decision.outcome is Outcome.SEND:
            contact = PastContact(
                moment, channel, cases, conversation=answered and channel == "phone"
            )
            run.history.append(contact)
            run.sent.append((contact, source))
            run.final[index] = decision
            continue
        if decision.outcome is Outcome.DEFER:
            # A deferral always names its slot, and it is next_allowed's answer.
            assert decision.not_before is not None, decision
            assert decision.not_before == next_allowed(request, state, sc.rules, sc.is_holiday)
        if decision.not_before is None:
            run.final[index] = decision
            continue
        assert decision.not_before > moment, decision
        heapq.heappush(queue, (decision.not_before, seq, "request", index))
        seq += 1
    return run


def held(sc: Scenario, cases: frozenset[int], day: date) -> bool:
    return any(
        begin <= day and (until is None or day <= until)
        for case in cases
        for _, begin, until in sc.holds.get(case, ())
    )


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_no_sequence_of_requests_gets_past_the_guardrails(sc: Scenario) -> None:
    """Whatever strategy, agents and the portal ask, and in whatever order, what is sent:
    falls inside the contact hours of an open day in the person's time zone (no closed
    weekday, closed date or closed public holiday), on no case under a hold, on no channel
    the person opted out of or did not consent to where consent is required, never to a
    deceased person; keeps every cap in every run of consecutive local days (per debt
    where the cap says so); and, under Reg F, makes no call about a debt within the pause
    after a conversation about it. No request is dropped: each one ends sent, or blocked
    by a condition without an end (a hold, an opt-out, missing consent, death)."""
    run = simulate(sc)
    rules, tz = sc.rules, sc.tz

    assert set(run.final) == set(range(len(sc.requests)))
    for decision in run.final.values():
        assert decision.outcome is Outcome.SEND or decision.rule.startswith(BLOCKING), decision

    for contact, _ in run.sent:
        local = contact.at.astimezone(tz)
        day = local.date()
        window = rules.windows.get(day.weekday())
        assert window is not None, (contact, "closed weekday")
        assert window[0] <= local.time() < window[1], (contact, "quiet hours")
        assert day not in rules.closed_dates
        assert not (rules.holidays_closed and sc.is_holiday(day)), (contact, "holiday")
        assert not held(sc, contact.case_ids, day), (contact, "hold")
        assert contact.channel not in sc.opted_out
        assert contact.channel not in rules.consent_required or contact.channel in sc.consented
        assert not sc.deceased

    for cap in rules.caps:
        counted = [c for c, _ in run.sent if c.channel in cap.channels]
        scopes: list[int | None] = list(CASES) if cap.per_debt else [None]
        for scope in scopes:
            days = sorted(
                c.at.astimezone(tz).date() for c in counted if scope is None or scope in c.case_ids
            )
            for first in days:
                last = first + timedelta(days=cap.window_days - 1)
                assert sum(first <= d <= last for d in days) <= cap.limit, (cap.rule, first)

    pause = rules.call_pause_after_conversation_days
    if pause is not None:
        for k, call in enumerate(run.history):
            if call.channel != "phone" or call.inbound:
                continue
            day = call.at.astimezone(tz).date()
            for earlier in run.history[:k]:
                if (
                    earlier.channel == "phone"
                    and earlier.conversation
                    and earlier.case_ids & call.case_ids
                ):
                    talked = earlier.at.astimezone(tz).date()
                    assert not talked <= day < talked + timedelta(days=pause), call


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    scenarios(max_requests=1),
    st.lists(
        st.tuples(
            st.sampled_from(CHANNELS), case_sets, st.integers(0, 10 * 24 * 60), st.booleans()
        ),
        max_size=12,
    ),
)
def test_next_allowed_is_the_first_moment_that_decide_sends(
    sc: Scenario, past: list[tuple[str, frozenset[int], int, bool]]
) -> None:
    """For any person, history and request: ``next_allowed`` is None exactly when decide
    blocks without a date; otherwise it is ≥ the request's moment, decide sends at it, it
    equals the decision's ``not_before`` when the decision is not a send, and no earlier
    day's first allowed minute (from the request on) would have been sent."""
    channel, cases, minute, source, _ = sc.requests[0]
    at = sc.origin + timedelta(days=10, minutes=minute)
    history = tuple(
        PastContact(sc.origin + timedelta(minutes=m), ch, cs, conversation=talk and ch == "phone")
        for ch, cs, m, talk in past
    )
    state = sc.state(history)
    request = ContactRequest(channel, cases, at, source)
    slot = next_allowed(request, state, sc.rules, sc.is_holiday)
    decision = decide(request, state, sc.rules, sc.is_holiday)
    if decision.outcome is Outcome.SEND:
        assert slot == at
        return
    assert decision.not_before == slot, (decision, slot)
    if slot is None:
        assert decision.outcome is Outcome.BLOCK
        return
    assert slot > at
    assert decide(replace(request, at=slot), state, sc.rules, sc.is_holiday).outcome is (
        Outcome.SEND
    )
    tz = sc.tz
    day = at.astimezone(tz).date()
    while day <= slot.astimezone(tz).date():
        window = sc.rules.windows.get(day.weekday())
        if window is not None:
            probe = max(at, datetime.combine(day, window[0], tzinfo=tz))
            if probe < slot and probe.astimezone(tz).date() == day:
                earlier = decide(replace(request, at=probe), state, sc.rules, sc.is_holiday)
                assert earlier.outcome is not Outcome.SEND, (probe, slot)
        day += timedelta(days=1)
