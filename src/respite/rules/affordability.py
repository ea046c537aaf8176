"""Load the affordability rule files: ``rules/<cc>/protected_income.toml`` and
``rules/nl/reference_budgets.toml``.

Same conventions as :mod:`respite.rules.loader`: every row has ``valid_from`` and
``source``, amounts are quoted strings, a missing field or a float is an error naming the
file and the place in it, ``RESPITE_RULES_DIR`` points at another folder with the same
layout, and the result is cached per jurisdiction (:func:`cache_clear` empties the cache).
A row with ``known = false`` marks a period whose figures were not found: a lookup in it
raises :class:`~respite.errors.RuleCoverageError` instead of using the previous row.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from decimal import Decimal
from functools import cache
from typing import Any, TypeVar

from respite.domain.affordability import (
    Band,
    BEProtectedIncomeRule,
    Household,
    NLProtectedIncomeRule,
    PLProtectedIncomeRule,
    ProtectedIncomeRule,
    ReferenceBudget,
    SeizableBracket,
    SeizableScale,
    section_of,
)
from respite.domain.money import Currency
from respite.errors import RuleCoverageError, ValidationError
from respite.rules.fields import as_bool, as_date, as_decimal, as_str, where
from respite.rules.loader import JURISDICTIONS, _read_toml, _section, rules_dir
from respite.rules.tables import RuleTable, Versioned

__all__ = [
    "cache_clear",
    "load_protected_income",
    "load_reference_budgets",
    "reference_budget",
]

T = TypeVar("T")
Row = Mapping[str, Any]


def _rows(
    section: Mapping[str, Any],
    name: str,
    origin: str,
    path: str,
    parse: Callable[[Row, str], T],
    *,
    allow_unknown: bool = False,
) -> RuleTable[T | None]:
    rows = section.get("rows")
    if not isinstance(rows, list) or not rows:
        raise ValidationError("needs a non-empty list 'rows'", field=where(origin, path))
    parsed: list[Versioned[T | None]] = []
    for i, row in enumerate(rows):
        row_path = f"{path}.rows[{i}]"
        if not isinstance(row, Mapping):
            raise ValidationError("each row must be a table", field=where(origin, row_path))
        known = as_bool(row, "known", origin, row_path) if "known" in row else True
        if not known and not allow_unknown:
            raise ValidationError("'known = false' is not allowed here", field=origin)
        parsed.append(
            Versioned(
                as_date(row, "valid_from", origin, row_path),
                parse(row, row_path) if known else None,
                as_str(row, "source", origin, row_path),
            )
        )
    until = section.get("covered_until")
    covered_until = as_date(section, "covered_until", origin, path) if until is not None else None
    return RuleTable(name, origin, tuple(parsed), covered_until)


def _known(table: RuleTable[T | None]) -> RuleTable[T]:
    """A table in which every row is known (checked while loading)."""
    rows: list[Versioned[T]] = []
    for row in table.rows:
        if row.value is None:  # pragma: no cover - refused by _rows(allow_unknown=False)
            raise RuleCoverageError(f"{table.name}: unknown row in {table.origin}")
        rows.append(Versioned(row.valid_from, row.value, row.source))
    return RuleTable(table.name, table.origin, tuple(rows), table.covered_until)


def _per_household(origin: str) -> Callable[[Row, str], Mapping[Household, Decimal]]:
    def parse(row: Row, path: str) -> Mapping[Household, Decimal]:
        return {h: as_decimal(row, h.value, origin, path) for h in Household}

    return parse


def _brackets(row: Row, key: str, origin: str, path: str) -> tuple[SeizableBracket, ...]:
    items = row.get(key)
    if not isinstance(items, list) or not items:
        raise ValidationError(f"needs a non-empty list {key!r}", field=where(origin, path))
    out: list[SeizableBracket] = []
    for i, item in enumerate(items):
        p = f"{path}.{key}[{i}]"
        if not isinstance(item, Mapping):
            raise ValidationError("each bracket must be a table", field=where(origin, p))
        up_to = as_decimal(item, "up_to", origin, p) if "up_to" in item else None
        out.append(SeizableBracket(up_to, as_decimal(item, "percent", origin, p)))
    bounds = [b.up_to for b in out[:-1]]
    if any(b is None for b in bounds) or out[-1].up_to is not None:
        raise ValidationError(
            "only the last bracket may (and must) lack 'up_to'", field=where(origin, path)
        )
    known = [b for b in bounds if b is not None]
    if known != sorted(known) or len(set(known)) != len(known):
        raise ValidationError("'up_to' bounds must increase", field=where(origin, path))
    return tuple(out)


def _scale(origin: str) -> Callable[[Row, str], SeizableScale]:
    def parse(row: Row, path: str) -> SeizableScale:
        return SeizableScale(
            _brackets(row, "work", origin, path),
            _brackets(row, "replacement", origin, path),
            as_decimal(row, "per_child", origin, path),
        )

    return parse


def _amount(origin: str) -> Callable[[Row, str], Decimal]:
    def parse(row: Row, path: str) -> Decimal:
        return as_decimal(row, "amount", origin, path)

    return parse


@cache
def load_protected_income(code: str) -> ProtectedIncomeRule:
    """The protected-minimum rule of ``NL``, ``BE`` or ``PL``, validated."""
    code = code.strip().upper()
    if code not in JURISDICTIONS:
        raise ValidationError(
            f"unknown jurisdiction {code!r} (known: {', '.join(JURISDICTIONS)})",
            field="--jurisdiction",
        )
    path = rules_dir() / code.lower() / "protected_income.toml"
    doc = _read_toml(path)
    origin = str(path)
    currency = Currency.of(as_str(doc, "currency", origin, "currency"))
    method = as_str(doc, "method", origin, "method")
    if method == "nl_bvv":
        low = _section(doc, "low_income", origin)
        norm = _section(doc, "norm", origin)
        maximum = _section(doc, "maximum", origin)
        return NLProtectedIncomeRule(
            title=as_str(maximum, "title", origin, "maximum"),
            origin=origin,
            currency=currency,
            low_income_percent=as_decimal(low, "percent", origin, "low_income"),
            low_income_source=as_str(low, "source", origin, "low_income"),
            norm=_known(
                _rows(
                    norm,
                    as_str(norm, "title", origin, "norm"),
                    origin,
                    "norm",
                    _per_household(origin),
                )
            ),
            maximum=_rows(
                maximum,
                as_str(maximum, "title", origin, "maximum"),
                origin,
                "maximum",
                _per_household(origin),
                allow_unknown=True,
            ),
        )
    if method == "be_art_1409":
        scale = _section(doc, "scale", origin)
        title = as_str(scale, "title", origin, "scale")
        return BEProtectedIncomeRule(
            title=title,
            origin=origin,
            currency=currency,
            scale=_known(_rows(scale, title, origin, "scale", _scale(origin))),
        )
    if method == "pl_art_871":
        share = _section(doc, "max_share", origin)
        free = _section(doc, "free_amount", origin)
        title = as_str(free, "title", origin, "free_amount")
        return PLProtectedIncomeRule(
            title=title,
            origin=origin,
            currency=currency,
            free_amount=_known(_rows(free, title, origin, "free_amount", _amount(origin))),
            max_share_percent=as_decimal(share, "percent", origin, "max_share"),
            max_share_source=as_str(share, "source", origin, "max_share"),
        )
    raise ValidationError(
        f"unknown method {method!r} (known: nl_bvv, be_art_1409, pl_art_871)",
        field=where(origin, "method"),
    )


def _reference(origin: str, currency: Currency) -> Callable[[Row, str], ReferenceBudget]:
    def parse(row: Row, path: str) -> ReferenceBudget:
        figures: dict[tuple[Household, str], Band] = {}
        for i, item in enumerate(row.get("figures", ())):
            p = f"{path}.figures[{i}]"
            if not isinstance(item, Mapping):
                raise ValidationError("each figure must be a table", field=where(origin, p))
            try:
                household = Household.parse(as_str(item, "household", origin, p))
                category = as_str(item, "category", origin, p)
                section_of(category)
            except ValidationError as exc:
                raise ValidationError(str(exc), field=where(origin, p)) from None
            low = as_decimal(item, "low", origin, p) if "low" in item else None
            high = as_decimal(item, "high", origin, p) if "high" in item else None
            if low is not None and high is not None and low > high:
                raise ValidationError("'low' is above 'high'", field=where(origin, p))
            figures[(household, category)] = Band(low, high)
        expected = row.get("expected", [])
        if not isinstance(expected, list):
            raise ValidationError("'expected' must be a list", field=where(origin, path))
        for category in expected:
            try:
                section_of(str(category))
            except ValidationError as exc:
                raise ValidationError(str(exc), field=where(origin, path)) from None
        share = (
            as_decimal(row, "fixed_costs_max_share", origin, path)
            if "fixed_costs_max_share" in row
            else None
        )
        return ReferenceBudget(
            currency,
            figures,
            frozenset(str(c) for c in expected),
            share,
            as_str(row, "source", origin, path),
        )

    return parse


@cache
def load_reference_budgets(code: str = "NL") -> RuleTable[ReferenceBudget]:
    """The configurable reference figures of a jurisdiction (only NL ships a file)."""
    code = code.strip().upper()
    path = rules_dir() / code.lower() / "reference_budgets.toml"
    doc = _read_toml(path)
    origin = str(path)
    currency = Currency.of(as_str(doc, "currency", origin, "currency"))
    section = _section(doc, "reference", origin)
    return _known(
        _rows(
            section,
            as_str(section, "title", origin, "reference"),
            origin,
            "reference",
            _reference(origin, currency),
        )
    )


def reference_budget(code: str, on: date) -> ReferenceBudget | None:
    """The reference figures in force on ``on``, or ``None`` when the jurisdiction has none."""
    path = rules_dir() / code.strip().lower() / "reference_budgets.toml"
    if not path.is_file():
        return None
    return load_reference_budgets(code).value_at(on)


def cache_clear() -> None:
    """Forget loaded files (after changing ``RESPITE_RULES_DIR`` or a file)."""
    load_protected_income.cache_clear()
    load_reference_budgets.cache_clear()
