"""SEPA Direct Debit end to end: mandate, pre-notification, pain.008 batch, idempotence.

Every generated file is validated against the official ISO 20022 XSD of its version
(../shared/data/xsd, see its SOURCES.md) and read back: counts, control sums, sequence
types, EndToEndIds and mandate ids must be the ones recorded in the database.
"""

from __future__ import annotations

import hashlib
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from lxml import etree  # type: ignore[import-untyped]
from sqlalchemy import Connection, Engine, func, insert, select

from respite.adapters.db.models import (
    Case,
    Claim,
    DirectDebit,
    DirectDebitBatch,
    Event,
    Hold,
    Instalment,
    Mandate,
)
from respite.domain.money import Money
from respite.domain.references import case_payment_references
from respite.errors import ConflictError, InputError
from respite.services import plans, sepa
from respite.services.agency import agency_from_env, case_payment_details
from respite.services.store import (
    NewCase,
    NewClaim,
    NewDebtor,
    case_reference,
    ensure_creditor,
    open_cases,
    upsert_debtors,
)

from .portfolio import NOW

START = date(2025, 3, 3)
AGENCY = agency_from_env({})
DEBTOR_IBAN = "NL02ABNA0123456789"


def open_case(
    engine: Engine,
    *,
    creditor: str = "Energie Noord",
    debtor: str = "k-anna",
    amount: str = "300.00",
    policy: dict[str, object] | None = None,
    currency: str = "EUR",
) -> str:
    """One case of one claim; returns its reference."""
    with engine.begin() as conn:
        ids = upsert_debtors(
            conn,
            [
                NewDebtor(
                    debtor,
                    "consumer",
                    f"Debtor {debtor}",
                    "NL",
                    "nl",
                    "Europe/Amsterdam",
                    email=f"{debtor}@example.org",
                )
            ],
            now=NOW,
        )
        creditor_id = ensure_creditor(
            conn, creditor, jurisdiction="NL", currency=currency, now=NOW, policy=policy
        )
        n = conn.execute(select(func.count()).select_from(Claim)).scalar_one()
        (case_id,) = open_cases(
            conn,
            creditor_id,
            [
                NewCase(
                    debtor,
                    (
                        NewClaim(
                            f"INV-{n}",
                            START - timedelta(days=60),
                            START - timedelta(days=30),
                            Money.of(amount, currency),
                        ),
                    ),
                )
            ],
            ids,
            on=START,
            actor="test",
            reason="test",
            now=NOW,
        )
    return case_reference(case_id)


def plan_for(engine: Engine, reference: str, instalment: int = 10_000) -> list[Any]:
    """An active monthly plan (payday 25); returns the case's instalments by due date."""
    result = plans.propose(
        engine,
        reference,
        on=START,
        instalment_cents=instalment,
        at=NOW,
        proposed_by="debtor",
        payday=25,
    )
    assert result["status"] == "active"
    with engine.connect() as conn:
        return list(
            conn.execute(
                select(Instalment)
                .join(Case, Case.id == Instalment.case_id)
                .where(Case.reference == reference)
                .order_by(Instalment.due_date)
            ).all()
        )


def add_mandate(
    engine: Engine, reference: str, mandate_id: str = "MND-1", **kwargs: Any
) -> dict[str, Any]:
    with engine.begin() as conn:
        return sepa.add_mandate(
            conn,
            reference,
            mandate_id=mandate_id,
            signed_on=START - timedelta(days=1),
            iban=DEBTOR_IBAN,
            on=START,
            at=NOW,
            **kwargs,
        )


def collect(engine: Engine, day: date, version: str = "08", **kwargs: Any) -> dict[str, Any]:
    with engine.begin() as conn:
        return sepa.collect(
            conn, day, version=version, on=day - timedelta(days=2), at=NOW, agency=AGENCY, **kwargs
        )


def prenotify(engine: Engine, on: date, **kwargs: Any) -> dict[str, Any]:
    with engine.begin() as conn:
        return sepa.prenotify(conn, on, agency=AGENCY, **kwargs)


def schema(shared_data: Path, version: str) -> etree.XMLSchema:
    path = shared_data / "xsd" / f"{version}.xsd"
    if not path.is_file():
        pytest.skip(reason=f"official XSD {path.name} not found in {path.parent}")
    return etree.XMLSchema(etree.parse(str(path)))


def validated(shared_data: Path, xml: bytes, version: str) -> etree._Element:
    """The parsed document, after asserting that it validates against the official XSD."""
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
    )
    doc = etree.fromstring(xml, parser)
    xsd = schema(shared_data, version)
    assert xsd.validate(doc), xsd.error_log
    assert doc.tag == f"{{urn:iso:std:iso:20022:tech:xsd:{version}}}Document"
    return doc


def ns(version: str) -> dict[str, str]:
    return {"p": f"urn:iso:std:iso:20022:tech:xsd:{version}"}


def debits(doc: etree._Element, version: str) -> list[dict[str, Any]]:
    out = []
    for pmt in doc.xpath("//p:PmtInf", namespaces=ns(version)):
        seq = pmt.findtext("p:PmtTpInf/p:SeqTp", namespaces=ns(version))
        txs = pmt.xpath("p:DrctDbtTxInf", namespaces=ns(version))
        assert int(pmt.findtext("p:NbOfTxs", namespaces=ns(version))) == len(txs)
        amounts = [Decimal(t.findtext("p:InstdAmt", namespaces=ns(version))) for t in txs]
        assert Decimal(pmt.findtext("p:CtrlSum", namespaces=ns(version))) == sum(amounts)
        for t, amount in zip(txs, amounts, strict=True):
            out.append(
                {
                    "sequence": seq,
                    "end_to_end_id": t.findtext("p:PmtId/p:EndToEndId", namespaces=ns(version)),
                    "amount": amount,
                    "mandate": t.findtext(
                        "p:DrctDbtTx/p:MndtRltdInf/p:MndtId", namespaces=ns(version)
                    ),
                    "iban": t.findtext("p:DbtrAcct/p:Id/p:IBAN", namespaces=ns(version)),
                    "collection_date": pmt.findtext("p:ReqdColltnDt", namespaces=ns(version)),
                }
            )
    return out


def header(doc: etree._Element, version: str) -> tuple[str, int, Decimal]:
    grp = doc.xpath("//p:GrpHdr", namespaces=ns(version))[0]
    return (
        grp.findtext("p:MsgId", namespaces=ns(version)),
        int(grp.findtext("p:NbOfTxs", namespaces=ns(version))),
        Decimal(grp.findtext("p:CtrlSum", namespaces=ns(version))),
    )


@pytest.mark.parametrize("version", ["pain.008.001.02", "pain.008.001.08"])
def test_a_prenotified_instalment_is_collected_once_in_a_file_that_validates(
    db_engine: Engine, shared_data: Path, version: str
) -> None:
    ref = open_case(db_engine)
    instalments = plan_for(db_engine, ref)
    first = instalments[0]
    add_mandate(db_engine, ref)
    notice = prenotify(db_engine, first.due_date - timedelta(days=14), horizon_days=0)
    assert notice["queued"] == 1
    (payload,) = notice["notices"]
    assert payload["amount_cents"] == first.amount_cents
    assert payload["collection_date"] == first.due_date.isoformat()
    assert (payload["mandate_id"], payload["creditor_id"]) == ("MND-1", AGENCY.creditor_id)
    assert prenotify(db_engine, first.due_date - timedelta(days=14))["queued"] == 0

    result = collect(db_engine, first.due_date, version=version[-2:])
    assert result["transactions"] == 1
    assert result["skipped"] == []
    doc = validated(shared_data, result["xml"], version)
    msg_id, count, total = header(doc, version)
    assert (msg_id, count) == (result["message_id"], 1)
    assert total == Money.from_minor_units(first.amount_cents).amount
    (tx,) = debits(doc, version)
    assert tx == {
        "sequence": "FRST",
        "end_to_end_id": f"RSP-{first.case_id}-{first.id}",
        "amount": Money.from_minor_units(first.amount_cents).amount,
        "mandate": "MND-1",
        "iban": DEBTOR_IBAN,
        "collection_date": first.due_date.isoformat(),
    }
    creditor_id = doc.xpath("//p:CdtrSchmeId//p:Othr/p:Id", namespaces=ns(version))[0].text
    assert creditor_id == AGENCY.creditor_id
    with db_engine.connect() as conn:
        batch = conn.execute(select(DirectDebitBatch)).one()
        assert batch.sha256 == hashlib.sha256(result["xml"]).hexdigest()
        assert (batch.version, batch.transactions, batch.total_cents) == (
            version,
            1,
            first.amount_cents,
        )
        dd = conn.execute(select(DirectDebit)).one()
        assert (dd.instalment_id, dd.sequence, dd.status) == (first.id, "FRST", "sent")
        assert conn.execute(select(Mandate.first_collected_on)).scalar_one() == first.due_date
        kinds = conn.execute(select(Event.kind).where(Event.case_id == first.case_id)).scalars()
        assert "direct_debit_initiated" in set(kinds)

    again = collect(db_engine, first.due_date, version=version[-2:])
    assert again["transactions"] == 0
    assert again["xml"] is None
    with db_engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(DirectDebit)).scalar_one() == 1


def test_a_plan_is_collected_first_recurring_then_final_and_the_mandate_ends(
    db_engine: Engine, shared_data: Path
) -> None:
    ref = open_case(db_engine)
    instalments = plan_for(db_engine, ref)
    assert len(instalments) >= 3
    add_mandate(db_engine, ref)
    prenotify(db_engine, START, horizon_days=400)  # every instalment, well in advance
    sequences = []
    for inst in instalments:
        result = collect(db_engine, inst.due_date, version="02")
        (tx,) = debits(validated(shared_data, result["xml"], "pain.008.001.02"), "pain.008.001.02")
        assert tx["end_to_end_id"] == f"RSP-{inst.case_id}-{inst.id}"
        sequences.append(tx["sequence"])
    assert sequences == ["FRST"] + ["RCUR"] * (len(instalments) - 2) + ["FNAL"]
    with db_engine.connect() as conn:
        assert conn.execute(select(Mandate.status)).scalar_one() == "ended"
        assert conn.execute(select(func.count()).select_from(DirectDebitBatch)).scalar_one() == len(
            instalments
        )


def test_collections_without_a_timely_prenotification_are_skipped_with_the_reason(
    db_engine: Engine,
) -> None:
    ref = open_case(db_engine)
    first, second, *_ = plan_for(db_engine, ref)
    add_mandate(db_engine, ref)
    # Only 10 days' notice for the first; none at all for the second.
    prenotify(db_engine, first.due_date - timedelta(days=10), days=10, horizon_days=0)
    result = collect(db_engine, first.due_date)
    assert result["transactions"] == 0
    assert result["xml"] is None
    (skip,) = result["skipped"]
    assert skip["instalment"] == first.id
    assert "less than 14 days" in skip["reason"]
    # Agreed shorter notice (the rulebook allows it by agreement): collected.
    agreed = collect(db_engine, first.due_date, prenotification_days=10)
    assert agreed["transactions"] == 1
    (skip,) = collect(db_engine, second.due_date)["skipped"]
    assert skip["reason"] == "not pre-notified"


def test_a_one_off_mandate_collects_once_and_held_or_unmandated_cases_are_skipped(
    db_engine: Engine, shared_data: Path
) -> None:
    ref = open_case(db_engine)
    held = open_case(db_engine, creditor="Water West", debtor="k-bob")
    bare = open_case(db_engine, creditor="Telecom Zuid", debtor="k-cem")
    first, second, *_ = plan_for(db_engine, ref)
    held_first = plan_for(db_engine, held)[0]
    plan_for(db_engine, bare)
    add_mandate(db_engine, ref, "MND-OOFF", recurring=False)
    add_mandate(db_engine, held, "MND-HELD")
    with db_engine.begin() as conn:
        conn.execute(
            insert(Hold).values(
                case_id=held_first.case_id,
                kind="dispute",
                start=START,
                until=None,
                reason="disputed",
                placed_by="test",
            )
        )
    prenotify(db_engine, START, horizon_days=400)
    result = collect(db_engine, first.due_date)
    assert [c["sequence"] for c in result["collections"]] == ["OOFF"]
    (tx,) = debits(validated(shared_data, result["xml"], "pain.008.001.08"), "pain.008.001.08")
    assert (tx["sequence"], tx["mandate"]) == ("OOFF", "MND-OOFF")
    reasons = {s["case"]: s["reason"] for s in result["skipped"]}
    assert reasons == {held: "case is on hold (dispute)", bare: "no active SEPA mandate"}
    later = collect(db_engine, second.due_date)
    assert {s["case"]: s["reason"] for s in later["skipped"]}[ref] == "no active SEPA mandate"


def test_one_debtor_mandate_collects_every_case_of_a_shared_plan_in_one_batch(
    db_engine: Engine, shared_data: Path
) -> None:
    refs = [
        open_case(db_engine, creditor=name, amount=amount)
        for name, amount in (("Energie Noord", "1200.00"), ("Water West", "300.00"))
    ]
    plans.propose(
        db_engine,
        refs[0],
        on=START,
        instalment_cents=20_000,
        at=NOW,
        proposed_by="debtor",
        all_cases=True,
        payday=25,
    )
    add_mandate(db_engine, refs[0], "MND-ALL", debtor_wide=True)
    with db_engine.connect() as conn:
        due = conn.execute(select(func.min(Instalment.due_date))).scalar_one()
        expected = dict(
            conn.execute(
                select(Instalment.id, Instalment.amount_cents).where(Instalment.due_date == due)
            ).all()
        )
    prenotify(db_engine, due - timedelta(days=14), horizon_days=0)
    result = collect(db_engine, due, version="02")
    doc = validated(shared_data, result["xml"], "pain.008.001.02")
    txs = debits(doc, "pain.008.001.02")
    assert len(txs) == len(expected) == 2
    assert {t["mandate"] for t in txs} == {"MND-ALL"}
    assert header(doc, "pain.008.001.02")[1:] == (
        2,
        Money.from_minor_units(sum(expected.values())).amount,
    )
    assert sorted(int(t["end_to_end_id"].rsplit("-", 1)[1]) for t in txs) == sorted(expected)


def test_a_mandate_is_checked_when_recorded(db_engine: Engine) -> None:
    ref = open_case(db_engine)
    with pytest.raises(InputError, match="--iban"), db_engine.begin() as conn:
        sepa.add_mandate(
            conn,
            ref,
            mandate_id="MND-X",
            signed_on=START,
            iban="NL03ABNA0123456789",
            on=START,
            at=NOW,
        )
    with pytest.raises(InputError, match="--mandate-id"), db_engine.begin() as conn:
        sepa.add_mandate(
            conn, ref, mandate_id="MND/ü", signed_on=START, iban=DEBTOR_IBAN, on=START, at=NOW
        )
    with pytest.raises(InputError, match="--signed-on"), db_engine.begin() as conn:
        sepa.add_mandate(
            conn,
            ref,
            mandate_id="MND-Y",
            signed_on=START + timedelta(days=1),
            iban=DEBTOR_IBAN,
            on=START,
            at=NOW,
        )
    add_mandate(db_engine, ref)
    with pytest.raises(ConflictError, match="already recorded"):
        add_mandate(db_engine, ref)
    with db_engine.begin() as conn:
        sepa.revoke_mandate(conn, "MND-1", on=START, at=NOW, reason="debtor asked")
    first = plan_for(db_engine, ref)[0]
    prenotify(db_engine, START, horizon_days=400)
    assert collect(db_engine, first.due_date)["skipped"][0]["reason"] == "no active SEPA mandate"


def _details(conn: Connection, ref: str) -> dict[str, Any]:
    return case_payment_details(conn, ref, agency=AGENCY)


def test_payment_details_give_the_open_amount_references_and_an_epc_payload(
    db_engine: Engine,
) -> None:
    ref = open_case(db_engine, amount="123.45")
    pln = open_case(db_engine, creditor="Polska", debtor="k-pl", currency="PLN")
    with db_engine.connect() as conn:
        case_id = conn.execute(select(Case.id).where(Case.reference == ref)).scalar_one()
        details = _details(conn, ref)
        refs = case_payment_references(case_id)
        assert (details["open_amount"], details["rf"], details["betalingskenmerk"]) == (
            "123.45",
            refs.rf,
            refs.betalingskenmerk,
        )
        assert details["reference_for_debtor"] == refs.betalingskenmerk  # an NL debtor
        assert details["epc_payload"].split("\n") == [
            "BCD",
            "002",
            "1",
            "SCT",
            AGENCY.bic,
            AGENCY.name,
            AGENCY.iban,
            "EUR123.45",
            "",
            refs.rf,
        ]
        polish = _details(conn, pln)
        assert polish["epc_payload"] is None
        assert "euro only" in polish["epc_unavailable"]
        with pytest.raises(InputError, match="no case"):
            _details(conn, "R999999999")
