"""The debtor-360 view: one person, every debt with every creditor, on one page.

The person is found from a debtor id or a case reference; its records are every debtor
record identity resolution linked to it (:mod:`respite.services.people`). The view lists
the records, every case (open and closed) with its creditor, stage and open balances,
the holds active on the given date, the plans over any of the person's cases with each
case's share, the referrals, and the total debt per currency.

The total debt counts open cases only: a closed case (paid, settled, written off,
recalled) is no longer collected, whatever its claims' balances say. Amounts are strings
with the currency's two decimals, as JSON carries money.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Any

from sqlalchemy import Connection, func, select

from respite.adapters.db.models import Case, Claim, Creditor, Debtor, Hold, Plan, PlanCase, Referral
from respite.domain.money import Currency, Money
from respite.errors import InputError
from respite.services.people import debtor_ids_of_person, person_of

__all__ = ["debtor_360", "find_debtor"]

_BUCKETS = ("principal", "interest", "costs")


def _money(cents: int, currency: str) -> str:
    return str(Money.from_minor_units(int(cents), Currency.of(currency)))


def find_debtor(conn: Connection, debtor_id_or_case_reference: int | str) -> int:
    """The debtor id behind a debtor id (digits) or a case reference (``R000000042``)."""
    key = debtor_id_or_case_reference
    if isinstance(key, int) or key.strip().isdigit():
        debtor_id = int(key)
        if conn.execute(select(Debtor.id).where(Debtor.id == debtor_id)).first() is None:
            raise InputError(f"no debtor with id {debtor_id}", field="debtor")
        return debtor_id
    found = conn.execute(
        select(Case.debtor_id).where(Case.reference == key.strip().upper())
    ).scalar()
    if found is None:
        raise InputError(f"no case with reference {key.strip()!r}", field="reference")
    return int(found)


def debtor_360(
    conn: Connection, debtor_id_or_case_reference: int | str, *, on: date
) -> dict[str, Any]:
    """The person behind a debtor id or case reference, with all of their debts on ``on``."""
    person = person_of(conn, find_debtor(conn, debtor_id_or_case_reference))
    ids = debtor_ids_of_person(conn, person)
    records = [
        {
            "debtor_id": int(r.id),
            "kind": r.kind,
            "name": r.name,
            "birth_date": r.birth_date.isoformat() if r.birth_date else None,
            "street": r.street,
            "postcode": r.postcode,
            "city": r.city,
            "country": r.country,
            "email": r.email,
            "phone": r.phone,
            "iban": r.iban,
            "language": r.language,
        }
        for r in conn.execute(select(Debtor).where(Debtor.id.in_(ids)).order_by(Debtor.id))
    ]
    case_rows = conn.execute(
        select(
            Case.id,
            Case.reference,
            Case.debtor_id,
            Case.stage,
            Case.stage_since,
            Case.opened_on,
            Case.closed,
            Case.close_reason,
            Creditor.name.label("creditor"),
            Creditor.currency,
        )
        .join(Creditor, Creditor.id == Case.creditor_id)
        .where(Case.debtor_id.in_(ids))
        .order_by(Case.id)
    ).all()
    case_ids = [int(r.id) for r in case_rows]
    balances = _balances(conn, case_ids)
    holds = _holds(conn, case_ids, on)
    cases: list[dict[str, Any]] = []
    totals: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys((*_BUCKETS, "credit"), 0))
    for case in case_rows:
        currency, cents = balances.get(int(case.id), (case.currency, dict.fromkeys(_BUCKETS, 0)))
        credit = cents.get("credit", 0)
        open_total = sum(cents[b] for b in _BUCKETS)
        cases.append(
            {
                "reference": case.reference,
                "creditor": case.creditor,
                "debtor_id": int(case.debtor_id),
                "stage": case.stage,
                "stage_since": case.stage_since.isoformat(),
                "opened_on": case.opened_on.isoformat(),
                "closed": bool(case.closed),
                "close_reason": case.close_reason,
                "currency": currency,
                **{f"{b}_open": _money(cents[b], currency) for b in _BUCKETS},
                "total_open": _money(open_total, currency),
                "credit": _money(credit, currency),
                "holds": holds.get(int(case.id), []),
            }
        )
        if not case.closed:
            for b in _BUCKETS:
                totals[currency][b] += cents[b]
            totals[currency]["credit"] += credit
    reference_of = {int(r.id): r.reference for r in case_rows}
    return {
        "person": person,
        "on": on.isoformat(),
        "records": records,
        "cases": cases,
        "open_cases": sum(not c["closed"] for c in cases),
        "cases_on_hold": sum(bool(c["holds"]) and not c["closed"] for c in cases),
        "plans": _plans(conn, ids, case_ids, reference_of),
        "referrals": _referrals(conn, ids),
        "total_debt": {
            currency: {
                **{b: _money(v[b], currency) for b in _BUCKETS},
                "total": _money(sum(v[b] for b in _BUCKETS), currency),
                "credit": _money(v["credit"], currency),
            }
            for currency, v in sorted(totals.items())
        },
    }


def _balances(conn: Connection, case_ids: list[int]) -> dict[int, tuple[str, dict[str, int]]]:
    if not case_ids:
        return {}
    rows = conn.execute(
        select(
            Claim.case_id,
            Claim.currency,
            func.sum(Claim.open_principal_cents),
            func.sum(Claim.open_interest_cents),
            func.sum(Claim.open_costs_cents),
            func.sum(Claim.credit_cents),
        )
        .where(Claim.case_id.in_(case_ids))
        .group_by(Claim.case_id, Claim.currency)
    )
    out: dict[int, tuple[str, dict[str, int]]] = {}
    for case_id, currency, principal, interest, costs, credit in rows:
        # One case, one creditor, one currency (intake takes the creditor's currency).
        out[int(case_id)] = (
            str(currency),
            {
                "principal": int(principal or 0),
                "interest": int(interest or 0),
                "costs": int(costs or 0),
                "credit": int(credit or 0),
            },
        )
    return out


def _holds(conn: Connection, case_ids: list[int], on: date) -> dict[int, list[dict[str, Any]]]:
    out: dict[int, list[dict[str, Any]]] = defaultdict(list)
    if not case_ids:
        return out
    rows = conn.execute(
        select(Hold)
        .where(Hold.case_id.in_(case_ids), Hold.start <= on)
        .where(Hold.until.is_(None) | (Hold.until >= on))
        .order_by(Hold.case_id, Hold.start, Hold.id)
    )
    for h in rows:
        out[int(h.case_id)].append(
            {
                "kind": h.kind,
                "start": h.start.isoformat(),
                "until": h.until.isoformat() if h.until else None,
                "reason": h.reason,
                "placed_by": h.placed_by,
            }
        )
    return out


def _plans(
    conn: Connection, ids: list[int], case_ids: list[int], reference_of: dict[int, str]
) -> list[dict[str, Any]]:
    # A plan belongs to the person when it was made for one of the person's records or
    # covers one of the person's cases (a plan made before two records were linked).
    via_cases = select(PlanCase.plan_id).where(PlanCase.case_id.in_(case_ids or [-1]))
    plans = conn.execute(
        select(Plan)
        .where(Plan.debtor_id.in_(ids) | Plan.id.in_(via_cases))
        .order_by(Plan.created_on, Plan.id)
    ).all()
    shares: dict[int, list[Any]] = defaultdict(list)
    if plans:
        for share in conn.execute(
            select(
                PlanCase.plan_id,
                PlanCase.case_id,
                PlanCase.share_cents,
                PlanCase.total_cents,
                Case.reference,
            )
            .join(Case, Case.id == PlanCase.case_id)
            .where(PlanCase.plan_id.in_([p.id for p in plans]))
            .order_by(PlanCase.plan_id, PlanCase.case_id)
        ):
            shares[int(share.plan_id)].append(share)
    return [
        {
            "plan_id": int(p.id),
            "status": p.status,
            "created_on": p.created_on.isoformat(),
            "first_due": p.first_due.isoformat(),
            "months": int(p.months),
            "currency": p.currency,
            "instalment": _money(p.instalment_cents, p.currency),
            "total": _money(p.total_cents, p.currency),
            "interest_frozen": bool(p.interest_frozen),
            "misses": int(p.misses),
            "max_misses": int(p.max_misses),
            "cases": [
                {
                    "reference": s.reference,
                    "instalment_share": _money(s.share_cents, p.currency),
                    "total": _money(s.total_cents, p.currency),
                    "own": int(s.case_id) in reference_of,
                }
                for s in shares[int(p.id)]
            ],
        }
        for p in plans
    ]


def _referrals(conn: Connection, ids: list[int]) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(Referral)
        .where(Referral.debtor_id.in_(ids))
        .order_by(Referral.created_on, Referral.id)
    )
    return [
        {
            "referral_id": int(r.id),
            "debtor_id": int(r.debtor_id),
            "created_on": r.created_on.isoformat(),
            "status": r.status,
            "municipality": r.municipality,
            "reasons": list(r.reasons),
            "contact": dict(r.contact),
            "closed_on": r.closed_on.isoformat() if r.closed_on else None,
            "created_by": r.created_by,
        }
        for r in rows
    ]
