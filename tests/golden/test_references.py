"""ISO 11649 RF references against python-stdnum's published test vectors.

Vectors: ../shared/data/references/iso11649_vectors.tsv (S1 = python-stdnum
tests/test_iso11649.doctest, generated at mobilefish.com and all valid).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from respite.domain.references import (
    case_payment_references,
    create_betalingskenmerk,
    create_rf,
    format_rf,
    is_valid_betalingskenmerk,
    is_valid_rf,
    validate_betalingskenmerk,
    validate_ogm,
    validate_rf,
)
from respite.errors import ValidationError


def vectors(shared_data: Path) -> list[tuple[str, str]]:
    rows = []
    for line in (shared_data / "references" / "iso11649_vectors.tsv").read_text().splitlines():
        if line.startswith("#") or not line.strip():
            continue
        value, expected, *_ = line.split("\t")
        rows.append((value, expected))
    return rows


def test_creating_a_reference_reproduces_every_published_valid_vector(shared_data: Path) -> None:
    valid = [v for v, e in vectors(shared_data) if e == "valid"]
    assert len(valid) >= 20
    for value in valid:
        compact = value.replace(" ", "").upper()
        assert create_rf(compact[4:]) == compact


def test_published_invalid_vectors_are_refused(shared_data: Path) -> None:
    invalid = [v for v, e in vectors(shared_data) if e == "invalid"]
    for value in invalid:
        assert not is_valid_rf(value)
        with pytest.raises(ValidationError, match="not a valid RF reference"):
            validate_rf(value)


def test_wikipedia_example_and_print_form() -> None:
    # python-stdnum doctest (stdnum/iso11649.py): validate('RF18 5390 0754 7034')
    assert create_rf("5390 0754 7034") == "RF18539007547034"
    assert format_rf("RF18539007547034") == "RF18 5390 0754 7034"


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "empty"),
        ("ABC-123", "only the letters"),
        ("X" * 22, "at most 21"),
        ("café", "only the letters"),
    ],
)
def test_bad_reference_text_is_refused(text: str, why: str) -> None:
    with pytest.raises(ValidationError, match=why):
        create_rf(text)


def test_belgian_structured_communication() -> None:
    # python-stdnum doctest (stdnum/be/ogm_vcs.py): '+++010/8068/17183+++' is valid
    assert validate_ogm("+++010/8068/17183+++") == "010806817183"
    with pytest.raises(ValidationError):
        validate_ogm("010/8068/17180")


def betalingskenmerk_vectors(shared_data: Path) -> list[tuple[str, bool]]:
    rows = []
    path = shared_data / "references" / "betalingskenmerk_vectors.tsv"
    for line in path.read_text().splitlines():
        if line.startswith("#") or not line.strip():
            continue
        value, _source, _where, check = line.split("\t")
        rows.append((value, "does NOT verify" not in check))
    return rows


def test_bank_issued_betalingskenmerken_verify_and_placeholders_do_not(shared_data: Path) -> None:
    # Vectors from a Rabobank camt.053 export and ING's MT940 examples (see the TSV header);
    # the ING placeholder values are documented there as failing the check digit.
    vectors_ = betalingskenmerk_vectors(shared_data)
    assert sum(ok for _, ok in vectors_) >= 3
    for value, ok in vectors_:
        assert is_valid_betalingskenmerk(value) is ok, value
        if ok:
            assert create_betalingskenmerk(int(value[1:])) == value


def test_every_case_has_three_references_that_validate_and_decode_to_its_id() -> None:
    for case_id in (1, 123, 999_999_999):
        refs = case_payment_references(case_id)
        assert validate_rf(refs.rf) == refs.rf
        assert refs.rf.endswith(f"R{case_id:09d}")
        assert int(validate_betalingskenmerk(refs.betalingskenmerk)[1:]) == case_id
        assert int(validate_ogm(refs.ogm)[:10]) == case_id
        assert refs.for_country("NL") == refs.betalingskenmerk
        assert refs.for_country("DE") == refs.rf
