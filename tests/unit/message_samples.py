"""Realistic message contexts for the template tests (one debtor per language's market).

nl and en: a Dutch consumer (statutory interest 6%, BIK costs); fr: a Belgian consumer
(legal interest 4.5%, Book XIX damages); pl: a Polish consumer in złoty (statutory late
interest 10%, no flat costs for consumers). Names, numbers and addresses are made up.
"""

from __future__ import annotations

import base64
import functools
import io
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal

import segno

from respite.adapters.messages.context import (
    Brand,
    CaseLines,
    DebtHelp,
    MessageContext,
    NextStep,
    PaymentInfo,
    PlanInfo,
)

ON = date(2026, 3, 14)

# What each step says happens next (the service derives this from the strategy).
NEXT_KIND = {
    "friendly_reminder": "formal_notice",
    "friendly_nudge": "formal_notice",
    "formal_notice": "costs_charged",
    "amicable_offer_plan": "personal_contact",
    "missed_instalment_friendly": "instalment_due",
    "offer_replan": "instalment_due",
    "plan_ended": "legal_review",
    "paid_thank_you": "none",
    "sepa_prenotification": "collection",
    "call_offer_help": "plan_offer",
    "call_personal_contact": "legal_review",
}


def _png(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


@functools.cache
def qr_data_uri() -> str:
    payload = (
        "BCD\n002\n1\nSCT\nABNANL2A\nRespite Services B.V.\nNL91ABNA0417164300\n"
        "EUR1337.94\n\nRF18539007547034"
    )
    buf = io.BytesIO()
    segno.make(payload, error="m").save(buf, kind="png", scale=4)
    return _png(buf.getvalue())


def logo_data_uri() -> str:
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (240, 60), "#0a6e4f")
    ImageDraw.Draw(image).text((12, 22), "STADSWATER", fill="white")
    buf = io.BytesIO()
    image.save(buf, "PNG")
    return _png(buf.getvalue())


AGENCY = Brand(
    name="Respite Services",
    sender_name="Team Klantcontact",
    sender_email="post@respite.example",
    phone="030 123 45 67",
    website="https://respite.example",
    address_lines=("Postbus 1234", "3500 AB Utrecht"),
    footer="Respite Services B.V. · KvK 12345678",
)

CREDITOR = Brand(
    name="Stadswater",
    sender_name="Klantenservice",
    sender_email="klant@stadswater.example",
    phone="020 765 43 21",
    website="https://stadswater.example",
    address_lines=("Postbus 99", "1000 AB Amsterdam"),
    primary_color="#0a6e4f",
    accent_color="#e6f4ef",
    logo_data_uri=logo_data_uri(),
    footer="Stadswater N.V. · Waterweg 1 · Amsterdam",
    is_creditor=True,
)


@dataclass(frozen=True)
class Market:
    currency: str
    rate: Decimal
    costs_basis: str
    costs: Decimal
    debt_help: DebtHelp
    iban: str
    bic: str


# nl and en: the same Dutch consumer.
# 185.18 = 15% of 1,234.56 (Besluit BIK art. 2), derived
_DUTCH = Market(
    "EUR",
    Decimal("6.00"),
    "nl_bik",
    Decimal("185.18"),
    DebtHelp("Geldfit", "0800-8115", "https://www.geldfit.nl"),
    "NL91ABNA0417164300",
    "ABNANL2A",
)
MARKET = {
    "nl": _DUTCH,
    "en": _DUTCH,
    # 101.73 = 65 + 5% of (1,234.56 − 500) (art. XIX.4 WER caps), derived
    "fr": Market(
        "EUR",
        Decimal("4.50"),
        "be_fixed",
        Decimal("101.73"),
        DebtHelp("CPAS de Namur, médiation de dettes", "081 00 00 00", "https://www.cpasnamur.be"),
        "BE68539007547034",
        "GKCCBEBB",
    ),
    # Polish consumers: no statutory flat costs (rules/pl/costs.toml)
    "pl": Market(
        "PLN",
        Decimal("10.00"),
        "none",
        Decimal("0.00"),
        DebtHelp(
            "Nieodpłatne poradnictwo obywatelskie", "", "https://www.gov.pl/web/nieodplatna-pomoc"
        ),
        "PL61109010140000071219812874",
        "WBKPPLPP",
    ),
}


def case_lines(
    language: str,
    *,
    reference: str = "R-2026-0001",
    creditor: str = "Stadswater",
    description: str = "Waterrekening januari 2026",
    principal: str = "1234.56",
    interest: str = "18.20",
    paid: str = "100.00",
    costs: Decimal | None = None,
    costs_basis: str | None = None,
    interest_basis: str = "statutory_consumer",
    frozen: bool = False,
) -> CaseLines:
    m = MARKET[language]
    p, i, k, pd = (
        Decimal(principal),
        Decimal(interest),
        m.costs if costs is None else costs,
        Decimal(paid),
    )
    return CaseLines(
        reference=reference,
        creditor_name=creditor,
        description=description,
        currency=m.currency,
        principal=p,
        interest=i,
        costs=k,
        paid=pd,
        total=p + i + k - pd,
        interest_basis=interest_basis,
        interest_rate=None if interest_basis == "none" else m.rate,
        interest_since=date(2026, 1, 15),
        interest_frozen=frozen,
        costs_basis=m.costs_basis if costs_basis is None else costs_basis,
        costs_from=date(2026, 4, 2),
    )


def context(
    step: str,
    language: str,
    tone: str = "neutral",
    *,
    cases: tuple[CaseLines, ...] | None = None,
    brand: Brand = AGENCY,
) -> MessageContext:
    m = MARKET[language]
    if cases is None:
        # before the 14-day term has run, the formal notice's case carries no costs yet
        zero_costs = step == "formal_notice"
        cases = (case_lines(language, costs=Decimal("0.00") if zero_costs else None),)
    total = sum((c.total for c in cases), Decimal(0))
    kind = NEXT_KIND[step]
    next_amount = {
        "costs_charged": m.costs if m.costs else Decimal("40.00"),
        "instalment_due": Decimal("75.00"),
        "collection": Decimal("75.00"),
    }.get(kind)
    next_on = {"collection": date(2026, 4, 1), "none": None}.get(kind, date(2026, 4, 2))
    return MessageContext(
        step=step,
        language=language,
        tone=tone,
        on=ON,
        debtor_name="Sanne de Vries",
        address_lines=("Sanne de Vries", "Lindelaan 12", "3512 AB Utrecht"),
        brand=brand,
        agency=AGENCY,
        cases=cases,
        currency=m.currency,
        principal=sum((c.principal for c in cases), Decimal(0)),
        interest=sum((c.interest for c in cases), Decimal(0)),
        costs=sum((c.costs for c in cases), Decimal(0)),
        paid=sum((c.paid for c in cases), Decimal(0)),
        total=total,
        next_step=NextStep(kind=kind, on=next_on, amount=next_amount),
        portal_url="https://portal.respite.example/login",
        login_code="K7QM2XWP9RTA",
        payment=PaymentInfo(
            iban=m.iban,
            bic=m.bic,
            beneficiary="Respite Services B.V.",
            reference="RF18539007547034",
            amount=total,
            currency=m.currency,
            pay_by=date(2026, 3, 28),
        ),
        debt_help=m.debt_help,
        # the EPC QR code is for euro transfers only (EPC069-12)
        qr_data_uri=qr_data_uri() if m.currency == "EUR" else None,
        plan=PlanInfo(
            instalment=Decimal("75.00"),
            months=18,
            next_due=date(2026, 4, 1),
            missed_due=date(2026, 3, 1),
            missed_amount=Decimal("75.00"),
        ),
        extra={
            "collect_on": "2026-04-01",
            "mandate": "RESP-000123",
            "creditor_id": "NL98ZZZ999999999999",
            "registration": "Ingeschreven in het Wki-register, nummer 123456.",
        },
    )


def consolidated(
    language: str, *, brand: Brand = AGENCY, step: str = "amicable_offer_plan"
) -> MessageContext:
    """Three cases of three creditors in one message."""
    cases = (
        case_lines(language, creditor="Stadswater", description="Water 2026"),
        case_lines(
            language,
            reference="R-2026-0002",
            creditor="Gemeente Utrecht",
            description="Afvalstoffenheffing",
            principal="310.00",
            interest="4.10",
            paid="20.00",
            costs=Decimal("46.50"),
        ),
        case_lines(
            language,
            reference="R-2026-0003",
            creditor="Woonstad",
            description="Huur februari",
            principal="640.00",
            interest="0.00",
            paid="0.00",
            costs=Decimal("0.00"),
            costs_basis="none",
            interest_basis="none",
        ),
    )
    return context(step, language, cases=cases, brand=brand)


__all__ = [
    "AGENCY",
    "CREDITOR",
    "MARKET",
    "NEXT_KIND",
    "ON",
    "case_lines",
    "consolidated",
    "context",
    "replace",
]
