"""Referral to debt counselling: assess, refer (and hold collection), close, statement.

A referral is made for a *person* (every debtor record of theirs, see
:mod:`respite.services.people`), not for one case: while a debt counsellor works on the
person's debts, every open case with every creditor is put on a ``debt_counselling`` hold
(interest and every strategy step stop, :mod:`respite.domain.lifecycle`), each with its
own event in the case timeline. When the debt counsellor takes the person on, the
acceptance is recorded (:func:`accept_referral`: a ``referral_accepted`` event on each of
the person's open cases; the holds stay while counselling runs). Closing the referral
lifts those holds again.

Every function works inside the caller's transaction (``with engine.begin() as conn``),
so a referral and all its holds are stored together or not at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, bindparam, func, insert, select, update

from respite.adapters.db.models import (
    BudgetStatement,
    Case,
    Claim,
    Creditor,
    Debtor,
    Event,
    Hold,
    LedgerEntry,
    Referral,
)
from respite.domain.lifecycle import HoldKind
from respite.domain.money import Currency, Money
from respite.domain.referral import (
    Contact,
    Reason,
    ReasonCode,
    find_contact,
    referral_reasons,
)
from respite.errors import (
    ConflictError,
    InputError,
    NotAllowed,
    RuleCoverageError,
    ValidationError,
)
from respite.rules.debt_help import load_debt_help, repayment_term_months
from respite.services.cases import lift_hold_in, place_hold_in
from respite.services.people import debtor_ids_of_person, open_case_ids_of_person, person_of
from respite.services.store import event_row

__all__ = [
    "ClaimStatement",
    "CreditorBlock",
    "StatementDebtor",
    "StatementLine",
    "StatementTotals",
    "accept_referral",
    "assess",
    "claim_statement",
    "close_referral",
    "contact_for",
    "debtor_of_case",
    "flagged_vulnerable",
    "latest_capacity_cents",
    "ledger_flows",
    "list_referrals",
    "open_referral_of",
    "refer",
    "refer_case",
]

HOLD = HoldKind.DEBT_COUNSELLING


# -- assess -------------------------------------------------------------------------------


def assess(
    conn: Connection,
    debtor_id: int,
    *,
    on: date,
    capacity_cents: int | None,
    max_months: int,
    vulnerable: bool,
    min_creditors: int = 3,
) -> tuple[Reason, ...]:
    """The reasons to refer the person behind ``debtor_id``, from their open cases.

    The total debt is what is still open (principal, interest and costs) on every open
    case of the person with every creditor; the creditors are counted once each.
    """
    person = person_of(conn, debtor_id)
    case_ids = open_case_ids_of_person(conn, person)
    currency, open_cents = _open_total(conn, case_ids)
    creditors = 0
    if case_ids:
        creditors = int(
            conn.execute(
                select(func.count(func.distinct(Case.creditor_id))).where(Case.id.in_(case_ids))
            ).scalar_one()
        )
    capacity = None if capacity_cents is None else Money.from_minor_units(capacity_cents, currency)
    return referral_reasons(
        total_debt=Money.from_minor_units(open_cents, currency),
        capacity_per_month=capacity,
        max_months=max_months,
        creditors=creditors,
        vulnerable=vulnerable,
        min_creditors=min_creditors,
    )


def latest_capacity_cents(conn: Connection, debtor_id: int, *, on: date) -> int | None:
    """The repayment capacity of the person's latest budget statement up to ``on``."""
    ids = debtor_ids_of_person(conn, person_of(conn, debtor_id))
    row = conn.execute(
        select(BudgetStatement.capacity_cents)
        .where(BudgetStatement.debtor_id.in_(ids), BudgetStatement.submitted_on <= on)
        .order_by(BudgetStatement.submitted_on.desc(), BudgetStatement.id.desc())
        .limit(1)
    ).first()
    return None if row is None else int(row.capacity_cents)


def flagged_vulnerable(conn: Connection, debtor_id: int, *, on: date) -> bool:
    """A vulnerability-review hold is active on one of the person's cases on ``on``."""
    ids = debtor_ids_of_person(conn, person_of(conn, debtor_id))
    found = conn.execute(
        select(Hold.id)
        .join(Case, Case.id == Hold.case_id)
        .where(
            Case.debtor_id.in_(ids),
            Hold.kind == HoldKind.VULNERABILITY_REVIEW.value,
            Hold.start <= on,
            (Hold.until.is_(None)) | (Hold.until >= on),
        )
        .limit(1)
    ).first()
    return found is not None


def _open_total(conn: Connection, case_ids: Sequence[int]) -> tuple[Currency, int]:
    if not case_ids:
        return Currency.EUR, 0
    rows = conn.execute(
        select(
            Claim.currency,
            func.sum(
                Claim.open_principal_cents + Claim.open_interest_cents + Claim.open_costs_cents
            ).label("open"),
        )
        .where(Claim.case_id.in_(case_ids))
        .group_by(Claim.currency)
    ).all()
    if len(rows) > 1:
        found = ", ".join(sorted(r.currency for r in rows))
        raise ValidationError(f"the person's open cases are in several currencies ({found})")
    if not rows:
        return Currency.EUR, 0
    return Currency.of(rows[0].currency), int(rows[0].open or 0)


# -- refer and close ----------------------------------------------------------------------


def debtor_of_case(conn: Connection, reference: str) -> int:
    """The debtor record of the case with ``reference``; a clear error when unknown."""
    found = conn.execute(select(Case.debtor_id).where(Case.reference == reference)).scalar()
    if found is None:
        raise InputError(f"no case with reference {reference!r}", field="case")
    return int(found)


def refer_case(
    conn: Connection,
    reference: str,
    *,
    on: date,
    actor: str,
    at: datetime,
    capacity_cents: int | None = None,
    max_months: int | None = None,
    vulnerable: bool | None = None,
    agent_reason: str | None = None,
    min_creditors: int = 3,
) -> dict[str, Any]:
    """Assess the person behind case ``reference`` and refer them if there is a reason.

    Missing inputs come from the records: the capacity from the person's latest budget
    statement, the term from the country's debt-help rules (NL: 18 months), vulnerability
    from an active vulnerability-review hold. An agent may refer on their own judgement
    (``agent_reason``); without it and without a reason from the assessment the referral
    is refused (``NotAllowed``) with the figures that were checked.
    """
    debtor_id = debtor_of_case(conn, reference)
    existing = open_referral_of(conn, debtor_id)
    if existing is not None:
        return {**existing, "created": False, "cases_on_hold": [], "already_on_hold": []}
    if capacity_cents is None:
        capacity_cents = latest_capacity_cents(conn, debtor_id, on=on)
    if max_months is None:
        country = conn.execute(
            select(Debtor.country).where(Debtor.id == person_of(conn, debtor_id))
        ).scalar_one()
        max_months = repayment_term_months(country, on)
    if vulnerable is None:
        vulnerable = flagged_vulnerable(conn, debtor_id, on=on)
    reasons = list(
        assess(
            conn,
            debtor_id,
            on=on,
            capacity_cents=capacity_cents,
            max_months=max_months,
            vulnerable=vulnerable,
            min_creditors=min_creditors,
        )
    )
    if agent_reason and agent_reason.strip():
        reasons.append(Reason(ReasonCode.AGENT, agent_reason.strip()))
    if not reasons:
        case_ids = open_case_ids_of_person(conn, person_of(conn, debtor_id))
        currency, open_cents = _open_total(conn, case_ids)
        capacity = (
            "unknown"
            if capacity_cents is None
            else str(Money.from_minor_units(capacity_cents, currency))
        )
        raise NotAllowed(
            f"no reason to refer the debtor of {reference}: the open debt of {currency.code} "
            f"{Money.from_minor_units(open_cents, currency)} is repayable in {max_months} "
            f"months at {currency.code} {capacity} a month, fewer than {min_creditors} "
            "creditors, no vulnerability flagged; give a reason to refer on an agent's "
            "judgement"
        )
    return refer(conn, debtor_id, on=on, reasons=reasons, actor=actor, at=at)


def open_referral_of(conn: Connection, debtor_id: int) -> dict[str, Any] | None:
    """The person's open referral, if there is one."""
    ids = debtor_ids_of_person(conn, person_of(conn, debtor_id))
    row = conn.execute(
        select(Referral.__table__)
        .where(Referral.debtor_id.in_(ids), Referral.status == "open")
        .order_by(Referral.id)
        .limit(1)
    ).first()
    return None if row is None else _referral_dict(row)


def refer(
    conn: Connection,
    debtor_id: int,
    *,
    on: date,
    reasons: Sequence[Reason],
    actor: str,
    at: datetime,
) -> dict[str, Any]:
    """Refer the person behind ``debtor_id`` to debt counselling and hold collection.

    Idempotent: if the person already has an open referral, that one is returned
    (``"created": False``) and nothing changes. Otherwise the referral is stored with the
    debt-help contact for the person's address, and every open case of the person that is
    not already in a debt-counselling hold gets one (one event per case).
    """
    if not actor.strip():
        raise ValidationError("say who refers: the actor must not be blank", field="actor")
    existing = open_referral_of(conn, debtor_id)
    if existing is not None:
        return {**existing, "created": False, "cases_on_hold": [], "already_on_hold": []}
    if not reasons:
        raise ValidationError("a referral needs at least one reason", field="reason")
    person = person_of(conn, debtor_id)
    contact = contact_for(conn, person)
    result = conn.execute(
        insert(Referral).values(
            debtor_id=person,
            created_on=on,
            reasons=[r.as_dict() for r in reasons],
            municipality=(contact.municipality or "unknown")[:100],
            contact=contact.as_dict(),
            status="open",
            closed_on=None,
            created_by=actor,
        )
    )
    referral_id = int(result.inserted_primary_key[0])  # type: ignore[index]
    why = f"referred to debt counselling (referral {referral_id}): " + "; ".join(
        r.code for r in reasons
    )
    placed, already = [], []
    for reference in _references(conn, open_case_ids_of_person(conn, person)):
        if _hold_active(conn, reference, on):
            already.append(reference)
            continue
        place_hold_in(conn, reference, HOLD, on=on, actor=actor, reason=why, at=at)
        placed.append(reference)
    row = conn.execute(select(Referral.__table__).where(Referral.id == referral_id)).one()
    result_dict = _referral_dict(row)
    result_dict.update(created=True, cases_on_hold=placed, already_on_hold=already)
    return result_dict


def close_referral(
    conn: Connection,
    referral_id: int,
    *,
    on: date,
    actor: str,
    reason: str,
    at: datetime,
) -> dict[str, Any]:
    """Close a referral and lift the debt-counselling holds of the person's cases.

    Raises ``InputError`` for an unknown referral and ``ConflictError`` for one already
    closed; a close date before the referral was made is a ``ValidationError``.
    """
    row = conn.execute(select(Referral.__table__).where(Referral.id == referral_id)).first()
    if row is None:
        raise InputError(f"no referral with id {referral_id}", field="referral")
    referral = row
    if referral.status != "open":
        raise ConflictError(
            f"referral {referral_id} is already closed (on {referral.closed_on.isoformat()})"
            if referral.closed_on
            else f"referral {referral_id} is already closed"
        )
    if on < referral.created_on:
        raise ValidationError(
            f"{on.isoformat()} is before the referral was made on "
            f"{referral.created_on.isoformat()}",
            field="on",
        )
    if not reason.strip():
        raise ValidationError("say why: the reason must not be blank", field="reason")
    ids = debtor_ids_of_person(conn, int(referral.debtor_id))
    case_ids = [
        int(i) for i in conn.execute(select(Case.id).where(Case.debtor_id.in_(ids))).scalars()
    ]
    why = f"debt counselling ended (referral {referral_id}): {reason}"
    lifted = []
    for reference in _references(conn, case_ids):
        if _hold_active(conn, reference, on):
            lift_hold_in(conn, reference, HOLD, on=on, actor=actor, reason=why, at=at)
            lifted.append(reference)
    conn.execute(
        update(Referral).where(Referral.id == referral_id).values(status="closed", closed_on=on)
    )
    row = conn.execute(select(Referral.__table__).where(Referral.id == referral_id)).one()
    return {**_referral_dict(row), "holds_lifted": lifted}


def accept_referral(
    conn: Connection,
    referral_id: int,
    *,
    on: date,
    actor: str,
    at: datetime,
    reason: str = "",
) -> dict[str, Any]:
    """Record that the debt counsellor took the person on.

    One ``referral_accepted`` event (``after.referral``) on each open case of the person,
    dated ``on``; the referral stays open and its holds stay while counselling runs.
    Raises ``InputError`` for an unknown referral, ``ConflictError`` for a closed referral
    or one accepted before, and ``ValidationError`` for a date before the referral.
    """
    row = conn.execute(select(Referral.__table__).where(Referral.id == referral_id)).first()
    if row is None:
        raise InputError(f"no referral with id {referral_id}", field="referral")
    if row.status != "open":
        raise ConflictError(f"referral {referral_id} is closed; a closed referral is not accepted")
    if on < row.created_on:
        raise ValidationError(
            f"{on.isoformat()} is before the referral was made on {row.created_on.isoformat()}",
            field="on",
        )
    ids = debtor_ids_of_person(conn, int(row.debtor_id))
    every_case = [
        int(i) for i in conn.execute(select(Case.id).where(Case.debtor_id.in_(ids))).scalars()
    ]
    earlier = conn.execute(
        select(Event.business_date, Event.after).where(
            Event.kind == "referral_accepted", Event.case_id.in_(every_case)
        )
    ).all()
    for day, after in earlier:
        if (after or {}).get("referral") == referral_id:
            raise ConflictError(f"referral {referral_id} was already accepted on {day.isoformat()}")
    case_ids = open_case_ids_of_person(conn, int(row.debtor_id))
    why = f"accepted by debt counselling (referral {referral_id})" + (
        f": {reason.strip()}" if reason.strip() else ""
    )
    if case_ids:
        conn.execute(
            insert(Event),
            [
                event_row(c, on, at, actor, "referral_accepted", why, {"referral": referral_id})
                for c in case_ids
            ],
        )
    return {
        **_referral_dict(row),
        "accepted_on": on.isoformat(),
        "cases": _references(conn, case_ids),
    }


def list_referrals(conn: Connection, *, status: str | None = None) -> list[dict[str, Any]]:
    """Referrals, newest first, with the person's name and number of open cases."""
    query = select(Referral.__table__, Debtor.name).join(Debtor, Debtor.id == Referral.debtor_id)
    if status is not None:
        query = query.where(Referral.status == status)
    out = []
    for row in conn.execute(query.order_by(Referral.id.desc())):
        item = _referral_dict(row)
        item["name"] = row.name
        out.append(item)
    return out


def contact_for(conn: Connection, person: int) -> Contact:
    ids = debtor_ids_of_person(conn, person)
    rows = list(
        conn.execute(
            select(Debtor.id, Debtor.postcode, Debtor.city, Debtor.country).where(
                Debtor.id.in_(ids)
            )
        ).all()
    )
    # The person's own record first, then any linked record that has an address.
    rows.sort(key=lambda r: (r.id != person, not r.postcode, r.id))
    first = rows[0]
    try:
        table = load_debt_help(first.country)
    except RuleCoverageError:
        return Contact(
            municipality="",
            organisation="",
            website=None,
            phone=None,
            note=f"No debt-help table for country {first.country}: look up local debt "
            "counselling for the debtor's address.",
            source="none",
            fallback=True,
        )
    return find_contact(table, first.postcode, first.country, city=first.city)


def _references(conn: Connection, case_ids: Sequence[int]) -> list[str]:
    if not case_ids:
        return []
    return list(
        conn.execute(select(Case.reference).where(Case.id.in_(case_ids)).order_by(Case.id))
        .scalars()
        .all()
    )


def _hold_active(conn: Connection, reference: str, on: date) -> bool:
    found = conn.execute(
        select(Hold.id)
        .join(Case, Case.id == Hold.case_id)
        .where(
            Case.reference == reference,
            Hold.kind == HOLD.value,
            Hold.start <= on,
            (Hold.until.is_(None)) | (Hold.until >= on),
        )
        .limit(1)
    ).first()
    return found is not None


def _referral_dict(referral: Any) -> dict[str, Any]:
    return {
        "referral_id": int(referral.id),
        "person": int(referral.debtor_id),
        "created_on": referral.created_on.isoformat(),
        "status": referral.status,
        "closed_on": referral.closed_on.isoformat() if referral.closed_on else None,
        "municipality": referral.municipality,
        "contact": referral.contact,
        "reasons": referral.reasons,
        "created_by": referral.created_by,
    }


# -- claim statement ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StatementDebtor:
    person: int
    name: str
    street: str | None
    postcode: str | None
    city: str | None
    country: str


@dataclass(frozen=True, slots=True)
class StatementLine:
    """One claim: what was charged, paid and written off, and what is still open.

    ``principal + interest + costs − paid − written_off = open`` (from the claim's ledger
    and its balances, which the ledger keeps in step).
    """

    creditor: str
    case_reference: str
    invoice_reference: str
    description: str
    issue_date: date
    due_date: date
    principal: Money
    interest: Money
    costs: Money
    paid: Money
    written_off: Money
    open: Money


@dataclass(frozen=True, slots=True)
class StatementTotals:
    principal: Money
    interest: Money
    costs: Money
    paid: Money
    written_off: Money
    open: Money


@dataclass(frozen=True, slots=True)
class CreditorBlock:
    creditor: str
    lines: tuple[StatementLine, ...]
    totals: StatementTotals


@dataclass(frozen=True, slots=True)
class ClaimStatement:
    """Every open claim of one person, per creditor, for a debt counsellor."""

    on: date
    debtor: StatementDebtor
    currency: Currency
    creditors: tuple[CreditorBlock, ...]
    totals: StatementTotals
    contact: Contact | None
    referral_id: int | None

    @property
    def lines(self) -> tuple[StatementLine, ...]:
        return tuple(line for block in self.creditors for line in block.lines)


def claim_statement(conn: Connection, debtor_id: int, *, on: date) -> ClaimStatement:
    """The claim statement of the person behind ``debtor_id`` on ``on`` (open cases only)."""
    person = person_of(conn, debtor_id)
    case_ids = open_case_ids_of_person(conn, person)
    currency, _ = _open_total(conn, case_ids)
    debtor_row = conn.execute(select(Debtor.__table__).where(Debtor.id == person)).one()
    debtor = StatementDebtor(
        person,
        debtor_row.name,
        debtor_row.street,
        debtor_row.postcode,
        debtor_row.city,
        debtor_row.country,
    )
    claims = (
        conn.execute(
            select(
                Claim.__table__, Case.reference.label("case_ref"), Creditor.name.label("creditor")
            )
            .join(Case, Case.id == Claim.case_id)
            .join(Creditor, Creditor.id == Claim.creditor_id)
            .where(Claim.case_id.in_(case_ids))
            .order_by(Creditor.name, Case.id, Claim.id)
        ).all()
        if case_ids
        else []
    )
    flows = ledger_flows(conn, [int(c.id) for c in claims])
    blocks: dict[str, list[StatementLine]] = {}
    for claim in claims:
        reference, creditor = claim.case_ref, claim.creditor
        f = flows.get(int(claim.id), {})

        def m(cents: int) -> Money:
            return Money.from_minor_units(cents, currency)

        blocks.setdefault(creditor, []).append(
            StatementLine(
                creditor=creditor,
                case_reference=reference,
                invoice_reference=claim.external_ref,
                description=claim.description,
                issue_date=claim.issue_date,
                due_date=claim.due_date,
                principal=m(claim.principal_cents),
                interest=m(f.get(("charge", "interest"), 0)),
                costs=m(f.get(("charge", "costs"), 0)),
                paid=m(sum(v for (k, _), v in f.items() if k == "allocation")),
                written_off=m(sum(v for (k, _), v in f.items() if k == "write_off")),
                open=m(
                    claim.open_principal_cents + claim.open_interest_cents + claim.open_costs_cents
                ),
            )
        )
    creditor_blocks = tuple(
        CreditorBlock(name, tuple(lines), _totals(lines, currency))
        for name, lines in blocks.items()
    )
    referral = open_referral_of(conn, person)
    contact = (
        Contact(**referral["contact"])
        if referral and referral["contact"]
        else contact_for(conn, person)
    )
    return ClaimStatement(
        on=on,
        debtor=debtor,
        currency=currency,
        creditors=creditor_blocks,
        totals=_totals([ln for b in creditor_blocks for ln in b.lines], currency),
        contact=contact,
        referral_id=referral["referral_id"] if referral else None,
    )


def _totals(lines: Sequence[StatementLine], currency: Currency) -> StatementTotals:
    zero = Money.zero(currency)

    def total(attr: str) -> Money:
        out = zero
        for line in lines:
            out = out + getattr(line, attr)
        return out

    return StatementTotals(
        *(total(a) for a in ("principal", "interest", "costs", "paid", "written_off", "open"))
    )


# Built once: the portal's case page reads the flows on every view.
_FLOWS = select(
    LedgerEntry.claim_id,
    LedgerEntry.seq,
    LedgerEntry.kind,
    LedgerEntry.bucket,
    LedgerEntry.amount_cents,
    LedgerEntry.payment_seq,
    LedgerEntry.reverses,
).where(LedgerEntry.claim_id.in_(bindparam("ids", expanding=True)))


def ledger_flows(
    conn: Connection, claim_ids: Sequence[int]
) -> dict[int, dict[tuple[str, str], int]]:
    """Per claim: cents charged / allocated / written off per part, reversals undone."""
    out: dict[int, dict[tuple[str, str], int]] = {}
    if not claim_ids:
        return out
    entries: dict[int, list[Any]] = {}
    for row in conn.execute(_FLOWS, {"ids": list(claim_ids)}):
        entries.setdefault(int(row.claim_id), []).append(row)
    for claim_id, rows in entries.items():
        reversed_seqs = {r.reverses for r in rows if r.kind == "reversal" and r.reverses}
        flows: dict[tuple[str, str], int] = {}
        for r in rows:
            if r.seq in reversed_seqs or r.kind not in ("charge", "allocation", "write_off"):
                continue
            # A returned payment also undoes every allocation made from it.
            if r.kind == "allocation" and r.payment_seq in reversed_seqs:
                continue
            key = (r.kind, r.bucket or "")
            flows[key] = flows.get(key, 0) + int(r.amount_cents)
        out[claim_id] = flows
    return out
