"""``respite user`` (console users) and ``respite audit`` (export the audit log)."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from respite.domain.money import Currency, Money, parse_amount
from respite.entrypoints.cli.options import open_database, parse_date
from respite.errors import InputError
from respite.services import console, users
from respite.services.authority import ROLES

user_app = typer.Typer(
    help="Console users: agents, supervisors, admins, compliance officers, creditor users.",
    no_args_is_help=True,
)
audit_app = typer.Typer(
    help="The audit log: who read or changed whose personal data.", no_args_is_help=True
)


def _cents(value: str, option: str) -> int:
    try:
        amount = Money(parse_amount(value, Currency.EUR), Currency.EUR)
    except InputError as exc:
        raise InputError(str(exc), field=option) from None
    if amount.minor_units < 0:
        raise InputError("cannot be negative", field=option)
    return amount.minor_units


def _password(from_stdin: bool) -> str:
    if from_stdin:
        # One line from stdin (a pipe or a secret manager): never an argument, which
        # would land in the shell history and the process list.
        return sys.stdin.readline().rstrip("\r\n")
    value: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return value


@user_app.command("create")
def create(
    username: str,
    role: Annotated[str, typer.Option(help=f"One of {', '.join(ROLES)}.")],
    display_name: Annotated[
        str | None, typer.Option("--name", help="The full name shown in the console.")
    ] = None,
    plan_limit: Annotated[
        str, typer.Option(help="The largest plan total this user may agree (EUR).")
    ] = "0",
    writeoff_limit: Annotated[
        str, typer.Option(help="The largest write-off this user may agree (EUR).")
    ] = "0",
    creditor: Annotated[
        str | None, typer.Option(help="For role creditor: the creditor's name.")
    ] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from stdin.")
    ] = False,
) -> None:
    """Create a console user; the password is prompted (not echoed) or read from stdin."""
    if role not in ROLES:
        raise InputError(f"must be one of {', '.join(ROLES)}, got {role!r}", field="--role")
    plan = _cents(plan_limit, "--plan-limit")
    writeoff = _cents(writeoff_limit, "--writeoff-limit")
    password = _password(password_stdin)
    with open_database() as engine, engine.begin() as conn:
        user = users.create_user(
            conn,
            username,
            password,
            role=role,
            now=datetime.now(UTC),
            display_name=display_name,
            plan_limit_cents=plan,
            writeoff_limit_cents=writeoff,
            creditor=creditor,
            created_by="cli",
        )
    typer.echo(
        json.dumps(
            {
                "user": user.username,
                "role": user.role,
                "plan_limit": str(Money.from_minor_units(user.plan_limit_cents, Currency.EUR)),
                "writeoff_limit": str(
                    Money.from_minor_units(user.writeoff_limit_cents, Currency.EUR)
                ),
                "creditor": creditor,
            },
            indent=2,
        )
    )


@user_app.command("list")
def list_() -> None:
    """Every console user: name, role, limits, creditor (never a password hash)."""
    with open_database() as engine, engine.connect() as conn:
        found = users.list_users(conn)
    typer.echo(
        json.dumps(
            [
                {
                    "user": u["username"],
                    "name": u["display_name"],
                    "role": u["role"],
                    "plan_limit": str(Money.from_minor_units(u["plan_limit_cents"], Currency.EUR)),
                    "writeoff_limit": str(
                        Money.from_minor_units(u["writeoff_limit_cents"], Currency.EUR)
                    ),
                    "creditor": u["creditor"],
                    "active": u["active"],
                }
                for u in found
            ],
            indent=2,
            ensure_ascii=False,
        )
    )


@audit_app.command("export")
def export(
    out: Annotated[Path, typer.Option("--out", help="The CSV file to write.")],
    since: Annotated[
        str | None, typer.Option("--from", help="First day (YYYY-MM-DD, UTC), included.")
    ] = None,
    to: Annotated[
        str | None, typer.Option("--to", help="Last day (YYYY-MM-DD, UTC), included.")
    ] = None,
) -> None:
    """Write the audit log (of a period) as CSV; the export itself is recorded in it."""
    first = parse_date(since, "--from") if since else None
    last = parse_date(to, "--to") if to else None
    if first and last and last < first:
        raise InputError("the period ends before it starts", field="--to")
    with open_database() as engine:
        body, count = console.export_audit(
            engine, since=first, until=last, actor="cli", at=datetime.now(UTC)
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(body, encoding="utf-8")
    typer.echo(json.dumps({"file": str(out), "entries": count}, indent=2))
