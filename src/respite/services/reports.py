"""Portfolio figures read from the system of record (events, ledger, outbox)."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import Engine, and_, func, or_, select

from respite.adapters.db.models import (
    Case,
    Claim,
    CostWaiver,
    Creditor,
    Hold,
    LedgerEntry,
    OutboxMessage,
    Payment,
    Plan,
    Referral,
)
from respite.domain.money import Currency, Money

__all__ = ["portfolio_summary"]


def _money(cents: int | None, currency: str) -> str:
    return str(Money.from_minor_units(int(cents or 0), Currency.of(currency)))


def portfolio_summary(engine: Engine, on: date) -> dict[str, Any]:
    with engine.connect() as conn:
        stages = {
            (s if not closed else f"closed ({reason})"): int(n)
            for s, closed, reason, n in conn.execute(
                select(Case.stage, Case.closed, Case.close_reason, func.count()).group_by(
                    Case.stage, Case.closed, Case.close_reason
                )
            )
        }
        collected = {
            cur: _money(total, cur)
            for cur, total in conn.execute(
                select(Creditor.currency, func.sum(Payment.amount_cents))
                .join(Case, Case.id == Payment.case_id)
                .join(Creditor, Creditor.id == Case.creditor_id)
                .where(Payment.booked.is_(True))
                .group_by(Creditor.currency)
            )
        }
        charged: dict[str, dict[str, str]] = {}
        for bucket, cur, total in conn.execute(
            select(LedgerEntry.bucket, Claim.currency, func.sum(LedgerEntry.amount_cents))
            .join(Claim, Claim.id == LedgerEntry.claim_id)
            .where(LedgerEntry.kind == "charge")
            .group_by(LedgerEntry.bucket, Claim.currency)
        ):
            charged.setdefault(str(bucket), {})[cur] = _money(total, cur)
        outstanding = {
            cur: _money(total, cur)
            for cur, total in conn.execute(
                select(
                    Claim.currency,
                    func.sum(
                        Claim.open_principal_cents
                        + Claim.open_interest_cents
                        + Claim.open_costs_cents
                    ),
                ).group_by(Claim.currency)
            )
        }
        holds = dict(
            conn.execute(
                select(Hold.kind, func.count())
                .where(Hold.start <= on, or_(Hold.until.is_(None), Hold.until >= on))
                .group_by(Hold.kind)
            ).all()
        )
        actions = {
            f"{kind} by {channel}": int(n)
            for kind, channel, n in conn.execute(
                select(OutboxMessage.kind, OutboxMessage.channel, func.count())
                .where(and_(OutboxMessage.status == "queued"))
                .group_by(OutboxMessage.kind, OutboxMessage.channel)
            )
        }
        plans = {
            str(status): int(n)
            for status, n in conn.execute(
                select(Plan.status, func.count()).group_by(Plan.status).order_by(Plan.status)
            )
        }
        referrals = {
            str(status): int(n)
            for status, n in conn.execute(
                select(Referral.status, func.count()).group_by(Referral.status)
            )
        }
        # Costs not charged (no stacking, creditor caps): EUR, the demo's and NL/BE currency.
        waived = {
            str(reason): _money(int(cents or 0), "EUR")
            for reason, cents in conn.execute(
                select(CostWaiver.reason, func.sum(CostWaiver.amount_cents)).group_by(
                    CostWaiver.reason
                )
            )
        }
    return {
        "on": on.isoformat(),
        "plans": plans,
        "referrals": referrals,
        "costs_not_charged": waived,
        "cases_by_stage": dict(sorted(stages.items())),
        "collected": collected,
        "charged": charged,
        "outstanding": outstanding,
        "holds_active": {str(k): int(v) for k, v in sorted(holds.items())},
        "actions_queued": dict(sorted(actions.items())),
    }
