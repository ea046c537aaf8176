"""Messaging: from the cycle's outbox to delivered messages, behind the contact guardrails.

``respite send --date D`` runs :func:`send_day`:

1. **Prepare** (:func:`prepare_messages`). The outbox rows of kind ``message`` and
   ``call_task`` up to ``D`` become *messages*: one per person, day, channel, brand and
   step, so that three invoices (of one creditor under its own brand, or of several
   creditors under the agency's) make one message, not three. The channel is the
   strategy's unless the person chose another (``contact_preferences``) or has no address
   for it (no e-mail → letter).
2. **Decide** (:func:`respite.domain.guardrails.decide`). Every message, whoever asked for
   it (the strategy, an agent, the portal), passes the same engine: holds, deceased,
   opt-out and consent, Sundays and public holidays, quiet hours in the debtor's time
   zone, frequency caps over everything the person received from every creditor. Each
   decision is stored (``contact_decisions``) with the rule that made it, and lands in the
   timeline of every case in the message. A deferred message waits for its next allowed
   slot; a blocked one (hold, opt-out) is kept and checked again at every run, never
   dropped. A case on hold is taken out of a consolidated message and waits on its own.
3. **Deliver** through the channel adapters (``adapters/channels``): e-mail over SMTP,
   SMS through the provider's HTTP API, letters spooled as PDF for the day's print batch,
   phone calls as tasks with their script in the agent queue. A temporary failure is
   retried with exponential backoff; a bounce (or the last failed retry) makes a fallback
   letter.
4. **Track**: SMS delivery reports are polled; the day's letters become one print PDF
   with a CSV manifest (``print_batches``).

Messages are rendered from :mod:`respite.adapters.messages` templates (B1 language,
Babel formatting) with the person's cases, each part of the amount explained. Nothing
here logs personal data.
"""

from __future__ import annotations

import base64
import re
import secrets
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol, overload
from zoneinfo import ZoneInfo

from argon2 import PasswordHasher
from sqlalchemy import Connection, Engine, bindparam, func, insert, select, update

from respite.adapters.channels.base import DeliveryResult, Outgoing
from respite.adapters.clock import as_utc
from respite.adapters.db.models import (
    AccessCode,
    CallTask,
    Case,
    Claim,
    ContactDecision,
    ContactPreference,
    Creditor,
    Debtor,
    Event,
    Hold,
    Instalment,
    Message,
    OutboxMessage,
    Payment,
    Plan,
)
from respite.adapters.messages.context import (
    LANGUAGES,
    STEPS,
    Brand,
    CaseLines,
    DebtHelp,
    MessageContext,
    NextStep,
    PaymentInfo,
    PlanInfo,
    Rendered,
)
from respite.domain.guardrails import (
    ContactRequest,
    ContactRules,
    ContactState,
    Decision,
    Outcome,
    PastContact,
    decide,
)
from respite.domain.lifecycle import HoldKind, Stage
from respite.domain.money import Currency, Money
from respite.domain.references import case_payment_references
from respite.errors import InputError, NotAllowed, RespiteError
from respite.services.agency import Agency, agency_from_env
from respite.services.store import chunks, event_row, outbox_row, queue_outbox

__all__ = [
    "CALL_OUTCOMES",
    "CONVERSATION_OUTCOMES",
    "MessagingSettings",
    "SendReport",
    "call_tasks",
    "current_letter",
    "deliver_messages",
    "list_messages",
    "log_call",
    "make_print_batch",
    "prepare_messages",
    "record_preference",
    "request_contact",
    "send_day",
    "send_moment",
    "settings_from_env",
]

MESSAGE_KINDS = ("message", "call_task")
NOT_CONSOLIDATED = frozenset({"sepa_prenotification"})
ELECTRONIC = ("email", "sms")
# A call in which the debtor was reached: US Reg F pauses calls for 7 days after one.
CONVERSATION_OUTCOMES = ("promise_to_pay", "plan", "dispute", "vulnerability_noticed", "reached")
CALL_OUTCOMES = (*CONVERSATION_OUTCOMES, "wrong_number", "no_answer", "voicemail")
# How far back the engine looks for earlier contacts: the longest cap window plus margin.
HISTORY_DAYS = 35
CHUNK = 500


class SendingChannel(Protocol):
    name: str

    def send(self, message: Outgoing) -> DeliveryResult: ...


@dataclass(frozen=True, slots=True)
class MessagingSettings:
    """How the engine sends: the agency's own brand, the portal address, retry policy."""

    agency_brand: Brand
    portal_url: str = "http://127.0.0.1:8000"
    timezone: str = "Europe/Amsterdam"  # the agency's: the clock of `send --at`
    max_attempts: int = 5
    backoff: timedelta = timedelta(minutes=15)
    max_backoff: timedelta = timedelta(hours=6)
    code_valid_days: int = 90
    # Signs the login link in a letter's QR code (the portal checks it: RESPITE_LINK_SECRET).
    link_secret: str = "demo-link-secret-change-me"  # noqa: S105 - demo default
    fallback: Mapping[str, str] = field(default_factory=lambda: {"email": "post", "sms": "post"})


def settings_from_env(env: Mapping[str, str] | None = None) -> MessagingSettings:
    """Settings from ``RESPITE_AGENCY_*`` and ``RESPITE_PORTAL_URL`` (demo defaults)."""
    import os

    source = os.environ if env is None else env

    def get(key: str, default: str) -> str:
        value = source.get(key)
        return default if value is None or not value.strip() else value.strip()

    address = get("RESPITE_AGENCY_ADDRESS", "Postbus 1234|1000 AB Amsterdam")
    # The name on envelopes, sender lines and subjects: a bystander must not learn that
    # this is about a debt (FDCPA 1692f(8), CONC 7.9), so not the legal "... Incasso" name,
    # which appears only inside (as the account holder of the payment details).
    display = get("RESPITE_AGENCY_BRAND_NAME", "Respite")
    brand = Brand(
        name=display,
        sender_name=display,
        sender_email=get("RESPITE_AGENCY_EMAIL", "service@respite.example"),
        phone=get("RESPITE_AGENCY_PHONE", "020 123 4567"),
        website=get("RESPITE_AGENCY_WEBSITE", "https://respite.example"),
        address_lines=tuple(part.strip() for part in address.split("|") if part.strip()),
        footer=get(
            "RESPITE_AGENCY_FOOTER",
            "",
        ),
    )
    return MessagingSettings(
        agency_brand=brand,
        portal_url=get("RESPITE_PORTAL_URL", "http://127.0.0.1:8000"),
        timezone=get("RESPITE_AGENCY_TIMEZONE", "Europe/Amsterdam"),
        link_secret=get("RESPITE_LINK_SECRET", "demo-link-secret-change-me"),
    )


@dataclass
class SendReport:
    business_date: str
    prepared: int = 0
    decisions: Counter[str] = field(default_factory=Counter)  # outcome:rule
    sent: Counter[str] = field(default_factory=Counter)  # by channel
    deferred: int = 0
    blocked: int = 0
    retried: int = 0
    bounced: int = 0
    failed: int = 0
    fallbacks: int = 0
    delivered: int = 0
    below_b1: int = 0
    print_batch: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "business_date": self.business_date,
            "prepared": self.prepared,
            "sent": dict(sorted(self.sent.items())),
            "sent_total": sum(self.sent.values()),
            "deferred": self.deferred,
            "blocked": self.blocked,
            "retried": self.retried,
            "bounced": self.bounced,
            "failed": self.failed,
            "fallback_letters": self.fallbacks,
            "sms_delivered": self.delivered,
            "below_b1": self.below_b1,
            "decisions": dict(sorted(self.decisions.items())),
            "print_batch": self.print_batch,
        }


# --- prepare ------------------------------------------------------------------------------


def _effective_channel(
    kind: str, channel: str, email: str | None, phone: str | None, prefs: Mapping[str, str]
) -> str:
    if kind == "call_task":
        return "phone"
    preferred = next((c for c, s in prefs.items() if s == "preferred"), None)
    if preferred in ("email", "sms", "post") and prefs.get(preferred) != "opted_out":
        channel = preferred
    if channel == "sms" and not phone:
        channel = "email"
    if channel == "email" and not email:
        channel = "post"
    return channel


def _preferences(conn: Connection, persons: Iterable[int]) -> dict[int, dict[str, str]]:
    found: dict[int, dict[str, str]] = defaultdict(dict)
    for ids in chunks(sorted(set(persons)), 5000):
        for row in conn.execute(
            select(
                ContactPreference.person_id, ContactPreference.channel, ContactPreference.status
            ).where(ContactPreference.person_id.in_(ids))
        ):
            found[row.person_id][row.channel] = row.status
    return found


def prepare_messages(conn: Connection, on: date, now: datetime) -> int:
    """Turn the queued outbox rows up to ``on`` into consolidated messages; their number."""
    person = func.coalesce(Debtor.person_id, Debtor.id)
    rows = conn.execute(
        select(
            OutboxMessage.id,
            OutboxMessage.case_id,
            OutboxMessage.business_date,
            OutboxMessage.kind,
            OutboxMessage.channel,
            OutboxMessage.template,
            OutboxMessage.brand,
            OutboxMessage.payload,
            Case.creditor_id,
            Case.debtor_id,
            person.label("person_id"),
            Debtor.email,
            Debtor.phone,
            Debtor.language,
        )
        .join(Case, Case.id == OutboxMessage.case_id)
        .join(Debtor, Debtor.id == Case.debtor_id)
        .where(
            OutboxMessage.status == "queued",
            OutboxMessage.kind.in_(MESSAGE_KINDS),
            OutboxMessage.business_date <= on,
        )
        .order_by(OutboxMessage.id)
    ).all()
    if not rows:
        return 0
    prefs = _preferences(conn, (r.person_id for r in rows))
    groups: dict[tuple[Any, ...], list[Any]] = defaultdict(list)
    for r in rows:
        channel = _effective_channel(
            r.kind, r.channel, r.email, r.phone, prefs.get(r.person_id, {})
        )
        brand = "agency" if r.brand != "creditor" else f"creditor:{r.creditor_id}"
        # A SEPA pre-notification announces one debit (amount, date, mandate): never merged.
        alone = r.id if r.template in NOT_CONSOLIDATED else 0
        key = (r.person_id, r.business_date, r.kind, channel, brand, r.template, alone)
        groups[key].append(r)
    messages = []
    for (person_id, day, kind, channel, brand, template, _alone), members in groups.items():
        first = members[0]
        payload: dict[str, Any] = {}
        for m in members:  # the newest step's payload wins (e.g. a pre-notification's date)
            payload.update(m.payload or {})
        tone = (
            "supportive"
            if any((m.payload or {}).get("tone") == "supportive" for m in members)
            else "neutral"
        )
        language = first.language if first.language in LANGUAGES else "en"
        messages.append(
            {
                "person_id": person_id,
                "debtor_id": first.debtor_id,
                "case_ids": sorted({m.case_id for m in members}),
                "business_date": day,
                "kind": kind,
                "channel": channel,
                "template": template,
                "tone": tone,
                "language": language,
                "brand": "agency" if brand == "agency" else "creditor",
                "creditor_id": first.creditor_id if brand != "agency" else None,
                "source": str(payload.pop("source", "strategy")),
                "status": "queued",
                "attempts": 0,
                "created_at": now,
                "dedupe_key": f"{person_id}:{day.isoformat()}:{channel}:{brand}:{template}:{first.id}",
                "payload": payload,
                "_outbox": [m.id for m in members],
            }
        )
    for batch in chunks(messages, CHUNK):
        taken = {m["dedupe_key"]: m.pop("_outbox") for m in batch}
        conn.execute(insert(Message), list(batch))
        ids = dict(
            conn.execute(
                select(Message.dedupe_key, Message.id).where(Message.dedupe_key.in_(list(taken)))
            ).all()
        )
        conn.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == bindparam("outbox_id"))
            .values(status="taken", message_id=bindparam("message_id")),
            [
                {"outbox_id": outbox_id, "message_id": ids[key]}
                for key, outbox_ids in taken.items()
                for outbox_id in outbox_ids
            ],
        )
    return len(messages)


# --- what the engine needs to know, loaded in bulk for a batch of messages ---------------


@dataclass
class _Batch:
    """Everything a batch of messages needs, loaded with a handful of set-based queries."""

    debtors: dict[int, Any]
    cases: dict[int, Any]
    claims: dict[int, Any]
    paid: dict[int, int]
    creditors: dict[int, Any]
    holds: dict[int, list[tuple[str, date, date | None]]]
    vulnerable: set[int]
    prefs: dict[int, dict[str, str]]
    history: dict[int, list[PastContact]]
    plans: dict[int, Any]


def _load_batch(conn: Connection, messages: Sequence[Any], on: date, now: datetime) -> _Batch:
    case_ids = sorted({c for m in messages for c in m.case_ids})
    debtor_ids = sorted({m.debtor_id for m in messages})
    persons = sorted({m.person_id for m in messages})
    debtors = {
        d.id: d
        for ids in chunks(debtor_ids, 5000)
        for d in conn.execute(
            select(
                Debtor.id,
                Debtor.kind,
                Debtor.name,
                Debtor.email,
                Debtor.phone,
                Debtor.street,
                Debtor.postcode,
                Debtor.city,
                Debtor.country,
                Debtor.timezone,
            ).where(Debtor.id.in_(ids))
        )
    }
    cases: dict[int, Any] = {}
    claims: dict[int, Any] = {}
    paid: dict[int, int] = {}
    holds: dict[int, list[tuple[str, date, date | None]]] = defaultdict(list)
    for ids in chunks(case_ids, 5000):
        for c in conn.execute(
            select(
                Case.id,
                Case.reference,
                Case.creditor_id,
                Case.stage,
                Case.stage_since,
                Case.closed,
                Case.costs_chargeable_from,
                Case.interest_frozen,
                Case.strategy_version,
            ).where(Case.id.in_(ids))
        ):
            cases[c.id] = c
        for row in conn.execute(
            select(
                Claim.case_id,
                func.min(Claim.currency).label("currency"),
                func.min(Claim.interest_kind).label("interest_kind"),
                func.min(Claim.default_start).label("default_start"),
                func.min(Claim.description).label("description"),
                func.count().label("claims"),
                func.sum(Claim.principal_cents).label("principal"),
                func.sum(Claim.open_principal_cents).label("open_principal"),
                func.sum(Claim.open_interest_cents).label("open_interest"),
                func.sum(Claim.open_costs_cents).label("open_costs"),
            )
            .where(Claim.case_id.in_(ids))
            .group_by(Claim.case_id)
        ):
            claims[row.case_id] = row
        for pay in conn.execute(
            select(Payment.case_id, func.sum(Payment.amount_cents))
            .where(Payment.case_id.in_(ids), Payment.booked.is_(True), Payment.received_on <= on)
            .group_by(Payment.case_id)
        ):
            paid[pay[0]] = int(pay[1] or 0)
        for h in conn.execute(
            select(Hold.case_id, Hold.kind, Hold.start, Hold.until).where(
                Hold.case_id.in_(ids), (Hold.until.is_(None)) | (Hold.until >= on)
            )
        ):
            holds[h.case_id].append((h.kind, h.start, h.until))
    creditor_ids = sorted({c.creditor_id for c in cases.values()})
    creditors = {
        c.id: c
        for c in conn.execute(
            select(
                Creditor.id,
                Creditor.name,
                Creditor.jurisdiction,
                Creditor.branding,
                Creditor.policy,
                Creditor.strategy,
                Creditor.vat_uplift_declared,
            ).where(Creditor.id.in_(creditor_ids))
        )
    }
    person = func.coalesce(Debtor.person_id, Debtor.id)
    vulnerable: set[int] = set()
    history: dict[int, list[PastContact]] = defaultdict(list)
    since = now - timedelta(days=HISTORY_DAYS)
    for ids in chunks(persons, 5000):
        vulnerable.update(
            p
            for (p,) in conn.execute(
                select(person)
                .distinct()
                .select_from(Hold)
                .join(Case, Case.id == Hold.case_id)
                .join(Debtor, Debtor.id == Case.debtor_id)
                .where(person.in_(ids), Hold.kind == HoldKind.VULNERABILITY_REVIEW.value)
            )
        )
        for sent in conn.execute(
            # By person and time only (ix_messages_person); the status is checked here, as
            # a condition on it would draw the planner to the status index.
            select(
                Message.person_id,
                Message.sent_at,
                Message.channel,
                Message.case_ids,
                Message.status,
            ).where(Message.person_id.in_(ids), Message.sent_at >= since)
        ):
            if sent.status not in ("sent", "delivered"):
                continue
            history[sent.person_id].append(
                PastContact(
                    at=as_utc(sent.sent_at),
                    channel=sent.channel,
                    case_ids=frozenset(sent.case_ids or ()),
                )
            )
        for call in conn.execute(
            select(CallTask.person_id, CallTask.done_at, CallTask.case_ids).where(
                CallTask.person_id.in_(ids),
                CallTask.outcome.in_(CONVERSATION_OUTCOMES),
                CallTask.done_at >= since,
            )
        ):
            history[call.person_id].append(
                PastContact(
                    at=as_utc(call.done_at),
                    channel="phone",
                    case_ids=frozenset(call.case_ids or ()),
                    conversation=True,
                )
            )
    plan_ids = sorted({int(m.payload["plan"]) for m in messages if (m.payload or {}).get("plan")})
    plans: dict[int, Any] = {}
    for ids in chunks(plan_ids, 5000):
        # One query per batch for every plan's next open instalment, not one per plan.
        next_due = dict(
            conn.execute(
                select(Instalment.plan_id, func.min(Instalment.due_date))
                .where(
                    Instalment.plan_id.in_(ids),
                    Instalment.status == "open",
                    Instalment.due_date >= on,
                )
                .group_by(Instalment.plan_id)
            ).all()
        )
        for p in conn.execute(
            select(Plan.id, Plan.instalment_cents, Plan.months, Plan.currency).where(
                Plan.id.in_(ids)
            )
        ):
            plans[p.id] = (p, next_due.get(p.id))
    return _Batch(
        debtors=debtors,
        cases=cases,
        claims=claims,
        paid=paid,
        creditors=creditors,
        holds=holds,
        vulnerable=vulnerable,
        prefs=_preferences(conn, persons),
        history=history,
        plans=plans,
    )


@overload
def _utc(at: datetime) -> datetime: ...
@overload
def _utc(at: None) -> None: ...
def _utc(at: datetime | None) -> datetime | None:
    from datetime import UTC

    return None if at is None else at.astimezone(UTC)


# --- the message's content ----------------------------------------------------------------

_COSTS_BASIS = {"NL": "nl_bik", "BE": "be_fixed", "PL": "pl_fixed"}
_INTEREST_BASIS = {"consumer": "statutory_consumer", "commercial": "statutory_commercial"}
_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")


def _brand(creditor: Any, settings: MessagingSettings) -> Brand:
    """The creditor's white label (``creditors.branding``), the agency's where it is silent."""
    b = dict(creditor.branding or {})
    agency = settings.agency_brand

    def colour(key: str, default: str) -> str:
        value = str(b.get(key, default))
        return value if _COLOUR.match(value) else default

    logo = b.get("logo_data_uri")
    return Brand(
        name=str(b.get("name") or creditor.name),
        sender_name=str(b.get("sender_name") or b.get("name") or creditor.name),
        sender_email=str(b.get("sender_email") or agency.sender_email),
        phone=str(b.get("phone") or agency.phone),
        website=str(b.get("website") or agency.website),
        address_lines=tuple(str(x) for x in b.get("address_lines", ())) or agency.address_lines,
        primary_color=colour("primary_color", agency.primary_color),
        accent_color=colour("accent_color", agency.accent_color),
        logo_data_uri=str(logo)
        if isinstance(logo, str) and logo.startswith("data:image/")
        else None,
        footer=str(b.get("footer") or f"{creditor.name} — {agency.name}"),
        is_creditor=True,
    )


def _money(cents: int) -> Decimal:
    return Decimal(cents).scaleb(-2)


def _interest_rate(jurisdiction: str, kind: str, on: date) -> Decimal | None:
    from respite.rules.loader import load_pack

    try:
        return load_pack(jurisdiction).interest_kind(kind).rates.value_at(on)
    except RespiteError:
        return None


def _next_step(case: Any, creditor: Any, debtor: Any, claims: Any, on: date) -> NextStep:
    """What happens next and when, from the case's strategy (never court by itself)."""
    from respite.services import calculators
    from respite.strategies import load_strategy

    stage = Stage(case.stage)
    if case.closed or stage is Stage.CLOSED:
        return NextStep("none")
    if (
        stage is Stage.FORMAL_NOTICE
        and case.costs_chargeable_from
        and case.costs_chargeable_from > on
    ):
        amount: Decimal | None = None
        try:
            currency = Currency.of(claims.currency)
            costs = calculators.collection_costs(
                creditor.jurisdiction,
                [Money.from_minor_units(int(claims.open_principal), currency)],
                debtor=debtor.kind,
                on=on,
                vat_uplift_declared=bool(creditor.vat_uplift_declared),
            )
            amount = Decimal(str(costs["costs"]))
        except (RespiteError, KeyError, ArithmeticError):
            amount = None
        return NextStep("costs_charged", case.costs_chargeable_from, amount)
    if stage is Stage.ARRANGEMENT:
        return NextStep("instalment_due")
    try:
        strategy = load_strategy(creditor.strategy, case.strategy_version)
    except RespiteError:
        return NextStep("none")
    elapsed = (on - case.stage_since).days
    upcoming = sorted(
        (s for s in strategy.steps if s.stage is stage and s.after_days > elapsed),
        key=lambda s: s.after_days,
    )
    for step in upcoming:
        when = case.stage_since + timedelta(days=step.after_days)
        if step.advance_to is Stage.FORMAL_NOTICE:
            return NextStep("formal_notice", when)
        if step.advance_to is Stage.LEGAL_SCREENING:
            return NextStep("legal_review", when)
        if step.action == "call_task":
            return NextStep("personal_contact", when)
        if step.template == "amicable_offer_plan":
            return NextStep("plan_offer", when)
    return NextStep("none")


_help_cache: dict[tuple[str, str, str], DebtHelp] = {}


def _debt_help(country: str, postcode: str | None, city: str | None) -> DebtHelp:
    from respite.domain.referral import find_contact
    from respite.rules.debt_help import load_debt_help

    key = (country, postcode or "", city or "")
    if key not in _help_cache:
        try:
            contact = find_contact(load_debt_help(country), postcode, country, city=city)
            _help_cache[key] = DebtHelp(
                name=contact.organisation, phone=contact.phone or "", url=contact.website or ""
            )
        except RespiteError:
            _help_cache[key] = DebtHelp(
                name="Geldfit", phone="0800 8115", url="https://www.geldfit.nl"
            )
    return _help_cache[key]


def _context(
    message: Any,
    channel: str,
    batch: _Batch,
    settings: MessagingSettings,
    agency: Agency,
    on: date,
    *,
    login_code: str | None = None,
) -> MessageContext:
    debtor = batch.debtors[message.debtor_id]
    lines = []
    currency = "EUR"
    for case_id in message.case_ids:
        case = batch.cases[case_id]
        cl = batch.claims.get(case_id)
        if cl is None:
            continue
        creditor = batch.creditors[case.creditor_id]
        currency = cl.currency
        principal, interest, costs = (
            int(cl.open_principal),
            int(cl.open_interest),
            int(cl.open_costs),
        )
        kind = str(cl.interest_kind)
        lines.append(
            (
                principal + interest + costs,
                CaseLines(
                    reference=case.reference,
                    creditor_name=creditor.name,
                    description=str(cl.description or ""),
                    currency=cl.currency,
                    principal=_money(principal),
                    interest=_money(interest),
                    costs=_money(costs),
                    paid=_money(batch.paid.get(case_id, 0)),
                    total=_money(principal + interest + costs),
                    interest_basis=_INTEREST_BASIS.get(kind, "contract"),
                    interest_rate=_interest_rate(creditor.jurisdiction, kind, on),
                    interest_since=cl.default_start,
                    interest_frozen=bool(case.interest_frozen),
                    costs_basis=_COSTS_BASIS.get(creditor.jurisdiction, "none"),
                    costs_from=case.costs_chargeable_from,
                ),
                case,
                creditor,
                cl,
            )
        )
    if not lines:
        raise InputError(f"message {message.id} has no case with claims", field="message")
    lines.sort(key=lambda x: (-x[0], x[1].reference))  # the largest first
    _, first_line, first_case, first_creditor, first_claims = lines[0]
    brand = (
        _brand(first_creditor, settings) if message.brand == "creditor" else settings.agency_brand
    )
    refs = case_payment_references(first_case.id)
    payment = None
    qr = None
    if first_line.total > 0 and first_line.currency == "EUR":
        payment = PaymentInfo(
            iban=agency.iban,
            bic=agency.bic,
            beneficiary=agency.name,
            reference=refs.rf,
            amount=first_line.total,
            currency="EUR",
        )
        if channel == "post":
            from respite.adapters.bank.epc_qr import epc_qr_svg

            # SVG: sharp at any print resolution, and half the CPU of a PNG per letter.
            svg = epc_qr_svg(
                name=agency.name,
                iban=agency.iban,
                bic=agency.bic,
                amount=Money(first_line.total, Currency.of("EUR")),
                reference=refs.rf,
            )
            qr = "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode(
                "ascii"
            )
    plan = None
    payload = dict(message.payload or {})
    if payload.get("plan") and int(payload["plan"]) in batch.plans:
        p, next_due = batch.plans[int(payload["plan"])]
        missed = payload.get("due_date")
        plan = PlanInfo(
            instalment=_money(p.instalment_cents),
            months=int(p.months),
            next_due=next_due,
            missed_due=date.fromisoformat(missed) if isinstance(missed, str) else None,
            missed_amount=_money(p.instalment_cents) if missed else None,
        )
    address = [debtor.name]
    if debtor.street:
        address.append(debtor.street)
    address.append(" ".join(x for x in (debtor.postcode, debtor.city) if x))
    if debtor.country and debtor.country != first_creditor.jurisdiction:
        address.append(debtor.country)
    extra = {str(k): str(v) for k, v in payload.items() if isinstance(v, str | int)}
    extra.setdefault("registration", "")
    next_step = _next_step(first_case, first_creditor, debtor, first_claims, on)
    if message.template == "sepa_prenotification" and payload.get("collection_date"):
        # services/sepa.py announces one debit: its date, amount and mandate.
        extra["collect_on"] = str(payload["collection_date"])
        extra["mandate"] = str(payload.get("mandate_id", ""))
        next_step = NextStep(
            "collection",
            date.fromisoformat(str(payload["collection_date"])),
            _money(int(payload.get("amount_cents", 0))) or None,
        )
    tone = message.tone
    if message.person_id in batch.vulnerable:
        tone = "supportive"  # a person ever flagged vulnerable gets the supportive wording
    return MessageContext(
        step=message.template,
        language=message.language,
        tone=tone,
        on=on,
        debtor_name=debtor.name,
        address_lines=tuple(a for a in address if a),
        brand=brand,
        agency=settings.agency_brand,
        cases=tuple(x[1] for x in lines),
        currency=currency,
        principal=sum((x[1].principal for x in lines), Decimal("0.00")),
        interest=sum((x[1].interest for x in lines), Decimal("0.00")),
        costs=sum((x[1].costs for x in lines), Decimal("0.00")),
        paid=sum((x[1].paid for x in lines), Decimal("0.00")),
        total=sum((x[1].total for x in lines), Decimal("0.00")),
        next_step=next_step,
        portal_url=settings.portal_url,
        login_code=login_code,
        login_qr_data_uri=(
            _login_qr(settings, batch.cases[message.case_ids[0]].reference, login_code, on)
            if login_code and channel == "post"
            else None
        ),
        payment=payment,
        debt_help=_debt_help(debtor.country, debtor.postcode, debtor.city),
        qr_data_uri=qr,
        plan=plan,
        extra=extra,
    )


# --- login codes ----------------------------------------------------------------------------


def _login_qr(settings: MessagingSettings, reference: str, code: str, on: date) -> str:
    """A QR code of the signed link that opens the portal's login form filled in."""
    import segno

    from respite.services.portal_access import login_link

    expires = on + timedelta(days=settings.code_valid_days)
    link = login_link(settings.portal_url, reference, code, expires, settings.link_secret)
    svg = segno.make(link, error="m").svg_inline(scale=4, border=2)
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")


# 32 symbols without look-alikes (no I, O, 0, 1): 12 of them carry 60 bits.
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 12
# argon2id with 8 MiB and one pass (about 8 ms here). OWASP's 19 MiB / 2 passes are sized
# for passwords people choose; this code is 60 random bits, so even a fast hash leaves a
# stolen database 2^59 guesses per code on average, while a night's letter run hashes
# thousands of codes. Verification reads the parameters from the stored hash, so they can
# be raised later without invalidating codes already printed.
_HASHER = PasswordHasher(time_cost=1, memory_cost=8_192, parallelism=1)
# The portal's login check pads its verifications with dummies made by the same hasher.
LOGIN_CODE_HASHER = _HASHER


def new_login_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def issue_login_code(
    conn: Connection, case_id: int, on: date, valid_days: int, message_id: int | None
) -> str:
    """A new one-time portal code for ``case_id``; only its argon2id hash is stored."""
    code = new_login_code()
    conn.execute(
        insert(AccessCode).values(
            case_id=case_id,
            code_hash=_HASHER.hash(code),
            issued_on=on,
            expires_on=on + timedelta(days=valid_days),
            message_id=message_id,
        )
    )
    return code


def verify_login_code(code_hash: str, code: str) -> bool:
    from argon2.exceptions import VerificationError

    try:
        return _HASHER.verify(code_hash, code.strip().upper().replace("-", "").replace(" ", ""))
    except VerificationError:
        return False


# --- deliver ----------------------------------------------------------------------------


def _person_state(message: Any, batch: _Batch, case_ids: Sequence[int]) -> ContactState:
    debtor = batch.debtors[message.debtor_id]
    prefs = batch.prefs.get(message.person_id, {})
    holds = {c: tuple(batch.holds.get(c, ())) for c in case_ids}
    deceased = any(k == HoldKind.DECEASED.value for c in case_ids for k, _, _ in holds[c])
    return ContactState(
        timezone=ZoneInfo(debtor.timezone or "Europe/Amsterdam"),
        history=tuple(batch.history.get(message.person_id, ())),
        holds=holds,
        opted_out=frozenset(c for c, s in prefs.items() if s == "opted_out"),
        consented=frozenset(c for c, s in prefs.items() if s in ("consented", "preferred")),
        deceased=deceased,
    )


_rules_cache: dict[tuple[str, date, str], ContactRules] = {}


def _rules(
    jurisdiction: str, on: date, policies: Sequence[Mapping[str, Any] | None]
) -> ContactRules:
    """The contact rules of the debtor's country, tightened by every creditor concerned."""
    import json

    from respite.rules.contact import load_contact_rules, strictest

    found = []
    for policy in policies:
        key = (jurisdiction, on, json.dumps(dict(policy or {}).get("contact"), sort_keys=True))
        if key not in _rules_cache:
            _rules_cache[key] = load_contact_rules(jurisdiction, on, policy)
        found.append(_rules_cache[key])
    return found[0] if len(found) == 1 else strictest(found)


def _holidays(jurisdiction: str) -> Callable[[date], bool]:
    from respite.adapters.calendars import is_holiday_for

    return is_holiday_for(jurisdiction)


def _held_cases(state: ContactState, case_ids: Sequence[int], local_day: date) -> set[int]:
    return {
        c
        for c in case_ids
        if any(
            start <= local_day and (until is None or local_day <= until)
            for _, start, until in state.holds.get(c, ())
        )
    }


def _timeline(
    conn: Connection,
    case_ids: Sequence[int],
    on: date,
    now: datetime,
    kind: str,
    reason: str,
    after: dict[str, Any],
) -> None:
    """The same messaging event in the timeline of every case a message is about."""
    conn.execute(
        insert(Event), [event_row(c, on, now, "messaging", kind, reason, after) for c in case_ids]
    )


def _record(
    conn: Connection,
    message: Any,
    decision: Decision,
    on: date,
    now: datetime,
    case_ids: Sequence[int],
    report: SendReport,
) -> bool:
    """Store a guardrail decision once per change (a blocked message is re-checked at every
    run); whether it was new."""
    last = (message.payload or {}).get("decision")
    current = f"{decision.outcome.value}:{decision.rule}"
    if last == current and decision.outcome is not Outcome.SEND:
        return False
    report.decisions[current] += 1
    conn.execute(
        insert(ContactDecision).values(
            message_id=message.id,
            person_id=message.person_id,
            decided_at=now,
            business_date=on,
            outcome=decision.outcome.value,
            rule=decision.rule,
            reason=decision.reason,
            not_before=_utc(decision.not_before),
        )
    )
    if decision.outcome is not Outcome.SEND:
        kind = "contact_deferred" if decision.outcome is Outcome.DEFER else "contact_blocked"
        _timeline(
            conn,
            case_ids,
            on,
            now,
            kind,
            f"{message.channel} message {message.template}: {decision.reason}",
            {"message_id": message.id, "rule": decision.rule, "channel": message.channel},
        )
    payload = dict(message.payload or {})
    payload["decision"] = current
    conn.execute(update(Message).where(Message.id == message.id).values(payload=payload))
    return True


def _derived_message(
    conn: Connection, message: Any, now: datetime, *, dedupe_key: str, **changes: Any
) -> Any:
    """A new message made from ``message`` (same person, step, brand and wording) with
    ``changes``; its row, ready to be decided in the same run."""
    values = {
        k: getattr(message, k)
        for k in (
            "person_id",
            "debtor_id",
            "case_ids",
            "business_date",
            "kind",
            "channel",
            "template",
            "tone",
            "language",
            "brand",
            "creditor_id",
            "source",
        )
    }
    values.update(
        status="queued",
        attempts=0,
        created_at=now,
        dedupe_key=dedupe_key,
        payload={k: v for k, v in (message.payload or {}).items() if k != "decision"},
    )
    values.update(changes)
    new_id = conn.execute(insert(Message).values(**values).returning(Message.id)).scalar_one()
    return conn.execute(select(*_MESSAGE_COLUMNS).where(Message.id == new_id)).one()


def _split_held(conn: Connection, message: Any, held: set[int], now: datetime) -> tuple[Any, Any]:
    """Take the held cases out of a consolidated message into a message of their own."""
    keep = [c for c in message.case_ids if c not in held]
    held_row = _derived_message(
        conn,
        message,
        now,
        dedupe_key=f"{message.dedupe_key}:held:{min(held)}",
        case_ids=sorted(held),
        status="blocked",
    )
    conn.execute(update(Message).where(Message.id == message.id).values(case_ids=keep))
    return replace_row(message, case_ids=keep), held_row


def replace_row(row: Any, **changes: Any) -> Any:
    """A copy of a result row (a named tuple) with some fields changed."""
    data = row._asdict()
    data.update(changes)
    return _RowView(data)


class _RowView:
    def __init__(self, data: dict[str, Any]) -> None:
        self.__dict__.update(data)

    def _asdict(self) -> dict[str, Any]:
        return dict(self.__dict__)


_MESSAGE_COLUMNS = (
    Message.id,
    Message.person_id,
    Message.debtor_id,
    Message.case_ids,
    Message.business_date,
    Message.kind,
    Message.channel,
    Message.template,
    Message.tone,
    Message.language,
    Message.brand,
    Message.creditor_id,
    Message.source,
    Message.status,
    Message.attempts,
    Message.dedupe_key,
    Message.payload,
    Message.fallback_of,
)


def _due_messages(
    conn: Connection, on: date, now: datetime, ids: Sequence[int] | None
) -> list[Any]:
    query = select(*_MESSAGE_COLUMNS).where(
        Message.status.in_(("queued", "deferred", "blocked")),
        Message.business_date <= on,
        (Message.next_attempt_at.is_(None)) | (Message.next_attempt_at <= now),
    )
    if ids is not None:
        query = query.where(Message.id.in_(ids))
    return list(conn.execute(query.order_by(Message.id)))


def deliver_messages(
    engine: Engine,
    on: date,
    now: datetime,
    channels: Mapping[str, SendingChannel],
    settings: MessagingSettings,
    *,
    report: SendReport | None = None,
    message_ids: Sequence[int] | None = None,
    agency: Agency | None = None,
) -> SendReport:
    """Decide and deliver every due message (or just ``message_ids``)."""
    report = report or SendReport(on.isoformat())
    agency = agency or agency_from_env()
    now = _utc(now)  # stored and compared in UTC (SQLite keeps no offset)
    with engine.connect() as conn:
        due = _due_messages(conn, on, now, message_ids)
    for batch_rows in chunks(due, 100):
        with engine.begin() as conn:
            batch = _load_batch(conn, batch_rows, on, now)
            work = list(batch_rows)
            while work:
                message = work.pop(0)
                work.extend(
                    _deliver_one(conn, message, batch, on, now, channels, settings, agency, report)
                )
    return report


def _deliver_one(
    conn: Connection,
    message: Any,
    batch: _Batch,
    on: date,
    now: datetime,
    channels: Mapping[str, SendingChannel],
    settings: MessagingSettings,
    agency: Agency,
    report: SendReport,
) -> list[Any]:
    """Decide one message and deliver it; the messages that follow from it (a held part,
    a fallback letter) are returned to be handled in the same run."""
    case_ids = [c for c in message.case_ids if c in batch.cases and not batch.cases[c].closed]
    if not case_ids:
        conn.execute(
            update(Message)
            .where(Message.id == message.id)
            .values(status="cancelled", error="every case in it was closed before sending")
        )
        return []
    debtor = batch.debtors[message.debtor_id]
    creditor_ids = sorted({batch.cases[c].creditor_id for c in case_ids})
    jurisdiction = debtor.country or batch.creditors[creditor_ids[0]].jurisdiction
    rules = _rules(jurisdiction, on, [batch.creditors[c].policy for c in creditor_ids])
    state = _person_state(message, batch, case_ids)
    local_day = now.astimezone(state.timezone).date()
    held = _held_cases(state, case_ids, local_day)
    follow_up: list[Any] = []
    if held and len(held) < len(case_ids):
        # The held cases wait in a message of their own (decided next, so the block and
        # its rule are on record today); the others go out now.
        message, held_message = _split_held(conn, message, held, now)
        follow_up.append(held_message)
        case_ids = list(message.case_ids)
    request = ContactRequest(
        channel=message.channel, case_ids=frozenset(case_ids), at=now, source=message.source
    )
    decision = decide(request, state, rules, _holidays(jurisdiction))
    new = _record(conn, message, decision, on, now, case_ids, report)
    if decision.outcome is not Outcome.SEND:
        status = "deferred" if decision.outcome is Outcome.DEFER else "blocked"
        if new and status == "deferred":
            report.deferred += 1
        elif new:
            report.blocked += 1
        rerouted = _reroute(conn, message, decision, debtor, state)
        if rerouted is not None:
            return [*follow_up, rerouted]
        conn.execute(
            update(Message)
            .where(Message.id == message.id)
            .values(status=status, next_attempt_at=_utc(decision.not_before))
        )
        return follow_up
    fallback = _send(conn, message, case_ids, batch, on, now, channels, settings, agency, report)
    return [*follow_up, *([fallback] if fallback is not None else [])]


def _reroute(
    conn: Connection, message: Any, decision: Decision, debtor: Any, state: ContactState
) -> Any | None:
    """A message the person has not consented to, or opted out of, on its channel goes by
    the next channel they can be reached on (SMS → e-mail → letter) instead of waiting for
    ever; a hold, by contrast, is waited out. The new channel is decided afresh. An agent's
    or the portal's request on a blocked channel is answered with the block instead."""
    if (
        not decision.rule.startswith(("consent:", "opt_out:"))
        or message.kind != "message"
        or message.source != "strategy"  # an agent's own choice of channel is answered
    ):
        return None
    options = {"sms": ("email", "post"), "email": ("post",)}.get(message.channel, ())
    reachable = {"email": bool(debtor.email), "post": True}
    channel = next((c for c in options if reachable[c] and c not in state.opted_out), None)
    if channel is None:
        return None
    payload = {k: v for k, v in (message.payload or {}).items() if k != "decision"}
    payload["rerouted_from"] = message.channel
    conn.execute(
        update(Message)
        .where(Message.id == message.id)
        .values(channel=channel, status="queued", next_attempt_at=None, payload=payload)
    )
    return conn.execute(select(*_MESSAGE_COLUMNS).where(Message.id == message.id)).one()


_readability_cache: dict[tuple[str, str, str, str, int], tuple[Decimal, bool] | None] = {}


def _send(
    conn: Connection,
    message: Any,
    case_ids: Sequence[int],
    batch: _Batch,
    on: date,
    now: datetime,
    channels: Mapping[str, SendingChannel],
    settings: MessagingSettings,
    agency: Agency,
    report: SendReport,
) -> Any | None:
    from respite.adapters.messages.readability import readability
    from respite.adapters.messages.render import render

    debtor = batch.debtors[message.debtor_id]
    code = None
    if message.channel == "post":
        code = issue_login_code(conn, case_ids[0], on, settings.code_valid_days, message.id)
    try:
        ctx = _context(
            replace_row(message, case_ids=case_ids),
            message.channel,
            batch,
            settings,
            agency,
            on,
            login_code=code,
        )
        rendered = render(ctx, message.channel)
    except RespiteError as exc:
        # A message that cannot be written correctly (e.g. a formal notice whose costs
        # are outside the rule tables) is not sent half right: it waits for a person.
        conn.execute(
            update(Message)
            .where(Message.id == message.id)
            .values(
                status="failed", error=f"not rendered: {exc}"[:500], attempts=message.attempts + 1
            )
        )
        report.failed += 1
        return None
    key = (rendered.step, rendered.channel, rendered.language, rendered.tone, len(ctx.cases))
    if key not in _readability_cache:
        # The score is the wording's: names, amounts, dates and codes count as one word each
        # (adapters/messages/readability.py), so one variant of a template scores the same
        # for every debtor; it is measured on the first message of each variant in a run.
        # An SMS ends with the portal link instead of a full stop: it is scored as one
        # sentence (the prose scorer reads only lines that end like a sentence).
        text = rendered.text.rstrip() + "." if rendered.channel == "sms" else rendered.text
        try:
            _readability_cache[key] = readability(text, rendered.language)
        except RespiteError:
            _readability_cache[key] = None  # nothing to score: recorded as not measured
    measured = _readability_cache[key]
    score, b1 = measured if measured is not None else (None, None)
    if b1 is False:
        report.below_b1 += 1
    values: dict[str, Any] = {
        "subject": rendered.subject,
        "body_text": rendered.text,
        "readability_centi": None if score is None else int((score * 100).to_integral_value()),
        "b1": b1,
        "tone": rendered.tone,
        "attempts": message.attempts + 1,
    }
    if message.channel == "phone":
        conn.execute(
            insert(CallTask).values(
                message_id=message.id,
                person_id=message.person_id,
                case_ids=list(case_ids),
                due_at=now,
                script=rendered.text,
                status="open",
            )
        )
        result = DeliveryResult("sent", provider_ref=f"call-task:{message.id}")
    else:
        channel = channels.get(message.channel)
        if channel is None:
            raise NotAllowed(
                f"no {message.channel} channel is configured (see README: Communications)"
            )
        to = {"email": debtor.email, "sms": debtor.phone, "post": debtor.name}[
            message.channel
        ] or ""
        brand = ctx.brand
        result = channel.send(
            Outgoing(
                message_id=message.id,
                channel=message.channel,
                to=to,
                sender_name=brand.sender_name,
                sender_email=brand.sender_email,
                text=rendered.text,
                subject=rendered.subject,
                html=rendered.html,
                address_lines=ctx.address_lines,
                reply_to=settings.agency_brand.sender_email,
                reference=f"respite-{message.id}",
                business_date=on,
                postcode=debtor.postcode or "",
                country=debtor.country or "",
            )
        )
    if result.status in ("sent", "delivered"):
        # The next message of this person in the same run counts this one.
        batch.history[message.person_id].append(
            PastContact(at=now, channel=message.channel, case_ids=frozenset(case_ids))
        )
    return _settle(conn, message, case_ids, result, values, on, now, settings, report, b1)


def _settle(
    conn: Connection,
    message: Any,
    case_ids: Sequence[int],
    result: DeliveryResult,
    values: dict[str, Any],
    on: date,
    now: datetime,
    settings: MessagingSettings,
    report: SendReport,
    b1: bool | None,
) -> Any | None:
    attempts = int(values["attempts"])
    if result.status in ("sent", "delivered"):
        values.update(
            status=result.status, sent_at=now, provider_ref=result.provider_ref, error=None
        )
        if result.status == "delivered":
            values["delivered_at"] = now
        conn.execute(update(Message).where(Message.id == message.id).values(**values))
        report.sent[message.channel] += 1
        _timeline(
            conn,
            case_ids,
            on,
            now,
            "message_sent",
            f"{message.template} by {message.channel}",
            {
                "message_id": message.id,
                "channel": message.channel,
                "template": message.template,
                "b1": b1,
                "source": message.source,
            },
        )
        return None
    if result.status == "retry" and attempts < settings.max_attempts:
        wait = min(settings.backoff * (2 ** (attempts - 1)), settings.max_backoff)
        values.update(status="queued", next_attempt_at=now + wait, error=result.detail[:500])
        conn.execute(update(Message).where(Message.id == message.id).values(**values))
        report.retried += 1
        return None
    status = "bounced" if result.status == "bounced" else "failed"
    values.update(status=status, error=(result.detail or status)[:500])
    conn.execute(update(Message).where(Message.id == message.id).values(**values))
    if status == "bounced":
        report.bounced += 1
    else:
        report.failed += 1
    _timeline(
        conn,
        case_ids,
        on,
        now,
        f"message_{status}",
        f"{message.template} by {message.channel}: {status}",
        {"message_id": message.id, "channel": message.channel},
    )
    return _fallback(conn, message, case_ids, now, settings, report)


def _fallback(
    conn: Connection,
    message: Any,
    case_ids: Sequence[int],
    now: datetime,
    settings: MessagingSettings,
    report: SendReport,
) -> Any | None:
    channel = settings.fallback.get(message.channel)
    if channel is None or message.fallback_of is not None:
        return None  # a fallback that fails itself goes to an agent (status failed)
    row = _derived_message(
        conn,
        message,
        now,
        dedupe_key=f"{message.dedupe_key}:fallback:{channel}",
        case_ids=list(case_ids),
        channel=channel,
        fallback_of=message.id,
    )
    report.fallbacks += 1
    return row


# --- the day's run, and the other paths into the same engine -----------------------------


def send_moment(on: date, at: time, settings: MessagingSettings) -> datetime:
    """The aware moment of a run on business date ``on`` at the agency's local ``at``."""
    return datetime.combine(on, at, tzinfo=ZoneInfo(settings.timezone))


def poll_sms(
    engine: Engine,
    channel: Any,
    now: datetime,
    settings: MessagingSettings,
    report: SendReport,
) -> None:
    """Ask the SMS provider about sent messages; an undeliverable one falls back to a letter."""
    with engine.connect() as conn:
        rows = list(
            conn.execute(
                select(*_MESSAGE_COLUMNS, Message.provider_ref).where(
                    Message.channel == "sms", Message.status == "sent"
                )
            )
        )
    for row in rows:
        status = channel.status(row.provider_ref) if row.provider_ref else None
        if status == "delivered":
            with engine.begin() as conn:
                conn.execute(
                    update(Message)
                    .where(Message.id == row.id)
                    .values(status="delivered", delivered_at=now)
                )
            report.delivered += 1
        elif status in ("bounced", "failed"):
            with engine.begin() as conn:
                conn.execute(
                    update(Message)
                    .where(Message.id == row.id)
                    .values(status=status, error=f"provider reported {status}")
                )
                if status == "bounced":
                    report.bounced += 1
                else:
                    report.failed += 1
                _fallback(conn, row, list(row.case_ids), now, settings, report)


def send_day(
    engine: Engine,
    on: date,
    at: time,
    channels: Mapping[str, SendingChannel],
    settings: MessagingSettings,
    *,
    print_dir: Path | None = None,
    agency: Agency | None = None,
) -> SendReport:
    """``respite send --date``: prepare, decide, deliver, poll SMS, and the print batch."""
    now = _utc(send_moment(on, at, settings))
    report = SendReport(on.isoformat())
    with engine.begin() as conn:
        report.prepared = prepare_messages(conn, on, now)
    deliver_messages(engine, on, now, channels, settings, report=report, agency=agency)
    sms = channels.get("sms")
    if sms is not None and hasattr(sms, "status"):
        poll_sms(engine, sms, now, settings, report)
        # Fallback letters made by the poll go out in the same run.
        deliver_messages(engine, on, now, channels, settings, report=report, agency=agency)
    letters = channels.get("post")
    if letters is not None and print_dir is not None and hasattr(letters, "print_batch"):
        report.print_batch = make_print_batch(engine, letters, on, print_dir, now=now)
    return report


def make_print_batch(
    engine: Engine, letters: Any, on: date, out_dir: Path, *, now: datetime
) -> dict[str, Any] | None:
    """The day's letters as one PDF and a CSV manifest, recorded in ``print_batches``."""
    from respite.adapters.db.models import PrintBatch

    result = letters.print_batch(on, out_dir)
    if result is None or not result.letters:
        return None
    values = {
        "business_date": on,
        "letters": result.letters,
        "pages": result.pages,
        "pdf_path": str(result.pdf_path),
        "manifest_path": str(result.manifest_path),
        "sha256": result.sha256,
        "created_at": now,
    }
    with engine.begin() as conn:
        existing = conn.execute(
            select(PrintBatch.id).where(PrintBatch.business_date == on)
        ).scalar()
        if existing is None:
            conn.execute(insert(PrintBatch).values(**values))
        else:
            conn.execute(update(PrintBatch).where(PrintBatch.id == existing).values(**values))
    return {
        k: (v.isoformat() if isinstance(v, date | datetime) else v)
        for k, v in values.items()
        if k != "created_at"
    }


def _case(conn: Connection, reference: str) -> Any:
    row = conn.execute(
        select(
            Case.id,
            Case.reference,
            Case.creditor_id,
            Case.debtor_id,
            Case.closed,
            func.coalesce(Debtor.person_id, Debtor.id).label("person_id"),
            Debtor.language,
        )
        .join(Debtor, Debtor.id == Case.debtor_id)
        .where(Case.reference == reference)
    ).first()
    if row is None:
        raise InputError(f"no case with reference {reference!r}", field="case")
    return row


def request_contact(
    engine: Engine,
    case_reference: str,
    *,
    channel: str,
    template: str,
    source: str,
    actor: str,
    on: date,
    now: datetime,
    channels: Mapping[str, SendingChannel],
    settings: MessagingSettings,
    agency: Agency | None = None,
) -> dict[str, Any]:
    """An agent's or the portal's message: the same guardrails as the strategy's.

    Returns the message's state after the decision: sent, deferred (with the next allowed
    moment) or blocked, and the rule that decided.
    """
    if source not in ("agent", "portal", "strategy"):
        raise InputError("must be agent, portal or strategy", field="source")
    if channel not in ("email", "sms", "post", "phone"):
        raise InputError("must be email, sms, post or phone", field="--channel")
    if template not in STEPS:
        raise InputError(
            f"unknown template {template!r} (known: {', '.join(STEPS)})", field="--template"
        )
    if (channel == "phone") != template.startswith("call_"):
        raise InputError(
            "call_* templates are for the phone channel, the others are not", field="--template"
        )
    now = _utc(now)
    with engine.begin() as conn:
        case = _case(conn, case_reference)
        if case.closed:
            raise NotAllowed(f"case {case_reference} is closed")
        key = f"{source}:{actor}:{case.id}:{template}:{channel}:{now.isoformat()}"
        queue_outbox(
            conn,
            [
                outbox_row(
                    case.id,
                    on,
                    "call_task" if channel == "phone" else "message",
                    channel,
                    template,
                    key[:120],
                    {"source": source, "requested_by": actor},
                )
            ],
        )
        outbox_id = conn.execute(
            select(OutboxMessage.id).where(OutboxMessage.dedupe_key == key[:120])
        ).scalar_one()
        prepare_only_this = conn.execute(
            select(OutboxMessage.status).where(OutboxMessage.id == outbox_id)
        ).scalar_one()
        if prepare_only_this == "queued":
            _prepare_one(conn, outbox_id, on, now, channel)
        message_id = conn.execute(
            select(OutboxMessage.message_id).where(OutboxMessage.id == outbox_id)
        ).scalar_one()
    if message_id is None:  # pragma: no cover - the outbox row was just taken above
        raise NotAllowed(f"the request for case {case_reference} was not queued")
    report = deliver_messages(
        engine, on, now, channels, settings, message_ids=[message_id], agency=agency
    )
    with engine.connect() as conn:
        row = conn.execute(
            select(Message.id, Message.status, Message.next_attempt_at, Message.channel).where(
                Message.id == message_id
            )
        ).one()
        last = conn.execute(
            select(ContactDecision.outcome, ContactDecision.rule, ContactDecision.reason)
            .where(ContactDecision.message_id == message_id)
            .order_by(ContactDecision.id.desc())
            .limit(1)
        ).first()
    return {
        "message": row.id,
        "case": case_reference,
        "channel": row.channel,
        "status": row.status,
        "next_attempt_at": as_utc(row.next_attempt_at).isoformat() if row.next_attempt_at else None,
        "decision": {"outcome": last.outcome, "rule": last.rule, "reason": last.reason}
        if last
        else None,
        "sent": dict(report.sent),
    }


def _prepare_one(conn: Connection, outbox_id: int, on: date, now: datetime, channel: str) -> None:
    """An agent's or the portal's request on the channel they chose (no consolidation)."""
    row = conn.execute(
        select(
            OutboxMessage.id,
            OutboxMessage.case_id,
            OutboxMessage.kind,
            OutboxMessage.template,
            OutboxMessage.payload,
            Case.creditor_id,
            Case.debtor_id,
            func.coalesce(Debtor.person_id, Debtor.id).label("person_id"),
            Debtor.language,
        )
        .join(Case, Case.id == OutboxMessage.case_id)
        .join(Debtor, Debtor.id == Case.debtor_id)
        .where(OutboxMessage.id == outbox_id)
    ).one()
    payload = dict(row.payload or {})
    message_id = conn.execute(
        insert(Message)
        .values(
            person_id=row.person_id,
            debtor_id=row.debtor_id,
            case_ids=[row.case_id],
            business_date=on,
            kind=row.kind,
            channel=channel,
            template=row.template,
            tone="neutral",
            language=row.language if row.language in LANGUAGES else "en",
            brand="agency",
            creditor_id=None,
            source=str(payload.get("source", "agent")),
            status="queued",
            attempts=0,
            created_at=now,
            dedupe_key=f"request:{row.id}",
            payload={"requested_by": payload.get("requested_by", "")},
        )
        .returning(Message.id)
    ).scalar_one()
    conn.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == outbox_id)
        .values(status="taken", message_id=message_id)
    )


def record_preference(
    engine: Engine, case_reference: str, channel: str, status: str, on: date, source: str
) -> dict[str, Any]:
    """Record a person's consent, opt-out or preferred channel (for every creditor's case)."""
    if channel not in ("email", "sms", "post", "phone"):
        raise InputError("must be email, sms, post or phone", field="--channel")
    if status not in ("consented", "opted_out", "preferred"):
        raise InputError("must be consented, opted_out or preferred", field="--status")
    with engine.begin() as conn:
        case = _case(conn, case_reference)
        if status == "preferred":
            conn.execute(
                update(ContactPreference)
                .where(
                    ContactPreference.person_id == case.person_id,
                    ContactPreference.status == "preferred",
                )
                .values(status="consented", recorded_on=on, source=source)
            )
        existing = conn.execute(
            select(ContactPreference.id).where(
                ContactPreference.person_id == case.person_id, ContactPreference.channel == channel
            )
        ).scalar()
        values = {"status": status, "recorded_on": on, "source": source}
        if existing is None:
            conn.execute(
                insert(ContactPreference).values(
                    person_id=case.person_id, channel=channel, **values
                )
            )
        else:
            conn.execute(
                update(ContactPreference).where(ContactPreference.id == existing).values(**values)
            )
        from datetime import UTC

        conn.execute(
            insert(Event).values(
                **event_row(
                    case.id,
                    on,
                    datetime.now(UTC),
                    source,
                    "contact_preference",
                    f"{channel}: {status}",
                    {"channel": channel, "status": status},
                )
            )
        )
    return {"case": case_reference, "channel": channel, "status": status}


def log_call(
    engine: Engine, task_id: int, *, outcome: str, agent: str, at: datetime, note: str = ""
) -> dict[str, Any]:
    """An agent logs how a call went; a conversation pauses further calls where the law says."""
    if outcome not in CALL_OUTCOMES:
        raise InputError(f"must be one of {', '.join(CALL_OUTCOMES)}", field="--outcome")
    with engine.begin() as conn:
        task = conn.execute(
            select(CallTask.id, CallTask.status, CallTask.case_ids).where(CallTask.id == task_id)
        ).first()
        if task is None:
            raise InputError(f"no call task {task_id}", field="task")
        if task.status == "done":
            raise NotAllowed(f"call task {task_id} was logged already")
        conn.execute(
            update(CallTask)
            .where(CallTask.id == task_id)
            .values(status="done", outcome=outcome, agent=agent, done_at=at, note=note[:2000])
        )
        conn.execute(
            insert(Event),
            [
                event_row(
                    c,
                    at.date(),
                    at,
                    agent,
                    "call_logged",
                    f"call outcome: {outcome}",
                    {"task": task_id, "outcome": outcome},
                )
                for c in task.case_ids
            ],
        )
    return {"task": task_id, "outcome": outcome, "agent": agent}


def current_letter(
    engine: Engine,
    case_reference: str,
    on: date,
    settings: MessagingSettings,
    *,
    agency: Agency | None = None,
) -> Rendered:
    """The letter of the case as it would go out today (step: the case's latest message).

    Prints no login code: a code is issued only when a letter is really sent.
    """
    from respite.adapters.messages.render import render

    agency = agency or agency_from_env()
    with engine.connect() as conn:
        case = _case(conn, case_reference)
        step = "friendly_reminder"
        last = conn.execute(
            select(OutboxMessage.template)
            .where(OutboxMessage.case_id == case.id, OutboxMessage.kind == "message")
            .order_by(OutboxMessage.id.desc())
            .limit(1)
        ).scalar()
        if last in STEPS and not str(last).startswith("call_"):
            step = str(last)
        message = _RowView(
            {
                "id": 0,
                "person_id": case.person_id,
                "debtor_id": case.debtor_id,
                "case_ids": [case.id],
                "template": step,
                "tone": "neutral",
                "language": case.language if case.language in LANGUAGES else "en",
                "brand": "agency",
                "payload": {},
            }
        )
        batch = _load_batch(conn, [message], on, send_moment(on, time(9), settings))
        ctx = _context(message, "post", batch, settings, agency, on, login_code=None)
    return render(ctx, "post")


def list_messages(
    engine: Engine, *, case_reference: str | None = None, status: str | None = None, limit: int = 50
) -> list[dict[str, Any]]:
    query = select(
        Message.id,
        Message.business_date,
        Message.channel,
        Message.template,
        Message.status,
        Message.attempts,
        Message.case_ids,
        Message.sent_at,
        Message.next_attempt_at,
        Message.b1,
        Message.fallback_of,
        Message.error,
    ).order_by(Message.id.desc())
    with engine.connect() as conn:
        if case_reference is not None:
            case = _case(conn, case_reference)
            query = query.where(Message.person_id == case.person_id)
        if status is not None:
            query = query.where(Message.status == status)
        rows = conn.execute(query.limit(limit)).all()
        decisions: dict[int, list[dict[str, Any]]] = defaultdict(list)
        ids = [r.id for r in rows]
        if ids:
            for d in conn.execute(
                select(
                    ContactDecision.message_id,
                    ContactDecision.outcome,
                    ContactDecision.rule,
                    ContactDecision.decided_at,
                )
                .where(ContactDecision.message_id.in_(ids))
                .order_by(ContactDecision.id)
            ):
                decisions[d.message_id].append(
                    {"outcome": d.outcome, "rule": d.rule, "at": as_utc(d.decided_at).isoformat()}
                )
        refs = _references(conn, rows)
    return [
        {
            "id": r.id,
            "date": r.business_date.isoformat(),
            "channel": r.channel,
            "template": r.template,
            "status": r.status,
            "attempts": r.attempts,
            "cases": [refs.get(c, str(c)) for c in r.case_ids],
            "sent_at": as_utc(r.sent_at).isoformat() if r.sent_at else None,
            "next_attempt_at": as_utc(r.next_attempt_at).isoformat() if r.next_attempt_at else None,
            "b1": r.b1,
            "fallback_of": r.fallback_of,
            "error": r.error,
            "decisions": decisions.get(r.id, []),
        }
        for r in rows
    ]


def _references(conn: Connection, rows: Sequence[Any]) -> dict[int, str]:
    """Case id → reference for every case named in ``rows`` (their ``case_ids``)."""
    ids = sorted({int(c) for r in rows for c in r.case_ids})
    return {
        int(case_id): str(reference)
        for case_id, reference in conn.execute(
            select(Case.id, Case.reference).where(Case.id.in_(ids))
        )
    }


def call_tasks(engine: Engine, *, open_only: bool = True, limit: int = 100) -> list[dict[str, Any]]:
    """The agent's call queue, oldest first, with the script to read."""
    query = select(
        CallTask.id,
        CallTask.due_at,
        CallTask.case_ids,
        CallTask.status,
        CallTask.outcome,
        CallTask.agent,
        CallTask.script,
    ).order_by(CallTask.due_at, CallTask.id)
    if open_only:
        query = query.where(CallTask.status == "open")
    with engine.connect() as conn:
        rows = conn.execute(query.limit(limit)).all()
        refs = _references(conn, rows)
    return [
        {
            "task": r.id,
            "due_at": as_utc(r.due_at).isoformat(),
            "cases": [refs.get(c, str(c)) for c in r.case_ids],
            "status": r.status,
            "outcome": r.outcome,
            "agent": r.agent,
            "script": r.script,
        }
        for r in rows
    ]
