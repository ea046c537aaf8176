"""A synthetic, deterministic portfolio: creditors, debtors, cases and who pays when.

:func:`generate_portfolio` fills a database with a portfolio that looks like a real
agency's handover: many small utility and telecom bills, a mid band of insurance premiums,
municipal taxes and rent arrears, and a tail of consumer loans; debtors in the
Netherlands, Belgium (Dutch- and French-speaking) and Poland; some people owing several
creditors; and a schedule of the payments they will make, for the nightly cycle to book
and allocate. Everything is fictional: creditor names end in "(demo)", small businesses
are named after a Faker surname (Faker's own company lists hold real firms), e-mail
addresses use the reserved ``example.com``/``.net``/``.org`` domains (RFC 2606), and
IBANs have Faker's fictional bank codes with valid check digits.

Determinism: the same ``(debtors, creditors, seed, on, now, horizon_days)`` into a fresh
database gives byte-identical rows (ids, names, amounts, dates). Every draw comes from one
``random.Random(seed)`` (never the global generator) and from one Faker instance per
locale seeded with ``seed``; nothing depends on the clock, string hashing or set order.
Random floats are only drawn: amounts become integer cents at once (``round``), and no
float is ever added to money.

Scale: the portfolio is written in chunks of ``chunk_size`` debtors, each chunk in one
transaction, through the set-based store functions (:func:`~respite.services.store.upsert_debtors`,
:func:`~respite.services.store.open_cases`), so memory stays flat whatever the size.
Faker is called a few thousand times per run, never per debtor: its names, streets,
cities and bank codes are drawn into pools once per locale and combined per debtor,
because Faker's weighted providers cost up to 80 µs a call (nl_BE).

Calibration (``shared/CONTEXT.md``, one large agency's Dutch operation in 2024): 19% of
dossiers ending debt-free in the year, 16% getting a payment arrangement, an average
arrangement of 7 months at €117, €89 collected per dossier handled, 3.5% in formal debt
counselling, about 150 dossiers per creditor.

Claims
    One to three claims per case (monthly bills of utilities and telecoms are more often
    bundled), amounts lognormal per creditor type: water, energy and telecom bills with
    medians of €75–120 (mostly €15–400); health-insurance premiums (€320), municipal
    taxes (€300), rent arrears (€950), webshops (€95); consumer loans around €2,500 with a
    tail to €25,000. Polish amounts are the same at about 4.3 PLN to the euro. The median
    case is about €150 (the median claim about €110) and the mean twice that. Claims were
    issued 31–300 days before the handover date and fell due 14–30 days after issue.

Debtors
    About 92% consumers and 8% small businesses (more at energy and telecom companies,
    none at health insurers and lenders); 13–14% of debtors owe two or three creditors of
    their own country, as one debtor record with several cases. Most have an e-mail
    address, a mobile number and an IBAN; all have a postal address.

Behaviour (who pays when)
    Each case gets a segment. Vulnerability belongs to the person: a consumer is
    vulnerable with 7% probability (15% when owing several creditors, who are more often
    in problem debt), and then every case of theirs is. Other cases draw a segment from a
    table that depends on the case's principal in euro terms, because small bills get
    paid and large debts need a plan:

    ================  =====  ======  ======  ========  =========================================
    segment           <€250  <€1500  larger  business  what the schedule holds
    ================  =====  ======  ======  ========  =========================================
    ``early_payer``   15%    8%      3%      16%       the whole principal on day 1–12, in the
                                                       friendly-reminder stage (the standard
                                                       strategy sends the formal notice on
                                                       day 12)
    ``after_notice``  10%    7%      3%      14%       the whole principal on day 15–35, in or
                                                       just after the notice's 14-day term
    ``part_payer``    11%    13%     12%     12%       2–4 payments, together 25–80% of the
                                                       principal, from day 7–45, 2–6 weeks apart
    ``plan_seeker``   7%     37%     46%     12%       monthly payments from day 20–40 of
                                                       ~1/7 of the principal (4–12 months, mode
                                                       7), at least €50 but no more than the
                                                       household can afford (median €150);
                                                       one in five stops after 1–3 payments
    ``silent``        57%    35%     36%     46%       nothing
    ================  =====  ======  ======  ========  =========================================

    ``vulnerable`` cases (can't pay, or in debt counselling) pay nothing in 55% and
    otherwise one to three token payments of €5–25. A business that cannot pay is silent.

    What comes out, over a portfolio of this shape: ≈20% of cases paid in full (the 19%
    debt-free), ≈15–16% on a plan (the 16% arrangements) lasting ≈7 months on average,
    ≈10% paying part, ≈8% vulnerable and ≈45% silent; about €90 scheduled per euro case
    within 120 days (€89 collected per dossier in a year). The average plan instalment
    comes to €70–80 rather than €117, because this book's debts are smaller than that
    agency's (the brief asks for a median of about €150).

    A full payer pays exactly the case's principal; every other segment pays less in
    total (a completed short plan may reach it). Interest and costs that the cycle adds
    are not part of the schedule: the payments are what people send, the cycle decides
    how they are allocated. Payments are dated after the handover date and at most
    ``horizon_days`` later; later ones are left out. Each is a
    :class:`~respite.adapters.db.models.Payment` row with ``booked=False`` and the source
    reference ``demo-{seed}-{case_id}-{k}``.
"""

from __future__ import annotations

import base64
import math
import random
import unicodedata
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from itertools import accumulate
from typing import Any, TypeVar

from faker import Faker
from schwifty import IBAN
from sqlalchemy import Connection, Engine, func, insert, literal, select

from respite.adapters.db.engine import analyze
from respite.adapters.db.models import Case, Claim, ContactPreference, Debtor, Payment
from respite.domain.money import Currency, Money
from respite.errors import ValidationError
from respite.services.store import (
    NewCase,
    NewClaim,
    NewDebtor,
    ensure_creditor,
    identity_key,
    open_cases,
    upsert_debtors,
)

T = TypeVar("T")

__all__ = ["SEGMENTS", "PortfolioSummary", "existing_cases", "generate_portfolio"]

ACTOR = "demo-data"
REASON = "synthetic portfolio"

SEGMENTS = (
    "early_payer",
    "after_notice",
    "part_payer",
    "plan_seeker",
    "silent",
    "vulnerable",
)


@dataclass(frozen=True)
class PortfolioSummary:
    """What one run of :func:`generate_portfolio` wrote."""

    creditors: int
    debtors: int
    cases: int
    claims: int
    principal_cents: dict[str, int]  # by currency
    scheduled_payments: int
    scheduled_cents: dict[str, int]  # by currency
    segments: dict[str, int]  # cases per segment
    business_debtors: int
    cross_creditor_debtors: int

    def as_dict(self) -> dict[str, object]:
        return {
            "creditors": self.creditors,
            "debtors": self.debtors,
            "business_debtors": self.business_debtors,
            "cross_creditor_debtors": self.cross_creditor_debtors,
            "cases": self.cases,
            "claims": self.claims,
            "principal": {
                c: str(Money.from_minor_units(v, Currency.of(c)))
                for c, v in sorted(self.principal_cents.items())
            },
            "scheduled_payments": self.scheduled_payments,
            "scheduled": {
                c: str(Money.from_minor_units(v, Currency.of(c)))
                for c, v in sorted(self.scheduled_cents.items())
            },
            "segments": {s: self.segments.get(s, 0) for s in SEGMENTS},
        }


# --- creditors ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CreditorType:
    """A kind of creditor: where it is, how big its book is, what its claims look like."""

    key: str
    jurisdiction: str
    currency: str
    template: str  # the name, with {place}
    places: tuple[str, ...]
    volume: int  # relative number of cases handed over
    business_permille: int  # share of business debtors
    median_cents: int  # claim amounts: lognormal around the median ...
    sigma: float  # ... with this spread (a draw parameter, not money) ...
    min_cents: int  # ... clipped to [min, max]
    max_cents: int
    claims_weights: tuple[int, int, int]  # cases with 1, 2, 3 claims
    label: str  # claim description, in the creditor's language


NL_REGIONS = (
    "Groningen",
    "Drenthe",
    "Friesland",
    "Twente",
    "Gelderland",
    "Utrecht",
    "Noord-Holland",
    "Zuid-Holland",
    "Zeeland",
    "Brabant",
    "Limburg",
    "Flevoland",
    "Veluwe",
    "Achterhoek",
    "Rijnmond",
    "Haaglanden",
    "Kennemerland",
    "West-Friesland",
)
NL_TOWNS = (
    "Assen",
    "Zwolle",
    "Deventer",
    "Leeuwarden",
    "Emmen",
    "Tilburg",
    "Breda",
    "Haarlem",
    "Leiden",
    "Delft",
    "Almere",
    "Apeldoorn",
    "Heerlen",
    "Venlo",
    "Middelburg",
    "Alkmaar",
    "Hoorn",
    "Amersfoort",
)
NL_BRANDS = ("Polder", "Delta", "Duin", "Tulp", "Molen", "Dijk", "Wadden", "Kanaal", "Noordzee")
BE_PLACES = (
    "Kempen",
    "Ardennes",
    "Brabant",
    "Hainaut",
    "Vlaanderen",
    "Wallonie",
    "Westhoek",
    "Meetjesland",
    "Famenne",
    "Condroz",
    "Haspengouw",
    "Pajottenland",
)
PL_REGIONS = (
    "Mazowsze",
    "Małopolska",
    "Śląsk",
    "Pomorze",
    "Wielkopolska",
    "Podlasie",
    "Warmia",
    "Kujawy",
    "Podkarpacie",
    "Lubuskie",
)
PL_CITIES = (
    "Poznań",
    "Kraków",
    "Gdańsk",
    "Wrocław",
    "Lublin",
    "Białystok",
    "Rzeszów",
    "Olsztyn",
    "Toruń",
    "Kielce",
    "Opole",
    "Szczecin",
)

_TELECOM = (70, 20, 10)
_UTILITY = (72, 19, 9)
_SINGLE = (88, 9, 3)

CREDITOR_TYPES: tuple[CreditorType, ...] = (
    CreditorType(
        "nl_energy", "NL", "EUR", "Energie {place}", NL_REGIONS, 16, 120,
        12_000, 0.9, 1_500, 400_000, _UTILITY, "Energierekening",
    ),
    CreditorType(
        "nl_telecom", "NL", "EUR", "{place} Telecom", NL_BRANDS, 16, 100,
        7_500, 0.75, 1_000, 150_000, _TELECOM, "Mobiel abonnement",
    ),
    CreditorType(
        "be_energy", "BE", "EUR", "Energie & Gaz {place}", BE_PLACES, 12, 120,
        12_000, 0.9, 1_500, 400_000, _UTILITY, "Energiefactuur / Facture d'énergie",
    ),
    CreditorType(
        "pl_telecom", "PL", "PLN", "Telekom {place}", PL_REGIONS, 12, 100,
        27_000, 0.75, 4_000, 600_000, _TELECOM, "Abonament telefoniczny",
    ),
    CreditorType(
        "nl_water", "NL", "EUR", "Waterbedrijf {place}", NL_REGIONS, 10, 60,
        8_000, 0.7, 1_500, 150_000, _UTILITY, "Waterrekening",
    ),
    CreditorType(
        "be_telecom", "BE", "EUR", "{place} Télécom", BE_PLACES, 12, 100,
        7_500, 0.75, 1_000, 150_000, _TELECOM, "Telecomfactuur / Facture télécom",
    ),
    CreditorType(
        "pl_utility", "PL", "PLN", "Wodociągi i Ciepło {place}", PL_CITIES, 9, 60,
        38_000, 0.8, 6_000, 1_200_000, _UTILITY, "Woda i ciepło",
    ),
    CreditorType(
        "nl_insurer", "NL", "EUR", "Zorgverzekeraar {place}", NL_REGIONS, 12, 0,
        32_000, 0.7, 4_000, 400_000, _SINGLE, "Premie zorgverzekering",
    ),
    CreditorType(
        "nl_municipality", "NL", "EUR", "Gemeente {place}", NL_TOWNS, 10, 80,
        30_000, 0.8, 2_500, 500_000, _SINGLE, "Gemeentelijke belastingen",
    ),
    CreditorType(
        "pl_lender", "PL", "PLN", "Pożyczka {place}", PL_REGIONS, 6, 0,
        1_000_000, 0.9, 200_000, 10_000_000, (1, 0, 0), "Zaległa rata pożyczki",
    ),
    CreditorType(
        "nl_webshop", "NL", "EUR", "{place}shop.nl", NL_BRANDS, 9, 100,
        9_500, 0.8, 1_000, 250_000, _SINGLE, "Bestelling",
    ),
    CreditorType(
        "nl_housing", "NL", "EUR", "Woonstichting {place}", NL_TOWNS, 6, 30,
        95_000, 0.6, 15_000, 800_000, _SINGLE, "Huurachterstand",
    ),
    CreditorType(
        "nl_lender", "NL", "EUR", "{place} Krediet", NL_BRANDS, 5, 0,
        250_000, 0.9, 50_000, 2_500_000, (1, 0, 0), "Achterstand persoonlijke lening",
    ),
)  # fmt: skip
# The first creditors follow CREDITOR_TYPES in order: three already cover the three
# countries, seven give each country the two creditors that cross-creditor debtors need,
# thirteen cover every type. Further creditors are drawn by volume.

TIMEZONES = {"NL": "Europe/Amsterdam", "BE": "Europe/Brussels", "PL": "Europe/Warsaw"}
UNIT_PER_EUR_X100 = {"EUR": 100, "PLN": 430}  # PLN amounts ≈ 4.3 times the euro figure


@dataclass(frozen=True, slots=True)
class _Creditor:
    id: int
    name: str
    kind: CreditorType
    currency: Currency
    cum_claims: tuple[int, ...]
    mu: float  # log of the median claim: the lognormal's location


def _creditor_names(rng: random.Random, count: int) -> list[tuple[str, CreditorType]]:
    volumes = list(accumulate(t.volume for t in CREDITOR_TYPES))
    taken: set[str] = set()
    out: list[tuple[str, CreditorType]] = []
    for i in range(count):
        if i < len(CREDITOR_TYPES):
            kind = CREDITOR_TYPES[i]
        else:
            kind = rng.choices(CREDITOR_TYPES, cum_weights=volumes)[0]
        places = list(kind.places)
        rng.shuffle(places)
        name = next(
            (n for p in places if (n := f"{kind.template.format(place=p)} (demo)") not in taken),
            None,
        )
        number = 2
        while name is None:
            candidate = f"{kind.template.format(place=places[0])} {number} (demo)"
            name = candidate if candidate not in taken else None
            number += 1
        taken.add(name)
        out.append((name, kind))
    return out


# --- people --------------------------------------------------------------------------

_FOLD = str.maketrans({"ł": "l", "Ł": "L", "ø": "o", "æ": "ae", "ß": "ss"})
# "Rue" three times: most streets are rues.
_FR_STREET_KINDS = ("Rue", "Rue", "Rue", "Avenue", "Chaussée", "Place", "Boulevard", "Clos")
_FR_STREET_BASES = (
    "de la Station",
    "de l'Église",
    "du Moulin",
    "des Écoles",
    "de la Gare",
    "du Centre",
    "Haute",
    "de Namur",
    "de Bruxelles",
    "des Champs",
    "du Bois",
    "de la Chapelle",
    "Saint-Pierre",
    "des Alliés",
    "Albert Ier",
    "Léopold II",
    "de la Liberté",
    "du Marché",
    "des Prés",
    "de la Fontaine",
)
# Small businesses are named after their owner; Faker's company lists hold real firms
# (nl_NL has Shell and ING), which must not appear as debtors.
_TRADES = {
    "nl": (
        "Bouwbedrijf",
        "Schildersbedrijf",
        "Kapsalon",
        "Bakkerij",
        "Installatiebedrijf",
        "Transportbedrijf",
        "Hoveniersbedrijf",
        "Adviesbureau",
        "Autobedrijf",
        "Eetcafé",
        "Klusbedrijf",
        "Schoonmaakbedrijf",
    ),
    "fr": (
        "Boulangerie",
        "Garage",
        "Menuiserie",
        "Toitures",
        "Transports",
        "Salon",
        "Bureau d'études",
        "Traiteur",
        "Nettoyage",
        "Jardins",
    ),
    "pl": (
        "Usługi Budowlane",
        "Piekarnia",
        "Transport",
        "Zakład Fryzjerski",
        "Warsztat Samochodowy",
        "Biuro Rachunkowe",
        "Hurtownia",
        "Kwiaciarnia",
        "Usługi Remontowe",
        "Sklep Spożywczy",
    ),
}
_LEGAL_FORMS = {
    "nl_NL": ("", "B.V.", "V.O.F."),
    "nl_BE": ("", "BV", "CommV"),
    "fr_BE": ("", "SRL", "SComm"),
    "pl_PL": ("", "Sp. z o.o.", "s.c."),
}
_EMAIL_DOMAINS = ("example.com", "example.net", "example.org")  # reserved (RFC 2606)
_NL_POSTCODE_LETTERS = "ABCDEGHJKLMNPRSTVWXZ"
_PL_MOBILE_PREFIXES = ("50", "51", "53", "57", "60", "66", "69", "72", "73", "78", "79", "88")
_IBAN_DIGITS = str.maketrans({chr(c): str(c - 55) for c in range(ord("A"), ord("Z") + 1)})


def _fold(text: str) -> str:
    """Lower-case ASCII letters and digits only: for e-mail local parts."""
    ascii_ = unicodedata.normalize("NFKD", text.translate(_FOLD)).encode("ascii", "ignore")
    return "".join(ch for ch in ascii_.decode().lower() if ch.isalnum())


def iban_check_digits(country: str, bban: str) -> str:
    """ISO 13616 check digits: 98 minus the BBAN, country and 00 as a number mod 97.

    >>> iban_check_digits("NL", "ABNA0417164300")
    '91'
    """
    number = f"{bban}{country}00".translate(_IBAN_DIGITS)  # A = 10 ... Z = 35
    return f"{98 - int(number) % 97:02d}"


@dataclass(frozen=True, slots=True)
class _Locale:
    """Faker's people of one locale, drawn once into pools."""

    code: str
    country: str
    language: str
    timezone: str
    first_male: tuple[tuple[str, str], ...]  # (name, folded for e-mail)
    first_female: tuple[tuple[str, str], ...]
    last_male: tuple[tuple[str, str], ...]
    last_female: tuple[tuple[str, str], ...]
    streets: tuple[str, ...]
    cities: tuple[str, ...]
    companies: tuple[str, ...]
    bank_codes: tuple[str, ...]  # the leading part of Faker's BBANs for the country


def _pool(draw: Callable[[], str], size: int) -> tuple[tuple[str, str], ...]:
    return tuple((name, _fold(name)) for name in (draw() for _ in range(size)))


def _locales(seed: int) -> dict[str, _Locale]:
    """Pools of Faker's names, streets, cities and bank codes, one seeded Faker per locale.

    Faker is called a few thousand times here and never per debtor: its weighted
    providers cost up to 80 µs a call (nl_BE), which at a million debtors would be most
    of the run. Drawing from pools keeps Faker's frequencies (common names stay common).
    """
    fakers: dict[str, Faker] = {}
    for code in ("nl_NL", "nl_BE", "fr_BE", "pl_PL"):
        fake = Faker(code)
        fake.seed_instance(seed)
        fakers[code] = fake
    out: dict[str, _Locale] = {}
    for code, fake in fakers.items():
        country = code[-2:]
        # fr_BE has only people in Faker (addresses and banks fall back to en_US):
        # Belgian cities and bank codes come from nl_BE, French street names are composed.
        local = fakers["nl_BE"] if code == "fr_BE" else fake
        last_male = _pool(fake.last_name_male, 1500)
        surnames = [n for n, _ in last_male]
        if code == "fr_BE":
            streets = tuple(
                f"{kind} {base}"
                for kind in _FR_STREET_KINDS
                for base in (*_FR_STREET_BASES, *surnames[:40])
            )
        else:
            streets = tuple(fake.street_name() for _ in range(1500))
        trades, forms = _TRADES[code[:2]], _LEGAL_FORMS[code]
        companies = tuple(
            " ".join(
                part
                for part in (
                    fake.random_element(trades),
                    fake.random_element(surnames),
                    fake.random_element(forms),
                )
                if part
            )
            for _ in range(1000)
        )
        # Faker's BBAN layouts: NL four letters + ten digits, BE three-digit bank code +
        # seven digits + mod-97 check, PL twenty-four digits (an eight-digit sort code).
        prefix = {"NL": 4, "BE": 3, "PL": 8}[country]
        out[code] = _Locale(
            code=code,
            country=country,
            language=code[:2],
            timezone=TIMEZONES[country],
            first_male=_pool(fake.first_name_male, 1000),
            first_female=_pool(fake.first_name_female, 1000),
            last_male=last_male,
            last_female=_pool(fake.last_name_female, 1500),
            streets=streets,
            cities=tuple(local.city() for _ in range(1000)),
            companies=companies,
            bank_codes=tuple(local.bban()[:prefix] for _ in range(200)),
        )
    return out


# --- the generator -------------------------------------------------------------------


@dataclass(slots=True)
class _PlannedCase:
    creditor: _Creditor
    claims: list[NewClaim]
    principal_cents: int
    segment: str
    payments: list[tuple[int, int]]  # (day after the handover, cents)


@dataclass(slots=True)
class _PlannedDebtor:
    debtor: NewDebtor
    locale: _Locale
    cases: list[_PlannedCase]


# Segment weights per mille by principal band (euro terms); see the module docstring.
_SEGMENT_TABLE = {
    "small": (150, 100, 110, 70, 570),
    "mid": (80, 70, 130, 370, 350),
    "large": (30, 30, 120, 460, 360),
}
_BUSINESS_SEGMENTS = (160, 140, 120, 120, 460)
_CASE_SEGMENTS = SEGMENTS[:5]


class _Generator:
    """Every draw of the portfolio, from one ``random.Random(seed)`` in a fixed order.

    The hot paths use ``random()`` arithmetic rather than ``randint``/``choices``: the
    standard helpers cost microseconds per call, and a debtor takes some thirty draws.
    """

    def __init__(self, seed: int, on: date, horizon: int) -> None:
        self.seed = seed
        self.days_ago = [on - timedelta(days=d) for d in range(301)]
        self.rng = random.Random(seed)  # noqa: S311 - synthetic data, not secrets
        self.random = self.rng.random
        self.locales = _locales(seed)
        self.horizon = horizon
        self.creditors: list[_Creditor] = []
        self.cum_volume: list[int] = []
        self.by_country: dict[str, list[_Creditor]] = {}
        self.claim_no = 0
        self.segment_cum = {k: list(accumulate(v)) for k, v in _SEGMENT_TABLE.items()}
        self.business_cum = list(accumulate(_BUSINESS_SEGMENTS))

    def creditor_names(self, count: int) -> list[tuple[str, CreditorType]]:
        return _creditor_names(self.rng, count)

    def use_creditors(self, creditors: list[_Creditor]) -> None:
        # Creditors differ in size within a type: a factor of about 0.4-2.5, as an integer
        # weight so that the cumulative weights are exact.
        sizes = [max(1, round(100 * self.rng.lognormvariate(0.0, 0.5))) for _ in creditors]
        self.creditors = creditors
        self.cum_volume = list(
            accumulate(c.kind.volume * s for c, s in zip(creditors, sizes, strict=True))
        )
        for c in creditors:
            self.by_country.setdefault(c.kind.jurisdiction, []).append(c)

    # draws ----------------------------------------------------------------------------
    def between(self, low: int, high: int) -> int:
        """An integer in [low, high], both included."""
        return low + int(self.random() * (high - low + 1))

    def pick(self, items: Sequence[T]) -> T:
        return items[int(self.random() * len(items))]

    def weighted(self, items: Sequence[T], cum_weights: Sequence[int]) -> T:
        return items[bisect_right(cum_weights, self.random() * cum_weights[-1])]

    def chance(self, permille: int) -> bool:
        return self.random() * 1000 < permille

    # debtors ------------------------------------------------------------------------
    def debtor(self, on: date) -> _PlannedDebtor:
        first = self.weighted(self.creditors, self.cum_volume)
        country = first.kind.jurisdiction
        if country == "BE":  # Flanders and Brussels/Wallonia, roughly by population
            locale = self.locales["nl_BE" if self.chance(600) else "fr_BE"]
        else:
            locale = self.locales["nl_NL" if country == "NL" else "pl_PL"]
        business = self.chance(first.kind.business_permille)
        debtor = self.person(locale, on, business=business)
        chosen = [first]
        if self.chance(135):
            peers = [
                c
                for c in self.by_country[country]
                if c is not first and (not business or c.kind.business_permille)
            ]
            if peers:
                extra = 1 if len(peers) == 1 or self.chance(700) else 2
                chosen.extend(self.rng.sample(peers, extra))
        # Vulnerability belongs to the person; people owing several creditors are more
        # often in problem debt.
        vulnerable = not business and self.chance(150 if len(chosen) > 1 else 70)
        cases = [self.case(c, on, business=business, vulnerable=vulnerable) for c in chosen]
        return _PlannedDebtor(debtor, locale, cases)

    def person(self, loc: _Locale, on: date, *, business: bool) -> NewDebtor:
        chance = self.chance
        male = chance(500)
        first, first_f = self.pick(loc.first_male if male else loc.first_female)
        last, last_f = self.pick(loc.last_male if male else loc.last_female)
        street, city, postcode = self.address(loc)
        iban = self.iban(loc) if chance(900 if business else 750) else None
        phone = self.phone(loc.country) if chance(900 if business else 800) else None
        if business:
            name = self.pick(loc.companies)
            number = self.company_number(loc.country)
            domain = self.pick(_EMAIL_DOMAINS)
            email = f"info@{_fold(name)[:40]}.{domain}" if chance(950) else None
            key = identity_key(name, birth_date=None, postcode=postcode, company_number=number)
            birth = None
        else:
            name = f"{first} {last}"
            # Ages 18-85, most between 25 and 55.
            age_days = int(self.rng.triangular(18 * 365 + 5, 85 * 365, 36 * 365))
            birth = on - timedelta(days=age_days)
            if chance(850):
                suffix = str(self.between(1, 99)) if chance(500) else ""
                email = f"{first_f}.{last_f}{suffix}@{self.pick(_EMAIL_DOMAINS)}"
            else:
                email = None
            key = identity_key(name, birth_date=birth, postcode=postcode)
        return NewDebtor(
            identity_key=key,
            kind="business" if business else "consumer",
            name=name,
            country=loc.country,
            language=loc.language,
            timezone=loc.timezone,
            email=email,
            phone=phone,
            iban=iban,
            street=street,
            postcode=postcode,
            city=city,
            birth_date=birth,
        )

    def address(self, loc: _Locale) -> tuple[str, str, str]:
        number = self.between(1, 250)
        street = self.pick(loc.streets)
        if loc.country == "NL":
            letters = self.pick(_NL_POSTCODE_LETTERS) + self.pick(_NL_POSTCODE_LETTERS)
            postcode = f"{self.between(1011, 9999)} {letters}"
            suffix = self.pick(("A", "B", "-1", "-2")) if self.chance(100) else ""
            line = f"{street} {number}{suffix}"
        elif loc.country == "BE":
            if loc.language == "fr":  # Brussels, Walloon Brabant, Wallonia
                postcode, line = (
                    str(self.between(1000, 1499) if self.chance(400) else self.between(4000, 7999)),
                    f"{street} {number}",
                )
            else:
                postcode, line = (
                    str(self.between(1500, 3999) if self.chance(500) else self.between(8000, 9992)),
                    f"{street} {number}",
                )
        else:
            postcode = f"{self.between(0, 99):02d}-{self.between(0, 999):03d}"
            flat = f"/{self.between(1, 80)}" if self.chance(400) else ""
            line = f"ul. {street} {number}{flat}"
        return line, self.pick(loc.cities), postcode

    def iban(self, loc: _Locale) -> str:
        code = self.pick(loc.bank_codes)
        if loc.country == "NL":
            bban = f"{code}{self.between(0, 9_999_999_999):010d}"
        elif loc.country == "BE":
            account = f"{code}{self.between(0, 9_999_999):07d}"
            check = int(account) % 97
            bban = f"{account}{check or 97:02d}"
        else:
            high, low = self.between(0, 99_999_999), self.between(0, 99_999_999)
            bban = f"{code}{high:08d}{low:08d}"
        return f"{loc.country}{iban_check_digits(loc.country, bban)}{bban}"

    def phone(self, country: str) -> str:
        # Mobile numbers in E.164, the form the SMS channel sends to.
        if country == "NL":
            return f"+316{self.between(10_000_000, 99_999_999)}"
        if country == "BE":
            return f"+324{self.between(60_000_000, 99_999_999)}"
        return f"+48{self.pick(_PL_MOBILE_PREFIXES)}{self.between(0, 9_999_999):07d}"

    def company_number(self, country: str) -> str:
        if country == "NL":  # KvK: eight digits
            return str(self.between(10_000_000, 99_999_999))
        if country == "BE":  # KBO/BCE: 0 + seven digits + 97 - (first eight mod 97)
            base = self.between(2_000_000, 9_999_999)
            return f"0{base:07d}{97 - base % 97:02d}"
        weights = (6, 5, 7, 2, 3, 4, 5, 6, 7)  # NIP: weighted mod 11, never 10
        while True:
            digits = [self.between(1, 9)] + [self.between(0, 9) for _ in range(8)]
            check = sum(w * d for w, d in zip(weights, digits, strict=True)) % 11
            if check != 10:
                return "".join(map(str, digits)) + str(check)

    # claims and behaviour -------------------------------------------------------------
    def case(
        self, creditor: _Creditor, on: date, *, business: bool, vulnerable: bool
    ) -> _PlannedCase:
        kind = creditor.kind
        count = 1 + self.weighted((0, 1, 2), creditor.cum_claims)
        last_issue = self.between(31, 297 - 30 * (count - 1))
        currency = creditor.currency
        interest_kind = "commercial" if business else "consumer"
        claims: list[NewClaim] = []
        total = 0
        days_ago = self.days_ago
        for k in range(count):
            # Monthly bills: the oldest first, about a month apart; due 14-30 days after
            # issue, so at least a day before the handover.
            age = last_issue + 30 * (count - 1 - k) + self.between(0, 3)
            issue, due = days_ago[age], days_ago[age - self.between(14, 30)]
            cents = round(self.rng.lognormvariate(creditor.mu, kind.sigma))
            cents = min(max(cents, kind.min_cents), kind.max_cents)
            if cents >= 10_000 and self.chance(500):  # larger bills often in whole units
                cents -= cents % 100
            self.claim_no += 1
            claims.append(
                NewClaim(
                    external_ref=f"INV-{self.seed}-{self.claim_no:08d}",
                    issue_date=issue,
                    due_date=due,
                    principal=Money.from_minor_units(cents, currency),
                    description=f"{kind.label} {issue.month:02d}/{issue.year}",
                    interest_kind=interest_kind,
                )
            )
            total += cents
        scale = UNIT_PER_EUR_X100[kind.currency]
        segment = "vulnerable" if vulnerable else self.segment(total * 100 // scale, business)
        return _PlannedCase(creditor, claims, total, segment, self.payments(segment, total, scale))

    def segment(self, eur_cents: int, business: bool) -> str:
        if business:
            cum = self.business_cum
        elif eur_cents < 25_000:
            cum = self.segment_cum["small"]
        elif eur_cents < 150_000:
            cum = self.segment_cum["mid"]
        else:
            cum = self.segment_cum["large"]
        return self.weighted(_CASE_SEGMENTS, cum)

    def payments(self, segment: str, principal: int, scale: int) -> list[tuple[int, int]]:
        """The schedule of one case: (day after the handover, cents), total ≤ principal."""
        out: list[tuple[int, int]] = []
        if segment == "early_payer":
            out.append((self.between(1, 12), principal))
        elif segment == "after_notice":
            out.append((self.between(15, 35), principal))
        elif segment == "part_payer":
            parts = self.between(2, 4)
            target = principal * self.between(25, 80) // 100
            weights = [self.between(1, 4) for _ in range(parts)]
            weight_sum = sum(weights)
            day = self.between(7, 45)
            left = target
            for i, w in enumerate(weights):
                cents = left if i == parts - 1 else target * w // weight_sum
                if cents >= 1_000 and i < parts - 1:
                    cents -= cents % 100  # people pay round amounts
                cents = min(cents, left)
                if cents > 0:
                    out.append((day, cents))
                    left -= cents
                day += self.between(14, 42)
        elif segment == "plan_seeker":
            months = round(self.rng.triangular(4, 12, 7))
            # What the household can afford: median ~€110 a month, €25-500; a plan asks
            # at least €25 a month (small debts are paid off in a few months).
            affordable = round(self.rng.lognormvariate(math.log(150 * scale), 0.45))
            affordable = min(max(affordable, 25 * scale), 600 * scale)
            instalment = min(max(-(-principal // months), 50 * scale), affordable)
            if instalment >= 1_000:
                instalment += -instalment % 100  # rounded up to whole units
            stop = self.between(1, 3) if self.chance(200) else None
            day = self.between(20, 40)
            left = principal
            while left > 0 and (stop is None or len(out) < stop) and day <= self.horizon:
                cents = min(instalment, left)
                out.append((day, cents))
                left -= cents
                day += 30 + self.between(-2, 2)
        elif segment == "vulnerable" and not self.chance(550):
            day = self.between(10, 60)
            left = principal - 1  # token payments never settle the debt
            for _ in range(self.between(1, 3)):
                cents = min(self.between(5, 25) * scale, left)
                if cents <= 0:
                    break
                out.append((day, cents))
                left -= cents
                day += self.between(20, 45)
        return [(d, c) for d, c in out if d <= self.horizon]


# --- writing -------------------------------------------------------------------------


def generate_portfolio(
    engine: Engine,
    *,
    debtors: int,
    creditors: int,
    seed: int,
    on: date,
    now: datetime,
    horizon_days: int = 120,
    progress: Callable[[int], None] | None = None,
    chunk_size: int = 20_000,
) -> PortfolioSummary:
    """Write a synthetic portfolio handed over on ``on`` (see the module docstring).

    ``progress`` is called after each committed chunk with the number of debtors it
    added. A seed already used in this database is refused: its invoice references would
    clash.
    """
    for value, name in ((debtors, "debtors"), (creditors, "creditors")):
        if value < 1:
            raise ValidationError(f"must be at least 1, got {value}", field=name)
    if horizon_days < 1:
        raise ValidationError(f"must be at least 1, got {horizon_days}", field="horizon_days")
    if chunk_size < 1:
        raise ValidationError(f"must be at least 1, got {chunk_size}", field="chunk_size")
    with engine.begin() as conn:
        used = conn.execute(
            select(Claim.id).where(Claim.external_ref.like(f"INV-{seed}-%")).limit(1)
        ).first()
        if used is not None:
            raise ValidationError(
                f"{seed} was used before in this database (its invoice references would "
                "clash); choose another",
                field="seed",
            )
        gen = _Generator(seed, on, horizon_days)
        made = []
        for number, (name, kind) in enumerate(gen.creditor_names(creditors), start=1):
            # A payout account (computed, check digits valid, no real account behind it)
            # and the agency's agreed commission: 15 % of what is collected.
            payout = IBAN.generate("NL", bank_code="INGB", account_code=str(7_000_000 + number))
            cid = ensure_creditor(
                conn,
                name,
                jurisdiction=kind.jurisdiction,
                currency=kind.currency,
                now=now,
                strategy="standard",
                # Demo creditors do not chase the last few euros of interest and costs
                # once the principal is paid (see the cycle's small-balance write-off).
                policy={
                    "small_balance_write_off_cents": 500,
                    "payout_iban": str(payout),
                    "payout_bic": "INGBNL2A",
                    "commission_basis_points": 1500,
                },
                branding=_demo_branding(name, number),
            )
            made.append(
                _Creditor(
                    cid,
                    name,
                    kind,
                    Currency.of(kind.currency),
                    tuple(accumulate(kind.claims_weights)),
                    math.log(kind.median_cents),
                )
            )
    gen.use_creditors(made)
    days = [on + timedelta(days=d) for d in range(horizon_days + 1)]
    tally = _Tally()
    done = 0
    while done < debtors:
        size = min(chunk_size, debtors - done)
        with engine.begin() as conn:
            _write_chunk(conn, gen, size, on=on, now=now, days=days, tally=tally)
        done += size
        if progress is not None:
            progress(size)
    with engine.begin() as conn:
        _hand_over_consents(conn, on)
    analyze(engine)  # a bulk load: give PostgreSQL's planner its statistics
    return PortfolioSummary(
        creditors=len(made),
        debtors=done,
        cases=tally.cases,
        claims=tally.claims,
        principal_cents=dict(sorted(tally.principal.items())),
        scheduled_payments=tally.payments,
        scheduled_cents=dict(sorted(tally.scheduled.items())),
        segments={s: tally.segments.get(s, 0) for s in SEGMENTS},
        business_debtors=tally.business,
        cross_creditor_debtors=tally.cross,
    )


def _hand_over_consents(conn: Connection, on: date) -> None:
    """Three in five debtors with a mobile number agreed to SMS with their creditor (the
    creditor hands the consent over with the claim); SMS needs it (rules/*/contact.toml)."""
    already = select(ContactPreference.person_id).where(ContactPreference.channel == "sms")
    conn.execute(
        insert(ContactPreference).from_select(
            ["person_id", "channel", "status", "recorded_on", "source"],
            select(
                Debtor.id,
                literal("sms"),
                literal("consented"),
                literal(on),
                literal("creditor:hand-over"),
            ).where(Debtor.phone.is_not(None), Debtor.id % 5 < 3, Debtor.id.not_in(already)),
        )
    )


# Early messages go out under the creditor's own brand (white label): a colour, a sender
# and a simple logo (the initials in a square) per demo creditor.
_BRAND_COLOURS = (
    "#1d4f91",
    "#0b6e4f",
    "#8a3b12",
    "#5b2a86",
    "#005f73",
    "#9b2226",
    "#3a5a40",
    "#6c584c",
)


def _demo_branding(name: str, number: int) -> dict[str, object]:
    colour = _BRAND_COLOURS[(number - 1) % len(_BRAND_COLOURS)]
    initials = "".join(w[0] for w in name.split()[:2]).upper() or "C"
    svg = (
        '<svg xmlns="http://www.w3.org/2000/svg" width="120" height="40">'
        f'<rect width="40" height="40" rx="6" fill="{colour}"/>'
        f'<text x="20" y="26" font-family="sans-serif" font-size="16" fill="#fff" '
        f'text-anchor="middle">{initials}</text></svg>'
    )
    slug = _fold(name)[:30] or f"creditor{number}"
    return {
        "name": name,
        "sender_name": name,
        "sender_email": f"billing@{slug}.example",
        "primary_color": colour,
        "accent_color": "#f4f6f8",
        "logo_data_uri": "data:image/svg+xml;base64,"
        + base64.b64encode(svg.encode("utf-8")).decode("ascii"),
        "website": f"https://www.{slug}.example",
        # Language-neutral: the templates add "on behalf of" in the debtor's language.
        "footer": f"{name} · www.{slug}.example",
    }


@dataclass(slots=True)
class _Tally:
    cases: int = 0
    claims: int = 0
    payments: int = 0
    business: int = 0
    cross: int = 0
    principal: Counter[str] = field(default_factory=Counter)
    scheduled: Counter[str] = field(default_factory=Counter)
    segments: Counter[str] = field(default_factory=Counter)


def _write_chunk(
    conn: Connection,
    gen: _Generator,
    size: int,
    *,
    on: date,
    now: datetime,
    days: Sequence[date],
    tally: _Tally,
) -> None:
    planned = [gen.debtor(on) for _ in range(size)]
    _make_unique(conn, gen, planned, on)
    ids = upsert_debtors(conn, [p.debtor for p in planned], now=now)
    by_creditor: dict[int, list[tuple[_PlannedDebtor, _PlannedCase]]] = {}
    for p in planned:
        tally.business += p.debtor.kind == "business"
        tally.cross += len(p.cases) > 1
        for c in p.cases:
            by_creditor.setdefault(c.creditor.id, []).append((p, c))
    payment_rows: list[dict[str, Any]] = []
    seed = gen.seed
    for creditor_id in sorted(by_creditor):
        entries = by_creditor[creditor_id]
        case_ids = open_cases(
            conn,
            creditor_id,
            [NewCase(p.debtor.identity_key, tuple(c.claims)) for p, c in entries],
            ids,
            on=on,
            actor=ACTOR,
            reason=REASON,
            now=now,
        )
        currency = entries[0][1].creditor.kind.currency
        for case_id, (_, c) in zip(case_ids, entries, strict=True):
            tally.cases += 1
            tally.claims += len(c.claims)
            tally.principal[currency] += c.principal_cents
            tally.segments[c.segment] += 1
            for k, (day, cents) in enumerate(c.payments, start=1):
                payment_rows.append(
                    {
                        "case_id": case_id,
                        "received_on": days[day],
                        "amount_cents": cents,
                        "source_ref": f"demo-{seed}-{case_id}-{k}",
                        "booked": False,
                    }
                )
                tally.scheduled[currency] += cents
    tally.payments += len(payment_rows)
    for start in range(0, len(payment_rows), 5000):
        conn.execute(insert(Payment), payment_rows[start : start + 5000])


def _make_unique(
    conn: Connection, gen: _Generator, planned: list[_PlannedDebtor], on: date
) -> None:
    """Redraw the rare person whose identity key is taken: two people are never merged.

    Names repeat (Poland's Faker has about a hundred first names), so at a million
    debtors a few share a name and a birth date. Redrawing (deterministically, in order)
    keeps every debtor of the portfolio a separate record.
    """
    seen: set[str] = set()
    keys = [p.debtor.identity_key for p in planned]
    taken: set[str] = set()
    for start in range(0, len(keys), 5000):
        chunk = keys[start : start + 5000]
        taken.update(
            conn.execute(select(Debtor.identity_key).where(Debtor.identity_key.in_(chunk)))
            .scalars()
            .all()
        )
    for p in planned:
        while p.debtor.identity_key in seen or p.debtor.identity_key in taken:
            p.debtor = gen.person(p.locale, on, business=p.debtor.kind == "business")
        seen.add(p.debtor.identity_key)


def existing_cases(engine: Engine) -> int:
    """How many cases the database holds (the CLI refuses to mix a demo into real data)."""
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(Case)).scalar() or 0)


def pay_plan_instalments(conn: Connection, on: date, *, now: datetime) -> int:
    """The demo's bank for payment plans: instalments due today are paid, mostly.

    Debtors on a plan sized to their capacity usually keep it. To show the follow-up, every
    third plan misses its second instalment (a reminder, then a re-plan offer, follow) and
    pays again from the third; nothing here is random, so the demo is the same every run.
    """
    from respite.adapters.db.models import Instalment, Plan
    from respite.services.plans import book_plan_payment

    rows = conn.execute(
        select(
            Instalment.plan_id,
            Plan.first_due,
            func.sum(Instalment.amount_cents - Instalment.paid_cents),
        )
        .join(Plan, Plan.id == Instalment.plan_id)
        .where(Instalment.due_date == on, Instalment.status == "open", Plan.status == "active")
        .group_by(Instalment.plan_id, Plan.first_due)
    ).all()
    paid = 0
    for raw_id, first_due, amount in rows:
        plan_id = int(raw_id or 0)
        second = (on.year - first_due.year) * 12 + on.month - first_due.month == 1
        if plan_id % 3 == 0 and second:
            continue
        if amount and amount > 0:
            book_plan_payment(conn, plan_id, int(amount), on, f"demo-plan-{plan_id}-{on}", now=now)
            paid += 1
    return paid
