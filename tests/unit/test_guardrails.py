"""Contact guardrails, rule by rule: each rule fires and names itself; DST; Reg F examples."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from respite.adapters.calendars import is_holiday_for
from respite.domain.guardrails import (
    Cap,
    ContactRequest,
    ContactRules,
    ContactState,
    Decision,
    Outcome,
    PastContact,
    decide,
    next_allowed,
)
from respite.errors import ValidationError
from respite.rules.contact import load_contact_rules

AMS = ZoneInfo("Europe/Amsterdam")
NY = ZoneInfo("America/New_York")
WAW = ZoneInfo("Europe/Warsaw")

NL = load_contact_rules("NL", date(2026, 1, 1))
US = load_contact_rules("US", date(2026, 1, 1))
PL = load_contact_rules("PL", date(2026, 1, 1))
NL_HOLIDAY = is_holiday_for("NL")
US_HOLIDAY = is_holiday_for("US")
PL_HOLIDAY = is_holiday_for("PL")


def at(tz: ZoneInfo, y: int, m: int, d: int, hh: int = 10, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=tz)


def ask(
    channel: str,
    when: datetime,
    *,
    state: ContactState | None = None,
    rules: ContactRules = NL,
    cases: Iterable[int] = (1,),
    holiday: object = None,
) -> Decision:
    tz = when.tzinfo
    assert isinstance(tz, ZoneInfo)
    request = ContactRequest(channel, frozenset(cases), when, "strategy")
    calendar = {"NL": NL_HOLIDAY, "US": US_HOLIDAY, "PL": PL_HOLIDAY}[rules.jurisdiction]
    return decide(request, state or ContactState(tz), rules, calendar)


def sent(channel: str, when: datetime, cases: Iterable[int] = (1,), **kw: bool) -> PastContact:
    return PastContact(when, channel, frozenset(cases), **kw)


# plain rules ------------------------------------------------------------------------


def test_a_message_inside_the_window_on_a_working_day_is_sent_and_says_so() -> None:
    decision = ask("email", at(AMS, 2026, 3, 10, 10))  # a Tuesday
    assert decision.outcome is Outcome.SEND
    assert decision.rule == "allowed"
    assert decision.not_before is None


def test_quiet_hours_defer_to_the_next_morning_in_the_debtors_time_zone() -> None:
    decision = ask("email", at(AMS, 2026, 3, 10, 20, 0))  # 20:00 is the first quiet minute
    assert (decision.outcome, decision.rule) == (Outcome.DEFER, "quiet_hours")
    assert decision.not_before == at(AMS, 2026, 3, 11, 8, 0)
    assert ask("email", at(AMS, 2026, 3, 10, 19, 59)).outcome is Outcome.SEND
    assert ask("email", at(AMS, 2026, 3, 10, 8, 0)).outcome is Outcome.SEND
    early = ask("email", at(AMS, 2026, 3, 10, 7, 59))
    assert (early.rule, early.not_before) == ("quiet_hours", at(AMS, 2026, 3, 10, 8, 0))


def test_sunday_is_closed_and_defers_to_monday_morning() -> None:
    decision = ask("email", at(AMS, 2026, 3, 15, 12))  # a Sunday
    assert (decision.outcome, decision.rule) == (Outcome.DEFER, "sunday")
    assert decision.not_before == at(AMS, 2026, 3, 16, 8, 0)


def test_saturday_has_its_own_shorter_window() -> None:
    decision = ask("email", at(AMS, 2026, 3, 14, 8, 30))
    assert (decision.rule, decision.not_before) == ("quiet_hours", at(AMS, 2026, 3, 14, 9, 0))


def test_a_public_holiday_is_closed_and_defers_to_the_next_open_day() -> None:
    # Koningsdag, Monday 27 April 2026 (Algemene termijnenwet art. 3).
    decision = ask("post", at(AMS, 2026, 4, 27, 11))
    assert (decision.outcome, decision.rule) == (Outcome.DEFER, "public_holiday")
    assert decision.not_before == at(AMS, 2026, 4, 28, 8, 0)


def test_a_closed_weekday_other_than_sunday_is_a_closed_day() -> None:
    decision = ask("email", at(WAW, 2026, 3, 14, 11), rules=PL)  # Saturday, closed in PL
    assert (decision.outcome, decision.rule) == (Outcome.DEFER, "closed_day")
    assert decision.not_before == at(WAW, 2026, 3, 16, 8, 0)


def test_an_extra_closed_date_of_a_policy_is_a_closed_day() -> None:
    rules = replace(NL, closed_dates=frozenset({date(2026, 12, 24)}))
    decision = ask("email", at(AMS, 2026, 12, 24, 10), rules=rules)
    assert (decision.rule, decision.not_before) == ("closed_day", at(AMS, 2026, 12, 28, 8, 0))


def test_an_opt_out_blocks_the_channel_without_a_date() -> None:
    state = ContactState(AMS, opted_out=frozenset({"email"}))
    decision = ask("email", at(AMS, 2026, 3, 10), state=state)
    assert (decision.outcome, decision.rule, decision.not_before) == (
        Outcome.BLOCK,
        "opt_out:email",
        None,
    )
    assert ask("post", at(AMS, 2026, 3, 10), state=state).outcome is Outcome.SEND


def test_sms_needs_recorded_consent() -> None:
    decision = ask("sms", at(AMS, 2026, 3, 10))
    assert (decision.outcome, decision.rule) == (Outcome.BLOCK, "consent:sms")
    consented = ContactState(AMS, consented=frozenset({"sms"}))
    assert ask("sms", at(AMS, 2026, 3, 10), state=consented).outcome is Outcome.SEND


def test_a_deceased_person_is_never_contacted() -> None:
    state = ContactState(AMS, deceased=True)
    decision = ask("post", at(AMS, 2026, 3, 10), state=state)
    assert (decision.outcome, decision.rule, decision.not_before) == (
        Outcome.BLOCK,
        "deceased",
        None,
    )
    request = ContactRequest("post", frozenset({1}), at(AMS, 2026, 3, 10), "portal")
    assert next_allowed(request, state, NL, NL_HOLIDAY) is None


def test_a_hold_with_an_end_blocks_until_the_first_window_after_it() -> None:
    # A dispute until Friday 13 March: Saturday 14 March opens at 09:00.
    state = ContactState(AMS, holds={1: (("dispute", date(2026, 3, 2), date(2026, 3, 13)),)})
    decision = ask("email", at(AMS, 2026, 3, 10), state=state)
    assert (decision.outcome, decision.rule) == (Outcome.BLOCK, "hold:dispute")
    assert decision.not_before == at(AMS, 2026, 3, 14, 9, 0)
    assert ask("email", at(AMS, 2026, 3, 14, 9), state=state).outcome is Outcome.SEND


def test_an_open_ended_hold_blocks_without_a_date() -> None:
    state = ContactState(AMS, holds={1: (("breathing_space", date(2026, 3, 1), None),)})
    decision = ask("email", at(AMS, 2026, 3, 10), state=state)
    assert (decision.outcome, decision.rule, decision.not_before) == (
        Outcome.BLOCK,
        "hold:breathing_space",
        None,
    )


def test_one_held_case_blocks_a_request_for_several_cases() -> None:
    state = ContactState(
        AMS, holds={2: (("vulnerability_review", date(2026, 3, 1), date(2026, 3, 20)),)}
    )
    decision = ask("email", at(AMS, 2026, 3, 10), state=state, cases=(1, 2))
    assert decision.rule == "hold:vulnerability_review"
    assert ask("email", at(AMS, 2026, 3, 10), state=state, cases=(1,)).outcome is Outcome.SEND


def test_the_longest_of_several_holds_names_the_block_and_its_end() -> None:
    state = ContactState(
        AMS,
        holds={
            1: (("deferral", date(2026, 3, 1), date(2026, 3, 11)),),
            2: (("debt_counselling", date(2026, 3, 1), date(2026, 3, 18)),),
        },
    )
    decision = ask("email", at(AMS, 2026, 3, 10), state=state, cases=(1, 2))
    assert decision.rule == "hold:debt_counselling"
    assert decision.not_before == at(AMS, 2026, 3, 19, 8, 0)


def test_a_future_hold_is_skipped_by_the_next_slot() -> None:
    # Saturday evening: deferred; Monday starts a one-day deferral hold → Tuesday.
    state = ContactState(AMS, holds={1: (("deferral", date(2026, 3, 16), date(2026, 3, 16)),)})
    decision = ask("email", at(AMS, 2026, 3, 14, 18), state=state)
    assert (decision.outcome, decision.rule) == (Outcome.DEFER, "quiet_hours")
    assert decision.not_before == at(AMS, 2026, 3, 17, 8, 0)


def test_a_deferral_into_an_open_ended_hold_is_a_block_named_for_the_hold() -> None:
    state = ContactState(AMS, holds={1: (("dispute", date(2026, 3, 16), None),)})
    decision = ask("email", at(AMS, 2026, 3, 14, 18), state=state)
    assert (decision.outcome, decision.rule, decision.not_before) == (
        Outcome.BLOCK,
        "hold:dispute",
        None,
    )


# caps -------------------------------------------------------------------------------


def test_one_written_message_a_day_across_channels_and_creditors() -> None:
    # The earlier letter was about another creditor's case: caps count the person.
    state = ContactState(
        AMS,
        history=(sent("post", at(AMS, 2026, 3, 10, 9), cases=(7,)),),
        consented=frozenset({"sms"}),
    )
    decision = ask("sms", at(AMS, 2026, 3, 10, 15), state=state)
    assert (decision.outcome, decision.rule) == (Outcome.DEFER, "frequency:any:1/1d")
    assert decision.not_before == at(AMS, 2026, 3, 11, 8, 0)
    # Phone calls are not in the written-channel cap.
    assert ask("phone", at(AMS, 2026, 3, 10, 15), state=state).outcome is Outcome.SEND


def test_an_email_cap_defers_to_the_day_the_oldest_email_leaves_the_window() -> None:
    history = tuple(sent("email", at(AMS, 2026, 3, d, 9)) for d in (9, 10, 11))  # Mon-Wed
    state = ContactState(AMS, history=history)
    decision = ask("email", at(AMS, 2026, 3, 12, 10), state=state)
    assert (decision.outcome, decision.rule) == (Outcome.DEFER, "frequency:email:3/7d")
    # 9 March leaves the seven-day window on 16 March (a Monday).
    assert decision.not_before == at(AMS, 2026, 3, 16, 8, 0)
    assert ask("email", at(AMS, 2026, 3, 16, 8), state=state).outcome is Outcome.SEND


def test_caps_count_local_calendar_days() -> None:
    # 20:30 in New York on 10 March is already 11 March in UTC: it is still 10 March there.
    state = ContactState(NY, history=(sent("email", at(NY, 2026, 3, 10, 20, 30)),))
    assert ask("email", at(NY, 2026, 3, 10, 20, 45), state=state, rules=US).rule == (
        "frequency:any:1/1d"
    )
    assert ask("email", at(NY, 2026, 3, 11, 8, 0), state=state, rules=US).outcome is Outcome.SEND


def test_an_inbound_call_counts_toward_no_cap() -> None:
    history = tuple(sent("phone", at(AMS, 2026, 3, d, 9), inbound=True) for d in (9, 10, 11))
    decision = ask("phone", at(AMS, 2026, 3, 12), state=ContactState(AMS, history=history))
    assert decision.outcome is Outcome.SEND


def test_a_cap_that_never_lets_a_channel_through_blocks_and_keeps_its_name() -> None:
    rules = replace(NL, caps=(Cap("frequency:post:0/1d", frozenset({"post"}), 0, 1),))
    decision = ask("post", at(AMS, 2026, 3, 10), rules=rules)
    assert (decision.outcome, decision.rule, decision.not_before) == (
        Outcome.BLOCK,
        "frequency:post:0/1d",
        None,
    )


# US Regulation F, 12 CFR 1006.14(b)(2) and its official interpretation ---------------
#
# The comments give weekdays and dates without a year; they are the weekdays of 2020 and
# of 2026 alike (Wednesday 1 April, Tuesday 11 August), and 2026 lies inside the US file.


def place_calls_in_order(
    moments: list[datetime], cases: Iterable[int] = (1,)
) -> tuple[list[Decision], ContactState]:
    """Each call asks the engine first and is made only when it says send."""
    state = ContactState(NY)
    decisions = []
    for moment in moments:
        decision = ask("phone", moment, state=state, rules=US, cases=cases)
        decisions.append(decision)
        if decision.outcome is Outcome.SEND:
            state = replace(state, history=(*state.history, sent("phone", moment, cases)))
    return decisions, state


def test_reg_f_seven_calls_in_seven_days_are_allowed() -> None:
    # Comment 14(b)(2)(i)-1.i: a call on Wednesday 1 April and six more between Thursday
    # 2 April and Tuesday 7 April: seven calls, presumed compliant.
    moments = [at(NY, 2026, 4, 1, 10)] + [at(NY, 2026, 4, d, 10) for d in (2, 3, 4, 5, 6, 7)]
    decisions, _ = place_calls_in_order(moments)
    assert [d.outcome for d in decisions] == [Outcome.SEND] * 7


def test_reg_f_the_eighth_call_is_deferred_to_the_day_the_first_leaves_the_window() -> None:
    # Comment 14(b)(2)(ii)-1.i: one call on Wednesday 1 April, two on each of Thursday
    # 2, Friday 3 and Monday 6 April, one more on Tuesday 7 April = eight within the seven
    # days starting 1 April: presumed violation. The engine defers the eighth to 8 April.
    moments = [at(NY, 2026, 4, 1, 10)]
    for d in (2, 3, 6):
        moments += [at(NY, 2026, 4, d, 10), at(NY, 2026, 4, d, 15)]
    moments.append(at(NY, 2026, 4, 7, 10))
    decisions, _ = place_calls_in_order(moments)
    assert [d.outcome for d in decisions[:7]] == [Outcome.SEND] * 7
    eighth = decisions[7]
    assert (eighth.outcome, eighth.rule) == (Outcome.DEFER, "us_reg_f_7in7")
    assert eighth.not_before == at(NY, 2026, 4, 8, 8, 0)


def test_reg_f_a_conversation_pauses_calls_for_seven_days_counting_its_own_date() -> None:
    # Comment 14(b)(2)(ii)-1.ii: an unanswered call on Tuesday 11 August, a conversation on
    # Friday 14 August: a call before Friday 21 August is presumed a violation.
    state = ContactState(
        NY,
        history=(
            sent("phone", at(NY, 2026, 8, 11, 10)),
            sent("phone", at(NY, 2026, 8, 14, 10), conversation=True),
        ),
    )
    for day in range(14, 21):
        decision = ask("phone", at(NY, 2026, 8, day, 12), state=state, rules=US)
        assert (decision.outcome, decision.rule) == (
            Outcome.DEFER,
            "us_reg_f_after_conversation",
        ), day
        assert decision.not_before == at(NY, 2026, 8, 21, 8, 0)
    assert ask("phone", at(NY, 2026, 8, 21, 8), state=state, rules=US).outcome is Outcome.SEND
    # The pause is about calls: a letter on 17 August is not held back by it.
    assert ask("post", at(NY, 2026, 8, 17), state=state, rules=US).outcome is Outcome.SEND


def test_reg_f_a_conversation_the_consumer_started_also_pauses_calls() -> None:
    # Comment 14(b)(2)(i)-1.ii: the consumer calls on Thursday 13 August; no call by the
    # collector before Thursday 20 August is presumed compliant.
    state = ContactState(
        NY, history=(sent("phone", at(NY, 2026, 8, 13, 10), conversation=True, inbound=True),)
    )
    assert ask("phone", at(NY, 2026, 8, 19, 20), state=state, rules=US).rule == (
        "us_reg_f_after_conversation"
    )
    assert ask("phone", at(NY, 2026, 8, 20, 8), state=state, rules=US).outcome is Outcome.SEND


def test_reg_f_counts_calls_per_debt() -> None:
    # Comment 14(b)(4)-2.i: 21 unanswered calls in seven days, seven counted toward each of
    # a medical debt and credit card debts A and B: presumed compliant.
    history = tuple(
        sent("phone", at(NY, 2026, 4, 1 + i, 9 + debt), cases=(debt,))
        for debt in (1, 2, 3)
        for i in range(7)
    )
    state = ContactState(NY, history=history[:-1])  # the 21st call is the one asked about
    last = ask("phone", at(NY, 2026, 4, 7, 11), state=state, rules=US, cases=(3,))
    assert last.outcome is Outcome.SEND
    state = ContactState(NY, history=history)
    assert ask("phone", at(NY, 2026, 4, 7, 15), state=state, rules=US, cases=(1,)).rule == (
        "us_reg_f_7in7"
    )
    assert (
        ask("phone", at(NY, 2026, 4, 7, 15), state=state, rules=US, cases=(4,)).outcome
        is Outcome.SEND
    )


def test_reg_f_a_call_about_two_debts_must_pass_for_each() -> None:
    history = tuple(sent("phone", at(NY, 2026, 4, 1 + i, 9), cases=(1,)) for i in range(7))
    state = ContactState(NY, history=history)
    decision = ask("phone", at(NY, 2026, 4, 7, 15), state=state, rules=US, cases=(1, 2))
    assert decision.rule == "us_reg_f_7in7"


def test_reg_f_a_conversation_about_one_debt_does_not_pause_calls_about_another() -> None:
    # Comment 14(b)(4)-2.iii: a conversation solely about the medical debt (case 1).
    state = ContactState(NY, history=(sent("phone", at(NY, 2026, 11, 9, 10), conversation=True),))
    assert ask("phone", at(NY, 2026, 11, 10), state=state, rules=US, cases=(2,)).outcome is (
        Outcome.SEND
    )
    assert ask("phone", at(NY, 2026, 11, 10), state=state, rules=US, cases=(1,)).rule == (
        "us_reg_f_after_conversation"
    )


def test_us_hours_are_eight_to_nine_local_time_every_day() -> None:
    # 1006.6(b)(1)(i): before 8:00 a.m. and after 9:00 p.m. local time is inconvenient.
    assert ask("phone", at(NY, 2026, 3, 15, 8, 0), rules=US).outcome is Outcome.SEND  # Sunday
    late = ask("phone", at(NY, 2026, 3, 15, 21, 0), rules=US)
    assert (late.rule, late.not_before) == ("quiet_hours", at(NY, 2026, 3, 16, 8, 0))


# daylight saving time ---------------------------------------------------------------


def test_dst_spring_forward_in_amsterdam_the_next_slot_is_eight_local_summer_time() -> None:
    # Sunday 29 March 2026 the clocks go 02:00 → 03:00 (and Sunday is closed anyway).
    decision = ask("email", at(AMS, 2026, 3, 28, 18))
    assert decision.not_before == at(AMS, 2026, 3, 30, 8, 0)
    assert decision.not_before is not None
    assert decision.not_before.astimezone(UTC) == datetime(2026, 3, 30, 6, 0, tzinfo=UTC)


def test_dst_fall_back_in_amsterdam_the_next_slot_is_eight_local_winter_time() -> None:
    decision = ask("email", at(AMS, 2026, 10, 24, 17, 30))
    assert decision.not_before is not None
    assert decision.not_before.astimezone(UTC) == datetime(2026, 10, 26, 7, 0, tzinfo=UTC)


def test_dst_in_new_york_the_same_utc_moment_is_quiet_on_one_day_and_open_the_next() -> None:
    # Sunday 8 March 2026: EST (UTC-5) → EDT (UTC-4). 12:30 UTC is 07:30 on the Saturday
    # before and 08:30 on the Sunday itself.
    saturday = datetime(2026, 3, 7, 12, 30, tzinfo=UTC).astimezone(NY)
    sunday = datetime(2026, 3, 8, 12, 30, tzinfo=UTC).astimezone(NY)
    assert ask("phone", saturday, rules=US).rule == "quiet_hours"
    assert ask("phone", sunday, rules=US).outcome is Outcome.SEND
    late = ask("phone", at(NY, 2026, 3, 7, 22), rules=US)
    assert late.not_before is not None
    assert late.not_before.astimezone(UTC) == datetime(2026, 3, 8, 12, 0, tzinfo=UTC)


def test_dst_fall_back_in_new_york() -> None:
    # Sunday 1 November 2026: EDT → EST; 08:00 is 13:00 UTC that day.
    late = ask("phone", at(NY, 2026, 10, 31, 21, 30), rules=US)
    assert late.not_before is not None
    assert late.not_before.astimezone(UTC) == datetime(2026, 11, 1, 13, 0, tzinfo=UTC)
    assert ask(
        "phone", datetime(2026, 11, 1, 12, 30, tzinfo=UTC).astimezone(NY), rules=US
    ).rule == ("quiet_hours")


def test_a_window_that_opens_inside_the_skipped_hour_opens_when_the_clocks_jump() -> None:
    # A (made-up) Sunday window 02:30-05:00 in Amsterdam: on 29 March 2026 02:30 does not
    # exist; the first moment after it is 03:00 CEST = 01:00 UTC.
    windows = {d: (time(2, 30), time(5, 0)) for d in range(7)}
    rules = replace(NL, windows=windows, holidays_closed=False)
    decision = ask("email", at(AMS, 2026, 3, 28, 23), rules=rules)
    assert decision.not_before is not None
    assert decision.not_before.astimezone(UTC) == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)
    assert ask("email", decision.not_before, rules=rules).outcome is Outcome.SEND
    # One real second earlier (in UTC: aware arithmetic in one zone is wall-clock arithmetic).
    before = decision.not_before.astimezone(UTC) - timedelta(seconds=1)
    assert ask("email", before.astimezone(AMS), rules=rules).rule == "quiet_hours"


# input ------------------------------------------------------------------------------


def test_a_moment_without_a_time_zone_is_refused() -> None:
    request = ContactRequest("email", frozenset({1}), datetime(2026, 3, 10, 10), "agent")  # noqa: DTZ001
    with pytest.raises(ValidationError, match="timezone-aware"):
        decide(request, ContactState(AMS), NL, NL_HOLIDAY)


def test_an_unknown_channel_is_refused() -> None:
    request = ContactRequest("fax", frozenset({1}), at(AMS, 2026, 3, 10), "agent")
    with pytest.raises(ValidationError, match="unknown channel 'fax'"):
        next_allowed(request, ContactState(AMS), NL, NL_HOLIDAY)
