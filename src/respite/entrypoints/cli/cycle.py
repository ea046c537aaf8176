"""``respite cycle`` and ``respite simulate``: the nightly cycle, in-process or on Celery."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from respite.entrypoints.cli.options import open_database, parse_date
from respite.errors import InputError
from respite.services.cycle import CycleReport, pending_cases, run_cycle
from respite.services.demo_data import pay_plan_instalments
from respite.services.payments import book_scheduled_payments

__all__ = ["cycle", "simulate", "summary"]


def _progress(total: int, label: str, *, quiet: bool) -> Progress:
    return Progress(
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        disable=quiet,
        transient=False,
    )


def cycle(
    date_: Annotated[str, typer.Option("--date", help="The business date (YYYY-MM-DD).")],
    executor: Annotated[str, typer.Option(help="inprocess or celery.")] = "inprocess",
    shards: Annotated[int, typer.Option(help="Split the work into this many shards.")] = 1,
    batch_size: Annotated[int, typer.Option(help="Cases per transaction.")] = 5000,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    quiet: Annotated[bool, typer.Option(help="No progress bar.")] = False,
) -> None:
    """Run the nightly collection cycle for one business date (idempotent, resumable)."""
    on = parse_date(date_, "--date")
    if shards < 1:
        raise InputError("must be at least 1", field="--shards")
    if batch_size < 1:
        raise InputError("must be at least 1", field="--batch-size")
    with open_database() as engine:
        if executor == "celery":
            from respite.entrypoints.worker.dispatch import run_on_celery

            report = run_on_celery(on, shards=shards, batch_size=batch_size)
        elif executor == "inprocess":
            report = CycleReport(on, 0, shards)
            total = pending_cases(engine, on)
            with _progress(total, f"cycle {on}", quiet=quiet or as_json) as bar:
                task = bar.add_task("cases", total=total)
                for shard in range(shards):
                    part = run_cycle(
                        engine,
                        on,
                        shard=shard,
                        shards=shards,
                        batch_size=batch_size,
                        progress=lambda n: bar.advance(task, n),
                    )
                    report.merge(part)
        else:
            raise InputError(f"must be inprocess or celery, got {executor!r}", field="--executor")
        if as_json:
            typer.echo(json.dumps(report.as_dict(), indent=2))
        else:
            _print_report(report)


def _print_report(report: CycleReport, *, nights: int = 1) -> None:
    d = report.as_dict()
    if nights == 1:
        typer.echo(f"cycle {d['business_date']}: {d['cases']} cases in {d['batches']} batches")
    else:
        typer.echo(
            f"{nights} nightly cycles from {d['business_date']}: {d['cases']} case-nights in total"
        )
    for key in ("interest_posted", "costs_charged", "transitions", "actions"):
        if d[key]:
            typer.echo(
                f"  {key.replace('_', ' ')}: " + ", ".join(f"{k} {v}" for k, v in d[key].items())
            )
    for key in ("missed_instalments", "closed", "reviews"):
        if d[key]:
            typer.echo(f"  {key.replace('_', ' ')}: {d[key]}")
    if any(d["plans"].values()):
        typer.echo(
            "  plans: "
            + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in d["plans"].items() if v)
        )
    for message, claims in d["warnings"].items():
        typer.echo(f"WARNING ({claims} claims): {message}", err=True)


def simulate(
    start: Annotated[str, typer.Option("--from", help="First business date (YYYY-MM-DD).")],
    days: Annotated[int, typer.Option(help="Number of days to simulate.")] = 90,
    quiet: Annotated[bool, typer.Option(help="No progress bar.")] = False,
    send: Annotated[
        bool,
        typer.Option(
            "--send",
            help="After each night, deliver its messages at 09:00 (`respite send`; letters "
            "are spooled, `respite print-batch` lays out a day's batch).",
        ),
    ] = False,
) -> None:
    """Run day after day: book the day's payments, then the nightly cycle (demo and tests)."""
    from contextlib import ExitStack
    from datetime import time

    from respite.entrypoints.cli.messaging import build_channels, print_send_totals
    from respite.services import messaging

    first = parse_date(start, "--from")
    if days < 1:
        raise InputError("must be at least 1", field="--days")
    with open_database() as engine, ExitStack() as stack:
        total = CycleReport(first, 0, 1)
        booked = 0
        sends: list[messaging.SendReport] = []
        if send:
            channels, _ = build_channels(stack)
            settings = messaging.settings_from_env()
        with _progress(days, "simulating", quiet=quiet) as bar:
            task = bar.add_task("days", total=days)
            for n in range(days):
                on = first + timedelta(days=n)
                with engine.begin() as conn:
                    booked += book_scheduled_payments(conn, on, now=datetime.now(UTC))
                    booked += pay_plan_instalments(conn, on, now=datetime.now(UTC))
                total.merge(run_cycle(engine, on))
                if send:
                    # Letters are spooled; laying out a day's print batch is left to
                    # `respite print-batch --date` (about 0.1 s of CPU a letter).
                    sends.append(messaging.send_day(engine, on, time(9), channels, settings))
                bar.advance(task)
        typer.echo(f"simulated {days} days from {first}: {booked} payments booked")
        _print_report(total, nights=days)
        if send:
            print_send_totals(sends)


def summary(
    on: Annotated[
        str | None, typer.Option("--on", help="Date for active holds (default: last cycle).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="JSON instead of text.")] = False,
) -> None:
    """The portfolio in figures: cases by stage, collected, charged, holds, actions queued."""
    from sqlalchemy import func, select

    from respite.adapters.db.models import Case
    from respite.services.reports import portfolio_summary

    with open_database() as engine:
        if on is None:
            with engine.connect() as conn:
                last = conn.execute(select(func.max(Case.last_cycle_date))).scalar()
            day = last or datetime.now(UTC).date()
        else:
            day = parse_date(on, "--on")
        result = portfolio_summary(engine, day)
        if as_json:
            typer.echo(json.dumps(result, indent=2))
            return
        typer.echo(f"Portfolio on {result['on']}")
        typer.echo(
            "  cases by stage:     "
            + ", ".join(f"{k} {v}" for k, v in result["cases_by_stage"].items())
        )
        typer.echo(
            "  collected:          " + ", ".join(f"{c} {v}" for c, v in result["collected"].items())
        )
        for bucket in ("principal", "interest", "costs"):
            if bucket in result["charged"]:
                typer.echo(
                    f"  {bucket + ' charged:':<20}"
                    + ", ".join(f"{c} {v}" for c, v in result["charged"][bucket].items())
                )
        typer.echo(
            "  still outstanding:  "
            + ", ".join(f"{c} {v}" for c, v in result["outstanding"].items())
        )
        for key, label in (
            ("plans", "payment plans:"),
            ("referrals", "referrals:"),
            ("costs_not_charged", "costs not charged:"),
        ):
            if result[key]:
                typer.echo(f"  {label:<20}" + ", ".join(f"{k} {v}" for k, v in result[key].items()))
        typer.echo(
            "  holds active:       "
            + (", ".join(f"{k} {v}" for k, v in result["holds_active"].items()) or "none")
        )
        typer.echo(
            "  actions queued:     "
            + ", ".join(f"{k} {v}" for k, v in result["actions_queued"].items())
        )
