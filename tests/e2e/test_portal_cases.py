"""The overview and the case page: every figure equals the ledger, every part is explained,
and no one sees another person's debts. In Chromium (axe-core on every page), over HTTP,
and at the service level (with a Hypothesis property over payments)."""

from __future__ import annotations

import shutil
import tempfile
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, select

from respite.adapters.db.engine import make_engine
from respite.adapters.db.models import Case, Claim, Debtor, LedgerEntry
from respite.domain.lifecycle import HoldKind
from respite.entrypoints.web.app import create_app
from respite.entrypoints.web.i18n import translator
from respite.entrypoints.web.sessions import COOKIE
from respite.entrypoints.web.settings import WebSettings
from respite.services import portal_view
from respite.services.cases import place_hold
from respite.services.payments import book_payment, reverse_payment
from respite.services.people import person_key
from tests.e2e.browser import assert_accessible, live_server
from tests.e2e.portal_data import Portfolio, seed
from tests.e2e.portal_login import log_in_browser, portal_session
from tests.e2e.test_portal_login import seeded

__all__ = ["seeded"]  # the module-scoped seeded portfolio, shared with the login tests

NOW = datetime(2025, 2, 20, 12, tzinfo=UTC)
NL = translator("nl")


@dataclass
class Site:
    url: str
    engine: Engine
    portfolio: Portfolio


@pytest.fixture
def engine(tmp_path: Path, seeded: tuple[Path, Portfolio]) -> Iterator[Engine]:
    shutil.copy(seeded[0], tmp_path / "cases.db")
    eng = make_engine(f"sqlite:///{tmp_path / 'cases.db'}")
    yield eng
    eng.dispose()


@pytest.fixture
def site(engine: Engine, seeded: tuple[Path, Portfolio]) -> Iterator[Site]:
    portfolio = seeded[1]
    with live_server(create_app(engine, WebSettings(business_date=portfolio.on))) as server:
        yield Site(server.url, engine, portfolio)


def case_id(engine: Engine, reference: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(Case.id).where(Case.reference == reference)).scalar_one())


def person_of(engine: Engine, reference: str) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                select(person_key())
                .select_from(Case)
                .join(Debtor, Debtor.id == Case.debtor_id)
                .where(Case.reference == reference)
            ).scalar_one()
        )


def pay(engine: Engine, reference: str, cents: int, ref: str, on: date) -> None:
    with engine.begin() as conn:
        book_payment(conn, case_id(engine, reference), cents, on, ref, now=NOW, jurisdiction="NL")


def ledger(engine: Engine, reference: str) -> dict[str, dict[tuple[str, str], int]]:
    """Per invoice, cents per (kind, part), read straight from ledger_entries (no reversals
    happen in these tests)."""
    out: dict[str, dict[tuple[str, str], int]] = defaultdict(lambda: defaultdict(int))
    with engine.connect() as conn:
        for invoice, kind, bucket, cents in conn.execute(
            select(
                Claim.external_ref, LedgerEntry.kind, LedgerEntry.bucket, LedgerEntry.amount_cents
            )
            .join(Claim, Claim.id == LedgerEntry.claim_id)
            .join(Case, Case.id == Claim.case_id)
            .where(Case.reference == reference)
        ):
            out[invoice][(kind, bucket or "")] += int(cents)
    return out


def cell(page: Any, selector: str) -> str:
    return str(page.locator(selector).text_content()).strip()


# --- in the browser -----------------------------------------------------------------------


def test_the_overview_shows_each_open_debt_as_the_ledger_has_it(page: Any, site: Site) -> None:
    p = site.portfolio
    place_hold(
        site.engine, p.utility_case, HoldKind.DISPUTE, on=p.on, actor="debtor:portal",
        reason="meter reading disputed", at=NOW,
    )  # fmt: skip
    log_in_browser(page, site.url, site.engine, p.telecom_case)
    page.goto(f"{site.url}/overview")
    total = 0
    for ref in (p.utility_case, p.telecom_case):
        figures = ledger(site.engine, ref)
        open_cents = sum(
            f[("charge", b)] - f[("allocation", b)]
            for f in figures.values()
            for b in ("principal", "interest", "costs")
        )
        total += open_cents
        assert cell(page, f"#case-{ref} [data-testid=open]") == NL.money(open_cents)
    assert cell(page, "#total-EUR") == NL.money(total)
    assert cell(page, f"#case-{p.utility_case} .status") == "Gepauzeerd: wij bekijken uw bezwaar"
    assert cell(page, f"#case-{p.telecom_case} .status") == "Betaling nodig"
    assert p.other_case not in page.locator("main").inner_text()
    # Every action of the URL map is one click away.
    hrefs = set(page.locator("main a").evaluate_all("els => els.map(e => e.getAttribute('href'))"))
    for ref in (p.utility_case, p.telecom_case):
        assert {f"/cases/{ref}", f"/cases/{ref}/pay", f"/cases/{ref}/defer"} <= hrefs
        assert f"/cases/{ref}/dispute" in hrefs
    assert {"/plan", "/help"} <= hrefs
    assert_accessible(page, context="overview")


def test_the_case_page_shows_per_invoice_what_the_ledger_holds(page: Any, site: Site) -> None:
    p = site.portfolio
    pay(site.engine, p.telecom_case, 30_000, "bank-2025-02-20-1", p.on)
    figures = ledger(site.engine, p.telecom_case)
    log_in_browser(page, site.url, site.engine, p.telecom_case)
    page.goto(f"{site.url}/cases/{p.telecom_case}")
    assert page.locator("h1").inner_text() == "Uw schuld bij Bel Mobiel NV"
    for invoice in ("TEL-77", "TEL-78"):
        f = figures[invoice]
        for part in ("principal", "interest", "costs"):
            row = f"table[data-invoice={invoice}] tr[data-part={part}]"
            charged, paid = f[("charge", part)], f[("allocation", part)]
            assert cell(page, f"{row} td[data-col=charged]") == NL.money(charged)
            assert cell(page, f"{row} td[data-col=paid]") == NL.money(paid)
            assert cell(page, f"{row} td[data-col=open]") == NL.money(charged - paid)
    open_total = sum(
        f[("charge", b)] - f[("allocation", b)]
        for f in figures.values()
        for b in ("principal", "interest", "costs")
    )
    assert cell(page, "#open-total") == NL.money(open_total)
    # The payment: its amount and what it paid, part by part, in the 6:44 BW order.
    used = {b: sum(f[("allocation", b)] for f in figures.values()) for b in ("costs", "interest")}
    used["principal"] = sum(f[("allocation", "principal")] for f in figures.values())
    payment = page.locator("[data-testid=payment]")
    assert payment.count() == 1
    caption = str(payment.locator("caption").text_content()).strip()
    assert caption == NL.gettext(
        "%(amount)s paid on %(date)s", amount=NL.money(30_000), date=NL.date(p.on)
    )
    for part in ("costs", "interest", "principal"):
        assert cell(page, f"[data-testid=payment] tr[data-part={part}] td") == NL.money(used[part])
    assert sum(used.values()) == 30_000
    # 6:43 BW: the oldest invoice first; 6:44 BW: within it, costs, interest, then principal.
    assert sum(figures["TEL-78"][("allocation", b)] for b in used) == 0
    assert figures["TEL-77"][("allocation", "costs")] == figures["TEL-77"][("charge", "costs")]
    assert_accessible(page, context="case page")


def test_the_case_page_explains_interest_and_costs_in_plain_words(page: Any, site: Site) -> None:
    p = site.portfolio
    log_in_browser(page, site.url, site.engine, p.telecom_case)
    page.goto(f"{site.url}/cases/{p.telecom_case}?lang=en")
    text = " ".join(page.locator("main").inner_text().split())
    # Interest: kind, from which date, the rates and from when, the amount so far.
    assert (
        "Because this invoice was not paid on time, the law allows statutory interest from "
        "17 December 2024. So far €5.18 interest has been added." in text
    )
    assert "7% from 17 December 2024" in text
    assert "6% from 1 January 2025" in text
    assert "Set by law: Wettelijke rente (art. 6:119 BW)" in text
    # Collection costs: the amount, how the law sets it, on which amount, its legal basis.
    assert "For this case they are €172.50. We added them on 13 February 2025." in text
    for step in (
        "15% of the first €2,500.00",
        "10% of the next €2,500.00",
        "0.5% of the rest",
        "at least €40.00",
        "at most €6,775.00",
    ):
        assert step in text
    assert (
        "On 13 February 2025, €1,150.00 of the invoices was still open. "
        "For that amount, the law allows €172.50." in text
    )
    assert "Besluit BIK" in text
    assert "We have not received a payment for this case yet." in text
    assert_accessible(page, context="case page (en)")


@pytest.mark.parametrize(("lang", "heading"), [("fr", "Mes dettes"), ("pl", "Moje długi")])
def test_the_overview_speaks_french_and_polish(
    page: Any, site: Site, lang: str, heading: str
) -> None:
    log_in_browser(page, site.url, site.engine, site.portfolio.utility_case)
    page.goto(f"{site.url}/overview?lang={lang}")
    assert page.locator("h1").inner_text() == heading
    assert_accessible(page, context=f"overview ({lang})")


# --- over HTTP ----------------------------------------------------------------------------


def test_another_persons_case_is_not_found_exactly_like_an_unknown_one(site: Site) -> None:
    p = site.portfolio
    token = portal_session(site.engine, p.utility_case)
    with httpx.Client(base_url=site.url, cookies={COOKIE["portal"]: token}) as client:
        client.get("/overview")  # the CSRF cookie, so both answers below are alike
        own = client.get(f"/cases/{p.telecom_case}")
        someone_elses = client.get(f"/cases/{p.other_case}")
        unknown = client.get("/cases/R999999999")
    assert own.status_code == 200
    assert (someone_elses.status_code, unknown.status_code) == (404, 404)
    # Identical but for the path in the language links.
    assert someone_elses.text.replace(p.other_case, "REF") == unknown.text.replace(
        "R999999999", "REF"
    )
    assert "Piet" not in someone_elses.text


def test_the_pages_need_a_login(site: Site) -> None:
    for path in ("/overview", f"/cases/{site.portfolio.utility_case}"):
        response = httpx.get(f"{site.url}{path}", follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"] == "/login?next=" + path.replace("/", "%2F")


# --- the service ----------------------------------------------------------------------------


def test_the_overview_is_the_persons_open_cases_with_their_status(
    engine: Engine, seeded: tuple[Path, Portfolio]
) -> None:
    p = seeded[1]
    place_hold(
        engine, p.telecom_case, HoldKind.DEFERRAL, on=p.on, actor="debtor:portal",
        reason="salary comes on the 25th", until=p.on + timedelta(days=14), at=NOW,
    )  # fmt: skip
    with engine.connect() as conn:
        view = portal_view.overview(conn, person_of(engine, p.utility_case), on=p.on)
        piet = portal_view.overview(conn, person_of(engine, p.other_case), on=p.on)
    assert [c.reference for c in view.cases] == [p.telecom_case, p.utility_case]  # by creditor
    statuses = {c.reference: c.status for c in view.cases}
    assert statuses[p.telecom_case] == portal_view.Status("deferred", p.on + timedelta(days=14))
    assert statuses[p.utility_case] == portal_view.Status("payment_due")
    assert view.totals == (("EUR", sum(c.open.total for c in view.cases)),)
    assert [c.reference for c in piet.cases] == [p.other_case]


def test_costs_not_charged_yet_say_from_when_and_how_much_at_most(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    shutil.copy(request.getfixturevalue("_sqlite_template"), tmp_path / "early.db")
    eng = make_engine(f"sqlite:///{tmp_path / 'early.db'}")
    try:
        p = seed(eng, run_to=date(2025, 2, 5))  # the formal notice is out, the term runs
        with eng.connect() as conn:
            detail = portal_view.case_detail(
                conn, person_of(eng, p.telecom_case), p.telecom_case, on=p.on
            )
    finally:
        eng.dispose()
    assert detail is not None
    assert detail.costs.charged_cents == 0
    assert detail.costs.chargeable_from == date(2025, 2, 13)
    assert detail.costs.expected_cents == 17_250  # 15 % of EUR 1,150 (Besluit BIK)
    assert detail.open.costs == 0


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    payments=st.lists(st.integers(min_value=1, max_value=160_000), min_size=1, max_size=3),
    which=st.sampled_from(["utility", "telecom"]),
)
def test_whatever_is_paid_the_case_page_adds_up_to_the_ledger(
    seeded: tuple[Path, Portfolio], payments: list[int], which: str
) -> None:
    """For any payments (even more than is owed): per invoice and part, added − paid −
    waived equals the claim's balance; each payment's parts plus its credit equal the
    payment; and what is open plus what was paid equals what was added."""
    template, p = seeded
    ref = p.utility_case if which == "utility" else p.telecom_case
    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "prop.db"
        shutil.copy(template, db)
        eng = make_engine(f"sqlite:///{db}")
        try:
            for n, cents in enumerate(payments):
                pay(eng, ref, cents, f"prop-{n}", p.on)
            with eng.connect() as conn:
                detail = portal_view.case_detail(conn, person_of(eng, ref), ref, on=p.on)
                balances = {
                    r.external_ref: r
                    for r in conn.execute(select(Claim).where(Claim.case_id == case_id(eng, ref)))
                }
        finally:
            eng.dispose()
    assert detail is not None
    for claim in detail.claims:
        row = balances[claim.invoice]
        assert claim.open == portal_view.Parts(
            row.open_principal_cents, row.open_interest_cents, row.open_costs_cents
        )
    assert [x.amount_cents for x in detail.payments] == payments
    for x in detail.payments:
        assert x.used_for.total + x.credit_cents == x.amount_cents
    assert detail.credit_cents == sum(x.credit_cents for x in detail.payments)
    assert detail.open.total + detail.paid.total == detail.charged.total
    assert detail.received_cents == sum(payments)


def test_a_returned_payment_is_shown_as_returned_and_pays_nothing(
    engine: Engine, seeded: tuple[Path, Portfolio]
) -> None:
    p = seeded[1]
    pay(engine, p.utility_case, 10_000, "dd-1", p.on)
    with engine.begin() as conn:
        reverse_payment(conn, "dd-1", on=p.on, reason="returned direct debit", now=NOW)
        detail = portal_view.case_detail(
            conn, person_of(engine, p.utility_case), p.utility_case, on=p.on
        )
    assert detail is not None
    (payment,) = detail.payments
    assert payment.returned
    assert payment.used_for == portal_view.Parts()
    assert detail.paid == portal_view.Parts()
    assert detail.received_cents == 0


def test_interest_rates_are_the_rule_packs_over_the_days_of_default(
    engine: Engine, seeded: tuple[Path, Portfolio]
) -> None:
    p = seeded[1]
    with engine.connect() as conn:
        detail = portal_view.case_detail(
            conn, person_of(engine, p.telecom_case), p.telecom_case.lower(), on=p.on
        )
    assert detail is not None
    tel77 = detail.claims[0].interest
    assert tel77 is not None
    assert [(r.start, str(r.percent)) for r in tel77.rates] == [
        (date(2024, 12, 17), "7"),
        (date(2025, 1, 1), "6"),
    ]
    assert tel77.kind == "consumer"
    assert tel77.yearly_compounding
    assert tel77.charged_cents == detail.claims[0].charged.interest
    assert tel77.rule == "Wettelijke rente (art. 6:119 BW)"
