"""``respite debtor``: the debtor-360 view, identity matching and its review queue."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any

import typer

from respite.entrypoints.cli.options import date_or_today, open_database
from respite.errors import InputError
from respite.services import debtor360, identity

debtor_app = typer.Typer(
    help="One debtor, many debts: the 360 view, matching records across creditors, review.",
    no_args_is_help=True,
)


def _emit(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def _show_text(view: dict[str, Any]) -> None:
    names = sorted({r["name"] for r in view["records"]})
    typer.echo(f"person {view['person']} on {view['on']}: {' / '.join(names)}")
    typer.echo(f"records: {', '.join(str(r['debtor_id']) for r in view['records'])}")
    for c in view["cases"]:
        state = f"closed ({c['close_reason']})" if c["closed"] else c["stage"]
        held = ",".join(h["kind"] for h in c["holds"])
        typer.echo(
            f"  {c['reference']}  {c['creditor']:<24} {state:<20} "
            f"{c['currency']} {c['total_open']:>12}" + (f"  on hold: {held}" if held else "")
        )
    for p in view["plans"]:
        typer.echo(
            f"  plan {p['plan_id']} {p['status']}: {p['months']} x {p['currency']} "
            f"{p['instalment']} over {len(p['cases'])} case(s)"
        )
    for r in view["referrals"]:
        typer.echo(f"  referral {r['referral_id']} ({r['status']}) to {r['municipality']}")
    for currency, total in view["total_debt"].items():
        typer.echo(f"total debt {currency} {total['total']}")


@debtor_app.command("show")
def show(
    key: Annotated[str, typer.Argument(help="A case reference (R000000042) or a debtor id.")],
    on: Annotated[str | None, typer.Option(help="Date for active holds (default: today).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the view as JSON.")] = False,
) -> None:
    """Every case of the person behind a case or debtor, with all creditors and totals."""
    day = date_or_today(on, "--on")
    with open_database() as engine, engine.connect() as conn:
        view = debtor360.debtor_360(conn, key, on=day)
    if as_json:
        _emit(view)
    else:
        _show_text(view)


@debtor_app.command("match")
def match(
    debtor_id: Annotated[int | None, typer.Argument(help="One debtor record to match.")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Match every debtor record.")] = False,
) -> None:
    """Find other creditors' records of the same person: link them or queue them (JSON)."""
    if all_ == (debtor_id is not None):
        raise InputError("give either a DEBTOR_ID or --all", field="--all")
    at = datetime.now(UTC)
    with open_database() as engine, engine.begin() as conn:
        if debtor_id is None:
            links = identity.resolve_all(conn, at=at)
        else:
            links = identity.resolve(conn, debtor_id, at=at)
    _emit(
        {
            "linked": sum(link["status"] == "linked" for link in links),
            "review": sum(link["status"] == "review" for link in links),
            "links": links,
        }
    )


@debtor_app.command("review")
def review() -> None:
    """The pairs waiting for a person to decide, highest score first (JSON)."""
    with open_database() as engine, engine.connect() as conn:
        _emit(identity.review_queue(conn))


@debtor_app.command("decide")
def decide(
    link_id: Annotated[int, typer.Argument(help="The identity link from `respite debtor review`.")],
    actor: Annotated[str, typer.Option("--actor", help="Who decides (stored with the link).")],
    accept: Annotated[
        bool | None, typer.Option("--accept/--reject", help="One person, or two.")
    ] = None,
) -> None:
    """Accept (link the two persons) or reject a queued pair."""
    if accept is None:
        raise InputError("say --accept or --reject", field="--accept")
    with open_database() as engine, engine.begin() as conn:
        result = identity.decide(conn, link_id, accept, actor=actor, at=datetime.now(UTC))
    _emit(result)
