"""Referral to debt counselling: the reasons to refer and the contact lookup (pure)."""

from __future__ import annotations

import shutil
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from respite.domain.money import Currency, Money
from respite.domain.referral import (
    Contact,
    DebtHelpTable,
    MunicipalContact,
    ReasonCode,
    find_contact,
    referral_reasons,
)
from respite.errors import RuleCoverageError, ValidationError
from respite.rules import debt_help
from respite.rules.debt_help import load_debt_help, repayment_term_months

EUR = Currency.EUR


def eur(text: str) -> Money:
    return Money.of(text, EUR)


def codes(reasons: tuple[object, ...]) -> list[str]:
    return [r.code for r in reasons]  # type: ignore[attr-defined]


def test_a_debt_the_capacity_repays_within_the_term_gives_no_reason() -> None:
    reasons = referral_reasons(
        total_debt=eur("1800.00"),
        capacity_per_month=eur("100.00"),
        max_months=18,
        creditors=1,
        vulnerable=False,
    )
    assert reasons == ()


def test_one_cent_more_than_capacity_times_term_is_not_repayable_and_says_the_figures() -> None:
    (reason,) = referral_reasons(
        total_debt=eur("1800.01"),
        capacity_per_month=eur("100.00"),
        max_months=18,
        creditors=2,
        vulnerable=False,
    )
    assert reason.code == ReasonCode.NOT_REPAYABLE_IN_TERM
    assert "EUR 100.00 a month" in reason.explanation
    assert "18 months repay EUR 1800.00" in reason.explanation
    assert "EUR 1800.01" in reason.explanation
    assert "short by EUR 0.01" in reason.explanation


@pytest.mark.parametrize("capacity", [None, "0.00"])
def test_unknown_or_zero_capacity_means_not_repayable(capacity: str | None) -> None:
    reasons = referral_reasons(
        total_debt=eur("50.00"),
        capacity_per_month=None if capacity is None else eur(capacity),
        max_months=18,
        creditors=1,
        vulnerable=False,
    )
    assert codes(reasons) == ["not_repayable_in_term"]
    assert ("not known" if capacity is None else "is zero") in reasons[0].explanation


def test_no_debt_and_no_capacity_is_no_reason() -> None:
    assert (
        referral_reasons(
            total_debt=eur("0.00"),
            capacity_per_month=None,
            max_months=18,
            creditors=0,
            vulnerable=False,
        )
        == ()
    )


def test_several_creditors_counts_from_the_configured_threshold() -> None:
    def reasons(creditors: int, threshold: int = 3) -> list[str]:
        return codes(
            referral_reasons(
                total_debt=eur("10.00"),
                capacity_per_month=eur("10.00"),
                max_months=18,
                creditors=creditors,
                vulnerable=False,
                min_creditors=threshold,
            )
        )

    assert reasons(2) == []
    assert reasons(3) == ["several_creditors"]
    assert reasons(2, threshold=2) == ["several_creditors"]
    (reason,) = referral_reasons(
        total_debt=eur("10.00"),
        capacity_per_month=eur("10.00"),
        max_months=18,
        creditors=3,
        vulnerable=False,
    )
    assert "3 creditors" in reason.explanation


def test_a_flagged_vulnerability_is_a_reason_of_its_own() -> None:
    reasons = referral_reasons(
        total_debt=eur("10.00"),
        capacity_per_month=eur("10.00"),
        max_months=18,
        creditors=1,
        vulnerable=True,
    )
    assert codes(reasons) == ["vulnerable"]


def test_all_reasons_come_in_a_fixed_order() -> None:
    reasons = referral_reasons(
        total_debt=eur("5000.00"),
        capacity_per_month=None,
        max_months=18,
        creditors=4,
        vulnerable=True,
    )
    assert codes(reasons) == ["not_repayable_in_term", "several_creditors", "vulnerable"]


@pytest.mark.parametrize(("months", "creditors", "threshold"), [(0, 1, 3), (18, -1, 3), (18, 1, 1)])
def test_nonsense_inputs_are_refused(months: int, creditors: int, threshold: int) -> None:
    with pytest.raises(ValidationError):
        referral_reasons(
            total_debt=eur("1.00"),
            capacity_per_month=eur("1.00"),
            max_months=months,
            creditors=creditors,
            vulnerable=False,
            min_creditors=threshold,
        )


@given(
    debt=st.integers(min_value=1, max_value=10**9),
    capacity=st.integers(min_value=1, max_value=10**7),
    months=st.integers(min_value=1, max_value=120),
)
def test_not_repayable_exactly_when_capacity_times_term_is_below_the_debt(
    debt: int, capacity: int, months: int
) -> None:
    """Invariant: the reason appears iff capacity × months < total debt (in cents)."""
    reasons = referral_reasons(
        total_debt=Money.from_minor_units(debt, EUR),
        capacity_per_month=Money.from_minor_units(capacity, EUR),
        max_months=months,
        creditors=1,
        vulnerable=False,
    )
    assert ("not_repayable_in_term" in codes(reasons)) == (capacity * months < debt)


# -- contacts -----------------------------------------------------------------------------


def _contact(name: str) -> Contact:
    return Contact(name, f"Gemeente {name}", f"https://{name.lower()}.example", None, "", "src")


TABLE = DebtHelpTable(
    "NL",
    Contact("", "National", "https://national.example", "0800", "Call us.", "src"),
    (
        MunicipalContact(_contact("Amsterdam"), ((1000, 1109),), ("Amsterdam",)),
        MunicipalContact(_contact("Den Haag"), ((2490, 2599),), ("'s-Gravenhage", "Den Haag")),
    ),
)


def test_a_postcode_in_a_range_finds_the_municipality() -> None:
    assert find_contact(TABLE, "1012 ab", "NL").municipality == "Amsterdam"
    assert find_contact(TABLE, "1109", "nl").municipality == "Amsterdam"


def test_the_city_name_is_used_when_the_postcode_is_unknown_or_missing() -> None:
    assert find_contact(TABLE, None, "NL", city="'S-GRAVENHAGE").municipality == "Den Haag"
    assert find_contact(TABLE, "9999 XL", "NL", city="den haag").municipality == "Den Haag"


def test_an_unknown_address_falls_back_to_the_national_contact_with_a_note() -> None:
    contact = find_contact(TABLE, "9999 XL", "NL", city="Stitswerd")
    assert contact.fallback
    assert contact.organisation == "National"
    assert contact.phone == "0800"
    assert "9999 XL Stitswerd is not in the table" in contact.note
    assert contact.note.startswith("Call us.")


def test_a_table_is_for_one_country_only() -> None:
    with pytest.raises(ValidationError, match="for NL"):
        find_contact(TABLE, "1012", "BE")


def test_overlapping_postcode_ranges_are_refused() -> None:
    with pytest.raises(ValidationError, match="overlap"):
        DebtHelpTable(
            "NL",
            TABLE.national,
            (
                MunicipalContact(_contact("A"), ((1000, 1100),)),
                MunicipalContact(_contact("B"), ((1100, 1200),)),
            ),
        )


def test_a_contact_without_a_source_is_refused() -> None:
    with pytest.raises(ValidationError, match="source"):
        Contact("X", "Gemeente X", "https://x.example", None, "", " ")


def test_the_shipped_tables_load_and_every_contact_cites_a_source() -> None:
    for country in ("NL", "BE", "PL"):
        table = load_debt_help(country)
        for contact in (table.national, *(r.contact for r in table.rows)):
            assert contact.source.startswith("http"), contact
            assert contact.website or contact.phone or contact.note
    assert find_contact(load_debt_help("NL"), "3011 AB", "NL").phone == "14 010"
    assert find_contact(load_debt_help("NL"), "7411 AA", "NL").organisation.startswith("Geldfit")
    assert find_contact(load_debt_help("BE"), "1050", "BE").website == "https://tropdedettes.be"
    assert find_contact(load_debt_help("PL"), "00-950", "PL").fallback


def test_the_nl_term_is_18_months_from_july_2023_and_unknown_before() -> None:
    assert repayment_term_months("NL", date(2023, 7, 1)) == 18
    with pytest.raises(RuleCoverageError, match="known from 2023-07-01"):
        repayment_term_months("NL", date(2023, 6, 30))
    with pytest.raises(RuleCoverageError, match="no \\[term\\] table"):
        repayment_term_months("BE", date(2025, 1, 1))


def test_respite_rules_dir_points_the_loader_at_another_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shipped = Path(debt_help.__file__).parent
    shutil.copytree(shipped / "nl", tmp_path / "nl")
    path = tmp_path / "nl" / "debt_help.toml"
    path.write_text(path.read_text(encoding="utf-8").replace("0800-8115", "0800-0000"), "utf-8")
    monkeypatch.setenv("RESPITE_RULES_DIR", str(tmp_path))
    assert load_debt_help("NL").national.phone == "0800-0000"
    monkeypatch.delenv("RESPITE_RULES_DIR")
    assert load_debt_help("NL").national.phone == "0800-8115"


def test_a_capacity_times_term_uses_exact_decimals() -> None:
    (reason,) = referral_reasons(
        total_debt=Money(Decimal("333.34"), EUR),
        capacity_per_month=eur("33.33"),
        max_months=10,
        creditors=1,
        vulnerable=False,
    )
    assert "repay EUR 333.30" in reason.explanation
    assert "short by EUR 0.04" in reason.explanation
