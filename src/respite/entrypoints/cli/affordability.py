"""``respite calc protected-income`` and ``respite calc budget``.

Both print JSON with amounts as strings of two decimals. Bad input raises
:class:`~respite.errors.InputError` naming the option; ``main`` turns it into exit status 2
and one line on stderr. The lead wires these functions into ``main.py``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from respite.domain.affordability import Household, IncomeKind, protected_income
from respite.domain.money import Money, parse_amount
from respite.entrypoints.cli.options import date_or_today
from respite.errors import InputError
from respite.rules.affordability import load_protected_income
from respite.rules.loader import JURISDICTIONS
from respite.services.affordability import check_statement, parse_statement

__all__ = ["budget_check_command", "protected_income_command"]

HOUSEHOLDS = ", ".join(h.cli_name for h in Household)


def _emit(result: dict[str, Any]) -> None:
    typer.echo(json.dumps(result, indent=2, ensure_ascii=False))


def _jurisdiction(value: str) -> str:
    code = value.strip().upper()
    if code not in JURISDICTIONS:
        raise InputError(
            f"must be one of {', '.join(JURISDICTIONS)}, got {value!r}", field="--jurisdiction"
        )
    return code


def _household(value: str) -> Household:
    try:
        return Household.parse(value)
    except InputError:
        raise InputError(
            f"must be one of {HOUSEHOLDS}, got {value!r}", field="--household"
        ) from None


def _income_kind(value: str) -> IncomeKind:
    try:
        return IncomeKind(value.strip().lower())
    except ValueError:
        raise InputError(
            f"must be work or replacement, got {value!r}", field="--income-kind"
        ) from None


def _children(value: int) -> int:
    if value < 0:
        raise InputError(f"must not be negative, got {value}", field="--children")
    return value


def protected_income_command(
    jurisdiction: Annotated[str, typer.Option("--jurisdiction", "-j", help="NL, BE or PL.")],
    household: Annotated[str, typer.Option("--household", help=f"One of: {HOUSEHOLDS}.")],
    net_income: Annotated[
        str,
        typer.Option(
            "--net-income", help="Net monthly income (NL: including vakantietoeslag per month)."
        ),
    ],
    on: Annotated[
        str | None, typer.Option("--on", help="Date (YYYY-MM-DD). Default: today.")
    ] = None,
    children: Annotated[
        int, typer.Option("--children", help="BE: dependent children (lowers the seizable part).")
    ] = 0,
    income_kind: Annotated[
        str, typer.Option("--income-kind", help="BE: work or replacement (income).")
    ] = "work",
) -> None:
    """The protected minimum income (NL beslagvrije voet, BE art. 1409 Ger.W., PL art. 87(1) KP)."""
    code = _jurisdiction(jurisdiction)
    hh = _household(household)
    rule = load_protected_income(code)
    try:
        amount = Money(parse_amount(net_income, rule.currency), rule.currency)
    except InputError as exc:
        raise InputError(str(exc), field="--net-income") from None
    if amount.is_negative:
        raise InputError(f"must not be negative, got {net_income!r}", field="--net-income")
    result = protected_income(
        rule,
        hh,
        amount,
        date_or_today(on, "--on"),
        children=_children(children),
        income_kind=_income_kind(income_kind),
    )
    _emit(result.as_dict())


def budget_check_command(
    file: Annotated[
        Path,
        typer.Argument(help="JSON income & expenditure statement.", show_default=False),
    ],
    household: Annotated[
        str | None,
        typer.Option("--household", help=f"One of: {HOUSEHOLDS} (default: the file's)."),
    ] = None,
    on: Annotated[
        str | None, typer.Option("--on", help="Date (YYYY-MM-DD). Default: today.")
    ] = None,
    jurisdiction: Annotated[str, typer.Option("--jurisdiction", "-j", help="NL, BE or PL.")] = "NL",
    children: Annotated[int, typer.Option("--children", help="BE: dependent children.")] = 0,
) -> None:
    """Check a statement: totals, flags to confirm, protected minimum and repayment capacity."""
    code = _jurisdiction(jurisdiction)
    hh = _household(household) if household is not None else None
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"file {str(file)!r} does not exist", field="FILE") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read {str(file)!r}: {exc}", field="FILE") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{file}: not valid JSON: {exc}", field="FILE") from None
    rule = load_protected_income(code)
    try:
        default = rule.currency if isinstance(data, dict) and "currency" not in data else None
        statement = parse_statement(data, household=hh, currency=default)
    except InputError as exc:
        raise InputError(str(exc), field=str(file)) from None
    if statement.currency is not rule.currency:
        raise InputError(
            f"the statement is in {statement.currency.code}; {code} rules use {rule.currency.code}",
            field=str(file),
        )
    _emit(
        check_statement(
            statement, jurisdiction=code, on=date_or_today(on, "--on"), children=_children(children)
        )
    )
