"""PL late-payment compensation and statutory interest: published figures."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from respite.domain.money import Money
from respite.errors import RuleCoverageError
from respite.services.calculators import collection_costs, interest


def pl_costs(
    *principals: str,
    due: date = date(2024, 5, 15),
    rate: str | None = "4.3213",
    currency: str = "PLN",
) -> dict[str, Any]:
    return collection_costs(
        "PL",
        [Money.of(p, currency) for p in principals],
        debtor="business",
        on=due,
        eur_rate=Decimal(rate) if rate else None,
    )


def test_bands_per_invoice_without_summing() -> None:
    # Art. 10 ust. 1 (since 2020): EUR 40 if the amount "nie przekracza 5000 złotych",
    # EUR 70 above 5,000 and below 50,000, EUR 100 from 50,000 (tckancelaria.eu;
    # jakzrozumiecprawnika.pl). Per invoice, no summing (CJEU 1-12-2022, gazetaprawna.pl).
    r = pl_costs("5000", "5000.01", "49999.99", "50000")
    per = [c["compensation_eur"] for c in r["per_claim"]]
    assert per == ["40.00", "70.00", "70.00", "100.00"]
    # Two invoices of 3,000 PLN each earn EUR 40 each, never EUR 70 for their sum.
    assert [c["compensation_eur"] for c in pl_costs("3000", "3000")["per_claim"]] == [
        "40.00",
        "40.00",
    ]


def test_conversion_at_the_given_nbp_rate_rounds_half_up_to_the_grosz() -> None:
    # Art. 10 ust. 1: "równowartość kwoty 40 euro przeliczonej na złote według średniego
    # kursu euro ogłoszonego przez NBP" (lawblog.pl). Derived: 40 x 4.3213 = 172.852 -> 172.85;
    # 70 x 4.3213 = 302.491 -> 302.49; the total is the sum per invoice.
    r = pl_costs("1000", "6000")
    assert [c["costs"] for c in r["per_claim"]] == ["172.85", "302.49"]
    assert r["costs"] == "475.34"
    assert r["currency"] == "PLN"


def test_rate_of_the_last_working_day_of_the_month_before_the_due_date() -> None:
    # NBP archive archiwum_tab_a_2024.csv: 2024-05-31, table 105/A/NBP/2024, EUR 4.2678.
    # Due 2024-06-10 -> that rate; derived: 40 x 4.2678 = 170.712 -> PLN 170.71.
    r = pl_costs("1000", due=date(2024, 6, 10), rate=None)
    assert (r["rate_date"], r["eur_pln_rate"], r["costs"]) == ("2024-05-31", "4.2678", "170.71")
    # 30 May 2024 was Corpus Christi; 31 May a Friday: the table holds 2024-05-31. In 2018
    # Corpus Christi fell on 31 May, so NBP's last table of May was 2018-05-30 (table
    # 104/A/NBP/2018): the working-day rule must land there.
    assert pl_costs("1000", due=date(2018, 6, 15), rate=None)["rate_date"] == "2018-05-30"
    # NBP archive archiwum_tab_a_2024.csv: 2024-01-31, table 022/A/NBP/2024, EUR 4.3434.
    assert pl_costs("1000", due=date(2024, 2, 20), rate=None)["costs"] == "173.74"


def test_a_month_missing_from_the_rate_table_is_an_error_naming_the_date() -> None:
    # Due 2025-06-02 -> Friday 2025-05-30 (31 May 2025 is a Saturday), not in the table yet.
    with pytest.raises(RuleCoverageError, match=r"2025-05-30.*nbp_eur_rates\.csv.*--eur-rate"):
        pl_costs("1000", due=date(2025, 6, 2), rate=None)


def test_before_2020_one_band_of_40_euros() -> None:
    # Art. 10 ust. 1 in its original wording (lawblog.pl, 2016): "równowartość kwoty 40 euro".
    r = pl_costs("100000", due=date(2019, 6, 1))
    assert r["per_claim"][0]["compensation_eur"] == "40.00"


def test_consumer_debts_carry_no_statutory_compensation() -> None:
    r = collection_costs("PL", [Money.of("1000", "PLN")], debtor="consumer", on=date(2024, 1, 1))
    assert r["costs"] == "0.00"


def test_a_pl_question_without_a_debtor_kind_is_answered_for_a_business() -> None:
    # The statute covers commercial transactions only (art. 10 of the late-payment act).
    r = collection_costs("PL", [Money.of("1000", "PLN")], debtor=None, on=date(2024, 5, 15))
    assert (r["debtor"], r["costs"]) == ("business", "172.85")  # 40 x 4.3213 (2024-04-30)


@pytest.mark.parametrize(
    ("day", "expected_rate", "source"),
    [
        # infor.pl: odsetki za opóźnienie 10 % from 2025-10-09 to 2025-11-05 (ref 4.50 %)
        (date(2025, 10, 9), "10", "infor.pl"),
        (date(2025, 11, 5), "10", "infor.pl"),
        # zus.pl: 6,5 % from 18-3-2020 to 8-4-2020; 6 % from 9-4-2020; 5,6 % from 29-5-2020
        (date(2020, 3, 18), "6.5", "zus.pl"),
        (date(2020, 4, 9), "6", "zus.pl"),
        (date(2020, 5, 29), "5.6", "zus.pl"),
        # zus.pl: 7 % from 1-1-2016 (Dz. U. z 2016 r. poz. 47)
        (date(2016, 1, 1), "7", "zus.pl"),
        # inforlex.pl: 12 % from 2022-07-08 to 2022-09-07
        (date(2022, 7, 8), "12", "inforlex.pl"),
    ],
)
def test_statutory_late_interest_rate_follows_the_reference_rate(
    day: date, expected_rate: str, source: str
) -> None:
    r = interest(
        "PL", "consumer", Money.of("1000", "PLN"), day, date.fromordinal(day.toordinal() + 1)
    )
    assert r["periods"][0]["rate"] == expected_rate, source


@pytest.mark.parametrize(
    ("day", "expected_rate", "source"),
    [
        (date(2016, 3, 1), "9.5", "M.P. 2016 poz. 43: 9,50 % for 2016 H1"),
        (date(2019, 9, 1), "9.5", "M.P. 2019 poz. 671: 9,50 % for 2019 H2"),
        (date(2020, 8, 1), "10.1", "drabik.pl: 10,1 % from 1-7-2020"),
        (date(2021, 3, 1), "10.1", "M.P. 2020 poz. 1212: 10,1 % for 2021 H1"),
        (date(2024, 3, 1), "15.75", "inforfk.pl: 15,75 % for 2024 H1"),
        (date(2024, 10, 1), "15.75", "inforfk.pl: 15,75 % for 2024 H2"),
    ],
)
def test_commercial_rate_is_fixed_per_half_year(day: date, expected_rate: str, source: str) -> None:
    r = interest(
        "PL", "commercial", Money.of("1000", "PLN"), day, date.fromordinal(day.toordinal() + 1)
    )
    assert r["periods"][0]["rate"] == expected_rate, source


def test_interest_is_simple_and_split_at_reference_rate_changes() -> None:
    # finanse.wp.pl: "kwota odsetek = (kwota zaległości x liczba dni zwłoki x stopa) / 365",
    # per rate period, no capitalisation (art. 482 kc). Derived: PLN 10,000 from 2025-10-01
    # to 2025-11-01: 8 days at 10.25 % = 22.4658 + 23 days at 10 % = 63.0137 -> 85.48.
    r = interest("PL", "consumer", Money.of("10000", "PLN"), date(2025, 10, 1), date(2025, 11, 1))
    assert [(p["days"], p["rate"]) for p in r["periods"]] == [(8, "10.25"), (23, "10")]
    assert r["interest"] == "85.48"
    assert r["capitalised"] == []
