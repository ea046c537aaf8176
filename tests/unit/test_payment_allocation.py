"""The integer fast path of payment allocation equals the domain's 6:43/6:44 rules."""

from __future__ import annotations

import copy
from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from respite.domain.allocation import Bucket
from respite.services.payments import NewPayment, _allocate_domain, _allocate_multi

ORDER = (Bucket.COSTS, Bucket.INTEREST, Bucket.PRINCIPAL)
ON = date(2025, 3, 1)

claim = st.tuples(
    st.integers(0, 50_000),  # costs
    st.integers(0, 20_000),  # interest
    st.integers(0, 500_000),  # principal
    st.integers(-60, 30),  # due date offset: some not yet due, ties likely
)


def rows(items: list[tuple[int, int, int, int]]) -> list[dict[str, object]]:
    return [
        {
            "id": n + 1,
            "case_id": 1,
            "currency": "EUR",
            "due_date": ON + timedelta(days=offset // 10 * 10),
            "open_costs_cents": costs,
            "open_interest_cents": interest,
            "open_principal_cents": principal,
            "credit_cents": 0,
            "last_seq": 1,
        }
        for n, (costs, interest, principal, offset) in enumerate(items)
    ]


@settings(max_examples=300)
@given(st.lists(claim, min_size=2, max_size=6), st.integers(1, 2_000_000))
def test_the_integer_path_books_exactly_what_the_domain_books(
    items: list[tuple[int, int, int, int]], amount: int
) -> None:
    """Same parts per claim, same ledger rows, same credit, same reasons — for any claims."""
    fast_rows, domain_rows = rows(items), rows(items)
    payment = NewPayment(1, amount, ON, "bank:x")
    fast = _allocate_multi(fast_rows, payment, ORDER)
    reference = _allocate_domain(domain_rows, payment, ORDER)
    assert fast == reference
    assert fast_rows == domain_rows  # balances, credit, seqs and the ledger rows
    assert copy.deepcopy(fast_rows) == domain_rows
