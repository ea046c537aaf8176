"""Affordability: the income & expenditure statement, the protected minimum income, and
the repayment capacity that follows from both.

**The statement** (:class:`Statement`) follows the sections of the UK Standard Financial
Statement and the Nibud budget structure: *income* (wages, benefits, allowances, …), *fixed
costs* (housing, energy, water, insurance, transport, childcare, phone/internet, other
debts, …) and *flexible costs* (food, clothing, personal care, …), plus an optional savings
contribution. :func:`validate_statement` compares it with configurable reference figures
per household type and returns :class:`Flag` values: an unusual value is flagged
``"confirm"`` (ask the debtor or agent to confirm it) and is never rejected; sub-totals
that do not add up are flagged ``"inconsistent"``.

**The protected minimum** (:func:`protected_income`) is what the law leaves a debtor:

* NL *beslagvrije voet* (art. 475b–475e Rv, since 2021). Low income (net income incl.
  vakantietoeslag at or below the bijstandsnorm): 95 % of net income. High income: a fixed
  maximum per household and date. Middle income: the law adds a *compensatiekop* to 95 %
  of the norm; its variables (Besluit beslagvrije voet, government rekentool) are not
  modelled. Respite protects ``min(maximum, 95 % of net income)`` for every income: exact
  for low and high incomes, and for middle incomes the upper end of the legal range (the
  statutory amount is never above the maximum, and never so high that less than 5 % of
  income remains for repayment). The approximation can therefore only protect *more* than
  the law, never less. The 95 % is rounded half-up to the cent, in the debtor's favour, so
  the part left for repayment is 5 % of net income rounded half-down.
* BE art. 1409 Gerechtelijk Wetboek: a sliding scale of seizable percentages over slices of
  net monthly income (income from work or replacement income), reduced by a fixed amount
  per dependent child; the seizable part is rounded down to the cent.
* PL art. 87 and 87(1) Kodeks pracy: for debts other than maintenance, the net minimum wage
  is free from deductions, and at most half of the net wage may be taken.

**Repayment capacity** (:func:`repayment_capacity`) is income − expenditure − savings, but
never more than what the protected minimum leaves, and never negative.

Pure: no I/O, no clock; the business date is a parameter. Rule figures come in as
date-effective tables (:class:`respite.rules.tables.RuleTable` satisfies
:class:`DatedRule`), loaded by :mod:`respite.rules.affordability`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_DOWN, Decimal
from enum import Enum
from typing import Literal, Protocol, TypeVar

from respite.domain.money import Currency, Money, money_sum
from respite.errors import RuleCoverageError, ValidationError

__all__ = [
    "CATEGORIES",
    "BEProtectedIncomeRule",
    "Band",
    "Capacity",
    "DatedRule",
    "DeclaredTotals",
    "Flag",
    "Household",
    "IncomeKind",
    "NLProtectedIncomeRule",
    "PLProtectedIncomeRule",
    "ProtectedIncome",
    "ProtectedIncomeRule",
    "ReferenceBudget",
    "Section",
    "SeizableBracket",
    "SeizableScale",
    "Statement",
    "protected_income",
    "repayment_capacity",
    "section_of",
    "validate_statement",
]

T_co = TypeVar("T_co", covariant=True)
HUNDRED = Decimal(100)

# rule tables ----------------------------------------------------------------------


class RuleRow(Protocol[T_co]):
    """One dated row of a rule table (:class:`respite.rules.tables.Versioned`)."""

    @property
    def valid_from(self) -> date: ...

    @property
    def value(self) -> T_co: ...

    @property
    def source(self) -> str: ...


class DatedRule(Protocol[T_co]):
    """A date-effective table (:class:`respite.rules.tables.RuleTable`): the row on a date,
    or :class:`~respite.errors.RuleCoverageError` outside its coverage."""

    @property
    def name(self) -> str: ...

    @property
    def origin(self) -> str: ...

    def at(self, on: date) -> RuleRow[T_co]: ...


# households and the statement -----------------------------------------------------


class Household(Enum):
    """The four living situations of the NL beslagvrije voet (alleenstaande,
    alleenstaande ouder, gehuwden/samenwonenden zonder en met kinderen)."""

    SINGLE = "single"
    SINGLE_PARENT = "single_parent"
    COUPLE = "couple"
    COUPLE_WITH_CHILDREN = "couple_with_children"

    @property
    def cli_name(self) -> str:
        """The spelling on the command line: ``single-parent``."""
        return self.value.replace("_", "-")

    @classmethod
    def parse(cls, text: str) -> Household:
        """``single-parent`` or ``single_parent`` (any case)."""
        key = text.strip().lower().replace("-", "_")
        for member in cls:
            if member.value == key:
                return member
        known = ", ".join(m.cli_name for m in cls)
        raise ValidationError(f"unknown household {text!r} (known: {known})", field="household")


class Section(Enum):
    INCOME = "income"
    FIXED = "fixed"
    FLEXIBLE = "flexible"

    @property
    def title(self) -> str:
        return {"income": "income", "fixed": "fixed costs", "flexible": "flexible costs"}[
            self.value
        ]


# UK SFS (MAPS developer toolkit) and Nibud budget categories, one name per concept.
CATEGORIES: Mapping[Section, tuple[str, ...]] = {
    Section.INCOME: ("wages", "benefits", "allowances", "pension", "maintenance", "other_income"),
    Section.FIXED: (
        "housing",
        "local_taxes",
        "energy",
        "water",
        "insurance",
        "health",
        "transport",
        "childcare",
        "education",
        "phone_internet",
        "other_debts",
        "other_fixed",
    ),
    Section.FLEXIBLE: (
        "food",
        "clothing",
        "personal_care",
        "household",
        "leisure",
        "other_flexible",
    ),
}
_SECTION_OF = {category: section for section, names in CATEGORIES.items() for category in names}


def section_of(category: str) -> Section:
    """The section a category belongs to; an unknown category is an input error."""
    try:
        return _SECTION_OF[category]
    except KeyError:
        known = "; ".join(f"{s.value}: {', '.join(names)}" for s, names in CATEGORIES.items())
        raise ValidationError(
            f"unknown category {category!r} (known — {known})", field=category
        ) from None


@dataclass(frozen=True, slots=True)
class DeclaredTotals:
    """Sub-totals as the debtor or the source document states them (optional).

    They are compared with the sum of the lines; a difference is flagged, never corrected.
    """

    income: Money | None = None
    fixed: Money | None = None
    flexible: Money | None = None
    expenditure: Money | None = None

    def for_section(self, section: Section) -> Money | None:
        return {Section.INCOME: self.income, Section.FIXED: self.fixed}.get(section, self.flexible)


@dataclass(frozen=True, slots=True)
class Statement:
    """An income & expenditure statement: monthly amounts by category in three sections."""

    household: Household
    currency: Currency
    income: Mapping[str, Money]
    fixed: Mapping[str, Money]
    flexible: Mapping[str, Money]
    savings: Money | None = None
    declared: DeclaredTotals = field(default_factory=DeclaredTotals)

    def __post_init__(self) -> None:
        for section in Section:
            for category, amount in self.section(section).items():
                where = f"{section.value}.{category}"
                if section_of(category) is not section:
                    raise ValidationError(
                        f"{category!r} belongs to {section_of(category).title}, "
                        f"not {section.title}",
                        field=where,
                    )
                self._check(amount, where)
        if self.savings is not None:
            self._check(self.savings, "savings")
        for name in ("income", "fixed", "flexible", "expenditure"):
            declared = getattr(self.declared, name)
            if declared is not None:
                self._check(declared, f"declared.{name}")

    def _check(self, amount: Money, where: str) -> None:
        if not isinstance(amount, Money):
            raise TypeError(f"{where}: expected Money, got {type(amount).__name__}")
        if amount.currency is not self.currency:
            raise ValidationError(
                f"amount in {amount.currency.code}, the statement is in {self.currency.code}",
                field=where,
            )
        if amount.is_negative:
            raise ValidationError(f"must not be negative, got {amount}", field=where)

    @classmethod
    def from_lines(
        cls,
        household: Household,
        currency: Currency,
        lines: Mapping[str, Money],
        *,
        savings: Money | None = None,
        declared: DeclaredTotals | None = None,
    ) -> Statement:
        """A statement from ``category -> amount``; each category knows its section."""
        by_section: dict[Section, dict[str, Money]] = {s: {} for s in Section}
        for category, amount in lines.items():
            by_section[section_of(category)][category] = amount
        return cls(
            household,
            currency,
            by_section[Section.INCOME],
            by_section[Section.FIXED],
            by_section[Section.FLEXIBLE],
            savings,
            declared or DeclaredTotals(),
        )

    def section(self, section: Section) -> Mapping[str, Money]:
        return {Section.INCOME: self.income, Section.FIXED: self.fixed}.get(section, self.flexible)

    def lines(self) -> Iterator[tuple[Section, str, Money]]:
        for section in Section:
            for category, amount in self.section(section).items():
                yield section, category, amount

    def total(self, section: Section) -> Money:
        return money_sum(self.section(section).values(), self.currency)

    @property
    def total_income(self) -> Money:
        return self.total(Section.INCOME)

    @property
    def total_expenditure(self) -> Money:
        return self.total(Section.FIXED) + self.total(Section.FLEXIBLE)

    @property
    def savings_contribution(self) -> Money:
        return self.savings if self.savings is not None else Money.zero(self.currency)


# validation ------------------------------------------------------------------------

Severity = Literal["confirm", "inconsistent"]


@dataclass(frozen=True, slots=True)
class Flag:
    """A remark on a statement: ``confirm`` asks for confirmation of an unusual value;
    ``inconsistent`` says that figures of the statement contradict each other."""

    code: str
    category: str
    message: str
    severity: Severity

    def as_dict(self) -> dict[str, str]:
        return {
            "code": self.code,
            "category": self.category,
            "severity": self.severity,
            "message": self.message,
        }


@dataclass(frozen=True, slots=True)
class Band:
    """Reference figures for one category: below ``low`` or above ``high`` is unusual."""

    low: Decimal | None = None
    high: Decimal | None = None


@dataclass(frozen=True, slots=True)
class ReferenceBudget:
    """Configurable reference figures in force on one date (per household and category)."""

    currency: Currency
    figures: Mapping[tuple[Household, str], Band]
    expected: frozenset[str] = frozenset()
    fixed_costs_max_share: Decimal | None = None  # percent of income
    source: str = ""


def validate_statement(statement: Statement, reference: ReferenceBudget | None) -> list[Flag]:
    """Every remark on a statement, in a stable order; never raises for unusual values.

    Inconsistencies first (declared sub-totals that differ from their lines), then values
    to confirm (outside the reference figures, missing expected categories, fixed costs
    above the share of income, spending above income).
    """
    flags: list[Flag] = []
    declared = statement.declared
    for section in Section:
        stated = declared.for_section(section)
        computed = statement.total(section)
        if stated is not None and stated != computed:
            flags.append(
                Flag(
                    "subtotal_mismatch",
                    section.value,
                    f"{section.title}: the lines add up to {computed}, but the declared "
                    f"sub-total is {stated} (difference {stated - computed})",
                    "inconsistent",
                )
            )
    if declared.expenditure is not None:
        parts = [
            declared.for_section(s) or statement.total(s) for s in (Section.FIXED, Section.FLEXIBLE)
        ]
        expected_total = parts[0] + parts[1]
        if declared.expenditure != expected_total:
            flags.append(
                Flag(
                    "total_mismatch",
                    "expenditure",
                    f"total expenditure: fixed + flexible costs add up to {expected_total}, "
                    f"but the declared total is {declared.expenditure}",
                    "inconsistent",
                )
            )

    income = statement.total_income
    if reference is not None:
        if reference.currency is not statement.currency:
            raise ValidationError(
                f"reference figures are in {reference.currency.code}, "
                f"the statement is in {statement.currency.code}",
                field="currency",
            )
        flags += _reference_flags(statement, reference)
        share = reference.fixed_costs_max_share
        fixed = statement.total(Section.FIXED)
        if (
            share is not None
            and income.is_positive
            and fixed.amount * HUNDRED > income.amount * share
        ):
            flags.append(
                Flag(
                    "fixed_costs_share_high",
                    "fixed",
                    f"fixed costs {fixed} are more than {_pct(share)} % of income {income}; "
                    "please confirm",
                    "confirm",
                )
            )
    if not income.is_positive:
        flags.append(Flag("no_income", "income", "no income is stated; please confirm", "confirm"))
    outgoings = statement.total_expenditure + statement.savings_contribution
    if outgoings > income:
        flags.append(
            Flag(
                "expenditure_exceeds_income",
                "statement",
                f"expenditure and savings {outgoings} exceed income {income} "
                f"by {outgoings - income}; please confirm",
                "confirm",
            )
        )
    return flags


def _reference_flags(statement: Statement, reference: ReferenceBudget) -> list[Flag]:
    flags: list[Flag] = []
    present = {category for _, category, amount in statement.lines() if amount.is_positive}
    for category in sorted(reference.expected - present):
        flags.append(
            Flag(
                "missing_expected",
                category,
                f"no {category.replace('_', ' ')} costs are stated; please confirm "
                "(for example: living with family, costs paid by someone else)",
                "confirm",
            )
        )
    for _, category, amount in statement.lines():
        band = reference.figures.get((statement.household, category))
        if band is None or not amount.is_positive:
            continue
        label = category.replace("_", " ")
        household = statement.household.cli_name
        if band.low is not None and amount.amount < band.low:
            flags.append(
                Flag(
                    "below_reference",
                    category,
                    f"{label} {amount} is below the reference figure {band.low:.2f} for a "
                    f"{household} household; please confirm",
                    "confirm",
                )
            )
        if band.high is not None and amount.amount > band.high:
            flags.append(
                Flag(
                    "above_reference",
                    category,
                    f"{label} {amount} is above the reference figure {band.high:.2f} for a "
                    f"{household} household; please confirm",
                    "confirm",
                )
            )
    return flags


# the protected minimum ---------------------------------------------------------------


class IncomeKind(Enum):
    """BE art. 1409 § 1 (income from work) or § 1bis (replacement income)."""

    WORK = "work"
    REPLACEMENT = "replacement"


@dataclass(frozen=True, slots=True)
class NLProtectedIncomeRule:
    """NL beslagvrije voet: the bijstandsnorm and the maximum, per household and date."""

    title: str
    origin: str
    currency: Currency
    low_income_percent: Decimal
    low_income_source: str
    norm: DatedRule[Mapping[Household, Decimal]]
    # ``None`` in a row: the value for that period is not known (a coverage error).
    maximum: DatedRule[Mapping[Household, Decimal] | None]
    jurisdiction: str = "NL"


@dataclass(frozen=True, slots=True)
class SeizableBracket:
    """A slice of net monthly income up to ``up_to`` (inclusive; ``None``: no limit)."""

    up_to: Decimal | None
    percent: Decimal


@dataclass(frozen=True, slots=True)
class SeizableScale:
    work: tuple[SeizableBracket, ...]
    replacement: tuple[SeizableBracket, ...]
    per_child: Decimal


@dataclass(frozen=True, slots=True)
class BEProtectedIncomeRule:
    """BE art. 1409 Ger.W.: seizable slices of net income, less an amount per child."""

    title: str
    origin: str
    currency: Currency
    scale: DatedRule[SeizableScale]
    jurisdiction: str = "BE"


@dataclass(frozen=True, slots=True)
class PLProtectedIncomeRule:
    """PL art. 87(1) KP: the net minimum wage is free; at most a share of the wage."""

    title: str
    origin: str
    currency: Currency
    free_amount: DatedRule[Decimal]
    max_share_percent: Decimal
    max_share_source: str
    jurisdiction: str = "PL"


ProtectedIncomeRule = NLProtectedIncomeRule | BEProtectedIncomeRule | PLProtectedIncomeRule


@dataclass(frozen=True, slots=True)
class ProtectedIncome:
    """What the law leaves the debtor (``protected``) and what is left for repayment."""

    jurisdiction: str
    household: Household
    on: date
    net_income: Money
    protected: Money
    available: Money
    regime: str
    explanation: str
    sources: tuple[str, ...]

    def as_dict(self) -> dict[str, object]:
        return {
            "jurisdiction": self.jurisdiction,
            "household": self.household.cli_name,
            "on": self.on.isoformat(),
            "currency": self.net_income.currency.code,
            "net_income": str(self.net_income),
            "protected": str(self.protected),
            "available": str(self.available),
            "regime": self.regime,
            "explanation": self.explanation,
            "sources": list(self.sources),
        }


def protected_income(
    rule: ProtectedIncomeRule,
    household: Household,
    net_income: Money,
    on: date,
    *,
    children: int = 0,
    income_kind: IncomeKind = IncomeKind.WORK,
) -> ProtectedIncome:
    """The protected minimum for a monthly net income on ``on`` (see the module docstring).

    ``children`` (dependent children) and ``income_kind`` matter for BE only; in NL the
    household type carries the children.
    """
    if net_income.currency is not rule.currency:
        raise ValidationError(
            f"{rule.jurisdiction} protected income is computed in {rule.currency.code}, "
            f"not {net_income.currency.code}",
            field="net_income",
        )
    if net_income.is_negative:
        raise ValidationError(f"must not be negative, got {net_income}", field="net_income")
    if children < 0:
        raise ValidationError(f"must not be negative, got {children}", field="children")
    if isinstance(rule, NLProtectedIncomeRule):
        return _nl(rule, household, net_income, on)
    if isinstance(rule, BEProtectedIncomeRule):
        return _be(rule, household, net_income, on, children, income_kind)
    return _pl(rule, household, net_income, on)


def _pct(value: Decimal) -> str:
    return format(value.normalize(), "f")


def _nl(rule: NLProtectedIncomeRule, household: Household, net: Money, on: date) -> ProtectedIncome:
    norm_row = rule.norm.at(on)
    max_row = rule.maximum.at(on)
    if max_row.value is None:
        raise RuleCoverageError(
            f"{rule.maximum.name}: the value from {max_row.valid_from.isoformat()} is not "
            f"known ({max_row.source}); no value for {on.isoformat()} — add it to "
            f"{rule.maximum.origin}"
        )
    cur = rule.currency
    norm = Money.rounded(norm_row.value[household], cur)
    maximum = Money.rounded(max_row.value[household], cur)
    share = net.times(rule.low_income_percent / HUNDRED)
    protected = maximum.min(share)
    available = net - protected
    pct = _pct(rule.low_income_percent)
    if net <= norm:
        regime = "low_income"
        why = (
            f"net income {net} is at or below the bijstandsnorm {norm}: "
            f"the beslagvrije voet is {pct} % of net income = {protected}"
        )
    elif share >= maximum:
        regime = "high_income"
        why = f"{pct} % of net income ({share}) reaches the maximum: the beslagvrije voet is {maximum}"
    else:
        regime = "middle_income"
        why = (
            f"middle income: the statutory compensatiekop is not modelled; Respite protects "
            f"min(maximum {maximum}, {pct} % of net income {share}) = {protected}, the upper "
            "end of the legal range, so never less than the statutory beslagvrije voet"
        )
    lines = [
        f"NL beslagvrije voet on {on.isoformat()}, household {household.cli_name}:",
        f"- net income incl. vakantietoeslag: {net}",
        f"- bijstandsnorm incl. vakantietoeslag: {norm} (source: {norm_row.source})",
        f"- maximum beslagvrije voet: {maximum} (source: {max_row.source})",
        f"- {pct} % of net income: {share} (source: {rule.low_income_source})",
        f"- {why}",
        f"- left for repayment: {available} (at least {100 - rule.low_income_percent:.0f} % "
        "of net income)",
    ]
    return ProtectedIncome(
        "NL",
        household,
        on,
        net,
        protected,
        available,
        regime,
        "\n".join(lines),
        (norm_row.source, max_row.source, rule.low_income_source),
    )


def _seizable(net: Decimal, brackets: tuple[SeizableBracket, ...]) -> Decimal:
    total = Decimal(0)
    lower = Decimal(0)
    for bracket in brackets:
        upper = net if bracket.up_to is None else min(net, bracket.up_to)
        if upper > lower:
            total += (upper - lower) * bracket.percent / HUNDRED
        if bracket.up_to is None or net <= bracket.up_to:
            break
        lower = bracket.up_to
    return total


def _be(
    rule: BEProtectedIncomeRule,
    household: Household,
    net: Money,
    on: date,
    children: int,
    kind: IncomeKind,
) -> ProtectedIncome:
    row = rule.scale.at(on)
    scale = row.value
    brackets = scale.work if kind is IncomeKind.WORK else scale.replacement
    cur = rule.currency
    # Rounded down: a fraction of a cent stays with the debtor.
    by_scale = Money.rounded(_seizable(net.amount, brackets), cur, ROUND_DOWN)
    child_relief = Money.rounded(scale.per_child * children, cur)
    seizable = (by_scale - child_relief).max(Money.zero(cur))
    protected = net - seizable
    if by_scale.is_zero:
        regime = "fully_protected"
    elif net.amount > _top(brackets):
        regime = "above_scale"
    else:
        regime = "sliding_scale"
    slices = ", ".join(
        f"{_pct(b.percent)} % up to {b.up_to:.2f}"
        if b.up_to is not None
        else f"{_pct(b.percent)} % above"
        for b in brackets
    )
    lines = [
        f"BE art. 1409 Ger.W. on {on.isoformat()} ({kind.value} income):",
        f"- net monthly income: {net}",
        f"- seizable slices: {slices} (source: {row.source})",
        f"- seizable by the scale: {by_scale}",
        f"- dependent children: {children} x {scale.per_child:.2f} = {child_relief}",
        f"- seizable (available for repayment): {seizable}",
        f"- protected: {protected}",
    ]
    return ProtectedIncome(
        "BE", household, on, net, protected, seizable, regime, "\n".join(lines), (row.source,)
    )


def _top(brackets: tuple[SeizableBracket, ...]) -> Decimal:
    bounds = [b.up_to for b in brackets if b.up_to is not None]
    return max(bounds) if bounds else Decimal(0)


def _pl(rule: PLProtectedIncomeRule, household: Household, net: Money, on: date) -> ProtectedIncome:
    row = rule.free_amount.at(on)
    cur = rule.currency
    free = Money.rounded(row.value, cur)
    half = net.times(rule.max_share_percent / HUNDRED, ROUND_DOWN)
    above_free = (net - free).max(Money.zero(cur))
    available = above_free.min(half)
    protected = net - available
    share = _pct(rule.max_share_percent)
    if above_free.is_zero:
        regime = "fully_protected"
    elif above_free <= half:
        regime = "free_amount"
    else:
        regime = "half_of_wage"
    lines = [
        f"PL art. 87(1) KP on {on.isoformat()} (debts other than maintenance):",
        f"- net wage: {net}",
        f"- free amount (net minimum wage, full time, no PPK): {free} (source: {row.source})",
        f"- at most {share} % of the net wage: {half} (source: {rule.max_share_source})",
        f"- available for repayment: min({above_free}, {half}) = {available}",
        f"- protected: {protected}",
    ]
    return ProtectedIncome(
        "PL",
        household,
        on,
        net,
        protected,
        available,
        regime,
        "\n".join(lines),
        (row.source, rule.max_share_source),
    )


# repayment capacity ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Capacity:
    """What a debtor can repay per month, and which limit decided it."""

    income: Money
    expenditure: Money
    savings: Money
    surplus: Money  # income − expenditure − savings; may be negative
    protected: Money
    protection_limit: Money  # the most that leaves the protected amount untouched
    capacity: Money
    binding: Literal["budget", "protected_minimum"]  # which limit decided the capacity
    explanation: str

    def as_dict(self) -> dict[str, str]:
        return {
            "income": str(self.income),
            "expenditure": str(self.expenditure),
            "savings": str(self.savings),
            "surplus": str(self.surplus),
            "protected": str(self.protected),
            "protection_limit": str(self.protection_limit),
            "capacity": str(self.capacity),
            "binding": self.binding,
            "explanation": self.explanation,
        }


def repayment_capacity(statement: Statement, protected: ProtectedIncome) -> Capacity:
    """``min(income − expenditure − savings, income − protected)``, never negative.

    The protection limit is taken against both the income the protected amount was computed
    for and the statement's own income, so a repayment of at most ``capacity`` never leaves
    the debtor below the protected minimum, whichever of the two is lower.
    """
    cur = statement.currency
    if protected.net_income.currency is not cur:
        raise ValidationError(
            f"the protected amount is in {protected.net_income.currency.code}, "
            f"the statement in {cur.code}",
            field="currency",
        )
    zero = Money.zero(cur)
    income = statement.total_income
    expenditure = statement.total_expenditure
    savings = statement.savings_contribution
    surplus = income - expenditure - savings
    limit = protected.available.min(income - protected.protected).max(zero)
    capacity = surplus.min(limit).max(zero)
    binding: Literal["budget", "protected_minimum"] = (
        "budget" if surplus <= limit else "protected_minimum"
    )
    lines = [
        f"income {income} − expenditure {expenditure} − savings {savings} = {surplus}",
        f"protected minimum {protected.protected} ({protected.jurisdiction}, "
        f"{protected.regime}) leaves at most {limit}",
        f"capacity = max(0, min({surplus}, {limit})) = {capacity}",
    ]
    return Capacity(
        income,
        expenditure,
        savings,
        surplus,
        protected.protected,
        limit,
        capacity,
        binding,
        "\n".join(lines),
    )
