"""The operator console in a real server and Debian's Chromium: an agent logs in and works
the call queue, searches, reads the debtor-360, places a hold a supervisor lifts, proposes
plans within authority; compliance opens a vulnerability note and finds the reading in
the audit log; dashboards and the social report; every page checked with axe-core; every
route refused without a login and for every role that may not use it."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, select, update

from respite.adapters.db.engine import make_engine
from respite.adapters.db.models import (
    AuditEntry,
    CallTask,
    Event,
    Hold,
    Plan,
    SensitiveNote,
    User,
)
from respite.entrypoints.console import login, oversight, work
from respite.entrypoints.web.app import create_app
from respite.entrypoints.web.security import CSRF_COOKIE
from respite.entrypoints.web.settings import WebSettings
from respite.services import messaging, users
from tests.e2e.browser import assert_accessible, live_server
from tests.e2e.portal_data import Portfolio, seed

PASSWORD = "correct horse battery staple"  # noqa: S105 - test users only
NOW = datetime(2025, 2, 20, 9, tzinfo=UTC)


class MovableClock:
    """The app's clock, moved by the test (idle timeouts)."""

    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at

    def today(self) -> Any:
        return self.at.date()


@dataclass
class Console:
    url: str
    engine: Engine
    portfolio: Portfolio
    task: int
    anna: int
    clock: MovableClock


@pytest.fixture
def console(
    tmp_path: Path, _sqlite_template: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Console]:
    monkeypatch.delenv("RESPITE_DATA_KEY", raising=False)
    monkeypatch.setenv("RESPITE_DATA_KEY_FILE", str(tmp_path / "data.key"))
    shutil.copy(_sqlite_template, tmp_path / "console.db")
    engine = make_engine(f"sqlite:///{tmp_path / 'console.db'}")
    portfolio = seed(engine)
    with engine.begin() as conn:
        for name, role, limit, creditor in (
            ("alice", "agent", 100_000, None),  # EUR 1,000.00
            ("sam", "supervisor", 500_000, None),
            ("jo", "supervisor", 10_000, None),  # EUR 100.00
            ("cora", "compliance", 0, None),
            ("ada", "admin", 500_000, None),
            ("stroom", "creditor", 0, "Stroom & Water BV"),
        ):
            users.create_user(
                conn, name, PASSWORD, role=role, now=NOW, plan_limit_cents=limit, creditor=creditor
            )
    settings = messaging.settings_from_env({})
    messaging.request_contact(
        engine,
        portfolio.telecom_case,
        channel="phone",
        template="call_offer_help",
        source="strategy",
        actor="strategy",
        on=portfolio.on,
        now=messaging.send_moment(portfolio.on, time(10), settings),
        channels={},
        settings=settings,
    )
    with engine.connect() as conn:
        task = conn.execute(select(CallTask.id, CallTask.person_id)).one()
    clock = MovableClock(NOW)
    app = create_app(engine, WebSettings(business_date=portfolio.on), clock)
    with live_server(app) as server:
        yield Console(server.url, engine, portfolio, int(task.id), int(task.person_id), clock)
    engine.dispose()


def log_in(page: Any, c: Console, username: str) -> None:
    page.goto(f"{c.url}/console/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    with page.expect_navigation():
        page.get_by_role("button", name="Log in").click()
    assert "/console/login" not in page.url


def log_out(page: Any, c: Console) -> None:
    page.goto(f"{c.url}/console/")
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url("**/console/login?done=logged_out")


def audit(c: Console, action: str) -> list[Any]:
    with c.engine.connect() as conn:
        return list(
            conn.execute(
                select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)
            )
        )


def h1(page: Any) -> str:
    text: str = page.locator("h1").inner_text()
    return text


# --- the agent's day ------------------------------------------------------------------


def test_an_agent_logs_in_and_works_the_call_queue(console: Console, page: Any) -> None:
    page.goto(f"{console.url}/console/calls")
    assert "/console/login?next=%2Fconsole%2Fcalls" in page.url
    assert page.get_attribute("html", "lang") == "en"
    assert_accessible(page, context="login")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{console.url}/console/calls")
    assert h1(page) == "Call queue"
    assert_accessible(page, context="call queue")
    page.get_by_role("link", name=f"Open task {console.task}").click()
    assert h1(page) == f"Call task {console.task}"
    assert page.get_by_text("Anna de Vries", exact=True).first.is_visible()
    assert "Hulp aanbieden" in page.locator(".script").inner_text()
    assert_accessible(page, context="call task")
    page.get_by_label("Promise to pay").check()
    page.get_by_label("Note (optional)").fill("Pays EUR 100 on Friday")
    page.get_by_role("button", name="Log the outcome").click()
    page.wait_for_url(f"**/console/debtors/{console.anna}?done=call_logged#cases")
    assert page.get_by_role("status").first.inner_text() == "The call is logged."
    with console.engine.connect() as conn:
        task = conn.execute(select(CallTask).where(CallTask.id == console.task)).one()
    assert (task.status, task.outcome, task.agent) == ("done", "promise_to_pay", "user:alice")
    assert task.note == "Pays EUR 100 on Friday"
    [read] = audit(console, "read_call_task")
    assert (read.actor, read.subject_id) == ("user:alice", str(console.anna))
    page.get_by_role("link", name="Call queue").click()
    assert "no open call tasks" in page.locator("main").inner_text()


def test_the_start_page_shows_the_work_waiting_and_the_users_authority(
    console: Console, page: Any
) -> None:
    log_in(page, console, "alice")
    assert h1(page) == "Good to see you, alice"
    main = page.locator("main").inner_text()
    assert "EUR 1,000.00" in main
    assert page.get_by_role("link", name="Work the call queue").is_visible()
    assert page.get_by_role("link", name="Audit log").count() == 0  # not an agent's
    assert_accessible(page, context="start page")


def test_a_wrong_password_is_refused_with_an_error_tied_to_the_fields(
    console: Console, page: Any
) -> None:
    page.goto(f"{console.url}/console/login")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Log in").click()
    assert page.get_by_role("alert").inner_text() == "The username or password is not right."
    assert page.get_by_label("Password").get_attribute("aria-describedby") == "login-error"
    assert_accessible(page, context="login error")


def test_search_leads_to_the_debtor_360_and_both_reads_are_audited(
    console: Console, page: Any
) -> None:
    log_in(page, console, "alice")
    page.get_by_role("link", name="Search").click()
    page.get_by_label("Reference, claim number, name, e-mail, phone or postcode").fill("de vries")
    page.get_by_role("button", name="Search").click()
    rows = page.locator("tbody tr")
    assert rows.count() == 2
    assert "Piet" not in page.locator("main").inner_text()
    assert_accessible(page, context="search results")
    page.get_by_role("link", name=console.portfolio.utility_case).click()
    assert h1(page).startswith("Anna de Vries")
    main = page.locator("main").inner_text()
    assert console.portfolio.telecom_case in main
    assert console.portfolio.other_case not in main
    assert "NL91ABNA0417164300" in main
    assert_accessible(page, context="debtor 360")
    assert [e.subject_id for e in audit(console, "search_debtors")] == [str(console.anna)]
    assert [e.subject_id for e in audit(console, "read_debtor_360")] == [str(console.anna)]
    page.goto(f"{console.url}/console/debtors/99999")
    assert h1(page) == "Something went wrong"


def test_an_agent_places_a_hold_and_a_supervisor_lifts_it(console: Console, page: Any) -> None:
    ref = console.portfolio.utility_case
    log_in(page, console, "alice")
    page.goto(f"{console.url}/console/debtors/{console.anna}")
    hold_form = page.locator("#hold-form")
    hold_form.get_by_label("Case", exact=True).select_option(ref)
    hold_form.get_by_label("Kind of hold").select_option("dispute")
    hold_form.get_by_label("Why").fill("Disputes the meter reading")
    hold_form.get_by_role("button", name="Place the hold").click()
    page.wait_for_url("**?done=hold_placed#holds")
    assert page.get_by_role("status").first.inner_text() == "The hold is placed."
    assert "Disputes the meter reading" in page.locator("#holds").inner_text()
    assert page.get_by_role("button", name=f"Lift the dispute hold on {ref}").count() == 0
    log_out(page, console)
    log_in(page, console, "sam")
    page.goto(f"{console.url}/console/debtors/{console.anna}")
    page.get_by_label("Why lift this hold").fill("Meter read again: the invoice was right")
    page.get_by_role("button", name=f"Lift the dispute hold on {ref}").click()
    page.wait_for_url("**?done=hold_lifted#holds")
    assert "No case is on hold." in page.locator("#holds").inner_text()
    assert_accessible(page, context="debtor 360 after lifting")
    with console.engine.connect() as conn:
        events = conn.execute(
            select(Event.kind, Event.actor, Event.reason)
            .where(Event.kind.in_(("hold_placed", "hold_lifted")))
            .order_by(Event.id)
        ).all()
    assert events == [
        ("hold_placed", "user:alice", "Disputes the meter reading"),
        ("hold_lifted", "user:sam", "Meter read again: the invoice was right"),
    ]


def test_plans_within_authority_are_proposed_above_refused_and_a_supervisor_approves(
    console: Console, page: Any
) -> None:
    log_in(page, console, "alice")
    page.goto(f"{console.url}/console/debtors/{console.anna}")
    plan_form = page.locator("#plan-form")
    plan_form.get_by_label("All open cases").check()
    plan_form.get_by_label("Monthly amount").fill("100,00")
    plan_form.get_by_role("button", name="Propose the plan").click()
    assert h1(page) == "Something went wrong"
    assert "above your authority of EUR 1,000.00" in page.get_by_role("alert").inner_text()
    assert_accessible(page, context="refusal")
    page.goto(f"{console.url}/console/debtors/{console.anna}")
    plan_form.get_by_label("Case", exact=True).select_option(console.portfolio.utility_case)
    plan_form.get_by_label("Monthly amount").fill("10,00")  # 29 months: outside policy
    plan_form.get_by_role("button", name="Propose the plan").click()
    page.wait_for_url("**?done=plan_review#plans")
    assert "waits for a supervisor" in page.get_by_role("status").first.inner_text()
    log_out(page, console)
    log_in(page, console, "jo")  # a supervisor whose limit is EUR 100.00
    page.get_by_role("link", name="Plan reviews").click()
    [plan_id] = [p.id for p in plans(console)]
    page.get_by_role("button", name=f"Approve plan {plan_id}").click()
    assert "above your authority of EUR 100.00" in page.get_by_role("alert").inner_text()
    log_out(page, console)
    log_in(page, console, "sam")
    page.get_by_role("link", name="Plan reviews").click()
    assert_accessible(page, context="plan reviews")
    page.get_by_role("button", name=f"Approve plan {plan_id}").click()
    page.wait_for_url("**/console/plans?done=plan_approved")
    assert "No plan proposal waits" in page.locator("main").inner_text()
    [plan] = plans(console)
    assert (plan.status, plan.proposed_by, plan.decided_by) == ("active", "user:alice", "user:sam")


def plans(c: Console) -> list[Any]:
    with c.engine.connect() as conn:
        return list(conn.execute(select(Plan.id, Plan.status, Plan.proposed_by, Plan.decided_by)))


def test_compliance_opens_a_vulnerability_note_and_the_audit_log_shows_it(
    console: Console, page: Any
) -> None:
    log_in(page, console, "alice")
    page.goto(f"{console.url}/console/debtors/{console.anna}")
    page.get_by_label("What did you notice?").fill("Mentions a recent bereavement")
    page.get_by_label("The debtor agreed that we record this").check()
    page.get_by_label("Put the open cases on hold for a vulnerability review").check()
    page.get_by_role("button", name="Record the note").click()
    page.wait_for_url("**?done=note_recorded_held#vulnerability")
    section = page.locator("#vulnerability").inner_text()
    assert "The text is restricted to compliance." in section
    assert "bereavement" not in page.content()
    assert page.get_by_role("button", name="Open note 1").count() == 0
    log_out(page, console)
    log_in(page, console, "cora")
    page.goto(f"{console.url}/console/debtors/{console.anna}")
    page.get_by_label("Why do you open this note?").select_option("complaint")
    page.get_by_role("button", name="Open note 1").click()
    assert h1(page) == "Vulnerability note 1"
    assert "Mentions a recent bereavement" in page.locator("main").inner_text()
    assert_accessible(page, context="vulnerability note")
    page.get_by_role("link", name="Audit log").click()
    first_row = page.locator("tbody tr").nth(1).inner_text()  # row 0: this very reading
    assert "read vulnerability" in first_row
    assert "user:cora" in first_row
    assert "handling a complaint" in first_row
    assert "read audit log" in page.locator("tbody tr").first.inner_text()
    assert_accessible(page, context="audit log")
    with console.engine.connect() as conn:
        assert "bereavement" not in conn.execute(select(SensitiveNote.ciphertext)).scalar_one()


def test_the_creditor_dashboard_and_the_social_report(console: Console, page: Any) -> None:
    log_in(page, console, "sam")
    page.get_by_role("link", name="Creditors").click()
    assert_accessible(page, context="creditors")
    page.get_by_role("link", name="Stroom & Water BV").click()
    placed = page.locator("#fig-placed").inner_text()
    assert placed.split("\t")[1:3] == ["2", "EUR 335.50"]
    assert "EUR 0.00" in page.locator("#fig-collected").inner_text()
    assert_accessible(page, context="dashboard")
    page.get_by_role("link", name="The social report for Stroom & Water BV").click()
    assert h1(page) == "Social collection report"
    assert "Stroom & Water BV, 2025-01-22 to 2025-02-20" in page.locator("main").inner_text()
    handled = page.locator("#m-dossiers_handled").inner_text()
    title, value, definition = handled.split("\t")
    assert (title, value) == ("Dossiers handled", "2")
    assert "opened on or before its last day" in definition
    assert_accessible(page, context="social report")


def test_a_creditor_user_sees_only_its_own_figures(console: Console, page: Any) -> None:
    log_in(page, console, "stroom")
    assert page.url.endswith(f"/console/creditors/{console.portfolio.utility_creditor}")
    assert h1(page) == "Stroom & Water BV"
    assert page.get_by_role("link", name="Search").count() == 0
    page.goto(f"{console.url}/console/creditors/{console.portfolio.telecom_creditor}")
    assert "only see your own" in page.get_by_role("alert").inner_text()
    page.goto(f"{console.url}/console/reports/social")
    assert "Stroom & Water BV" in page.locator("main p").first.inner_text()
    assert page.get_by_label("Creditor").count() == 0
    with httpx.Client(base_url=console.url) as client:
        http_log_in(client, "stroom")
        other = client.get("/console/reports/social", params={"creditor": "Bel Mobiel NV"})
        agency = client.get("/console/reports/social", params={"creditor": ""})
    assert other.status_code == 403
    assert agency.status_code == 200
    assert "Bel Mobiel" not in agency.text


def test_an_admin_adds_a_user_who_can_then_log_in(console: Console, page: Any) -> None:
    log_in(page, console, "ada")
    page.get_by_role("link", name="Users").click()
    assert_accessible(page, context="users")
    page.get_by_label("Username").fill("kim")
    page.get_by_label("Full name").fill("Kim Agent")
    page.get_by_label("Role", exact=True).select_option("agent")
    page.get_by_label("Plan limit").fill("2500")
    page.get_by_label("First password").fill("a long first password")
    page.get_by_role("button", name="Add the user").click()
    page.wait_for_url("**/console/users?done=user_created")
    assert "EUR 2,500.00" in page.locator("tbody").inner_text()
    log_out(page, console)
    page.get_by_label("Username").fill("kim")
    page.get_by_label("Password").fill("a long first password")
    page.get_by_role("button", name="Log in").click()
    assert h1(page) == "Good to see you, Kim Agent"


# --- the server refuses what a role may not do -----------------------------------------


def http_log_in(client: httpx.Client, username: str) -> None:
    client.get("/console/login")
    response = client.post(
        "/console/login",
        data={"username": username, "password": PASSWORD, "csrf_token": token(client)},
    )
    assert response.status_code == 303, response.text


def token(client: httpx.Client) -> str:
    value: str = client.cookies[CSRF_COOKIE]
    return value


def call(client: httpx.Client, method: str, path: str) -> httpx.Response:
    if method == "GET":
        return client.get(path)
    return client.post(path, data={"csrf_token": token(client)})


def routes() -> list[tuple[str, str]]:
    """Every console route but the login page's own, with sample path parameters."""
    sample = {
        "{task_id}": "1",
        "{person}": "1",
        "{reference}": "R000000001",
        "{kind}": "dispute",
        "{note_id}": "1",
        "{plan_id}": "1",
        "{creditor_id}": "2",
    }
    found = []
    for module in (login, work, oversight):
        for route in module.router.routes:
            path = "/console" + route.path
            for key, value in sample.items():
                path = path.replace(key, value)
            for method in sorted(route.methods):
                if path not in ("/console/login", "/console/logout"):
                    found.append((method, path))
    return found


def test_every_console_page_sends_a_visitor_without_a_session_to_the_login(
    console: Console,
) -> None:
    assert len(routes()) >= 20
    with httpx.Client(base_url=console.url) as client:
        client.get("/console/login")
        for method, path in routes():
            response = call(client, method, path)
            assert response.status_code == 303, (method, path, response.status_code)
            assert response.headers["location"].startswith("/console/login?next="), path


# What each role may NOT do: the server answers 403 (whatever the page shows).
FORBIDDEN = {
    "agent": [
        ("POST", "/console/cases/R000000001/holds/dispute/lift"),
        ("GET", "/console/plans"),
        ("POST", "/console/plans/1"),
        ("POST", "/console/notes/1/read"),
        ("GET", "/console/audit"),
        ("GET", "/console/audit.csv"),
        ("GET", "/console/creditors"),
        ("GET", "/console/creditors/1"),
        ("GET", "/console/reports/social"),
        ("GET", "/console/users"),
        ("POST", "/console/users"),
    ],
    "supervisor": [
        ("POST", "/console/notes/1/read"),
        ("GET", "/console/users"),
        ("POST", "/console/users"),
    ],
    "admin": [("POST", "/console/notes/1/read")],
    "compliance": [
        ("GET", "/console/calls"),
        ("GET", "/console/calls/1"),
        ("POST", "/console/calls/1"),
        ("POST", "/console/debtors/1/holds"),
        ("POST", "/console/cases/R000000001/holds/dispute/lift"),
        ("POST", "/console/debtors/1/plans"),
        ("POST", "/console/debtors/1/notes"),
        ("GET", "/console/plans"),
        ("POST", "/console/plans/1"),
        ("GET", "/console/users"),
    ],
    "creditor": [
        (method, path)
        for method, path in routes()
        # its start page and the creditors list send it on to its own dashboard (303)
        if path not in ("/console/", "/console/creditors", "/console/reports/social")
    ],
}
LOGINS = {"agent": "alice", "supervisor": "sam", "admin": "ada", "compliance": "cora"}


@pytest.mark.parametrize("role", sorted(FORBIDDEN))
def test_each_role_is_refused_on_the_server_what_it_may_not_do(console: Console, role: str) -> None:
    with httpx.Client(base_url=console.url) as client:
        http_log_in(client, LOGINS.get(role, "stroom"))
        for method, path in FORBIDDEN[role]:
            response = call(client, method, path)
            assert response.status_code == 403, (role, method, path, response.status_code)
    with console.engine.connect() as conn:
        assert conn.execute(select(Hold.id)).first() is None
        assert conn.execute(select(Plan.id)).first() is None
        assert conn.execute(select(SensitiveNote.id)).first() is None


@pytest.mark.parametrize(
    ("role", "path"),
    [
        ("agent", "/console/calls"),
        ("agent", "/console/debtors/1"),
        ("supervisor", "/console/audit"),
        ("supervisor", "/console/creditors/2"),
        ("admin", "/console/users"),
        ("compliance", "/console/audit"),
        ("compliance", "/console/debtors/1"),
        ("creditor", "/console/creditors/1"),
    ],
)
def test_each_role_reaches_its_own_pages(console: Console, role: str, path: str) -> None:
    # The counterpart of the refusals: a table of 403s alone would pass for a console that
    # refuses everything.
    with httpx.Client(base_url=console.url) as client:
        http_log_in(client, LOGINS.get(role, "stroom"))
        assert client.get(path).status_code == 200


def test_the_audit_export_is_csv_and_records_itself(console: Console) -> None:
    with httpx.Client(base_url=console.url) as client:
        http_log_in(client, "cora")
        client.get(f"/console/debtors/{console.anna}")
        response = client.get("/console/audit.csv", params={"from": "2025-02-20"})
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [r["action"] for r in rows] == [
        *["create_user"] * 6,  # the fixture's users, created "by the cli" on the same day
        "console_login",
        "read_debtor_360",
        "export_audit_log",
    ]
    assert {r["actor"] for r in rows[6:]} == {"user:cora"}


def test_logging_out_ends_the_session_on_the_server(console: Console) -> None:
    with httpx.Client(base_url=console.url) as client:
        http_log_in(client, "alice")
        stolen = client.cookies["respite_console"]
        assert client.get("/console/calls").status_code == 200
        client.post("/console/logout", data={"csrf_token": token(client)})
    with httpx.Client(base_url=console.url, cookies={"respite_console": stolen}) as replay:
        assert replay.get("/console/calls").status_code == 303


def test_a_disabled_users_live_session_stops_working_at_once(console: Console) -> None:
    with httpx.Client(base_url=console.url) as client:
        http_log_in(client, "alice")
        assert client.get("/console/calls").status_code == 200
        with console.engine.begin() as conn:
            conn.execute(update(User).where(User.username == "alice").values(active=False))
        refused = client.get("/console/calls")
        assert refused.status_code == 303
        assert refused.headers["location"].startswith("/console/login")
        assert client.get("/console/login").status_code == 200  # the form, not a loop


def test_an_idle_session_expires_after_the_console_idle_time(console: Console) -> None:
    with httpx.Client(base_url=console.url) as client:
        http_log_in(client, "alice")
        console.clock.at = NOW + timedelta(hours=3)
        assert client.get("/console/calls").status_code == 200  # and pushes the expiry on
        console.clock.at += timedelta(hours=7, minutes=59)  # 10:59 after the login
        assert client.get("/console/calls").status_code == 200
        console.clock.at += WebSettings().console_idle + timedelta(minutes=1)
        assert client.get("/console/calls").status_code == 303


def test_the_login_is_locked_after_five_failures_with_the_same_message_for_everyone(
    console: Console,
) -> None:
    with httpx.Client(base_url=console.url) as client:
        client.get("/console/login")
        for n in range(5):
            wrong = client.post(
                "/console/login",
                data={"username": "alice", "password": f"guess {n}", "csrf_token": token(client)},
            )
            assert wrong.status_code == 400
        right = client.post(
            "/console/login",
            data={"username": "alice", "password": PASSWORD, "csrf_token": token(client)},
        )
        assert right.status_code == 429
        assert "Too many attempts" in right.text


def test_a_login_without_the_csrf_token_is_refused(console: Console) -> None:
    with httpx.Client(base_url=console.url) as client:
        client.get("/console/login")
        response = client.post("/console/login", data={"username": "alice", "password": PASSWORD})
    assert response.status_code == 403


def test_after_login_the_console_only_sends_the_browser_to_its_own_pages(
    console: Console,
) -> None:
    with httpx.Client(base_url=console.url) as client:
        client.get("/console/login")
        response = client.post(
            "/console/login",
            data={
                "username": "alice",
                "password": PASSWORD,
                "next": "https://evil.example/console",
                "csrf_token": token(client),
            },
        )
    assert response.headers["location"] == "/console/"


# --- the command line -----------------------------------------------------------------


def respite(env: dict[str, str], *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "respite", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, **env},
    )


def test_the_cli_creates_and_lists_users_and_exports_the_audit_log(tmp_path: Path) -> None:
    env = {"RESPITE_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}"}
    assert respite(env, "creditor", "add", "Stroom", "--jurisdiction", "NL").returncode == 0
    made = respite(
        env, "user", "create", "Alice", "--role", "agent", "--plan-limit", "2.500,00",
        "--password-stdin", stdin=PASSWORD + "\n",
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert json.loads(made.stdout)["plan_limit"] == "2500.00"
    assert PASSWORD not in made.stdout + made.stderr
    creditor = respite(
        env, "user", "create", "stroom", "--role", "creditor", "--creditor", "Stroom",
        "--password-stdin", stdin=PASSWORD + "\n",
    )  # fmt: skip
    assert creditor.returncode == 0, creditor.stderr
    short = respite(
        env, "user", "create", "bob", "--role", "agent", "--password-stdin", stdin="x\n"
    )
    assert short.returncode == 2
    assert "password: at least 12 characters" in short.stderr
    unknown = respite(env, "user", "create", "eve", "--role", "boss", "--password-stdin", stdin="")
    assert unknown.returncode == 2
    assert "--role" in unknown.stderr
    listed = json.loads(respite(env, "user", "list").stdout)
    assert [(u["user"], u["role"], u["creditor"]) for u in listed] == [
        ("alice", "agent", None),
        ("stroom", "creditor", "Stroom"),
    ]
    assert "argon2" not in json.dumps(listed)
    out = tmp_path / "audit.csv"
    exported = respite(env, "audit", "export", "--out", str(out))
    assert exported.returncode == 0, exported.stderr
    assert json.loads(exported.stdout)["entries"] == 3
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert [(r["actor"], r["action"]) for r in rows] == [
        ("cli", "create_user"),
        ("cli", "create_user"),
        ("cli", "export_audit_log"),
    ]
