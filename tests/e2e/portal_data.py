"""A small portfolio for the portal and console tests, with exact, known figures.

One person (Anna de Vries, Utrecht) owes two creditors: a utility (EUR 240.00) and a
telecom (EUR 1,150.00 in two invoices). A second, unrelated person (Piet Jansen) owes the
utility EUR 95.50: his data must never show up in Anna's portal. The cases are opened on
``OPENED`` and the nightly cycle has run on ``ON``, so interest has accrued and the
formal notice's collection costs are on the cases.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Engine, select

from respite.adapters.db.models import Case
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

OPENED = date(2025, 1, 15)
ON = date(2025, 2, 20)
NOW = datetime(2025, 1, 15, 6, tzinfo=UTC)


@dataclass(frozen=True)
class Portfolio:
    utility_case: str  # Anna's case with the utility
    telecom_case: str  # Anna's case with the telecom (two invoices)
    other_case: str  # Piet's case with the utility
    utility_creditor: int
    telecom_creditor: int
    on: date


def _debtor(key: str, name: str, **kw: object) -> NewDebtor:
    return NewDebtor(key, "consumer", name, "NL", "nl", "Europe/Amsterdam", **kw)  # type: ignore[arg-type]


def seed(engine: Engine, *, run_to: date = ON) -> Portfolio:
    anna = _debtor(
        "p:anna de vries|1985-03-02",
        "Anna de Vries",
        email="anna@example.org",
        phone="+31612345678",
        iban="NL91ABNA0417164300",
        street="Oudegracht 12",
        postcode="3511 AB",
        city="Utrecht",
        birth_date=date(1985, 3, 2),
    )
    piet = _debtor(
        "p:jansen piet|1970-07-07",
        "Piet Jansen",
        email="piet@example.org",
        street="Dorpsstraat 1",
        postcode="1234 AB",
        city="Amsterdam",
        birth_date=date(1970, 7, 7),
    )
    with engine.begin() as conn:
        utility = ensure_creditor(
            conn, "Stroom & Water BV", jurisdiction="NL", currency="EUR", now=NOW
        )
        telecom = ensure_creditor(conn, "Bel Mobiel NV", jurisdiction="NL", currency="EUR", now=NOW)
        ids = upsert_debtors(conn, [anna, piet], now=NOW)

        def claim(ref: str, amount: str, days: int) -> NewClaim:
            return NewClaim(
                ref,
                OPENED - timedelta(days=days + 30),
                OPENED - timedelta(days=days),
                Money.of(amount, "EUR"),
                description=f"invoice {ref}",
            )

        args = {"on": OPENED, "actor": "creditor", "reason": "handed over", "now": NOW}
        u = open_cases(
            conn,
            utility,
            [
                NewCase(anna.identity_key, (claim("UTIL-1001", "240.00", 20),)),
                NewCase(piet.identity_key, (claim("UTIL-2002", "95.50", 25),)),
            ],
            ids,
            **args,  # type: ignore[arg-type]
        )
        t = open_cases(
            conn,
            telecom,
            [
                NewCase(
                    anna.identity_key,
                    (claim("TEL-77", "650.00", 30), claim("TEL-78", "500.00", 15)),
                )
            ],
            ids,
            **args,  # type: ignore[arg-type]
        )
        refs = dict(conn.execute(select(Case.id, Case.reference)).all())
    day = OPENED
    while day <= run_to:
        run_cycle(engine, day, now=lambda: NOW)
        day += timedelta(days=1)
    return Portfolio(
        utility_case=refs[u[0]],
        telecom_case=refs[t[0]],
        other_case=refs[u[1]],
        utility_creditor=utility,
        telecom_creditor=telecom,
        on=run_to,
    )
