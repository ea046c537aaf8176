"""Sharing one debtor's repayment capacity over several creditors.

When several creditors wait for the same small repayment capacity, each gets a share in
proportion to its outstanding principal (*pondsgewijs*, as in the Dutch minnelijke
schuldregeling: RULES.md §1f, NVVK Gedragscode), so no creditor is favoured because it
chased harder. Where the jurisdiction ranks debts (UK priority debts under the Standard
Financial Statement: rent, council tax, energy), a higher rank is served in full before the
next rank receives anything; within a rank the split is pro rata.

Everything is integer cents and the split uses the largest-remainder method, so the shares
always add up exactly to the capacity (or to the whole debt, if that is smaller): no cent is
created or lost.

:func:`coordinated_schedule` turns the split into one monthly schedule for the debtor: each
month the capacity is shared over the cases still open; when a case is paid off in a month,
what it no longer needs goes to the others in that same month, so every month but the last
asks exactly the agreed instalment.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from respite.domain.money import Money
from respite.errors import ValidationError

__all__ = [
    "Debt",
    "ScheduleMonth",
    "ScheduleSegment",
    "coordinated_schedule",
    "distribute_capacity",
    "expand",
    "schedule_segments",
    "split_cents",
]


@dataclass(frozen=True, slots=True)
class Debt:
    """One creditor's claim on the debtor, as the distribution sees it.

    ``principal`` weighs the share; ``balance`` (principal + interest + costs still open)
    is what the case needs in total. ``rank`` 0 is served first (priority/preferent debts),
    then 1, and so on.
    """

    name: str
    principal: Money
    balance: Money
    rank: int = 0

    def __post_init__(self) -> None:
        if self.principal.is_negative or self.balance.is_negative:
            raise ValidationError(f"debt {self.name!r}: amounts must not be negative")
        if self.principal.currency is not self.balance.currency:
            raise ValidationError(f"debt {self.name!r}: principal and balance differ in currency")


def split_cents(total: int, weights: Sequence[int]) -> list[int]:
    """Split ``total`` cents in proportion to integer ``weights``, largest remainder first.

    Exact integer arithmetic (no Decimal context involved); ties go to the earlier part.
    All-zero weights split evenly, so a debt with no principal left still gets its turn.
    """
    if total < 0:
        raise ValidationError("cannot split a negative amount")
    if not weights:
        raise ValidationError("cannot split an amount over no parts")
    if any(w < 0 for w in weights):
        raise ValidationError("weights must not be negative")
    return _split(total, list(weights))


def _split(total: int, weights: list[int]) -> list[int]:
    """:func:`split_cents` without the argument checks (the hot path of schedules)."""
    weight_sum = sum(weights)
    if weight_sum == 0:
        weights = [1] * len(weights)
        weight_sum = len(weights)
    products = [total * w for w in weights]
    parts = [x // weight_sum for x in products]
    left = total - sum(parts)
    if left:
        remainders = [x % weight_sum for x in products]
        # sorted() is stable with reverse=True, so equal remainders keep index order.
        for i in sorted(range(len(weights)), key=remainders.__getitem__, reverse=True)[:left]:
            parts[i] += 1
    return parts


def _share_ranked(
    capacity: int, need: Sequence[int], weight: Sequence[int], rank: Sequence[int]
) -> list[int]:
    """One month's split: rank by rank, pro rata within a rank, never more than a debt needs."""
    shares = [0] * len(need)
    left = capacity
    levels = sorted(set(rank))
    for r in levels:
        if len(levels) == 1:  # the common case: no ranks, every open debt takes part
            members = [i for i, n in enumerate(need) if n > 0]
        else:
            members = [i for i, n in enumerate(need) if n > 0 and rank[i] == r]
        while members and left > 0:
            wanted = sum(need[i] - shares[i] for i in members)
            if left >= wanted:
                for i in members:
                    shares[i] = need[i]
                left -= wanted
                break
            parts = _split(left, [weight[i] for i in members])
            capped = [i for i, p in zip(members, parts, strict=True) if shares[i] + p >= need[i]]
            if not capped:
                for i, p in zip(members, parts, strict=True):
                    shares[i] += p
                left = 0
                break
            # Debts that this split would overpay take only what they need; the rest is
            # split again over the others (water-filling), so the total stays exact.
            for i in capped:
                left -= need[i] - shares[i]
                shares[i] = need[i]
            members = [i for i in members if shares[i] < need[i]]
        if left == 0:
            break
    return shares


def distribute_capacity(capacity: Money, debts: Sequence[Debt]) -> dict[str, Money]:
    """Each debt's share of one month's ``capacity``.

    Shares are pro rata by outstanding principal within a rank, never more than a debt's
    balance, and add up exactly to ``min(capacity, total balance)``.
    """
    if capacity.is_negative:
        raise ValidationError("capacity must not be negative", field="--capacity")
    if not debts:
        raise ValidationError("there are no debts to share the capacity over")
    names = [d.name for d in debts]
    if len(set(names)) != len(names):
        raise ValidationError("every debt needs a distinct name")
    currency = capacity.currency
    for d in debts:
        if d.balance.currency is not currency:
            raise ValidationError(f"debt {d.name!r} is in {d.balance.currency}, not {currency}")
    shares = _share_ranked(
        capacity.minor_units,
        [d.balance.minor_units for d in debts],
        [d.principal.minor_units for d in debts],
        [d.rank for d in debts],
    )
    return {d.name: Money.from_minor_units(s, currency) for d, s in zip(debts, shares, strict=True)}


@dataclass(frozen=True, slots=True)
class ScheduleMonth:
    """Month ``index`` (0 = the first instalment): what each debt receives."""

    index: int
    amounts: Mapping[str, int]  # cents by debt name; only debts that receive something

    @property
    def total(self) -> int:
        return sum(self.amounts.values())


@dataclass(frozen=True, slots=True)
class ScheduleSegment:
    """``months`` consecutive months from ``first`` with the same amounts each month."""

    first: int
    months: int
    amounts: Mapping[str, int]

    @property
    def total(self) -> int:
        return sum(self.amounts.values())


def expand(segments: Sequence[ScheduleSegment]) -> list[ScheduleMonth]:
    """The schedule month by month."""
    return [ScheduleMonth(s.first + k, s.amounts) for s in segments for k in range(s.months)]


def coordinated_schedule(
    capacity_cents: int,
    names: Sequence[str],
    principal_cents: Sequence[int],
    balance_cents: Sequence[int],
    ranks: Sequence[int] | None = None,
    *,
    max_months: int = 600,
) -> list[ScheduleMonth]:
    """One monthly schedule paying every balance from a fixed monthly capacity.

    Every month except the last totals exactly ``capacity_cents``. Raises when the
    schedule would exceed ``max_months`` (the caller decides what a too-long plan means).
    See :func:`schedule_segments` for the compact form.
    """
    return expand(
        schedule_segments(
            capacity_cents, names, principal_cents, balance_cents, ranks, max_months=max_months
        )
    )


def schedule_segments(
    capacity_cents: int,
    names: Sequence[str],
    principal_cents: Sequence[int],
    balance_cents: Sequence[int],
    ranks: Sequence[int] | None = None,
    *,
    max_months: int = 600,
) -> list[ScheduleSegment]:
    """The schedule as runs of identical months.

    Shares stay constant between the months in which a debt is paid off, so the work is
    proportional to the number of debts, not to the number of months: each run ends the
    month before a debt would be overpaid, and that boundary month is split exactly (what
    the finished debt no longer needs goes to the others in the same month).
    """
    n = len(names)
    if not (n == len(principal_cents) == len(balance_cents)):
        raise ValidationError("names, principals and balances must have the same length")
    if capacity_cents <= 0:
        raise ValidationError("a schedule needs a positive monthly capacity")
    if ranks is None or len(set(ranks)) <= 1:
        return _segments_one_rank(
            capacity_cents, names, principal_cents, list(balance_cents), max_months
        )
    return _segments_ranked(
        capacity_cents, names, principal_cents, list(balance_cents), list(ranks), max_months
    )


def _too_long(max_months: int, capacity_cents: int) -> ValidationError:
    return ValidationError(
        f"the debts cannot be paid within {max_months} months from "
        f"{Decimal(capacity_cents).scaleb(-2)} a month"
    )


def _segments_one_rank(
    capacity: int,
    names: Sequence[str],
    weight: Sequence[int],
    need: list[int],
    max_months: int,
) -> list[ScheduleSegment]:
    """The common case, without ranks: the same result as :func:`_segments_ranked`, faster.

    The boundary month reuses the run's split and only re-splits what the finished debts
    leave over the others (water-filling), instead of starting the split again.
    """
    segments: list[ScheduleSegment] = []
    index = 0
    # Parallel lists of the debts still open (compacted when one is paid off).
    live = [i for i, x in enumerate(need) if x > 0]
    nm = [names[i] for i in live]
    w = [weight[i] for i in live]
    nd = [need[i] for i in live]
    outstanding = sum(nd)
    while nd:
        if index >= max_months:
            raise _too_long(max_months, capacity)
        if outstanding <= capacity:
            segments.append(ScheduleSegment(index, 1, dict(zip(nm, nd, strict=True))))
            return segments
        parts = _split(capacity, w)
        repeat = min(x // p for x, p in zip(nd, parts, strict=True) if p)
        repeat = min(repeat, max_months - index) - 1  # the last month is the exact one below
        if repeat > 0:
            segments.append(ScheduleSegment(index, repeat, _amounts(nm, parts)))
            nd = [x - p * repeat for x, p in zip(nd, parts, strict=True)]
            outstanding -= capacity * repeat
            index += repeat
        shares = parts
        members: Sequence[int] = range(len(nd))
        left = capacity
        while True:
            capped = [k for k in members if shares[k] >= nd[k]]
            if not capped:
                break
            for k in capped:
                left -= nd[k]
                shares[k] = nd[k]
            members = [k for k in members if shares[k] < nd[k]]
            if not members:
                break
            for k, p in zip(members, _split(left, [w[k] for k in members]), strict=True):
                shares[k] = p
        segments.append(ScheduleSegment(index, 1, _amounts(nm, shares)))
        nd = [x - v for x, v in zip(nd, shares, strict=True)]
        outstanding -= capacity  # the boundary month asks the full capacity (more is owed)
        index += 1
        if 0 in nd:
            keep = [k for k, x in enumerate(nd) if x > 0]
            nm = [nm[k] for k in keep]
            w = [w[k] for k in keep]
            nd = [nd[k] for k in keep]
    return segments


def _amounts(names: Sequence[str], cents: Sequence[int]) -> dict[str, int]:
    if 0 in cents:
        return {n: c for n, c in zip(names, cents, strict=True) if c}
    return dict(zip(names, cents, strict=True))


def _segments_ranked(
    capacity_cents: int,
    names: Sequence[str],
    principal_cents: Sequence[int],
    need: list[int],
    rank: list[int],
    max_months: int,
) -> list[ScheduleSegment]:
    """The general case: rank by rank (preferent debts first), pro rata within a rank."""
    segments: list[ScheduleSegment] = []
    index = 0
    left = sum(need)
    while left:
        shares = _share_ranked(capacity_cents, need, principal_cents, rank)
        paid = sum(shares)
        if paid < left:
            # Months this split can repeat unchanged: until the first debt would be overpaid.
            repeat = min(need[i] // s for i, s in enumerate(shares) if s > 0)
            repeat = min(repeat, max_months - index)
            if repeat > 1:
                repeat -= 1  # the last of them is computed exactly below
                amounts = {names[i]: s for i, s in enumerate(shares) if s}
                segments.append(ScheduleSegment(index, repeat, amounts))
                for i, s in enumerate(shares):
                    need[i] -= s * repeat
                left -= paid * repeat
                index += repeat
                shares = _share_ranked(capacity_cents, need, principal_cents, rank)
                paid = sum(shares)
        if index >= max_months:
            raise _too_long(max_months, capacity_cents)
        segments.append(ScheduleSegment(index, 1, {names[i]: s for i, s in enumerate(shares) if s}))
        for i, s in enumerate(shares):
            need[i] -= s
        left -= paid
        index += 1
    return segments
