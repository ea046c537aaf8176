"""EPC069-12 QR payloads, checked against the published vectors; the agency's identity.

Vectors: ../shared/data/epc_qr/epc_qr_vectors.json (transcribed from the tests of segno,
sepa-qr-data-php and py-epc-qr; see its SOURCES.md). Invariants: the payload is the exact
line sequence of the spec (BCD, 002, character set, SCT, BIC, name, IBAN, EUR amount,
purpose, reference, text) with no trailing separator; the amount line reads back as the
amount asked for; what segno encodes in the QR code is byte for byte our payload.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from lxml import etree  # type: ignore[import-untyped]
from segno import helpers
from stdnum.eu import at_02

from respite.adapters.bank.epc_qr import ENCODINGS, epc_payload, epc_qr_png, epc_qr_svg
from respite.domain.money import Money
from respite.errors import InputError, ValidationError
from respite.services.agency import (
    DEFAULT_BIC,
    DEFAULT_CREDITOR_ID,
    DEFAULT_IBAN,
    DEFAULT_NAME,
    Agency,
    agency_from_env,
)

IBAN = "DE71110220330123456789"
RF = "RF18539007547034"


def load(shared_data: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        (shared_data / "epc_qr" / "epc_qr_vectors.json").read_text(encoding="utf-8")
    )
    return data


def _trimmed(lines: list[str]) -> list[str]:
    lines = list(lines)
    while lines and lines[-1] == "":
        lines.pop()
    return lines


def test_every_published_payload_is_rebuilt_line_for_line(shared_data: Path) -> None:
    checked = 0
    for vector in load(shared_data)["valid_payloads"]:
        lines = _trimmed(vector["payload_lines"])
        fields = lines + [""] * (11 - len(lines))
        bic, name, iban, amount, purpose, reference, text = fields[4:11]
        kwargs: dict[str, Any] = {
            "name": name,
            "iban": iban,
            "bic": bic or None,
            "amount": Money.of(amount.removeprefix("EUR"), "EUR"),
            "purpose": purpose or None,
            "reference": reference or None,
            "text": text or None,
            "encoding": ENCODINGS[int(fields[2]) - 1],
        }
        if len(iban) < 5:  # sepa-qr-data-php's placeholder 'ABC' is no IBAN: refused here
            with pytest.raises(ValidationError, match="IBAN"):
                epc_payload(**kwargs)
            continue
        got = epc_payload(**kwargs).split("\n")
        expected = list(lines)
        expected[1] = "002"  # Respite writes version 002; version 001 differs only there
        assert got == expected, vector["id"]
        if "expected_length_bytes" in vector:
            payload = "\n".join(got).encode(vector["encoding"])
            assert len(payload) == vector["expected_length_bytes"]
        checked += 1
    assert checked >= 4


def _decimal(text: str) -> Decimal:
    return Decimal(re.sub(r"^Decimal\('(.*)'\)$", r"\1", text).strip("'"))


def test_amounts_are_written_without_trailing_zeros_as_published(shared_data: Path) -> None:
    for case in load(shared_data)["amount_formatting"]:
        for raw in case["input"]:
            payload = epc_payload(
                name="Test", iban=IBAN, amount=Money.of(_decimal(raw), "EUR"), reference=RF
            )
            assert payload.split("\n")[7] == case["expected_line"], raw


@pytest.mark.parametrize("amount", ["0", "0.00", "1000000000", "9999999990.99"])
def test_amounts_outside_one_cent_to_a_billion_are_refused(amount: str) -> None:
    # invalid_inputs/amount in the vectors (segno, sepa-qr-data-php)
    with pytest.raises(ValidationError, match=r"between 0\.01 and 999999999\.99"):
        epc_payload(name="Test", iban=IBAN, amount=Money.of(amount, "EUR"), reference=RF)


def test_a_non_euro_amount_gets_no_qr_code() -> None:
    with pytest.raises(ValidationError, match="euro only"):
        epc_payload(name="Test", iban=IBAN, amount=Money.of("10", "PLN"), reference=RF)


@pytest.mark.parametrize(
    ("field", "kwargs"),
    [  # invalid_inputs in the vectors
        ("bic", {"bic": "BHBLDE"}),
        ("bic", {"bic": "BHBLDEHHXXXX"}),
        ("bic", {"bic": "BHBLDEHHXX"}),
        ("bic", {"bic": "ABCDEFGHI"}),
        ("iban", {"iban": "DE1" + "1" * 34}),
        ("iban", {"iban": ""}),
        ("purpose", {"purpose": "DE1"}),
        ("purpose", {"purpose": "CDCBC"}),
        ("name", {"name": ""}),
        ("name", {"name": "a" * 71}),
        ("reference", {"reference": "r" * 36}),
        ("reference", {"reference": None, "text": None}),
        ("reference", {"reference": "ABC", "text": "DEF"}),
        ("text", {"reference": None, "text": "a" * 141}),
    ],
)
def test_published_invalid_inputs_are_refused(field: str, kwargs: dict[str, Any]) -> None:
    args: dict[str, Any] = {
        "name": "Test",
        "iban": IBAN,
        "amount": Money.of("1", "EUR"),
        "reference": RF,
    } | kwargs
    with pytest.raises(ValidationError):
        epc_payload(**args)


def test_a_wrong_rf_check_digit_is_refused() -> None:
    with pytest.raises(ValidationError):
        epc_payload(
            name="Test", iban=IBAN, amount=Money.of("1", "EUR"), reference="RF19539007547034"
        )


@given(st.integers(min_value=1, max_value=99_999_999_999))
def test_the_amount_line_reads_back_as_the_amount(cents: int) -> None:
    """Any cent amount from 0.01 to 999 999 999.99 survives the EUR<amount> line exactly."""
    money = Money.from_minor_units(cents)
    payload = epc_payload(name="Test", iban=IBAN, amount=money, reference=RF)
    line = payload.split("\n")[7]
    assert line.startswith("EUR")
    assert Decimal(line[3:]) == money.amount
    assert not payload.endswith("\n")


@pytest.mark.parametrize("name", ["Franz Mustermänn", "Respite Demo Incasso", "Zoë 😀"])
def test_the_qr_code_encodes_exactly_our_payload(name: str) -> None:
    money = Money.of("1234.50", "EUR")
    ours = epc_payload(name=name, iban=IBAN, bic="BHBLDEHHXXX", amount=money, reference=RF)
    # segno.helpers.make_epc_qr draws the code from this data (error level M)
    drawn = helpers._make_epc_qr_data(  # type: ignore[attr-defined]
        name, IBAN, money.amount, reference=RF, bic="BHBLDEHHXXX", encoding=1
    )
    assert drawn == ours.encode("utf-8")


def test_png_and_svg_are_images() -> None:
    args: dict[str, Any] = {
        "name": "Test",
        "iban": IBAN,
        "amount": Money.of("5", "EUR"),
        "reference": RF,
    }
    assert epc_qr_png(**args).startswith(b"\x89PNG\r\n\x1a\n")
    svg = etree.fromstring(epc_qr_svg(**args).encode())
    assert svg.tag.endswith("svg")
    with pytest.raises(ValidationError):
        epc_qr_png(**(args | {"amount": Money.of("0", "EUR")}))


def test_the_demo_agency_is_valid_and_its_creditor_id_check_digits_are_computed() -> None:
    agency = agency_from_env({})
    assert agency == Agency(DEFAULT_NAME, DEFAULT_IBAN, DEFAULT_BIC, DEFAULT_CREDITOR_ID)
    assert at_02.calc_check_digits(DEFAULT_CREDITOR_ID) == DEFAULT_CREDITOR_ID[2:4]
    assert at_02.is_valid(DEFAULT_CREDITOR_ID)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("RESPITE_AGENCY_IBAN", "NL92ABNA0417164300"),
        ("RESPITE_AGENCY_BIC", "ABNA"),
        ("RESPITE_AGENCY_CREDITOR_ID", "NL70ZZZ123456780000"),
        ("RESPITE_AGENCY_NAME", "x" * 71),
    ],
)
def test_a_wrong_agency_setting_names_its_variable(variable: str, value: str) -> None:
    with pytest.raises(InputError) as err:
        agency_from_env({variable: value})
    assert str(err.value).startswith(f"{variable}:")


def test_the_agency_is_read_from_the_environment() -> None:
    agency = agency_from_env(
        {
            "RESPITE_AGENCY_NAME": "Incasso Zuid",
            "RESPITE_AGENCY_IBAN": "DE89 3704 0044 0532 0130 00",
            "RESPITE_AGENCY_BIC": "COBADEFFXXX",
            "RESPITE_AGENCY_CREDITOR_ID": "DE98ZZZ09999999999",
        }
    )
    assert (agency.iban, agency.bic, agency.creditor_id) == (
        "DE89370400440532013000",
        "COBADEFFXXX",
        "DE98ZZZ09999999999",
    )
