"""A small, fully deterministic portfolio for cycle tests (no Faker: exact figures)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Engine, text

from respite.domain.money import Money
from respite.services.store import (
    NewCase,
    NewClaim,
    NewDebtor,
    ensure_creditor,
    open_cases,
    upsert_debtors,
)

NOW = datetime(2025, 1, 15, 6, tzinfo=UTC)


def build(
    engine: Engine, *, cases: int, on: date, jurisdiction: str = "NL", kind: str = "consumer"
) -> list[int]:
    currency = "PLN" if jurisdiction == "PL" else "EUR"
    with engine.begin() as conn:
        creditor = ensure_creditor(
            conn,
            f"Test {jurisdiction} {kind}",
            jurisdiction=jurisdiction,
            currency=currency,
            now=NOW,
        )
        debtors = [
            NewDebtor(
                f"k-{jurisdiction}-{kind}-{i}",
                kind,
                f"Debtor {i}",
                jurisdiction,
                "nl",
                "Europe/Amsterdam",
            )
            for i in range(cases)
        ]
        ids = upsert_debtors(conn, debtors, now=NOW)
        new = [
            NewCase(
                d.identity_key,
                (
                    NewClaim(
                        f"INV-{jurisdiction}-{kind}-{i}",
                        on - timedelta(days=60),
                        on - timedelta(days=30 + i % 7),
                        Money.of(str(50 + (i * 37) % 2000), currency),
                        interest_kind="commercial" if kind == "business" else "consumer",
                    ),
                ),
            )
            for i, d in enumerate(debtors)
        ]
        return open_cases(
            conn, creditor, new, ids, on=on, actor="test", reason="test portfolio", now=NOW
        )


SNAPSHOT_QUERIES = {
    "cases": "SELECT id, stage, stage_since, closed, close_reason, last_cycle_date, notice_sent_on, costs_chargeable_from FROM cases ORDER BY id",
    "claims": "SELECT id, interest_accrued_to, interest_carry_micros, interest_year_cents, capitalised_cents, costs_charged, open_principal_cents, open_interest_cents, open_costs_cents, credit_cents, last_seq FROM claims ORDER BY id",
    "ledger": "SELECT claim_id, seq, kind, bucket, amount_cents, on_date, payment_seq FROM ledger_entries ORDER BY claim_id, seq",
    "events": "SELECT case_id, business_date, actor, kind, reason FROM events ORDER BY case_id, business_date, kind, reason",
    "outbox": "SELECT case_id, business_date, kind, channel, template, dedupe_key FROM outbox ORDER BY dedupe_key",
    "instalments": "SELECT case_id, due_date, status, missed_on FROM instalments ORDER BY case_id, due_date",
}


def snapshot(engine: Engine) -> dict[str, list[tuple[object, ...]]]:
    """Every table by natural keys (surrogate ids of history rows and timestamps left out)."""
    with engine.connect() as conn:
        return {
            name: [tuple(r) for r in conn.execute(text(q))] for name, q in SNAPSHOT_QUERIES.items()
        }
