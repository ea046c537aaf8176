"""Payouts to creditors: a remittance statement per creditor and one pain.001 file.

For a period ``[period_from, period_to]`` (both inclusive) and each creditor:

* **collected** = the booked payments (``payments.booked``) of the creditor's cases whose
  ``received_on`` falls in the period, **minus** the refunds of those cases created in the
  period that are queued or paid (money handed back to a debtor, e.g. an overpayment, was
  never the creditor's). Cancelled refunds do not count.
* **commission** = collected × ``commission_basis_points`` / 10 000, rounded half up to the
  cent (1500 basis points = 15 %).
* **payout** = collected − commission, sent by SEPA credit transfer to ``payout_iban``.

The creditor's terms live in ``creditors.policy``: ``payout_iban`` (required),
``payout_bic`` (optional), ``commission_basis_points`` (required, 0 … 10 000) and
optionally ``payout_name`` (else the creditor's name). A creditor without valid terms, not
in euro, or with nothing (or less than nothing) collected is left out with the reason and
nothing is recorded for it, so a later run picks its money up.

A period can be paid out once: a run whose period overlaps one already paid out to a
creditor is refused (the ``payouts`` row per creditor and ``period_to`` is unique, and the
overlap check covers any overlap). The period must have ended before the business date,
so that payments of its last day are in. Limitation: a payment booked later with a
``received_on`` inside an already paid-out period is not picked up by a later run (the
``payments`` table has no payout link); such a back-dated booking needs a manual payout.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections import defaultdict
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select

from respite.adapters.bank.pain import CreditTransfer, build_pain001, pain001_version
from respite.adapters.db.models import Case, Claim, Creditor, Payment, Payout, Refund
from respite.domain.money import Currency, Money
from respite.errors import ConflictError, InputError, ValidationError
from respite.services.agency import Agency, agency_from_env, clean_bic, clean_iban

__all__ = ["STATEMENT_COLUMNS", "commission_cents", "remittance", "run_payouts", "statement_csv"]

STATEMENT_COLUMNS = (
    "creditor",
    "case_reference",
    "claim_refs",
    "collected",
    "refunded",
    "net",
)


def commission_cents(collected_cents: int, basis_points: int) -> int:
    """collected × bp / 10 000, rounded half up to the cent (exact integer arithmetic)."""
    if collected_cents < 0:
        raise ValidationError("commission is taken on a positive amount")
    if not 0 <= basis_points <= 10_000:
        raise ValidationError(f"commission must be 0 to 10000 basis points, got {basis_points}")
    return (collected_cents * basis_points * 2 + 10_000) // 20_000


def _euro(cents: int) -> str:
    return str(Money.from_minor_units(cents, Currency.EUR))


def _terms(creditor: Any) -> tuple[dict[str, Any] | None, str | None]:
    """(terms, None) or (None, reason) for a creditor row."""
    policy = creditor.policy or {}
    if creditor.currency != "EUR":
        return None, f"creditor currency is {creditor.currency}; SEPA pays euro only"
    iban = policy.get("payout_iban")
    if not iban:
        return None, "no payout_iban in the creditor's policy"
    bp = policy.get("commission_basis_points")
    if bp is None or isinstance(bp, bool) or not isinstance(bp, int) or not 0 <= bp <= 10_000:
        return None, "commission_basis_points missing or not an integer 0 to 10000"
    try:
        clean = clean_iban(str(iban), "payout_iban")
        bic = (
            clean_bic(str(policy["payout_bic"]), "payout_bic") if policy.get("payout_bic") else None
        )
    except InputError as exc:
        return None, str(exc)
    name = str(policy.get("payout_name") or creditor.name).strip()[:70]
    return {"iban": clean, "bic": bic, "bp": bp, "name": name}, None


def remittance(conn: Connection, period_from: date, period_to: date) -> dict[str, Any]:
    """The remittance statement of the period, per creditor and per case (nothing stored)."""
    if period_from > period_to:
        raise ValidationError(
            f"the period starts ({period_from}) after it ends ({period_to})", field="--from"
        )
    paid = dict(
        conn.execute(
            select(Payment.case_id, func.sum(Payment.amount_cents))
            .where(
                Payment.booked.is_(True),
                Payment.received_on >= period_from,
                Payment.received_on <= period_to,
            )
            .group_by(Payment.case_id)
        ).all()
    )
    refunded = dict(
        conn.execute(
            select(Refund.case_id, func.sum(Refund.amount_cents))
            .where(
                Refund.case_id.is_not(None),
                Refund.status.in_(("queued", "paid")),
                Refund.created_on >= period_from,
                Refund.created_on <= period_to,
            )
            .group_by(Refund.case_id)
        ).all()
    )
    case_ids = sorted({int(c) for c in paid} | {int(c) for c in refunded if c is not None})
    cases = (
        conn.execute(
            select(Case.id, Case.reference, Case.creditor_id)
            .where(Case.id.in_(case_ids))
            .order_by(Case.id)
        ).all()
        if case_ids
        else []
    )
    claim_refs: dict[int, list[str]] = defaultdict(list)
    if case_ids:
        for case_id, ref in conn.execute(
            select(Claim.case_id, Claim.external_ref)
            .where(Claim.case_id.in_(case_ids))
            .order_by(Claim.id)
        ):
            claim_refs[int(case_id)].append(ref)
    creditor_ids = sorted({int(c.creditor_id) for c in cases})
    creditors = {
        int(c.id): c
        for c in (
            conn.execute(
                select(Creditor.id, Creditor.name, Creditor.currency, Creditor.policy).where(
                    Creditor.id.in_(creditor_ids)
                )
            ).all()
            if creditor_ids
            else []
        )
    }
    lines: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for c in cases:
        got = int(paid.get(c.id, 0) or 0)
        back = int(refunded.get(c.id, 0) or 0)
        lines[int(c.creditor_id)].append(
            {
                "case_reference": c.reference,
                "claim_refs": claim_refs[int(c.id)],
                "collected_cents": got,
                "refunded_cents": back,
                "net_cents": got - back,
            }
        )
    out = []
    for creditor_id in creditor_ids:
        cred = creditors[creditor_id]
        rows = lines[creditor_id]
        net = sum(r["net_cents"] for r in rows)
        terms, reason = _terms(cred)
        entry: dict[str, Any] = {
            "creditor_id": creditor_id,
            "creditor": cred.name,
            "currency": cred.currency,
            "collected_cents": sum(r["collected_cents"] for r in rows),
            "refunded_cents": sum(r["refunded_cents"] for r in rows),
            "net_cents": net,
            "commission_basis_points": None,
            "commission_cents": None,
            "payout_cents": None,
            "payout_iban": None,
            "payout_bic": None,
            "payout_name": None,
            "skipped": None,
            "cases": rows,
        }
        if terms is None:
            entry["skipped"] = reason
        elif net <= 0:
            entry["skipped"] = "nothing collected in the period after refunds"
        else:
            commission = commission_cents(net, int(terms["bp"]))
            entry.update(
                commission_basis_points=terms["bp"],
                commission_cents=commission,
                payout_cents=net - commission,
                payout_iban=terms["iban"],
                payout_bic=terms["bic"],
                payout_name=terms["name"],
            )
            if net - commission <= 0:
                entry["skipped"] = "the commission takes the whole amount"
        out.append(entry)
    return {
        "period_from": period_from.isoformat(),
        "period_to": period_to.isoformat(),
        "creditors": out,
    }


def statement_csv(statement: dict[str, Any]) -> str:
    """The statement as CSV, one line per case (amounts in euro with two decimals)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(STATEMENT_COLUMNS)
    for cred in statement["creditors"]:
        for line in cred["cases"]:
            writer.writerow(
                [
                    cred["creditor"],
                    line["case_reference"],
                    ";".join(line["claim_refs"]),
                    _euro(line["collected_cents"]),
                    _euro(line["refunded_cents"]),
                    _euro(line["net_cents"]),
                ]
            )
    return buf.getvalue()


def _overlaps(conn: Connection, creditor_id: int, period_from: date, period_to: date) -> Any:
    return conn.execute(
        select(Payout.period_from, Payout.period_to, Payout.message_id).where(
            Payout.creditor_id == creditor_id,
            Payout.period_from <= period_to,
            Payout.period_to >= period_from,
        )
    ).first()


def run_payouts(
    conn: Connection,
    period_from: date,
    period_to: date,
    *,
    version: str,
    on: date,
    at: datetime,
    execution_date: date | None = None,
    agency: Agency | None = None,
) -> dict[str, Any]:
    """Pay out the period: record one ``Payout`` per creditor and build the pain.001 file.

    Refused (ConflictError) when any creditor in it was already paid for an overlapping
    period. ``xml`` in the result is ``None`` when there is nothing to pay.
    """
    schema = pain001_version(version)
    if period_to >= on:
        raise ValidationError(
            f"the period must have ended before the business date {on} (it ends {period_to})",
            field="--to",
        )
    agency = agency or agency_from_env()
    statement = remittance(conn, period_from, period_to)
    for cred in statement["creditors"]:
        clash = _overlaps(conn, cred["creditor_id"], period_from, period_to)
        if clash is not None:
            raise ConflictError(
                f"creditor {cred['creditor']!r} was already paid out for"
                f" {clash.period_from}..{clash.period_to} (file {clash.message_id}), which"
                f" overlaps {period_from}..{period_to}"
            )
    payable = [c for c in statement["creditors"] if c["skipped"] is None]
    n = conn.execute(
        select(func.count(func.distinct(Payout.message_id))).where(Payout.period_to == period_to)
    ).scalar_one()
    message_id = f"RSPPO{period_to:%Y%m%d}-{int(n) + 1:03d}"
    transfers = [
        CreditTransfer(
            end_to_end_id=f"RSP-PO-{c['creditor_id']}-{period_to:%Y%m%d}",
            amount_cents=c["payout_cents"],
            creditor_name=c["payout_name"],
            creditor_iban=c["payout_iban"],
            creditor_bic=c["payout_bic"],
            remittance=(
                f"Respite remittance {period_from.isoformat()} to {period_to.isoformat()}:"
                f" collected {_euro(c['net_cents'])}, commission {_euro(c['commission_cents'])}"
            ),
        )
        for c in payable
    ]
    xml: bytes | None = None
    digest: str | None = None
    if transfers:
        xml = build_pain001(
            version=schema,
            message_id=message_id,
            created_at=at,
            debtor_name=agency.name,
            debtor_iban=agency.iban,
            debtor_bic=agency.bic,
            execution_date=execution_date or on,
            transactions=transfers,
        )
        digest = hashlib.sha256(xml).hexdigest()
        conn.execute(
            insert(Payout),
            [
                {
                    "creditor_id": c["creditor_id"],
                    "period_from": period_from,
                    "period_to": period_to,
                    "currency": "EUR",
                    "collected_cents": c["net_cents"],
                    "commission_cents": c["commission_cents"],
                    "payout_cents": c["payout_cents"],
                    "message_id": message_id,
                    "version": schema,
                    "created_on": on,
                }
                for c in payable
            ],
        )
    return {
        "period_from": period_from.isoformat(),
        "period_to": period_to.isoformat(),
        "version": schema,
        "message_id": message_id if transfers else None,
        "sha256": digest,
        "transactions": len(transfers),
        "total_cents": sum(t.amount_cents for t in transfers),
        "total": _euro(sum(t.amount_cents for t in transfers)),
        "payouts": [
            {
                "creditor": c["creditor"],
                "collected": _euro(c["net_cents"]),
                "commission": _euro(c["commission_cents"]),
                "payout": _euro(c["payout_cents"]),
                "end_to_end_id": t.end_to_end_id,
            }
            for c, t in zip(payable, transfers, strict=True)
        ],
        "skipped": [
            {"creditor": c["creditor"], "reason": c["skipped"]}
            for c in statement["creditors"]
            if c["skipped"] is not None
        ],
        "statement": statement,
        "xml": xml,
    }
