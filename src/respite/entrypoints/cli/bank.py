"""``respite bank``: import bank statements, work the review queue, write a demo statement."""

from __future__ import annotations

import hashlib
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from respite.entrypoints.cli.options import date_or_today, open_database, parse_date
from respite.services import bank_import

bank_app = typer.Typer(
    help="Import bank statements (CAMT.053/054), review what did not match.",
    no_args_is_help=True,
)

ENV_BLOCK = "RESPITE_BANK_BLOCK_ON_DIFFERENCE"


def _eur(cents: int | None) -> str:
    if cents is None:
        return "unknown"
    sign = "-" if cents < 0 else ""
    return f"{sign}{abs(cents) // 100:,}.{abs(cents) % 100:02d}"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def render(report: bank_import.ImportReport) -> str:
    """The human summary of an import (what was read, matched, allocated, left)."""
    lines: list[str] = []
    head = "DRY RUN (nothing stored): " if report.dry_run else ""
    lines.append(
        f"{head}read {report.read} entries in {len(report.statements)} statement(s) "
        f"from {report.filename}"
    )
    for s in report.statements:
        if s.difference_cents is None:
            check = "no balances in the file: not checked"
        elif s.difference_cents == 0:
            check = "balance check OK"
        else:
            check = (
                f"DOES NOT ADD UP: opening {_eur(s.opening_cents)} + entries "
                f"{_eur(s.entries_sum_cents)} != closing {_eur(s.closing_cents)}, "
                f"DIFFERENCE {_eur(s.difference_cents)}"
                + (" -- NOTHING BOOKED (block on difference)" if s.blocked else "")
            )
        lines.append(f"  statement {s.statement_id} ({s.account}, {s.entries} entries): {check}")
        for d in s.deviations[:5]:
            lines.append(f"    deviation: {d}")
        if len(s.deviations) > 5:
            lines.append(f"    ... and {len(s.deviations) - 5} more deviations")
    if report.seen_before:
        lines.append("  this file was imported before")
    lines.append(f"already imported: {report.already_imported}")
    if report.not_booked_by_bank:
        lines.append(f"not booked by the bank (pending/info): {report.not_booked_by_bank}")
    if report.blocked:
        lines.append(f"blocked (statement does not add up): {report.blocked}")
    matched = ", ".join(f"{rule} {n}" for rule, n in sorted(report.matched.items())) or "none"
    lines.append(f"matched: {sum(report.matched.values())} ({matched})")
    lines.append(f"booked: {report.booked} payments, {_eur(report.booked_cents)}")
    lines.append(
        f"  allocated to costs {_eur(report.costs_cents)}, interest "
        f"{_eur(report.interest_cents)}, principal {_eur(report.principal_cents)}"
    )
    lines.append(f"refunds queued: {report.refunds}, {_eur(report.refund_cents)}")
    lines.append(f"returned/reversed: {report.returned}, {_eur(report.returned_cents)}")
    lines.append(f"left for review: {report.review}, {_eur(report.review_cents)}")
    lines.append(f"ignored (money out): {report.ignored}, {_eur(report.ignored_cents)}")
    shown = [o for o in report.outcomes if o.status in ("review", "refund", "returned")][:20]
    if shown:
        lines.append("needs attention:")
        for o in shown:
            lines.append(
                f"  [{o.status}] {_eur(o.amount_cents)} {o.case_reference or '-'}: {o.reason}"
            )
    for m in report.messages:
        lines.append(m if "DOES NOT ADD UP" not in m else m.upper())
    return "\n".join(lines)


@bank_app.command("import")
def import_file(
    file: Annotated[Path, typer.Argument(help="A CAMT.053 or CAMT.054 file.")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Match and allocate, then roll back.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    block_on_difference: Annotated[
        bool,
        typer.Option(
            "--block-on-difference",
            help=f"Book nothing of a statement that does not add up (or {ENV_BLOCK}=1).",
        ),
    ] = False,
    day: Annotated[
        str | None, typer.Option("--date", help="Business date (default: today).")
    ] = None,
    batch_size: Annotated[int, typer.Option(help="Entries per transaction.")] = 2000,
) -> None:
    """Read a bank file, check its balances, match and book its entries (each once)."""
    from respite.adapters.bank.camt import read_statements

    on = parse_date(day, "--date") if day is not None else None
    block = block_on_difference or os.environ.get(ENV_BLOCK, "") in ("1", "true", "yes")
    statements = read_statements(file)
    sha = _sha256(file)
    with open_database() as engine:
        report = bank_import.import_statements(
            engine,
            statements,
            filename=file.name,
            sha256=sha,
            on=on,
            now=datetime.now(UTC),
            dry_run=dry_run,
            block_on_difference=block,
            batch_size=batch_size,
        )
    if as_json:
        typer.echo(json.dumps(report.as_dict(), default=str, ensure_ascii=False))
    else:
        typer.echo(render(report))


@bank_app.command("review")
def review(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Entries waiting for an agent, with the proposed case and why."""
    with open_database() as engine, engine.connect() as conn:
        rows = bank_import.review_queue(conn)
    if as_json:
        typer.echo(json.dumps(rows, default=str, ensure_ascii=False))
        return
    if not rows:
        typer.echo("nothing to review")
    for r in rows:
        typer.echo(
            f"#{r['id']} {r['booking_date']} {r['direction']} {_eur(r['amount_cents'])} "
            f"{r['currency']} {r['counterparty_name'] or '-'} -> {r['proposed_case'] or '?'}"
            f" ({r['match_rule'] or 'no rule'}{'' if r['match_score'] is None else ', score ' + str(r['match_score'])}): "
            f"{r['match_reason']}"
        )


@bank_app.command("assign")
def assign(
    entry_id: Annotated[int, typer.Argument(help="The bank entry (see `bank review`).")],
    case_reference: Annotated[str, typer.Argument(help="The case, e.g. R000000123.")],
    by: Annotated[str, typer.Option("--by", help="Who decides (stored).")],
    day: Annotated[str | None, typer.Option("--date", help="Business date.")] = None,
) -> None:
    """Book a reviewed entry to a case."""
    on = date_or_today(day, "--date")
    with open_database() as engine, engine.begin() as conn:
        result: dict[str, Any] = bank_import.assign(
            conn, entry_id, case_reference, actor=by, on=on, now=datetime.now(UTC)
        )
    typer.echo(json.dumps(result, ensure_ascii=False))


@bank_app.command("refund")
def refund(
    entry_id: Annotated[int, typer.Argument(help="The bank entry (see `bank review`).")],
    by: Annotated[str, typer.Option("--by", help="Who decides (stored).")],
    reason: Annotated[str, typer.Option(help="Why it goes back.")],
    day: Annotated[str | None, typer.Option("--date", help="Business date.")] = None,
) -> None:
    """Send a reviewed entry that matches no debt back to the payer (refund queue)."""
    on = date_or_today(day, "--date")
    with open_database() as engine, engine.begin() as conn:
        result = bank_import.refund(conn, entry_id, actor=by, on=on, reason=reason)
    typer.echo(json.dumps(result, ensure_ascii=False))


@bank_app.command("generate")
def generate(
    day: Annotated[str, typer.Option("--date", help="The day the payments arrive.")],
    out: Annotated[Path, typer.Option("--out", help="Where to write the CAMT.053 file.")],
) -> None:
    """Write a CAMT.053 with what the demo portfolio's debtors pay on a day."""
    on = parse_date(day, "--date")
    with open_database() as engine, engine.connect() as conn:
        counts = bank_import.demo_statement(conn, on, out)
    typer.echo(json.dumps({"file": str(out), **counts}))
