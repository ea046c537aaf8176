"""When collection costs become chargeable after a formal notice (the "14-day letter").

Two shapes of rule exist, both computed here from explicit day predicates so that the
domain does not know any calendar of holidays itself:

- **From receipt** (NL art. 6:96 lid 6 BW, HR 25-11-2016, ECLI:NL:HR:2016:2704): the
  14 days begin on the day *after the debtor receives* the letter. Receipt is an
  assumption (a letter arrives on the N-th delivery day after posting; an e-mail on the
  day it is sent) that the creditor must be able to prove, so it is configurable. A term
  that ends on a Saturday, Sunday or public holiday runs on to the next day that is none
  of these (Algemene termijnenwet art. 1), when the rule pack says so.
- **From a working day after sending** (BE art. XIX.2 WER): the term of 14 calendar days
  begins on the third working day after a letter is sent, or on the day after an e-mail
  is sent.

In both, costs are chargeable from the day after the last day of the term.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from enum import Enum

from respite.errors import ValidationError

__all__ = ["Channel", "NoticeTerm", "nth_day_after", "term_from_receipt", "term_from_working_day"]

DayPredicate = Callable[[date], bool]
ONE_DAY = timedelta(days=1)


class Channel(Enum):
    POST = "post"
    EMAIL = "email"

    @classmethod
    def of(cls, text: str) -> Channel:
        try:
            return cls(text.strip().lower())
        except ValueError:
            raise ValidationError(f"unknown channel {text!r} (known: post, email)") from None


@dataclass(frozen=True, slots=True)
class NoticeTerm:
    sent: date
    channel: Channel
    received: date | None  # the assumed date of receipt, where the rule counts from it
    term_starts: date
    term_ends: date  # the last day on which the debtor can still pay without costs
    costs_chargeable_from: date
    extended: bool  # the term end was moved past a weekend or holiday


def nth_day_after(start: date, n: int, counts: DayPredicate) -> date:
    """The ``n``-th day after ``start`` for which ``counts`` is true (n ≥ 1)."""
    if n < 1:
        raise ValidationError("n must be at least 1")
    day = start
    found = 0
    while found < n:
        day += ONE_DAY
        if counts(day):
            found += 1
    return day


def term_from_receipt(
    sent: date,
    channel: Channel,
    *,
    term_days: int,
    post_delivery_days: int,
    email_delivery_days: int,
    is_delivery_day: DayPredicate,
    extend_end_past: DayPredicate | None,
) -> NoticeTerm:
    """NL: the term starts the day after assumed receipt; see the module docstring."""
    if channel is Channel.POST:
        received = nth_day_after(sent, post_delivery_days, is_delivery_day)
    else:
        received = sent + timedelta(days=email_delivery_days)
    starts = received + ONE_DAY
    ends = received + timedelta(days=term_days)
    extended = False
    if extend_end_past is not None:
        while extend_end_past(ends):
            ends += ONE_DAY
            extended = True
    return NoticeTerm(sent, channel, received, starts, ends, ends + ONE_DAY, extended)


def term_from_working_day(
    sent: date,
    channel: Channel,
    *,
    term_days: int,
    post_start_working_day: int,
    email_start_days: int,
    is_working_day: DayPredicate,
) -> NoticeTerm:
    """BE: the term starts on the N-th working day after posting, or the day after an e-mail."""
    if channel is Channel.POST:
        starts = nth_day_after(sent, post_start_working_day, is_working_day)
    else:
        starts = sent + timedelta(days=email_start_days)
    ends = starts + timedelta(days=term_days - 1)
    return NoticeTerm(sent, channel, None, starts, ends, ends + ONE_DAY, False)
