"""Pro-rata sharing of repayment capacity, against published Dutch debt-settlement figures.

In the minnelijke schuldregeling every concurrent creditor receives the same percentage
of its claim ("pondspondsgewijs", RULES.md §1f); a creditor's share of each payment is its
claim's part of the total debt. The figures below are quoted in court documents.
"""

from __future__ import annotations

from decimal import Decimal

from respite.domain.distribution import Debt, coordinated_schedule, distribute_capacity
from respite.domain.money import Currency, Money


def eur(v: str) -> Money:
    return Money(Decimal(v), Currency.EUR)


def test_a_municipality_owed_11_25_percent_of_the_debt_gets_11_25_percent_of_each_payment() -> None:
    # ECLI:NL:PHR:2020:703, 1.1 and 1.3: total debt EUR 12,453.40; the gemeente Rotterdam's
    # claim of EUR 1,401.19 "beloopt 11,25% van de totale schuldenlast".
    shares = distribute_capacity(
        eur("100.00"),
        [
            Debt("gemeente", eur("1401.19"), eur("1401.19")),
            Debt("others", eur("11052.21"), eur("11052.21")),
        ],
    )
    assert shares["gemeente"] == eur("11.25")
    assert shares["others"] == eur("88.75")


def test_a_creditor_with_6_04_percent_of_the_debt_gets_6_04_percent() -> None:
    # bbwsnp.nl, "Afwijzing dwangakkoord wegens afwijkende regeling bevoorrechte
    # schuldeiser": total debt EUR 9,776.52; a claim of EUR 590.45 "die 6,04% van de totale
    # schuldenlast uitmaakt".
    shares = distribute_capacity(
        eur("100.00"),
        [
            Debt("refusing", eur("590.45"), eur("590.45")),
            Debt("rest", eur("9186.07"), eur("9186.07")),
        ],
    )
    assert shares["refusing"] == eur("6.04")


def test_200_a_month_for_36_months_repays_72_percent_of_10000() -> None:
    # schuldhulpverlening-schuldsanering.nl, "Berekenen van de afloscapaciteit": net income
    # 1,100 - VTLB 900 = capacity 200 a month; 36 x 200 = 7,200 of a total debt of 10,000,
    # "72% van het totale schuldbedrag". Every creditor gets the same 72%.
    debts = {"bank": 500_000, "energy": 300_000, "telecom": 200_000}
    with_ceiling = coordinated_schedule(
        20_000,
        list(debts),
        list(debts.values()),
        list(debts.values()),
        max_months=10_000,
    )
    paid_in_36 = {name: 0 for name in debts}
    for month in with_ceiling[:36]:
        for name, cents in month.amounts.items():
            paid_in_36[name] += cents
    assert sum(paid_in_36.values()) == 720_000
    assert paid_in_36 == {"bank": 360_000, "energy": 216_000, "telecom": 144_000}  # 72% each
