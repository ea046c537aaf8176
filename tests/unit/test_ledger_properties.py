"""Ledger invariants, checked over random sequences of operations (Hypothesis)."""

from __future__ import annotations

import contextlib
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from respite.domain.allocation import Bucket
from respite.domain.ledger import Balances, EntryKind, Ledger
from respite.domain.money import Currency, Money
from respite.errors import ConflictError, ValidationError

NL_ORDER = (Bucket.COSTS, Bucket.INTEREST, Bucket.PRINCIPAL)
DAY = date(2025, 3, 1)
amounts = st.integers(min_value=1, max_value=500_000).map(Money.from_minor_units)
buckets = st.sampled_from(list(Bucket))


def new_ledger() -> Ledger:
    return Ledger("C-1", Currency.EUR, NL_ORDER)


def assert_conserved(b: Balances) -> None:
    """Money is neither created nor lost, and nothing is negative."""
    assert b.received == b.allocated + b.credit
    assert b.charged - b.written_off - b.allocated == b.outstanding
    for part in (b.principal, b.interest, b.costs, b.credit):
        assert not part.is_negative
    # Credit waits only when nothing is outstanding: it is always allocated when it can be.
    assert b.credit.is_zero or b.outstanding.is_zero


op = st.one_of(
    st.tuples(st.just("charge"), buckets, amounts),
    st.tuples(st.just("pay"), st.just(Bucket.PRINCIPAL), amounts),
    st.tuples(st.just("write_off"), buckets, st.integers(min_value=1, max_value=100)),
)


def apply(ledger: Ledger, operation: tuple[str, Bucket, object]) -> Ledger:
    kind, bucket, value = operation
    if kind == "charge":
        assert isinstance(value, Money)
        return ledger.charge(bucket, value, DAY)
    if kind == "pay":
        assert isinstance(value, Money)
        return ledger.pay(value, DAY)
    assert isinstance(value, int)
    open_part = ledger.balances().part(bucket)
    if not open_part.is_positive:
        return ledger
    share = Money.from_minor_units(max(1, open_part.minor_units * value // 100))
    return ledger.write_off(bucket, share, DAY)


@settings(max_examples=300)
@given(st.lists(op, max_size=25))
def test_no_sequence_of_operations_creates_or_loses_money(
    ops: list[tuple[str, Bucket, object]],
) -> None:
    """Invariant: after every operation, received = allocated + credit and
    charged − written off − allocated = outstanding; no part is ever negative."""
    ledger = new_ledger()
    for operation in ops:
        before = ledger.entries
        ledger = apply(ledger, operation)
        assert ledger.entries[: len(before)] == before  # append-only
        assert_conserved(ledger.balances())


@settings(max_examples=300)
@given(st.lists(op, max_size=20), op)
def test_reversing_an_operation_restores_the_exact_previous_balances(
    history: list[tuple[str, Bucket, object]], last: tuple[str, Bucket, object]
) -> None:
    """Invariant: reverse(op) right after op gives back the balances from before op."""
    ledger = new_ledger()
    for operation in history:
        ledger = apply(ledger, operation)
    before = ledger.balances()
    after = apply(ledger, last)
    if after.entries == ledger.entries:
        return  # nothing to write off: no entry to reverse
    main = next(
        e for e in after.entries[len(ledger.entries) :] if e.kind is not EntryKind.ALLOCATION
    )
    restored = after.reverse(main.seq, DAY)
    assert restored.balances() == before
    assert_conserved(restored.balances())
    with pytest.raises(ConflictError, match="already reversed"):
        restored.reverse(main.seq, DAY)


@given(st.lists(amounts, min_size=1, max_size=10), st.lists(amounts, min_size=1, max_size=10))
def test_allocations_sum_to_the_payments(charges: list[Money], payments: list[Money]) -> None:
    """Invariant: what was allocated plus the unallocated credit equals what was paid."""
    ledger = new_ledger()
    for c in charges:
        ledger = ledger.charge(Bucket.PRINCIPAL, c, DAY)
    for p in payments:
        ledger = ledger.pay(p, DAY)
    allocated = sum(
        (e.amount.minor_units for e in ledger.entries if e.kind is EntryKind.ALLOCATION), 0
    )
    b = ledger.balances()
    assert allocated + b.credit.minor_units == sum(p.minor_units for p in payments)
    assert b.principal.minor_units == max(
        0, sum(c.minor_units for c in charges) - sum(p.minor_units for p in payments)
    )


class LedgerMachine(RuleBasedStateMachine):
    """Random interleavings, including reversals of older entries."""

    def __init__(self) -> None:
        super().__init__()
        self.ledger = new_ledger()

    @rule(bucket=buckets, amount=amounts)
    def charge(self, bucket: Bucket, amount: Money) -> None:
        self.ledger = self.ledger.charge(bucket, amount, DAY)

    @rule(amount=amounts)
    def pay(self, amount: Money) -> None:
        self.ledger = self.ledger.pay(amount, DAY)

    @rule(pick=st.integers(min_value=0, max_value=10**6))
    def reverse_something(self, pick: int) -> None:
        candidates = [
            e
            for e in self.ledger.entries
            if e.kind in (EntryKind.CHARGE, EntryKind.PAYMENT, EntryKind.WRITE_OFF)
            and not self.ledger.is_reversed(e.seq)
        ]
        if not candidates:
            return
        target = candidates[pick % len(candidates)]
        # A refusal (a write-off stands in the way) leaves the ledger unchanged.
        with contextlib.suppress(ConflictError):
            self.ledger = self.ledger.reverse(target.seq, DAY)

    @invariant()
    def conserved(self) -> None:
        assert_conserved(self.ledger.balances())


TestLedgerMachine = LedgerMachine.TestCase
TestLedgerMachine.settings = settings(max_examples=100, stateful_step_count=30)


def test_a_write_off_cannot_exceed_what_is_open() -> None:
    ledger = new_ledger().charge(Bucket.INTEREST, Money.of("10.00"), DAY)
    with pytest.raises(ValidationError, match=r"only 10\.00 is open"):
        ledger.write_off(Bucket.INTEREST, Money.of("10.01"), DAY)


def test_a_payment_goes_to_costs_then_interest_then_principal() -> None:
    # Worked example (thladvocaten.nl, HR 10-07-2015): EUR 100 principal, EUR 5 interest and
    # EUR 40 BIK; a payment of EUR 100 pays the EUR 40 costs, then the EUR 5 interest.
    ledger = (
        new_ledger()
        .charge(Bucket.PRINCIPAL, Money.of("100.00"), DAY)
        .charge(Bucket.INTEREST, Money.of("5.00"), DAY)
        .charge(Bucket.COSTS, Money.of("40.00"), DAY)
        .pay(Money.of("100.00"), DAY)
    )
    b = ledger.balances()
    assert (b.costs, b.interest, b.principal) == (Money.zero(), Money.zero(), Money.of("45.00"))


def test_an_overpayment_stays_as_credit_and_pays_a_later_charge() -> None:
    ledger = (
        new_ledger().charge(Bucket.PRINCIPAL, Money.of("50.00"), DAY).pay(Money.of("80.00"), DAY)
    )
    assert ledger.balances().credit == Money.of("30.00")
    ledger = ledger.charge(Bucket.INTEREST, Money.of("12.00"), DAY)
    assert ledger.balances().credit == Money.of("18.00")
    assert ledger.balances().interest.is_zero


def test_entries_other_than_payments_and_charges_cannot_be_reversed_alone() -> None:
    ledger = (
        new_ledger().charge(Bucket.PRINCIPAL, Money.of("50.00"), DAY).pay(Money.of("20.00"), DAY)
    )
    allocation = next(e for e in ledger.entries if e.kind is EntryKind.ALLOCATION)
    with pytest.raises(ConflictError, match="an allocation"):
        ledger.reverse(allocation.seq, DAY)
