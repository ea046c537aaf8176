"""What one jurisdiction's rule pack holds, as typed values (no I/O here).

The loader (:mod:`respite.rules.loader`) builds a :class:`RulePack` from the files in
``rules/<country>/``; the calculators (:mod:`respite.services.calculators`) read it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import Enum

from respite.domain.allocation import Bucket
from respite.domain.costs import FixedSum, Scale
from respite.domain.interest import Compounding, DayCount
from respite.domain.money import Currency
from respite.errors import ValidationError
from respite.rules.tables import RuleTable

__all__ = [
    "Aggregation",
    "CostMethod",
    "CostRule",
    "HolidayCalendar",
    "InterestRule",
    "NoticeMethod",
    "NoticeRule",
    "RulePack",
]


class Aggregation(Enum):
    SUM = "sum"  # one scale over the sum of the principals covered by one reminder (NL)
    PER_CLAIM = "per_claim"  # each invoice on its own (PL: CJEU 1-12-2022)


class CostMethod(Enum):
    SCALE = "scale"  # a tiered scale over the principal (NL staffel, BE caps)
    FIXED = "fixed"  # a fixed sum per claim (BE B2B €40)
    EUR_BANDS = "eur_bands"  # fixed EUR sums by PLN bands, converted (PL art. 10)
    NONE = "none"  # the law grants no flat collection costs


@dataclass(frozen=True, slots=True)
class CostRule:
    title: str
    method: CostMethod
    aggregation: Aggregation
    scale: RuleTable[Scale] | None = None
    fixed: RuleTable[Decimal] | None = None
    bands: RuleTable[tuple[FixedSum, ...]] | None = None
    notice_required: bool = True  # costs only after the formal notice term
    note: str = ""


@dataclass(frozen=True, slots=True)
class InterestRule:
    title: str
    rates: RuleTable[Decimal]  # yearly percentage in force from each date
    compounding: Compounding
    day_count: DayCount
    note: str = ""


class NoticeMethod(Enum):
    FROM_RECEIPT = "from_receipt"
    FROM_WORKING_DAY = "from_working_day"


@dataclass(frozen=True, slots=True)
class NoticeRule:
    method: NoticeMethod
    term_days: int
    post_days: int  # NL: delivery days until receipt; BE: the N-th working day
    email_days: int
    non_delivery_weekdays: frozenset[int]  # 0 = Monday … 6 = Sunday
    extend_term_end: bool  # move a term end off weekends/holidays (NL Atw art. 1)


@dataclass(frozen=True, slots=True)
class HolidayCalendar:
    """Public holidays, taken from the ``holidays`` library and adjusted by statute."""

    country: str
    include_fixed: tuple[tuple[int, int], ...] = ()  # (month, day) added every year
    exclude_names: tuple[str, ...] = ()
    source: str = ""


@dataclass(frozen=True, slots=True)
class RulePack:
    code: str
    name: str
    currency: Currency
    costs: dict[str, CostRule]  # by debtor kind: "consumer", "business"
    interest: dict[str, InterestRule]  # by kind: "consumer", "commercial"
    allocation: RuleTable[tuple[Bucket, ...]]
    calendar: HolidayCalendar
    notice: RuleTable[NoticeRule] | None = None
    vat: RuleTable[Decimal] | None = None
    eur_rates: RuleTable[Decimal] | None = None  # PL: NBP average EUR rate by date
    consumer_interest_cap: str | None = None  # BE: name of the interest kind that caps it
    default_debtor: str = "consumer"
    extra: dict[str, str] = field(default_factory=dict)

    def interest_kind(self, kind: str) -> InterestRule:
        try:
            return self.interest[kind]
        except KeyError:
            known = ", ".join(sorted(self.interest))
            raise ValidationError(
                f"{self.code} has no interest rule for {kind!r} (known: {known})"
            ) from None

    def costs_for(self, debtor: str) -> CostRule:
        try:
            return self.costs[debtor]
        except KeyError:
            known = ", ".join(sorted(self.costs))
            raise ValidationError(
                f"{self.code} has no collection-cost rule for a {debtor!r} debtor (known: {known})"
            ) from None
