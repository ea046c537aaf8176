"""What going to court costs the creditor up front: the court fee and the bailiff's tariffs.

**Court fee** (NL *griffierecht*, Wet griffierechten burgerlijke zaken, bijlage): in a
*kanton* case only the claimant pays, by the claimant's kind — a legal person
(*niet-natuurlijke persoon*), a natural person, or a natural person of limited means
(*on- en minvermogenden*) — and by the band of the claim. The claim's value is its
principal plus the out-of-court collection costs and the interest that has fallen due,
as claimed in the summons. Bands include their upper bound ("meer dan € 500 en niet meer
dan € 1.500"). A claim above the kanton limit (NL € 25,000 since 1 July 2011) goes to
the civil section, whose fees are not in these tables: such a claim is refused.

**Bailiff** (NL *Besluit tarieven ambtshandelingen gerechtsdeurwaarders*, BTAG art. 2,
amounts excluding VAT): the summons (*oproeping in een vorderingsprocedure*, art. 2 a),
the service of the judgment (*betekening van een titel*, art. 2 b) and an attachment of
earnings or benefits (*beslag onder derden op periodieke betalingen*, art. 2 j).

``total_upfront`` is what the creditor advances before a judgment: court fee + summons
(the "litigation-pays-off check" of RULES.md §1e). The service of the judgment and the
attachment come later, and only if the debtor does not pay after the judgment.

A period whose figures were not found is stored as a row without a value: asking for it
raises :class:`~respite.errors.RuleCoverageError` naming the file, never a guess and never
the previous year's figure. The later bailiff acts may be unknown for a period where the
summons is known; they are then ``None`` with the reason in ``unknown``.

Pure: no I/O, no clock; the tables come in as date-effective rules loaded by
:mod:`respite.rules.court_costs`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import TypeVar

from respite.domain.affordability import DatedRule
from respite.domain.money import Currency, Money
from respite.errors import RuleCoverageError, ValidationError

T = TypeVar("T")

__all__ = [
    "BailiffTariffs",
    "Claimant",
    "CostLine",
    "CourtCostTables",
    "CourtCosts",
    "FeeBand",
    "FeeSchedule",
    "bailiff_tariffs",
    "court_costs",
    "court_fee",
]


class Claimant(StrEnum):
    """Who sues: the kind of claimant decides the court fee."""

    NATURAL = "natural"  # natuurlijke persoon (also a sole trader)
    LEGAL = "legal"  # niet-natuurlijke persoon: BV, NV, foundation, VOF, CV, ...
    INDIGENT = "indigent"  # on- en minvermogende natuurlijke persoon

    @classmethod
    def parse(cls, text: str) -> Claimant:
        try:
            return cls(text.strip().lower())
        except ValueError:
            known = ", ".join(c.value for c in cls)
            raise ValidationError(
                f"unknown claimant kind {text!r} (known: {known})", field="claimant"
            ) from None


@dataclass(frozen=True, slots=True)
class FeeBand:
    """One band of the fee table: claims up to and including ``up_to`` (``None``: no cap)."""

    up_to: Decimal | None
    legal: Decimal
    natural: Decimal
    indigent: Decimal | None  # None: not found for this period

    def fee(self, claimant: Claimant) -> Decimal | None:
        if claimant is Claimant.LEGAL:
            return self.legal
        if claimant is Claimant.NATURAL:
            return self.natural
        return self.indigent


@dataclass(frozen=True, slots=True)
class FeeSchedule:
    """The court fee bands in force for one period, lowest band first."""

    bands: tuple[FeeBand, ...]

    def __post_init__(self) -> None:
        if not self.bands:
            raise ValidationError("a fee schedule needs at least one band")
        caps = [b.up_to for b in self.bands[:-1]]
        if any(c is None for c in caps) or self.bands[-1].up_to is not None:
            raise ValidationError("only the last band may be open-ended, and it must be")
        if caps != sorted(caps):  # type: ignore[type-var]
            raise ValidationError("fee bands must be in increasing order")

    def band_for(self, claim: Decimal) -> FeeBand:
        for band in self.bands:
            if band.up_to is None or claim <= band.up_to:
                return band
        raise AssertionError("the last band is open-ended")  # pragma: no cover


@dataclass(frozen=True, slots=True)
class BailiffTariffs:
    """BTAG amounts (excl. VAT) in force for one period; ``None``: not found."""

    summons: Decimal | None
    service_of_judgment: Decimal | None
    wage_garnishment: Decimal | None


@dataclass(frozen=True, slots=True)
class CourtCostTables:
    """A jurisdiction's court-fee and bailiff tables (rows without a value: not known)."""

    jurisdiction: str
    currency: Currency
    origin: str
    court_fee: DatedRule[FeeSchedule | None]
    bailiff: DatedRule[BailiffTariffs | None]
    claim_limit: Decimal
    claim_limit_source: str


@dataclass(frozen=True, slots=True)
class CostLine:
    """One figure with where it comes from."""

    name: str
    amount: Money
    source: str


@dataclass(frozen=True, slots=True)
class CourtCosts:
    """The court and bailiff costs of suing for ``claim`` on ``on``."""

    jurisdiction: str
    claim: Money
    claimant: Claimant
    on: date
    court_fee: CostLine
    summons: CostLine
    service_of_judgment: CostLine | None
    wage_garnishment: CostLine | None
    unknown: tuple[str, ...]  # why a later act has no figure

    @property
    def total_upfront(self) -> Money:
        """Court fee + summons: what the creditor advances before any judgment."""
        return self.court_fee.amount + self.summons.amount

    @property
    def enforcement(self) -> Money | None:
        """Service of the judgment + attachment of earnings, when both are known."""
        if self.service_of_judgment is None or self.wage_garnishment is None:
            return None
        return self.service_of_judgment.amount + self.wage_garnishment.amount

    def as_dict(self) -> dict[str, object]:
        """JSON-ready: amounts as strings with two decimals, every figure with its source."""

        def amount(line: CostLine | None) -> str | None:
            return None if line is None else str(line.amount)

        lines = [self.court_fee, self.summons, self.service_of_judgment, self.wage_garnishment]
        return {
            "jurisdiction": self.jurisdiction,
            "claim": str(self.claim),
            "claimant": self.claimant.value,
            "on": self.on.isoformat(),
            "currency": self.claim.currency.code,
            "court_fee": str(self.court_fee.amount),
            "bailiff": {
                "summons": str(self.summons.amount),
                "service_of_judgment": amount(self.service_of_judgment),
                "wage_garnishment": amount(self.wage_garnishment),
            },
            "total_upfront": str(self.total_upfront),
            "sources": {line.name: line.source for line in lines if line is not None},
            "unknown": list(self.unknown),
            "note": "Bailiff amounts are BTAG tariffs excluding VAT; total_upfront is the "
            "court fee plus the summons.",
        }


def _known_row(rule: DatedRule[T | None], on: date) -> tuple[T, str]:
    row = rule.at(on)
    if row.value is None:
        raise RuleCoverageError(
            f"{rule.name}: the figures from {row.valid_from.isoformat()} are not known "
            f"({row.source}); no value for {on.isoformat()} — add them to {rule.origin}"
        )
    return row.value, row.source


def court_fee(tables: CourtCostTables, claim: Money, claimant: Claimant, on: date) -> CostLine:
    """The court fee the claimant pays to start a case for ``claim`` on ``on``."""
    _check_claim(tables, claim)
    schedule, source = _known_row(tables.court_fee, on)
    band = schedule.band_for(claim.amount)
    fee = band.fee(claimant)
    if fee is None:
        raise RuleCoverageError(
            f"{tables.court_fee.name}: the {claimant.value} fee for {on.isoformat()} is not "
            f"known ({source}) — add it to {tables.origin}"
        )
    limit = "no upper bound" if band.up_to is None else f"up to {band.up_to}"
    return CostLine(
        "court_fee",
        Money.rounded(fee, tables.currency),
        f"{source} (band {limit}, {claimant.value} claimant)",
    )


def bailiff_tariffs(tables: CourtCostTables, on: date) -> tuple[BailiffTariffs, str]:
    """The bailiff tariffs in force on ``on`` and their source."""
    return _known_row(tables.bailiff, on)


def court_costs(tables: CourtCostTables, claim: Money, claimant: Claimant, on: date) -> CourtCosts:
    """Court fee and bailiff tariffs for suing for ``claim`` on ``on``.

    Raises :class:`~respite.errors.RuleCoverageError` (naming the file) when the court fee
    or the summons is not known for ``on``, and :class:`~respite.errors.ValidationError`
    for a claim that is not positive, in another currency, or above the kanton limit.
    """
    fee = court_fee(tables, claim, claimant, on)
    tariffs, source = bailiff_tariffs(tables, on)
    if tariffs.summons is None:
        raise RuleCoverageError(
            f"{tables.bailiff.name}: the summons tariff for {on.isoformat()} is not known "
            f"({source}) — add it to {tables.origin}"
        )
    unknown: list[str] = []

    def line(name: str, value: Decimal | None, article: str) -> CostLine | None:
        if value is None:
            unknown.append(
                f"{name}: the BTAG tariff for {on.isoformat()} is not known ({source}); "
                f"add it to {tables.origin}"
            )
            return None
        return CostLine(name, Money.rounded(value, tables.currency), f"{source}, {article}")

    summons = CostLine(
        "summons", Money.rounded(tariffs.summons, tables.currency), f"{source}, art. 2 a"
    )
    return CourtCosts(
        jurisdiction=tables.jurisdiction,
        claim=claim,
        claimant=claimant,
        on=on,
        court_fee=fee,
        summons=summons,
        service_of_judgment=line("service_of_judgment", tariffs.service_of_judgment, "art. 2 b"),
        wage_garnishment=line("wage_garnishment", tariffs.wage_garnishment, "art. 2 j"),
        unknown=tuple(unknown),
    )


def _check_claim(tables: CourtCostTables, claim: Money) -> None:
    if claim.currency is not tables.currency:
        raise ValidationError(
            f"the claim is in {claim.currency.code}; {tables.jurisdiction} court fees are in "
            f"{tables.currency.code}",
            field="claim",
        )
    if not claim.is_positive:
        raise ValidationError(f"the claim must be above zero, got {claim}", field="claim")
    if claim.amount > tables.claim_limit:
        raise ValidationError(
            f"a claim of {claim} is above the kanton limit of {tables.claim_limit} "
            f"({tables.claim_limit_source}); the civil section's fees are not in "
            f"{tables.origin}",
            field="claim",
        )
