"""Paying in the portal against real SQLite and PostgreSQL: checkouts, signed webhooks,
exactly-once booking, 6:43/6:44 allocation, and the guardrails on the amount.

The portfolio is the portal's (tests/e2e/portal_data.py): Anna owes a utility (one claim)
and a telecom (two claims); Piet owes the utility. The nightly cycle has run to 2025-02-20,
so costs, posted interest and interest carried below the month's posting all exist.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, func, select, update

from respite.adapters.db.models import (
    Case,
    Claim,
    Debtor,
    Event,
    Instalment,
    LedgerEntry,
    Payment,
    PaymentCheckout,
    Refund,
)
from respite.adapters.payments.base import (
    SIGNATURE_HEADER,
    BadSignature,
    Checkout,
    ProviderUnavailable,
    signature_header,
    verify,
)
from respite.adapters.payments.fake_provider import FakePaymentProvider
from respite.adapters.payments.http_provider import HttpPaymentProvider
from respite.domain.lifecycle import HoldKind
from respite.domain.money import Money
from respite.errors import ConflictError, InputError
from respite.services import cases, plans
from respite.services import portal_payments as pp
from tests.e2e.portal_data import Portfolio, seed

SECRET = "integration-secret"  # noqa: S105 - a test secret
NOW = datetime(2025, 2, 20, 10, 0, tzinfo=UTC)
PORTAL = "https://portal.example"


@dataclass
class StubProvider:
    """A provider in memory: records each checkout; ``down`` makes it fail like a timeout."""

    name: str = "stub"
    down: bool = False
    calls: list[dict[str, Any]] = field(default_factory=list)

    def create_checkout(
        self,
        *,
        amount: Money,
        description: str,
        return_url: str,
        webhook_url: str,
        metadata: Mapping[str, str],
        idempotency_key: str,
    ) -> Checkout:
        if self.down:
            raise ProviderUnavailable("the payment provider did not answer in time")
        self.calls.append({"amount": amount, "return_url": return_url, "metadata": metadata})
        ref = f"stub_{len(self.calls)}"
        return Checkout(ref, f"https://provider.example/checkout/{ref}")


@pytest.fixture
def portfolio(db_engine: Engine) -> Portfolio:
    return seed(db_engine)


def person_of(engine: Engine, reference: str) -> int:
    with engine.connect() as conn:
        row = conn.execute(
            select(Debtor.id, Debtor.person_id)
            .join(Case, Case.debtor_id == Debtor.id)
            .where(Case.reference == reference)
        ).one()
    return int(row.person_id or row.id)


def open_today(engine: Engine, reference: str) -> int:
    with engine.connect() as conn:
        return pp.payable_case(conn, person_of(engine, reference), reference).open_cents


def start(
    engine: Engine, reference: str, amount: str, provider: StubProvider | None = None
) -> tuple[pp.StartedCheckout, StubProvider]:
    provider = provider or StubProvider()
    with engine.begin() as conn:
        started = pp.start_checkout(
            conn,
            provider,
            person_of(engine, reference),
            reference,
            amount,
            on=date(2025, 2, 20),
            now=NOW,
            return_base_url=PORTAL,
            webhook_url=f"{PORTAL}/webhooks/payments",
        )
    return started, provider


def provider_ref(engine: Engine, token: str) -> str:
    with engine.connect() as conn:
        return str(
            conn.execute(
                select(PaymentCheckout.provider_ref).where(PaymentCheckout.token == token)
            ).scalar_one()
        )


def webhook(
    engine: Engine,
    checkout: str,
    amount: str,
    *,
    kind: str = "checkout.paid",
    secret: str = SECRET,
    sent: datetime = NOW,
    body: bytes | None = None,
) -> pp.WebhookOutcome:
    raw = (
        body
        or json.dumps(
            {
                "type": kind,
                "checkout": checkout,
                "amount": amount,
                "currency": "EUR",
                "metadata": {},
            }
        ).encode()
    )
    header = signature_header(secret, raw, sent)
    return pp.handle_webhook(engine, raw, header, SECRET, date(2025, 2, 20), NOW)


def dec(cents: int) -> str:
    """Cents as the provider writes them: "123.45"."""
    return f"{cents // 100}.{cents % 100:02d}"


def count(engine: Engine, model: Any, *where: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(model).where(*where)).scalar_one())


def events(engine: Engine, reference: str) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        return [
            (r.kind, r.actor)
            for r in conn.execute(
                select(Event.kind, Event.actor)
                .join(Case, Case.id == Event.case_id)
                .where(Case.reference == reference, Event.business_date == date(2025, 2, 20))
                .order_by(Event.id)
            )
        ]


# -- webhooks: exactly once, signed, idempotent ---------------------------------------------


def test_the_same_paid_webhook_twice_books_the_payment_once(
    db_engine: Engine, portfolio: Portfolio
) -> None:
    ref = portfolio.utility_case
    before = open_today(db_engine, ref)
    started, _ = start(db_engine, ref, "50,00")
    checkout = provider_ref(db_engine, started.token)
    first = webhook(db_engine, checkout, "50.00")
    second = webhook(db_engine, checkout, "50.00")
    assert (first.status, second.status) == ("booked", "duplicate")
    assert count(db_engine, Payment, Payment.source_ref == f"checkout:stub:{checkout}") == 1
    assert open_today(db_engine, ref) == before - 50_00
    assert [k for k, _ in events(db_engine, ref)].count("payment_received") == 1
    assert events(db_engine, ref)[-3:] == [
        ("checkout_started", "debtor:portal"),
        ("payment_received", "payments"),
        ("checkout_paid", "provider:stub"),
    ]
    with db_engine.connect() as conn:
        view = pp.checkout_status(conn, started.token)
    assert view is not None
    assert view.status == "paid"
    assert view.open_cents == before - 50_00


def test_two_deliveries_at_the_same_moment_book_once(
    db_engine: Engine, portfolio: Portfolio
) -> None:
    started, _ = start(db_engine, portfolio.telecom_case, "75.00")
    checkout = provider_ref(db_engine, started.token)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def deliver() -> None:
        barrier.wait()
        outcomes.append(webhook(db_engine, checkout, "75.00").status)

    threads = [threading.Thread(target=deliver) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(outcomes) == ["booked", "duplicate"]
    assert count(db_engine, Payment, Payment.source_ref.like("checkout:%")) == 1


@pytest.mark.parametrize(
    "tamper",
    ["wrong secret", "changed body", "old timestamp", "no header"],
)
def test_a_webhook_with_a_bad_signature_changes_nothing(
    db_engine: Engine, portfolio: Portfolio, tamper: str
) -> None:
    ref = portfolio.utility_case
    before = open_today(db_engine, ref)
    started, _ = start(db_engine, ref, "50.00")
    checkout = provider_ref(db_engine, started.token)
    raw = json.dumps(
        {"type": "checkout.paid", "checkout": checkout, "amount": "50.00", "currency": "EUR"}
    ).encode()
    header: str | None = signature_header(SECRET, raw, NOW)
    if tamper == "wrong secret":
        header = signature_header("guessed-secret", raw, NOW)
    elif tamper == "changed body":
        raw = raw.replace(b"50.00", b"5000.00")
    elif tamper == "old timestamp":
        header = signature_header(SECRET, raw, NOW - timedelta(minutes=6))
    else:
        header = None
    with pytest.raises(BadSignature):
        pp.handle_webhook(db_engine, raw, header, SECRET, date(2025, 2, 20), NOW)
    assert open_today(db_engine, ref) == before
    assert count(db_engine, Payment, Payment.source_ref.like("checkout:%")) == 0
    assert events(db_engine, ref)[-1] == ("checkout_started", "debtor:portal")
    with db_engine.connect() as conn:
        view = pp.checkout_status(conn, started.token)
    assert view is not None
    assert view.status == "open"


def test_a_cancelled_checkout_books_nothing_and_is_on_the_timeline(
    db_engine: Engine, portfolio: Portfolio
) -> None:
    ref = portfolio.utility_case
    before = open_today(db_engine, ref)
    started, _ = start(db_engine, ref, "20.00")
    checkout = provider_ref(db_engine, started.token)
    assert webhook(db_engine, checkout, "20.00", kind="checkout.cancelled").status == "cancelled"
    assert webhook(db_engine, checkout, "20.00", kind="checkout.cancelled").status == "duplicate"
    assert open_today(db_engine, ref) == before
    assert events(db_engine, ref)[-1] == ("checkout_cancelled", "provider:stub")
    with db_engine.connect() as conn:
        view = pp.checkout_status(conn, started.token)
    assert view is not None
    assert view.status == "cancelled"


def test_a_webhook_for_an_unknown_checkout_or_another_currency_is_refused(
    db_engine: Engine, portfolio: Portfolio
) -> None:
    with pytest.raises(pp.UnknownCheckout):
        webhook(db_engine, "chk_never_made", "10.00")
    started, _ = start(db_engine, portfolio.utility_case, "10.00")
    checkout = provider_ref(db_engine, started.token)
    raw = json.dumps(
        {"type": "checkout.paid", "checkout": checkout, "amount": "10.00", "currency": "PLN"}
    ).encode()
    with pytest.raises(ConflictError):
        webhook(db_engine, checkout, "", body=raw)
    assert count(db_engine, Payment, Payment.source_ref.like("checkout:%")) == 0
    # A kind of event we do not act on is acknowledged and ignored.
    assert webhook(db_engine, checkout, "10.00", kind="checkout.refunded").status == "ignored"


# -- allocation: 6:43 and 6:44 BW, exactly ---------------------------------------------------


def claims_of(engine: Engine, reference: str) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [
            dict(r._mapping)
            for r in conn.execute(
                select(Claim)
                .join(Case, Case.id == Claim.case_id)
                .where(Case.reference == reference)
                .order_by(Claim.due_date)
            )
        ]


def test_a_partial_payment_meets_the_oldest_claim_costs_then_interest_then_principal(
    db_engine: Engine, portfolio: Portfolio
) -> None:
    ref = portfolio.telecom_case  # two invoices: TEL-77 due before TEL-78
    old, young = claims_of(db_engine, ref)
    assert old["external_ref"] == "TEL-77"
    assert old["due_date"] < young["due_date"]
    interest = old["open_interest_cents"] + old["interest_carry_micros"] // 1_000_000
    # Enough for the old claim's costs and interest and part of its principal.
    amount = old["open_costs_cents"] + interest + 12_34
    before = open_today(db_engine, ref)
    started, _ = start(db_engine, ref, dec(amount))
    assert (
        webhook(db_engine, provider_ref(db_engine, started.token), dec(amount)).status == "booked"
    )
    after_old, after_young = claims_of(db_engine, ref)
    # 6:43 lid 2: everything to the older claim; 6:44: costs, interest, then principal.
    assert after_old["open_costs_cents"] == 0
    assert after_old["open_interest_cents"] == 0
    assert after_old["open_principal_cents"] == old["open_principal_cents"] - 12_34
    assert (
        after_young["open_principal_cents"],
        after_young["open_costs_cents"],
        after_young["open_interest_cents"] + after_young["interest_carry_micros"] // 1_000_000,
    ) == (
        young["open_principal_cents"],
        young["open_costs_cents"],
        young["open_interest_cents"] + young["interest_carry_micros"] // 1_000_000,
    )
    assert open_today(db_engine, ref) == before - amount
    with db_engine.connect() as conn:
        parts = dict(
            conn.execute(
                select(LedgerEntry.bucket, LedgerEntry.amount_cents).where(
                    LedgerEntry.claim_id == old["id"],
                    LedgerEntry.kind == "allocation",
                    LedgerEntry.memo.like("from payment checkout:%"),
                )
            ).all()
        )
    assert parts == {"costs": old["open_costs_cents"], "interest": interest, "principal": 12_34}


def test_paying_what_the_page_shows_as_open_settles_the_case_to_the_cent(
    db_engine: Engine, portfolio: Portfolio
) -> None:
    ref = portfolio.utility_case
    carried = sum(c["interest_carry_micros"] // 1_000_000 for c in claims_of(db_engine, ref))
    assert carried > 0  # interest accrued since the month's posting: part of "open today"
    whole = open_today(db_engine, ref)
    started, _ = start(db_engine, ref, f"{whole // 100},{whole % 100:02d}")
    webhook(db_engine, provider_ref(db_engine, started.token), dec(whole))
    assert open_today(db_engine, ref) == 0
    assert count(db_engine, Refund) == 0
    with db_engine.connect() as conn:
        case = pp.payable_case(conn, person_of(db_engine, ref), ref)
    assert not case.payable
    assert case.payments[0].amount_cents == whole
    with pytest.raises(pp.NothingToPay, match="fully paid"):
        start(db_engine, ref, "1,00")


def test_paying_twice_in_two_tabs_queues_the_overpayment_for_refund(
    db_engine: Engine, portfolio: Portfolio
) -> None:
    ref = portfolio.utility_case
    whole = open_today(db_engine, ref)
    text = f"{whole // 100}.{whole % 100:02d}"
    first, provider = start(db_engine, ref, text)
    second, _ = start(db_engine, ref, text, provider)  # still allowed: nothing paid yet
    for started in (first, second):
        webhook(db_engine, provider_ref(db_engine, started.token), text)
    assert open_today(db_engine, ref) == 0
    with db_engine.connect() as conn:
        refunds = conn.execute(select(Refund.amount_cents, Refund.status)).all()
    assert [(int(r.amount_cents), r.status) for r in refunds] == [(whole, "queued")]


def test_the_payment_counts_towards_the_plans_instalments(
    db_engine: Engine, portfolio: Portfolio
) -> None:
    ref = portfolio.utility_case
    plan = plans.propose(
        db_engine,
        ref,
        on=portfolio.on,
        instalment_cents=50_00,
        at=NOW,
        proposed_by="debtor",
    )
    assert plan["status"] == "active"
    started, _ = start(db_engine, ref, "70,00")
    webhook(db_engine, provider_ref(db_engine, started.token), "70.00")
    with db_engine.connect() as conn:
        rows = conn.execute(
            select(Instalment.amount_cents, Instalment.paid_cents, Instalment.status)
            .where(Instalment.plan_id == plan["plan"])
            .order_by(Instalment.due_date)
        ).all()
    assert (rows[0].paid_cents, rows[0].status) == (50_00, "paid")
    assert (rows[1].paid_cents, rows[1].status) == (20_00, "open")
    assert all(r.paid_cents == 0 for r in rows[2:])


def test_a_payment_is_welcome_while_the_case_is_on_hold(
    db_engine: Engine, portfolio: Portfolio
) -> None:
    ref = portfolio.utility_case
    cases.place_hold(
        db_engine,
        ref,
        HoldKind.DISPUTE,
        on=portfolio.on,
        actor="agent:test",
        reason="the debtor disputes the invoice",
        at=NOW,
    )
    before = open_today(db_engine, ref)
    started, _ = start(db_engine, ref, "10,00")
    assert webhook(db_engine, provider_ref(db_engine, started.token), "10.00").status == "booked"
    assert open_today(db_engine, ref) == before - 10_00


# -- guardrails when starting --------------------------------------------------------------


def test_an_amount_above_what_is_open_is_refused_and_nothing_is_written(
    db_engine: Engine, portfolio: Portfolio
) -> None:
    ref = portfolio.utility_case
    whole = open_today(db_engine, ref)
    provider = StubProvider()
    with pytest.raises(pp.AmountError) as caught:
        start(db_engine, ref, f"{(whole + 1) // 100},{(whole + 1) % 100:02d}", provider)
    assert caught.value.kind == "too_much"
    assert caught.value.field == "amount"
    assert caught.value.most_cents == whole
    assert "amount:" in str(caught.value)
    assert provider.calls == []
    assert count(db_engine, PaymentCheckout) == 0
    # Exactly what is open is fine.
    started, _ = start(db_engine, ref, f"{whole // 100},{whole % 100:02d}", provider)
    assert started.amount_cents == whole


def test_a_closed_case_cannot_be_paid_again(db_engine: Engine, portfolio: Portfolio) -> None:
    with db_engine.begin() as conn:
        conn.execute(
            update(Case)
            .where(Case.reference == portfolio.utility_case)
            .values(closed=True, stage="closed", close_reason="paid")
        )
    with pytest.raises(pp.NothingToPay, match="closed"):
        start(db_engine, portfolio.utility_case, "10,00")
    assert count(db_engine, PaymentCheckout) == 0


def test_another_persons_case_is_unknown(db_engine: Engine, portfolio: Portfolio) -> None:
    anna = person_of(db_engine, portfolio.utility_case)
    with db_engine.connect() as conn:
        with pytest.raises(pp.UnknownCase):
            pp.payable_case(conn, anna, portfolio.other_case)
        with pytest.raises(pp.UnknownCase):
            pp.payable_case(conn, anna, "R999999999")
        # Her own cases with both creditors are hers.
        assert pp.payable_case(conn, anna, portfolio.telecom_case).creditor == "Bel Mobiel NV"


def test_a_provider_that_does_not_answer_leaves_nothing_behind(
    db_engine: Engine, portfolio: Portfolio
) -> None:
    with pytest.raises(ProviderUnavailable):
        start(db_engine, portfolio.utility_case, "10,00", StubProvider(down=True))
    assert count(db_engine, PaymentCheckout) == 0
    assert events(db_engine, portfolio.utility_case)[-1][0] != "checkout_started"


def test_the_checkout_carries_the_amount_and_comes_back_to_a_secret_return_page(
    db_engine: Engine, portfolio: Portfolio
) -> None:
    started, provider = start(db_engine, portfolio.telecom_case, "12.34")
    call = provider.calls[0]
    assert call["amount"] == Money.of("12.34", "EUR")
    assert call["return_url"] == f"{PORTAL}/payments/{started.token}"
    assert len(started.token) >= 40  # 256 bits: the return page cannot be guessed
    with db_engine.connect() as conn:
        assert pp.checkout_status(conn, "not-a-token") is None
        assert pp.checkout_status(conn, "x" * 43) is None


@pytest.mark.parametrize(
    ("typed", "cents"),
    [("12,34", 1234), ("12.34", 1234), (" 7 ", 700), ("€ 12,5", 1250), ("1.234,56", 123456)],
)
def test_amounts_are_read_with_a_comma_or_a_point(typed: str, cents: int) -> None:
    assert pp.parse_payment_amount(typed, 500_000, "EUR") == cents


@pytest.mark.parametrize(
    ("typed", "kind"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("12,3456", "decimals"),
        ("0,125", "decimals"),
        ("1.234", "ambiguous"),
        ("0", "not_positive"),
        ("0,00", "not_positive"),
        ("-5", "not_positive"),
        ("twelve", "not_a_number"),
        ("1e3", "not_a_number"),
        ("9" * 50, "not_a_number"),
        ("5000,01", "too_much"),
    ],
)
def test_an_amount_we_cannot_take_names_the_field_and_why(typed: str, kind: str) -> None:
    with pytest.raises(InputError) as caught:
        pp.parse_payment_amount(typed, 500_000, "EUR")
    assert isinstance(caught.value, pp.AmountError)
    assert (caught.value.kind, caught.value.field) == (kind, "amount")


# -- the HTTP adapter and the fake provider --------------------------------------------------


class _Receiver:
    """A webhook endpoint on loopback that keeps what it receives."""

    def __init__(self) -> None:
        self.received: list[tuple[bytes, str | None]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                outer.received.append((raw, self.headers.get(SIGNATURE_HEADER)))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/webhooks/payments"


@pytest.fixture
def receiver() -> Iterator[_Receiver]:
    r = _Receiver()
    r.thread.start()
    yield r
    r.server.shutdown()
    r.server.server_close()


def test_the_fake_provider_signs_a_paid_webhook_that_verifies(receiver: _Receiver) -> None:
    with FakePaymentProvider(webhook_secret=SECRET) as fake:
        client = HttpPaymentProvider(fake.url, name="fake")
        args: dict[str, Any] = {
            "amount": Money.of("12.34", "EUR"),
            "description": "Bel Mobiel NV R000000003",
            "return_url": "http://127.0.0.1:1/payments/tok",
            "webhook_url": receiver.url,
            "metadata": {"reference": "R000000003"},
        }
        first = client.create_checkout(**args, idempotency_key="key-1")
        again = client.create_checkout(**args, idempotency_key="key-1")
        other = client.create_checkout(**args, idempotency_key="key-2")
        assert first == again
        assert other.provider_ref != first.provider_ref
        page = httpx.get(first.redirect_url)
        assert page.status_code == 200
        assert "EUR 12.34" in page.text
        back = httpx.post(f"{first.redirect_url}/pay")
        assert (back.status_code, back.headers["location"]) == (303, args["return_url"])
        httpx.post(f"{first.redirect_url}/pay")  # a second click: no second webhook
        assert fake.deliver_again(first.provider_ref) == 200  # a provider's re-delivery
        client.close()
    assert len(receiver.received) == 2
    raw, header = receiver.received[0]
    assert verify(SECRET, header, raw, datetime.now(UTC))
    assert json.loads(raw) == {
        "type": "checkout.paid",
        "checkout": first.provider_ref,
        "amount": "12.34",
        "currency": "EUR",
        "metadata": {"reference": "R000000003"},
    }
    assert receiver.received[1][0] == raw


def test_the_http_provider_reports_a_provider_that_is_down_or_confused() -> None:
    def answer(status: int, body: bytes) -> httpx.Client:
        return httpx.Client(
            transport=httpx.MockTransport(lambda _: httpx.Response(status, content=body))
        )

    args: dict[str, Any] = {
        "amount": Money.of("1.00", "EUR"),
        "description": "x",
        "return_url": "http://a/r",
        "webhook_url": "http://a/w",
        "metadata": {},
        "idempotency_key": "k",
    }
    for client in (
        answer(500, b"{}"),
        answer(201, b"not json"),
        answer(201, b'{"id": "x"}'),
        answer(201, b'{"id": "x", "redirect_url": "javascript:alert(1)"}'),
    ):
        with pytest.raises(ProviderUnavailable):
            HttpPaymentProvider("http://provider.invalid", client=client).create_checkout(**args)
    with pytest.raises(ProviderUnavailable, match="cannot be reached"):
        HttpPaymentProvider("http://127.0.0.1:9", timeout=2).create_checkout(**args)
