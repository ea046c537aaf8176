"""Claim intake without a database: reading CSV and JSON, and the per-row report."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from respite.domain.money import Currency
from respite.errors import ValidationError
from respite.services.intake import (
    FIELDS,
    REQUIRED,
    CreditorTerms,
    IntakeReport,
    RawRow,
    group_cases,
    parse_claims,
    read_claims_file,
    validate_rows,
)

DATA = Path(__file__).resolve().parents[1] / "data"
ON = date(2026, 1, 5)
NL = CreditorTerms("Waterbedrijf Oost", "NL", Currency.EUR)

GOOD = {
    "external_ref": "WBO-1",
    "debtor_type": "consumer",
    "debtor_name": "Anna de Vries",
    "debtor_email": "anna.devries@ziggo.nl",
    "debtor_iban": "NL91ABNA0417164300",
    "debtor_postcode": "3511 LK",
    "issue_date": "2025-10-01",
    "due_date": "2025-10-15",
    "amount": "48,75",
}


def csv_bytes(*rows: dict[str, str], sep: str = ",") -> bytes:
    columns = list(dict.fromkeys(k for row in rows for k in row))
    lines = [sep.join(columns)]
    lines += [sep.join(_quoted(row.get(c, ""), sep) for c in columns) for row in rows]
    return ("\n".join(lines) + "\n").encode()


def _quoted(value: str, sep: str) -> str:
    return f'"{value}"' if sep in value else value


def check(data: bytes, name: str = "claims.csv", terms: CreditorTerms = NL) -> IntakeReport:
    return validate_rows(parse_claims(data, name), terms, on=ON)


def only_problem(report: IntakeReport) -> tuple[int, str, str, str]:
    assert len(report.problems) == 1, report.lines()
    p = report.problems[0]
    return p.row, p.field, p.value, p.message


# --- good files ----------------------------------------------------------------------


def test_the_sample_csv_is_valid_and_groups_claims_by_debtor() -> None:
    report = validate_rows(read_claims_file(DATA / "claims_ok.csv").rows, NL, on=ON)
    assert report.ok
    assert report.rows_total == len(report.valid) == 6
    debtors, cases = group_cases(report.valid)
    assert len(debtors) == 4
    assert [len(c.claims) for c in cases] == [2, 1, 2, 1]


def test_a_semicolon_csv_with_continental_amounts_is_read() -> None:
    report = check(
        csv_bytes(GOOD, {**GOOD, "external_ref": "WBO-2", "amount": "1.234,56"}, sep=";")
    )
    assert report.ok, report.lines()
    assert [v.claim.principal.amount for v in report.valid] == [
        Decimal("48.75"),
        Decimal("1234.56"),
    ]


@pytest.mark.parametrize("typed", ["1.234,56", "1,234.56", "1234.56", "1234,56", "€ 1.234,56"])
def test_both_amount_styles_give_the_same_cents(typed: str) -> None:
    report = check(csv_bytes({**GOOD, "amount": typed}))
    assert report.ok, report.lines()
    assert report.valid[0].claim.principal.minor_units == 123456


def test_json_list_and_claims_object_read_alike() -> None:
    as_list = json.dumps([GOOD]).encode()
    as_object = json.dumps({"claims": [GOOD]}).encode()
    a, b = check(as_list, "c.json"), check(as_object, "c.json")
    assert a.ok
    assert b.ok
    assert a.valid == b.valid


def test_a_json_number_amount_is_read_exactly() -> None:
    data = b'[{"external_ref": "T-1", "debtor_type": "consumer", "debtor_name": "Daan Mulder",'
    data += b' "issue_date": "2025-10-20", "due_date": "2025-11-03", "amount": 412.35}]'
    report = check(data, "c.json")
    assert report.ok, report.lines()
    assert report.valid[0].claim.principal.amount == Decimal("412.35")


def test_the_json_sample_file_is_valid() -> None:
    report = validate_rows(read_claims_file(DATA / "claims.json").rows, NL, on=ON)
    assert report.ok, report.lines()
    assert report.rows_total == 3


def test_defaults_come_from_the_creditor_and_the_country() -> None:
    be = CreditorTerms("Brusselse Waterwerken", "BE", Currency.EUR)
    report = check(csv_bytes({**GOOD, "debtor_iban": ""}), terms=be)
    debtor, claim = report.valid[0].debtor, report.valid[0].claim
    assert (debtor.country, debtor.language, debtor.timezone) == ("BE", "nl", "Europe/Brussels")
    assert claim.principal.currency is Currency.EUR
    assert claim.interest_kind == "consumer"


def test_a_polish_debtor_defaults_to_polish() -> None:
    report = check(csv_bytes({**GOOD, "debtor_country": "pl"}))
    assert report.valid[0].debtor.language == "pl"


def test_a_business_debtor_owes_commercial_interest() -> None:
    row = {**GOOD, "debtor_type": "Business", "debtor_company_number": "30123456"}
    valid = check(csv_bytes(row)).valid[0]
    assert valid.debtor.kind == "business"
    assert valid.claim.interest_kind == "commercial"
    assert valid.debtor.identity_key == "co:30123456"


def test_iban_and_email_are_stored_in_normal_form() -> None:
    report = check(csv_bytes({**GOOD, "debtor_iban": "nl91 abna 0417 1643 00"}))
    assert report.valid[0].debtor.iban == "NL91ABNA0417164300"


def test_rows_of_one_debtor_become_one_case() -> None:
    rows = [GOOD, {**GOOD, "external_ref": "WBO-2", "debtor_name": "anna DE vries"}]
    rows.append({**GOOD, "external_ref": "WBO-3", "debtor_name": "Daan Mulder"})
    debtors, cases = group_cases(check(csv_bytes(*rows)).valid)
    assert len(debtors) == 2
    assert [[c.external_ref for c in case.claims] for case in cases] == [
        ["WBO-1", "WBO-2"],
        ["WBO-3"],
    ]


# --- problems ------------------------------------------------------------------------

PROBLEMS = [
    ("debtor_name", "", "is required"),
    ("external_ref", "", "is required"),
    ("amount", "", "is required"),
    ("amount", "0,00", "must be more than zero"),
    ("amount", "-5", "must be more than zero"),
    ("amount", "12,3,45", "malformed amount"),
    ("amount", "veertig", "not an amount"),
    ("amount", "1.234", "ambiguous amount"),
    ("amount", "12,345", "ambiguous amount"),
    ("currency", "XYZ", "unknown currency"),
    ("currency", "PLN", "takes claims in EUR only"),
    ("issue_date", "2025-02-30", "is not a date in the calendar"),
    ("issue_date", "01-10-2025", "expected a date as YYYY-MM-DD"),
    ("due_date", "2025-09-30", "is before the issue date 2025-10-01"),
    ("due_date", "2026-01-05", "is not yet overdue on 2026-01-05"),
    ("debtor_iban", "NL91ABNA0417164301", "malformed IBAN"),
    ("debtor_iban", "NL91ABNA04171643", "malformed IBAN"),
    ("debtor_email", "anna.devries@", "malformed e-mail address"),
    ("debtor_email", "anna devries@ziggo.nl", "malformed e-mail address"),
    ("debtor_type", "particulier", "unknown debtor type"),
    ("debtor_company_number", "30123456", "only a business debtor has one"),
    ("debtor_country", "Nederland", "two-letter country code"),
    ("debtor_birth_date", "2026-02-01", "is not before 2026-01-05"),
    ("debtor_phone", "bel maar", "malformed phone number"),
    ("description", "x" * 301, "is longer than 300 characters"),
]


@pytest.mark.parametrize(("field", "value", "message"), PROBLEMS)
def test_each_problem_names_row_field_and_value(field: str, value: str, message: str) -> None:
    report = check(csv_bytes(GOOD, {**GOOD, "external_ref": "WBO-2", field: value}))
    row, found_field, found_value, found_message = only_problem(report)
    assert (row, found_field, found_value) == (3, field, value)
    assert message in found_message
    assert [v.row for v in report.valid] == [2]


def test_the_report_lists_every_problem_of_every_row() -> None:
    rows = [
        {**GOOD, "external_ref": "A", "amount": "-1", "debtor_iban": "NL00XXXX"},
        {**GOOD, "external_ref": "B"},
        {**GOOD, "external_ref": "C", "debtor_type": "", "debtor_email": "x@", "currency": "ABC"},
        {**GOOD, "external_ref": "D", "issue_date": "2025-11-01", "due_date": "2025-10-01"},
    ]
    report = check(csv_bytes(*rows))
    found = {(p.row, p.field) for p in report.problems}
    assert found == {
        (2, "amount"),
        (2, "debtor_iban"),
        (4, "debtor_type"),
        (4, "debtor_email"),
        (4, "currency"),
        (5, "due_date"),
    }
    assert report.invalid_rows == (2, 4, 5)
    assert [v.row for v in report.valid] == [3]
    assert report.lines()[0].startswith("row 2, ")


def test_the_problem_line_reads_naturally() -> None:
    report = check(csv_bytes({**GOOD, "amount": "-5"}))
    assert report.lines() == ["row 2, amount: '-5' — must be more than zero"]


def test_every_repeat_of_an_external_ref_after_the_first_is_reported() -> None:
    report = check(csv_bytes(GOOD, GOOD, {**GOOD, "external_ref": "WBO-9"}, GOOD))
    dupes = [(p.row, p.field, p.message) for p in report.problems]
    assert dupes == [
        (3, "external_ref", "duplicate external reference: also on row 2"),
        (5, "external_ref", "duplicate external reference: also on row 2"),
    ]
    assert [v.row for v in report.valid] == [2, 4]


def test_a_reference_already_on_file_for_the_creditor_is_a_duplicate() -> None:
    rows = parse_claims(csv_bytes(GOOD, {**GOOD, "external_ref": "WBO-2"}), "c.csv")
    report = validate_rows(rows, NL, on=ON, known_refs={"WBO-1"})
    assert only_problem(report)[:2] == (2, "external_ref")
    assert "already imported" in report.problems[0].message


def test_rows_are_numbered_by_their_line_in_the_csv_file() -> None:
    text = (
        "external_ref,debtor_type,debtor_name,description,issue_date,due_date,amount\n"
        'WBO-1,consumer,Anna de Vries,Water,2025-10-01,2025-10-15,"48,75"\n'
        "\n"
        'WBO-2,consumer,Anna de Vries,"Water,\nseptember",2025-10-01,2025-10-15,12.00\n'
        "WBO-3,consumer,Anna de Vries,Water,2025-10-01,2025-10-15,0\n"
    )
    # line 1 header, 2 a claim, 3 blank, 4-5 one claim over two lines, 6 the bad claim
    report = check(text.encode())
    assert only_problem(report)[:2] == (6, "amount")
    assert [v.row for v in report.valid] == [2, 4]


def test_a_debtor_abroad_needs_a_language() -> None:
    report = check(csv_bytes({**GOOD, "debtor_country": "DE"}))
    assert only_problem(report)[:2] == (2, "debtor_language")
    ok = check(csv_bytes({**GOOD, "debtor_country": "DE", "debtor_language": "de"}))
    assert ok.valid[0].debtor.language == "de"


def test_one_debtor_cannot_be_both_consumer_and_business() -> None:
    rows = [GOOD, {**GOOD, "external_ref": "WBO-2", "debtor_type": "business"}]
    assert only_problem(check(csv_bytes(*rows)))[:2] == (3, "debtor_type")


def test_a_csv_row_with_too_few_values_is_a_row_problem() -> None:
    data = csv_bytes(GOOD) + b"WBO-2,consumer\n"
    row, field, _, message = only_problem(check(data))
    assert (row, field) == (3, "row")
    assert "has 2 values" in message


def test_trailing_empty_cells_from_spreadsheets_are_tolerated() -> None:
    data = csv_bytes(GOOD, sep=";").replace(b"\n", b";\n")
    assert check(data).ok


def test_json_unknown_fields_and_non_text_values_are_row_problems() -> None:
    data = json.dumps([{**GOOD, "debtor_naam": "x", "debtor_city": ["Utrecht"]}]).encode()
    found = {(p.row, p.field) for p in check(data, "c.json").problems}
    assert found == {(1, "debtor_naam"), (1, "debtor_city")}


def test_an_empty_json_object_is_reported_not_dropped() -> None:
    report = check(b'[{}, {"external_ref": null}]', "c.json")
    assert report.invalid_rows == (1, 2)
    assert {p.field for p in report.problems if p.row == 1} == set(REQUIRED)


SAMPLES = {**GOOD, "debtor_type": "business", "amount": "-1", "due_date": "2025-13-01"}
row_values = st.dictionaries(
    st.sampled_from(FIELDS),
    st.one_of(st.sampled_from(sorted(set(SAMPLES.values()))), st.text(max_size=8)),
)


# No deadline: the first example pays for loading the IBAN registry and the IDNA tables.
@settings(deadline=None)
@given(st.lists(row_values | row_values.map(lambda over: {**GOOD, **over}), max_size=6))
def test_every_row_is_either_valid_or_reported(rows: list[dict[str, str]]) -> None:
    """Invariant: each row is valid or has a problem, never both and never neither."""
    raw = tuple(RawRow(i, row) for i, row in enumerate(rows, start=1))
    report = validate_rows(raw, NL, on=ON)
    valid = {v.row for v in report.valid}
    assert valid.isdisjoint(report.invalid_rows)
    assert valid | set(report.invalid_rows) == set(range(1, len(rows) + 1))


# --- malformed files -----------------------------------------------------------------

MALFORMED = [
    ("c.csv", b"\xef\xbb\xbfexternal_ref,amount\n\xff\xfe\n", "not UTF-8 text (line 2"),
    ("c.csv", b"", "the file is empty"),
    ("c.csv", csv_bytes(GOOD).split(b"\n")[0] + b"\n", "the file has no claims"),
    ("c.csv", b"external_ref,debtor_name\nA,B\n", "missing column(s) debtor_type"),
    ("c.csv", csv_bytes({**GOOD, "ammount": "1"}), "unknown column(s) 'ammount'"),
    ("c.csv", b"external_ref,external_ref\n", "given twice 'external_ref'"),
    ("c.csv", csv_bytes(GOOD) + b'WBO-2,"unclosed\n', "malformed CSV at line"),
    ("c.json", b'[{"external_ref": "A",}]', "not valid JSON at line 1, column 23"),
    ("c.json", b'{"rows": []}', "expected a JSON list of claims"),
    ("c.json", b'"claims"', "expected a JSON list of claims"),
    ("c.json", b'[{"external_ref": "A"}, 7]', "claim 2 is a number, expected an object"),
    ("c.json", b"[]", "the file has no claims"),
]


@pytest.mark.parametrize(("name", "data", "message"), MALFORMED)
def test_a_malformed_file_is_one_error_naming_the_file(
    name: str, data: bytes, message: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_claims(data, f"/in/{name}")
    assert str(caught.value).startswith(f"/in/{name}")
    assert message in str(caught.value)


def test_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="cannot read the file"):
        read_claims_file(tmp_path / "nope.csv")


def test_json_content_is_recognised_without_a_json_suffix() -> None:
    rows = parse_claims(json.dumps([GOOD]).encode(), "upload.txt")
    assert rows == (RawRow(1, GOOD),)
