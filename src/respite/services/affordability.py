"""Income & expenditure statements: check them, store them, and read back the capacity.

:func:`check_statement` applies the pure domain (:mod:`respite.domain.affordability`) with
the jurisdiction's rule files: flags, the protected minimum for the statement's total net
income, and the repayment capacity. :func:`record_statement` stores the result as a
``budget_statements`` row (amounts as integer cents); :func:`latest_capacity` gives the
capacity of a person's latest statement, for plans and distribution.

A statement with flags is stored all the same — an unusual value is asked to be
confirmed, never rejected; ``needs_confirmation`` in the summary says whether anything is
still open (``confirmed=True`` records that the debtor or agent has confirmed it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from sqlalchemy import Connection, insert, select

from respite.adapters.db.models import BudgetStatement, Debtor
from respite.domain.affordability import (
    DeclaredTotals,
    Household,
    IncomeKind,
    Section,
    Statement,
    protected_income,
    repayment_capacity,
    validate_statement,
)
from respite.domain.money import Currency, Money, parse_amount
from respite.errors import InputError, ValidationError
from respite.rules.affordability import load_protected_income, reference_budget
from respite.rules.loader import JURISDICTIONS

__all__ = [
    "SOURCES",
    "check_statement",
    "latest_capacity",
    "parse_statement",
    "record_statement",
]

SOURCES = ("portal", "agent", "counsellor", "demo")


def _money(value: Any, currency: Currency, field: str) -> Money:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValidationError(
            f'amounts are quoted strings such as "12.50", got {value!r}', field=field
        )
    try:
        return Money(parse_amount(str(value), currency), currency)
    except InputError as exc:
        raise ValidationError(str(exc), field=field) from None


def parse_statement(
    data: Mapping[str, Any],
    *,
    household: Household | None = None,
    currency: Currency | None = None,
) -> Statement:
    """A statement from JSON-shaped data::

        {"household": "single", "currency": "EUR",
         "income": {"wages": "1850.00"}, "fixed": {"housing": "750.00"},
         "flexible": {"food": "300.00"}, "savings": "0.00",
         "declared": {"income": "...", "fixed": "...", "flexible": "...", "expenditure": "..."}}

    ``household`` and ``currency`` given here fill in (or must agree with) the data.
    """
    if not isinstance(data, Mapping):
        raise ValidationError("a statement must be a JSON object", field="statement")
    known = {"household", "currency", "savings", "declared", *(s.value for s in Section)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValidationError(
            f"unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(known))})",
            field="statement",
        )
    hh = _agree(household, data.get("household"), Household.parse, "household")
    cur = _agree(currency, data.get("currency"), Currency.of, "currency")
    if hh is None:
        raise ValidationError("the household type is missing", field="household")
    if cur is None:
        raise ValidationError("the currency is missing", field="currency")
    sections: dict[Section, dict[str, Money]] = {}
    for section in Section:
        raw = data.get(section.value, {})
        if not isinstance(raw, Mapping):
            raise ValidationError("must be an object of category: amount", field=section.value)
        sections[section] = {str(k): _money(v, cur, f"{section.value}.{k}") for k, v in raw.items()}
    savings = _money(data["savings"], cur, "savings") if "savings" in data else None
    raw_declared = data.get("declared", {})
    if not isinstance(raw_declared, Mapping):
        raise ValidationError("must be an object of sub-totals", field="declared")
    names = ("income", "fixed", "flexible", "expenditure")
    extra = sorted(set(raw_declared) - set(names))
    if extra:
        raise ValidationError(
            f"unknown sub-total(s) {', '.join(extra)} (known: {', '.join(names)})",
            field="declared",
        )
    declared = DeclaredTotals(
        **{
            n: _money(raw_declared[n], cur, f"declared.{n}")
            for n in names
            if raw_declared.get(n) is not None
        }
    )
    return Statement(
        hh,
        cur,
        sections[Section.INCOME],
        sections[Section.FIXED],
        sections[Section.FLEXIBLE],
        savings,
        declared,
    )


def _agree(given: Any, raw: Any, parse: Any, field: str) -> Any:
    if raw is None:
        return given
    if not isinstance(raw, str):
        raise ValidationError(f"must be a text, got {raw!r}", field=field)
    try:
        parsed = parse(raw)
    except InputError as exc:
        raise ValidationError(str(exc).split(": ", 1)[-1], field=field) from None
    if given is not None and parsed != given:
        raise ValidationError(
            f"the statement says {raw!r}, but {getattr(given, 'value', given)!r} was given",
            field=field,
        )
    return parsed


def check_statement(
    statement: Statement,
    *,
    jurisdiction: str,
    on: date,
    children: int = 0,
    income_kind: IncomeKind = IncomeKind.WORK,
) -> dict[str, Any]:
    """Totals, flags, the protected minimum and the repayment capacity, JSON-ready.

    The protected minimum is computed for the statement's total (net) income.
    """
    summary, _ = _evaluate(statement, jurisdiction, on, children, income_kind)
    return summary


def _evaluate(
    statement: Statement, jurisdiction: str, on: date, children: int, income_kind: IncomeKind
) -> tuple[dict[str, Any], dict[str, int]]:
    code = jurisdiction.strip().upper()
    rule = load_protected_income(code)
    flags = validate_statement(statement, reference_budget(code, on))
    protected = protected_income(
        rule,
        statement.household,
        statement.total_income,
        on,
        children=children,
        income_kind=income_kind,
    )
    capacity = repayment_capacity(statement, protected)
    return {
        "jurisdiction": code,
        "household": statement.household.cli_name,
        "on": on.isoformat(),
        "currency": statement.currency.code,
        "totals": {
            "income": str(statement.total_income),
            "fixed": str(statement.total(Section.FIXED)),
            "flexible": str(statement.total(Section.FLEXIBLE)),
            "expenditure": str(statement.total_expenditure),
            "savings": str(statement.savings_contribution),
        },
        "flags": [f.as_dict() for f in flags],
        "needs_confirmation": bool(flags),
        "protected": protected.as_dict(),
        "capacity": capacity.as_dict(),
    }, {
        "income": statement.total_income.minor_units,
        "expenditure": statement.total_expenditure.minor_units,
        "protected": protected.protected.minor_units,
        "capacity": capacity.capacity.minor_units,
    }


def record_statement(
    conn: Connection,
    debtor_id: int,
    statement: Statement,
    *,
    household: Household,
    on: date,
    source: str,
    confirmed: bool,
    jurisdiction: str | None = None,
    children: int = 0,
) -> dict[str, Any]:
    """Store a statement for a debtor record and return its summary (with ``id``).

    The jurisdiction is the debtor's country unless given. A statement whose household
    differs from ``household`` is refused (one of the two is a mistake).
    """
    if source not in SOURCES:
        raise ValidationError(
            f"must be one of {', '.join(SOURCES)}, got {source!r}", field="source"
        )
    if statement.household is not household:
        raise ValidationError(
            f"the statement is for a {statement.household.cli_name} household, "
            f"not {household.cli_name}",
            field="household",
        )
    row = conn.execute(select(Debtor.country).where(Debtor.id == debtor_id)).first()
    if row is None:
        raise InputError(f"no debtor with id {debtor_id}", field="debtor")
    code = (jurisdiction or row.country or "").strip().upper()
    if code not in JURISDICTIONS:
        raise ValidationError(
            f"no protected-income rules for {code!r} (known: {', '.join(JURISDICTIONS)}); "
            "give the jurisdiction explicitly",
            field="jurisdiction",
        )
    summary, cents = _evaluate(statement, code, on, children, IncomeKind.WORK)
    lines: dict[str, object] = {
        category: amount.minor_units for _, category, amount in statement.lines()
    }
    if statement.savings is not None:
        lines["savings"] = statement.savings.minor_units
    new_id = conn.execute(
        insert(BudgetStatement)
        .values(
            debtor_id=debtor_id,
            submitted_on=on,
            household=household.value,
            currency=statement.currency.code,
            lines=lines,
            income_cents=cents["income"],
            expenditure_cents=cents["expenditure"],
            protected_cents=cents["protected"],
            capacity_cents=cents["capacity"],
            flags=summary["flags"],
            confirmed=confirmed,
            source=source,
        )
        .returning(BudgetStatement.id)
    ).scalar_one()
    summary["needs_confirmation"] = bool(summary["flags"]) and not confirmed
    return {"id": int(new_id), "debtor_id": debtor_id, "confirmed": confirmed, **summary}


def latest_capacity(conn: Connection, person_debtor_ids: Sequence[int], on: date) -> int | None:
    """Capacity in cents of the latest statement on or before ``on`` for any of the
    person's debtor records; ``None`` when there is none."""
    if not person_debtor_ids:
        return None
    value = conn.execute(
        select(BudgetStatement.capacity_cents)
        .where(
            BudgetStatement.debtor_id.in_(list(person_debtor_ids)),
            BudgetStatement.submitted_on <= on,
        )
        .order_by(BudgetStatement.submitted_on.desc(), BudgetStatement.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    return None if value is None else int(value)
