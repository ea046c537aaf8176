"""``respite creditor key`` and ``respite webhooks``: API keys and webhook delivery.

A key or a webhook signing secret is printed once, as JSON, when it is created; only its
hash (keys) or its sealed form (webhook secrets) is kept. ``respite webhooks deliver``
queues the new status events and posts those that are due: run it from cron or a timer
every minute.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated

import typer

from respite.adapters.clock import SystemClock
from respite.entrypoints.cli.options import open_database
from respite.services import api_keys, webhooks

__all__ = ["key_app", "webhooks_app"]

key_app = typer.Typer(
    help="API keys of a creditor (shown once, stored hashed).", no_args_is_help=True
)
webhooks_app = typer.Typer(
    help="Webhooks: status events posted, signed, to a creditor's endpoint.", no_args_is_help=True
)


def _emit(result: object) -> None:
    typer.echo(json.dumps(result, indent=2, ensure_ascii=False, default=_iso))


def _iso(value: datetime) -> str:
    return value.isoformat()


@key_app.command("create")
def create(
    creditor: Annotated[str, typer.Argument(help="The creditor's name.", show_default=False)],
    scopes: Annotated[
        str,
        typer.Option(help=f"Comma-separated, from: {', '.join(api_keys.SCOPES)}."),
    ],
    label: Annotated[str, typer.Option(help="What the key is for (e.g. the ERP link).")] = "",
) -> None:
    """Create a key and print it once; store it in the client's secret store."""
    with open_database() as engine, engine.begin() as conn:
        new = api_keys.create_key(conn, creditor, scopes, label=label, now=SystemClock().now())
    _emit(new.as_dict())


@key_app.command("list")
def list_keys(
    creditor: Annotated[
        str | None, typer.Argument(help="Only this creditor's keys.", show_default=False)
    ] = None,
) -> None:
    """List keys (their ids, never the secrets), revoked ones included."""
    with open_database() as engine, engine.connect() as conn:
        keys = api_keys.list_keys(conn, creditor)
    _emit({"keys": [k.as_dict() for k in keys]})


@key_app.command("revoke")
def revoke(
    key_id: Annotated[str, typer.Argument(help="The key id (the part after rsp_).")],
) -> None:
    """Revoke a key: the next request with it gets 401, in every worker."""
    with open_database() as engine, engine.begin() as conn:
        info = api_keys.revoke_key(conn, key_id, now=SystemClock().now())
    _emit(info.as_dict())


@webhooks_app.command("add")
def add(
    creditor: Annotated[str, typer.Argument(help="The creditor's name.", show_default=False)],
    url: Annotated[str, typer.Argument(help="Where to POST (https://, or http:// for a test).")],
    event_kinds: Annotated[
        str, typer.Option(help="Comma-separated event kinds; default: every status event.")
    ] = "",
) -> None:
    """Register an endpoint and print its signing secret once."""
    with open_database() as engine, engine.begin() as conn:
        creditor_id = api_keys.creditor_id_by_name(conn, creditor)
        created = webhooks.add_endpoint(
            conn,
            creditor_id,
            url,
            event_kinds=[k for k in event_kinds.split(",") if k.strip()],
            now=SystemClock().now(),
            allow_http=True,
        )
    _emit(created)


@webhooks_app.command("deliver")
def deliver(
    now: Annotated[
        bool,
        typer.Option("--now", help="Post every pending delivery now, ignoring the backoff."),
    ] = False,
) -> None:
    """Queue new status events, then post the deliveries that are due."""
    clock = SystemClock()
    with open_database() as engine:
        with engine.begin() as conn:
            queued = webhooks.enqueue(conn, now=clock.now())
        report = webhooks.deliver_due(engine, now=clock.now(), ignore_schedule=now)
    _emit({"queued": queued, **report.as_dict()})
