"""``respite plan``: offer, propose, approve, reject, re-plan, defer, show and pay plans."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from sqlalchemy import select

from respite.adapters.db.models import Case
from respite.domain.affordability import Household
from respite.domain.money import Currency, Money, parse_amount
from respite.entrypoints.cli.options import date_or_today, open_database
from respite.errors import InputError
from respite.services import affordability, plans

plan_app = typer.Typer(
    help="Payment plans: offers within policy and capacity, proposals, deferrals.",
    no_args_is_help=True,
)

On = Annotated[str | None, typer.Option("--on", help="Business date (default: today).")]
Actor = Annotated[str, typer.Option("--by", help="Who acts (stored in the timeline).")]
AllCases = Annotated[
    bool,
    typer.Option(
        "--all-cases", help="Cover all the debtor's open cases, with every creditor, in one plan."
    ),
]
Payday = Annotated[
    int | None, typer.Option(help="The debtor's payday (day of the month) for the due dates.")
]
Capacity = Annotated[
    str | None,
    typer.Option(help="Monthly repayment capacity (default: from the latest statement)."),
]


def _cents(value: str | None, option: str) -> int | None:
    if value is None:
        return None
    try:
        return Money(parse_amount(value, Currency.EUR), Currency.EUR).minor_units
    except InputError as exc:
        raise InputError(str(exc), field=option) from None


def _emit(result: dict[str, Any]) -> None:
    typer.echo(json.dumps(result, indent=2, ensure_ascii=False))


@plan_app.command("options")
def options(
    reference: str,
    all_cases: AllCases = False,
    capacity: Capacity = None,
    payday: Payday = None,
    on: On = None,
) -> None:
    """The plans a debtor can choose: within every creditor's policy and the capacity."""
    with open_database() as engine:
        _emit(
            plans.offer(
                engine,
                reference,
                on=date_or_today(on, "--on"),
                all_cases=all_cases,
                capacity_cents=_cents(capacity, "--capacity"),
                payday=payday,
            )
        )


@plan_app.command("propose")
def propose(
    reference: str,
    instalment: Annotated[str, typer.Option(help="Monthly amount the debtor proposes.")],
    by: Actor = "debtor",
    all_cases: AllCases = False,
    capacity: Capacity = None,
    payday: Payday = None,
    on: On = None,
) -> None:
    """Propose a plan: active at once within policy, otherwise queued for an agent."""
    amount = _cents(instalment, "--instalment") or 0
    with open_database() as engine:
        _emit(
            plans.propose(
                engine,
                reference,
                on=date_or_today(on, "--on"),
                instalment_cents=amount,
                at=datetime.now(UTC),
                proposed_by=by,
                all_cases=all_cases,
                payday=payday,
                capacity_cents=_cents(capacity, "--capacity"),
            )
        )


@plan_app.command("approve")
def approve(plan_id: int, by: Actor, on: On = None) -> None:
    """Approve a proposal that was outside policy (an agent with the authority)."""
    with open_database() as engine:
        _emit(
            plans.approve_plan(
                engine, plan_id, on=date_or_today(on, "--on"), actor=by, at=datetime.now(UTC)
            )
        )


@plan_app.command("reject")
def reject(
    plan_id: int,
    by: Actor,
    reason: Annotated[str, typer.Option(help="The reason the debtor will be told.")],
    on: On = None,
) -> None:
    """Turn a proposal down, with the reason."""
    with open_database() as engine:
        _emit(
            plans.reject_plan(
                engine,
                plan_id,
                on=date_or_today(on, "--on"),
                actor=by,
                reason=reason,
                at=datetime.now(UTC),
            )
        )


@plan_app.command("replan")
def replan(
    plan_id: int,
    instalment: Annotated[str, typer.Option(help="The new monthly amount.")],
    by: Actor = "debtor",
    capacity: Capacity = None,
    payday: Payday = None,
    on: On = None,
) -> None:
    """A new schedule for what is still owed; never new collection costs."""
    amount = _cents(instalment, "--instalment") or 0
    with open_database() as engine:
        _emit(
            plans.replan(
                engine,
                plan_id,
                on=date_or_today(on, "--on"),
                instalment_cents=amount,
                at=datetime.now(UTC),
                actor=by,
                payday=payday,
                capacity_cents=_cents(capacity, "--capacity"),
            )
        )


@plan_app.command("defer")
def defer(
    reference: str,
    days: Annotated[int, typer.Option(help="How many days to postpone.")],
    by: Actor = "debtor",
    reason: Annotated[str, typer.Option(help="Why (stored in the timeline).")] = "",
    on: On = None,
) -> None:
    """Postpone collection (interest frozen); longer than policy goes to an agent."""
    with open_database() as engine:
        _emit(
            plans.defer(
                engine,
                reference,
                on=date_or_today(on, "--on"),
                days=days,
                actor=by,
                reason=reason,
                at=datetime.now(UTC),
            )
        )


@plan_app.command("show")
def show(plan_id: int) -> None:
    """A plan with its cases, shares and schedule."""
    with open_database() as engine:
        _emit(plans.plan_summary(engine, plan_id))


@plan_app.command("statement")
def statement(
    reference: str,
    file: Annotated[Path, typer.Option(help="The income & expenditure statement (JSON).")],
    household: Annotated[
        str, typer.Option(help="single, single-parent, couple or couple-with-children.")
    ],
    by: Annotated[str, typer.Option("--source", help="portal, agent or counsellor.")] = "agent",
    confirmed: Annotated[
        bool, typer.Option(help="The debtor confirmed the values that were flagged.")
    ] = False,
    on: On = None,
) -> None:
    """Record a debtor's income & expenditure: flags, protected income and capacity."""
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read {file}: {exc}", field="--file") from None
    kind = Household.parse(household)
    with open_database() as engine, engine.begin() as conn:
        debtor = conn.execute(select(Case.debtor_id).where(Case.reference == reference)).scalar()
        if debtor is None:
            raise InputError(f"no case with reference {reference!r}", field="CASE_REF")
        _emit(
            affordability.record_statement(
                conn,
                int(debtor),
                affordability.parse_statement(data, household=kind),
                household=kind,
                on=date_or_today(on, "--on"),
                source=by,
                confirmed=confirmed,
            )
        )
