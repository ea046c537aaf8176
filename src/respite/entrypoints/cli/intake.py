"""``respite import claims``: take in a creditor's CSV or JSON file of claims.

The file is imported whole or not at all; with ``--skip-invalid`` the valid rows are
imported and the others listed. Problems go to stderr, one line each, and exit status 2.
The file format is described in :mod:`respite.services.intake`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from respite.adapters.clock import SystemClock
from respite.entrypoints.cli.options import date_or_today, open_database
from respite.services.intake import IntakeRejected, IntakeResult, apply_intake

__all__ = ["import_app"]

EXIT_INPUT = 2

import_app = typer.Typer(
    help="Take in claims from files (CSV or JSON); a file is imported whole or not at all.",
    no_args_is_help=True,
)


@import_app.command("claims")
def import_claims(
    file: Annotated[Path, typer.Argument(help="CSV or JSON file of claims.", show_default=False)],
    creditor: Annotated[str, typer.Option(help="Name of the creditor the claims belong to.")],
    skip_invalid: Annotated[
        bool,
        typer.Option("--skip-invalid", help="Import the valid rows and list the others."),
    ] = False,
    on: Annotated[
        str | None,
        typer.Option("--date", help="Business date the cases open (YYYY-MM-DD). Default: today."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Import claims for a creditor; every bad row is reported and nothing is half imported."""
    clock = SystemClock()
    business_date = date_or_today(on, "--date")
    with open_database() as engine:
        try:
            result = apply_intake(
                engine, creditor, file, on=business_date, skip_invalid=skip_invalid, now=clock.now()
            )
        except IntakeRejected as exc:
            _reject(exc, as_json)
    for problem in result.skipped:
        typer.echo(f"skipped {problem}", err=True)
    typer.echo(json.dumps(result.as_dict(), indent=2) if as_json else _summary(result))


def _reject(exc: IntakeRejected, as_json: bool) -> NoReturn:
    typer.echo(f"respite: error: {exc}", err=True)
    for line in exc.report.lines():
        typer.echo(line, err=True)
    if as_json:
        typer.echo(json.dumps(exc.as_dict(), indent=2, ensure_ascii=False))
    raise typer.Exit(EXIT_INPUT)


def _summary(result: IntakeResult) -> str:
    cases = f" ({_span(result.cases)})" if result.cases else ""
    return "\n".join(
        [
            f"{result.filename} for {result.creditor}, business date {result.business_date}",
            f"  rows read     {result.rows_total}",
            f"  imported      {result.rows_imported}",
            f"  skipped       {result.rows_skipped}",
            f"  cases opened  {len(result.cases)}{cases}",
            f"  debtors       {result.debtors_new} new, {result.debtors_known} known",
        ]
    )


def _span(references: tuple[str, ...]) -> str:
    return references[0] if len(references) == 1 else f"{references[0]} … {references[-1]}"
