"""The portal's care flows in a real server and Debian's Chromium: a dispute with a real
file upload, "I need help" (in French), and the disclosure of circumstances with and
without consent. axe-core checks every form and every confirmation page; one flow runs
with JavaScript switched off."""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from respite.adapters.db.engine import make_engine
from respite.adapters.db.models import Attachment, Hold, Referral, SensitiveNote
from respite.entrypoints.web.app import create_app
from respite.entrypoints.web.settings import WebSettings
from tests.e2e.browser import assert_accessible, live_server
from tests.e2e.portal_data import Portfolio, seed
from tests.e2e.portal_login import log_in_browser

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
DISCLOSED = "Mijn moeder is vorige maand overleden"


@dataclass
class Site:
    url: str
    engine: Engine
    portfolio: Portfolio
    uploads: Path

    def count(self, model: Any, *where: Any) -> int:
        with self.engine.connect() as conn:
            query = select(func.count()).select_from(model)
            return int(conn.execute(query.where(*where) if where else query).scalar_one())


@pytest.fixture
def site(tmp_path: Path, _sqlite_template: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Site]:
    monkeypatch.delenv("RESPITE_DATA_KEY", raising=False)
    monkeypatch.setenv("RESPITE_DATA_KEY_FILE", str(tmp_path / "data.key"))
    shutil.copy(_sqlite_template, tmp_path / "portal.db")
    engine = make_engine(f"sqlite:///{tmp_path / 'portal.db'}")
    portfolio = seed(engine)
    settings = WebSettings(
        business_date=portfolio.on, upload_dir=tmp_path / "uploads", max_upload_bytes=100_000
    )
    with live_server(create_app(engine, settings)) as live:
        yield Site(live.url, engine, portfolio, tmp_path / "uploads")
    engine.dispose()


def _log_in(page: Any, site: Site) -> None:
    log_in_browser(page, site.url, site.engine, site.portfolio.utility_case)


def _check_mobile_layout(page: Any) -> None:
    """No sideways scrolling at 390 px, and every control in the page body is ≥ 44 px high."""
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    controls = page.locator("main button, main a.button, main label.choice")
    for i in range(controls.count()):
        box = controls.nth(i).bounding_box()
        assert box is not None
        assert box["height"] >= 44, controls.nth(i).inner_text()


def test_a_debtor_disputes_a_debt_with_a_receipt_and_then_adds_to_it(site: Site, page: Any) -> None:
    ref = site.portfolio.utility_case
    _log_in(page, site)
    page.goto(f"{site.url}/cases/{ref}/dispute")
    assert page.locator("h1").inner_text() == "Deze schuld betwisten"
    assert "Stroom & Water BV" in page.locator("main").inner_text()
    assert_accessible(page, context="dispute form")
    _check_mobile_layout(page)
    page.get_by_label("Het bedrag klopt niet").check()
    page.get_by_label("Leg het uit in uw eigen woorden").fill(
        "Ik heb op 3 januari 100 euro betaald."
    )
    page.get_by_label("Voeg een bestand toe").set_input_files(
        files=[{"name": "bon januari.pdf", "mimeType": "application/pdf", "buffer": PDF}]
    )
    page.get_by_role("button", name="Mijn bezwaar versturen").click()
    assert page.locator("h1").inner_text() == "We hebben uw bezwaar ontvangen"
    main = page.locator("main").inner_text()
    assert "Zolang wij het bekijken, stoppen we alle herinneringen en rente op deze schuld." in main
    assert "We laten het de schuldeiser weten en antwoorden binnen 14 dagen." in main
    assert (
        page.locator("form[action='/feedback'] input[name=action]").get_attribute("value")
        == "dispute"
    )
    assert_accessible(page, context="dispute confirmation")
    with site.engine.connect() as conn:
        attachment = conn.execute(select(Attachment.__table__)).one()
    assert attachment.sha256 == hashlib.sha256(PDF).hexdigest()
    assert attachment.filename == "bon januari.pdf"
    assert (site.uploads / attachment.storage_path).read_bytes() == PDF
    assert site.count(Hold, Hold.kind == "dispute") == 1

    # Back on the form: it says the dispute is open; more information joins it.
    page.goto(f"{site.url}/cases/{ref}/dispute")
    assert "U hebt deze schuld al betwist op" in page.locator("main").inner_text()
    assert_accessible(page, context="dispute form with an open dispute")
    page.get_by_label("Ik heb al betaald").check()
    page.get_by_label("Leg het uit in uw eigen woorden").fill("Het bankafschrift komt nog.")
    page.get_by_role("button", name="Mijn bezwaar versturen").click()
    assert page.locator("h1").inner_text() == "We hebben uw informatie toegevoegd"
    assert_accessible(page, context="dispute added")
    assert site.count(Hold, Hold.kind == "dispute") == 1


def test_a_wrong_file_comes_back_beside_the_field_with_the_text_kept_and_nothing_stored(
    site: Site, page: Any
) -> None:
    ref = site.portfolio.utility_case
    _log_in(page, site)
    page.goto(f"{site.url}/cases/{ref}/dispute")
    page.get_by_label("Ik herken deze schuld niet").check()
    page.get_by_label("Leg het uit in uw eigen woorden").fill("Ik heb nooit bij hen gewoond.")
    page.get_by_label("Voeg een bestand toe").set_input_files(
        files=[{"name": "bon.pdf", "mimeType": "application/pdf", "buffer": b"MZ\x90\x00" * 64}]
    )
    page.get_by_role("button", name="Mijn bezwaar versturen").click()
    error = page.locator("#attachment-error")
    assert error.inner_text() == "We kunnen alleen een PDF-, JPEG- of PNG-bestand aannemen."
    described = page.locator("#attachment").get_attribute("aria-describedby") or ""
    assert "attachment-error" in described.split()
    assert page.locator("#attachment").get_attribute("aria-invalid") == "true"
    assert "Kies uw bestand opnieuw." in page.locator("#attachment-again").inner_text()
    assert page.get_by_label("Leg het uit in uw eigen woorden").input_value() == (
        "Ik heb nooit bij hen gewoond."
    )
    assert page.get_by_label("Ik herken deze schuld niet").is_checked()
    assert page.get_by_role("alert").count() == 1  # the summary, linking to the field
    assert_accessible(page, context="dispute form with a file error")
    assert site.count(Hold, Hold.kind == "dispute") == 0
    assert site.count(Attachment) == 0
    assert not site.uploads.exists() or not any(p.is_file() for p in site.uploads.rglob("*"))


def test_another_persons_case_is_not_found(site: Site, page: Any) -> None:
    _log_in(page, site)
    unknown = page.goto(f"{site.url}/cases/R999999999/dispute")
    theirs = page.goto(f"{site.url}/cases/{site.portfolio.other_case}/dispute")
    assert unknown is not None
    assert theirs is not None
    assert (unknown.status, theirs.status) == (404, 404)
    assert "Stroom" not in page.locator("main").inner_text()


def test_a_debtor_asks_for_debt_help_in_french(site: Site, page: Any) -> None:
    p = site.portfolio
    _log_in(page, site)
    page.goto(f"{site.url}/help?lang=fr")
    assert page.locator("h1").inner_text() == "Aide gratuite pour vos dettes"
    assert "Gemeente Utrecht" in page.locator(".contact").inner_text()
    assert_accessible(page, context="help page (fr)")
    _check_mobile_layout(page)
    consent = page.get_by_label("J'accepte que vous transmettiez mon nom")
    assert not consent.is_checked()  # consent is never given for the debtor
    page.get_by_role("button", name="Oui, orientez-moi").click()
    assert "Cochez la case" in page.locator("#consent-error").inner_text()
    assert_accessible(page, context="help page without consent (fr)")
    assert site.count(Referral) == 0
    page.get_by_label("J'accepte que vous transmettiez mon nom").check()
    page.get_by_role("button", name="Oui, orientez-moi").click()
    assert page.locator("h1").inner_text() == "Nous vous avons orienté vers l'aide aux dettes"
    assert "Gemeente Utrecht" in page.locator(".contact").inner_text()
    assert (
        page.locator("form[action='/feedback'] input[name=action]").get_attribute("value") == "help"
    )
    assert_accessible(page, context="help confirmation (fr)")
    with site.engine.connect() as conn:
        held = set(
            conn.execute(select(Hold.case_id).where(Hold.kind == "debt_counselling")).scalars()
        )
    assert len(held) == 2  # both of Anna's creditors; Piet's case is not touched
    # Coming back: the page says she was referred, and offers no second referral.
    page.goto(f"{site.url}/help")
    assert "Vous avez été orienté" in page.locator("main").inner_text()
    assert page.get_by_role("button", name="Oui, orientez-moi").count() == 0
    assert_accessible(page, context="help page, already referred (fr)")
    assert site.count(Referral) == 1
    assert p.other_case not in page.content()


def test_circumstances_are_kept_only_with_consent_and_never_shown_again(
    site: Site, page: Any
) -> None:
    _log_in(page, site)
    page.goto(f"{site.url}/circumstances")
    assert page.locator("h1").inner_text() == (
        "Is er iets aan de hand waardoor betalen nu moeilijk is?"
    )
    assert_accessible(page, context="circumstances form")
    _check_mobile_layout(page)
    consent = page.get_by_label("Ik geef toestemming")
    assert not consent.is_checked()
    page.get_by_label("Iemand die dicht bij mij stond, is overleden").check()
    page.get_by_label("Vertel meer").fill(DISCLOSED)
    page.get_by_role("button", name="Versturen", exact=True).click()
    main = page.locator("main").inner_text()
    assert "We hebben niets bewaard" in main
    assert page.get_by_role("link", name="Verder zonder te delen").count() >= 1
    assert_accessible(page, context="circumstances without consent")
    assert site.count(SensitiveNote) == 0
    assert site.count(Hold, Hold.kind == "vulnerability_review") == 0

    page.get_by_label("Ik geef toestemming").check()
    page.get_by_role("button", name="Versturen", exact=True).click()
    assert page.locator("h1").inner_text() == "Bedankt dat u het ons vertelt"
    assert DISCLOSED not in page.content()
    assert_accessible(page, context="circumstances confirmation")
    assert site.count(SensitiveNote, SensitiveNote.kind == "vulnerability") == 1
    assert site.count(Hold, Hold.kind == "vulnerability_review") == 2


def test_the_help_flow_works_without_javascript(site: Site, browser: Any) -> None:
    context = browser.new_context(
        java_script_enabled=False, locale="en-GB", viewport={"width": 390, "height": 844}
    )
    try:
        page = context.new_page()
        _log_in(page, site)
        page.goto(f"{site.url}/help?lang=en")
        page.get_by_label("I agree that you share my name").check()
        page.get_by_role("button", name="Yes, refer me").click()
        assert page.locator("h1").inner_text() == "We have referred you to debt help"
    finally:
        context.close()
    assert site.count(Referral) == 1
