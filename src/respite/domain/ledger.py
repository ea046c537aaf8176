"""The ledger of one claim: append-only entries; every balance is derived from them.

Entry kinds and their effect on the balances:

==============  ===================================================================
``CHARGE``      adds to a part of the claim (principal, interest, costs)
``PAYMENT``     money received; it is credit until allocated
``ALLOCATION``  moves part of one payment's credit onto a part of the claim
``WRITE_OFF``   reduces a part of the claim without money
``REVERSAL``    undoes one earlier entry exactly (a returned payment also undoes
                every allocation made from it)
==============  ===================================================================

Invariants (tested with Hypothesis in ``tests/unit/test_ledger_properties.py``):

- money is neither created nor lost: ``received = allocated + credit`` and
  ``charged − written_off − allocated = outstanding``;
- no part of a claim, and no credit, is ever negative;
- a reversal restores the balances exactly as they were before the reversed entry's
  effect (for a payment: as if the payment and its allocations had not happened; for a
  charge that credit was allocated to: that allocation is undone with it);
- an entry is reversed at most once and entries are never changed or removed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from enum import Enum

from respite.domain.allocation import Bucket, allocate
from respite.domain.money import Currency, Money
from respite.errors import ConflictError, ValidationError

__all__ = ["Balances", "Entry", "EntryKind", "Ledger"]


class EntryKind(Enum):
    CHARGE = "charge"
    PAYMENT = "payment"
    ALLOCATION = "allocation"
    WRITE_OFF = "write_off"
    REVERSAL = "reversal"


@dataclass(frozen=True, slots=True)
class Entry:
    seq: int
    kind: EntryKind
    on: date
    amount: Money
    bucket: Bucket | None = None
    payment_seq: int | None = None  # ALLOCATION: the payment whose credit it uses
    reverses: int | None = None  # REVERSAL: the entry it undoes
    memo: str = ""

    @property
    def part(self) -> Bucket:
        """The part of the claim a charge, allocation or write-off touches."""
        if self.bucket is None:
            raise ConflictError(f"ledger entry {self.seq} ({self.kind.value}) has no part")
        return self.bucket

    @property
    def target(self) -> int:
        """The entry a reversal undoes."""
        if self.reverses is None:
            raise ConflictError(f"ledger entry {self.seq} ({self.kind.value}) reverses nothing")
        return self.reverses


@dataclass(frozen=True, slots=True)
class Balances:
    principal: Money
    interest: Money
    costs: Money
    credit: Money  # received but not (yet) allocated: an overpayment or an advance
    received: Money
    allocated: Money
    charged: Money
    written_off: Money

    @property
    def outstanding(self) -> Money:
        return self.principal + self.interest + self.costs

    def part(self, bucket: Bucket) -> Money:
        return {
            Bucket.PRINCIPAL: self.principal,
            Bucket.INTEREST: self.interest,
            Bucket.COSTS: self.costs,
        }[bucket]


@dataclass(frozen=True, slots=True)
class Ledger:
    """An immutable ledger; every operation returns a new ledger with entries appended."""

    claim_id: str
    currency: Currency
    allocation_order: tuple[Bucket, ...]
    entries: tuple[Entry, ...] = ()

    # reading ------------------------------------------------------------------------
    def balances(self) -> Balances:
        zero = Money.zero(self.currency)
        parts = {b: zero for b in Bucket}
        totals = {"credit": zero, "received": zero, "allocated": zero, "charged": zero, "wo": zero}
        by_seq = {e.seq: e for e in self.entries}

        def apply(entry: Entry, sign: int) -> None:
            amount = entry.amount if sign > 0 else -entry.amount
            if entry.kind is EntryKind.CHARGE:
                parts[entry.part] = parts[entry.part] + amount
                totals["charged"] = totals["charged"] + amount
            elif entry.kind is EntryKind.WRITE_OFF:
                parts[entry.part] = parts[entry.part] - amount
                totals["wo"] = totals["wo"] + amount
            elif entry.kind is EntryKind.PAYMENT:
                totals["credit"] = totals["credit"] + amount
                totals["received"] = totals["received"] + amount
            elif entry.kind is EntryKind.ALLOCATION:
                parts[entry.part] = parts[entry.part] - amount
                totals["credit"] = totals["credit"] - amount
                totals["allocated"] = totals["allocated"] + amount

        for entry in self.entries:
            if entry.kind is EntryKind.REVERSAL:
                apply(by_seq[entry.target], -1)
            else:
                apply(entry, +1)
        return Balances(
            parts[Bucket.PRINCIPAL],
            parts[Bucket.INTEREST],
            parts[Bucket.COSTS],
            totals["credit"],
            totals["received"],
            totals["allocated"],
            totals["charged"],
            totals["wo"],
        )

    def entry(self, seq: int) -> Entry:
        for e in self.entries:
            if e.seq == seq:
                return e
        raise ValidationError(f"claim {self.claim_id} has no ledger entry {seq}")

    def is_reversed(self, seq: int) -> bool:
        return any(e.kind is EntryKind.REVERSAL and e.reverses == seq for e in self.entries)

    # writing ------------------------------------------------------------------------
    def _next_seq(self) -> int:
        return self.entries[-1].seq + 1 if self.entries else 1

    def _append(self, *new: Entry) -> Ledger:
        return replace(self, entries=self.entries + tuple(new))

    def _positive(self, amount: Money, what: str) -> None:
        if amount.currency is not self.currency:
            raise ValidationError(
                f"claim {self.claim_id} is in {self.currency.code}, {what} is in "
                f"{amount.currency.code}"
            )
        if not amount.is_positive:
            raise ValidationError(f"{what} must be more than zero, got {amount}")

    def charge(self, bucket: Bucket, amount: Money, on: date, memo: str = "") -> Ledger:
        """Add principal, interest or costs; any credit on the claim is then allocated."""
        self._positive(amount, f"a {bucket.value} charge")
        seq = self._next_seq()
        ledger = self._append(Entry(seq, EntryKind.CHARGE, on, amount, bucket, memo=memo))
        return ledger.allocate_credit(on)

    def pay(self, amount: Money, on: date, memo: str = "") -> Ledger:
        """Receive a payment and allocate it in the claim's allocation order."""
        self._positive(amount, "a payment")
        seq = self._next_seq()
        ledger = self._append(Entry(seq, EntryKind.PAYMENT, on, amount, memo=memo))
        return ledger.allocate_credit(on)

    def write_off(self, bucket: Bucket, amount: Money, on: date, memo: str = "") -> Ledger:
        self._positive(amount, f"a {bucket.value} write-off")
        open_part = self.balances().part(bucket)
        if amount > open_part:
            raise ValidationError(
                f"cannot write off {amount} of {bucket.value} on claim {self.claim_id}: "
                f"only {open_part} is open"
            )
        seq = self._next_seq()
        return self._append(Entry(seq, EntryKind.WRITE_OFF, on, amount, bucket, memo=memo))

    def allocate_credit(self, on: date) -> Ledger:
        """Apply unallocated credit, oldest payment first, to what is outstanding."""
        ledger = self
        for payment, credit in ledger._credits():
            balances = ledger.balances()
            outstanding = {b: balances.part(b) for b in ledger.allocation_order}
            alloc = allocate(credit, outstanding, ledger.allocation_order)
            new: list[Entry] = []
            seq = ledger._next_seq()
            for bucket, part in alloc.parts:
                if part.is_positive:
                    new.append(
                        Entry(seq, EntryKind.ALLOCATION, on, part, bucket, payment_seq=payment.seq)
                    )
                    seq += 1
            ledger = ledger._append(*new)
        return ledger

    def _credits(self) -> list[tuple[Entry, Money]]:
        """Payments (not reversed) with the part of each not yet allocated."""
        live = {e.seq: e for e in self.entries if e.kind is EntryKind.PAYMENT}
        reversed_ = {e.reverses for e in self.entries if e.kind is EntryKind.REVERSAL}
        left = {seq: e.amount for seq, e in live.items() if seq not in reversed_}
        for e in self.entries:
            if e.kind is EntryKind.ALLOCATION and e.payment_seq in left and e.seq not in reversed_:
                left[e.payment_seq] = left[e.payment_seq] - e.amount
        return [(live[seq], credit) for seq, credit in left.items() if credit.is_positive]

    def reverse(self, seq: int, on: date, memo: str = "") -> Ledger:
        """Undo one entry; a reversed payment takes its allocations with it."""
        target = self.entry(seq)
        if target.kind in (EntryKind.REVERSAL, EntryKind.ALLOCATION):
            what = "a reversal" if target.kind is EntryKind.REVERSAL else "an allocation"
            raise ConflictError(
                f"entry {seq} is {what}; reverse the payment or charge it belongs to instead"
            )
        if self.is_reversed(seq):
            raise ConflictError(f"entry {seq} of claim {self.claim_id} is already reversed")
        targets: Sequence[Entry] = [target]
        if target.kind is EntryKind.PAYMENT:
            targets = [
                e
                for e in self.entries
                if e.kind is EntryKind.ALLOCATION
                and e.payment_seq == seq
                and not self.is_reversed(e.seq)
            ] + [target]
        elif target.kind is EntryKind.CHARGE:
            # Credit allocated to this part after the charge would leave it negative:
            # undo those allocations too, newest first, and let the credit flow again.
            shortfall = target.amount - self.balances().part(target.part)
            undone: list[Entry] = []
            for e in reversed(self.entries):
                if not shortfall.is_positive:
                    break
                if (
                    e.kind is EntryKind.ALLOCATION
                    and e.bucket is target.bucket
                    and not self.is_reversed(e.seq)
                ):
                    undone.append(e)
                    shortfall = shortfall - e.amount
            if shortfall.is_positive:
                raise ConflictError(
                    f"cannot reverse charge {seq}: write-offs already reduced the "
                    f"{target.part.value} below {target.amount}; reverse those first"
                )
            targets = [*undone, target]
        next_seq = self._next_seq()
        reversals = [
            Entry(
                next_seq + i, EntryKind.REVERSAL, on, t.amount, t.bucket, reverses=t.seq, memo=memo
            )
            for i, t in enumerate(targets)
        ]
        return self._append(*reversals).allocate_credit(on)
