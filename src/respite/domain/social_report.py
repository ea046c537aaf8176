"""The social collection report: what each figure means, and the pure arithmetic behind it.

Every figure of the report is counted from the case timeline (``events``: one row per
state change, append-only, dated by its business date), so a report for a past period can
be produced again and gives the same figures. The one exception is named in its
definition: costs not charged come from ``cost_waivers`` (also append-only and dated).

Each :class:`Metric` carries its written definition, shown in the report itself, and two
flags that tests check:

- ``additive``: the figure of a period is the sum of the figures of its sub-periods
  (counts of events and sums of amounts, each event dated once);
- ``creditor_additive``: the agency's figure is the sum of the creditors' figures (false
  where one thing can concern several creditors: a message that carries cases of two
  creditors, a person who becomes debt-free with two creditors at once).

Shares, averages and medians are neither; where a share is shown, its part and whole are
kept beside it (``Figure.part``/``Figure.whole``) so that a reader can check it.
"""

from __future__ import annotations

import calendar
from collections import defaultdict
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Final, TypeVar

__all__ = [
    "AGENCY",
    "METRICS",
    "METRIC_BY_ID",
    "CaseSpan",
    "Figure",
    "Metric",
    "MonthAmount",
    "Report",
    "Unit",
    "add_months",
    "average",
    "debt_free_days",
    "kept_counts",
    "median",
    "percent",
]

AGENCY: Final = "agency"
"""The scope name of the whole agency's figures (a creditor's scope is its name)."""


class Unit(StrEnum):
    COUNT = "count"
    MONEY = "money"  # the figure's currency is on the figure
    PERCENT = "percent"
    DAYS = "days"
    SCORE = "score"  # 1 (poor) to 5 (very good)


@dataclass(frozen=True, slots=True)
class Metric:
    id: str
    section: str
    title: str
    definition: str
    unit: Unit
    additive: bool
    creditor_additive: bool


def _m(
    id_: str,
    section: str,
    title: str,
    unit: Unit,
    definition: str,
    *,
    additive: bool = True,
    creditor_additive: bool = True,
) -> Metric:
    return Metric(
        id_, section, title, " ".join(definition.split()), unit, additive, creditor_additive
    )


OUTCOMES = "Dossiers and outcomes"
PLANS = "Sustainable payment arrangements"
RELIEF = "Interest and costs not charged"
SUPPORT = "Support, debt help and disputes"
LEGAL = "Legal action only if necessary"
CONTACT = "Contact and communication"
TIME = "Time to resolution"

SECTIONS: Final = (OUTCOMES, PLANS, RELIEF, SUPPORT, LEGAL, CONTACT, TIME)

CLOSED_BY = "a `transition` event to stage `closed`"
SELF = "actor starting with `portal` or `debtor`"

METRICS: Final[tuple[Metric, ...]] = (
    _m(
        "dossiers_handled",
        OUTCOMES,
        "Dossiers handled",
        Unit.COUNT,
        f"""Dossiers (cases) open at any time in the period: opened on or before its last day
        (the case's opening date, written once at intake with its `opened` event) and not
        closed before its first day ({CLOSED_BY}).""",
        additive=False,
    ),
    _m(
        "dossiers_opened",
        OUTCOMES,
        "Dossiers opened",
        Unit.COUNT,
        "Dossiers taken into collection: `opened` events dated in the period.",
    ),
    _m(
        "dossiers_closed",
        OUTCOMES,
        "Dossiers closed",
        Unit.COUNT,
        f"Dossiers closed for any reason: {CLOSED_BY}, dated in the period.",
    ),
    _m(
        "closed_paid",
        OUTCOMES,
        "Closed: paid in full",
        Unit.COUNT,
        "Dossiers closed with close reason `paid` (every claim paid).",
    ),
    _m(
        "closed_settled",
        OUTCOMES,
        "Closed: settled",
        Unit.COUNT,
        "Dossiers closed with close reason `settled` (a settlement agreed and paid).",
    ),
    _m(
        "closed_written_off",
        OUTCOMES,
        "Closed: written off",
        Unit.COUNT,
        "Dossiers closed with close reason `written_off` (the creditor forgave the rest).",
    ),
    _m(
        "closed_recalled",
        OUTCOMES,
        "Closed: recalled by the creditor",
        Unit.COUNT,
        "Dossiers closed with close reason `recalled` (the creditor took the case back).",
    ),
    _m(
        "amount_collected",
        OUTCOMES,
        "Amount collected",
        Unit.MONEY,
        """Money received: the sum of `payment_received` events (`amount_cents`) minus the
        sum of `payment_reversed` events dated in the period, in the creditor's currency
        (one figure per currency).""",
    ),
    _m(
        "debt_free_private",
        OUTCOMES,
        "Private persons who became debt-free",
        Unit.COUNT,
        """Moments at which a private person (debtor kind `consumer`) became free of debt:
        a dossier of theirs closed as `paid` or `settled` on a day of the period, and at the
        end of that day none of their dossiers was open (dossiers of one person with
        several creditors count together; for one creditor's scope, only that creditor's
        dossiers count). A person is counted again if they become debt-free again later.""",
        creditor_additive=False,
    ),
    _m(
        "debt_free_business",
        OUTCOMES,
        "Businesses that became debt-free",
        Unit.COUNT,
        "As for private persons, for debtors of kind `business`.",
        creditor_additive=False,
    ),
    _m(
        "arrangements_made",
        PLANS,
        "Payment arrangements made",
        Unit.COUNT,
        """Payment plans that became active: `plan_started` events dated in the period (one
        per dossier the plan covers; a plan over three dossiers counts three).""",
    ),
    _m(
        "arrangements_completed",
        PLANS,
        "Arrangements completed",
        Unit.COUNT,
        "Plans paid to the end: `plan_completed` events (one per dossier).",
    ),
    _m(
        "arrangements_broken",
        PLANS,
        "Arrangements broken",
        Unit.COUNT,
        """Plans ended after more missed instalments than the policy allows:
        `plan_broken` events (one per dossier).""",
    ),
    _m(
        "arrangements_kept_to_date",
        PLANS,
        "Arrangements of the period kept so far",
        Unit.PERCENT,
        """Of the arrangements made in the period, the share without a `plan_broken` event
        for the same plan and dossier up to the period's last day (completed, still
        running, or replaced by an adjusted plan all count as kept).""",
        additive=False,
        creditor_additive=False,
    ),
    *(
        _m(
            f"arrangements_kept_{n}m",
            PLANS,
            f"Arrangements kept at {n} months",
            Unit.PERCENT,
            f"""Of the arrangements whose {n}-month mark (the day the plan started plus {n}
            calendar months) falls in the period, the share that was not broken before that
            mark (no `plan_broken` event for the plan and dossier dated before it). Plans
            started before the period are included when their mark falls in it; a plan
            whose mark lies after the period's end is not yet counted.""",
            additive=False,
            creditor_additive=False,
        )
        for n in (3, 6, 12)
    ),
    _m(
        "interest_frozen_dossiers",
        RELIEF,
        "Dossiers with interest frozen",
        Unit.COUNT,
        """Dossiers whose interest was stopped in the period: a `plan_started` event with
        interest frozen while the plan is kept, or a `hold_placed` event (the nightly cycle
        accrues no interest on a dossier on hold). Each dossier counts once per period.""",
        additive=False,
    ),
    _m(
        "interest_not_charged",
        RELIEF,
        "Interest not charged because of freezes",
        Unit.MONEY,
        """Statutory interest the nightly cycle did not charge because the dossier's
        interest was frozen by a payment plan or the dossier was on hold: the same rates,
        base and rounding as its own accrual (nothing capitalised during the freeze). The
        cycle records it per dossier as `interest_not_charged` events (`amount_cents`, whole
        cents, over the days `from`-`to`) on the first night of each month, on the night a
        freeze or hold has ended and when the dossier closes; the figure is the sum of those
        dated in the period. Days of a freeze still running at the period's end count in
        the period in which they are recorded.""",
    ),
    _m(
        "costs_not_charged",
        RELIEF,
        "Collection costs not charged",
        Unit.MONEY,
        """Statutory collection costs the agency could have charged and did not: the sum of
        the cost waivers dated in the period (table `cost_waivers`, append-only and dated
        like the events), all reasons.""",
    ),
    _m(
        "costs_not_charged_no_stacking",
        RELIEF,
        "… of which: no stacking over one debtor's dossiers",
        Unit.MONEY,
        """Cost waivers with reason `aggregation`: one cost calculation over all of a
        debtor's claims at one creditor instead of one per dossier.""",
    ),
    _m(
        "costs_not_charged_cap",
        RELIEF,
        "… of which: the creditor's cap per debtor",
        Unit.MONEY,
        "Cost waivers with reason `policy_cap`: above the creditor's maximum per debtor.",
    ),
    _m(
        "costs_not_charged_waived",
        RELIEF,
        "… of which: waived",
        Unit.MONEY,
        "Cost waivers with any other reason (e.g. `replan`: waived for a new arrangement).",
    ),
    _m(
        "referrals_debt_counselling",
        SUPPORT,
        "Referrals to debt counselling",
        Unit.COUNT,
        """Dossiers put on a `debt_counselling` hold in the period (a `hold_placed` event
        that adds that hold): the person was referred, or their counsellor took over.""",
    ),
    _m(
        "referrals_accepted",
        SUPPORT,
        "Referrals accepted by debt counselling",
        Unit.COUNT,
        """`referral_accepted` events dated in the period: when a debt counsellor confirms
        that they took a referred person on (`respite referral accept`), one such event is
        written on each of the person's open dossiers: the figure counts dossiers, so a
        person with dossiers at two creditors counts once at each.""",
    ),
    _m(
        "vulnerability_reviews",
        SUPPORT,
        "Vulnerability reviews started",
        Unit.COUNT,
        "Dossiers put on a `vulnerability_review` hold in the period.",
    ),
    _m(
        "deferrals_granted",
        SUPPORT,
        "Deferrals granted",
        Unit.COUNT,
        "Dossiers put on a `deferral` hold in the period (time to stabilise first).",
    ),
    _m(
        "disputes_opened",
        SUPPORT,
        "Disputes opened",
        Unit.COUNT,
        "Dossiers put on a `dispute` hold in the period (collection stops until answered).",
    ),
    _m(
        "disputes_resolved",
        SUPPORT,
        "Disputes answered",
        Unit.COUNT,
        "`hold_lifted` events that end a `dispute` hold, dated in the period.",
    ),
    _m(
        "screenings",
        LEGAL,
        "Legal-worthiness screenings",
        Unit.COUNT,
        "`screening` events dated in the period (one per dossier screened).",
    ),
    _m(
        "screenings_negative",
        LEGAL,
        "Screened negative: no court procedure",
        Unit.COUNT,
        """Screenings with outcome `do_not_proceed` or `alternative`: a court procedure
        would not help, or another route was chosen.""",
    ),
    _m(
        "court_costs_avoided",
        LEGAL,
        "Court costs avoided",
        Unit.MONEY,
        """The sum of `court_costs_avoided_cents` of the screening events dated in the
        period: the costs of the procedures that a negative screening avoided, as the
        screening estimated them.""",
    ),
    _m(
        "legal_handovers",
        LEGAL,
        "Dossiers handed over for legal action",
        Unit.COUNT,
        "`transition` events to stage `legal_handover`, dated in the period.",
    ),
    _m(
        "portal_logins",
        CONTACT,
        "Portal logins",
        Unit.COUNT,
        "`portal_login` events dated in the period. Zero until the portal records them.",
    ),
    _m(
        "self_service_share",
        CONTACT,
        "Arrangements and deferrals made in self-service",
        Unit.PERCENT,
        f"""Of the arrangements made and deferrals granted in the period, the share the
        debtor made themself (the event's {SELF}).""",
        additive=False,
        creditor_additive=False,
    ),
    _m(
        "messages_sent",
        CONTACT,
        "Messages sent",
        Unit.COUNT,
        """Messages sent on any channel: distinct `message_id`s of `message_sent` events
        dated in the period (a message about several dossiers counts once).""",
        creditor_additive=False,
    ),
    *(
        _m(
            f"messages_{channel}",
            CONTACT,
            f"Messages sent: {label}",
            Unit.COUNT,
            f"Messages sent with `channel` = `{channel}` (counted as for messages sent).",
            creditor_additive=False,
        )
        for channel, label in (
            ("email", "e-mail"),
            ("sms", "SMS"),
            ("post", "letters"),
            ("phone", "phone calls"),
        )
    ),
    _m(
        "messages_b1_share",
        CONTACT,
        "Messages written at B1 level",
        Unit.PERCENT,
        """Of the messages sent in the period, the share whose text met the B1 readability
        check when it was sent (`b1` = true on the `message_sent` event).""",
        additive=False,
        creditor_additive=False,
    ),
    _m(
        "contacts_deferred",
        CONTACT,
        "Contacts deferred by the guardrails",
        Unit.COUNT,
        """Messages a guardrail said *not now* to (quiet hours, a contact limit, a holiday):
        `contact_deferred` events, counted once per message per day.""",
        creditor_additive=False,
    ),
    _m(
        "contacts_blocked",
        CONTACT,
        "Contacts blocked by the guardrails",
        Unit.COUNT,
        """Messages a guardrail stopped while a hold or an opt-out lasts:
        `contact_blocked` events, counted once per message per day.""",
        creditor_additive=False,
    ),
    _m(
        "satisfaction_responses",
        CONTACT,
        "Satisfaction responses",
        Unit.COUNT,
        "`satisfaction` events dated in the period (a score given after a contact).",
    ),
    _m(
        "satisfaction_average",
        CONTACT,
        "Average satisfaction score (1–5)",
        Unit.SCORE,
        "The mean `score` (1 = poor, 5 = very good) of those satisfaction events.",
        additive=False,
        creditor_additive=False,
    ),
    _m(
        "resolution_days_vulnerable",
        TIME,
        "Median days to resolution: vulnerable debtors",
        Unit.DAYS,
        f"""For dossiers closed in the period ({CLOSED_BY}) that had a
        `vulnerability_review` hold at any time before closing: the median number of days
        from opening to closing.""",
        additive=False,
        creditor_additive=False,
    ),
    _m(
        "resolution_days_other",
        TIME,
        "Median days to resolution: other debtors",
        Unit.DAYS,
        "The same median for the other dossiers closed in the period.",
        additive=False,
        creditor_additive=False,
    ),
)

METRIC_BY_ID: Final[Mapping[str, Metric]] = {m.id: m for m in METRICS}


@dataclass(frozen=True, slots=True)
class Figure:
    """One metric's value for one scope (``"agency"`` or a creditor's name).

    ``value`` is an ``int`` for counts, a ``Decimal`` for money (in ``currency``),
    percentages, days and scores, and ``None`` when there is nothing to measure (a share
    of zero arrangements). ``part``/``whole`` are a share's numerator and denominator.
    """

    metric: str
    scope: str
    value: int | Decimal | None
    currency: str | None = None
    part: int | None = None
    whole: int | None = None


@dataclass(frozen=True, slots=True)
class MonthAmount:
    scope: str
    month: str  # YYYY-MM
    currency: str
    amount: Decimal


@dataclass(frozen=True, slots=True)
class Report:
    period_from: date
    period_to: date
    creditor: str | None  # the one creditor the report is for, or None: the whole agency
    scopes: tuple[str, ...]  # the primary scope first
    figures: tuple[Figure, ...]
    collected_by_month: tuple[MonthAmount, ...]

    @property
    def primary(self) -> str:
        return self.scopes[0]

    def figures_of(self, metric: str, scope: str | None = None) -> list[Figure]:
        """Every figure of ``metric`` for ``scope`` (one per currency for money)."""
        want = self.primary if scope is None else scope
        return [f for f in self.figures if f.metric == metric and f.scope == want]

    def value(
        self, metric: str, scope: str | None = None, currency: str | None = None
    ) -> int | Decimal | None:
        """The value of one figure; money needs its ``currency`` (zero if none was seen)."""
        found = self.figures_of(metric, scope)
        if METRIC_BY_ID[metric].unit is Unit.MONEY:
            for f in found:
                if f.currency == currency:
                    return f.value
            return Decimal("0.00")
        return found[0].value if found else None


# --- the pure arithmetic ---------------------------------------------------------------

HUNDRED = Decimal(100)
TENTH = Decimal("0.1")


def percent(part: int, whole: int) -> Decimal | None:
    """``part`` of ``whole`` in percent with one decimal (half up); None if whole is 0."""
    if whole <= 0:
        return None
    return (Decimal(part) * HUNDRED / Decimal(whole)).quantize(TENTH, ROUND_HALF_UP)


def average(total: int, count: int, places: int = 2) -> Decimal | None:
    if count <= 0:
        return None
    return (Decimal(total) / Decimal(count)).quantize(Decimal(1).scaleb(-places), ROUND_HALF_UP)


def median(histogram: Mapping[int, int]) -> Decimal | None:
    """The median of values given as ``{value: how many}``; None for no values.

    With an even number of values it is the mean of the two middle ones (so it may end
    in ``.5``).
    """
    total = sum(n for n in histogram.values() if n > 0)
    if total == 0:
        return None
    lower_rank, upper_rank = (total - 1) // 2, total // 2
    values = sorted(v for v, n in histogram.items() if n > 0)
    lower = upper = values[-1]
    seen = 0
    found_lower = False
    for value in values:
        seen += histogram[value]
        if not found_lower and seen > lower_rank:
            lower, found_lower = value, True
        if seen > upper_rank:
            upper = value
            break
    return (Decimal(lower + upper) / 2).quantize(TENTH, ROUND_HALF_UP)


def add_months(start: date, months: int) -> date:
    """``start`` plus calendar months; the 31st becomes the month's last day if shorter."""
    index = start.month - 1 + months
    year, month = start.year + index // 12, index % 12 + 1
    return date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


K = TypeVar("K", bound=Hashable)


def kept_counts(
    starts: Iterable[tuple[K, date]],
    breaks: Mapping[K, date],
    months: int,
    period_from: date,
    period_to: date,
) -> tuple[int, int]:
    """``(kept, reached)`` for the N-month mark: the plans whose mark falls in the period,
    and how many of them had not broken before it.

    ``starts`` are (plan key, start date); ``breaks`` the date each broken plan broke.
    """
    reached = kept = 0
    for key, start in starts:
        mark = add_months(start, months)
        if not period_from <= mark <= period_to:
            continue
        reached += 1
        broke = breaks.get(key)
        if broke is None or broke >= mark:
            kept += 1
    return kept, reached


@dataclass(frozen=True, slots=True)
class CaseSpan:
    """One dossier of a person, as far as the report's last day knows it."""

    person: int
    opened_on: date
    closed_on: date | None = None
    close_reason: str | None = None


DEBT_FREE_REASONS: Final = frozenset({"paid", "settled"})


def debt_free_days(
    spans: Iterable[CaseSpan], period_from: date, period_to: date
) -> set[tuple[int, date]]:
    """The (person, day) pairs in the period on which the person became debt-free.

    A day counts when one of the person's dossiers closed as paid or settled on it, and
    every dossier of theirs opened on or before that day was closed by its end.
    """
    by_person: dict[int, list[CaseSpan]] = defaultdict(list)
    for span in spans:
        by_person[span.person].append(span)
    out: set[tuple[int, date]] = set()
    for person, cases in by_person.items():
        if len(cases) == 1:  # most people: their one dossier's close is the day, if any
            (only,) = cases
            if (
                only.closed_on is not None
                and only.close_reason in DEBT_FREE_REASONS
                and period_from <= only.closed_on <= period_to
            ):
                out.add((person, only.closed_on))
            continue
        days = {
            c.closed_on
            for c in cases
            if c.closed_on is not None
            and c.close_reason in DEBT_FREE_REASONS
            and period_from <= c.closed_on <= period_to
        }
        for day in days:
            if all(
                c.closed_on is not None and c.closed_on <= day for c in cases if c.opened_on <= day
            ):
                out.add((person, day))
    return out
