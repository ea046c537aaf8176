"""Contact guardrails: one engine that every path (strategy, agent, portal) must pass.

CONTRACT (written by the lead; the implementation fills in the bodies and may add private
helpers, but keeps these names, fields and meanings):

- :func:`decide` answers, for one contact request at one moment, *send*, *defer* (not now;
  ``not_before`` is the next allowed slot) or *block* (not while a condition lasts: a hold,
  an opt-out, missing consent, a deceased debtor; ``not_before`` is the hold's end + 1 day at
  the start of the allowed window when the hold has an end, else ``None``). Every decision
  names the rule that made it (``rule``: a stable id such as ``"quiet_hours"``,
  ``"frequency:sms:3/7d"``, ``"us_reg_f_7in7"``, ``"hold:dispute"``, ``"opt_out:email"``,
  ``"consent:sms"``, ``"sunday"``, ``"public_holiday"``) and a plain reason.
- Caps count *every* contact of the person across all creditors (the history the caller
  passes is the person's, not the case's). A cap can count per debt (US Reg F 7-in-7).
- Quiet hours are evaluated in the debtor's own time zone (``ContactState.timezone``);
  Sundays and public holidays (``is_holiday``, supplied by the adapter from the
  ``holidays`` library) are closed when the rules say so.
- :func:`next_allowed` is the first moment ≥ ``at`` at which a request on that channel
  passes every timing rule (window, day, caps, holds with an end); the service defers a
  message there. It never returns a moment inside quiet hours or a hold.
- Pure: no I/O, no clock; ``at`` is an aware ``datetime``.

How the rules are read (the implementation's choices, each on the safe side):

- Order of the checks in :func:`decide`: deceased → holds → opt-out → consent → closed day
  (``sunday``, ``closed_day``, ``public_holiday``) → quiet hours → the call pause after a
  conversation (``us_reg_f_after_conversation``) → caps (in ``rules.caps`` order). A
  request for several cases is blocked when *any* of them is on hold: the messaging
  service leaves held cases out before it asks.
- Every day is a *local calendar day* in the debtor's time zone, and a window of
  ``window_days`` is that many consecutive local days. A cap holds when *every* run of
  ``window_days`` consecutive days that contains the day of the new contact stays within
  ``limit`` (so a history that is not in time order is still safe). US Reg F counts "more
  than seven within seven consecutive days" and, for the pause, "the date of the telephone
  conversation is the first day of the seven-consecutive-day period" (12 CFR
  1006.14(b)(2)(i)(A)-(B), comment 14(b)(2)(i)-1): a conversation on day 1 stops calls on
  days 1-7 and allows them again on day 8.
- Contact hours are wall-clock times, start inclusive and end exclusive (08:00-21:00
  allows 08:00:00 and refuses 21:00:00). On a day when the clocks go forward inside a
  window's start, the window opens at the first moment that exists after that start.
- A contact that names no case counts for every debt of a per-debt cap, and a per-debt
  request that names no case is counted against all of the person's calls: Reg F counts an
  unanswered call "toward at least one particular debt" (comment 14(b)(4)-1.i), and the
  engine does not guess which.
- ``PastContact.inbound`` marks a contact the person started (they called in): it does not
  count toward any cap, but a conversation in it starts the Reg F call pause (comment
  14(b)(2)(i)-1.ii: a consumer-initiated conversation on 13 August, no call before 20 August).
- Calls that did not connect (busy, number not in service) are not contacts under
  1006.14(b)(3)(ii); the caller leaves them out of ``history``. The prior-consent
  exclusion of 1006.14(b)(3)(i) is not modelled: such calls still count (stricter).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from enum import StrEnum

from respite.errors import ValidationError

__all__ = [
    "CHANNELS",
    "Cap",
    "ContactRequest",
    "ContactRules",
    "ContactState",
    "Decision",
    "Outcome",
    "PastContact",
    "decide",
    "next_allowed",
]

# Channels the engine knows. "post" is a letter; "phone" is an outbound call by an agent.
CHANNELS = ("email", "sms", "post", "phone")

# How far ahead next_allowed looks for a slot before it gives up (a rule set that never
# allows a channel, e.g. a cap of 0, yields no slot instead of a loop).
HORIZON_DAYS = 400
ALLOWED = "allowed"
NO_SLOT = "no_slot"
PAUSE_RULE = "us_reg_f_after_conversation"
_UTC = UTC
_DAY = timedelta(days=1)


class Outcome(StrEnum):
    SEND = "send"
    DEFER = "defer"
    BLOCK = "block"


@dataclass(frozen=True, slots=True)
class Cap:
    """At most ``limit`` contacts on ``channels`` within ``window_days`` consecutive days.

    ``per_debt``: count per case (US Reg F counts calls per person *per debt*); otherwise
    per person across all creditors and cases. ``rule`` is the id recorded on a decision.
    """

    rule: str
    channels: frozenset[str]
    limit: int
    window_days: int
    per_debt: bool = False
    source: str = ""

    def __post_init__(self) -> None:
        if self.limit < 0 or self.window_days < 1:
            raise ValidationError(
                f"cap {self.rule}: limit must be ≥ 0 and window_days ≥ 1", field="caps"
            )
        unknown = sorted(self.channels - frozenset(CHANNELS))
        if unknown or not self.channels:
            raise ValidationError(
                f"cap {self.rule}: channels must be some of {', '.join(CHANNELS)}", field="caps"
            )


@dataclass(frozen=True, slots=True)
class ContactRules:
    """The rules of one jurisdiction, tightened by agency or creditor policy.

    ``windows``: allowed local times per weekday (0 = Monday … 6 = Sunday), ``None`` for a
    day without contact. ``holidays_closed``: no contact on public holidays.
    ``call_pause_after_conversation_days``: US Reg F 1006.14(b)(2)(ii): no call within
    seven days after a telephone conversation about the debt (the conversation's date is
    day one); ``None`` where no such rule applies. ``consent_required``: channels that need
    the person's recorded consent before use (e.g. SMS). ``sources``: rule id → citation.
    ``closed_dates``: extra local dates without contact (a creditor's or agency's own closed
    days); a weekday missing from ``windows`` is closed.
    """

    jurisdiction: str
    windows: Mapping[int, tuple[time, time] | None]
    holidays_closed: bool
    caps: tuple[Cap, ...]
    consent_required: frozenset[str] = frozenset()
    call_pause_after_conversation_days: int | None = None
    sources: Mapping[str, str] = field(default_factory=dict)
    closed_dates: frozenset[date] = frozenset()

    def __post_init__(self) -> None:
        for weekday, window in self.windows.items():
            if weekday not in range(7):
                raise ValidationError(f"weekday {weekday} is not 0-6", field="windows")
            if window is not None and not window[0] < window[1]:
                raise ValidationError(
                    f"weekday {weekday}: a window must start before it ends", field="windows"
                )
        pause = self.call_pause_after_conversation_days
        if pause is not None and pause < 1:
            raise ValidationError("must be at least 1", field="call_pause_after_conversation_days")


@dataclass(frozen=True, slots=True)
class PastContact:
    """A contact that went out (or a call attempt that was made), at an aware moment.

    ``inbound``: the person contacted us (e.g. called in). It counts toward no cap; a
    conversation in it still starts the call pause (Reg F comment 14(b)(2)(i)-1.ii).
    """

    at: datetime
    channel: str
    case_ids: frozenset[int]
    conversation: bool = False  # a phone call in which the debtor was reached
    inbound: bool = False


@dataclass(frozen=True, slots=True)
class ContactState:
    """What the engine knows of the person at the moment of the decision.

    ``holds``: active or future holds per case id, as ``(kind, start, until_or_None)``.
    ``opted_out`` and ``consented``: channels. ``deceased``: no contact at all.
    """

    timezone: tzinfo
    history: tuple[PastContact, ...] = ()
    holds: Mapping[int, tuple[tuple[str, date, date | None], ...]] = field(default_factory=dict)
    opted_out: frozenset[str] = frozenset()
    consented: frozenset[str] = frozenset()
    deceased: bool = False


@dataclass(frozen=True, slots=True)
class ContactRequest:
    """One contact someone wants to make: the strategy, an agent or the portal."""

    channel: str
    case_ids: frozenset[int]
    at: datetime
    source: str  # strategy | agent | portal


@dataclass(frozen=True, slots=True)
class Decision:
    outcome: Outcome
    rule: str
    reason: str
    not_before: datetime | None = None


def decide(
    request: ContactRequest,
    state: ContactState,
    rules: ContactRules,
    is_holiday: Callable[[date], bool],
) -> Decision:
    """Send, defer or block ``request``; the first rule that stops it is named."""
    _check_input(request)
    tz = state.timezone
    local = request.at.astimezone(tz)
    if state.deceased:
        return Decision(Outcome.BLOCK, "deceased", "the person is recorded as deceased")
    holds = _active_holds(request.case_ids, state, local.date())
    if holds:
        held = _hold_stop(holds)
        not_before = None
        ends = [until for _, _, until in holds]
        if all(until is not None for until in ends):
            after = max(u for u in ends if u is not None) + _DAY
            not_before = next_allowed(
                replace(request, at=_first_instant(after, time(0), tz)), state, rules, is_holiday
            )
        return Decision(Outcome.BLOCK, held.rule, held.reason, not_before)
    channel_stop = _channel_stop(request.channel, state, rules)
    if channel_stop is not None:
        return Decision(Outcome.BLOCK, channel_stop.rule, channel_stop.reason)
    counters = _counters(request, state, rules)
    stop = _timing_stop(request, state, rules, is_holiday, local, counters)
    if stop is None:
        return Decision(
            Outcome.SEND,
            ALLOWED,
            f"{request.channel} passes every {rules.jurisdiction} contact rule at {_fmt(local)}",
        )
    slot, why = _scan(request, state, rules, is_holiday, counters)
    if slot is None:
        # A later condition (an open-ended hold) names the block; a rule that never lets
        # the channel through (e.g. a cap of 0) keeps its own name.
        blocker = why if why is not None and why.rule != NO_SLOT else stop
        return Decision(
            Outcome.BLOCK,
            blocker.rule,
            f"{stop.reason}; no later slot can be named" + (f": {why.reason}" if why else ""),
        )
    return Decision(Outcome.DEFER, stop.rule, f"{stop.reason}; next allowed {_fmt(slot)}", slot)


def next_allowed(
    request: ContactRequest,
    state: ContactState,
    rules: ContactRules,
    is_holiday: Callable[[date], bool],
) -> datetime | None:
    """The first aware moment ≥ ``request.at`` at which ``request`` would be sent.

    ``None`` when no moment can be named (an open-ended hold, an opt-out, deceased).
    """
    _check_input(request)
    if state.deceased or _channel_stop(request.channel, state, rules) is not None:
        return None
    slot, _ = _scan(request, state, rules, is_holiday, _counters(request, state, rules))
    return slot


# internals ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Stop:
    rule: str
    reason: str


_Hold = tuple[str, date, date | None]


def _check_input(request: ContactRequest) -> None:
    if request.at.tzinfo is None or request.at.utcoffset() is None:
        raise ValidationError("a contact moment must be timezone-aware", field="at")
    if request.channel not in CHANNELS:
        raise ValidationError(
            f"unknown channel {request.channel!r} (known: {', '.join(CHANNELS)})",
            field="channel",
        )


def _fmt(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M %Z")


def _channel_stop(channel: str, state: ContactState, rules: ContactRules) -> _Stop | None:
    if channel in state.opted_out:
        return _Stop(f"opt_out:{channel}", f"the person opted out of {channel}")
    if channel in rules.consent_required and channel not in state.consented:
        return _Stop(
            f"consent:{channel}",
            f"{channel} needs the person's recorded consent ({rules.jurisdiction})",
        )
    return None


def _active_holds(case_ids: frozenset[int], state: ContactState, day: date) -> list[_Hold]:
    return [
        hold
        for case_id in sorted(case_ids)
        for hold in state.holds.get(case_id, ())
        if hold[1] <= day and (hold[2] is None or day <= hold[2])
    ]


def _hold_stop(holds: list[_Hold]) -> _Stop:
    # Name the hold that lasts longest: it is the one that decides when contact resumes.
    lead = max(holds, key=lambda h: (h[2] is None, h[2] or date.min))
    kinds = ", ".join(
        sorted({f"{k} until {u.isoformat()}" if u else f"{k} (no end)" for k, _, u in holds})
    )
    return _Stop(f"hold:{lead[0]}", f"a case of this request is on hold: {kinds}")


def _day_stop(rules: ContactRules, day: date, is_holiday: Callable[[date], bool]) -> _Stop | None:
    weekday = day.weekday()
    if rules.windows.get(weekday) is None:
        if weekday == 6:
            return _Stop("sunday", "no contact on Sundays")
        return _Stop("closed_day", f"no contact on {day.strftime('%A')}s")
    if day in rules.closed_dates:
        return _Stop("closed_day", f"no contact on {day.isoformat()} (a closed day)")
    if rules.holidays_closed and is_holiday(day):
        return _Stop("public_holiday", f"{day.isoformat()} is a public holiday")
    return None


def _window_stop(rules: ContactRules, local: datetime) -> _Stop | None:
    window = rules.windows.get(local.weekday())
    if window is None:  # checked by _day_stop first; kept for safety
        return _Stop("closed_day", "no contact on this day")
    start, end = window
    wall = local.time()
    if start <= wall < end:
        return None
    return _Stop(
        "quiet_hours",
        f"outside the contact hours {start:%H:%M}-{end:%H:%M} local time "
        f"({wall:%H:%M} {local.tzname()})",
    )


def _relates(contact: PastContact, case_ids: frozenset[int]) -> bool:
    return not contact.case_ids or not case_ids or bool(contact.case_ids & case_ids)


def _pause_end(
    request: ContactRequest, state: ContactState, rules: ContactRules, day: date
) -> date | None:
    """The first day calls may resume, when ``day`` lies in a pause after a conversation."""
    days = rules.call_pause_after_conversation_days
    if request.channel != "phone" or days is None:
        return None
    tz = state.timezone
    end: date | None = None
    for contact in state.history:
        if contact.channel != "phone" or not contact.conversation:
            continue
        if not _relates(contact, request.case_ids):
            continue
        first = contact.at.astimezone(tz).date()  # the conversation's date is day one
        resume = first + timedelta(days=days)
        if first <= day < resume and (end is None or resume > end):
            end = resume
    return end


def _pause_stop(resume: date) -> _Stop:
    return _Stop(
        PAUSE_RULE,
        "no call within seven consecutive days after a telephone conversation about this "
        f"debt (the conversation's date is day one); calls resume on {resume.isoformat()}",
    )


# One Counter of contacts per local day, per cap; a per-debt cap has one per case.
_Counters = list[tuple[Cap, list[Counter[date]]]]


def _counters(request: ContactRequest, state: ContactState, rules: ContactRules) -> _Counters:
    tz = state.timezone
    out: _Counters = []
    for cap in rules.caps:
        if request.channel not in cap.channels:
            continue
        counted = [c for c in state.history if not c.inbound and c.channel in cap.channels]
        if cap.per_debt and request.case_ids:
            per_case = [
                Counter(
                    c.at.astimezone(tz).date()
                    for c in counted
                    if not c.case_ids or case_id in c.case_ids
                )
                for case_id in sorted(request.case_ids)
            ]
            out.append((cap, per_case))
        else:
            out.append((cap, [Counter(c.at.astimezone(tz).date() for c in counted)]))
    return out


def _cap_stop(counters: _Counters, day: date) -> _Stop | None:
    for cap, per_key in counters:
        width = cap.window_days
        for counts in per_key:
            # Every run of window_days consecutive days that contains ``day``.
            for offset in range(width):
                first = day - timedelta(days=width - 1 - offset)
                seen = sum(counts.get(first + timedelta(days=k), 0) for k in range(width))
                if seen + 1 > cap.limit:
                    scope = " per debt" if cap.per_debt else " for this person"
                    return _Stop(
                        cap.rule,
                        f"at most {cap.limit} contact(s) by {'/'.join(sorted(cap.channels))} "
                        f"within {width} consecutive day(s){scope}; {seen} already in "
                        f"{first.isoformat()}..{(first + timedelta(days=width - 1)).isoformat()}",
                    )
    return None


def _timing_stop(
    request: ContactRequest,
    state: ContactState,
    rules: ContactRules,
    is_holiday: Callable[[date], bool],
    local: datetime,
    counters: _Counters,
) -> _Stop | None:
    day = local.date()
    stop = _day_stop(rules, day, is_holiday) or _window_stop(rules, local)
    if stop is not None:
        return stop
    resume = _pause_end(request, state, rules, day)
    if resume is not None:
        return _pause_stop(resume)
    return _cap_stop(counters, day)


def _scan(
    request: ContactRequest,
    state: ContactState,
    rules: ContactRules,
    is_holiday: Callable[[date], bool],
    counters: _Counters,
) -> tuple[datetime | None, _Stop | None]:
    """The first allowed moment ≥ ``request.at``, or ``None`` and the rule that prevents it."""
    tz = state.timezone
    start = request.at.astimezone(tz)
    day = start.date()
    last_day = day + timedelta(days=HORIZON_DAYS)
    last: _Stop | None = None
    while day <= last_day:
        holds = _active_holds(request.case_ids, state, day)
        if holds:
            last = _hold_stop(holds)
            ends = [until for _, _, until in holds]
            if any(until is None for until in ends):
                return None, last
            day = max(u for u in ends if u is not None) + _DAY
            continue
        stop = _day_stop(rules, day, is_holiday)
        if stop is not None:
            last, day = stop, day + _DAY
            continue
        resume = _pause_end(request, state, rules, day)
        if resume is not None:
            last, day = _pause_stop(resume), resume
            continue
        stop = _cap_stop(counters, day)
        if stop is not None:
            last, day = stop, day + _DAY
            continue
        window = rules.windows.get(day.weekday())
        if window is None:  # _day_stop closed the day already; kept for the type checker
            day += _DAY
            continue
        if day == start.date() and start.time() >= window[0]:
            candidate = start
        else:
            candidate = _first_instant(day, window[0], tz)
            if candidate < start:  # a window opening inside a repeated (fall-back) hour
                candidate = start
        stop = _timing_stop(request, state, rules, is_holiday, candidate, counters)
        if stop is None:
            return candidate, None
        last, day = stop, day + _DAY
    return None, _Stop(
        NO_SLOT,
        f"no allowed moment within {HORIZON_DAYS} days"
        + (f" (last stopped by {last.rule})" if last else ""),
    )


def _first_instant(day: date, wall: time, tz: tzinfo) -> datetime:
    """The earliest moment whose local date is ``day`` and local time is ≥ ``wall``.

    Usually ``day`` at ``wall`` (the first of two on a fall-back day). When the clocks jump
    over ``wall`` (spring forward), it is the moment of the jump.
    """

    def ok(moment: datetime) -> bool:
        local = moment.astimezone(tz)
        return local.date() == day and local.time() >= wall

    naive = datetime.combine(day, wall)
    first, second = sorted(
        (naive.replace(tzinfo=tz, fold=f).astimezone(_UTC) for f in (0, 1)),
    )
    if ok(first):
        return first.astimezone(tz)
    if not ok(second):
        return second.astimezone(tz)  # the caller re-checks every candidate
    low, high = 0, int((second - first).total_seconds())  # ok(first + high) holds
    while high - low > 1:
        middle = (low + high) // 2
        if ok(first + timedelta(seconds=middle)):
            high = middle
        else:
            low = middle
    return (first + timedelta(seconds=high)).astimezone(tz)
