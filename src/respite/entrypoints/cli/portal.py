"""``respite portal``: the debtor portal from the command line.

``respite portal code CASE_REF`` issues a new login code for a case, for an agent who reads
it out on the phone or for the demo, and prints JSON with the code and the signed login
link (the link a letter's QR code can carry). The code is shown once; only its hash is kept.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated

import typer

from respite.entrypoints.cli.options import date_or_today, open_database
from respite.entrypoints.web.settings import WebSettings
from respite.services import portal_access

__all__ = ["portal_app"]

portal_app = typer.Typer(help="The debtor portal: login codes and links.", no_args_is_help=True)


@portal_app.command("code")
def code(
    case_ref: Annotated[str, typer.Argument(help="The case reference, e.g. R000000042.")],
    on: Annotated[
        str | None, typer.Option("--on", help="Business date it is issued on (default: today).")
    ] = None,
    days: Annotated[int, typer.Option("--days", help="Days the code stays valid.")] = 90,
    by: Annotated[str, typer.Option("--by", help="Who issues it (the case timeline).")] = "agent",
) -> None:
    """Issue a login code for CASE_REF; print reference, code, expiry and login link."""
    issued_on = date_or_today(on, "--on")
    settings = WebSettings.from_env()
    with open_database() as engine, engine.begin() as conn:
        issued = portal_access.issue_code(
            conn, case_ref, on=issued_on, days=days, at=datetime.now(UTC), actor=by
        )
    link = portal_access.login_link(
        settings.public_url, issued.reference, issued.code, issued.expires_on, settings.link_secret
    )
    typer.echo(
        json.dumps(
            {
                "reference": issued.reference,
                "code": issued.code,
                "expires_on": issued.expires_on.isoformat(),
                "login_link": link,
            },
            indent=2,
        )
    )
