"""``respite payment-provider``: the local fake payment provider, stand-alone (the demo).

It serves the provider API of :mod:`respite.adapters.payments.http_provider` and the hosted
checkout page, and signs its webhooks with the portal's secret. Point the portal at it with
``RESPITE_PAYMENT_PROVIDER_URL`` (the default, ``http://127.0.0.1:8001``, is this command's).
"""

from __future__ import annotations

import os
import time
from typing import Annotated

import typer

__all__ = ["payment_provider"]


def payment_provider(
    port: Annotated[int, typer.Option("--port", help="Port to listen on (loopback).")] = 8001,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    secret: Annotated[
        str | None,
        typer.Option(
            "--secret",
            help="Webhook signing secret; default RESPITE_PAYMENT_WEBHOOK_SECRET, else the "
            "demo secret the portal also defaults to.",
        ),
    ] = None,
) -> None:
    """Run a local fake payment provider with a hosted checkout page (Ctrl-C stops)."""
    from respite.adapters.payments.fake_provider import DEFAULT_SECRET, FakePaymentProvider

    key = secret or os.environ.get("RESPITE_PAYMENT_WEBHOOK_SECRET") or DEFAULT_SECRET
    with FakePaymentProvider(host, port, webhook_secret=key) as fake:
        typer.echo(f"Fake payment provider on {fake.url} (checkouts: POST {fake.url}/v1/checkouts)")
        typer.echo(f"export RESPITE_PAYMENT_PROVIDER_URL={fake.url}")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
