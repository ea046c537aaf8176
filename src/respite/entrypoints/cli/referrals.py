"""``respite referral``: refer a person to debt counselling, accept, close, list, claim
statement.

Output is JSON, except ``statement``, which writes a CSV or PDF file and prints its path
and totals. Refusals (no reason to refer, an already closed referral) exit with status 1.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from respite.adapters.documents.claim_statement import write_csv, write_pdf
from respite.domain.money import Currency, parse_amount
from respite.entrypoints.cli.options import date_or_today, open_database
from respite.errors import InputError
from respite.services import referrals

__all__ = ["referral_app"]

referral_app = typer.Typer(
    help="Referral to debt counselling: holds collection while counselling runs.",
    no_args_is_help=True,
)

DateOpt = Annotated[str | None, typer.Option("--date", help="Business date (default: today).")]
ActorOpt = Annotated[str, typer.Option("--actor", help="Who acts (stored in the timeline).")]


def _emit(result: Any) -> None:
    typer.echo(json.dumps(result, indent=2, ensure_ascii=False))


@referral_app.command("create")
def create(
    case_ref: Annotated[str, typer.Argument(help="A case of the person to refer.")],
    date: DateOpt = None,
    actor: ActorOpt = "agent",
    reason: Annotated[
        str | None, typer.Option(help="Refer on an agent's judgement, with this reason.")
    ] = None,
    capacity: Annotated[
        str | None,
        typer.Option(help="Monthly repayment capacity (default: latest budget statement)."),
    ] = None,
    months: Annotated[
        int | None, typer.Option(help="Repayment term in months (default: the rules').")
    ] = None,
    vulnerable: Annotated[
        bool, typer.Option("--vulnerable", help="A vulnerability has been flagged.")
    ] = False,
) -> None:
    """Refer the person behind CASE_REF and hold all their open cases (refused without a reason)."""
    capacity_cents = None
    if capacity is not None:
        try:
            capacity_cents = int(parse_amount(capacity, Currency.EUR).scaleb(2))
        except InputError as exc:
            raise InputError(str(exc), field="--capacity") from None
    with open_database() as engine, engine.begin() as conn:
        result = referrals.refer_case(
            conn,
            case_ref,
            on=date_or_today(date, "--date"),
            actor=actor,
            at=datetime.now(UTC),
            capacity_cents=capacity_cents,
            max_months=months,
            vulnerable=True if vulnerable else None,
            agent_reason=reason,
        )
    _emit(result)


def _on_referral(
    action: Callable[..., dict[str, Any]],
    referral_id: int,
    date: str | None,
    actor: str,
    reason: str,
) -> None:
    """Run ``action`` on one referral in one transaction and print its result."""
    with open_database() as engine, engine.begin() as conn:
        result = action(
            conn,
            referral_id,
            on=date_or_today(date, "--date"),
            actor=actor,
            reason=reason,
            at=datetime.now(UTC),
        )
    _emit(result)


@referral_app.command("accept")
def accept(
    referral_id: Annotated[int, typer.Argument(help="The referral the counsellor accepted.")],
    date: DateOpt = None,
    actor: ActorOpt = "agent",
    reason: Annotated[str, typer.Option(help="A note, e.g. the counsellor's file number.")] = "",
) -> None:
    """Record that debt counselling took the person on (the holds stay; close ends them)."""
    _on_referral(referrals.accept_referral, referral_id, date, actor, reason)


@referral_app.command("close")
def close(
    referral_id: Annotated[int, typer.Argument(help="The referral to close.")],
    date: DateOpt = None,
    actor: ActorOpt = "agent",
    reason: Annotated[str, typer.Option(help="Why it ends.")] = "debt counselling ended",
) -> None:
    """Close a referral and lift the debt-counselling holds; collection may resume."""
    _on_referral(referrals.close_referral, referral_id, date, actor, reason)


@referral_app.command("list")
def list_all(
    status: Annotated[str | None, typer.Option(help="open or closed (default: all).")] = None,
) -> None:
    """List referrals, newest first (JSON)."""
    if status not in (None, "open", "closed"):
        raise InputError(f"must be open or closed, got {status!r}", field="--status")
    with open_database() as engine, engine.connect() as conn:
        _emit(referrals.list_referrals(conn, status=status))


@referral_app.command("statement")
def statement(
    case_ref: Annotated[str, typer.Argument(help="A case of the person.")],
    out: Annotated[Path, typer.Option("--out", help="File to write: .csv or .pdf.")],
    date: DateOpt = None,
) -> None:
    """Write the person's claim statement for a debt counsellor (CSV or PDF)."""
    suffix = out.suffix.lower()
    if suffix not in (".csv", ".pdf"):
        raise InputError(f"the file must end in .csv or .pdf, got {out.name!r}", field="--out")
    with open_database() as engine, engine.connect() as conn:
        view = referrals.claim_statement(
            conn, referrals.debtor_of_case(conn, case_ref), on=date_or_today(date, "--date")
        )
    (write_csv if suffix == ".csv" else write_pdf)(view, out)
    _emit(
        {
            "file": str(out),
            "person": view.debtor.person,
            "claims": len(view.lines),
            "creditors": len(view.creditors),
            "currency": view.currency.code,
            "open": str(view.totals.open),
        }
    )
