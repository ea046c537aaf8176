"""The debtor arranges things in a real browser (Debian's Chromium): the budget wizard to
an accepted plan, a proposal for review, a deferral and the satisfaction question — with
axe-core on every page, in Dutch (the browser's language) and once in English, and the
wizard once with JavaScript switched off."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from respite.adapters.db.engine import make_engine
from respite.adapters.db.models import Case, Debtor, Feedback, Plan
from respite.entrypoints.web.app import create_app
from respite.entrypoints.web.i18n import translator
from respite.entrypoints.web.settings import WebSettings
from respite.services import portal_arrangements as svc
from tests.e2e.browser import assert_accessible, live_server
from tests.e2e.portal_data import Portfolio, seed
from tests.e2e.portal_login import log_in_browser

NL = translator("nl")
nl = NL.gettext


@dataclass
class Site:
    url: str
    engine: Engine
    portfolio: Portfolio

    def log_in(self, page: Any, reference: str | None = None) -> None:
        log_in_browser(page, self.url, self.engine, reference or self.portfolio.utility_case)


@pytest.fixture
def site(tmp_path: Path, _sqlite_template: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Site]:
    monkeypatch.delenv("RESPITE_DATA_KEY", raising=False)
    monkeypatch.setenv("RESPITE_DATA_KEY_FILE", str(tmp_path / "data.key"))
    shutil.copy(_sqlite_template, tmp_path / "portal.db")
    engine = make_engine(f"sqlite:///{tmp_path / 'portal.db'}")
    portfolio = seed(engine)
    app = create_app(engine, WebSettings(business_date=portfolio.on))
    with live_server(app) as live:
        yield Site(live.url, engine, portfolio)
    engine.dispose()


def fill_amounts(page: Any, amounts: dict[str, str]) -> None:
    for label, value in amounts.items():
        page.get_by_label(nl(label), exact=True).fill(value)
    page.get_by_role("button", name=nl("Next")).click()


def test_the_budget_wizard_leads_to_an_accepted_plan_for_every_debt(site: Site, page: Any) -> None:
    site.log_in(page)
    page.goto(f"{site.url}/budget")
    assert page.locator("h1").inner_text() == nl("My budget")
    assert_accessible(page, context="budget, nothing filled in yet")
    page.get_by_role("link", name=nl("Start")).click()

    assert page.locator("h1").inner_text() == nl("Your household")
    assert_accessible(page, context="wizard: household")
    page.get_by_label(nl("Just me (and my children)")).check()
    page.get_by_label(nl("How many children live with you?")).fill("0")
    page.get_by_label(nl("I rent my home")).check()
    page.get_by_role("button", name=nl("Next")).click()

    assert page.locator("h1").inner_text() == nl("Your income")
    assert_accessible(page, context="wizard: income")
    wages = page.get_by_label(nl("Net wages"), exact=True)
    wages.fill("veel")
    page.get_by_role("button", name=nl("Next")).click()
    # Refused next to the field, linked to it, and what was typed is still there.
    error = page.locator("#field-wages-error")
    assert nl("Fill in an amount in numbers, for example %(example)s.", example="250,50") in (
        error.inner_text()
    )
    assert "field-wages-error" in (wages.get_attribute("aria-describedby") or "")
    assert wages.input_value() == "veel"
    assert_accessible(page, context="wizard: income with an error")
    wages.fill("1.850,00")
    page.get_by_role("button", name=nl("Next")).click()

    assert page.locator("h1").inner_text() == nl("Your home")
    assert_accessible(page, context="wizard: home")
    fill_amounts(
        page,
        {
            "Rent": "700",
            "Local taxes": "40",
            "Gas and electricity": "120",
            "Water": "25",
            "Phone, internet and TV": "45",
        },
    )
    assert page.locator("h1").inner_text() == nl("Other fixed costs")
    assert_accessible(page, context="wizard: other fixed costs")
    # Back and forth: the values are kept.
    page.get_by_role("link", name=nl("Back")).click()
    assert page.get_by_label(nl("Rent"), exact=True).input_value() == "700,00"
    page.get_by_role("button", name=nl("Next")).click()
    fill_amounts(page, {"Insurance": "150", "Transport": "60"})

    assert page.locator("h1").inner_text() == nl("Daily living costs")
    assert_accessible(page, context="wizard: daily living costs")
    fill_amounts(
        page,
        {
            "Food and drinks": "300",
            "Clothes and shoes": "40",
            "Personal care": "25",
            "Household items": "30",
            "Going out and hobbies": "40",
        },
    )

    assert page.locator("h1").inner_text() == nl("Check your budget")
    # EUR 1,140 of fixed costs is more than half of EUR 1,850: asked to confirm.
    assert nl("Your fixed costs are more than half of your income. Is that right?") in (
        page.content()
    )
    assert_accessible(page, context="wizard: check")
    page.get_by_role("button", name=nl("Save my budget")).click()
    assert page.locator("#field-confirm-error").is_visible()
    assert_accessible(page, context="wizard: check, not confirmed")
    page.get_by_label(nl("I have checked the amounts. They are right.")).check()
    page.get_by_role("button", name=nl("Save my budget")).click()

    assert page.url.endswith("/budget?saved=1")
    assert page.get_by_role("status").first.inner_text() == nl("Your budget is saved.")
    capacity = nl("You can pay %(amount)s a month.", amount=NL.money(9_250))
    assert page.locator(".big").first.inner_text() == capacity
    # The chart is an image whose name (title + description) says every figure.
    chart = page.get_by_role("img", name=nl("Your budget per month"))
    assert chart.locator("title").text_content() == nl("Your budget per month")
    assert NL.money(9_250) in (chart.locator("desc").text_content() or "")
    assert page.locator("table.figures").first.locator("td").all_inner_texts() == [
        NL.money(c) for c in (185_000, 114_000, 43_500, 175_750, 9_250)
    ]
    assert_accessible(page, context="budget overview with chart")

    page.get_by_role("link", name=nl("See your payment plan")).click()
    assert page.locator("h1").inner_text() == nl("Your payment plan")
    assert_accessible(page, context="plan offer")
    options = page.locator("li.option")
    assert options.locator("h3").all_inner_texts() == [
        nl("%(months)s months", months=18),
        nl("%(months)s months", months=24),
    ]
    twenty_four = options.filter(has_text=nl("%(months)s months", months=24))
    assert NL.money(6_734) in twenty_four.inner_text()
    twenty_four.get_by_role("button", name=nl("Choose this plan")).click()

    assert page.url.endswith("/plan?done=active")
    assert page.locator("h2").first.inner_text() == nl("Your plan is active")
    schedule = page.locator("table.schedule tbody tr")
    assert schedule.count() == 24
    assert page.locator("table.schedule tfoot td").first.inner_text() == NL.money(161_601)
    assert_accessible(page, context="plan active, with the satisfaction question")

    page.get_by_label("4", exact=True).check()
    page.get_by_label(nl("Comment (optional)")).fill("Duidelijk, dank u.")
    page.get_by_role("button", name=nl("Send")).click()
    assert page.locator("h1").inner_text() == nl("Thank you")
    assert_accessible(page, context="feedback thanks")
    with site.engine.connect() as conn:
        assert conn.execute(select(Feedback.action, Feedback.score)).one() == ("plan", 4)
        assert conn.execute(select(Plan.status)).scalar_one() == "active"

    page.goto(f"{site.url}/overview")
    assert page.get_by_text(nl("In a payment plan")).count() == 2


def test_a_proposal_outside_policy_waits_for_review_in_english(site: Site, page: Any) -> None:
    anna = person(site.engine, site.portfolio.utility_case)
    small = svc.BudgetDraft(1, 0, "rent", {"wages": 100_000}, list(svc.STEPS))
    svc.save_budget(
        site.engine, anna, small, on=site.portfolio.on, at=datetime.now(UTC), confirmed=True
    )
    site.log_in(page)
    page.goto(f"{site.url}/budget?lang=en")
    assert page.locator(".big").first.inner_text() == "You can pay €50.00 a month."
    assert_accessible(page, context="budget overview in English")
    page.goto(f"{site.url}/plan")
    assert page.locator("html").get_attribute("lang") == "en"
    assert "We cannot offer a plan that fits your budget" in page.content()
    assert page.get_by_role("link", name="Ask for help with your debts").get_attribute("href") == (
        "/help"
    )
    assert_accessible(page, context="plan: no option fits")
    page.get_by_label("Amount per month").fill("40")
    page.get_by_role("button", name="Send my proposal").click()

    assert page.url.endswith("/plan?done=review")
    assert page.locator("h2").first.inner_text() == "Your proposal is being reviewed"
    assert "We will reply within 5 days." in page.content()
    assert_accessible(page, context="plan: proposal for review")
    with site.engine.connect() as conn:
        assert conn.execute(select(Plan.status, Plan.instalment_cents)).one() == (
            "pending_review",
            4_000,
        )


def test_a_deferral_within_policy_shows_the_new_date_and_a_longer_one_goes_to_a_colleague(
    site: Site, page: Any
) -> None:
    on = site.portfolio.on
    site.log_in(page)
    page.goto(f"{site.url}/cases/{site.portfolio.telecom_case}/defer")
    assert page.locator("h1").inner_text() == nl("Ask for more time to pay")
    assert_accessible(page, context="deferral form")
    until = on + timedelta(days=13)
    page.get_by_label(nl("%(weeks)s weeks, until %(date)s", weeks=2, date=NL.date(until))).check()
    page.get_by_label(nl("Why do you need more time? (optional)")).fill("Mijn loon komt later.")
    page.get_by_role("button", name=nl("Ask for more time")).click()
    assert page.url.endswith("/defer?done=granted")
    assert page.locator(".notice .big").inner_text() == nl(
        "You have more time until %(date)s.", date=NL.date(until)
    )
    assert_accessible(page, context="deferral granted, with the satisfaction question")

    page.goto(f"{site.url}/cases/{site.portfolio.utility_case}/defer")
    page.get_by_label(
        nl("%(weeks)s weeks, until %(date)s", weeks=12, date=NL.date(on + timedelta(days=83)))
    ).check()
    page.get_by_role("button", name=nl("Ask for more time")).click()
    assert page.url.endswith("/defer?done=review")
    assert (
        nl(
            "You asked for more time than we can agree to at once. A colleague will look at it. "
            "We will reply within %(days)s days.",
            days=5,
        )
        in page.content()
    )
    assert_accessible(page, context="deferral for review")
    # Piet's case is not there for Anna.
    response = page.goto(f"{site.url}/cases/{site.portfolio.other_case}/defer")
    assert response is not None
    assert response.status == 404


def test_the_wizard_works_without_javascript(site: Site, browser: Any) -> None:
    context = browser.new_context(
        locale="nl-NL", viewport={"width": 390, "height": 844}, java_script_enabled=False
    )
    try:
        page = context.new_page()
        site.log_in(page)
        page.goto(f"{site.url}/budget/household")
        page.get_by_label(nl("Me and my partner (and our children)")).check()
        page.get_by_label(nl("How many children live with you?")).fill("2")
        page.get_by_label(nl("I own my home")).check()
        page.get_by_role("button", name=nl("Next")).click()
        assert page.url.endswith("/budget/income")
        page.get_by_label(nl("Net wages"), exact=True).fill("2400")
        page.get_by_role("button", name=nl("Next")).click()
        # The housing line is named after the answer on the first page.
        assert page.get_by_label(nl("Mortgage"), exact=True).is_visible()
        page.get_by_role("link", name=nl("Back")).click()
        assert page.get_by_label(nl("Net wages"), exact=True).input_value() == "2.400,00"
        page.get_by_role("link", name=nl("Back")).click()
        assert page.get_by_label(nl("How many children live with you?")).input_value() == "2"
        assert page.get_by_label(nl("I own my home")).is_checked()
    finally:
        context.close()


def person(engine: Engine, reference: str) -> int:
    with engine.connect() as conn:
        row = conn.execute(
            select(Debtor.id, Debtor.person_id)
            .join(Case, Case.debtor_id == Debtor.id)
            .where(Case.reference == reference)
        ).one()
    return int(row.person_id or row.id)
