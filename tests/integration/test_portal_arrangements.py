"""The debtor's own arrangements in the portal, on SQLite and PostgreSQL: a budget, a plan
for every open case (accepted at once within policy, otherwise for review), a deferral and
the satisfaction question — each on the case timeline as ``debtor:portal``, and never on
another person's case.

Figures are those of the seeded portfolio (tests/e2e/portal_data.py) on 2025-02-20: Anna
owes EUR 282.20 (utility) + EUR 1,333.81 (telecom) = EUR 1,616.01.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from io import BytesIO
from pathlib import Path

import httpx
import pytest
from babel.messages.extract import extract_python
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, func, select

from respite.adapters.db.models import (
    BudgetStatement,
    Case,
    Debtor,
    Event,
    Feedback,
    Hold,
    Instalment,
    OutboxMessage,
    Plan,
)
from respite.domain.money import Currency
from respite.entrypoints.web.app import create_app
from respite.entrypoints.web.i18n import LANGUAGES, catalog, translator
from respite.entrypoints.web.sessions import COOKIE
from respite.entrypoints.web.settings import WebSettings
from respite.errors import ConflictError
from respite.services import portal_arrangements as svc
from tests.e2e.portal_data import Portfolio, seed
from tests.e2e.portal_login import portal_session

AT = datetime(2025, 2, 20, 9, 30, tzinfo=UTC)
ANNA_TOTAL = 161_601  # EUR 282.20 + EUR 1,333.81


@pytest.fixture
def portfolio(db_engine: Engine) -> Portfolio:
    return seed(db_engine)


@pytest.fixture
def sealed_cookies(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RESPITE_DATA_KEY", raising=False)
    monkeypatch.setenv("RESPITE_DATA_KEY_FILE", str(tmp_path / "data.key"))


def person_of(engine: Engine, reference: str) -> int:
    with engine.connect() as conn:
        row = conn.execute(
            select(Debtor.id, Debtor.person_id)
            .join(Case, Case.debtor_id == Debtor.id)
            .where(Case.reference == reference)
        ).one()
    return int(row.person_id or row.id)


def draft(wages: int, **costs: int) -> svc.BudgetDraft:
    """A complete draft: a single adult renting, ``wages`` and ``costs`` in cents."""
    return svc.BudgetDraft(
        adults=1,
        children=0,
        housing="rent",
        amounts={"wages": wages, **costs},
        done=list(svc.STEPS),
    )


ROOM = {"housing": 70_000, "energy": 12_000, "food": 30_000, "insurance": 15_000}


def events(engine: Engine, kind: str) -> list[tuple[str, str, dict[str, object]]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(Case.reference, Event.actor, Event.after)
            .join(Case, Case.id == Event.case_id)
            .where(Event.kind == kind)
            .order_by(Event.id)
        ).all()
    return [(r.reference, r.actor, dict(r.after)) for r in rows]


# -- budget ------------------------------------------------------------------------------


def test_a_budget_is_stored_with_its_capacity_and_lands_on_every_open_case(
    db_engine: Engine, portfolio: Portfolio
) -> None:
    anna = person_of(db_engine, portfolio.utility_case)
    statement_id = svc.save_budget(
        db_engine, anna, draft(185_000, **ROOM), on=portfolio.on, at=AT, confirmed=False
    )
    view = svc.budget_view(db_engine, anna)
    assert view is not None
    assert view.statement_id == statement_id
    # NL: 95 % of EUR 1,850 is protected (EUR 1,757.50), so at most EUR 92.50 a month;
    # after the costs EUR 725 would be left, so the protected minimum decides.
    assert (view.income_cents, view.fixed_cents, view.living_cents) == (185_000, 97_000, 30_000)
    assert (view.protected_cents, view.capacity_cents, view.limit_cents) == (175_750, 9_250, 9_250)
    assert view.left_cents == 58_000
    assert view.protected_decides
    on_timeline = events(db_engine, "budget_statement")
    assert sorted(ref for ref, _, _ in on_timeline) == sorted(
        [portfolio.utility_case, portfolio.telecom_case]
    )
    assert {actor for _, actor, _ in on_timeline} == {"debtor:portal"}
    assert on_timeline[0][2]["capacity"] == "92.50"
    # The other person's case hears nothing of it.
    assert portfolio.other_case not in {ref for ref, _, _ in on_timeline}
    # Coming back, the form is filled in with what was saved.
    again = svc.draft_from_latest(db_engine, anna)
    assert (again.adults, again.children, again.housing) == (1, 0, "rent")
    assert again.amounts == {"wages": 185_000, **ROOM}


def test_the_wizard_asks_every_category_of_the_statement_exactly_once() -> None:
    from respite.domain.affordability import CATEGORIES

    asked = [c for step in svc.STEP_CATEGORIES.values() for c in step]
    assert sorted(asked) == sorted(c for names in CATEGORIES.values() for c in names)
    assert len(asked) == len(set(asked))


def test_a_household_with_a_partner_and_children_is_a_couple_with_children() -> None:
    from respite.domain.affordability import Household

    kinds = {
        (a, c): svc.BudgetDraft(adults=a, children=c).household for a in (1, 2) for c in (0, 3)
    }
    assert kinds == {
        (1, 0): Household.SINGLE,
        (1, 3): Household.SINGLE_PARENT,
        (2, 0): Household.COUPLE,
        (2, 3): Household.COUPLE_WITH_CHILDREN,
    }


def test_a_tampered_draft_is_dropped_field_by_field() -> None:
    kept = svc.BudgetDraft.from_json(
        {
            "adults": 7,
            "children": -1,
            "housing": "castle",
            "amounts": {"wages": 100, "bitcoin": 5, "food": -3, "energy": True},
            "done": ["income", "nonsense"],
        }
    )
    assert (kept.adults, kept.children, kept.housing) == (None, None, None)
    assert kept.amounts == {"wages": 100}
    assert kept.done == ["income"]


@settings(max_examples=200, deadline=None)
@given(
    cents=st.integers(min_value=0, max_value=svc.MAX_MONTHLY_CENTS),
    language=st.sampled_from(sorted(LANGUAGES)),
)
def test_an_amount_shown_in_the_debtors_language_reads_back_to_the_same_cents(
    cents: int, language: str
) -> None:
    """For every amount and language: what the form shows (Babel's format) parses back
    to exactly the same cents — a returning debtor never sees their budget change."""
    t = translator(language)
    shown = t.number(Decimal(cents).scaleb(-2))
    separator = "." if language == "en" else ","
    assert svc.parse_money("x", shown, Currency.EUR, separator) == (cents, [])


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("abc", "Fill in an amount in numbers, for example %(example)s."),
        ("-5", "Fill in an amount of 0 or more."),
        ("12.345.678,00", "This amount is too high. Fill in the amount per month."),
        ("1.234", "Fill in an amount in numbers, for example %(example)s."),  # 3 decimals
    ],
)
def test_a_wrong_amount_is_refused_with_a_message_for_its_field(typed: str, message: str) -> None:
    amounts, errors = svc.parse_amount_step("income", {"wages": typed}, Currency.EUR, ".")
    assert amounts == {}
    assert [(e.name, e.message) for e in errors] == [("wages", message)]


# -- the plan ----------------------------------------------------------------------------


def test_an_offered_option_is_a_plan_at_once_with_instalments_that_sum_to_the_total(
    db_engine: Engine, portfolio: Portfolio
) -> None:
    anna = person_of(db_engine, portfolio.utility_case)
    svc.save_budget(
        db_engine, anna, draft(185_000, **ROOM), on=portfolio.on, at=AT, confirmed=False
    )
    page = svc.plan_page(db_engine, anna, on=portfolio.on, payday=25)
    assert page.live == ()
    assert page.offer is not None
    offer = page.offer
    assert offer.total_cents == ANNA_TOTAL
    assert [c.balance_cents for c in offer.cases] == [28_220, 133_381]
    assert offer.capacity_cents == 9_250
    by_label = {o.label: o for o in offer.options}
    # Never above the capacity: the 18-month plan asks exactly the capacity, 24 months less.
    assert set(by_label) == {"your capacity", "24 months"}
    option = by_label["24 months"]
    assert (option.months, option.instalment_cents, option.last_instalment_cents) == (
        24,
        6_734,
        6_719,
    )
    assert option.first_due == date(2025, 2, 25)

    outcome = svc.choose_option(
        db_engine,
        anna,
        on=portfolio.on,
        at=AT,
        label="24 months",
        instalment_cents=6_734,
        payday=25,
    )
    assert outcome.status == "active"
    with db_engine.connect() as conn:
        plan = conn.execute(select(Plan).where(Plan.id == outcome.plan_id)).one()
        assert (plan.status, plan.total_cents, plan.months, plan.proposed_by) == (
            "active",
            ANNA_TOTAL,
            24,
            "debtor:portal",
        )
        monthly = (
            conn.execute(
                select(func.sum(Instalment.amount_cents))
                .where(Instalment.plan_id == plan.id)
                .group_by(Instalment.due_date)
                .order_by(Instalment.due_date)
            )
            .scalars()
            .all()
        )
        assert monthly == [6_734] * 23 + [6_719]
        assert sum(monthly) == ANNA_TOTAL
        per_case = dict(
            conn.execute(
                select(Case.reference, func.sum(Instalment.amount_cents))
                .join(Case, Case.id == Instalment.case_id)
                .where(Instalment.plan_id == plan.id)
                .group_by(Case.reference)
            ).all()
        )
        assert per_case == {portfolio.utility_case: 28_220, portfolio.telecom_case: 133_381}
        stages = dict(conn.execute(select(Case.reference, Case.stage)).all())
    assert stages[portfolio.utility_case] == stages[portfolio.telecom_case] == "arrangement"
    assert stages[portfolio.other_case] != "arrangement"
    started = events(db_engine, "plan_started")
    assert sorted(ref for ref, _, _ in started) == sorted(
        [portfolio.utility_case, portfolio.telecom_case]
    )
    assert {actor for _, actor, _ in started} == {"debtor:portal"}
    # The page now shows the running plan instead of an offer, and its schedule.
    page = svc.plan_page(db_engine, anna, on=portfolio.on, payday=None)
    assert page.offer is None
    (live,) = page.live
    assert (live.status, live.instalment_cents, live.total_cents) == ("active", 6_734, ANNA_TOTAL)
    assert sum(amount for _, amount, _ in live.schedule) == ANNA_TOTAL
    with pytest.raises(ConflictError):
        svc.choose_option(
            db_engine,
            anna,
            on=portfolio.on,
            at=AT,
            label="24 months",
            instalment_cents=6_734,
            payday=25,
        )


def test_an_option_whose_amount_changed_since_it_was_shown_is_not_taken(
    db_engine: Engine, portfolio: Portfolio
) -> None:
    anna = person_of(db_engine, portfolio.utility_case)
    with pytest.raises(ConflictError):
        svc.choose_option(
            db_engine,
            anna,
            on=portfolio.on,
            at=AT,
            label="12 months",
            instalment_cents=10_000,  # the page showed another amount
            payday=None,
        )
    with db_engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Plan)).scalar_one() == 0


def test_an_own_amount_outside_policy_is_a_proposal_for_review(
    db_engine: Engine, portfolio: Portfolio
) -> None:
    anna = person_of(db_engine, portfolio.utility_case)
    # EUR 1,000 income leaves EUR 50 above the protected minimum: 33 months, longer
    # than the 24 months of the policy, so no option fits.
    svc.save_budget(db_engine, anna, draft(100_000), on=portfolio.on, at=AT, confirmed=True)
    page = svc.plan_page(db_engine, anna, on=portfolio.on, payday=None)
    assert page.offer is not None
    assert page.offer.capacity_cents == 5_000
    assert page.offer.options == ()

    outcome = svc.propose_own(
        db_engine, anna, on=portfolio.on, at=AT, instalment_cents=5_000, payday=None
    )
    assert outcome.status == "pending_review"
    with db_engine.connect() as conn:
        plan = conn.execute(select(Plan).where(Plan.id == outcome.plan_id)).one()
        review = conn.execute(
            select(OutboxMessage.template, OutboxMessage.payload).where(
                OutboxMessage.dedupe_key == f"plan-review:{plan.id}"
            )
        ).one()
        stages = set(
            conn.execute(
                select(Case.stage).where(
                    Case.reference.in_([portfolio.utility_case, portfolio.telecom_case])
                )
            ).scalars()
        )
    assert plan.status == "pending_review"
    assert "longer" in plan.reason
    assert review.template == "plan_review"
    assert "arrangement" not in stages  # nothing starts before an agent decides
    proposed = events(db_engine, "plan_proposed")
    assert {actor for _, actor, _ in proposed} == {"debtor:portal"}
    assert len(proposed) == 2
    page = svc.plan_page(db_engine, anna, on=portfolio.on, payday=None)
    assert [p.status for p in page.live] == ["pending_review"]
    assert page.offer is None


def test_an_own_amount_within_policy_starts_at_once(
    db_engine: Engine, portfolio: Portfolio
) -> None:
    anna = person_of(db_engine, portfolio.utility_case)
    outcome = svc.propose_own(
        db_engine, anna, on=portfolio.on, at=AT, instalment_cents=10_000, payday=None
    )
    assert outcome.status == "active"
    (live,) = svc.plan_page(db_engine, anna, on=portfolio.on, payday=None).live
    # 16 instalments of EUR 100 and a last one of EUR 16.01.
    assert [a for _, a, _ in live.schedule] == [10_000] * 16 + [1_601]


# -- deferral ----------------------------------------------------------------------------


def test_a_deferral_within_policy_is_granted_with_its_new_date(
    db_engine: Engine, portfolio: Portfolio
) -> None:
    anna = person_of(db_engine, portfolio.utility_case)
    page = svc.deferral_page(db_engine, anna, portfolio.telecom_case, on=portfolio.on)
    assert page.max_days == 60
    assert [(c.weeks, c.within_policy) for c in page.choices] == [
        (1, True),
        (2, True),
        (4, True),
        (8, True),
        (12, False),
    ]
    outcome = svc.request_deferral(
        db_engine,
        anna,
        portfolio.telecom_case,
        on=portfolio.on,
        at=AT,
        weeks=4,
        reason="waiting for my wages",
    )
    until = portfolio.on + timedelta(days=27)  # 28 days, the first one today
    assert (outcome.status, outcome.until) == ("granted", until)
    with db_engine.connect() as conn:
        hold = conn.execute(
            select(Hold)
            .join(Case, Case.id == Hold.case_id)
            .where(Case.reference == portfolio.telecom_case)
        ).one()
    assert (hold.kind, hold.start, hold.until, hold.placed_by) == (
        "deferral",
        portfolio.on,
        until,
        "debtor:portal",
    )
    placed = events(db_engine, "hold_placed")
    assert [(ref, actor) for ref, actor, _ in placed] == [(portfolio.telecom_case, "debtor:portal")]
    assert (
        svc.deferral_page(db_engine, anna, portfolio.telecom_case, on=portfolio.on).active_until
        == until
    )
    with pytest.raises(ConflictError):  # no second deferral on top of the first
        svc.request_deferral(
            db_engine, anna, portfolio.telecom_case, on=portfolio.on, at=AT, weeks=1, reason=""
        )


def test_a_deferral_longer_than_policy_goes_to_an_agent(
    db_engine: Engine, portfolio: Portfolio
) -> None:
    anna = person_of(db_engine, portfolio.utility_case)
    outcome = svc.request_deferral(
        db_engine, anna, portfolio.utility_case, on=portfolio.on, at=AT, weeks=12, reason=""
    )
    assert (outcome.status, outcome.until) == ("review", None)
    with db_engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Hold)).scalar_one() == 0
        (payload,) = conn.execute(
            select(OutboxMessage.payload).where(OutboxMessage.template == "deferral_review")
        ).scalars()
    assert payload["days"] == 84
    assert [(r, a) for r, a, _ in events(db_engine, "deferral_requested")] == [
        (portfolio.utility_case, "debtor:portal")
    ]
    page = svc.deferral_page(db_engine, anna, portfolio.utility_case, on=portfolio.on)
    assert page.review_pending
    assert page.active_until is None
    with pytest.raises(ConflictError):  # asking again the same day does not queue twice
        svc.request_deferral(
            db_engine, anna, portfolio.utility_case, on=portfolio.on, at=AT, weeks=12, reason=""
        )


# -- the satisfaction question ----------------------------------------------------------


def test_feedback_is_stored_and_its_score_alone_goes_on_the_timeline(
    db_engine: Engine, portfolio: Portfolio
) -> None:
    anna = person_of(db_engine, portfolio.utility_case)
    comment = "My neighbour Jan helped me; call me on 0612345678"
    answer, errors = svc.parse_feedback({"action": "plan", "score": "4", "comment": comment})
    assert errors == []
    assert answer is not None
    svc.record_feedback(db_engine, anna, answer, on=portfolio.on, at=AT)
    answer, _ = svc.parse_feedback({"action": f"defer:{portfolio.telecom_case}", "score": "2"})
    assert answer is not None
    svc.record_feedback(db_engine, anna, answer, on=portfolio.on, at=AT)

    with db_engine.connect() as conn:
        rows = conn.execute(
            select(Feedback.action, Feedback.score, Feedback.comment, Feedback.case_id).order_by(
                Feedback.id
            )
        ).all()
        telecom_id = conn.execute(
            select(Case.id).where(Case.reference == portfolio.telecom_case)
        ).scalar_one()
    assert [tuple(r) for r in rows] == [("plan", 4, comment, None), ("defer", 2, None, telecom_id)]
    scored = events(db_engine, "satisfaction")
    assert sorted((ref, after["action"], after["score"]) for ref, _, after in scored) == sorted(
        [
            (portfolio.utility_case, "plan", 4),
            (portfolio.telecom_case, "plan", 4),
            (portfolio.telecom_case, "defer", 2),
        ]
    )
    assert {actor for _, actor, _ in scored} == {"debtor:portal"}
    assert all("0612345678" not in str(after) for _, _, after in scored)


@pytest.mark.parametrize(
    ("form", "fields"),
    [
        ({"action": "plan", "score": "0"}, ["score"]),
        ({"action": "plan"}, ["score"]),
        ({"action": "hack", "score": "3"}, ["action"]),
        ({"action": "plan", "score": "3", "comment": "x" * 1001}, ["comment"]),
    ],
)
def test_a_feedback_answer_out_of_range_is_refused(form: dict[str, str], fields: list[str]) -> None:
    answer, errors = svc.parse_feedback(form)
    assert answer is None
    assert [e.name for e in errors] == fields


# -- through the web: only the person's own cases ----------------------------------------


@pytest.fixture
def client(db_engine: Engine, portfolio: Portfolio, sealed_cookies: None) -> Iterator[TestClient]:
    app = create_app(db_engine, WebSettings(business_date=portfolio.on))
    with TestClient(app, base_url="http://testserver") as http:
        http.cookies.set(COOKIE["portal"], portal_session(db_engine, portfolio.utility_case))
        http.get("/budget")  # the CSRF cookie
        yield http


def post(http: TestClient, url: str, data: dict[str, str]) -> httpx.Response:
    token = http.cookies["respite_csrf"]
    response: httpx.Response = http.post(
        url, data={"csrf_token": token, **data}, follow_redirects=False
    )
    return response


def test_another_persons_case_is_not_found_exactly_like_an_unknown_one(
    client: TestClient, db_engine: Engine, portfolio: Portfolio
) -> None:
    unknown = client.get("/cases/R999999999/defer")
    piets = client.get(f"/cases/{portfolio.other_case}/defer")
    assert unknown.status_code == piets.status_code == 404
    # The same page, but for the address itself (the language links point back at it).
    assert piets.text.replace(portfolio.other_case, "R999999999") == unknown.text
    for url, data in [
        (f"/cases/{portfolio.other_case}/defer", {"weeks": "2", "reason": ""}),
        ("/feedback", {"action": f"defer:{portfolio.other_case}", "score": "5"}),
    ]:
        response = post(client, url, data)
        assert response.status_code == 404
    with db_engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Hold)).scalar_one() == 0
        assert conn.execute(select(func.count()).select_from(Feedback)).scalar_one() == 0
        assert (
            conn.execute(
                select(func.count())
                .select_from(Event)
                .join(Case, Case.id == Event.case_id)
                .where(Case.reference == portfolio.other_case, Event.actor == "debtor:portal")
            ).scalar_one()
            == 0
        )
    # Anna's own case is hers to defer.
    assert client.get(f"/cases/{portfolio.telecom_case}/defer").status_code == 200


def test_a_wrong_amount_is_shown_next_to_its_field_with_what_was_typed(
    client: TestClient,
) -> None:
    response = post(client, "/budget/income", {"wages": "abc", "benefits": "120"})
    assert response.status_code == 400
    html = response.text
    assert 'id="field-wages-error"' in html
    assert 'value="abc"' in html
    assert 'value="120"' in html
    assert 'aria-describedby="field-wages-hint field-wages-error" aria-invalid="true"' in html
    assert 'href="#field-wages"' in html  # the summary links to the field


def test_the_wizard_keeps_its_values_in_a_sealed_cookie_of_this_session_only(
    client: TestClient, db_engine: Engine, portfolio: Portfolio
) -> None:
    post(client, "/budget/household", {"adults": "2", "children": "1", "housing": "own"})
    response = post(client, "/budget/income", {"wages": "2345,67"})
    assert response.headers["location"] == "/budget/home"
    sealed = client.cookies["respite_budget"]
    assert "2345" not in sealed
    assert "234567" not in sealed
    assert 'value="2.345,67"' in client.get("/budget/income").text
    assert "Mortgage" in client.get("/budget/home?lang=en").text
    # Another login of the same person does not get this draft.
    client.cookies.set(COOKIE["portal"], portal_session(db_engine, portfolio.utility_case))
    assert 'value="2.345,67"' not in client.get("/budget/income?lang=nl").text


def test_the_budget_is_saved_only_after_the_flags_are_confirmed(
    client: TestClient, db_engine: Engine
) -> None:
    post(client, "/budget/household", {"adults": "1", "children": "0", "housing": "rent"})
    post(client, "/budget/income", {"wages": "1850"})
    post(client, "/budget/home", {"housing": "1200", "energy": "150"})  # > half of income
    post(client, "/budget/fixed", {})
    post(client, "/budget/living", {"food": "300"})
    refused = post(client, "/budget/check", {})
    assert refused.status_code == 400
    assert 'id="field-confirm-error"' in refused.text
    with db_engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(BudgetStatement)).scalar_one() == 0
    saved = post(client, "/budget/check", {"confirm": "yes"})
    assert saved.headers["location"] == "/budget?saved=1"
    with db_engine.connect() as conn:
        row = conn.execute(select(BudgetStatement)).one()
    assert (row.income_cents, row.source, row.confirmed) == (185_000, "portal", True)
    assert [f["code"] for f in row.flags] == ["fixed_costs_share_high"]


def test_a_step_skipped_in_the_address_bar_sends_the_debtor_back_to_it(client: TestClient) -> None:
    response = client.get("/budget/check", follow_redirects=False)
    assert (response.status_code, response.headers["location"]) == (303, "/budget/household")
    assert client.get("/budget/nonsense").status_code == 404


def test_the_pages_need_a_login(db_engine: Engine, portfolio: Portfolio) -> None:
    app = create_app(db_engine, WebSettings(business_date=portfolio.on))
    with TestClient(app) as anonymous:
        for url in ("/budget", "/plan", f"/cases/{portfolio.utility_case}/defer"):
            response = anonymous.get(url, follow_redirects=False)
            assert response.status_code == 303
            assert response.headers["location"].startswith("/login?next=")


# -- every message the service shows is translated ----------------------------------------


def test_every_message_of_the_arrangements_service_is_translated() -> None:
    """The portal's i18n test reads the entry points; the form messages live here."""
    source = Path(svc.__file__).read_bytes()
    found: list[object] = [m[2] for m in extract_python(BytesIO(source), {"N_": None}, [], {})]
    messages = {m for m in found if isinstance(m, str)}
    assert len(messages) >= 10
    for language in ("nl", "fr", "pl"):
        missing = sorted(m for m in messages if m not in catalog(language))
        assert not missing, f"{language}: {missing}"
