"""``respite report social``: the social collection report for a period, as a file.

Writes HTML, PDF, CSV or JSON to ``--out`` and prints the path with a few headline figures
(JSON). Bad dates, a period that ends before it starts or an unknown creditor exit with
status 2 and one line.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from respite.adapters.db.engine import make_engine, upgrade
from respite.adapters.documents.social_report import FORMATS, write
from respite.entrypoints.cli.options import parse_date
from respite.errors import InputError
from respite.services.social_report import social_report

__all__ = ["report_app"]

report_app = typer.Typer(help="Reports for creditors and the board.", no_args_is_help=True)

HEADLINES = ("dossiers_handled", "dossiers_closed", "arrangements_made", "messages_sent")


@report_app.command("social")
def social(
    from_: Annotated[str, typer.Option("--from", help="First day of the period (YYYY-MM-DD).")],
    to: Annotated[str, typer.Option("--to", help="Last day of the period (included).")],
    out: Annotated[Path, typer.Option("--out", help="The file to write.")],
    fmt: Annotated[str, typer.Option("--format", help="html, pdf, csv or json.")] = "html",
    creditor: Annotated[
        str | None, typer.Option("--creditor", help="Only this creditor (its name).")
    ] = None,
    db: Annotated[
        str | None, typer.Option("--db", help="Database URL (default: RESPITE_DATABASE_URL).")
    ] = None,
) -> None:
    """The social collection report: outcomes, arrangements, relief, help and contact."""
    kind = fmt.strip().lower()
    if kind not in FORMATS:
        raise InputError(f"must be one of {', '.join(FORMATS)}, got {fmt!r}", field="--format")
    period_from, period_to = parse_date(from_, "--from"), parse_date(to, "--to")
    engine = make_engine(db)
    try:
        upgrade(engine)
        report = social_report(engine, period_from, period_to, creditor)
    finally:
        engine.dispose()
    path = write(report, kind, out)
    scope = report.primary
    typer.echo(
        json.dumps(
            {
                "out": str(path),
                "format": kind,
                "period": {"from": period_from.isoformat(), "to": period_to.isoformat()},
                "scope": scope,
                "creditors": len(report.scopes) - (creditor is None),
                **{m: report.value(m, scope) for m in HEADLINES},
                "amount_collected": {
                    f.currency: str(f.value)
                    for f in report.figures_of("amount_collected", scope)
                    if f.currency
                },
            },
            indent=2,
            ensure_ascii=False,
        )
    )
