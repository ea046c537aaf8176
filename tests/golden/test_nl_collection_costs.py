"""NL buitengerechtelijke incassokosten: published worked examples.

Rule: Besluit vergoeding voor buitengerechtelijke incassokosten (BWBR0031432) art. 2.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from respite.domain.money import Money
from respite.errors import RuleCoverageError, ValidationError
from respite.services.calculators import collection_costs

ON = date(2024, 6, 3)


def costs(
    *principals: str,
    debtor: str = "consumer",
    vat_uplift_declared: bool = False,
    paid_in_term: Money | None = None,
) -> dict[str, Any]:
    return collection_costs(
        "NL",
        [Money.of(p) for p in principals],
        debtor=debtor,
        on=ON,
        vat_uplift_declared=vat_uplift_declared,
        paid_in_term=paid_in_term,
    )


@pytest.mark.parametrize(
    ("principal", "expected", "source"),
    [
        # DAS, "Wat is de hoogte van de incassokosten": "Stel dat de vordering € 10.000 is ...
        # Totale incassokosten: € 875"
        ("10000", "875.00", "das.nl"),
        # Exact support blog: "Bij een vervallen hoofdsom van 6000 euro ... = 675."
        ("6000", "675.00", "exact.com"),
        # ciberjuristen.nl: "Over een rekening met een hoogte van € 2500,- bedragen de
        # incassokosten € 375,-"
        ("2500", "375.00", "ciberjuristen.nl"),
        # Bosveld WIK calculator, cumulative column: 625 at 5,000; 2,775 at 200,000;
        # 6,775 at 1,000,000 (excl. VAT)
        ("5000", "625.00", "bosveld.nl"),
        ("200000", "2775.00", "bosveld.nl"),
        ("1000000", "6775.00", "bosveld.nl"),
        # thladvocaten.nl: "een vordering van € 100,-- ... € 40,-- aan buitengerechtelijke
        # incassokosten" (the minimum)
        ("100", "40.00", "thladvocaten.nl"),
        # Exact: "Minimum 40,-: < 266,67 then 40" — derived boundary: 266.66 -> 40.00 (39.999),
        # 266.67 -> 40.0005 -> 40.00, 266.70 -> 40.005 -> 40.01 (half-up)
        ("266.66", "40.00", "exact.com (derived)"),
        ("266.70", "40.01", "exact.com (derived)"),
        # Above EUR 1,000,000 the maximum EUR 6,775 applies (Besluit art. 2 lid 1)
        ("2500000", "6775.00", "Besluit BIK art. 2 (derived)"),
    ],
)
def test_staffel_matches_published_examples(principal: str, expected: str, source: str) -> None:
    assert costs(principal)["costs"] == expected, source


def test_one_reminder_for_several_claims_applies_the_staffel_once_to_the_sum() -> None:
    # DAS "hoe gaat u om met meerdere vorderingen": rent for January and February reminded
    # in one letter -> BIK over the total; art. 6:96 lid 7 BW (Wki) makes this the law.
    # Two invoices of EUR 2,500: 15 % of 2,500 + 10 % of 2,500 = EUR 625, not 2 x 375.
    result = costs("2500", "2500")
    assert result["basis"] == "5000.00"
    assert result["costs"] == "625.00"
    # Two small invoices share one minimum: EUR 100 + EUR 100 -> EUR 40, not EUR 80.
    assert costs("100", "100")["costs"] == "40.00"


def test_vat_uplift_only_with_the_creditors_declaration() -> None:
    # Besluit BIK art. 2 lid 3; 21 % since 1-10-2012 (rbvk.nl). Derived: 375 x 1.21 = 453.75,
    # 40 x 1.21 = 48.40, 6,775 x 1.21 = 8,197.75 (the uplift comes on top of the maximum).
    assert costs("2500")["costs"] == "375.00"
    with_vat = costs("2500", vat_uplift_declared=True)
    assert (with_vat["costs"], with_vat["vat"], with_vat["vat_percent"]) == (
        "453.75",
        "78.75",
        "21",
    )
    assert costs("100", vat_uplift_declared=True)["costs"] == "48.40"
    assert costs("1000000", vat_uplift_declared=True)["costs"] == "8197.75"


def test_vat_uplift_before_october_2012_used_19_percent() -> None:
    # Wet OB 1968 art. 9: 19 % until 30-9-2012 (rbvk.nl). Derived: 375 x 1.19 = 446.25.
    result = collection_costs(
        "NL", [Money.of("2500")], debtor="consumer", on=date(2012, 9, 1), vat_uplift_declared=True
    )
    assert result["costs"] == "446.25"


def test_partial_payment_inside_the_term_recomputes_the_costs_on_the_remainder() -> None:
    # HR 25-11-2016, ECLI:NL:HR:2016:2704: a partial payment within the 14 days means the
    # costs are recomputed over the unpaid remainder (ikbendrentsondernemer.nl). Derived:
    # principal 1,000 -> EUR 150 announced; EUR 600 paid in time -> 15 % of 400 = EUR 60.
    result = costs("1000", paid_in_term=Money.of("600"))
    assert (result["costs_announced"], result["costs"], result["basis"]) == (
        "150.00",
        "60.00",
        "400.00",
    )
    assert costs("1000", paid_in_term=Money.of("1000"))["costs"] == "0.00"
    with pytest.raises(ValidationError, match="--paid-in-term"):
        costs("1000", paid_in_term=Money.of("1000.01"))


def test_business_debtor_owes_at_least_40_euros_without_a_reminder() -> None:
    # Art. 6:96 lid 4 BW: "ten minste een bedrag van 40 euro ... zonder aanmaning
    # verschuldigd"; without a contract clause the staffel applies (DAS; VVCM).
    small = costs("100", debtor="business")
    assert small["costs"] == "40.00"
    assert small["notice_required"] is False
    assert costs("10000", debtor="business")["costs"] == "875.00"


def test_dates_before_the_besluit_are_refused_not_guessed() -> None:
    with pytest.raises(RuleCoverageError, match="known from 2012-07-01"):
        collection_costs("NL", [Money.of("100")], debtor="consumer", on=date(2012, 6, 30))


def test_only_euro_amounts_are_accepted_for_nl() -> None:
    with pytest.raises(ValidationError, match="--currency"):
        collection_costs("NL", [Money.of("100", "PLN")], debtor="consumer", on=ON)
