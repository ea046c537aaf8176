"""No cost stacking: one person's cases at one creditor are charged as one (and capped)."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import Engine, func, select

from respite.adapters.db.models import CostWaiver, LedgerEntry
from respite.domain.money import Money
from respite.services.cycle import run_cycle
from respite.services.store import (
    NewCase,
    NewClaim,
    NewDebtor,
    ensure_creditor,
    open_cases,
    upsert_debtors,
)

from .portfolio import NOW

START = date(2025, 3, 3)


def two_cases_of_one_person(
    engine: Engine, policy: dict[str, object] | None, creditors: int = 1
) -> None:
    """Two cases of EUR 100 each for one consumer (same or different creditors)."""
    with engine.begin() as conn:
        ids = upsert_debtors(
            conn,
            [NewDebtor("k-piet", "consumer", "Piet Jansen", "NL", "nl", "Europe/Amsterdam")],
            now=NOW,
        )
        for n in range(2):
            creditor = ensure_creditor(
                conn,
                f"Creditor {n % creditors}",
                jurisdiction="NL",
                currency="EUR",
                now=NOW,
                policy=policy,
            )
            claim = NewClaim(
                f"INV-{n}",
                START - timedelta(days=40),
                START - timedelta(days=30),
                Money.of("100.00", "EUR"),
            )
            open_cases(
                conn,
                creditor,
                [NewCase("k-piet", (claim,))],
                ids,
                on=START,
                actor="t",
                reason="t",
                now=NOW,
            )


def costs(engine: Engine) -> tuple[int, dict[str, int]]:
    with engine.connect() as conn:
        charged = conn.execute(
            select(func.coalesce(func.sum(LedgerEntry.amount_cents), 0)).where(
                LedgerEntry.kind == "charge", LedgerEntry.bucket == "costs"
            )
        ).scalar_one()
        waived = dict(
            conn.execute(
                select(CostWaiver.reason, func.sum(CostWaiver.amount_cents)).group_by(
                    CostWaiver.reason
                )
            ).all()
        )
    return int(charged), {k: int(v) for k, v in waived.items()}


def run(engine: Engine, days: int = 45) -> None:
    for d in range(days):
        run_cycle(engine, START + timedelta(days=d))


def test_two_cases_at_one_creditor_get_one_staffel_and_the_difference_is_recorded(
    db_engine: Engine,
) -> None:
    # Separately each EUR 100 claim costs the EUR 40 minimum (6:96 BW; Besluit BIK art. 2):
    # EUR 80. As one claim of EUR 200 the staffel gives 15% = EUR 30, so the EUR 40 minimum:
    # EUR 40 in total, EUR 40 not charged.
    two_cases_of_one_person(db_engine, policy=None)
    run(db_engine)
    assert costs(db_engine) == (4000, {"aggregation": 4000})


def test_the_creditor_cap_bounds_all_costs_charged_to_one_person(db_engine: Engine) -> None:
    two_cases_of_one_person(db_engine, policy={"max_costs_per_debtor_cents": 2500})
    run(db_engine)
    charged, waived = costs(db_engine)
    assert charged == 2500
    # First case: EUR 40 capped to 25 (15 waived). Second: aggregation leaves 15 (25
    # waived), the cap leaves nothing (15 waived). Everything not charged is on record.
    assert waived == {"policy_cap": 3000, "aggregation": 2500}
    assert charged + sum(waived.values()) == 8000


def test_without_aggregation_each_case_is_charged_on_its_own(db_engine: Engine) -> None:
    two_cases_of_one_person(db_engine, policy={"aggregate_costs_across_cases": False})
    run(db_engine)
    assert costs(db_engine) == (8000, {})


def test_different_creditors_each_keep_their_statutory_costs(db_engine: Engine) -> None:
    two_cases_of_one_person(db_engine, policy=None, creditors=2)
    run(db_engine)
    assert costs(db_engine) == (8000, {})
