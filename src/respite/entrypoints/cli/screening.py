"""``respite screen``, ``respite legal approve|decline`` and ``respite calc court-costs``.

* ``respite screen CASE_REF [--date D] [--by NAME] [--json] [--db URL]`` screens a case for
  legal action and stores the outcome as a ``screening`` event; it prints a plain
  explanation (or JSON with ``--json``): every figure with its source.
* ``respite legal approve CASE_REF --approver NAME --authority AMOUNT [--date D]`` — the
  second person approves a ``proceed``; the case moves to ``legal_handover``.
* ``respite legal decline CASE_REF --by NAME --reason TEXT [--date D]`` — back to amicable.
* ``respite calc court-costs --jurisdiction NL --claim AMOUNT --claimant natural|legal|
  indigent --on DATE`` — the court fee and bailiff tariffs (JSON; amounts as strings).

Bad input exits with status 2 and one line; a refusal (four eyes, a hold, …) with 1.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from sqlalchemy import Engine

from respite.adapters.db.engine import make_engine, upgrade
from respite.domain.court_costs import Claimant, court_costs
from respite.domain.money import Currency, Money, parse_amount
from respite.entrypoints.cli.options import date_or_today, open_database
from respite.errors import InputError
from respite.rules.court_costs import load_court_costs
from respite.services import screening

__all__ = ["court_costs_command", "legal_app", "screen_command"]

legal_app = typer.Typer(
    help="Legal handover of screened cases: a second person approves, or it is declined.",
    no_args_is_help=True,
)

DateOpt = Annotated[
    str | None, typer.Option("--date", "--on", help="Business date (default: today).")
]
DbOpt = Annotated[
    str | None,
    typer.Option("--db", help="Database URL (default: RESPITE_DATABASE_URL or ./respite.db)."),
]


@contextmanager
def _database(url: str | None) -> Iterator[Engine]:
    if url is None:
        with open_database() as engine:
            yield engine
        return
    engine = make_engine(url)
    try:
        upgrade(engine)
        yield engine
    finally:
        engine.dispose()


def _emit(result: dict[str, Any]) -> None:
    typer.echo(json.dumps(result, indent=2, ensure_ascii=False))


def _money(value: str, currency: Currency, option: str) -> Money:
    try:
        return Money(parse_amount(value, currency), currency)
    except InputError as exc:
        raise InputError(str(exc), field=option) from None


def court_costs_command(
    claim: Annotated[str, typer.Option(help="The claim: principal + costs + interest due.")],
    on: Annotated[str, typer.Option(help="Date of the summons (YYYY-MM-DD).")],
    jurisdiction: Annotated[str, typer.Option("--jurisdiction", "-j", help="NL.")] = "NL",
    claimant: Annotated[
        str, typer.Option(help="natural, legal (a company) or indigent (natural, low income).")
    ] = "legal",
) -> None:
    """Court fee (griffierecht) and bailiff tariffs (BTAG) for suing for a claim."""
    tables = load_court_costs(jurisdiction)
    try:
        kind = Claimant.parse(claimant)
    except InputError as exc:
        raise InputError(str(exc).split(": ", 1)[-1], field="--claimant") from None
    amount = _money(claim, tables.currency, "--claim")
    try:
        result = court_costs(tables, amount, kind, date_or_today(on, "--on"))
    except InputError as exc:
        if exc.field == "claim":
            raise InputError(str(exc).split(": ", 1)[-1], field="--claim") from None
        raise
    _emit(result.as_dict())


def screen_command(
    reference: Annotated[str, typer.Argument(metavar="CASE_REF")],
    on: DateOpt = None,
    by: Annotated[str, typer.Option("--by", help="Who screens (stored in the timeline).")] = (
        "agent"
    ),
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    db: DbOpt = None,
) -> None:
    """Screen a case for legal action: proceed, do not proceed, or an alternative."""
    with _database(db) as engine, engine.begin() as conn:
        result = screening.screen_case(
            conn, reference, on=date_or_today(on, "--date"), actor=by, at=datetime.now(UTC)
        )
    if as_json:
        _emit(result)
    else:
        typer.echo(_plain(result))


def _plain(result: dict[str, Any]) -> str:
    lines = [
        f"Case {result['case']} ({result['creditor']}), screened on {result['on']} by "
        f"{result['screened_by']}:",
        f"  {result['summary']}",
    ]
    lines += [f"  {r}" for r in result["reasons"][1:]]
    lines.append("Figures:")
    width = max(len(x["figure"]) for x in result["explanation"])
    for x in result["explanation"]:
        lines.append(f"  {x['figure']:<{width}}  {x['value']}  [{x['source']}]")
    return "\n".join(lines)


@legal_app.command("approve")
def approve(
    reference: Annotated[str, typer.Argument(metavar="CASE_REF")],
    approver: Annotated[str, typer.Option(help="The second person, who approves.")],
    authority: Annotated[str, typer.Option(help="The most this person may approve (EUR).")],
    on: DateOpt = None,
    db: DbOpt = None,
) -> None:
    """Approve a proceed: the case moves to legal_handover (four eyes)."""
    with _database(db) as engine, engine.begin() as conn:
        result = screening.approve_handover(
            conn,
            reference,
            on=date_or_today(on, "--date"),
            approver=approver,
            authority=_money(authority, Currency.EUR, "--authority"),
            at=datetime.now(UTC),
        )
    _emit(result)


@legal_app.command("decline")
def decline(
    reference: Annotated[str, typer.Argument(metavar="CASE_REF")],
    by: Annotated[str, typer.Option("--by", help="Who declines.")],
    reason: Annotated[str, typer.Option(help="Why (e.g. the screening's alternative).")],
    on: DateOpt = None,
    db: DbOpt = None,
) -> None:
    """Do not hand the case over: it goes back to amicable collection."""
    with _database(db) as engine, engine.begin() as conn:
        result = screening.decline_handover(
            conn,
            reference,
            on=date_or_today(on, "--date"),
            actor=by,
            reason=reason,
            at=datetime.now(UTC),
        )
    _emit(result)
