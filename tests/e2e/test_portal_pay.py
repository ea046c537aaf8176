"""Paying in the portal, in a real server and Debian's Chromium, at the local fake provider.

Anna (tests/e2e/portal_data.py) pays part of her utility case at the provider's hosted
page, comes back, and sees the payment and the lower open amount; she cancels another; she
scans the EPC QR code (decoded with zxing-cpp from the browser's own rendering). axe-core
checks the pay page, the provider's page and the return page.
"""

from __future__ import annotations

import io
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import zxingcpp
from PIL import Image
from sqlalchemy import Engine, select

from respite.adapters.bank.epc_qr import epc_payload
from respite.adapters.db.engine import make_engine
from respite.adapters.db.models import Case, Debtor, Event, Payment, PaymentCheckout
from respite.adapters.payments.fake_provider import FakePaymentProvider
from respite.domain.money import Money
from respite.domain.references import case_payment_references
from respite.entrypoints.web.app import create_app
from respite.entrypoints.web.i18n import translator
from respite.entrypoints.web.settings import WebSettings
from respite.services import portal_payments as pp
from respite.services.agency import agency_from_env
from respite.services.people import person_key
from tests.e2e.browser import LiveServer, assert_accessible, free_port
from tests.e2e.portal_data import Portfolio, seed
from tests.e2e.portal_login import log_in_browser


@dataclass
class Portal:
    url: str
    engine: Engine
    portfolio: Portfolio
    provider: FakePaymentProvider


@pytest.fixture
def portal(tmp_path: Path, _sqlite_template: Path) -> Iterator[Portal]:
    shutil.copy(_sqlite_template, tmp_path / "pay.db")
    engine = make_engine(f"sqlite:///{tmp_path / 'pay.db'}")
    portfolio = seed(engine)
    port = free_port()
    defaults = WebSettings()
    with FakePaymentProvider(webhook_secret=defaults.payment_webhook_secret) as fake:
        settings = WebSettings(
            business_date=portfolio.on,
            payment_provider_url=fake.url,
            public_url=f"http://127.0.0.1:{port}",
        )
        server = LiveServer(create_app(engine, settings), port=port)
        server.start()
        try:
            yield Portal(server.url, engine, portfolio, fake)
        finally:
            server.stop()
            engine.dispose()


def open_cents(portal: Portal, reference: str) -> int:
    with portal.engine.connect() as conn:
        person = conn.execute(
            select(person_key())
            .select_from(Case)
            .join(Debtor, Debtor.id == Case.debtor_id)
            .where(Case.reference == reference)
        ).scalar_one()
        return pp.payable_case(conn, int(person), reference).open_cents


def timeline(portal: Portal, reference: str) -> list[tuple[str, str, dict[str, Any]]]:
    with portal.engine.connect() as conn:
        return [
            (r.kind, r.actor, dict(r.after))
            for r in conn.execute(
                select(Event.kind, Event.actor, Event.after)
                .join(Case, Case.id == Event.case_id)
                .where(Case.reference == reference)
                .order_by(Event.id)
            )
        ]


def test_a_debtor_pays_part_of_a_case_and_sees_it_on_the_case(page: Any, portal: Portal) -> None:
    ref = portal.portfolio.utility_case
    en = translator("en")
    before = open_cents(portal, ref)
    log_in_browser(page, portal.url, portal.engine, ref)
    page.goto(f"{portal.url}/cases/{ref}/pay?lang=en")
    assert page.locator("h1").inner_text() == "Pay Stroom & Water BV"
    assert page.locator("#open-amount").inner_text() == en.money(before)
    assert_accessible(page, context="the pay page")

    page.get_by_label("How much do you want to pay? (EUR)").fill("50.00")
    page.get_by_role("button", name="Continue to payment").click()
    page.wait_for_url(f"{portal.provider.url}/checkout/*")
    assert page.locator("#amount").inner_text() == "EUR 50.00"
    assert_accessible(page, context="the provider's checkout page")

    page.get_by_role("button", name="Pay EUR 50.00").click()
    page.wait_for_url(f"{portal.url}/payments/*")
    assert page.locator("h1").inner_text() == "Thank you for your payment"
    assert page.locator("#open-amount").inner_text() == en.money(before - 50_00)
    assert_accessible(page, context="the return page")

    # The open amount is lower by exactly the payment, in the ledger as on the page.
    assert open_cents(portal, ref) == before - 50_00
    kinds = [(kind, actor) for kind, actor, _ in timeline(portal, ref)]
    assert kinds[-3:] == [
        ("checkout_started", "debtor:portal"),
        ("payment_received", "payments"),
        ("checkout_paid", "provider:127.0.0.1"),  # the provider's host
    ]
    received = timeline(portal, ref)[-2][2]
    assert received["amount_cents"] == 50_00
    assert (
        received["costs_cents"] + received["interest_cents"] + received["principal_cents"] == 50_00
    )

    # The case's pay page lists the payment and asks only for what is left.
    page.get_by_role("link", name="Make another payment").click()
    assert page.locator("#open-amount").inner_text() == en.money(before - 50_00)
    assert en.money(50_00) in page.locator("#payments").inner_text()
    assert page.get_by_label("How much do you want to pay? (EUR)").input_value() == (
        f"{(before - 50_00) // 100}.{(before - 50_00) % 100:02d}"
    )
    # And the case's own page shows it among the payments.
    page.get_by_role("link", name="Back to this debt").click()
    page.wait_for_url(f"{portal.url}/cases/{ref}")
    assert en.money(50_00) in page.locator("#payments").inner_text()


def test_a_cancelled_payment_takes_nothing_and_works_without_javascript(
    browser: Any, portal: Portal
) -> None:
    ref = portal.portfolio.telecom_case
    before = open_cents(portal, ref)
    context = browser.new_context(
        locale="nl-NL", viewport={"width": 390, "height": 844}, java_script_enabled=False
    )
    try:
        page = context.new_page()
        log_in_browser(page, portal.url, portal.engine, ref)
        page.goto(f"{portal.url}/cases/{ref}/pay")
        assert page.locator("h1").inner_text() == "Bel Mobiel NV betalen"
        page.get_by_label("Hoeveel wilt u betalen? (EUR)").fill("10,00")
        page.get_by_role("button", name="Verder naar betalen").click()
        page.wait_for_url(f"{portal.provider.url}/checkout/*")
        page.get_by_role("button", name="Cancel").click()
        page.wait_for_url(f"{portal.url}/payments/*")
        assert page.locator("h1").inner_text() == "Uw betaling is niet gelukt"
        assert page.locator("#open-amount").inner_text() == translator("nl").money(before)
    finally:
        context.close()
    assert open_cents(portal, ref) == before
    with portal.engine.connect() as conn:
        assert conn.execute(select(PaymentCheckout.status)).scalars().all() == ["cancelled"]
        assert conn.execute(select(Payment.id)).all() == []
    assert [k for k, _, _ in timeline(portal, ref)][-2:] == [
        "checkout_started",
        "checkout_cancelled",
    ]


def test_the_cancelled_return_page_is_accessible(page: Any, portal: Portal) -> None:
    ref = portal.portfolio.utility_case
    log_in_browser(page, portal.url, portal.engine, ref)
    page.goto(f"{portal.url}/cases/{ref}/pay?lang=en")
    page.get_by_label("How much do you want to pay? (EUR)").fill("5")
    page.get_by_role("button", name="Continue to payment").click()
    page.get_by_role("button", name="Cancel").click()
    page.wait_for_url(f"{portal.url}/payments/*")
    assert page.locator("h1").inner_text() == "Your payment did not go through"
    assert_accessible(page, context="the return page after a cancel")


def test_the_epc_qr_code_asks_for_the_open_amount_with_the_case_reference(
    page: Any, portal: Portal
) -> None:
    ref = portal.portfolio.utility_case
    log_in_browser(page, portal.url, portal.engine, ref)
    page.goto(f"{portal.url}/cases/{ref}/pay")
    qr = page.locator("img.qr")
    assert "QR-code" in (qr.get_attribute("alt") or "")
    # Decode what Chromium drew, as a phone's camera would see the screen.
    image = Image.open(io.BytesIO(qr.screenshot()))
    found = [b.text for b in zxingcpp.read_barcodes(image)]
    agency = agency_from_env()
    with portal.engine.connect() as conn:
        case_id = conn.execute(select(Case.id).where(Case.reference == ref)).scalar_one()
    rf = case_payment_references(int(case_id)).rf
    amount = open_cents(portal, ref)
    assert found == [
        epc_payload(
            name=agency.name,
            iban=agency.iban,
            bic=agency.bic,
            amount=Money.from_minor_units(amount),
            reference=rf,
        )
    ]
    lines = found[0].split("\n")
    assert lines[6] == agency.iban
    assert lines[7].startswith("EUR")
    assert Decimal(lines[7][3:]) == Decimal(amount).scaleb(-2)
    assert lines[9] == rf
    # The same details as text, for people who cannot scan.
    assert page.locator("#transfer-iban").inner_text().replace(" ", "") == agency.iban
    assert page.locator("#transfer-reference").inner_text().replace(" ", "") == rf
    assert page.locator("#transfer-amount").inner_text() == translator("nl").money(amount)


def test_an_amount_above_what_is_open_is_explained_at_the_field(page: Any, portal: Portal) -> None:
    ref = portal.portfolio.utility_case
    before = open_cents(portal, ref)
    log_in_browser(page, portal.url, portal.engine, ref)
    page.goto(f"{portal.url}/cases/{ref}/pay?lang=en")
    field = page.get_by_label("How much do you want to pay? (EUR)")
    field.fill("9999,00")
    page.get_by_role("button", name="Continue to payment").click()
    assert field.get_attribute("aria-invalid") == "true"
    assert "amount-error" in (field.get_attribute("aria-describedby") or "")
    assert page.locator("#amount-error").inner_text() == (
        f"That is more than you still have to pay. At most {translator('en').money(before)}."
    )
    assert field.input_value() == "9999,00"  # what was typed stays, to correct it
    assert_accessible(page, context="the pay page with an error")
    with portal.engine.connect() as conn:
        assert conn.execute(select(PaymentCheckout.id)).all() == []


def test_another_persons_case_cannot_be_paid_or_even_seen(page: Any, portal: Portal) -> None:
    log_in_browser(page, portal.url, portal.engine, portal.portfolio.utility_case)
    other = portal.portfolio.other_case  # Piet's
    response = page.goto(f"{portal.url}/cases/{other}/pay")
    assert response is not None
    assert response.status == 404
    assert "Piet" not in page.content()
    unknown = page.goto(f"{portal.url}/cases/R999999999/pay")
    assert unknown is not None
    assert unknown.status == 404


def test_the_webhook_endpoint_refuses_an_unsigned_call(portal: Portal) -> None:
    body = b'{"type":"checkout.paid","checkout":"chk_x","amount":"1.00","currency":"EUR"}'
    response = httpx.post(f"{portal.url}/webhooks/payments", content=body)
    assert response.status_code == 403
    assert response.json() == {"detail": "invalid signature"}
    too_big = httpx.post(f"{portal.url}/webhooks/payments", content=b"x" * 70_000)
    assert too_big.status_code == 413


def test_the_pay_page_needs_a_login(portal: Portal) -> None:
    ref = portal.portfolio.utility_case
    response = httpx.get(f"{portal.url}/cases/{ref}/pay")
    assert response.status_code == 303
    assert response.headers["location"] == f"/login?next=%2Fcases%2F{ref}%2Fpay"


def test_the_stand_alone_provider_command_serves_checkouts() -> None:
    import os
    import subprocess
    import sys
    import time

    from respite.adapters.payments.http_provider import HttpPaymentProvider

    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "respite", "payment-provider", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "RESPITE_PAYMENT_WEBHOOK_SECRET": "from-the-environment"},
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{url}/checkout/chk_0", timeout=1)
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
                assert time.monotonic() < deadline, "the provider did not start"
                time.sleep(0.1)
        with HttpPaymentProvider(url) as client:
            checkout = client.create_checkout(
                amount=Money.of("3.50", "EUR"),
                description="demo",
                return_url="http://127.0.0.1:1/payments/x",
                webhook_url="http://127.0.0.1:1/webhooks/payments",
                metadata={},
                idempotency_key="cli-test",
            )
        assert checkout.redirect_url.startswith(f"{url}/checkout/chk_")
        assert "EUR 3.50" in httpx.get(checkout.redirect_url).text
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=10)
    assert f"RESPITE_PAYMENT_PROVIDER_URL=http://127.0.0.1:{port}" in out


def test_when_the_provider_is_down_the_page_says_so_and_offers_the_bank_transfer(
    portal: Portal,
) -> None:
    from fastapi.testclient import TestClient

    from respite.adapters.payments.base import ProviderUnavailable
    from respite.entrypoints.web import sessions
    from respite.entrypoints.web.security import CSRF_COOKIE
    from tests.e2e.portal_login import portal_session

    class Down:
        name = "down"

        def create_checkout(self, **_: Any) -> Any:
            raise ProviderUnavailable("the payment provider did not answer in time")

    ref = portal.portfolio.utility_case
    app = create_app(portal.engine, WebSettings(business_date=portal.portfolio.on))
    app.state.payment_provider = Down()  # the injection point tests and the demo use
    with TestClient(app) as client:
        client.cookies.set(sessions.COOKIE["portal"], portal_session(portal.engine, ref))
        client.get(f"/cases/{ref}/pay?lang=en")
        response = client.post(
            f"/cases/{ref}/pay",
            data={"amount": "10.00", "csrf_token": client.cookies[CSRF_COOKIE]},
            follow_redirects=False,
        )
    assert response.status_code == 503
    assert "Paying online does not work at the moment" in response.text
    assert 'id="transfer-iban"' in response.text
    with portal.engine.connect() as conn:
        assert conn.execute(select(PaymentCheckout.id)).all() == []
