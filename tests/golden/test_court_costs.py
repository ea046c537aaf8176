"""Published NL court fees (griffierecht, kanton) and bailiff tariffs (BTAG art. 2).

Sources (also in src/respite/rules/nl/court_costs.toml):
- 2022 kanton table: https://www.weersinkincasso.nl/griffierechten-2022/ (same figures at
  https://twaelfprovincien.nl/nl/dagvaarding/kosten-procedure).
- 2024 kanton table: https://wvhl.nl/tools/proceskosten (shared/RULES.md §1e).
- 2026 kanton table: https://nl.legal/proceskosten-tarieven-2026 (quoting rechtspraak.nl).
- BTAG per 1-3-2023 (Stb. 2023, 63): https://e-legal.nl/btag; per 1-1-2024:
  https://www.invorderingsbedrijf.nl/btag/; per 1-7-2021: https://grootevers.nl/btag-tarieven-per-1-juli-2021/.
- The litigation-pays-off example of shared/RULES.md §1e: a consumer claim of EUR 600 in
  2024 by a company costs EUR 328 court fee.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from respite.domain.court_costs import Claimant, bailiff_tariffs, court_costs, court_fee
from respite.domain.money import Money
from respite.errors import RuleCoverageError, ValidationError
from respite.rules.court_costs import load_court_costs

NL = load_court_costs("NL")

# (claim, claimant, date, published fee)
FEES = [
    # 2022, weersinkincasso.nl: every band, every claimant kind
    ("500.00", Claimant.LEGAL, date(2022, 3, 1), "128.00"),
    ("500.00", Claimant.NATURAL, date(2022, 3, 1), "86.00"),
    ("500.01", Claimant.LEGAL, date(2022, 3, 1), "322.00"),
    ("1500.00", Claimant.NATURAL, date(2022, 3, 1), "214.00"),
    ("2000.00", Claimant.LEGAL, date(2022, 6, 30), "365.00"),
    ("4000.00", Claimant.LEGAL, date(2022, 6, 30), "487.00"),
    ("4000.00", Claimant.NATURAL, date(2022, 6, 30), "244.00"),
    ("12500.00", Claimant.LEGAL, date(2022, 12, 31), "514.00"),
    ("12500.01", Claimant.LEGAL, date(2022, 12, 31), "1384.00"),
    ("12500.01", Claimant.NATURAL, date(2022, 12, 31), "693.00"),
    ("20000.00", Claimant.INDIGENT, date(2022, 12, 31), "86.00"),
    # 2024, wvhl.nl
    ("100.00", Claimant.LEGAL, date(2024, 1, 1), "130.00"),
    ("100.00", Claimant.INDIGENT, date(2024, 1, 1), "87.00"),
    ("600.00", Claimant.LEGAL, date(2024, 5, 1), "328.00"),  # the RULES.md example
    ("600.00", Claimant.NATURAL, date(2024, 5, 1), "218.00"),
    ("2500.00", Claimant.LEGAL, date(2024, 5, 1), "372.00"),
    ("2500.01", Claimant.LEGAL, date(2024, 5, 1), "496.00"),
    ("5000.01", Claimant.NATURAL, date(2024, 5, 1), "248.00"),
    ("10000.00", Claimant.LEGAL, date(2024, 12, 31), "524.00"),
    ("25000.00", Claimant.LEGAL, date(2024, 12, 31), "1409.00"),
    ("25000.00", Claimant.NATURAL, date(2024, 12, 31), "706.00"),
    # 2026, nl.legal (rechtspraak.nl)
    ("450.00", Claimant.LEGAL, date(2026, 2, 1), "139.00"),
    ("450.00", Claimant.NATURAL, date(2026, 2, 1), "93.00"),
    ("1200.00", Claimant.LEGAL, date(2026, 2, 1), "350.00"),
    ("2000.00", Claimant.NATURAL, date(2026, 2, 1), "265.00"),
    ("3000.00", Claimant.LEGAL, date(2026, 2, 1), "529.00"),
    ("8000.00", Claimant.LEGAL, date(2026, 2, 1), "559.00"),
    ("15000.00", Claimant.LEGAL, date(2026, 2, 1), "1504.00"),
    ("15000.00", Claimant.NATURAL, date(2026, 2, 1), "753.00"),
]


@pytest.mark.parametrize(("claim", "claimant", "on", "fee"), FEES)
def test_the_court_fee_is_the_published_figure(
    claim: str, claimant: Claimant, on: date, fee: str
) -> None:
    assert court_fee(NL, Money.of(claim), claimant, on).amount == Money.of(fee)


# (claim, claimant, date, court fee, summons, service of the judgment, total up front)
UPFRONT = [
    # shared/RULES.md 1e: griffierecht EUR 328 + dagvaarding (BTAG 2024: EUR 112.37).
    ("600.00", Claimant.LEGAL, date(2024, 5, 1), "328.00", "112.37", "122.34", "440.37"),
    # 2022 kanton table (weersinkincasso.nl), EUR 500-1,500 band: EUR 322; BTAG 2022.
    ("600.00", Claimant.LEGAL, date(2022, 9, 1), "322.00", "103.33", "114.01", "425.33"),
]


@pytest.mark.parametrize(("claim", "claimant", "on", "fee", "summons", "service", "total"), UPFRONT)
def test_the_upfront_costs_of_published_examples(
    claim: str, claimant: Claimant, on: date, fee: str, summons: str, service: str, total: str
) -> None:
    costs = court_costs(NL, Money.of(claim), claimant, on)
    assert costs.court_fee.amount == Money.of(fee)
    assert costs.summons.amount == Money.of(summons)
    assert costs.service_of_judgment is not None
    assert costs.service_of_judgment.amount == Money.of(service)
    assert costs.total_upfront == Money.of(total)


# (from, summons, service of the judgment, attachment of periodic payments, cited)
BAILIFF = [
    # 2022: schuldinfo.nl, as in shared/RULES.md 1e.
    (date(2022, 1, 1), "103.33", "114.01", "154.14", "schuldinfo.nl"),
    (date(2022, 12, 31), "103.33", "114.01", "154.14", "schuldinfo.nl"),
    # Until 28-2-2023: the amounts Stb. 2023, 63 replaced.
    (date(2023, 1, 1), "104.02", "114.77", "155.16", "Stb. 2023, 63"),
    (date(2023, 2, 28), "104.02", "114.77", "155.16", "Stb. 2023, 63"),
    # From 1-3-2023 (e-legal.nl "Per 01-03-2023": 106.73, 116.20, 157.17).
    (date(2023, 3, 1), "106.73", "116.20", "157.17", "Stb. 2023, 63"),
    (date(2023, 6, 1), "106.73", "116.20", "157.17", "Stb. 2023, 63"),
]


@pytest.mark.parametrize(("on", "summons", "service", "attachment", "cited"), BAILIFF)
def test_the_bailiff_tariffs_of_each_period(
    on: date, summons: str, service: str, attachment: str, cited: str
) -> None:
    # Read on their own: the 2023 court fees are not known.
    tariffs, source = bailiff_tariffs(NL, on)
    got = (tariffs.summons, tariffs.service_of_judgment, tariffs.wage_garnishment)
    assert got == (Decimal(summons), Decimal(service), Decimal(attachment))
    assert cited in source


def test_every_figure_names_its_source() -> None:
    costs = court_costs(NL, Money.of("600.00"), Claimant.LEGAL, date(2024, 5, 1))
    sources = costs.as_dict()["sources"]
    assert isinstance(sources, dict)
    assert "wvhl.nl" in sources["court_fee"]
    assert "invorderingsbedrijf.nl" in sources["summons"]


@pytest.mark.parametrize(
    "on",
    [
        date(2021, 12, 31),  # before the first court-fee row
        date(2023, 5, 1),  # 2023 court fees not found
        date(2025, 5, 1),  # 2025 court fees not retrieved
        date(2026, 5, 1),  # bailiff tariffs known up to 2024-12-31 only
        date(2027, 1, 1),  # after the court-fee table's coverage
    ],
)
def test_a_date_outside_the_known_figures_is_an_error_naming_the_file(on: date) -> None:
    with pytest.raises(RuleCoverageError) as err:
        court_costs(NL, Money.of("600.00"), Claimant.LEGAL, on)
    assert "court_costs.toml" in str(err.value)


def test_the_2024_attachment_tariff_is_unknown_not_guessed() -> None:
    costs = court_costs(NL, Money.of("600.00"), Claimant.NATURAL, date(2024, 5, 1))
    assert costs.wage_garnishment is None
    assert costs.enforcement is None
    assert any("wage_garnishment" in u and "court_costs.toml" in u for u in costs.unknown)


def test_an_indigent_fee_not_published_for_2026_is_an_error() -> None:
    with pytest.raises(RuleCoverageError, match=r"court_costs\.toml"):
        court_fee(NL, Money.of("300.00"), Claimant.INDIGENT, date(2026, 2, 1))


def test_a_claim_above_the_kanton_limit_is_refused() -> None:
    with pytest.raises(ValidationError, match="kanton limit"):
        court_fee(NL, Money.of("25000.01"), Claimant.LEGAL, date(2024, 5, 1))


def test_other_jurisdictions_have_no_table_yet() -> None:
    with pytest.raises(RuleCoverageError, match=r"court_costs\.toml"):
        load_court_costs("BE")


def test_a_rules_folder_with_a_float_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "nl"
    folder.mkdir()
    text = (Path(NL.origin)).read_text(encoding="utf-8").replace('legal = "128"', "legal = 128.0")
    (folder / "court_costs.toml").write_text(text, encoding="utf-8")
    monkeypatch.setenv("RESPITE_RULES_DIR", str(tmp_path))
    with pytest.raises(ValidationError, match="quoted decimal"):
        load_court_costs("NL")
