"""The CAMT.053 writer's output validates against the official XSDs (001.02 and 001.08)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from lxml import etree  # type: ignore[import-untyped]  # no stubs for lxml

from respite.adapters.bank.camt_writer import write_camt053
from respite.adapters.bank.model import BankTransaction

DAY = date(2025, 3, 3)
TXS = (
    BankTransaction(
        "k1",
        "NL91ABNA0417164300",
        DAY,
        DAY,
        "CRDT",
        12345,
        "EUR",
        acct_svcr_ref="A1",
        structured_refs=("RF18539007547034",),
        counterparty_name="Jan & Co <BV>",
        counterparty_iban="NL02ABNA0123456789",
    ),
    BankTransaction(
        "k2",
        "NL91ABNA0417164300",
        DAY,
        None,
        "DBIT",
        500,
        "EUR",
        end_to_end_id="E2E1",
        mandate_id="M1",
        return_reason="AC04",
        remittance="factuur R000000001",
    ),
    BankTransaction(
        "k3",
        "NL91ABNA0417164300",
        DAY,
        DAY,
        "DBIT",
        700,
        "EUR",
        reversal=True,
        structured_refs=("1067931951601240",),
    ),
)


@pytest.mark.parametrize("version", ["001.02", "001.08"])
def test_the_written_statement_validates_against_the_official_schema(
    version: str, tmp_path: Path, shared_data: Path
) -> None:
    path = tmp_path / "s.xml"
    closing = write_camt053(
        path,
        version=version,
        account="NL91ABNA0417164300",
        currency="EUR",
        opening_cents=1000,
        transactions=TXS,
        message_id="M",
        statement_id="S",
        created=datetime(2025, 3, 3, 22, tzinfo=UTC),
    )
    assert closing == 1000 + 12345 - 500 - 700
    schema = etree.XMLSchema(etree.parse(str(shared_data / "xsd" / f"camt.053.{version}.xsd")))
    doc = etree.parse(str(path))
    assert schema.validate(doc), schema.error_log
    ns = {"c": f"urn:iso:std:iso:20022:tech:xsd:camt.053.{version}"}
    assert len(doc.findall(".//c:Ntry", ns)) == 3
