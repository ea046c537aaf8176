"""Booking a payment received for a case: 6:43 BW picks the claims, 6:44 the parts.

A payment is identified by its ``source_ref`` (a bank entry reference, a provider id, a
demo schedule id): booking the same reference twice books it once. Interest accrued but
not yet posted is posted first, so the payment meets the interest that is due (6:44).
Whatever is left after every claim is paid stays as credit on the case's last claim (a
refund queue handles it later).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, update

from respite.adapters.db.models import (
    Case,
    Claim,
    Creditor,
    Event,
    Instalment,
    LedgerEntry,
    Payment,
)
from respite.domain.allocation import Bucket, ClaimBalance, allocate_across_claims
from respite.domain.money import Currency, Money
from respite.errors import ConflictError, ValidationError
from respite.rules.loader import load_pack
from respite.services.store import ledger_row, post_accrued_interest

__all__ = ["book_payment", "book_scheduled_payments"]

BUCKET_COLUMN = {
    Bucket.PRINCIPAL: "open_principal_cents",
    Bucket.INTEREST: "open_interest_cents",
    Bucket.COSTS: "open_costs_cents",
}


def book_payment(
    conn: Connection,
    case_id: int,
    amount_cents: int,
    on: date,
    source_ref: str,
    *,
    now: datetime,
    jurisdiction: str,
) -> bool:
    """Book one payment; False when ``source_ref`` was booked before (nothing changes)."""
    if amount_cents <= 0:
        raise ValidationError(f"a payment must be more than zero, got {amount_cents} cents")
    existing = conn.execute(
        select(Payment.id, Payment.booked).where(Payment.source_ref == source_ref)
    ).first()
    if existing is not None and existing.booked:
        return False
    claims = [
        dict(r._mapping)
        for r in conn.execute(select(Claim).where(Claim.case_id == case_id).order_by(Claim.id))
    ]
    if not claims:
        raise ConflictError(f"case {case_id} has no claims to pay")
    currency = Currency.of(claims[0]["currency"])
    for c in claims:  # post accrued interest first: it is due before the principal
        row = post_accrued_interest(c, on, "interest up to the payment")
        c["_ledger"] = [row] if row is not None else []
    order = load_pack(jurisdiction).allocation.value_at(on)
    balances = [
        ClaimBalance(
            str(c["id"]),
            c["due_date"],
            {b: Money.from_minor_units(c[col], currency) for b, col in BUCKET_COLUMN.items()},
        )
        for c in claims
    ]
    payment = Money.from_minor_units(amount_cents, currency)
    result = allocate_across_claims(payment, balances, order, on=on)
    by_id = {str(c["id"]): c for c in claims}
    for share in result.shares:
        c = by_id[share.claim_id]
        _pay(
            c,
            share.allocation.allocated.minor_units,
            [(b, m.minor_units) for b, m in share.allocation.parts],
            on,
            source_ref,
        )
    if result.unallocated.is_positive:
        last = claims[-1]
        _pay(last, result.unallocated.minor_units, [], on, source_ref, credit=True)
    _write(conn, claims)
    if existing is None:
        conn.execute(
            insert(Payment).values(
                case_id=case_id,
                received_on=on,
                amount_cents=amount_cents,
                source_ref=source_ref,
                booked=True,
            )
        )
    else:
        conn.execute(update(Payment).where(Payment.id == existing.id).values(booked=True))
    _apply_to_instalments(conn, case_id, amount_cents)
    conn.execute(
        insert(Event).values(
            case_id=case_id,
            business_date=on,
            recorded_at=now,
            actor="payments",
            kind="payment_received",
            reason=f"payment {source_ref}",
            before={},
            after={"amount": str(payment), "allocation": "; ".join(result.reasons)},
        )
    )
    return True


def _pay(
    claim: dict[str, Any],
    total: int,
    parts: Sequence[tuple[Bucket, int]],
    on: date,
    ref: str,
    *,
    credit: bool = False,
) -> None:
    entries = claim.setdefault("_ledger", [])
    claim["last_seq"] += 1
    payment_seq = claim["last_seq"]
    entries.append(ledger_row(claim, "payment", None, total, on, f"payment {ref}"[:200]))
    if credit:
        claim["credit_cents"] += total
    for bucket, cents in parts:
        if cents <= 0:
            continue
        claim["last_seq"] += 1
        claim[BUCKET_COLUMN[bucket]] -= cents
        entry = ledger_row(
            claim, "allocation", bucket.value, cents, on, f"from payment {ref}"[:200]
        )
        entry["payment_seq"] = payment_seq
        entries.append(entry)


STATE = (
    "interest_carry_micros",
    "interest_year_cents",
    "open_principal_cents",
    "open_interest_cents",
    "open_costs_cents",
    "credit_cents",
    "last_seq",
)


def _write(conn: Connection, claims: list[dict[str, Any]]) -> None:
    entries = [e for c in claims for e in c.get("_ledger", [])]
    if entries:
        conn.execute(insert(LedgerEntry), entries)
    conn.execute(
        update(Claim).where(Claim.id == bindparam("b_id")).values({k: bindparam(k) for k in STATE}),
        [{"b_id": c["id"], **{k: c[k] for k in STATE}} for c in claims],
    )


def _apply_to_instalments(conn: Connection, case_id: int, amount_cents: int) -> None:
    """Mark the case's instalments paid, oldest first; a late payment still counts."""
    left = amount_cents
    rows = conn.execute(
        select(Instalment.id, Instalment.amount_cents, Instalment.paid_cents, Instalment.status)
        .where(Instalment.case_id == case_id, Instalment.status.in_(("open", "missed")))
        .order_by(Instalment.due_date, Instalment.id)
    ).all()
    for r in rows:
        if left <= 0:
            break
        take = min(left, r.amount_cents - r.paid_cents)
        left -= take
        paid = r.paid_cents + take
        conn.execute(
            update(Instalment)
            .where(Instalment.id == r.id)
            .values(paid_cents=paid, status="paid" if paid >= r.amount_cents else r.status)
        )


def book_scheduled_payments(conn: Connection, on: date, *, now: datetime) -> int:
    """Book the payments received on ``on`` that are not booked yet (the demo's bank)."""
    rows = conn.execute(
        select(
            Payment.case_id, Payment.amount_cents, Payment.source_ref, Case.creditor_id, Case.stage
        )
        .join(Case, Case.id == Payment.case_id)
        .where(Payment.received_on == on, Payment.booked.is_(False))
        .order_by(Payment.id)
    ).all()
    jurisdictions = dict(conn.execute(select(Creditor.id, Creditor.jurisdiction)).all())
    booked = 0
    for r in rows:
        # A payment after the case closed is booked too: it becomes credit to refund.
        if book_payment(
            conn,
            r.case_id,
            r.amount_cents,
            on,
            r.source_ref,
            now=now,
            jurisdiction=jurisdictions[r.creditor_id],
        ):
            booked += 1
    return booked
