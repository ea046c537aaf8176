"""``respite case``: move a case, place or lift a hold, show its timeline."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Annotated, TypeVar

import typer
from sqlalchemy import Engine

from respite.adapters.clock import SystemClock
from respite.adapters.db.engine import make_engine, upgrade
from respite.domain.lifecycle import CloseReason, HoldKind, Stage
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


def _on(value: str | None) -> date:
    if value is None:
        return SystemClock().today()
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InputError(f"expected a date as YYYY-MM-DD, got {value!r}", field="--on") from None


def _engine() -> Engine:
    engine = make_engine()
    upgrade(engine)
    return engine


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
    result = cases.move_case(
        _engine(),
        reference,
        _enum(Stage, to, "--to"),
        on=_on(on),
        actor=by,
        reason=reason,
        close_reason=_enum(CloseReason, close_reason, "--close-reason") if close_reason else None,
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
    end = None
    if until is not None:
        try:
            end = date.fromisoformat(until)
        except ValueError:
            raise InputError(
                f"expected a date as YYYY-MM-DD, got {until!r}", field="--until"
            ) from None
    result = cases.place_hold(
        _engine(),
        reference,
        _enum(HoldKind, kind, "--kind"),
        on=_on(on),
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
    result = cases.lift_hold(
        _engine(),
        reference,
        _enum(HoldKind, kind, "--kind"),
        on=_on(on),
        actor=by,
        reason=reason,
        at=datetime.now(UTC),
    )
    typer.echo(json.dumps(result))


@case_app.command("timeline")
def show_timeline(reference: str) -> None:
    """The case's events, oldest first (JSON)."""
    typer.echo(json.dumps(cases.timeline(_engine(), reference), indent=2, ensure_ascii=False))
