"""NL allocation (6:43/6:44 BW) and the 14-day letter: published examples."""

from __future__ import annotations

from datetime import date

from respite.domain.allocation import Bucket, ClaimBalance, allocate_across_claims
from respite.domain.money import Money
from respite.domain.notice import Channel
from respite.services.calculators import allocate_payment, cost_date

ORDER = (Bucket.COSTS, Bucket.INTEREST, Bucket.PRINCIPAL)


def test_debloggende_advocaat_6_44_example() -> None:
    # https://www.debloggendeadvocaat.nl/2015/08/07/incassokosten-6_44-bw/: EUR 10,000
    # principal, EUR 250 interest, EUR 875 BIK; the debtor pays EUR 10,000: "eerst de
    # buitengerechtelijke incassokosten voldaan, daarna de rente en het bedrag dat daarna
    # nog over blijft, strekt in mindering op de hoofdsom" -> 875 / 250 / 8,875.
    r = allocate_payment(
        "NL",
        Money.of("10000"),
        costs=Money.of("875"),
        interest_due=Money.of("250"),
        principal=Money.of("10000"),
        on=date(2015, 8, 7),
    )
    assert (r["costs"], r["interest"], r["principal"], r["unallocated"]) == (
        "875.00",
        "250.00",
        "8875.00",
        "0.00",
    )
    assert r["remaining"] == {"costs": "0.00", "interest": "0.00", "principal": "1125.00"}


def test_thl_advocaten_small_claim_example() -> None:
    # thladvocaten.nl: claim EUR 100 + EUR 5 interest + EUR 40 BIK = EUR 145; a payment of
    # EUR 100 goes first to the EUR 40 costs, then the EUR 5 interest (HR 10-07-2015).
    r = allocate_payment(
        "NL",
        Money.of("100"),
        costs=Money.of("40"),
        interest_due=Money.of("5"),
        principal=Money.of("100"),
        on=date(2015, 7, 10),
    )
    assert (r["costs"], r["interest"], r["principal"]) == ("40.00", "5.00", "55.00")


def test_an_overpayment_is_reported_unallocated() -> None:
    r = allocate_payment(
        "NL",
        Money.of("200"),
        costs=Money.of("40"),
        interest_due=Money.of("5"),
        principal=Money.of("100"),
        on=date(2024, 1, 1),
    )
    assert r["unallocated"] == "55.00"


def test_6_43_due_claims_first_then_most_onerous_then_oldest_then_pro_rata() -> None:
    # Art. 6:43 lid 2 BW (llmlegal.nl summary): due obligations first; then the most
    # onerous; then the oldest; then pro rata.
    def claim(cid: str, due: date, principal: str, pct: str = "0") -> ClaimBalance:
        from decimal import Decimal

        return ClaimBalance(cid, due, {Bucket.PRINCIPAL: Money.of(principal)}, Decimal(pct))

    on = date(2024, 6, 1)
    claims = [
        claim("future", date(2024, 9, 1), "100", "12"),  # not yet due: last
        claim("old", date(2023, 1, 1), "100"),
        claim("onerous", date(2024, 3, 1), "100", "12.5"),  # commercial rate: first
        claim("a", date(2024, 5, 1), "100"),
        claim("b", date(2024, 5, 1), "300"),
    ]
    result = allocate_across_claims(Money.of("300"), claims, ORDER, on=on)
    paid = {s.claim_id: str(s.allocation.to(Bucket.PRINCIPAL)) for s in result.shares}
    # 100 to the most onerous, 100 to the oldest, the last 100 pro rata over a and b (1:3).
    assert paid == {"onerous": "100.00", "old": "100.00", "a": "25.00", "b": "75.00"}
    designated = allocate_across_claims(Money.of("50"), claims, ORDER, on=on, designated="future")
    assert [s.claim_id for s in designated.shares] == ["future"]


def test_14_day_letter_by_post_counts_from_assumed_receipt() -> None:
    # HR 25-11-2016 (ECLI:NL:HR:2016:2704): the term starts the day after receipt; practice
    # (ikbendrentsondernemer.nl): letters arrive on the second day after sending, Sundays,
    # Mondays and public holidays not counted. Derived: letter of Friday 2026-11-06 ->
    # Saturday 7 (1st delivery day), Sun/Mon skipped, Tuesday 10 (2nd) = receipt; term
    # 11..24 November; costs chargeable from Wednesday 2026-11-25.
    r = cost_date("NL", date(2026, 11, 6), Channel.POST)
    assert (
        r["assumed_received"],
        r["term_starts"],
        r["term_ends"],
        r["costs_chargeable_from"],
    ) == (
        "2026-11-10",
        "2026-11-11",
        "2026-11-24",
        "2026-11-25",
    )


def test_receipt_assumption_is_configurable_per_call() -> None:
    # voorbeeldcontract.nl: "Ervan uitgaande dat PostNL 1 dag nodig heeft ... vangt de
    # termijn aan op de tweede dag na dagtekening". ciberjuristen.nl: a letter dated 3 June
    # must be paid "uiterlijk ... op 18 juni". Derived with one delivery day for a letter of
    # Tuesday 2025-06-03: received 4 June, term 5..18 June, costs from 19 June.
    r = cost_date("NL", date(2025, 6, 3), Channel.POST, receipt_days=1)
    assert (r["term_ends"], r["costs_chargeable_from"]) == ("2025-06-18", "2025-06-19")


def test_term_ending_on_a_weekend_or_holiday_runs_on() -> None:
    # Algemene termijnenwet art. 1 and 3 (recognised holidays include 5 May every year).
    # Derived: e-mail of Friday 2025-12-12, received that day; the term would end on Friday
    # 26 December (Tweede Kerstdag) and runs on past Saturday and Sunday to Monday 29.
    r = cost_date("NL", date(2025, 12, 12), Channel.EMAIL)
    assert r["term_ends"] == "2025-12-29"
    assert r["costs_chargeable_from"] == "2025-12-30"
