"""Payouts: what each creditor collected, less refunds and commission, paid by pain.001.

Files are validated against the official XSDs (../shared/data/xsd) and read back.
"""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, insert, select

from respite.adapters.db.models import Case, Payout, Refund
from respite.errors import ConflictError, ValidationError
from respite.services import payouts
from respite.services.payments import book_payment

from .portfolio import NOW
from .test_sepa import AGENCY, START, ns, open_case, validated

PERIOD = (date(2025, 4, 1), date(2025, 4, 30))
AFTER = date(2025, 5, 2)
TERMS = {"payout_iban": "DE89370400440532013000", "commission_basis_points": 1500}


def book(engine: Engine, ref: str, cents: int, on: date, source: str) -> None:
    with engine.begin() as conn:
        case_id = conn.execute(select(Case.id).where(Case.reference == ref)).scalar_one()
        book_payment(conn, case_id, cents, on, source, now=NOW, jurisdiction="NL")


def refund(engine: Engine, ref: str, cents: int, on: date, status: str) -> None:
    with engine.begin() as conn:
        case_id = conn.execute(select(Case.id).where(Case.reference == ref)).scalar_one()
        conn.execute(
            insert(Refund).values(
                case_id=case_id,
                amount_cents=cents,
                currency="EUR",
                iban="NL02ABNA0123456789",
                reason="overpaid",
                status=status,
                created_on=on,
            )
        )


def run(engine: Engine, version: str = "09", period: tuple[date, date] = PERIOD) -> dict[str, Any]:
    with engine.begin() as conn:
        return payouts.run_payouts(
            conn, period[0], period[1], version=version, on=AFTER, at=NOW, agency=AGENCY
        )


def portfolio(engine: Engine) -> dict[str, str]:
    refs = {
        "a1": open_case(engine, creditor="Energie Noord", debtor="k-a1", policy=TERMS),
        "a2": open_case(engine, creditor="Energie Noord", debtor="k-a2", policy=TERMS),
        "b": open_case(
            engine,
            creditor="Water West",
            debtor="k-b",
            policy={
                "payout_iban": "NL91ABNA0417164300",
                "payout_bic": "ABNANL2A",
                "commission_basis_points": 1000,
                "payout_name": "Water West B.V.",
            },
        ),
        "c": open_case(engine, creditor="Telecom Zuid", debtor="k-c", policy={}),
    }
    # Energie Noord: 60.30 + 50.00 + 1.00 in April, 100.00 in March (not this period),
    # a refund of 10.00 queued in April and one of 5.00 cancelled (ignored).
    book(engine, refs["a1"], 6_030, date(2025, 4, 3), "bank-1")
    book(engine, refs["a1"], 5_000, date(2025, 4, 30), "bank-2")
    book(engine, refs["a2"], 100, date(2025, 4, 1), "bank-3")
    book(engine, refs["a2"], 10_000, date(2025, 3, 31), "bank-4")
    refund(engine, refs["a1"], 1_000, date(2025, 4, 20), "queued")
    refund(engine, refs["a1"], 500, date(2025, 4, 21), "cancelled")
    book(engine, refs["b"], 12_345, date(2025, 4, 15), "bank-5")
    book(engine, refs["c"], 7_000, date(2025, 4, 15), "bank-6")
    return refs


def test_commission_is_rounded_half_up_to_the_cent() -> None:
    assert payouts.commission_cents(30, 1500) == 5  # 4.5 cents -> 5 (half-even would give 4)
    assert payouts.commission_cents(10_030, 1500) == 1_505  # 1504.5 -> 1505
    assert payouts.commission_cents(10_029, 1500) == 1_504  # 1504.35
    assert payouts.commission_cents(0, 1500) == 0
    with pytest.raises(ValidationError):
        payouts.commission_cents(100, 10_001)


@pytest.mark.parametrize("version", ["pain.001.001.03", "pain.001.001.09"])
def test_each_creditor_is_paid_its_collections_less_refunds_and_commission(
    db_engine: Engine, shared_data: Path, version: str
) -> None:
    refs = portfolio(db_engine)
    result = run(db_engine, version[-2:])
    # Energie Noord: 60.30 + 50.00 + 1.00 - 10.00 = 101.30; 15 % = 15.195 -> 15.20.
    # Water West: 123.45; 10 % = 12.345 -> 12.35.
    assert result["payouts"] == [
        {
            "creditor": "Energie Noord",
            "collected": "101.30",
            "commission": "15.20",
            "payout": "86.10",
            "end_to_end_id": result["payouts"][0]["end_to_end_id"],
        },
        {
            "creditor": "Water West",
            "collected": "123.45",
            "commission": "12.35",
            "payout": "111.10",
            "end_to_end_id": result["payouts"][1]["end_to_end_id"],
        },
    ]
    assert result["skipped"] == [
        {"creditor": "Telecom Zuid", "reason": "no payout_iban in the creditor's policy"}
    ]
    doc = validated(shared_data, result["xml"], version)
    n = ns(version)
    grp = doc.xpath("//p:GrpHdr", namespaces=n)[0]
    assert grp.findtext("p:MsgId", namespaces=n) == result["message_id"]
    assert grp.findtext("p:NbOfTxs", namespaces=n) == "2"
    assert Decimal(grp.findtext("p:CtrlSum", namespaces=n)) == Decimal("197.20")
    txs = [
        (
            t.findtext("p:PmtId/p:EndToEndId", namespaces=n),
            t.findtext("p:Cdtr/p:Nm", namespaces=n),
            t.findtext("p:CdtrAcct/p:Id/p:IBAN", namespaces=n),
            Decimal(t.findtext("p:Amt/p:InstdAmt", namespaces=n)),
        )
        for t in doc.xpath("//p:CdtTrfTxInf", namespaces=n)
    ]
    assert [t[1:] for t in txs] == [
        ("Energie Noord", "DE89370400440532013000", Decimal("86.10")),
        ("Water West B.V.", "NL91ABNA0417164300", Decimal("111.10")),
    ]
    assert [t[0] for t in txs] == [p["end_to_end_id"] for p in result["payouts"]]
    debtor_iban = doc.xpath("//p:PmtInf/p:DbtrAcct/p:Id/p:IBAN", namespaces=n)[0].text
    assert debtor_iban == AGENCY.iban
    with db_engine.connect() as conn:
        rows = conn.execute(
            select(
                Payout.collected_cents,
                Payout.commission_cents,
                Payout.payout_cents,
                Payout.version,
                Payout.message_id,
            ).order_by(Payout.creditor_id)
        ).all()
    assert [tuple(r) for r in rows] == [
        (10_130, 1_520, 8_610, version, result["message_id"]),
        (12_345, 1_235, 11_110, version, result["message_id"]),
    ]
    lines = list(csv.DictReader(io.StringIO(payouts.statement_csv(result["statement"]))))
    by_case = {line["case_reference"]: line for line in lines}
    assert by_case[refs["a1"]]["collected"] == "110.30"
    assert by_case[refs["a1"]]["refunded"] == "10.00"
    assert by_case[refs["a1"]]["net"] == "100.30"
    assert by_case[refs["a2"]]["net"] == "1.00"  # the March payment is not in April
    assert by_case[refs["b"]]["creditor"] == "Water West"
    assert by_case[refs["b"]]["claim_refs"].startswith("INV-")


def test_an_overlapping_second_run_is_refused_and_the_next_period_is_paid(
    db_engine: Engine,
) -> None:
    refs = portfolio(db_engine)
    run(db_engine)
    with pytest.raises(ConflictError, match=r"already paid out for 2025-04-01\.\.2025-04-30"):
        run(db_engine, period=(date(2025, 4, 30), date(2025, 5, 1)))
    with db_engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Payout)).scalar_one() == 2
    book(db_engine, refs["b"], 2_000, date(2025, 5, 1), "bank-7")
    nxt = run(db_engine, period=(date(2025, 5, 1), date(2025, 5, 1)))
    assert [(p["creditor"], p["payout"]) for p in nxt["payouts"]] == [("Water West", "18.00")]


def test_a_period_that_has_not_ended_or_runs_backwards_is_refused(db_engine: Engine) -> None:
    with pytest.raises(ValidationError, match="--to"), db_engine.begin() as conn:
        payouts.run_payouts(conn, START, AFTER, version="03", on=AFTER, at=NOW, agency=AGENCY)
    with pytest.raises(ValidationError, match="--from"), db_engine.begin() as conn:
        payouts.run_payouts(
            conn, PERIOD[1], PERIOD[0], version="03", on=AFTER, at=NOW, agency=AGENCY
        )
    with pytest.raises(ValidationError, match="--version"), db_engine.begin() as conn:
        payouts.run_payouts(conn, *PERIOD, version="05", on=AFTER, at=NOW, agency=AGENCY)


def test_nothing_collected_writes_no_file_and_records_nothing(db_engine: Engine) -> None:
    ref = open_case(db_engine, creditor="Energie Noord", debtor="k-a1", policy=TERMS)
    book(db_engine, ref, 1_000, date(2025, 4, 2), "bank-1")
    refund(db_engine, ref, 1_000, date(2025, 4, 3), "paid")
    result = run(db_engine)
    assert result["xml"] is None
    assert result["skipped"] == [
        {"creditor": "Energie Noord", "reason": "nothing collected in the period after refunds"}
    ]
    with db_engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Payout)).scalar_one() == 0
