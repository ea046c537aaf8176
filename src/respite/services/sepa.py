"""SEPA Direct Debit: mandates, pre-notification, and pain.008 batches for due instalments.

A collection is due for an **open instalment whose due date is the collection date**
(exactly that date: the collection date is the instalment's due date, so a plan's schedule
is the debit schedule) when the case has an **active mandate**: one signed for the case,
or else one signed by the case's debtor for all their cases (``case_id`` NULL). The
amount is what is still open on the instalment (``amount - paid``).

Sequence type (EPC SDD Core rulebook): ``OOFF`` under a one-off mandate; under a recurring
mandate ``FRST`` while the mandate has never been collected (``first_collected_on`` NULL),
``FNAL`` for the last instalment of the plan for that case (case mandates only: a debtor
mandate may serve other cases), ``RCUR`` otherwise. After ``OOFF`` or ``FNAL`` the mandate
is ended.

Pre-notification: the debtor is told the amount and date at least ``prenotification_days``
(default 14 calendar days, the rulebook's default unless agreed otherwise) before the
collection. :func:`prenotify` queues the e-mail through the outbox (template
``sepa_prenotification``, dedupe key ``sepa-prenote:<instalment id>``); :func:`collect`
skips, with the reason, every instalment that was not pre-notified in time, for that date,
or for at least that amount.

Also skipped with a reason: closed cases, cases on a hold (a dispute, debt counselling,
breathing space … stops collection), mandates signed after the collection date, and a
second instalment under a one-off mandate. Every collected instalment becomes one
``DirectDebit`` (EndToEndId ``RSP-<case id>-<instalment id>``) in one ``DirectDebitBatch``;
the unique instalment id makes a second run for the same date collect nothing twice.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, func, insert, or_, select, update
from sqlalchemy.orm import aliased

from respite.adapters.bank.pain import DirectDebitTx, build_pain008, pain008_version
from respite.adapters.db.models import (
    Case,
    Debtor,
    DirectDebit,
    DirectDebitBatch,
    Event,
    Hold,
    Instalment,
    Mandate,
    OutboxMessage,
)
from respite.domain.money import Currency, Money
from respite.domain.references import case_payment_references
from respite.errors import ConflictError, InputError, ValidationError
from respite.services.agency import Agency, agency_from_env, clean_bic, clean_iban
from respite.services.store import event_row, outbox_row

__all__ = [
    "DEFAULT_PRENOTIFICATION_DAYS",
    "PRENOTE_TEMPLATE",
    "add_mandate",
    "collect",
    "prenotify",
    "revoke_mandate",
]

DEFAULT_PRENOTIFICATION_DAYS = 14
PRENOTE_TEMPLATE = "sepa_prenotification"
# SEPA "Latin" character set allowed in identifiers such as the mandate reference.
_MANDATE_ID = re.compile(r"^[A-Za-z0-9+?/\-:().,' ]{1,35}$")


def _prenote_key(instalment_id: int) -> str:
    return f"sepa-prenote:{instalment_id}"


def _end_to_end(case_id: int, instalment_id: int) -> str:
    return f"RSP-{case_id}-{instalment_id}"


# --- mandates --------------------------------------------------------------------------


def add_mandate(
    conn: Connection,
    case_reference: str,
    *,
    mandate_id: str,
    signed_on: date,
    iban: str,
    on: date,
    at: datetime,
    bic: str | None = None,
    holder: str | None = None,
    recurring: bool = True,
    debtor_wide: bool = False,
) -> dict[str, Any]:
    """Record a signed mandate for a case (or, ``debtor_wide``, for all the debtor's cases)."""
    mandate_id = mandate_id.strip()
    if not _MANDATE_ID.match(mandate_id):
        raise ValidationError(
            "a mandate id is 1 to 35 characters of A-Z a-z 0-9 + ? / - : ( ) . , ' and space,"
            f" got {mandate_id!r}",
            field="--mandate-id",
        )
    if signed_on > on:
        raise ValidationError(
            f"the mandate is signed on {signed_on}, after the business date {on}",
            field="--signed-on",
        )
    case = conn.execute(
        select(Case.id, Case.debtor_id, Case.closed, Debtor.name)
        .join(Debtor, Debtor.id == Case.debtor_id)
        .where(Case.reference == case_reference)
    ).first()
    if case is None:
        raise InputError(f"no case with reference {case_reference!r}", field="case")
    if case.closed:
        raise ConflictError(f"case {case_reference} is closed")
    iban = clean_iban(iban, "--iban")
    bic = clean_bic(bic, "--bic") if bic else None
    holder = (holder or case.name).strip()[:70]
    if conn.execute(select(Mandate.id).where(Mandate.mandate_id == mandate_id)).first():
        raise ConflictError(f"mandate {mandate_id!r} is already recorded")
    mandate_pk = conn.execute(
        insert(Mandate)
        .values(
            mandate_id=mandate_id,
            debtor_id=case.debtor_id,
            case_id=None if debtor_wide else case.id,
            signed_on=signed_on,
            iban=iban,
            bic=bic,
            holder=holder,
            recurring=recurring,
            status="active",
            first_collected_on=None,
        )
        .returning(Mandate.id)
    ).scalar_one()
    result = {
        "mandate": mandate_id,
        "id": int(mandate_pk),
        "case": case_reference,
        "scope": "debtor" if debtor_wide else "case",
        "signed_on": signed_on.isoformat(),
        "iban": iban,
        "bic": bic,
        "holder": holder,
        "type": "recurring" if recurring else "one-off",
        "status": "active",
    }
    conn.execute(
        insert(Event).values(
            **event_row(
                int(case.id),
                on,
                at,
                "sepa",
                "mandate_added",
                f"SEPA mandate {mandate_id} signed on {signed_on}",
                {k: v for k, v in result.items() if k != "iban"} | {"iban_end": iban[-4:]},
            )
        )
    )
    return result


def revoke_mandate(
    conn: Connection, mandate_id: str, *, on: date, at: datetime, reason: str
) -> dict[str, Any]:
    """The debtor withdrew the mandate: no further collection under it."""
    row = conn.execute(
        select(Mandate.id, Mandate.status, Mandate.case_id, Mandate.debtor_id).where(
            Mandate.mandate_id == mandate_id
        )
    ).first()
    if row is None:
        raise InputError(f"no mandate {mandate_id!r}", field="mandate")
    if row.status != "active":
        raise ConflictError(f"mandate {mandate_id!r} is {row.status}, not active")
    conn.execute(update(Mandate).where(Mandate.id == row.id).values(status="revoked"))
    case_ids = (
        [int(row.case_id)]
        if row.case_id is not None
        else [
            int(c)
            for c in conn.execute(
                select(Case.id).where(Case.debtor_id == row.debtor_id, Case.closed.is_(False))
            ).scalars()
        ]
    )
    if case_ids:
        conn.execute(
            insert(Event),
            [
                event_row(c, on, at, "sepa", "mandate_revoked", reason, {"mandate": mandate_id})
                for c in case_ids
            ],
        )
    return {"mandate": mandate_id, "status": "revoked"}


# --- what is due -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Due:
    instalment_id: int
    case_id: int
    case_reference: str
    plan_id: int | None
    due_date: date
    amount_cents: int
    closed: bool
    mandate_pk: int | None
    mandate_id: str | None
    mandate_case_id: int | None
    signed_on: date | None
    iban: str | None
    bic: str | None
    holder: str | None
    recurring: bool
    first_collected_on: date | None


def _due(conn: Connection, first: date, last: date) -> list[_Due]:
    """Open, uncollected instalments due in [first, last], each with its best mandate."""
    collected = select(DirectDebit.instalment_id).where(DirectDebit.instalment_id.is_not(None))
    rows = conn.execute(
        select(
            Instalment.id,
            Instalment.case_id,
            Instalment.plan_id,
            Instalment.due_date,
            Instalment.amount_cents,
            Instalment.paid_cents,
            Case.reference,
            Case.debtor_id,
            Case.closed,
        )
        .join(Case, Case.id == Instalment.case_id)
        .where(
            Instalment.status == "open",
            Instalment.due_date >= first,
            Instalment.due_date <= last,
            Instalment.amount_cents > Instalment.paid_cents,
            Instalment.id.not_in(collected),
        )
        .order_by(Instalment.due_date, Instalment.case_id, Instalment.id)
    ).all()
    if not rows:
        return []
    case_ids = sorted({int(r.case_id) for r in rows})
    debtor_ids = sorted({int(r.debtor_id) for r in rows})
    mandates = conn.execute(
        select(Mandate)
        .where(
            Mandate.status == "active",
            or_(
                Mandate.case_id.in_(case_ids),
                and_(Mandate.case_id.is_(None), Mandate.debtor_id.in_(debtor_ids)),
            ),
        )
        .order_by(Mandate.signed_on.desc(), Mandate.id.desc())
    ).all()
    by_case: dict[int, Any] = {}
    by_debtor: dict[int, Any] = {}
    for row in mandates:  # newest first: keep the first seen
        if row.case_id is not None:
            by_case.setdefault(int(row.case_id), row)
        else:
            by_debtor.setdefault(int(row.debtor_id), row)
    out = []
    for r in rows:
        m: Any = by_case.get(int(r.case_id)) or by_debtor.get(int(r.debtor_id))
        out.append(
            _Due(
                instalment_id=int(r.id),
                case_id=int(r.case_id),
                case_reference=r.reference,
                plan_id=r.plan_id,
                due_date=r.due_date,
                amount_cents=int(r.amount_cents) - int(r.paid_cents),
                closed=bool(r.closed),
                mandate_pk=None if m is None else int(m.id),
                mandate_id=None if m is None else m.mandate_id,
                mandate_case_id=None if m is None else m.case_id,
                signed_on=None if m is None else m.signed_on,
                iban=None if m is None else m.iban,
                bic=None if m is None else m.bic,
                holder=None if m is None else m.holder,
                recurring=True if m is None else bool(m.recurring),
                first_collected_on=None if m is None else m.first_collected_on,
            )
        )
    return out


def _held(conn: Connection, case_ids: Sequence[int], on: date) -> dict[int, str]:
    if not case_ids:
        return {}
    rows = conn.execute(
        select(Hold.case_id, Hold.kind)
        .where(
            Hold.case_id.in_(case_ids),
            Hold.start <= on,
            or_(Hold.until.is_(None), Hold.until >= on),
        )
        .order_by(Hold.id)
    ).all()
    held: dict[int, str] = {}
    for case_id, kind in rows:
        held.setdefault(int(case_id), kind)
    return held


def _euro(cents: int) -> str:
    return str(Money.from_minor_units(cents, Currency.EUR))


# --- pre-notification ------------------------------------------------------------------


def prenotify(
    conn: Connection,
    on: date,
    *,
    days: int = DEFAULT_PRENOTIFICATION_DAYS,
    horizon_days: int = 3,
    agency: Agency | None = None,
) -> dict[str, Any]:
    """Queue the pre-notification of every collection due ``days`` to ``days + horizon_days``
    days after ``on`` that has none yet.

    The horizon lets a night without a run lose nothing: the notice then goes out a little
    earlier than the minimum, never later. Instalments without an active mandate, on closed
    or held cases get no notice (they will not be collected).
    """
    if days < 1:
        raise ValidationError(f"pre-notification needs at least 1 day, got {days}", field="--days")
    if horizon_days < 0:
        raise ValidationError("the horizon cannot be negative", field="--horizon")
    agency = agency or agency_from_env()
    dues = [
        d
        for d in _due(conn, on + timedelta(days=days), on + timedelta(days=days + horizon_days))
        if d.mandate_pk is not None and not d.closed
    ]
    held = _held(conn, [d.case_id for d in dues], on)
    dues = [d for d in dues if d.case_id not in held]
    keys = [_prenote_key(d.instalment_id) for d in dues]
    known = (
        set(
            conn.execute(
                select(OutboxMessage.dedupe_key).where(OutboxMessage.dedupe_key.in_(keys))
            ).scalars()
        )
        if keys
        else set()
    )
    rows = []
    queued = []
    for d in dues:
        key = _prenote_key(d.instalment_id)
        if key in known:
            continue
        payload = {
            "case": d.case_reference,
            "instalment": d.instalment_id,
            "amount": _euro(d.amount_cents),
            "amount_cents": d.amount_cents,
            "currency": "EUR",
            "collection_date": d.due_date.isoformat(),
            "mandate_id": d.mandate_id,
            "creditor_id": agency.creditor_id,
            "creditor_name": agency.name,
            "iban_end": (d.iban or "")[-4:],
            "reference": case_payment_references(d.case_id).rf,
        }
        rows.append(outbox_row(d.case_id, on, "message", "email", PRENOTE_TEMPLATE, key, payload))
        queued.append(payload)
    if rows:
        conn.execute(insert(OutboxMessage), rows)
    return {
        "date": on.isoformat(),
        "days": days,
        "window": [
            (on + timedelta(days=days)).isoformat(),
            (on + timedelta(days=days + horizon_days)).isoformat(),
        ],
        "queued": len(queued),
        "already_notified": len(dues) - len(queued),
        "notices": queued,
    }


# --- collection ------------------------------------------------------------------------


def _last_of_plan(conn: Connection, d: _Due) -> bool:
    if d.plan_id is None:
        return False
    later = aliased(Instalment)
    n = conn.execute(
        select(func.count())
        .select_from(later)
        .where(
            later.plan_id == d.plan_id,
            later.case_id == d.case_id,
            later.due_date > d.due_date,
            later.status.not_in(("cancelled", "paid")),
        )
    ).scalar_one()
    return int(n) == 0


def _message_id(conn: Connection, collection_date: date) -> str:
    n = conn.execute(
        select(func.count())
        .select_from(DirectDebitBatch)
        .where(DirectDebitBatch.collection_date == collection_date)
    ).scalar_one()
    return f"RSPDD{collection_date:%Y%m%d}-{int(n) + 1:03d}"


def collect(
    conn: Connection,
    collection_date: date,
    *,
    version: str,
    on: date,
    at: datetime,
    prenotification_days: int = DEFAULT_PRENOTIFICATION_DAYS,
    agency: Agency | None = None,
) -> dict[str, Any]:
    """Build the pain.008 batch for ``collection_date`` and record it; idempotent.

    Returns the summary (``xml`` holds the file's bytes, ``None`` when nothing is due).
    ``on`` is the business date the file is made (must not be after the collection date).
    """
    schema = pain008_version(version)
    if collection_date < on:
        raise ValidationError(
            f"the collection date {collection_date} is before the business date {on}",
            field="--date",
        )
    agency = agency or agency_from_env()
    dues = _due(conn, collection_date, collection_date)
    held = _held(conn, [d.case_id for d in dues], collection_date)
    notes = (
        {
            str(k): (bd, p)
            for k, bd, p in conn.execute(
                select(
                    OutboxMessage.dedupe_key, OutboxMessage.business_date, OutboxMessage.payload
                ).where(OutboxMessage.dedupe_key.in_([_prenote_key(d.instalment_id) for d in dues]))
            )
        }
        if dues
        else {}
    )
    latest_note = collection_date - timedelta(days=prenotification_days)
    skipped: list[dict[str, Any]] = []
    chosen: list[tuple[_Due, str]] = []
    one_off_used: set[int] = set()

    def skip(d: _Due, reason: str) -> None:
        skipped.append({"case": d.case_reference, "instalment": d.instalment_id, "reason": reason})

    for d in dues:
        if d.mandate_pk is None:
            skip(d, "no active SEPA mandate")
            continue
        if d.closed:
            skip(d, "case is closed")
            continue
        if d.case_id in held:
            skip(d, f"case is on hold ({held[d.case_id]})")
            continue
        if d.signed_on is None or d.signed_on > collection_date:
            skip(d, f"mandate {d.mandate_id} is signed after the collection date")
            continue
        note = notes.get(_prenote_key(d.instalment_id))
        if note is None:
            skip(d, "not pre-notified")
            continue
        sent_on, payload = note
        if sent_on > latest_note:
            skip(
                d,
                f"pre-notified on {sent_on}, less than {prenotification_days} days before"
                f" {collection_date}",
            )
            continue
        if payload.get("collection_date") != collection_date.isoformat():
            skip(d, f"pre-notified for {payload.get('collection_date')}, not {collection_date}")
            continue
        if int(str(payload.get("amount_cents", 0))) < d.amount_cents:
            skip(
                d,
                f"pre-notified amount {payload.get('amount')} is less than {_euro(d.amount_cents)}",
            )
            continue
        if not d.recurring:
            if d.mandate_pk in one_off_used or d.first_collected_on is not None:
                skip(d, f"one-off mandate {d.mandate_id} is already used")
                continue
            one_off_used.add(d.mandate_pk)
            sequence = "OOFF"
        elif d.first_collected_on is None:
            sequence = "FRST"
        elif d.mandate_case_id is not None and _last_of_plan(conn, d):
            sequence = "FNAL"
        else:
            sequence = "RCUR"
        chosen.append((d, sequence))

    result: dict[str, Any] = {
        "collection_date": collection_date.isoformat(),
        "version": schema,
        "message_id": None,
        "transactions": len(chosen),
        "total": _euro(sum(d.amount_cents for d, _ in chosen)),
        "total_cents": sum(d.amount_cents for d, _ in chosen),
        "by_sequence": {},
        "sha256": None,
        "collections": [],
        "skipped": skipped,
        "xml": None,
    }
    if not chosen:
        return result
    message_id = _message_id(conn, collection_date)
    txs = [
        DirectDebitTx(
            end_to_end_id=_end_to_end(d.case_id, d.instalment_id),
            amount_cents=d.amount_cents,
            sequence=seq,
            mandate_id=d.mandate_id or "",
            mandate_signed_on=d.signed_on or collection_date,
            debtor_name=d.holder or "",
            debtor_iban=d.iban or "",
            debtor_bic=d.bic,
            remittance=(
                f"{d.case_reference} {case_payment_references(d.case_id).rf}"
                f" instalment {d.due_date.isoformat()}"
            ),
        )
        for d, seq in chosen
    ]
    xml = build_pain008(
        version=schema,
        message_id=message_id,
        created_at=at,
        creditor_name=agency.name,
        creditor_iban=agency.iban,
        creditor_bic=agency.bic,
        creditor_id=agency.creditor_id,
        collection_date=collection_date,
        transactions=txs,
    )
    digest = hashlib.sha256(xml).hexdigest()
    batch_id = conn.execute(
        insert(DirectDebitBatch)
        .values(
            message_id=message_id,
            created_on=on,
            collection_date=collection_date,
            version=schema,
            transactions=len(txs),
            total_cents=result["total_cents"],
            sha256=digest,
        )
        .returning(DirectDebitBatch.id)
    ).scalar_one()
    conn.execute(
        insert(DirectDebit),
        [
            {
                "batch_id": batch_id,
                "mandate_id": d.mandate_pk,
                "case_id": d.case_id,
                "instalment_id": d.instalment_id,
                "end_to_end_id": tx.end_to_end_id,
                "sequence": tx.sequence,
                "amount_cents": tx.amount_cents,
                "status": "sent",
                "return_reason": None,
            }
            for (d, _), tx in zip(chosen, txs, strict=True)
        ],
    )
    for pk in sorted({d.mandate_pk for d, _ in chosen if d.mandate_pk is not None}):
        seqs = {s for d, s in chosen if d.mandate_pk == pk}
        values: dict[str, Any] = {}
        if any(d.first_collected_on is None for d, _ in chosen if d.mandate_pk == pk):
            values["first_collected_on"] = collection_date
        if seqs & {"OOFF", "FNAL"}:
            values["status"] = "ended"
        if values:
            conn.execute(update(Mandate).where(Mandate.id == pk).values(**values))
    conn.execute(
        insert(Event),
        [
            event_row(
                d.case_id,
                on,
                at,
                "sepa",
                "direct_debit_initiated",
                f"SEPA direct debit {tx.end_to_end_id} ({tx.sequence}) in {message_id}",
                {
                    "amount": _euro(tx.amount_cents),
                    "collection_date": collection_date.isoformat(),
                    "mandate": tx.mandate_id,
                    "end_to_end_id": tx.end_to_end_id,
                    "sequence": tx.sequence,
                },
            )
            for (d, _), tx in zip(chosen, txs, strict=True)
        ],
    )
    by_sequence: dict[str, int] = {}
    for tx in txs:
        by_sequence[tx.sequence] = by_sequence.get(tx.sequence, 0) + 1
    result.update(
        message_id=message_id,
        sha256=digest,
        by_sequence=by_sequence,
        xml=xml,
        collections=[
            {
                "case": d.case_reference,
                "instalment": d.instalment_id,
                "end_to_end_id": tx.end_to_end_id,
                "sequence": tx.sequence,
                "amount": _euro(tx.amount_cents),
                "mandate": tx.mandate_id,
            }
            for (d, _), tx in zip(chosen, txs, strict=True)
        ],
    )
    return result
