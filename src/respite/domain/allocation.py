"""Where a payment goes: which claim (NL art. 6:43 BW) and which part of it (art. 6:44 BW).

- **6:44 lid 1**: a payment on an obligation goes first to the costs, then to the interest
  that has fallen due, then to the principal and running interest. Collection costs
  (BIK) are "kosten" in this sense (HR 10-07-2015). The order is data in each
  jurisdiction's rule pack; :func:`allocate` applies any order.
- **6:43**: the debtor may designate the obligation a payment is for. Absent that, the
  payment goes to the obligations that are due (opeisbaar); among them to the most
  onerous ("meest bezwarend"), then the oldest, and finally pro rata. First 6:43 picks the
  obligation, then 6:44 applies within it (HR 29-05-2015).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import Enum

from respite.domain.money import Currency, Money, allocate_pro_rata
from respite.errors import ValidationError

__all__ = [
    "Allocation",
    "Bucket",
    "ClaimBalance",
    "ClaimShare",
    "allocate",
    "allocate_across_claims",
]


class Bucket(Enum):
    """The parts of a claim a payment can be allocated to."""

    COSTS = "costs"
    INTEREST = "interest"
    PRINCIPAL = "principal"

    @classmethod
    def of(cls, text: str) -> Bucket:
        try:
            return cls(text)
        except ValueError:
            raise ValidationError(f"unknown part of a claim {text!r}") from None


@dataclass(frozen=True, slots=True)
class Allocation:
    """How one payment is split; ``parts`` follow the allocation order."""

    currency: Currency
    parts: tuple[tuple[Bucket, Money], ...]
    unallocated: Money

    def to(self, bucket: Bucket) -> Money:
        for b, amount in self.parts:
            if b is bucket:
                return amount
        return Money.zero(self.currency)

    @property
    def allocated(self) -> Money:
        total = Money.zero(self.currency)
        for _, amount in self.parts:
            total = total + amount
        return total


def allocate(
    payment: Money, outstanding: Mapping[Bucket, Money], order: Sequence[Bucket]
) -> Allocation:
    """Fill the buckets in ``order`` up to what is outstanding; the rest stays unallocated."""
    if payment.is_negative:
        raise ValidationError(f"a payment must not be negative, got {payment}")
    if len(set(order)) != len(order):
        raise ValidationError("the allocation order names a part twice")
    remaining = payment
    parts: list[tuple[Bucket, Money]] = []
    for bucket in order:
        due = outstanding.get(bucket, Money.zero(payment.currency))
        if due.is_negative:
            raise ValidationError(f"outstanding {bucket.value} must not be negative, got {due}")
        take = remaining.min(due)
        parts.append((bucket, take))
        remaining = remaining - take
    return Allocation(payment.currency, tuple(parts), remaining)


@dataclass(frozen=True, slots=True)
class ClaimBalance:
    """What is outstanding on one claim, and what makes it more or less onerous."""

    claim_id: str
    due_date: date
    outstanding: Mapping[Bucket, Money]
    interest_percent: Decimal = Decimal(0)
    onerous_rank: int = 0  # higher = more onerous for the debtor (e.g. secured, penalty)


@dataclass(frozen=True, slots=True)
class ClaimShare:
    claim_id: str
    allocation: Allocation


@dataclass(frozen=True, slots=True)
class MultiAllocation:
    shares: tuple[ClaimShare, ...]
    unallocated: Money
    reasons: tuple[str, ...] = field(default=())


def allocate_across_claims(
    payment: Money,
    claims: Sequence[ClaimBalance],
    order: Sequence[Bucket],
    *,
    on: date,
    designated: str | None = None,
) -> MultiAllocation:
    """Allocate one payment over several claims of one debtor (6:43, then 6:44 within each)."""
    cur = payment.currency
    zero = Money.zero(cur)
    by_id = {c.claim_id: c for c in claims}
    if len(by_id) != len(claims):
        raise ValidationError("claim ids must be unique")
    # What is still open per claim and part, reduced as the payment is spread.
    left = {c.claim_id: {b: c.outstanding.get(b, zero) for b in order} for c in claims}
    given = {c.claim_id: dict.fromkeys(order, zero) for c in claims}
    reasons: list[str] = []
    remaining = payment

    def give(claim_id: str, amount: Money) -> Money:
        alloc = allocate(amount, left[claim_id], order)
        for bucket, part in alloc.parts:
            left[claim_id][bucket] = left[claim_id][bucket] - part
            given[claim_id][bucket] = given[claim_id][bucket] + part
        return alloc.allocated

    if designated is not None:
        if designated not in by_id:
            raise ValidationError(f"the payment designates unknown claim {designated!r}")
        remaining = remaining - give(designated, remaining)
        reasons.append(f"{designated}: designated by the debtor (6:43 lid 1)")

    def rank(c: ClaimBalance) -> tuple[bool, int, Decimal, date]:
        return (c.due_date > on, -c.onerous_rank, -c.interest_percent, c.due_date)

    pending = sorted((c for c in claims if c.claim_id != designated), key=rank)
    while remaining.is_positive and pending:
        head = rank(pending[0])
        group = [c for c in pending if rank(c) == head]
        pending = pending[len(group) :]
        open_amounts = [sum(left[c.claim_id].values(), zero).amount for c in group]
        if sum(open_amounts) == 0:
            continue
        if remaining.amount >= sum(open_amounts):
            portions = [Money(a, cur) for a in open_amounts]
        else:
            portions = allocate_pro_rata(remaining, open_amounts)
        status = "not yet due" if head[0] else "due"
        how = (
            "pro rata among equally onerous and old claims"
            if len(group) > 1
            else ("most onerous, then oldest")
        )
        for claim, portion in zip(group, portions, strict=True):
            if portion.is_positive:
                remaining = remaining - give(claim.claim_id, portion)
                reasons.append(f"{claim.claim_id}: {status}, {how} (6:43 lid 2)")
    shares = tuple(
        ClaimShare(cid, Allocation(cur, tuple((b, parts[b]) for b in order), zero))
        for cid, parts in given.items()
        if any(p.is_positive for p in parts.values())
    )
    return MultiAllocation(shares, remaining, tuple(reasons))
