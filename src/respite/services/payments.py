"""Booking a payment received for a case: 6:43 BW picks the claims, 6:44 the parts.

A payment is identified by its ``source_ref`` (a bank entry reference, a provider id, a
demo schedule id): booking the same reference twice books it once. Interest accrued but
not yet posted is posted first, so the payment meets the interest that is due (6:44).
Whatever is left after every claim is paid stays as credit on the case's last claim (a
refund queue handles it later).

Two paths, equal in effect: :func:`book_payment` books one payment;
:func:`book_payments` books many in one set-based pass (one query for the claims of all
the cases, bulk inserts, one ``executemany`` per table) — the bank import's path. Both
apply the same in-memory step (:func:`_allocate_into`) to the same claim rows, in the
same order, so they write the same ledger.

:func:`reverse_payment` undoes a booked payment exactly (a returned direct debit, a bank
reversal): a ``reversal`` ledger entry for the payment and for each of its allocations
(``reverses`` = the entry undone), the parts and the credit restored, and the
instalments the payment counted towards restored from what the payment's event recorded.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, update

from respite.adapters.db.bulk import bulk_insert, bulk_update
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
from respite.domain.distribution import split_cents
from respite.domain.money import Currency, Money
from respite.errors import ConflictError, NotAllowed, ValidationError
from respite.rules.loader import load_pack
from respite.services.store import chunks, event_row, ledger_row, post_accrued_interest

__all__ = [
    "Booked",
    "NewPayment",
    "book_payment",
    "book_payments",
    "book_scheduled_payments",
    "reverse_payment",
]

BUCKET_COLUMN = {
    Bucket.PRINCIPAL: "open_principal_cents",
    Bucket.INTEREST: "open_interest_cents",
    Bucket.COSTS: "open_costs_cents",
}


@dataclass(frozen=True, slots=True)
class NewPayment:
    """One payment to book: for a case, on a date, identified by ``source_ref``."""

    case_id: int
    amount_cents: int
    on: date
    source_ref: str


@dataclass(frozen=True, slots=True)
class Booked:
    """What one payment did: cents per part, the credit left over, and why (6:43/6:44)."""

    source_ref: str
    case_id: int
    amount_cents: int
    costs_cents: int
    interest_cents: int
    principal_cents: int
    credit_cents: int  # more than the case owed: credit on the last claim (refund queue)
    reasons: tuple[str, ...]


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
    order = tuple(load_pack(jurisdiction).allocation.value_at(on))
    item = NewPayment(case_id, amount_cents, on, source_ref)
    booked = _allocate_into(claims, item, order)
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
    instalments = _load_instalments(conn, [case_id])
    applied, changed = _apply_to_instalments(instalments.get(case_id, []), amount_cents)
    _write_instalments(conn, changed)
    conn.execute(insert(Event), [_payment_event(item, booked, applied, now)])
    return True


def book_payments(
    conn: Connection, payments: Sequence[NewPayment], *, now: datetime
) -> list[Booked]:
    """Book many payments in one set-based pass, in order; equal in effect to calling
    :func:`book_payment` for each. Payments whose ``source_ref`` is booked already are
    skipped (not in the result)."""
    if not payments:
        return []
    for p in payments:
        if p.amount_cents <= 0:
            raise ValidationError(
                f"a payment must be more than zero, got {p.amount_cents} cents ({p.source_ref})"
            )
    refs = [p.source_ref for p in payments]
    existing: dict[str, tuple[int, bool]] = {}
    for chunk in chunks(refs, 2000):
        for r in conn.execute(
            select(Payment.source_ref, Payment.id, Payment.booked).where(
                Payment.source_ref.in_(chunk)
            )
        ):
            existing[r.source_ref] = (int(r.id), bool(r.booked))
    todo: list[NewPayment] = []
    seen: set[str] = set()
    for p in payments:
        if p.source_ref in seen or existing.get(p.source_ref, (0, False))[1]:
            continue
        seen.add(p.source_ref)
        todo.append(p)
    if not todo:
        return []
    case_ids = sorted({p.case_id for p in todo})
    claims_by_case: dict[int, list[dict[str, Any]]] = {}
    jurisdiction: dict[int, str] = {}
    for chunk in chunks(case_ids, 2000):
        rows = conn.execute(
            select(Claim, Creditor.jurisdiction)
            .join(Case, Case.id == Claim.case_id)
            .join(Creditor, Creditor.id == Case.creditor_id)
            .where(Claim.case_id.in_(chunk))
            .order_by(Claim.id)
        )
        for cr in rows:
            row = dict(cr._mapping)
            j = row.pop("jurisdiction")
            claims_by_case.setdefault(int(row["case_id"]), []).append(row)
            jurisdiction[int(row["case_id"])] = str(j)
    instalments = _load_instalments(conn, case_ids)
    orders: dict[tuple[str, date], tuple[Bucket, ...]] = {}
    results: list[Booked] = []
    new_payments: list[dict[str, Any]] = []
    mark_booked: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    changed: dict[int, dict[str, Any]] = {}
    for p in todo:
        claims = claims_by_case.get(p.case_id)
        if not claims:
            raise ConflictError(f"case {p.case_id} has no claims to pay")
        key = (jurisdiction[p.case_id], p.on)
        if key not in orders:
            orders[key] = tuple(load_pack(key[0]).allocation.value_at(p.on))
        booked = _allocate_into(claims, p, orders[key])
        results.append(booked)
        if p.source_ref in existing:
            mark_booked.append({"b_id": existing[p.source_ref][0]})
        else:
            new_payments.append(
                {
                    "case_id": p.case_id,
                    "received_on": p.on,
                    "amount_cents": p.amount_cents,
                    "source_ref": p.source_ref,
                    "booked": True,
                }
            )
        applied, touched = _apply_to_instalments(instalments.get(p.case_id, []), p.amount_cents)
        for row in touched:
            changed[row["id"]] = row
        events.append(_payment_event(p, booked, applied, now))
    touched_claims = [c for cid in case_ids for c in claims_by_case.get(cid, [])]
    _write(conn, touched_claims)
    if new_payments:
        bulk_insert(conn, Payment, new_payments)
    if mark_booked:
        conn.execute(
            update(Payment).where(Payment.id == bindparam("b_id")).values(booked=True),
            mark_booked,
        )
    _write_instalments(conn, list(changed.values()))
    bulk_insert(conn, Event, events)
    return results


def _allocate_into(
    claims: list[dict[str, Any]], p: NewPayment, order: tuple[Bucket, ...]
) -> Booked:
    """Post accrued interest, then allocate one payment over a case's claim rows (in place).

    Appends the ledger rows to each claim's ``_ledger`` list; ``_write`` stores them.
    """
    for c in claims:  # post accrued interest first: it is due before the principal
        row = post_accrued_interest(c, p.on, "interest up to the payment")
        ledger = c.setdefault("_ledger", [])
        if row is not None:
            ledger.append(row)
    if len(claims) == 1:
        return _allocate_single(claims[0], p, order)
    return _allocate_multi(claims, p, order)


def _allocate_domain(
    claims: list[dict[str, Any]], p: NewPayment, order: tuple[Bucket, ...]
) -> Booked:
    """Several claims through the domain's :func:`allocate_across_claims` (the reference)."""
    currency = Currency.of(claims[0]["currency"])
    balances = [
        ClaimBalance(
            str(c["id"]),
            c["due_date"],
            {b: Money.from_minor_units(c[col], currency) for b, col in BUCKET_COLUMN.items()},
        )
        for c in claims
    ]
    payment = Money.from_minor_units(p.amount_cents, currency)
    result = allocate_across_claims(payment, balances, order, on=p.on)
    by_id = {str(c["id"]): c for c in claims}
    totals = dict.fromkeys(Bucket, 0)
    for share in result.shares:
        c = by_id[share.claim_id]
        parts = [(b, m.minor_units) for b, m in share.allocation.parts]
        for b, cents in parts:
            totals[b] += cents
        _pay(c, share.allocation.allocated.minor_units, parts, p.on, p.source_ref)
    credit = result.unallocated.minor_units if result.unallocated.is_positive else 0
    if credit:
        _pay(claims[-1], credit, [], p.on, p.source_ref, credit=True)
    return _booked(p, totals, credit, tuple(result.reasons))


def _allocate_multi(
    claims: list[dict[str, Any]], p: NewPayment, order: tuple[Bucket, ...]
) -> Booked:
    """Several claims: :func:`allocate_across_claims` in integer cents (same result, faster).

    6:43: due claims before claims not yet due, then the oldest; equally old claims share
    pro rata to what is open on them (largest remainder, earliest first); within a claim
    6:44 fills the parts in ``order``. The payment rows read as the domain's; a property
    test holds the two equal (``tests/unit/test_payment_allocation.py``).
    """
    left = {c["id"]: {b: c[BUCKET_COLUMN[b]] for b in order} for c in claims}
    given = {c["id"]: dict.fromkeys(order, 0) for c in claims}
    remaining = p.amount_cents
    reasons: list[str] = []

    def rank(c: dict[str, Any]) -> tuple[bool, date]:
        return (c["due_date"] > p.on, c["due_date"])

    pending = sorted(claims, key=rank)
    while remaining > 0 and pending:
        head = rank(pending[0])
        group = [c for c in pending if rank(c) == head]
        pending = pending[len(group) :]
        open_amounts = [sum(left[c["id"]].values()) for c in group]
        if sum(open_amounts) == 0:
            continue
        if remaining >= sum(open_amounts):
            portions = open_amounts
        else:
            portions = split_cents(remaining, open_amounts)
        status = "not yet due" if head[0] else "due"
        how = (
            "pro rata among equally onerous and old claims"
            if len(group) > 1
            else "most onerous, then oldest"
        )
        for claim, portion in zip(group, portions, strict=True):
            if portion <= 0:
                continue
            cid = claim["id"]
            rest = portion
            for bucket in order:
                take = min(rest, left[cid][bucket])
                left[cid][bucket] -= take
                given[cid][bucket] += take
                rest -= take
            remaining -= portion - rest
            reasons.append(f"{cid}: {status}, {how} (6:43 lid 2)")
    totals = dict.fromkeys(Bucket, 0)
    for c in claims:
        parts = [(b, given[c["id"]][b]) for b in order]
        if any(cents > 0 for _, cents in parts):
            for b, cents in parts:
                totals[b] += cents
            _pay(c, sum(cents for _, cents in parts), parts, p.on, p.source_ref)
    if remaining > 0:
        _pay(claims[-1], remaining, [], p.on, p.source_ref, credit=True)
    return _booked(p, totals, max(remaining, 0), tuple(reasons))


def _booked(
    p: NewPayment, totals: Mapping[Bucket, int], credit: int, reasons: tuple[str, ...]
) -> Booked:
    return Booked(
        p.source_ref,
        p.case_id,
        p.amount_cents,
        totals.get(Bucket.COSTS, 0),
        totals.get(Bucket.INTEREST, 0),
        totals.get(Bucket.PRINCIPAL, 0),
        credit,
        reasons,
    )


def _allocate_single(claim: dict[str, Any], p: NewPayment, order: tuple[Bucket, ...]) -> Booked:
    """One claim: :func:`allocate_across_claims` in integer cents (same result, faster).

    With a single claim 6:43 has nothing to choose: the payment meets the claim up to what
    is open, in the 6:44 order; the rest is credit. The reason reads as the domain's.
    """
    left = p.amount_cents
    parts: list[tuple[Bucket, int]] = []
    for bucket in order:
        take = min(left, claim[BUCKET_COLUMN[bucket]])
        parts.append((bucket, take))
        left -= take
    allocated = p.amount_cents - left
    reasons: tuple[str, ...] = ()
    if allocated:
        status = "not yet due" if claim["due_date"] > p.on else "due"
        reasons = (f"{claim['id']}: {status}, most onerous, then oldest (6:43 lid 2)",)
        _pay(claim, allocated, parts, p.on, p.source_ref)
    if left:
        _pay(claim, left, [], p.on, p.source_ref, credit=True)
    totals = dict(parts)
    return _booked(p, totals, left, reasons)


def _payment_event(
    p: NewPayment, booked: Booked, applied: list[list[Any]], now: datetime
) -> dict[str, Any]:
    after: dict[str, object] = {
        "amount_cents": p.amount_cents,
        "allocation": "; ".join(booked.reasons),
        "costs_cents": booked.costs_cents,
        "interest_cents": booked.interest_cents,
        "principal_cents": booked.principal_cents,
        "credit_cents": booked.credit_cents,
        # [instalment id, cents counted, status before]: what a reversal restores
        "instalments": applied,
    }
    return event_row(
        p.case_id, p.on, now, "payments", "payment_received", f"payment {p.source_ref}", after
    )


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
    entries = [e for c in claims for e in c.pop("_ledger", [])]
    for chunk in chunks(entries, 5000):
        bulk_insert(conn, LedgerEntry, chunk)
    bulk_update(conn, Claim, "id", [{"id": c["id"], **{k: c[k] for k in STATE}} for c in claims])


def _load_instalments(conn: Connection, case_ids: Sequence[int]) -> dict[int, list[dict[str, Any]]]:
    out: dict[int, list[dict[str, Any]]] = {}
    for chunk in chunks(list(case_ids), 2000):
        rows = conn.execute(
            select(
                Instalment.id,
                Instalment.case_id,
                Instalment.amount_cents,
                Instalment.paid_cents,
                Instalment.status,
            )
            .where(Instalment.case_id.in_(chunk), Instalment.status.in_(("open", "missed")))
            .order_by(Instalment.due_date, Instalment.id)
        )
        for r in rows:
            out.setdefault(int(r.case_id), []).append(dict(r._mapping))
    return out


def _apply_to_instalments(
    rows: list[dict[str, Any]], amount_cents: int
) -> tuple[list[list[Any]], list[dict[str, Any]]]:
    """Count a payment towards the case's instalments, oldest first (in place).

    A late payment still counts. Returns ``[id, cents, status before]`` per instalment
    touched (recorded in the payment's event) and the rows to write.
    """
    left = amount_cents
    applied: list[list[Any]] = []
    changed: list[dict[str, Any]] = []
    for r in rows:
        if left <= 0:
            break
        if r["status"] == "paid":
            continue
        take = min(left, r["amount_cents"] - r["paid_cents"])
        if take <= 0:
            continue
        left -= take
        applied.append([r["id"], take, r["status"]])
        r["paid_cents"] += take
        if r["paid_cents"] >= r["amount_cents"]:
            r["status"] = "paid"
        changed.append(r)
    return applied, changed


def _write_instalments(conn: Connection, rows: list[dict[str, Any]]) -> None:
    if rows:
        conn.execute(
            update(Instalment)
            .where(Instalment.id == bindparam("b_id"))
            .values(paid_cents=bindparam("paid_cents"), status=bindparam("status")),
            [{"b_id": r["id"], "paid_cents": r["paid_cents"], "status": r["status"]} for r in rows],
        )


def reverse_payment(
    conn: Connection, source_ref: str, *, on: date, reason: str, now: datetime
) -> bool:
    """Undo a booked payment exactly; False when it was reversed before.

    Appends a ``reversal`` entry for each live allocation of the payment and for the
    payment itself, restores the parts and the credit, and takes the payment back from
    the instalments it counted towards (status as before). Refused (:class:`NotAllowed`)
    when the case is closed: a closed case is final in the lifecycle, so an agent decides
    (the bank import puts such an entry in review). Refused (:class:`ConflictError`) when
    the payment's credit was used or refunded since.
    """
    pay = conn.execute(
        select(Payment.id, Payment.case_id, Payment.amount_cents, Payment.booked).where(
            Payment.source_ref == source_ref
        )
    ).first()
    if pay is None or not pay.booked:
        raise ConflictError(f"no booked payment {source_ref!r} to reverse")
    case_id = int(pay.case_id)
    case = conn.execute(select(Case.reference, Case.closed).where(Case.id == case_id)).one()
    claims = [
        dict(r._mapping)
        for r in conn.execute(select(Claim).where(Claim.case_id == case_id).order_by(Claim.id))
    ]
    claim_ids = [c["id"] for c in claims]
    memo = f"payment {source_ref}"[:200]
    entries = conn.execute(
        select(
            LedgerEntry.claim_id,
            LedgerEntry.seq,
            LedgerEntry.kind,
            LedgerEntry.bucket,
            LedgerEntry.amount_cents,
            LedgerEntry.payment_seq,
            LedgerEntry.reverses,
            LedgerEntry.memo,
        ).where(LedgerEntry.claim_id.in_(claim_ids))
    ).all()
    reversed_ = {(e.claim_id, e.reverses) for e in entries if e.kind == "reversal"}
    payment_entries = [e for e in entries if e.kind == "payment" and e.memo == memo]
    if not payment_entries:
        raise ConflictError(f"payment {source_ref!r} has no ledger entries on case {case_id}")
    if all((e.claim_id, e.seq) in reversed_ for e in payment_entries):
        return False
    if case.closed:
        raise NotAllowed(
            f"case {case.reference} is closed; reversing payment {source_ref} would reopen "
            "it, which the lifecycle does not do automatically: an agent must decide"
        )
    by_id = {c["id"]: c for c in claims}
    before = {k: sum(c[k] for c in claims) for k in STATE[2:6]}
    undo: list[tuple[dict[str, Any], Any]] = []
    for pe in payment_entries:
        if (pe.claim_id, pe.seq) in reversed_:
            continue
        allocations = [
            e
            for e in entries
            if e.claim_id == pe.claim_id
            and e.kind == "allocation"
            and e.payment_seq == pe.seq
            and (e.claim_id, e.seq) not in reversed_
        ]
        claim = by_id[pe.claim_id]
        credit = pe.amount_cents - sum(a.amount_cents for a in allocations)
        if credit > claim["credit_cents"]:
            raise ConflictError(
                f"payment {source_ref} left {credit} cents of credit on claim {pe.claim_id} "
                f"but only {claim['credit_cents']} is left (refunded or used since)"
            )
        claim["credit_cents"] -= credit
        for a in allocations:
            claim[BUCKET_COLUMN[Bucket(a.bucket)]] += a.amount_cents
            undo.append((claim, a))
        undo.append((claim, pe))
    rows: list[dict[str, Any]] = []
    for claim, target in undo:
        claim["last_seq"] += 1
        row = ledger_row(
            claim,
            "reversal",
            target.bucket,
            target.amount_cents,
            on,
            f"reversal of payment {source_ref}: {reason}",
        )
        row["reverses"] = target.seq
        rows.append(row)
    conn.execute(insert(LedgerEntry), rows)
    conn.execute(
        update(Claim).where(Claim.id == bindparam("b_id")).values({k: bindparam(k) for k in STATE}),
        [{"b_id": c["id"], **{k: c[k] for k in STATE}} for c in claims],
    )
    _restore_instalments(conn, case_id, source_ref)
    after = {k: sum(c[k] for c in claims) for k in STATE[2:6]}
    conn.execute(
        insert(Event).values(
            case_id=case_id,
            business_date=on,
            recorded_at=now,
            actor="payments",
            kind="payment_reversed",
            reason=f"reversal of payment {source_ref}: {reason}",
            before=before,
            after={**after, "amount_cents": int(pay.amount_cents)},
        )
    )
    return True


def _restore_instalments(conn: Connection, case_id: int, source_ref: str) -> None:
    event = conn.execute(
        select(Event.after)
        .where(
            Event.case_id == case_id,
            Event.kind == "payment_received",
            Event.reason == f"payment {source_ref}",
        )
        .order_by(Event.id.desc())
        .limit(1)
    ).scalar()
    applied = (event or {}).get("instalments") or []
    if not isinstance(applied, list):
        return
    for inst_id, cents, status in applied:
        row = conn.execute(
            select(Instalment.paid_cents).where(Instalment.id == int(inst_id))
        ).scalar_one()
        conn.execute(
            update(Instalment)
            .where(Instalment.id == int(inst_id))
            .values(paid_cents=int(row) - int(cents), status=str(status))
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
