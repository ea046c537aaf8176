"""``respite sepa``: mandates, pre-notifications and pain.008 direct-debit batches."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from respite.entrypoints.cli.options import date_or_today, open_database, parse_date
from respite.services import sepa

sepa_app = typer.Typer(
    help="SEPA Direct Debit: mandates, pre-notification, pain.008 collection files.",
    no_args_is_help=True,
)
mandate_app = typer.Typer(help="SEPA mandates signed by debtors.", no_args_is_help=True)
sepa_app.add_typer(mandate_app, name="mandate")

On = Annotated[str | None, typer.Option("--on", help="Business date (default: today).")]


def _emit(result: dict[str, Any]) -> None:
    typer.echo(json.dumps(result, indent=2, ensure_ascii=False))


def write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file: never half a file."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


@mandate_app.command("add")
def mandate_add(
    case_ref: Annotated[str, typer.Argument(help="Case reference, e.g. R000000001.")],
    mandate_id: Annotated[str, typer.Option("--mandate-id", help="Unique mandate reference.")],
    signed_on: Annotated[str, typer.Option("--signed-on", help="Date of signature.")],
    iban: Annotated[str, typer.Option("--iban", help="The debtor's IBAN.")],
    bic: Annotated[str | None, typer.Option("--bic", help="The debtor's BIC.")] = None,
    holder: Annotated[
        str | None, typer.Option("--holder", help="Account holder (default: the debtor).")
    ] = None,
    one_off: Annotated[
        bool, typer.Option("--one-off", help="A one-off mandate (OOFF), not recurring.")
    ] = False,
    all_cases: Annotated[
        bool, typer.Option("--all-cases", help="The mandate covers all the debtor's cases.")
    ] = False,
    on: On = None,
) -> None:
    """Record a signed SEPA mandate for a case."""
    signed = parse_date(signed_on, "--signed-on")
    with open_database() as engine, engine.begin() as conn:
        result = sepa.add_mandate(
            conn,
            case_ref,
            mandate_id=mandate_id,
            signed_on=signed,
            iban=iban,
            bic=bic,
            holder=holder,
            recurring=not one_off,
            debtor_wide=all_cases,
            on=date_or_today(on, "--on"),
            at=datetime.now(UTC),
        )
    _emit(result)


@mandate_app.command("revoke")
def mandate_revoke(
    mandate_id: str,
    reason: Annotated[str, typer.Option(help="Why (stored in the case timeline).")],
    on: On = None,
) -> None:
    """The debtor withdrew a mandate: nothing more is collected under it."""
    with open_database() as engine, engine.begin() as conn:
        result = sepa.revoke_mandate(
            conn, mandate_id, on=date_or_today(on, "--on"), at=datetime.now(UTC), reason=reason
        )
    _emit(result)


@sepa_app.command("prenotify")
def prenotify(
    date_: Annotated[
        str | None, typer.Option("--date", help="Business date (default: today).")
    ] = None,
    days: Annotated[
        int, typer.Option("--days", help="Minimum notice in calendar days.")
    ] = sepa.DEFAULT_PRENOTIFICATION_DAYS,
    horizon: Annotated[
        int, typer.Option("--horizon", help="Also notify collections up to this many days later.")
    ] = 3,
) -> None:
    """Queue pre-notifications (e-mail) for collections due in --days days."""
    on = date_or_today(date_, "--date")
    with open_database() as engine, engine.begin() as conn:
        result = sepa.prenotify(conn, on, days=days, horizon_days=horizon)
    _emit(result)


@sepa_app.command("collect")
def collect(
    date_: Annotated[str, typer.Option("--date", help="Collection date (the due date).")],
    version: Annotated[str, typer.Option("--version", help="pain.008.001 version: 02 or 08.")],
    out: Annotated[Path, typer.Option("--out", help="Where to write the pain.008 XML.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
    days: Annotated[
        int, typer.Option("--prenotification-days", help="Required notice in days.")
    ] = sepa.DEFAULT_PRENOTIFICATION_DAYS,
    on: On = None,
) -> None:
    """Build the direct-debit batch for the due instalments; idempotent per instalment."""
    collection = parse_date(date_, "--date")
    business = date_or_today(on, "--on") if on else min(collection, date_or_today(None, "--on"))
    with open_database() as engine, engine.begin() as conn:
        result = sepa.collect(
            conn,
            collection,
            version=version,
            on=business,
            at=datetime.now(UTC),
            prenotification_days=days,
        )
        xml = result.pop("xml")
        if xml is not None:
            write_atomically(out, xml)
    result["file"] = str(out) if xml is not None else None
    if as_json:
        _emit(result)
        return
    if xml is None:
        typer.echo(f"nothing to collect on {collection}; no file written")
    else:
        seqs = ", ".join(f"{k} {v}" for k, v in sorted(result["by_sequence"].items()))
        typer.echo(
            f"{result['message_id']}: {result['transactions']} collections, EUR"
            f" {result['total']} ({seqs}) -> {out}"
        )
    for s in result["skipped"]:
        typer.echo(f"skipped {s['case']} instalment {s['instalment']}: {s['reason']}", err=True)
