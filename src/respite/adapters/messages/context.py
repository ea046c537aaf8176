"""What a message template is given: plain data, built by the messaging service.

CONTRACT (written by the lead). The renderer (``respite.adapters.messages.render``) turns a
:class:`MessageContext` into a :class:`Rendered` message for one channel; the service
builds the context from the database. Amounts are ``Decimal`` in the currency's unit
(two decimals); the templates format them with Babel for the message's language.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

__all__ = [
    "LANGUAGES",
    "STEPS",
    "TONES",
    "Brand",
    "CaseLines",
    "DebtHelp",
    "MessageContext",
    "NextStep",
    "PaymentInfo",
    "PlanInfo",
    "Rendered",
]

LANGUAGES = ("nl", "en", "fr", "pl")
TONES = ("neutral", "supportive")
# Every lifecycle step that sends the debtor something (the outbox ``template`` names).
# call_* are call scripts for an agent (channel "phone").
STEPS = (
    "friendly_reminder",
    "friendly_nudge",
    "formal_notice",
    "amicable_offer_plan",
    "missed_instalment_friendly",
    "offer_replan",
    "plan_ended",
    "paid_thank_you",
    "sepa_prenotification",
    "call_offer_help",
    "call_personal_contact",
)


@dataclass(frozen=True, slots=True)
class Brand:
    """Who the message comes from: the agency, or a creditor under white label."""

    name: str
    sender_name: str
    sender_email: str
    phone: str
    website: str
    address_lines: tuple[str, ...] = ()
    primary_color: str = "#1d4f91"  # CSS colour, checked by the service
    accent_color: str = "#e8f0fb"
    logo_data_uri: str | None = None  # data:image/png;base64,... or None
    footer: str = ""
    is_creditor: bool = False  # early messages under the creditor's own brand


@dataclass(frozen=True, slots=True)
class CaseLines:
    """One case (one creditor's claims) in the message, with how each part came about.

    ``interest_basis``: ``statutory_consumer`` | ``statutory_commercial`` | ``contract`` |
    ``none``; ``interest_rate``: the yearly rate in percent on the message date (e.g.
    ``Decimal("6.00")``), ``interest_since``: first day of interest. ``interest_frozen``:
    Respite stopped interest (plan, hold or policy). ``costs_basis``: ``nl_bik`` (NL
    statutory scale, Besluit BIK), ``be_fixed`` (BE art. XIX.4 WER), ``pl_fixed`` (PL
    fixed sum), ``none``; ``costs_from``: the date costs are or will be charged from.
    """

    reference: str
    creditor_name: str
    description: str
    currency: str
    principal: Decimal
    interest: Decimal
    costs: Decimal
    paid: Decimal
    total: Decimal
    interest_basis: str = "none"
    interest_rate: Decimal | None = None
    interest_since: date | None = None
    interest_frozen: bool = False
    costs_basis: str = "none"
    costs_from: date | None = None


@dataclass(frozen=True, slots=True)
class NextStep:
    """What happens next and when: ``kind`` is one of ``formal_notice``,
    ``costs_charged`` (costs of ``amount`` from ``on``), ``personal_contact``,
    ``plan_offer``, ``legal_review`` (a person reviews the file; never automatic court),
    ``instalment_due``, ``collection`` (direct debit on ``on``), ``none``."""

    kind: str
    on: date | None = None
    amount: Decimal | None = None


@dataclass(frozen=True, slots=True)
class PaymentInfo:
    iban: str
    bic: str
    beneficiary: str
    reference: str  # the case's RF creditor reference (ISO 11649)
    amount: Decimal
    currency: str
    pay_by: date | None = None


@dataclass(frozen=True, slots=True)
class PlanInfo:
    instalment: Decimal
    months: int
    next_due: date | None = None
    missed_due: date | None = None  # the instalment that was missed, if any
    missed_amount: Decimal | None = None


@dataclass(frozen=True, slots=True)
class DebtHelp:
    """Free debt help near the debtor (rules/<cc>/debt_help.toml)."""

    name: str
    phone: str
    url: str


@dataclass(frozen=True, slots=True)
class MessageContext:
    step: str  # one of STEPS
    language: str  # one of LANGUAGES
    tone: str  # one of TONES; supportive for vulnerable debtors or when the strategy asks
    on: date  # the message date
    debtor_name: str
    address_lines: tuple[str, ...]  # for the letter window (name first)
    brand: Brand  # who sends it (creditor under white label, or the agency)
    agency: Brand  # the agency: always named in letters and formal steps
    cases: tuple[CaseLines, ...]  # one or more: one consolidated message per day
    currency: str
    principal: Decimal
    interest: Decimal
    costs: Decimal
    paid: Decimal
    total: Decimal
    next_step: NextStep
    portal_url: str  # e.g. https://portal.example/login
    login_code: str | None  # printed on letters only (one-time, 12 base32 characters)
    payment: PaymentInfo | None  # for transfers; EPC QR on letters
    debt_help: DebtHelp
    qr_data_uri: str | None = None  # EPC QR PNG as a data: URI (letters)
    # QR of the signed portal link that fills in the reference and the code (letters)
    login_qr_data_uri: str | None = None
    plan: PlanInfo | None = None
    extra: dict[str, str] = field(default_factory=dict)  # e.g. {"mandate": ..., "collect_on": ...}


@dataclass(frozen=True, slots=True)
class Rendered:
    """One rendered message. ``subject`` for e-mail only; ``html`` for e-mail and letter
    (the letter's HTML is a full A4 page for WeasyPrint); ``text`` always (plain text
    e-mail part, the SMS, the call script, the letter's text for the timeline)."""

    step: str
    channel: str  # email | sms | post | phone
    language: str
    tone: str
    text: str
    subject: str | None = None
    html: str | None = None
