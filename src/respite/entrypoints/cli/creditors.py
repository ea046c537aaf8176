"""``respite creditor``: the creditors whose claims the agency collects.

Output is JSON. Adding a creditor that exists with the same terms is a no-op, so the
command can be retried; with other terms it is refused (exit status 1).
"""

from __future__ import annotations

import json
from typing import Annotated

import typer

from respite.adapters.clock import SystemClock
from respite.entrypoints.cli.api_admin import key_app
from respite.entrypoints.cli.options import open_database
from respite.services.intake import list_creditors, register_creditor

__all__ = ["creditor_app"]

creditor_app = typer.Typer(
    help="Creditors: the businesses whose claims are collected.", no_args_is_help=True
)
creditor_app.add_typer(key_app, name="key")


@creditor_app.command("add")
def add_creditor(
    name: Annotated[str, typer.Argument(help="The creditor's name, unique.", show_default=False)],
    jurisdiction: Annotated[
        str, typer.Option("--jurisdiction", "-j", help="NL, BE or PL: whose law applies.")
    ],
    currency: Annotated[
        str | None, typer.Option(help="Currency of its claims (default: the jurisdiction's).")
    ] = None,
    strategy: Annotated[str, typer.Option(help="Collection strategy to follow.")] = "standard",
    vat_uplift_declared: Annotated[
        bool,
        typer.Option(
            "--vat-uplift-declared", help="NL: the creditor declares it cannot deduct VAT."
        ),
    ] = False,
) -> None:
    """Add a creditor (a tenant) so that its claims can be imported."""
    with open_database() as engine:
        info, created = register_creditor(
            engine,
            name,
            jurisdiction=jurisdiction,
            currency=currency,
            strategy=strategy,
            vat_uplift_declared=vat_uplift_declared,
            now=SystemClock().now(),
        )
    _emit({"created": created, "creditor": info.as_dict()})


@creditor_app.command("list")
def list_all() -> None:
    """List the creditors as JSON."""
    with open_database() as engine:
        creditors = list_creditors(engine)
    _emit({"creditors": [c.as_dict() for c in creditors]})


def _emit(result: dict[str, object]) -> None:
    typer.echo(json.dumps(result, indent=2, ensure_ascii=False))
