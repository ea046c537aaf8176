"""The audit log: who read or changed whose personal data, when, and why.

Every read of a debtor's personal data by a user (console) or a creditor's key (API) is
recorded here in the same transaction as the read's other writes, so the log and the
access can never disagree. The table is append-only (database triggers refuse UPDATE and
DELETE); ``export`` writes it out as CSV for a supervisor or the data-protection officer.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select

from respite.adapters.db.models import AuditEntry

__all__ = ["FIELDS", "entries", "export_csv", "record"]

FIELDS = ("id", "at", "actor", "action", "subject_type", "subject_id", "purpose", "client")


def record(
    conn: Connection,
    *,
    actor: str,
    action: str,
    subject_type: str,
    subject_id: str | int,
    purpose: str,
    at: datetime,
    client: str | None = None,
) -> None:
    """One audit entry. ``actor`` is ``user:<username>`` or ``api:<key id>``; ``purpose``
    says why (the screen or endpoint, and the reason the user gave where one is asked)."""
    conn.execute(
        insert(AuditEntry).values(
            at=at,
            actor=actor[:100],
            action=action[:60],
            subject_type=subject_type[:30],
            subject_id=str(subject_id)[:60],
            purpose=purpose,
            client=(client or None) and client[:64],
        )
    )


def entries(
    conn: Connection,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    subject: tuple[str, str] | None = None,
    actor: str | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    query = select(AuditEntry).order_by(AuditEntry.id)
    if since is not None:
        query = query.where(AuditEntry.at >= since)
    if until is not None:
        query = query.where(AuditEntry.at < until)
    if subject is not None:
        query = query.where(
            AuditEntry.subject_type == subject[0], AuditEntry.subject_id == subject[1]
        )
    if actor is not None:
        query = query.where(AuditEntry.actor == actor)
    if limit is not None:
        query = query.limit(limit)
    return [dict(row._mapping) for row in conn.execute(query)]


def export_csv(rows: Iterable[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=FIELDS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({**row, "at": row["at"].isoformat() if row.get("at") else ""})
    return out.getvalue()
