"""NL wettelijke rente (6:119 BW) and handelsrente (6:119a BW): published worked examples."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from respite.domain.interest import accrue_interest
from respite.domain.money import Money
from respite.errors import RuleCoverageError
from respite.rules.loader import load_pack
from respite.services.calculators import interest, rate_lookup


def nl(kind: str, principal: str, start: date, end: date) -> dict[str, Any]:
    return interest("NL", kind, Money.of(principal), start, end)


def test_vergoedingsns_compounded_statutory_interest_example() -> None:
    # https://www.vergoedingsns.nl/vergoedingen/voorbeeldberekening: "Startdatum: 1-2-2013 •
    # Uitbetaaldatum: 30-10-2023 • Jaarlijks samengestelde rente • Renteconventie:
    # Actual/365 • Initiële claim: EUR 100 • Totaal uit te betalen bedrag op 30-10-2023:
    # EUR 128,94"
    result = nl("consumer", "100", date(2013, 2, 1), date(2023, 10, 30))
    assert result["total"] == "128.94"
    assert result["interest"] == "28.94"
    # The published table's rows, interest to three decimals as published: no rounding
    # happens before the total, so every row must match exactly at three decimals.
    published = [
        (date(2013, 2, 1), date(2014, 2, 1), "3", "3.000"),
        (date(2014, 2, 1), date(2015, 1, 1), "3", "2.828"),
        (date(2015, 1, 1), date(2015, 2, 1), "2", "0.175"),
        (date(2015, 2, 1), date(2016, 2, 1), "2", "2.120"),
        (date(2016, 2, 1), date(2017, 2, 1), "2", "2.168"),  # 366 days / 365
        (date(2017, 2, 1), date(2018, 2, 1), "2", "2.206"),
        (date(2018, 2, 1), date(2019, 2, 1), "2", "2.250"),
        (date(2019, 2, 1), date(2020, 2, 1), "2", "2.295"),
        (date(2020, 2, 1), date(2021, 2, 1), "2", "2.347"),
        (date(2021, 2, 1), date(2022, 2, 1), "2", "2.388"),
        (date(2022, 2, 1), date(2023, 1, 1), "2", "2.229"),
        (date(2023, 1, 1), date(2023, 2, 1), "4", "0.414"),
        (date(2023, 2, 1), date(2023, 7, 1), "4", "2.045"),
        (date(2023, 7, 1), date(2023, 10, 30), "6", "2.475"),
    ]
    rule = load_pack("NL").interest_kind("consumer")
    exact = accrue_interest(
        Money.of("100"),
        date(2013, 2, 1),
        date(2023, 10, 30),
        rate_lookup(rule.rates),
        compounding=rule.compounding,
        day_count=rule.day_count,
    )
    got = [
        (p.start, p.end, str(p.percent.normalize()), str(p.exact.quantize(Decimal("0.001"))))
        for p in exact.periods
    ]
    assert got == published
    # Capitalised on each anniversary of the start, 1 February, not on 1 January.
    assert [c["on"] for c in result["capitalised"]][:2] == ["2014-02-01", "2015-02-01"]


def test_handelsrente_simple_example_eleven_days() -> None:
    # https://go-figure.nl/tag/rente/: "Stel je klant betaald 11 dagen te laat en de hoofdsom
    # is € 1000,00 ... 11/365 * 8% * € 1000 = € 2,41" (8 % was the rate 2016-07-01..2022-12-31)
    result = nl("commercial", "1000", date(2019, 3, 1), date(2019, 3, 12))
    assert result["days"] == 11
    assert result["interest"] == "2.41"


def test_period_is_split_at_the_rate_change_of_1_january_2026() -> None:
    # Published third-party calculation (Rentetool design notes): EUR 10,000 consumer claim
    # from 2025-12-17 to 2026-01-16: 15 days at 6 % = 24.66 and 15 days at 4 % = 16.44,
    # together EUR 41.10 (days = end - start; 6:120 lid 1: the new rate applies from its date).
    result = nl("consumer", "10000", date(2025, 12, 17), date(2026, 1, 16))
    assert [(p["days"], p["rate"], p["interest"]) for p in result["periods"]] == [
        (15, "6", "24.66"),
        (15, "4", "16.44"),
    ]
    assert result["interest"] == "41.10"


def test_a_year_with_29_february_earns_366_of_365_days() -> None:
    # vergoedingsns.nl row 1-2-2016 -> 1-2-2017: 108.1226 x 2 % x 366/365 = 2,168 (not 2,162):
    # the divisor is always 365. Derived on a round figure: 1,000 at 2 % over 2016-02-01 ..
    # 2017-02-01 = 366 days -> 20.05.
    result = nl("consumer", "1000", date(2016, 2, 1), date(2017, 2, 1))
    assert result["days"] == 366
    assert result["interest"] == "20.05"


def test_handelsrente_capitalises_each_year_too() -> None:
    # 6:119a lid 3 (same words as 6:119 lid 2). Derived: EUR 1,000 from 2017-01-01 for two
    # years at 8 %: 80.00 in year one, then 8 % of 1,080 = 86.40: EUR 166.40 in all.
    result = nl("commercial", "1000", date(2017, 1, 1), date(2019, 1, 1))
    assert result["interest"] == "166.40"
    assert result["capitalised"] == [{"on": "2018-01-01", "amount": "80.00"}]


def test_historic_rate_changes_are_in_the_table() -> None:
    # Stb. 2014, 491: 2 % from 1-1-2015; Besluit 23-6-2011: 4 % from 1-7-2011;
    # incassoregister.nl: handelsrente 8,25 % from 1-7-2011; Lexence: 8,25 % from 1-1-2014.
    def rate(kind: str, day: date) -> str:
        r = nl(kind, "100", day, day.replace(day=day.day + 1))
        return str(r["periods"][0]["rate"])

    assert rate("consumer", date(2014, 12, 30)) == "3"
    assert rate("consumer", date(2015, 1, 1)) == "2"
    assert rate("consumer", date(2011, 7, 1)) == "4"
    assert rate("commercial", date(2011, 7, 1)) == "8.25"
    assert rate("commercial", date(2014, 1, 1)) == "8.25"
    assert rate("commercial", date(2024, 1, 1)) == "12.5"
    assert rate("commercial", date(2025, 7, 1)) == "10.15"


def test_a_date_past_the_tables_coverage_is_an_error_naming_the_file() -> None:
    with pytest.raises(RuleCoverageError, match=r"known up to 2026-06-30.*interest\.toml"):
        nl("consumer", "100", date(2026, 6, 1), date(2026, 7, 2))
    with pytest.raises(RuleCoverageError, match="known from 2009-07-01"):
        nl("consumer", "100", date(2009, 6, 30), date(2009, 7, 5))
