"""Identity matching: normalisation, the explainable score and its hard rules."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from respite.domain.identity import (
    Decision,
    HouseNumber,
    Record,
    Thresholds,
    compact_iban,
    compact_postcode,
    house_number,
    name_tokens,
    phone_e164,
    score,
)
from respite.errors import ValidationError

JAN = Record(
    name="Jan de Vries",
    birth_date=date(1980, 5, 1),
    street="Kerkstraat 12a",
    postcode="1234 AB",
    city="Utrecht",
    country="NL",
    iban="NL91ABNA0417164300",
    email="jan.devries@example.nl",
    phone="06-12345678",
)

# --- normalisation -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "tokens"),
    [
        ("Jan de Vries", ("jan", "vries")),
        ("Dhr. J. van der Berg", ("j", "berg")),
        ("Vries, Jan de", ("jan", "vries")),
        ("J.P. de Vries", ("j", "p", "vries")),
        ("Jan in 't Veld", ("jan", "veld")),
        ("Mevr. Zoë Ébert-Łukasik", ("zoe", "ebert", "lukasik")),
        ("Jan de Vries Jr.", ("jan", "vries")),
    ],
)
def test_names_lose_case_accents_titles_and_particles(name: str, tokens: tuple[str, ...]) -> None:
    assert name_tokens(name) == tokens


def test_business_names_lose_their_legal_form() -> None:
    assert name_tokens("Bakkerij Jansen B.V.", "business") == ("bakkerij", "jansen")


@pytest.mark.parametrize(
    ("postcode", "country", "compact"),
    [
        ("1234 ab", "NL", "1234AB"),
        ("NL-1234AB", "NL", "1234AB"),
        ("B-1000", "BE", "1000"),
        ("00950", "PL", "00-950"),
        ("00-950", "PL", "00-950"),
        ("sw1a 1aa", "GB", "SW1A1AA"),
    ],
)
def test_postcodes_have_one_spelling_per_country(postcode: str, country: str, compact: str) -> None:
    assert compact_postcode(postcode, country) == compact


@pytest.mark.parametrize(
    ("street", "house"),
    [
        ("Kerkstraat 12a", HouseNumber("12", "A")),
        ("Kerkstraat 12 - A", HouseNumber("12", "A")),
        ("Kerkstraat 12", HouseNumber("12", "")),
        ("2e Jacob van Campenstraat 112 hs", HouseNumber("112", "HS")),
        ("Rue Neuve 5 bus 3", HouseNumber("5", "3")),
        ("ul. Długa 5/12", HouseNumber("5", "12")),
        ("12 High Street", HouseNumber("12", "")),
        ("Postbus", None),
    ],
)
def test_house_number_and_addition_come_from_the_street(
    street: str, house: HouseNumber | None
) -> None:
    assert house_number(street) == house


@pytest.mark.parametrize(
    ("phone", "country", "e164"),
    [
        ("06-1234 5678", "NL", "+31612345678"),
        ("+31 (0)6 12345678", "BE", "+31612345678"),
        ("0031 6 12345678", "PL", "+31612345678"),
        ("+310612345678", "NL", "+31612345678"),
        ("0470 12 34 56", "BE", "+32470123456"),
        ("601 234 567", "PL", "+48601234567"),
        ("07700 900123", "GB", "+447700900123"),
        ("123", "NL", None),
    ],
)
def test_phone_numbers_become_e164(phone: str, country: str, e164: str | None) -> None:
    assert phone_e164(phone, country) == e164


def test_iban_is_compacted() -> None:
    assert compact_iban("nl91 abna 0417 1643 00") == "NL91ABNA0417164300"


# --- examples --------------------------------------------------------------------------


def test_initials_with_same_birth_date_and_address_link() -> None:
    other = Record("J. de Vries", date(1980, 5, 1), "Kerkstraat 12 A", "1234AB")
    match = score(JAN, other)
    assert match.decision is Decision.LINK
    assert {r.signal for r in match.reasons} == {"name", "birth_date", "address"}


def test_swapped_name_with_same_iban_and_email_links() -> None:
    other = Record("Vries, Jan de", iban="nl91 abna 0417 1643 00", email="JAN.devries@example.nl")
    assert score(JAN, other).decision is Decision.LINK


def test_same_name_and_one_identifier_waits_for_review() -> None:
    assert score(JAN, Record("Jan de Vries", birth_date=date(1980, 5, 1))).decision is (
        Decision.REVIEW
    )


def test_father_and_son_of_one_name_at_one_address_stay_apart() -> None:
    father = replace(JAN, birth_date=date(1952, 2, 9), email=None, phone=None)
    match = score(JAN, father)
    assert match.decision is Decision.NONE
    assert any(r.signal == "birth_date" and r.points < 0 for r in match.reasons)


def test_a_brother_at_the_same_address_and_phone_is_another_person() -> None:
    brother = Record(
        "Piet de Vries", street="Kerkstraat 12a", postcode="1234AB", phone="0612345678"
    )
    assert score(JAN, brother).decision is Decision.NONE


def test_junior_and_senior_never_link_automatically() -> None:
    junior = replace(JAN, name="Jan de Vries jr.")
    senior = replace(JAN, name="Jan de Vries sr.")
    assert score(junior, senior).decision is not Decision.LINK


def test_another_flat_in_the_same_building_is_no_address_match() -> None:
    upstairs = Record("Jan de Vries", street="Kerkstraat 12b", postcode="1234AB")
    match = score(JAN, upstairs)
    assert match.decision is Decision.NONE
    assert [r.points for r in match.reasons if r.signal == "address"] == [0]


def test_thresholds_must_be_ordered() -> None:
    with pytest.raises(ValidationError, match="review <= auto_link"):
        Thresholds(auto_link=40, review=60)


# --- properties -------------------------------------------------------------------------

GIVEN = ["Jan", "Piet", "Maria", "Anna", "Johannes", "Katarzyna", "Willem"]
SURNAMES = ["de Vries", "Jansen", "van den Berg", "Kowalski", "Bakker", "Smit", "in 't Veld"]
DATES = st.sampled_from([date(1980, 5, 1), date(1980, 1, 5), date(1975, 12, 31), None])
POSTCODES = st.sampled_from(["1234 AB", "1234AB", "5678 CD", None])
STREETS = st.sampled_from(["Kerkstraat 12a", "Kerkstraat 12", "Kerkstraat 14", "Dorp 1", None])
IBANS = st.sampled_from(["NL91ABNA0417164300", "NL02RABO0123456789", None])
EMAILS = st.sampled_from(["jan@example.nl", "JAN@example.nl", "other@example.nl", None])
PHONES = st.sampled_from(["06-12345678", "+31612345678", "0201234567", None])


@st.composite
def names(draw: st.DrawFn) -> str:
    given, surname = draw(st.sampled_from(GIVEN)), draw(st.sampled_from(SURNAMES))
    style = draw(st.integers(0, 4))
    if style == 1:
        return f"{given[0]}. {surname}"
    if style == 2:
        return f"{surname}, {given}"
    if style == 3:
        return f"Dhr. {given.upper()} {surname}"
    if style == 4:
        return f"{given} {surname[:-1]}{surname[-1] * 2}"  # a typo
    return f"{given} {surname}"


records = st.builds(
    Record,
    name=names(),
    birth_date=DATES,
    street=STREETS,
    postcode=POSTCODES,
    city=st.sampled_from(["Utrecht", None]),
    country=st.just("NL"),
    iban=IBANS,
    email=EMAILS,
    phone=PHONES,
    kind=st.sampled_from(["consumer", "consumer", "business"]),
)

thresholds = st.builds(
    lambda review, extra: Thresholds(auto_link=min(100, review + extra), review=review),
    st.integers(1, 100),
    st.integers(0, 100),
)


@given(records, records)
def test_score_is_symmetric(a: Record, b: Record) -> None:
    """score(a, b) == score(b, a): the order in which records arrive never matters."""
    assert score(a, b) == score(b, a)


@given(records, records, thresholds)
def test_every_decision_has_reasons_that_add_up_to_the_score(
    a: Record, b: Record, limits: Thresholds
) -> None:
    """Every decision is explained: a name reason always, and the points sum to the score."""
    match = score(a, b, limits)
    assert match.reasons
    assert match.reasons[0].signal == "name"
    assert all(r.detail for r in match.reasons)
    assert match.score == max(0, min(100, sum(r.points for r in match.reasons)))
    if match.decision is Decision.LINK:
        assert match.score >= limits.auto_link
    elif match.decision is Decision.REVIEW:
        assert match.score >= limits.review


@given(names(), names(), records, thresholds)
def test_a_name_alone_never_links_nor_queues(
    name_a: str, name_b: str, other: Record, limits: Thresholds
) -> None:
    """With nothing in common but (a spelling of) the name, the decision is always none,
    whatever the thresholds: the other record's identifiers all differ or are missing."""
    a = Record(name_a)
    b = replace(other, name=name_b, kind="consumer")
    match = score(a, b, limits)
    assert match.decision is Decision.NONE
    assert any(r.signal == "rule" and "name alone" in r.detail for r in match.reasons)


@given(st.sampled_from(GIVEN), st.sampled_from(SURNAMES), st.integers(0, 3), records)
def test_same_strong_identifiers_and_a_similar_name_link(
    given_name: str, surname: str, style: int, base: Record
) -> None:
    """The same birth date and address, or the same IBAN and e-mail, with the name in
    another spelling (initials, swapped, upper case, with a title) links automatically."""
    full = f"{given_name} {surname}"
    variant = [
        f"{given_name[0]}. {surname}",
        f"{surname}, {given_name}",
        f"Mevr. {full.upper()}",
        full,
    ][style]
    a = Record(full, date(1980, 5, 1), "Kerkstraat 12a", "1234 AB", iban="NL91ABNA0417164300")
    by_address = replace(base, name=variant, birth_date=date(1980, 5, 1), kind="consumer")
    by_address = replace(by_address, street="Kerkstraat 12 A", postcode="1234ab", country="NL")
    assert score(a, by_address).decision is Decision.LINK
    b = Record(full, email="x@example.nl", iban="NL91ABNA0417164300")
    by_account = Record(variant, email="X@Example.nl", iban="nl91abna0417164300")
    assert score(b, by_account).decision is Decision.LINK


@given(records, st.dates(date(1930, 1, 1), date(2005, 12, 31)), thresholds)
def test_different_birth_dates_never_link(
    base: Record, other_date: date, limits: Thresholds
) -> None:
    """Two different dates of birth are two people: even identical everything else never
    links automatically, and the birth date reason takes points away."""
    a = replace(base, birth_date=date(1980, 5, 1))
    b = replace(base, birth_date=other_date)
    match = score(a, b, limits)
    if other_date != date(1980, 5, 1):
        assert match.decision is not Decision.LINK
        assert [r.points < 0 for r in match.reasons if r.signal == "birth_date"] == [True]
