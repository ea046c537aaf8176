"""BE Book XIX WER and interest: published worked examples."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from respite.domain.money import Money
from respite.domain.notice import Channel
from respite.errors import ValidationError
from respite.services.calculators import collection_costs, cost_date, interest

ON = date(2024, 3, 1)


def be_costs(*principals: str, debtor: str = "consumer") -> dict[str, Any]:
    return collection_costs("BE", [Money.of(p) for p in principals], debtor=debtor, on=ON)


@pytest.mark.parametrize(
    ("balance", "expected", "source"),
    [
        # trends.knack.be (2023-08): "Bij een uitstaande schuld van 150 euro mag een extra
        # vergoeding maar 20 euro bedragen. Een schuld van 1.000 euro laat ... maximaal 90 euro."
        ("150", "20.00", "trends.knack.be"),
        ("1000", "90.00", "trends.knack.be"),
        # farys.be / legaleyes.be tiers, derived: 150.01 -> 30 + 10 % x 0.01 = 30.00;
        # 500 -> 30 + 35 = 65.00; 39,200 -> 65 + 5 % x 38,700 = 2,000 (the maximum);
        # 100,000 -> capped at 2,000.
        ("150.01", "30.00", "farys.be (derived)"),
        ("500", "65.00", "farys.be (derived)"),
        ("39200", "2000.00", "farys.be (derived)"),
        ("100000", "2000.00", "farys.be (derived)"),
        ("10", "20.00", "farys.be (derived)"),
    ],
)
def test_damages_caps_match_published_examples(balance: str, expected: str, source: str) -> None:
    assert be_costs(balance)["costs"] == expected, source


def test_business_debtor_gets_40_euros_per_invoice() -> None:
    # Law 2-8-2002 art. 6 (Directive 2011/7/EU art. 6): EUR 40 per commercial transaction.
    result = be_costs("100", "50000", debtor="business")
    assert result["costs"] == "80.00"


def test_waiting_period_after_a_paper_reminder_starts_on_the_third_working_day() -> None:
    # Art. XIX.2 §1 WER (latribune.avocats.be quotes the text). Derived: reminder posted on
    # Friday 2026-11-20 -> working days Mon 23, Tue 24, Wed 25 -> the 14 days run 25 Nov ..
    # 8 Dec -> damages from 9 December.
    r = cost_date("BE", date(2026, 11, 20), Channel.POST)
    assert (r["term_starts"], r["term_ends"], r["costs_chargeable_from"]) == (
        "2026-11-25",
        "2026-12-08",
        "2026-12-09",
    )


def test_waiting_period_skips_belgian_public_holidays() -> None:
    # Derived: posted Thursday 2025-10-30; Fri 31 (1), Sat 1 Nov All Saints / weekend,
    # Mon 3 (2), Tue 4 (3) -> term 4..17 November; Armistice Day (11 Nov) inside the term
    # does not count: it is calendar days.
    r = cost_date("BE", date(2025, 10, 30), Channel.POST)
    assert r["term_starts"] == "2025-11-04"
    assert r["costs_chargeable_from"] == "2025-11-18"


def test_waiting_period_after_an_email_starts_the_next_calendar_day() -> None:
    # Art. XIX.2 §1: "le délai ... prend cours le jour calendrier qui suit". Derived: e-mail of
    # Friday 2026-11-20 -> term 21 Nov .. 4 Dec -> damages from 5 December.
    r = cost_date("BE", date(2026, 11, 20), Channel.EMAIL)
    assert (r["term_starts"], r["costs_chargeable_from"]) == ("2026-11-21", "2026-12-05")


def test_legal_and_commercial_rates_by_period() -> None:
    # embuild.be: legal rate 2026 = 4,5 %; lawbase.be: B2B 2025 H1 11.5 %, 2025 H2 10.5 %.
    # Derived: EUR 1,000 over 2025 (365 days) at B2B rates: 181 days at 11.5 % = 57.0274
    # + 184 days at 10.5 % = 52.9315 -> EUR 109.96 (no capitalisation).
    r = interest("BE", "commercial", Money.of("1000"), date(2025, 1, 1), date(2026, 1, 1))
    assert [(p["days"], p["rate"]) for p in r["periods"]] == [(181, "11.5"), (184, "10.5")]
    assert r["interest"] == "109.96"
    legal = interest("BE", "consumer", Money.of("1000"), date(2026, 1, 1), date(2026, 7, 1))
    assert legal["interest"] == "22.32"  # 181 days x 4.5 % / 365 = 22.3151 (derived)


def test_consumer_contract_rate_is_capped_at_the_commercial_rate() -> None:
    # Book XIX WER: a consumer's late interest may not exceed the rate of art. 5 of the law
    # of 2-8-2002 (fairadvocaten.be). A 12 % clause in 2026 H1 is capped at 10.5 %.
    r = interest(
        "BE",
        "consumer",
        Money.of("1000"),
        date(2026, 1, 1),
        date(2026, 2, 1),
        contract_percent=Decimal("12"),
    )
    assert r["periods"][0]["rate"] == "10.5"
    assert "capped" in r["notes"][0]
    lower = interest(
        "BE",
        "consumer",
        Money.of("1000"),
        date(2026, 1, 1),
        date(2026, 2, 1),
        contract_percent=Decimal("6"),
    )
    assert lower["periods"][0]["rate"] == "6"


def test_belgian_costs_are_in_euro() -> None:
    with pytest.raises(ValidationError, match="--currency"):
        collection_costs("BE", [Money.of("100", "PLN")], debtor="consumer", on=ON)
