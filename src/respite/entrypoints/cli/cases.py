"""``respite case``: move a case, place or lift a hold, show its timeline."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, TypeVar

import typer

from respite.domain.lifecycle import CloseReason, HoldKind, Stage
from respite.entrypoints.cli.options import date_or_today, open_database, parse_date
from respite.errors import InputError
from respite.services import cases

case_app = typer.Typer(
    help="Move a case, place or lift a hold, show its timeline.", no_args_is_help=True
)

Reason = Annotated[str, typer.Option(help="Why (stored in the timeline).")]
Actor = Annotated[str, typer.Option("--by", help="Who acts (stored in the timeline).")]
On = Annotated[str | None, typer.Option("--on", help="Business date (default: today).")]


E = TypeVar("E", bound=StrEnum)


def _enum(kind: type[E], value: str, option: str) -> E:
    try:
        return kind(value)
    except ValueError:
        known = ", ".join(m.value for m in kind)
        raise InputError(f"must be one of {known}, got {value!r}", field=option) from None


@case_app.command("move")
def move(
    reference: str,
    to: Annotated[str, typer.Option(help="Target stage.")],
    reason: Reason,
    by: Actor,
    close_reason: Annotated[
        str | None, typer.Option(help="paid, settled, written_off or recalled.")
    ] = None,
    on: On = None,
) -> None:
    """Move a case to another stage (refused when the lifecycle or a hold forbids it)."""
    target = _enum(Stage, to, "--to")
    why = _enum(CloseReason, close_reason, "--close-reason") if close_reason else None
    with open_database() as engine:
        result = cases.move_case(
            engine,
            reference,
            target,
            on=date_or_today(on, "--on"),
            actor=by,
            reason=reason,
            close_reason=why,
            at=datetime.now(UTC),
        )
    typer.echo(json.dumps(result))


@case_app.command("hold")
def hold(
    reference: str,
    kind: Annotated[
        str,
        typer.Option(
            help="dispute, deferral, breathing_space, debt_counselling, vulnerability_review or deceased."
        ),
    ],
    reason: Reason,
    by: Actor,
    until: Annotated[str | None, typer.Option(help="Last day of the hold.")] = None,
    on: On = None,
) -> None:
    """Place a hold: interest and every collection action stop while it lasts."""
    hold_kind = _enum(HoldKind, kind, "--kind")
    end = parse_date(until, "--until") if until is not None else None
    with open_database() as engine:
        result = cases.place_hold(
            engine,
            reference,
            hold_kind,
            on=date_or_today(on, "--on"),
            actor=by,
            reason=reason,
            until=end,
            at=datetime.now(UTC),
        )
    typer.echo(json.dumps(result))


@case_app.command("unhold")
def unhold(
    reference: str,
    kind: Annotated[str, typer.Option(help="The hold to lift.")],
    reason: Reason,
    by: Actor,
    on: On = None,
) -> None:
    """Lift a hold; collection resumes on the next cycle."""
    hold_kind = _enum(HoldKind, kind, "--kind")
    with open_database() as engine:
        result = cases.lift_hold(
            engine,
            reference,
            hold_kind,
            on=date_or_today(on, "--on"),
            actor=by,
            reason=reason,
            at=datetime.now(UTC),
        )
    typer.echo(json.dumps(result))


@case_app.command("timeline")
def show_timeline(reference: str) -> None:
    """The case's events, oldest first (JSON)."""
    with open_database() as engine:
        events = cases.timeline(engine, reference)
    typer.echo(json.dumps(events, indent=2, ensure_ascii=False))
