"""``respite demo-data``: fill the database with a synthetic, deterministic portfolio.

The portfolio and its behavioural model are described in
:mod:`respite.services.demo_data`. The same options give the same data: records are
stamped 06:00 UTC on the handover date, not with the wall clock. A database that already
holds cases is refused unless ``--append`` says to add to it.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from respite.domain.money import Currency, Money
from respite.entrypoints.cli.options import date_or_today, open_database
from respite.services.demo_data import PortfolioSummary, existing_cases, generate_portfolio

__all__ = ["demo_data"]

EXIT_INPUT = 2


def demo_data(
    debtors: Annotated[int, typer.Option(help="Number of debtors (cases: about 1.2 each).")] = 5000,
    creditors: Annotated[int, typer.Option(help="Number of creditors (NL, BE, PL).")] = 12,
    seed: Annotated[int, typer.Option(help="Same seed, same portfolio.")] = 1,
    date: Annotated[
        str | None,
        typer.Option("--date", help="Handover date the cases open (YYYY-MM-DD). Default: today."),
    ] = None,
    horizon_days: Annotated[
        int, typer.Option(help="Schedule payments up to this many days after the handover.")
    ] = 120,
    append: Annotated[
        bool, typer.Option("--append", help="Add to a database that already holds cases.")
    ] = False,
    quiet: Annotated[bool, typer.Option(help="No progress bar.")] = False,
) -> None:
    """Create a synthetic portfolio: debtors, claims, cases and scheduled payments."""
    on = date_or_today(date, "--date")
    with open_database() as engine:
        held = existing_cases(engine)
        if held and not append:
            typer.echo(
                f"respite: error: the database already holds {held} cases; "
                "use --append to add a demo portfolio to it",
                err=True,
            )
            raise typer.Exit(EXIT_INPUT)
        with Progress(
            TextColumn("demo data"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            disable=quiet,
        ) as bar:
            task = bar.add_task("debtors", total=debtors)
            summary = generate_portfolio(
                engine,
                debtors=debtors,
                creditors=creditors,
                seed=seed,
                on=on,
                now=dt.datetime.combine(on, dt.time(6), tzinfo=dt.UTC),
                horizon_days=horizon_days,
                progress=lambda n: bar.advance(task, n),
            )
    typer.echo(_summary(summary, on))


def _summary(s: PortfolioSummary, on: dt.date) -> str:
    return "\n".join(
        [
            f"demo portfolio handed over on {on}: {s.cases} cases, {s.claims} claims",
            f"  creditors: {s.creditors}",
            f"  debtors: {s.debtors} ({s.business_debtors} businesses, "
            f"{s.cross_creditor_debtors} owing several creditors)",
            f"  principal: {_amounts(s.principal_cents)}",
            f"  scheduled payments: {s.scheduled_payments} ({_amounts(s.scheduled_cents)})",
            "  segments: " + ", ".join(f"{k} {v}" for k, v in s.segments.items()),
        ]
    )


def _amounts(cents: dict[str, int]) -> str:
    return ", ".join(
        f"{code} {Money.from_minor_units(v, Currency.of(code))}" for code, v in cents.items()
    )
