"""The CAMT.053/054 parser: safe, all-or-nothing, exact, and tolerant of real bank files.

Real files: ../shared/data/camt053 and camt054 (see SOURCES.md there for where each file
comes from). The figures asserted below were checked by hand against the XML.
Crafted files: tests/data/camt/ (entity attacks, a statement that is 0.01 off).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree  # type: ignore[import-untyped]  # no stubs for lxml

from respite.adapters.bank.camt import iter_statement_items, iter_transactions, read_statements
from respite.adapters.bank.model import BankTransaction, ParsedStatement
from respite.errors import InputError

CRAFTED = Path(__file__).resolve().parents[1] / "data" / "camt"
SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def sample_files() -> list[Path]:
    files: list[Path] = []
    for folder in ("camt053", "camt054"):
        directory = SHARED / folder
        if directory.is_dir():
            files += sorted(p for p in directory.iterdir() if p.name != "SOURCES.md")
    return files


def sample(name: str) -> Path:
    for folder in ("camt053", "camt054"):
        path = SHARED / folder / name
        if path.is_file():
            return path
    pytest.skip(reason=f"shared sample {name} not found under {SHARED}")


def only(statements: list[ParsedStatement]) -> ParsedStatement:
    assert len(statements) == 1
    return statements[0]


# --- every real sample imports ---------------------------------------------------------


@pytest.mark.parametrize("path", sample_files() or [None], ids=lambda p: p.name if p else "none")
def test_every_sample_file_imports_with_deviations_reported_not_fatal(path: Path | None) -> None:
    if path is None:
        pytest.skip(reason=f"no CAMT samples under {SHARED} (shared data lies beside the repo)")
    statements = read_statements(path)
    assert statements
    for statement in statements:
        assert statement.kind.startswith(("camt.053.001.", "camt.054.001."))
        assert statement.transactions
        keys = [t.key for t in statement.transactions]
        assert len(keys) == len(set(keys))
        for tx in statement.transactions:
            assert tx.amount_cents >= 0
            assert tx.direction in ("CRDT", "DBIT")
            assert tx.key.startswith(("a:", "c:"))
            assert len(tx.key) <= 64  # bank_entries.entry_key
        if statement.difference_cents:
            assert any(
                d.severity == "error" and "do not add up" in d.message for d in statement.deviations
            )


# Hand-checked: closing − opening − Σ booked entries, in cents. None = no balances.
BALANCES = {
    "FI_camt_053_sample.xml.xml": (1000000, 2364483, 0),
    "camt.053.001.02.xml": (50000000, 43567850, 0),  # SEK, no IBAN
    "camt053.xml": (83201, 211631, 0),
    "test-camt053-txdtls": (7596015, 7944315, 0),
    "valid_example.xml": (3306, 2306, 0),  # opening from PRCD (no OPBD)
    "valid_example_v4.xml": (32215216, 32268977, 0),
    # These do NOT add up (the import must say so):
    # 15568.27 − 754.25 − 664.05 + 1405.31 = 15555.28, closing 15121.12
    "test-camt053": (1556827, 1512112, -43416),
    # the 1537.00 CRDT entry (value date the next day) is missing from CLBD
    "camt053_P_CH2909000000250094239_1110092698_0_2020112503071366_v2019.xml": (
        21199319,
        21511221,
        -153700,
    ),
    # 82721.95 + 474.40 + 88.85 − 20.97 (an EUR entry on a CHF account) ≠ 84515.25
    "valid_example_v8.xml": (8272195, 8451525, 125102),
    # 7329.80 − 4753.74 + 2688.00 + 5000.00 = 10264.06, closing 23038.20
    "valid_example_with_batch.xml": (732980, 2303820, 1277414),
}
DO_NOT_ADD_UP = {name: diff for name, (_, _, diff) in BALANCES.items() if diff}


@pytest.mark.parametrize("name", sorted(BALANCES))
def test_balance_check_of_the_real_samples(name: str) -> None:
    opening, closing, difference = BALANCES[name]
    statement = only(read_statements(sample(name)))
    assert (statement.opening_cents, statement.closing_cents) == (opening, closing)
    assert statement.difference_cents == difference
    errors = [d for d in statement.deviations if "do not add up" in d.message]
    assert (len(errors) == 1) == (difference != 0)


def test_several_samples_do_not_add_up_and_are_listed() -> None:
    assert len(DO_NOT_ADD_UP) == 4
    found = {}
    for path in sample_files():
        for statement in read_statements(path):
            if statement.difference_cents:
                found[path.name] = statement.difference_cents
    if not sample_files():
        pytest.skip(reason=f"no CAMT samples under {SHARED}")
    assert found == DO_NOT_ADD_UP


@pytest.mark.parametrize(
    "name",
    [
        "gls_camt053.xml",
        "postfinance_camt053.xml",
        "statement_1.xml",
        "valid_example_with_datetime.xml",
    ],
)
def test_statements_without_both_balances_are_unchecked_and_say_so(name: str) -> None:
    statement = only(read_statements(sample(name)))
    assert statement.difference_cents is None
    assert any("unchecked" in d.message for d in statement.deviations)


def test_abn_amro_sample_transactions_by_hand() -> None:
    statement = only(read_statements(sample("test-camt053")))
    assert statement.account == "NL77ABNA0574908765"
    assert statement.kind == "camt.053.001.02"
    assert statement.entries_sum_cents == -1299
    first, returned_1, returned_2, credit = statement.transactions
    assert (first.amount_cents, first.direction, first.mandate_id) == (
        75425,
        "DBIT",
        "1880000341866",
    )
    assert first.counterparty_name == "INSURANCE COMPANY TESTX"
    assert first.bank_code == "PMNT/RDDT/ESDD"
    # The reversed batch of two returned direct debits, split per TxDtls.
    assert [returned_1.amount_cents, returned_2.amount_cents] == [56405, 10000]
    assert returned_1.reversal
    assert returned_2.reversal
    assert returned_1.return_reason == returned_2.return_reason == "AC06"
    assert returned_1.where == "Stmt[1]/Ntry[2]/NtryDtls/TxDtls[1]"
    assert returned_1.key != returned_2.key
    assert (credit.amount_cents, credit.direction, credit.end_to_end_id) == (140531, "CRDT", "115")
    assert (credit.counterparty_name, credit.counterparty_iban) == (
        "3rd party Media",
        "NL69ABNA0522123643",
    )


def test_camt053_v08_reads_status_code_party_and_references() -> None:
    statement = only(read_statements(sample("valid_example_v8.xml")))
    assert statement.kind == "camt.053.001.08"
    first, scor, eur = statement.transactions
    assert (first.amount_cents, first.status, first.counterparty_name) == (47440, "BOOK", "Jon Doe")
    assert first.key.startswith("a:")
    assert first.remittance == "INVOICE R77561"
    assert scor.structured_refs == ("RF38000000000000000000552",)
    assert (eur.currency, eur.amount_cents, eur.direction) == ("EUR", 2097, "DBIT")
    assert eur.counterparty_iban == "CH2222222222222222222"
    assert any("entry in EUR, account in CHF" in d.message for d in statement.deviations)


def test_newer_version_is_read_and_reported_as_unvalidated() -> None:
    statement = only(read_statements(sample("valid_example_with_datetime.xml")))
    assert statement.kind == "camt.053.001.10"
    assert any("not one we validated" in d.message for d in statement.deviations)
    (tx,) = statement.transactions
    assert tx.currency == "USD"
    assert tx.booking_date.isoformat().startswith("20")


def test_camt054_batch_and_informational_reversal() -> None:
    notification = only(read_statements(sample("FI_camt_054_sample.xml.xml")))
    assert notification.kind == "camt.054.001.02"
    assert notification.opening_cents is None
    assert notification.closing_cents is None
    assert len(notification.transactions) == 13
    info = [t for t in notification.transactions if t.status == "INFO"]
    assert [t.amount_cents for t in info] == [4000, 6000]
    assert all(t.reversal and t.direction == "CRDT" for t in info)
    # INFO entries move no booked balance: 26995 is the signed sum of the BOOK entries.
    assert notification.entries_sum_cents == 26995
    # the trailing space inside <Ref> is kept as written
    assert any("RF7812345 " in t.structured_refs for t in notification.transactions)


def test_trimmed_entry_without_amount_takes_it_from_its_txdtls() -> None:
    notification = only(read_statements(sample("postfinance_camt054.xml")))
    amounts = [(t.direction, t.amount_cents) for t in notification.transactions]
    assert amounts == [("DBIT", 300), ("CRDT", 1000), ("CRDT", 253), ("CRDT", 100)]
    assert any("taken from its TxDtls" in d.message for d in notification.deviations)
    # TxDtls AcctSvcrRef NOTPROVIDED is a placeholder, not a reference
    assert notification.transactions[0].acct_svcr_ref == "01542000B8GTEONK"


def test_a_bank_reusing_an_acct_svcr_ref_in_one_file_keeps_both_transactions() -> None:
    statement = only(read_statements(sample("gls_camt053.xml")))
    reused = [t for t in statement.transactions if t.acct_svcr_ref == "2024041210041357000"]
    assert len(reused) >= 2
    # The key binds the reference to amount, direction and date, so both are kept.
    assert len({t.key for t in reused}) == len(reused)
    assert len({t.key for t in statement.transactions}) == len(statement.transactions)


def test_sample_deviation_counts() -> None:
    """Pins how many deviations each sample has, so a change in tolerance is visible."""
    expected = {
        "camt053/FI_camt_053_sample.xml.xml": 4,
        "camt053/camt.053.001.02.xml": 1,
        "camt053/camt053.xml": 1,
        "camt053/camt053_P_CH2909000000250094239_1110092698_0_2020112503071366_v2019.xml": 2,
        "camt053/gls_camt053.xml": 5,
        "camt053/postfinance_camt053.xml": 5,
        "camt053/statement_1.xml": 2,
        "camt053/test-camt053": 1,
        "camt053/test-camt053-txdtls": 0,
        "camt053/valid_example.xml": 1,
        "camt053/valid_example_v4.xml": 0,
        "camt053/valid_example_v8.xml": 2,
        "camt053/valid_example_with_batch.xml": 1,
        "camt053/valid_example_with_datetime.xml": 3,
        "camt054/200519_camt054-ESR-ASR_P_CH2909000000250094239_1110092704_0_2019042500372179.xml": 0,
        "camt054/FI_camt_054_sample.xml.xml": 0,
        "camt054/postfinance_camt054.xml": 3,
        "camt054/valid_example.xml": 0,
    }
    files = sample_files()
    if not files:
        pytest.skip(reason=f"no CAMT samples under {SHARED}")
    counts = {
        f"{p.parent.name}/{p.name}": sum(len(s.deviations) for s in read_statements(p))
        for p in files
    }
    assert counts == {name: n for name, n in expected.items() if name in counts}


def test_samples_against_the_official_xsd_informational() -> None:
    """Which samples validate (informational; the parser does not require validity)."""
    xsd_dir = SHARED / "xsd"
    if not xsd_dir.is_dir():
        pytest.skip(reason=f"no XSDs under {xsd_dir}")
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    valid = set()
    for path in sample_files():
        tree = etree.parse(str(path), parser)
        namespace = etree.QName(tree.getroot()).namespace or ""
        schema_file = xsd_dir / (namespace.rsplit(":", 1)[-1] + ".xsd")
        if schema_file.is_file() and etree.XMLSchema(etree.parse(str(schema_file))).validate(tree):
            valid.add(path.name)
    assert {"camt.053.001.02.xml", "test-camt053", "valid_example_v4.xml"} <= valid
    assert "gls_camt053.xml" not in valid  # trimmed by its publisher, yet it imports


# --- crafted file: exact amounts, reversal, return reason, batches, a wrong balance -----


def test_crafted_statement_that_is_one_cent_off_is_reported_as_an_error() -> None:
    statement = only(read_statements(CRAFTED / "crafted_v02.xml"))
    assert statement.opening_cents == 100000
    assert statement.closing_cents == 123594290
    # 1234567.89 − 25.00 + 300.00 + 100.00 (the PDNG 5.00 is not booked)
    assert statement.entries_sum_cents == 123494289
    assert statement.difference_cents == 1
    (error,) = [d for d in statement.deviations if d.severity == "error"]
    assert error.where == "Stmt[1]"
    assert "difference 0.01 EUR" in error.message


def test_crafted_statement_fields() -> None:
    txs = only(read_statements(CRAFTED / "crafted_v02.xml")).transactions
    big, returned, a, b, c, kept_whole, pending = txs
    assert big.amount_cents == 123456789  # "1234567.89" exactly
    assert big.end_to_end_id is None  # NOTPROVIDED
    assert big.structured_refs == ("RF18 5390 0754 7034",)
    assert big.remittance == "first line second line"
    assert (big.counterparty_name, big.counterparty_iban) == ("Jan Jansen", "NL02ABNA0123456789")
    assert big.value_date == date(2024, 2, 28)
    assert big.key.startswith("c:")
    # A returned direct debit: money out, undoing a collection; the payer is the party.
    assert (returned.direction, returned.reversal, returned.return_reason) == ("DBIT", True, "MD06")
    assert (returned.mandate_id, returned.counterparty_name) == ("RSP-M-42", "Piet Pietersen")
    assert returned.acct_svcr_ref == "RET-0001"
    assert returned.key.startswith("a:")
    assert len({t.key for t in (a, b, c)}) == 3
    assert [t.amount_cents for t in (a, b, c)] == [10000, 15000, 5000]
    assert [t.mandate_id for t in (a, b, c)] == ["M-A", "M-B", "M-C"]
    assert (kept_whole.acct_svcr_ref, kept_whole.amount_cents) == ("BATCH-2", 10000)
    assert pending.status == "PDNG"


def test_txdtls_that_do_not_add_up_keep_the_entry_whole_with_a_deviation() -> None:
    statement = only(read_statements(CRAFTED / "crafted_v02.xml"))
    (deviation,) = [d for d in statement.deviations if d.where == "Stmt[1]/Ntry[4]"]
    assert "add up to 90.00" in deviation.message


# --- refusals: all or nothing ------------------------------------------------------------


def test_truncated_real_file_is_refused_whole_naming_line_and_column(tmp_path: Path) -> None:
    source = sample("valid_example_v4.xml").read_bytes()
    cut = tmp_path / "cut.xml"
    cut.write_bytes(source[: len(source) // 2])
    with pytest.raises(InputError, match=r"line \d+, column \d+") as caught:
        read_statements(cut)
    assert caught.value.field == "cut.xml"


def test_truncated_file_yields_nothing_from_read_statements(tmp_path: Path) -> None:
    source = (CRAFTED / "crafted_v02.xml").read_bytes()
    cut = tmp_path / "cut.xml"
    cut.write_bytes(source[: source.index(b"BATCH-2")])  # inside the fourth entry
    result: list[ParsedStatement] | None = None
    with pytest.raises(InputError, match="truncated"):
        result = read_statements(cut)
    assert result is None
    # the stream would have handed out transactions before the break: hence read_statements
    streamed: list[BankTransaction] = []
    with pytest.raises(InputError):
        streamed.extend(iter_transactions(cut))
    assert streamed


@pytest.mark.parametrize("name", ["xxe.xml", "billion_laughs.xml"])
def test_entity_attacks_are_refused_not_expanded(name: str) -> None:
    with pytest.raises(InputError, match="DOCTYPE declarations are refused") as caught:
        read_statements(CRAFTED / name)
    assert caught.value.field == name
    assert "root:" not in str(caught.value)


def test_doctype_hidden_from_the_byte_check_is_refused_by_the_parser(tmp_path: Path) -> None:
    text = (CRAFTED / "xxe.xml").read_text().replace('encoding="UTF-8"', 'encoding="UTF-16"')
    path = tmp_path / "xxe16.xml"
    path.write_bytes(text.encode("utf-16"))
    with pytest.raises(InputError, match="DOCTYPE"):
        read_statements(path)


def test_max_bytes_is_enforced_before_parsing() -> None:
    path = CRAFTED / "crafted_v02.xml"
    size = path.stat().st_size
    with pytest.raises(InputError, match="more than the limit"):
        read_statements(path, max_bytes=size - 1)
    assert read_statements(path, max_bytes=size)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty"),
        (b"%PDF-1.4 not a statement", "not an XML file"),
        (b"<Document><x/></Document>", "not a CAMT.053/054 file"),
        (
            b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.052.001.02"/>',
            "not a CAMT.053/054 file",
        ),
        (b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"><a></b>', "line 1"),
        (
            b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02">'
            b"<BkToCstmrStmt><GrpHdr><MsgId>x</MsgId></GrpHdr></BkToCstmrStmt></Document>",
            "holds no Stmt",
        ),
    ],
)
def test_files_that_are_not_camt_are_refused(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.xml"
    path.write_bytes(content)
    with pytest.raises(InputError, match=message):
        read_statements(path)


# --- keys ------------------------------------------------------------------------------

ENTRY = {
    "x": ("12.34", "CRDT", "<Ustrd>payment x</Ustrd>", "Ann"),
    "y": ("0.30", "CRDT", "<Ustrd>payment y</Ustrd>", "Bob"),
    "z": ("99.99", "DBIT", "<Ustrd>payment z</Ustrd>", "Cid"),
}


def statement_file(path: Path, statement_id: str, entries: list[str], day: str) -> Path:
    body = []
    for name in entries:
        amount, direction, remittance, party = ENTRY[name]
        role = "Dbtr" if direction == "CRDT" else "Cdtr"
        body.append(
            f"<Ntry><Amt Ccy='EUR'>{amount}</Amt><CdtDbtInd>{direction}</CdtDbtInd>"
            f"<Sts>BOOK</Sts><BookgDt><Dt>2024-05-0{ord(name) - 119}</Dt></BookgDt>"
            f"<NtryDtls><TxDtls><RltdPties><{role}><Nm>{party}</Nm></{role}></RltdPties>"
            f"<RmtInf>{remittance}</RmtInf></TxDtls></NtryDtls></Ntry>"
        )
    body.append(
        "<Ntry><Amt Ccy='EUR'>3.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts>BOOK</Sts>"
        "<BookgDt><Dt>2024-05-02</Dt></BookgDt><NtryDtls>"
        "<TxDtls><Amt Ccy='EUR'>1.00</Amt><RmtInf><Ustrd>same</Ustrd></RmtInf></TxDtls>"
        "<TxDtls><Amt Ccy='EUR'>2.00</Amt><RmtInf><Ustrd>same</Ustrd></RmtInf></TxDtls>"
        "</NtryDtls></Ntry>"
    )
    path.write_text(
        "<?xml version='1.0' encoding='UTF-8'?>"
        "<Document xmlns='urn:iso:std:iso:20022:tech:xsd:camt.053.001.08'><BkToCstmrStmt>"
        f"<GrpHdr><MsgId>M-{statement_id}</MsgId></GrpHdr><Stmt><Id>{statement_id}</Id>"
        "<Acct><Id><IBAN>BE68539007547034</IBAN></Id></Acct>" + "".join(body) + "</Stmt>"
        f"</BkToCstmrStmt></Document><!-- {day} -->"
    )
    return path


def test_the_same_entry_in_overlapping_statements_has_the_same_key(tmp_path: Path) -> None:
    first = only(read_statements(statement_file(tmp_path / "a.xml", "A", ["x", "y"], "1")))
    second = only(read_statements(statement_file(tmp_path / "b.xml", "B", ["y", "z"], "2")))
    keys_a = {t.remittance: t.key for t in first.transactions}
    keys_b = {t.remittance: t.key for t in second.transactions}
    assert keys_a["payment y"] == keys_b["payment y"]
    assert keys_a["payment x"] not in keys_b.values()
    assert keys_b["payment z"] not in keys_a.values()
    # the y entry is the first of its file in B and the second in A: position is not keyed
    assert first.transactions[1].where != second.transactions[0].where


def test_txdtls_of_one_entry_have_distinct_keys_even_with_the_same_text(tmp_path: Path) -> None:
    statement = only(read_statements(statement_file(tmp_path / "a.xml", "A", ["x"], "1")))
    one, two = [t for t in statement.transactions if t.remittance == "same"]
    assert (one.amount_cents, two.amount_cents) == (100, 200)
    assert one.key != two.key
    assert not any("numbered" in d.message for d in statement.deviations)


def test_streaming_yields_each_statement_after_its_transactions(tmp_path: Path) -> None:
    path = statement_file(tmp_path / "a.xml", "A", ["x", "y", "z"], "1")
    items = list(iter_statement_items(path))
    assert [type(i).__name__ for i in items] == ["BankTransaction"] * 5 + ["ParsedStatement"]
    last = items[-1]
    assert isinstance(last, ParsedStatement)
    assert last.transactions == ()
    assert last.entries_sum_cents == 1234 + 30 - 9999 + 300


@settings(max_examples=40, deadline=None)
@given(
    st.decimals(
        min_value=Decimal("0"), max_value=Decimal("99999999999.99"), places=2, allow_nan=False
    )
)
def test_amounts_are_exact_cents(tmp_path_factory: pytest.TempPathFactory, value: Decimal) -> None:
    """Invariant: an amount written with two decimals reads back as exactly value × 100."""
    path = tmp_path_factory.mktemp("amt") / "a.xml"
    ENTRY["x"] = (str(value), "CRDT", "<Ustrd>p</Ustrd>", "Ann")
    try:
        statement = only(read_statements(statement_file(path, "A", ["x"], "1")))
    finally:
        ENTRY["x"] = ("12.34", "CRDT", "<Ustrd>payment x</Ustrd>", "Ann")
    assert statement.transactions[0].amount_cents == int(value * 100)
    assert statement.entries_sum_cents == int(value * 100) + 300
