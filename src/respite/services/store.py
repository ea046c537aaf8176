"""The case store's write path: creditors, debtors and new cases with their claims.

Set-based on purpose (Core ``executemany``): the same functions take in one claims file
and build a million-case benchmark portfolio. Every function works inside the caller's
transaction, so an import is all-or-nothing.

A debtor is recognised across creditors by an identity key (normalised name plus birth
date, or company number, or postcode): the same person who owes the water company and the
phone company is one debtor with two cases.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, func, insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from respite.adapters.db.models import (
    Case,
    Claim,
    Creditor,
    Debtor,
    Event,
    LedgerEntry,
    OutboxMessage,
)
from respite.domain.lifecycle import Stage
from respite.domain.money import Money
from respite.errors import ValidationError
from respite.strategies import latest_version

__all__ = [
    "NewCase",
    "NewClaim",
    "NewDebtor",
    "chunks",
    "ensure_creditor",
    "event_row",
    "identity_key",
    "ledger_row",
    "open_cases",
    "outbox_row",
    "post_accrued_interest",
    "queue_outbox",
    "upsert_debtors",
]


def identity_key(
    name: str, *, birth_date: date | None, postcode: str | None, company_number: str | None = None
) -> str:
    """A stable key for recognising one person or business across creditors."""
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    words = re.sub(r"[^a-z0-9 ]", " ", folded).split()
    base = " ".join(sorted(words))
    if company_number:
        return f"co:{re.sub(r'[^A-Z0-9]', '', company_number.upper())}"
    anchor = birth_date.isoformat() if birth_date else re.sub(r"\s", "", (postcode or "").upper())
    return f"p:{base}|{anchor}"


@dataclass(frozen=True, slots=True)
class NewDebtor:
    identity_key: str
    kind: str  # consumer | business
    name: str
    country: str
    language: str
    timezone: str
    email: str | None = None
    phone: str | None = None
    iban: str | None = None
    street: str | None = None
    postcode: str | None = None
    city: str | None = None
    birth_date: date | None = None


@dataclass(frozen=True, slots=True)
class NewClaim:
    external_ref: str
    issue_date: date
    due_date: date
    principal: Money
    description: str = ""
    interest_kind: str = "consumer"  # consumer | commercial


@dataclass(frozen=True, slots=True)
class NewCase:
    debtor_key: str
    claims: tuple[NewClaim, ...]


def ensure_creditor(
    conn: Connection,
    name: str,
    *,
    jurisdiction: str,
    currency: str,
    now: datetime,
    strategy: str = "standard",
    vat_uplift_declared: bool = False,
    policy: dict[str, object] | None = None,
    branding: dict[str, object] | None = None,
) -> int:
    """The id of the creditor called ``name``, created when new."""
    found = conn.execute(select(Creditor.id).where(Creditor.name == name)).scalar()
    if found is not None:
        return int(found)
    result = conn.execute(
        insert(Creditor).values(
            name=name,
            jurisdiction=jurisdiction,
            currency=currency,
            strategy=strategy,
            vat_uplift_declared=vat_uplift_declared,
            policy=policy or {},
            branding=branding or {},
            created_at=now,
        )
    )
    return int(result.inserted_primary_key[0])  # type: ignore[index]


def upsert_debtors(
    conn: Connection, debtors: Sequence[NewDebtor], *, now: datetime
) -> dict[str, int]:
    """Ids by identity key; known debtors are reused, new ones inserted."""
    keys = sorted({d.identity_key for d in debtors})
    known: dict[str, int] = {}
    for chunk in chunks(keys, 5000):
        rows = conn.execute(
            select(Debtor.identity_key, Debtor.id).where(Debtor.identity_key.in_(chunk))
        )
        known.update({k: int(i) for k, i in rows})
    fresh: dict[str, NewDebtor] = {}
    for d in debtors:
        if d.identity_key not in known:
            fresh.setdefault(d.identity_key, d)
    if fresh:
        next_id = _next_id(conn, Debtor)
        rows_out: list[dict[str, Any]] = []
        for offset, d in enumerate(fresh.values()):
            known[d.identity_key] = next_id + offset
            rows_out.append(
                {
                    "id": next_id + offset,
                    "identity_key": d.identity_key,
                    "kind": d.kind,
                    "name": d.name,
                    "email": d.email,
                    "phone": d.phone,
                    "iban": d.iban,
                    "street": d.street,
                    "postcode": d.postcode,
                    "city": d.city,
                    "country": d.country,
                    "language": d.language,
                    "timezone": d.timezone,
                    "birth_date": d.birth_date,
                    "created_at": now,
                }
            )
        for chunk in chunks(rows_out, 5000):
            conn.execute(insert(Debtor), chunk)
    return known


def open_cases(
    conn: Connection,
    creditor_id: int,
    cases: Sequence[NewCase],
    debtor_ids: dict[str, int],
    *,
    on: date,
    actor: str,
    reason: str,
    now: datetime,
) -> list[int]:
    """Open one case per entry, each with its claims, principal ledger entries and event."""
    if not cases:
        return []
    case_id = _next_id(conn, Case)
    claim_id = _next_id(conn, Claim)
    # A case keeps the strategy version it starts under (see respite.strategies).
    strategy = conn.execute(
        select(Creditor.strategy).where(Creditor.id == creditor_id)
    ).scalar_one()
    version = latest_version(strategy)
    case_rows: list[dict[str, Any]] = []
    claim_rows: list[dict[str, Any]] = []
    ledger_rows: list[dict[str, Any]] = []
    event_rows: list[dict[str, Any]] = []
    ids: list[int] = []
    for new in cases:
        if not new.claims:
            raise ValidationError("a case needs at least one claim")
        if new.debtor_key not in debtor_ids:
            raise ValidationError(f"unknown debtor {new.debtor_key!r}")
        ids.append(case_id)
        case_rows.append(
            {
                "id": case_id,
                "reference": case_reference(case_id),
                "creditor_id": creditor_id,
                "debtor_id": debtor_ids[new.debtor_key],
                "stage": Stage.FRIENDLY_REMINDER.value,
                "stage_since": on,
                "closed": False,
                "opened_on": on,
                "interest_frozen": False,
                "strategy_version": version,
            }
        )
        refs = []
        for c in new.claims:
            start = c.due_date + timedelta(days=1)
            claim_rows.append(
                {
                    "id": claim_id,
                    "case_id": case_id,
                    "creditor_id": creditor_id,
                    "external_ref": c.external_ref,
                    "description": c.description,
                    "issue_date": c.issue_date,
                    "due_date": c.due_date,
                    "currency": c.principal.currency.code,
                    "principal_cents": c.principal.minor_units,
                    "interest_kind": c.interest_kind,
                    "default_start": start,
                    # Interest runs from the first day of default (the day after the due
                    # date); the first cycle accrues from there.
                    "interest_accrued_to": start,
                    "open_principal_cents": c.principal.minor_units,
                    "last_seq": 1,
                }
            )
            ledger_rows.append(
                {
                    "claim_id": claim_id,
                    "seq": 1,
                    "kind": "charge",
                    "bucket": "principal",
                    "amount_cents": c.principal.minor_units,
                    "on_date": on,
                    "memo": f"principal of {c.external_ref}",
                }
            )
            refs.append(c.external_ref)
            claim_id += 1
        event_rows.append(
            {
                "case_id": case_id,
                "business_date": on,
                "recorded_at": now,
                "actor": actor,
                "kind": "opened",
                "reason": reason,
                "before": {},
                "after": {"stage": Stage.FRIENDLY_REMINDER.value, "claims": ",".join(refs)},
            }
        )
        case_id += 1
    for table, rows in (
        (Case, case_rows),
        (Claim, claim_rows),
        (LedgerEntry, ledger_rows),
        (Event, event_rows),
    ):
        for chunk in chunks(rows, 5000):
            conn.execute(insert(table), chunk)
    return ids


def ledger_row(
    claim: dict[str, Any], kind: str, bucket: str | None, cents: int, on: date, memo: str
) -> dict[str, Any]:
    """A ledger entry (as a row) at the claim's current ``last_seq``; memos fit the column."""
    return {
        "claim_id": claim["id"],
        "seq": claim["last_seq"],
        "kind": kind,
        "bucket": bucket,
        "amount_cents": cents,
        "on_date": on,
        "payment_seq": None,
        "reverses": None,
        "memo": memo[:200],
    }


MICROS = 1_000_000  # accrued interest is carried in micro-cents until posted


def post_accrued_interest(claim: dict[str, Any], on: date, memo: str) -> dict[str, Any] | None:
    """Post the whole cents of a claim's accrued interest; the sub-cent rest stays carried.

    Returns the ledger row to write (None when less than a cent has accrued). The cycle
    posts at month ends and anniversaries; a payment posts first so that 6:44 BW meets the
    interest that is due.
    """
    cents, claim["interest_carry_micros"] = divmod(claim["interest_carry_micros"], MICROS)
    if cents <= 0:
        return None
    claim["last_seq"] += 1
    claim["open_interest_cents"] += cents
    claim["interest_year_cents"] += cents
    return ledger_row(claim, "charge", "interest", cents, on, memo)


def case_reference(case_id: int) -> str:
    """The reference printed on letters and typed into the portal: R + nine digits."""
    return f"R{case_id:09d}"


def _next_id(conn: Connection, model: type[Case] | type[Claim] | type[Debtor]) -> int:
    # Explicit ids let one transaction insert cases, claims and their children in bulk.
    # Concurrent imports into PostgreSQL would collide on the primary key and be retried.
    current = conn.execute(select(func.max(model.id))).scalar()
    return int(current or 0) + 1


def chunks(items: Sequence[Any], size: int) -> list[Sequence[Any]]:
    """``items`` in slices of at most ``size`` (bounded IN lists and batches)."""
    return [items[i : i + size] for i in range(0, len(items), size)]


def event_row(
    case_id: int,
    on: date,
    at: datetime,
    actor: str,
    kind: str,
    reason: str,
    after: dict[str, Any],
    before: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One row of a case's timeline (``events``), for a bulk insert."""
    return {
        "case_id": case_id,
        "business_date": on,
        "recorded_at": at,
        "actor": actor,
        "kind": kind,
        "reason": reason,
        "before": before or {},
        "after": after,
    }


def outbox_row(
    case_id: int,
    on: date,
    kind: str,
    channel: str,
    template: str,
    dedupe_key: str,
    payload: dict[str, Any],
    brand: str = "agency",
) -> dict[str, Any]:
    """One action for the communications engine; ``dedupe_key`` makes a retry a no-op."""
    return {
        "case_id": case_id,
        "business_date": on,
        "kind": kind,
        "channel": channel,
        "template": template,
        "brand": brand,
        "status": "queued",
        "dedupe_key": dedupe_key,
        "payload": payload,
    }


def queue_outbox(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Insert outbox rows; one whose ``dedupe_key`` is already queued is skipped."""
    if not rows:
        return
    stmt = (pg_insert if conn.dialect.name == "postgresql" else sqlite_insert)(OutboxMessage)
    conn.execute(stmt.on_conflict_do_nothing(index_elements=["dedupe_key"]), list(rows))
