"""``respite payout``: remittance statements and pain.001 payouts to creditors."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from respite.entrypoints.cli.options import date_or_today, open_database, parse_date
from respite.entrypoints.cli.sepa import write_atomically
from respite.services import payouts

payout_app = typer.Typer(
    help="Payouts to creditors: remittance statements and pain.001 credit transfers.",
    no_args_is_help=True,
)


@payout_app.callback()
def _group() -> None:
    """Keep ``run`` a subcommand (``respite payout run``) though it is the only one."""


@payout_app.command("run")
def run(
    from_: Annotated[str, typer.Option("--from", help="First day of the period.")],
    to: Annotated[str, typer.Option("--to", help="Last day of the period (inclusive).")],
    version: Annotated[str, typer.Option("--version", help="pain.001.001 version: 03 or 09.")],
    out: Annotated[Path, typer.Option("--out", help="Where to write the pain.001 XML.")],
    statement: Annotated[
        Path | None, typer.Option("--statement", help="Also write the statement as CSV.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    on: Annotated[str | None, typer.Option("--on", help="Business date (default: today).")] = None,
) -> None:
    """Pay the creditors what was collected in the period, less the commission."""
    period_from = parse_date(from_, "--from")
    period_to = parse_date(to, "--to")
    with open_database() as engine, engine.begin() as conn:
        result = payouts.run_payouts(
            conn,
            period_from,
            period_to,
            version=version,
            on=date_or_today(on, "--on"),
            at=datetime.now(UTC),
        )
        xml = result.pop("xml")
        if xml is not None:
            write_atomically(out, xml)
        if statement is not None:
            write_atomically(statement, payouts.statement_csv(result["statement"]).encode())
    result["file"] = str(out) if xml is not None else None
    if as_json:
        typer.echo(json.dumps(result, indent=2, ensure_ascii=False))
        return
    if xml is None:
        typer.echo(f"nothing to pay out for {period_from}..{period_to}; no file written")
    else:
        typer.echo(
            f"{result['message_id']}: {result['transactions']} payouts, EUR {result['total']}"
            f" -> {out}"
        )
        for p in result["payouts"]:
            typer.echo(
                f"  {p['creditor']}: collected {p['collected']}, commission"
                f" {p['commission']}, paid {p['payout']}"
            )
    for s in result["skipped"]:
        typer.echo(f"skipped {s['creditor']}: {s['reason']}", err=True)
