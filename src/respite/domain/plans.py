"""Payment arrangements a debtor can keep: options, policy checks, deferral, follow-up.

A plan is sized from what the debtor can really pay (the repayment capacity of
:mod:`respite.domain.affordability`, which never touches the protected minimum income) and
bounded by the creditor's policy (:class:`PlanPolicy`). The rules here are pure: the
services store plans, schedules and events.

Social-collection choices, each with its reason:

* **A debtor's own proposal within policy is accepted at once**; outside policy it goes to
  an agent, never to a refusal by a machine (FCA CONC 7.3: refusing a reasonable proposal is
  a likely breach; Schuldeiserscoalitie best practice: tailored plans).
* **An instalment is never above the capacity** when a statement is known: a plan the
  debtor cannot keep only postpones escalation.
* **A missed instalment is not a broken plan**: a grace period, a friendly reminder, then
  an offer to re-plan; the plan breaks only after the policy's number of misses.
* **Re-planning never adds collection costs** (the costs were charged once per claim; a new
  schedule is not a new reminder).
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from respite.errors import ValidationError

__all__ = [
    "DeferralDecision",
    "FollowUp",
    "PlanOption",
    "PlanPolicy",
    "ProposalDecision",
    "add_months",
    "due_dates",
    "evaluate_deferral",
    "evaluate_proposal",
    "first_due_date",
    "follow_up",
    "plan_options",
]

STANDARD_TERMS = (1, 3, 6, 9, 12, 18, 24, 36)


@dataclass(frozen=True, slots=True)
class PlanPolicy:
    """A creditor's limits for arrangements (``creditors.policy`` JSON, with defaults).

    Defaults follow Dutch social-collection practice: at most 24 months (the minnelijke
    schuldregeling runs 18 months since 1 July 2023, RULES.md §1f, so a longer amicable plan
    is a sign the debtor needs debt help), interest frozen while a plan is kept, two misses
    before a plan breaks.
    """

    max_months: int = 24
    min_instalment_cents: int = 1000
    freeze_interest: bool = True
    max_misses: int = 2
    grace_days: int = 5
    replan_offer_days: int = 7
    max_deferral_days: int = 60
    max_discount_percent: int = 0
    min_days_to_first_due: int = 5

    @classmethod
    def from_policy(cls, policy: Mapping[str, object] | None) -> PlanPolicy:
        """Read the plan limits from a creditor's policy; unknown keys are ignored."""
        values: dict[str, object] = {}
        for name in cls.__dataclass_fields__:
            if policy and name in policy:
                values[name] = policy[name]
        try:
            made = cls(**values)  # type: ignore[arg-type]
        except TypeError as exc:
            raise ValidationError(f"creditor policy: {exc}") from None
        defaults = cls()
        for name in cls.__dataclass_fields__:
            value = getattr(made, name)
            if isinstance(value, bool) != isinstance(getattr(defaults, name), bool):
                raise ValidationError(f"creditor policy: {name} has the wrong type")
            if not isinstance(value, bool) and (not isinstance(value, int) or value < 0):
                raise ValidationError(f"creditor policy: {name} must be a whole number ≥ 0")
        if made.max_months < 1 or made.max_misses < 1:
            raise ValidationError("creditor policy: max_months and max_misses must be at least 1")
        return made

    @staticmethod
    def strictest(policies: list[PlanPolicy]) -> PlanPolicy:
        """One policy for a plan over several creditors: every creditor's limits hold."""
        if not policies:
            return PlanPolicy()
        return PlanPolicy(
            max_months=min(p.max_months for p in policies),
            min_instalment_cents=max(p.min_instalment_cents for p in policies),
            freeze_interest=all(p.freeze_interest for p in policies),
            max_misses=min(p.max_misses for p in policies),
            grace_days=max(p.grace_days for p in policies),
            replan_offer_days=max(p.replan_offer_days for p in policies),
            max_deferral_days=min(p.max_deferral_days for p in policies),
            max_discount_percent=min(p.max_discount_percent for p in policies),
            min_days_to_first_due=max(p.min_days_to_first_due for p in policies),
        )


def add_months(start: date, months: int, day: int | None = None) -> date:
    """The same day ``months`` later (or ``day``), clamped to the month's last day."""
    month0 = start.month - 1 + months
    year, month = start.year + month0 // 12, month0 % 12 + 1
    last = calendar.monthrange(year, month)[1]
    return date(year, month, min(day or start.day, last))


def first_due_date(on: date, payday: int | None, min_days: int) -> date:
    """The first instalment falls on the debtor's payday, at least ``min_days`` from ``on``.

    Asking for money the day before wages arrive is how plans fail; without a known payday
    the first due date is ``min_days`` from now.
    """
    earliest = on + timedelta(days=min_days)
    if payday is None:
        return earliest
    if not 1 <= payday <= 31:
        raise ValidationError(f"payday must be a day of the month (1-31), not {payday}")
    candidate = add_months(earliest.replace(day=1), 0, payday)
    if candidate < earliest:
        candidate = add_months(earliest.replace(day=1), 1, payday)
    return candidate


def due_dates(first_due: date, months: int) -> list[date]:
    """Monthly due dates on the first due date's day of the month."""
    return [add_months(first_due, k) for k in range(months)]


@dataclass(frozen=True, slots=True)
class PlanOption:
    """One offer: ``months`` instalments of ``instalment_cents`` (the last one smaller)."""

    months: int
    instalment_cents: int
    last_instalment_cents: int
    total_cents: int
    first_due: date
    interest_frozen: bool
    label: str
    discount_cents: int = 0


def _option(total: int, months: int, first_due: date, frozen: bool, label: str) -> PlanOption:
    instalment = -(-total // months)
    months = -(-total // instalment)  # a rounded-up instalment may need a month less
    last = total - instalment * (months - 1)
    return PlanOption(months, instalment, last, total, first_due, frozen, label)


def plan_options(
    total_cents: int,
    *,
    capacity_cents: int | None,
    policy: PlanPolicy,
    first_due: date,
) -> list[PlanOption]:
    """The arrangements to offer for a debt of ``total_cents``, shortest first.

    Every option respects the policy (term, minimum instalment) and, when the capacity is
    known, asks no more a month than the capacity. An empty list means no plan fits: that
    is a case for an agent or for debt counselling, not for escalation.
    """
    if total_cents <= 0:
        return []
    options: dict[int, PlanOption] = {}
    for months in (*STANDARD_TERMS, policy.max_months):
        if months > policy.max_months:
            continue
        opt = _option(total_cents, months, first_due, policy.freeze_interest, f"{months} months")
        if opt.months == 1:
            opt = PlanOption(1, total_cents, total_cents, total_cents, first_due, False, "in full")
        if opt.instalment_cents < policy.min_instalment_cents and opt.months > 1:
            continue
        if capacity_cents is not None and opt.instalment_cents > capacity_cents:
            continue
        options.setdefault(opt.months, opt)
    if capacity_cents is not None and capacity_cents >= policy.min_instalment_cents:
        # The plan that fits the capacity exactly: as short as the debtor can afford.
        # The full capacity each month and a smaller last instalment: spreading the debt
        # evenly instead could fall below the policy's minimum instalment.
        months = -(-total_cents // capacity_cents)
        if 1 < months <= policy.max_months:
            last = total_cents - capacity_cents * (months - 1)
            options[months] = PlanOption(
                months,
                capacity_cents,
                last,
                total_cents,
                first_due,
                policy.freeze_interest,
                "your capacity",
            )
    if policy.max_discount_percent > 0:
        discount = total_cents * policy.max_discount_percent // 100
        settled = total_cents - discount
        if capacity_cents is None or settled <= capacity_cents:
            options[0] = PlanOption(
                1, settled, settled, settled, first_due, False, "settlement", discount
            )
    return [options[k] for k in sorted(options)]


class Route(StrEnum):
    ACCEPT = "accept"  # within policy: active at once
    REVIEW = "review"  # outside policy: an agent decides, with the statement


@dataclass(frozen=True, slots=True)
class ProposalDecision:
    route: Route
    reasons: tuple[str, ...]  # why it needs review; empty when accepted


def evaluate_proposal(
    *,
    total_cents: int,
    instalment_cents: int,
    policy: PlanPolicy,
    capacity_cents: int | None,
    share_cents: Mapping[str, int] | None = None,
    case_minimums: Mapping[str, int] | None = None,
) -> ProposalDecision:
    """Is a debtor's own proposal inside policy (accept) or for an agent (review)?"""
    if instalment_cents <= 0:
        raise ValidationError("an instalment must be a positive amount")
    reasons: list[str] = []
    months = -(-total_cents // instalment_cents)
    if months > policy.max_months:
        reasons.append(
            f"{months} months is longer than the policy's maximum of {policy.max_months}"
        )
    if instalment_cents < policy.min_instalment_cents and months > 1:
        reasons.append(
            f"the instalment is below the policy's minimum of "
            f"{policy.min_instalment_cents // 100}.{policy.min_instalment_cents % 100:02d}"
        )
    if capacity_cents is not None and instalment_cents > capacity_cents:
        reasons.append(
            "the instalment is more than the repayment capacity in the statement; "
            "an agent checks that the plan can be kept"
        )
    for name, share in (share_cents or {}).items():
        minimum = (case_minimums or {}).get(name)
        if minimum is not None and 0 < share < minimum:
            reasons.append(f"the share for {name} is below that creditor's minimum instalment")
    return ProposalDecision(Route.REVIEW if reasons else Route.ACCEPT, tuple(reasons))


@dataclass(frozen=True, slots=True)
class DeferralDecision:
    route: Route
    until: date
    reasons: tuple[str, ...]


def evaluate_deferral(*, on: date, days: int, policy: PlanPolicy) -> DeferralDecision:
    """A temporary postponement: within the policy's maximum it is granted at once."""
    if days < 1:
        raise ValidationError("a deferral is at least one day")
    until = on + timedelta(days=days)
    if days > policy.max_deferral_days:
        return DeferralDecision(
            Route.REVIEW,
            until,
            (f"{days} days is longer than the policy's maximum of {policy.max_deferral_days}",),
        )
    return DeferralDecision(Route.ACCEPT, until, ())


class FollowUp(StrEnum):
    NONE = "none"  # not due, paid, or still inside the grace period
    REMIND = "remind"  # grace period over: mark missed, friendly reminder
    OFFER_REPLAN = "offer_replan"  # still unpaid some days after the reminder
    BREAK = "break"  # the policy's number of misses is reached


def follow_up(
    *,
    due: date,
    unpaid_cents: int,
    status: str,
    replan_offered: bool,
    misses_before: int,
    on: date,
    policy: PlanPolicy,
) -> FollowUp:
    """What the nightly cycle does about one instalment of an active plan on ``on``."""
    if unpaid_cents <= 0 or status == "paid":
        return FollowUp.NONE
    missed_from = due + timedelta(days=policy.grace_days + 1)
    if status == "open":
        if on < missed_from:
            return FollowUp.NONE
        if misses_before + 1 >= policy.max_misses:
            return FollowUp.BREAK
        return FollowUp.REMIND
    if (
        status == "missed"
        and not replan_offered
        and on >= missed_from + timedelta(days=policy.replan_offer_days)
    ):
        return FollowUp.OFFER_REPLAN
    return FollowUp.NONE
