"""Logging in to the portal, in a real server and (mostly) a real browser: the letter code,
the signed link, the cookie's flags, logout, the return to the page asked for, and the
attacks: brute force against one reference and from one address, enumeration of
references, open redirects. axe-core checks every page shown."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, select

from respite.adapters.db.engine import make_engine
from respite.adapters.db.models import Case
from respite.entrypoints.portal.login import safe_next
from respite.entrypoints.web.app import create_app
from respite.entrypoints.web.security import CSRF_COOKIE
from respite.entrypoints.web.sessions import COOKIE
from respite.entrypoints.web.settings import WebSettings
from respite.services import messaging, portal_access
from tests.e2e.browser import assert_accessible, live_server
from tests.e2e.portal_data import Portfolio, seed

PORTAL_COOKIE = COOKIE["portal"]
ERROR_NL = (
    "Dit dossiernummer en deze code horen niet bij elkaar, of de code is verlopen. "
    "Kijk goed op de brief en probeer het opnieuw."
)


@dataclass
class MovableClock:
    """A clock the test moves forward (to let a lockout run out)."""

    at: datetime

    def now(self) -> datetime:
        return self.at

    def today(self) -> date:
        return self.at.date()


@dataclass
class Portal:
    url: str
    engine: Engine
    portfolio: Portfolio
    clock: MovableClock
    db_path: Path

    def code(self, reference: str, *, on: date | None = None, days: int = 30) -> str:
        """A fresh letter code for ``reference`` (as the letter run issues it)."""
        with self.engine.begin() as conn:
            case_id = conn.execute(select(Case.id).where(Case.reference == reference)).scalar_one()
            return messaging.issue_login_code(
                conn, int(case_id), on or self.portfolio.on, days, None
            )


@pytest.fixture(scope="module")
def seeded(
    tmp_path_factory: pytest.TempPathFactory, _sqlite_template: Path
) -> tuple[Path, Portfolio]:
    """The seeded portfolio once per module; each test works on its own copy."""
    path = tmp_path_factory.mktemp("portal") / "seeded.db"
    shutil.copy(_sqlite_template, path)
    engine = make_engine(f"sqlite:///{path}")
    portfolio = seed(engine)
    engine.dispose()
    return path, portfolio


@pytest.fixture
def portal(tmp_path: Path, seeded: tuple[Path, Portfolio]) -> Iterator[Portal]:
    template, portfolio = seeded
    db = tmp_path / "portal.db"
    shutil.copy(template, db)
    engine = make_engine(f"sqlite:///{db}")
    clock = MovableClock(
        datetime.combine(portfolio.on, datetime.min.time(), UTC) + timedelta(hours=9)
    )
    app = create_app(engine, WebSettings(business_date=portfolio.on), clock)
    with live_server(app) as server:
        yield Portal(server.url, engine, portfolio, clock, db)
    engine.dispose()


def fill_login(page: Any, reference: str, code: str) -> None:
    page.get_by_label("Dossiernummer").fill(reference)
    page.get_by_label("Code", exact=True).fill(code)
    with page.expect_navigation():  # the next page, not the one being left
        page.get_by_role("button", name="Inloggen").click()


def other_than(code: str) -> str:
    """A well-formed code that is not ``code``."""
    return "ABCDEFGHJKMN" if code != "ABCDEFGHJKMN" else "NMKJHGFEDCBA"


def spaced(code: str) -> str:
    """The code as a person types it from the letter: in groups, in lower case."""
    return f"{code[:4].lower()} {code[4:8]}-{code[8:].lower()}"


# --- the browser ------------------------------------------------------------------------


def test_a_debtor_logs_in_with_the_letter_code_and_sees_all_her_debts(
    page: Any, portal: Portal
) -> None:
    p = portal.portfolio
    code = portal.code(p.telecom_case)
    page.goto(f"{portal.url}/")
    assert page.locator("h1").inner_text() == "Inloggen"
    assert page.get_attribute("#code", "autocomplete") == "off"
    assert_accessible(page, context="login page")
    fill_login(page, p.telecom_case.lower(), spaced(code))
    page.wait_for_url(f"{portal.url}/overview")
    assert page.locator("h1").inner_text() == "Mijn schulden"
    text = page.locator("main").inner_text()
    # Both of Anna's creditors, never Piet's case.
    assert "Stroom & Water BV" in text
    assert "Bel Mobiel NV" in text
    assert p.utility_case in text
    assert p.telecom_case in text
    assert p.other_case not in text
    assert page.locator("li.case").count() == 2
    assert_accessible(page, context="overview")


def test_the_session_cookie_is_httponly_and_samesite_lax(page: Any, portal: Portal) -> None:
    code = portal.code(portal.portfolio.utility_case)
    page.goto(f"{portal.url}/login")
    fill_login(page, portal.portfolio.utility_case, code)
    page.wait_for_url(f"{portal.url}/overview")
    cookies = {c["name"]: c for c in page.context.cookies()}
    session = cookies[PORTAL_COOKIE]
    assert session["httpOnly"] is True
    assert session["sameSite"] == "Lax"
    assert session["path"] == "/"
    # Plain http on loopback: not Secure here; over https (or forced) it is, see below.
    assert session["secure"] is False
    assert cookies[CSRF_COOKIE]["httpOnly"] is True
    assert cookies[CSRF_COOKIE]["sameSite"] == "Strict"


def test_the_session_cookie_is_secure_when_the_settings_force_it(portal: Portal) -> None:
    from fastapi.testclient import TestClient

    code = portal.code(portal.portfolio.utility_case)
    settings = WebSettings(business_date=portal.portfolio.on, secure_cookies=True)
    with TestClient(create_app(portal.engine, settings), base_url="https://portal.example") as c:
        c.get("/login")
        response = c.post(
            "/login",
            data={
                "reference": portal.portfolio.utility_case,
                "code": code,
                "csrf_token": c.cookies[CSRF_COOKIE],
            },
            follow_redirects=False,
        )
    assert response.status_code == 303
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{PORTAL_COOKIE}=")
    assert "; Secure" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie


def test_a_wrong_code_and_an_unknown_reference_show_the_same_error(
    page: Any, portal: Portal
) -> None:
    ref = portal.portfolio.telecom_case
    code = portal.code(ref)
    page.goto(f"{portal.url}/login")
    fill_login(page, ref, other_than(code))
    alert = page.get_by_role("alert")
    assert ERROR_NL in alert.inner_text()
    assert page.get_attribute("#code", "aria-invalid") == "true"
    assert "login-error" in (page.get_attribute("#code", "aria-describedby") or "")
    assert page.input_value("#reference") == ref  # kept; the code is not echoed back
    assert page.input_value("#code") == ""
    assert_accessible(page, context="login error")
    wrong_code_text = page.locator("main").inner_text()
    fill_login(page, "R999999999", code)
    unknown_text = page.locator("main").inner_text()
    assert unknown_text == wrong_code_text
    assert PORTAL_COOKIE not in {c["name"] for c in page.context.cookies()}


def test_an_empty_field_says_which_one_to_fill_in(page: Any, portal: Portal) -> None:
    page.goto(f"{portal.url}/login")
    page.get_by_label("Dossiernummer").fill(portal.portfolio.utility_case)
    page.get_by_role("button", name="Inloggen").click()
    assert page.locator("#code-error").inner_text() == "Vul uw code in."
    assert "code-error" in (page.get_attribute("#code", "aria-describedby") or "")
    assert_accessible(page, context="login missing code")


def test_the_signed_link_fills_in_the_form_but_logs_in_only_when_sent(
    page: Any, portal: Portal
) -> None:
    p = portal.portfolio
    code = portal.code(p.utility_case)
    link = portal_access.login_link(
        portal.url, p.utility_case, code, p.on + timedelta(days=30), WebSettings().link_secret
    )
    page.goto(link)
    assert page.input_value("#reference") == p.utility_case
    assert page.input_value("#code") == code
    assert "Kijk of ze kloppen" in page.get_by_role("status").inner_text()
    # A mail scanner fetching the link has logged no one in.
    assert PORTAL_COOKIE not in {c["name"] for c in page.context.cookies()}
    assert_accessible(page, context="login from link")
    page.get_by_role("button", name="Inloggen").click()
    page.wait_for_url(f"{portal.url}/overview")


def test_a_tampered_link_shows_an_empty_form_with_a_notice(page: Any, portal: Portal) -> None:
    p = portal.portfolio
    code = portal.code(p.utility_case)
    link = portal_access.login_link(
        portal.url, p.utility_case, code, p.on + timedelta(days=30), WebSettings().link_secret
    )
    page.goto(link.replace(f"ref={p.utility_case}", f"ref={p.other_case}"))
    assert page.input_value("#reference") == ""
    assert page.input_value("#code") == ""
    assert "Deze link werkt niet (meer)" in page.get_by_role("status").inner_text()


def test_logging_out_ends_the_session(page: Any, portal: Portal) -> None:
    code = portal.code(portal.portfolio.utility_case)
    page.goto(f"{portal.url}/login")
    fill_login(page, portal.portfolio.utility_case, code)
    page.wait_for_url(f"{portal.url}/overview")
    token = {c["name"]: c["value"] for c in page.context.cookies()}[PORTAL_COOKIE]
    page.get_by_role("button", name="Uitloggen").click()
    page.wait_for_url(re.compile(r".*/login\?logged_out=1$"))
    assert page.get_by_role("status").inner_text() == "U bent uitgelogd. Bedankt voor uw bezoek."
    assert PORTAL_COOKIE not in {c["name"] for c in page.context.cookies()}
    assert_accessible(page, context="logged out")
    page.goto(f"{portal.url}/overview")
    assert page.url.startswith(f"{portal.url}/login?next=")
    # The old token is dead on the server too, not just forgotten by the browser.
    replay = httpx.get(
        f"{portal.url}/overview", cookies={PORTAL_COOKIE: token}, follow_redirects=False
    )
    assert replay.status_code == 303
    assert replay.headers["location"].startswith("/login?next=")


def test_after_login_the_browser_returns_to_the_page_it_asked_for(
    page: Any, portal: Portal
) -> None:
    ref = portal.portfolio.utility_case
    code = portal.code(ref)
    page.goto(f"{portal.url}/cases/{ref}")
    assert page.url == f"{portal.url}/login?next=%2Fcases%2F{ref}"
    fill_login(page, ref, code)
    page.wait_for_url(f"{portal.url}/cases/{ref}")
    # Logged in, the start page goes straight to the overview.
    page.goto(f"{portal.url}/")
    assert page.url == f"{portal.url}/overview"


@pytest.mark.parametrize(
    ("lang", "heading", "label"),
    [
        ("en", "Log in", "Case number"),
        ("fr", "Se connecter", "Numéro de dossier"),
        ("pl", "Zaloguj się", "Numer sprawy"),
    ],
)
def test_the_login_page_speaks_english_french_and_polish(
    page: Any, portal: Portal, lang: str, heading: str, label: str
) -> None:
    page.goto(f"{portal.url}/login?lang={lang}")
    assert page.get_attribute("html", "lang") == lang
    assert page.locator("h1").inner_text() == heading
    assert page.get_by_label(label).count() == 1
    assert_accessible(page, context=f"login page ({lang})")


# --- attacks, over HTTP ------------------------------------------------------------------


class Browserless:
    """A client that keeps cookies and sends the form's CSRF token, like a browser."""

    def __init__(self, base_url: str) -> None:
        self.http = httpx.Client(base_url=base_url)
        self.http.get("/login")

    def log_in(self, reference: str, code: str, **extra: str) -> httpx.Response:
        return self.http.post(
            "/login",
            data={
                "reference": reference,
                "code": code,
                "csrf_token": self.http.cookies[CSRF_COOKIE],
                **extra,
            },
            follow_redirects=False,
        )

    def close(self) -> None:
        self.http.close()


def _normalised(response: httpx.Response, reference: str) -> str:
    """The page without what legitimately differs: the CSRF token and the typed reference."""
    text = re.sub(r'name="csrf_token" value="[^"]*"', "", response.text)
    return text.replace(f'value="{reference}"', 'value=""')


def test_every_failed_login_gets_the_same_page_and_status(portal: Portal) -> None:
    p = portal.portfolio
    live = portal.code(p.telecom_case)
    expired = portal.code(p.utility_case, on=p.on - timedelta(days=40), days=30)
    client = Browserless(portal.url)
    try:
        unknown = client.log_in("R999999999", live)
        wrong = client.log_in(p.telecom_case, other_than(live))
        old = client.log_in(p.utility_case, expired)
        for _ in range(5):
            client.log_in(p.other_case, "ABCDEFGHJKMN")
        other_code = portal.code(p.other_case)
        locked = client.log_in(p.other_case, other_code)  # right code, locked reference
    finally:
        client.close()
    pages = {
        "unknown": _normalised(unknown, "R999999999"),
        "wrong": _normalised(wrong, p.telecom_case),
        "expired": _normalised(old, p.utility_case),
        "locked": _normalised(locked, p.other_case),
    }
    assert {unknown.status_code, wrong.status_code, old.status_code, locked.status_code} == {400}
    assert len(set(pages.values())) == 1
    assert ERROR_NL in pages["unknown"]


def test_five_wrong_codes_lock_out_the_right_one_until_fifteen_minutes_pass(
    portal: Portal,
) -> None:
    ref = portal.portfolio.utility_case
    code = portal.code(ref)
    wrong = other_than(code)
    client = Browserless(portal.url)
    try:
        assert [client.log_in(ref, wrong).status_code for _ in range(5)] == [400] * 5
        assert client.log_in(ref, code).status_code == 400
        portal.clock.at += timedelta(minutes=14, seconds=59)
        assert client.log_in(ref, code).status_code == 400
        portal.clock.at += timedelta(seconds=2)
        response = client.log_in(ref, code)
    finally:
        client.close()
    assert response.status_code == 303
    assert response.headers["location"] == "/overview"


def test_twenty_failures_from_one_address_lock_it_for_every_reference(portal: Portal) -> None:
    p = portal.portfolio
    code = portal.code(p.telecom_case)
    client = Browserless(portal.url)
    try:
        # Made-up references, three tries each: no reference reaches five, the address does.
        for n in range(20):
            client.log_in(f"R{800000000 + n // 3:09d}", "ABCDEFGHJKMN")
        refused = client.log_in(p.telecom_case, code)
    finally:
        client.close()
    assert refused.status_code == 400
    with portal.engine.connect() as conn:
        from respite.services import throttle

        assert throttle.locked(conn, ["ip:127.0.0.1"], portal.clock.at) is not None
        assert throttle.locked(conn, [f"ref:{p.telecom_case}"], portal.clock.at) is None


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/cases/R000000001", "/cases/R000000001"),
        ("/cases/R000000001/pay?x=1", "/cases/R000000001/pay?x=1"),
        ("//evil.example/", "/overview"),
        ("/\\evil.example", "/overview"),
        ("/\t/evil.example", "/overview"),
        ("https://evil.example/", "/overview"),
        ("javascript:alert(1)", "/overview"),
        ("/ok\r\nSet-Cookie: x=1", "/overview"),
        ("/login", "/overview"),
        ("", "/overview"),
    ],
)
def test_after_login_only_a_path_on_this_site_is_followed(target: str, expected: str) -> None:
    assert safe_next(target) == expected


def test_a_login_with_a_foreign_next_lands_on_the_overview(portal: Portal) -> None:
    code = portal.code(portal.portfolio.utility_case)
    client = Browserless(portal.url)
    try:
        response = client.log_in(portal.portfolio.utility_case, code, next="//evil.example/")
    finally:
        client.close()
    assert response.status_code == 303
    assert response.headers["location"] == "/overview"


def test_a_login_post_without_the_csrf_token_is_refused(portal: Portal) -> None:
    code = portal.code(portal.portfolio.utility_case)
    response = httpx.post(
        f"{portal.url}/login",
        data={"reference": portal.portfolio.utility_case, "code": code},
        follow_redirects=False,
    )
    assert response.status_code == 403


# --- the agent's command ------------------------------------------------------------------


def test_a_code_issued_on_the_command_line_opens_the_portal(page: Any, portal: Portal) -> None:
    ref = portal.portfolio.telecom_case
    proc = subprocess.run(
        [sys.executable, "-m", "respite", "portal", "code", ref, "--on", "2025-02-20"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={
            **os.environ,
            "RESPITE_DATABASE_URL": f"sqlite:///{portal.db_path}",
            "RESPITE_PORTAL_URL": portal.url,
        },
    )
    assert proc.returncode == 0, proc.stderr
    issued = json.loads(proc.stdout)
    assert issued["reference"] == ref
    assert issued["expires_on"] == "2025-05-21"  # 90 days by default
    assert re.fullmatch(r"[A-HJ-NP-Z2-9]{12}", issued["code"])
    page.goto(issued["login_link"])
    assert page.input_value("#code") == issued["code"]
    page.get_by_role("button", name="Inloggen").click()
    page.wait_for_url(f"{portal.url}/overview")


def test_the_command_refuses_an_unknown_case(portal: Portal) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "respite", "portal", "code", "R999999999"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "RESPITE_DATABASE_URL": f"sqlite:///{portal.db_path}"},
    )
    assert proc.returncode == 2
    assert "R999999999" in proc.stderr
