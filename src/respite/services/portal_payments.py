"""Paying a case in the portal: at the payment provider, or by bank transfer (EPC QR).

:func:`start_checkout` checks the amount (more than zero, at most two decimals, at most
what is open today), asks the provider for a checkout and stores it (``payment_checkouts``)
with a ``checkout_started`` event. The provider's signed webhook comes to
:func:`handle_webhook`: a bad signature changes nothing (:class:`BadSignature`, 403); a
paid checkout is booked through :mod:`respite.services.payments` (6:43/6:44 BW picks the
claims and the parts; the plan's instalments count it), exactly once — the checkout's
status moves from *not paid* to *paid* in one conditional UPDATE, and the payment's
``source_ref`` (``checkout:<provider>:<id>``) is unique as well. A payment is always
welcome, also on hold; more than the case owes is credit, queued for refund.

"Open today" includes the whole cents of interest accrued since it was last posted: a
payment posts it first (6:44), so paying the open amount settles the case.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Engine, func, insert, select, update

from respite.adapters.db.models import (
    Case,
    Claim,
    Creditor,
    Debtor,
    Event,
    Payment,
    PaymentCheckout,
    Refund,
)
from respite.adapters.payments.base import PaymentProvider, verify
from respite.domain.money import Currency, Money, parse_amount
from respite.domain.references import case_payment_references, format_rf
from respite.errors import ConflictError, InputError, ValidationError
from respite.services.agency import Agency, agency_from_env
from respite.services.payments import NewPayment, book_payments
from respite.services.people import debtor_ids_of_person, person_key
from respite.services.store import event_row

__all__ = [
    "ACTOR",
    "AmountError",
    "BankTransfer",
    "CheckoutView",
    "NothingToPay",
    "PayableCase",
    "PaymentLine",
    "StartedCheckout",
    "UnknownCase",
    "UnknownCheckout",
    "WebhookOutcome",
    "bank_transfer",
    "checkout_status",
    "handle_webhook",
    "parse_payment_amount",
    "payable_case",
    "start_checkout",
]

ACTOR = "debtor:portal"
_MAX_AMOUNT_TEXT = 40
_WEBHOOK_AMOUNT = re.compile(r"^\d{1,12}\.\d{2}$")
_TOKEN = re.compile(r"^[A-Za-z0-9_\-]{20,64}$")


class UnknownCase(InputError):
    """No such case, or not this person's: the portal answers 404 for both alike."""


class UnknownCheckout(InputError):
    """A webhook for a checkout we never started (the provider may retry: 404)."""


class NothingToPay(ConflictError):
    """The case is closed or fully paid: it cannot be paid again."""


class AmountError(InputError):
    """The amount typed is not one we can take. ``kind`` names why, for the page's message:
    ``empty``, ``not_a_number``, ``ambiguous``, ``decimals``, ``not_positive``, ``too_much``."""

    def __init__(self, kind: str, message: str, *, most_cents: int | None = None) -> None:
        super().__init__(message, field="amount")
        self.kind = kind
        self.most_cents = most_cents


@dataclass(frozen=True, slots=True)
class PaymentLine:
    received_on: date
    amount_cents: int


@dataclass(frozen=True, slots=True)
class PayableCase:
    case_id: int
    reference: str
    creditor: str
    jurisdiction: str
    currency: str
    open_cents: int  # principal + interest + costs, with the accrued whole cents
    closed: bool
    payments: tuple[PaymentLine, ...]  # booked payments, newest first (at most 10)

    @property
    def payable(self) -> bool:
        return not self.closed and self.open_cents > 0


@dataclass(frozen=True, slots=True)
class BankTransfer:
    """What a banking app needs, as text and as an EPC069-12 QR code (SVG data URI)."""

    name: str
    iban: str
    bic: str
    amount_cents: int
    currency: str
    reference: str  # RF, compact
    payload: str
    qr_data_uri: str

    @property
    def iban_print(self) -> str:
        return " ".join(self.iban[i : i + 4] for i in range(0, len(self.iban), 4))

    @property
    def reference_print(self) -> str:
        return format_rf(self.reference)


@dataclass(frozen=True, slots=True)
class StartedCheckout:
    token: str
    redirect_url: str
    amount_cents: int
    currency: str


@dataclass(frozen=True, slots=True)
class WebhookOutcome:
    status: str  # booked | duplicate | cancelled | ignored
    checkout: str | None = None


@dataclass(frozen=True, slots=True)
class CheckoutView:
    """The return page: how a checkout stands, and (for its owner) what is open now."""

    token: str
    status: str  # open | paid | failed | cancelled | expired
    amount_cents: int
    currency: str
    reference: str
    creditor: str
    person_id: int
    open_cents: int
    paid_at: datetime | None


def _open_cents() -> Any:
    # Whole cents of carried interest are posted before a payment is allocated (6:44 BW).
    return func.coalesce(
        func.sum(
            Claim.open_principal_cents
            + Claim.open_interest_cents
            + Claim.open_costs_cents
            + Claim.interest_carry_micros // 1_000_000
        ),
        0,
    )


def payable_case(conn: Connection, person_id: int, reference: str) -> PayableCase:
    """The person's case ``reference`` with what is open today; :class:`UnknownCase` when
    there is no such case or it is another person's (the same error for both)."""
    reference = reference.strip().upper()
    row = conn.execute(
        select(
            Case.id,
            Case.reference,
            Case.closed,
            Case.debtor_id,
            Creditor.name,
            Creditor.jurisdiction,
        )
        .join(Creditor, Creditor.id == Case.creditor_id)
        .where(Case.reference == reference)
    ).first()
    if row is None or int(row.debtor_id) not in debtor_ids_of_person(conn, person_id):
        raise UnknownCase(f"no case {reference!r} of this person", field="reference")
    sums = conn.execute(
        select(func.min(Claim.currency), _open_cents()).where(Claim.case_id == row.id)
    ).one()
    payments = conn.execute(
        select(Payment.received_on, Payment.amount_cents)
        .where(Payment.case_id == row.id, Payment.booked.is_(True))
        .order_by(Payment.id.desc())
        .limit(10)
    ).all()
    return PayableCase(
        case_id=int(row.id),
        reference=str(row.reference),
        creditor=str(row.name),
        jurisdiction=str(row.jurisdiction),
        currency=str(sums[0] or "EUR"),
        open_cents=int(sums[1]),
        closed=bool(row.closed),
        payments=tuple(PaymentLine(p.received_on, int(p.amount_cents)) for p in payments),
    )


def bank_transfer(case: PayableCase, agency: Agency | None = None) -> BankTransfer | None:
    """The transfer details and EPC QR for what is open; None when a QR cannot ask for it
    (nothing open, or not in euro: EPC069-12 is for euro only)."""
    from respite.adapters.bank.epc_qr import epc_payload, epc_qr_svg

    if not case.payable or case.currency != "EUR":
        return None
    agency = agency or agency_from_env()
    rf = case_payment_references(case.case_id).rf
    amount = Money.from_minor_units(case.open_cents, Currency.EUR)
    fields = {"name": agency.name, "iban": agency.iban, "bic": agency.bic}
    payload = epc_payload(amount=amount, reference=rf, **fields)
    svg = epc_qr_svg(amount=amount, reference=rf, scale=4, **fields)
    uri = "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")
    return BankTransfer(
        agency.name, agency.iban, agency.bic, case.open_cents, "EUR", rf, payload, uri
    )


def parse_payment_amount(text: str | None, open_cents: int, currency: str) -> int:
    """The cents of a typed amount (``12,34`` or ``12.34``); :class:`AmountError` when it
    is empty, not an amount, has more than two decimals, is not above zero, or is more
    than the ``open_cents`` still open."""
    raw = (text or "").strip()
    if not raw:
        raise AmountError("empty", "enter the amount you want to pay")
    if len(raw) > _MAX_AMOUNT_TEXT:
        raise AmountError("not_a_number", "this is not an amount")
    cur = Currency.of(currency)
    try:
        value = parse_amount(raw, cur)
    except ValidationError as exc:
        message = str(exc)
        if "decimals" in message:
            raise AmountError("decimals", f"at most {cur.minor_unit} decimals") from None
        if "ambiguous" in message:
            raise AmountError("ambiguous", "write the cents too, e.g. 12,50") from None
        raise AmountError("not_a_number", "this is not an amount") from None
    cents = int(value.scaleb(cur.minor_unit))
    if cents <= 0:
        raise AmountError("not_positive", "the amount must be more than zero")
    if cents > open_cents:
        raise AmountError(
            "too_much",
            f"at most {Money.from_minor_units(open_cents, cur)} is open on this case",
            most_cents=open_cents,
        )
    return cents


def start_checkout(
    conn: Connection,
    provider: PaymentProvider,
    person_id: int,
    reference: str,
    amount_text: str | None,
    on: date,
    now: datetime,
    return_base_url: str,
    webhook_url: str,
) -> StartedCheckout:
    """Start paying ``amount_text`` of the person's case at ``provider``.

    The provider is asked before anything is written, so a provider that does not answer
    leaves nothing behind (:class:`ProviderUnavailable`); on SQLite no write lock is held
    while it is asked.
    """
    case = payable_case(conn, person_id, reference)
    if not case.payable:
        why = "is closed" if case.closed else "is fully paid"
        raise NothingToPay(f"case {case.reference} {why}: there is nothing left to pay")
    cents = parse_payment_amount(amount_text, case.open_cents, case.currency)
    money = Money.from_minor_units(cents, Currency.of(case.currency))
    token = secrets.token_urlsafe(32)
    checkout = provider.create_checkout(
        amount=money,
        description=f"{case.creditor} {case.reference}"[:200],
        return_url=f"{return_base_url.rstrip('/')}/payments/{token}",
        webhook_url=webhook_url,
        metadata={"reference": case.reference},
        idempotency_key=token,
    )
    conn.execute(
        insert(PaymentCheckout).values(
            token=token,
            case_id=case.case_id,
            amount_cents=cents,
            currency=case.currency,
            status="open",
            provider=provider.name,
            provider_ref=checkout.provider_ref,
            created_at=now,
        )
    )
    conn.execute(
        insert(Event),
        [
            event_row(
                case.case_id,
                on,
                now,
                ACTOR,
                "checkout_started",
                f"the debtor started paying {money} at the payment provider",
                {
                    "status": "open",
                    "amount_cents": cents,
                    "currency": case.currency,
                    "provider": provider.name,
                    "provider_ref": checkout.provider_ref,
                    "open_cents": case.open_cents,
                },
            )
        ],
    )
    return StartedCheckout(token, checkout.redirect_url, cents, case.currency)


def handle_webhook(
    engine: Engine, raw_body: bytes, header: str | None, secret: str, on: date, now: datetime
) -> WebhookOutcome:
    """Verify and apply one provider webhook, in one transaction; safe to receive twice.

    :class:`BadSignature` (nothing read, nothing booked) for a bad signature;
    :class:`UnknownCheckout` for a checkout we never started; :class:`InputError` for a
    body we cannot read; :class:`ConflictError` for a currency that is not the checkout's.
    """
    verify(secret, header, raw_body, now)
    try:
        data = json.loads(raw_body)
    except ValueError:
        raise InputError("the webhook body is not JSON", field="body") from None
    if not isinstance(data, dict):
        raise InputError("the webhook body is not a JSON object", field="body")
    kind = data.get("type")
    if kind not in ("checkout.paid", "checkout.cancelled"):
        return WebhookOutcome("ignored")
    provider_ref = data.get("checkout")
    if not isinstance(provider_ref, str) or not provider_ref:
        raise InputError("the webhook names no checkout", field="checkout")
    with engine.begin() as conn:
        row = conn.execute(
            select(PaymentCheckout.__table__).where(PaymentCheckout.provider_ref == provider_ref)
        ).first()
        if row is None:
            raise UnknownCheckout(f"no checkout {provider_ref!r}", field="checkout")
        if kind == "checkout.paid":
            return _paid(conn, row, data, on, now)
        return _cancelled(conn, row, on, now)


def _paid(
    conn: Connection, row: Any, data: dict[str, Any], on: date, now: datetime
) -> WebhookOutcome:
    if data.get("currency") != row.currency:
        raise ConflictError(
            f"checkout {row.provider_ref} is in {row.currency}, the webhook says "
            f"{data.get('currency')!r}"
        )
    amount = data.get("amount")
    if not isinstance(amount, str) or not _WEBHOOK_AMOUNT.match(amount):
        raise InputError("the webhook amount is not an amount with two decimals", field="amount")
    cents = int(Decimal(amount).scaleb(2))
    if cents <= 0:
        raise InputError("the webhook amount is not above zero", field="amount")
    # The claim: of two deliveries of one webhook, only one moves the status to paid
    # (PostgreSQL re-checks the WHERE after the first commits; SQLite has one writer).
    claimed = conn.execute(
        update(PaymentCheckout)
        .where(PaymentCheckout.id == row.id, PaymentCheckout.status != "paid")
        .values(status="paid", paid_at=now)
    ).rowcount
    if claimed != 1:
        return WebhookOutcome("duplicate", row.provider_ref)
    source_ref = f"checkout:{row.provider}:{row.provider_ref}"
    booked = book_payments(conn, [NewPayment(row.case_id, cents, on, source_ref)], now=now)
    if not booked:
        return WebhookOutcome("duplicate", row.provider_ref)
    currency = Currency.of(row.currency)
    money = Money.from_minor_units(cents, currency)
    reason = f"paid {money} at the payment provider"
    if cents != row.amount_cents:
        reason += f" (asked: {Money.from_minor_units(row.amount_cents, currency)})"
    credit = booked[0].credit_cents
    if credit:
        reason += f"; {Money.from_minor_units(credit, currency)} more than the case owed: refund"
        conn.execute(
            insert(Refund).values(
                case_id=row.case_id,
                amount_cents=credit,
                currency=row.currency,
                reason=f"overpayment through the payment provider ({source_ref})",
                status="queued",
                created_on=on,
            )
        )
    conn.execute(
        insert(Event),
        [
            event_row(
                row.case_id,
                on,
                now,
                f"provider:{row.provider}",
                "checkout_paid",
                reason,
                {
                    "status": "paid",
                    "amount_cents": cents,
                    "requested_cents": int(row.amount_cents),
                    "currency": row.currency,
                    "source_ref": source_ref,
                    "credit_cents": credit,
                },
                {"status": row.status},
            )
        ],
    )
    return WebhookOutcome("booked", row.provider_ref)


def _cancelled(conn: Connection, row: Any, on: date, now: datetime) -> WebhookOutcome:
    changed = conn.execute(
        update(PaymentCheckout)
        .where(PaymentCheckout.id == row.id, PaymentCheckout.status == "open")
        .values(status="cancelled")
    ).rowcount
    if changed != 1:
        return WebhookOutcome("duplicate", row.provider_ref)
    money = Money.from_minor_units(int(row.amount_cents), Currency.of(row.currency))
    conn.execute(
        insert(Event),
        [
            event_row(
                row.case_id,
                on,
                now,
                f"provider:{row.provider}",
                "checkout_cancelled",
                f"the payment of {money} was cancelled at the payment provider",
                {"status": "cancelled", "amount_cents": int(row.amount_cents)},
                {"status": "open"},
            )
        ],
    )
    return WebhookOutcome("cancelled", row.provider_ref)


def checkout_status(conn: Connection, token: str) -> CheckoutView | None:
    """The checkout of a return-page token; None for an unknown or malformed token."""
    if not _TOKEN.match(token or ""):
        return None
    row = conn.execute(
        select(
            PaymentCheckout.token,
            PaymentCheckout.status,
            PaymentCheckout.amount_cents,
            PaymentCheckout.currency,
            PaymentCheckout.case_id,
            PaymentCheckout.paid_at,
            Case.reference,
            Creditor.name,
            person_key().label("person"),
        )
        .join(Case, Case.id == PaymentCheckout.case_id)
        .join(Creditor, Creditor.id == Case.creditor_id)
        .join(Debtor, Debtor.id == Case.debtor_id)
        .where(PaymentCheckout.token == token)
    ).first()
    if row is None:
        return None
    open_cents = conn.execute(select(_open_cents()).where(Claim.case_id == row.case_id)).scalar()
    return CheckoutView(
        token=str(row.token),
        status=str(row.status),
        amount_cents=int(row.amount_cents),
        currency=str(row.currency),
        reference=str(row.reference),
        creditor=str(row.name),
        person_id=int(row.person),
        open_cents=int(open_cents or 0),
        paid_at=row.paid_at,
    )
