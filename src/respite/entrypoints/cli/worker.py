"""``respite worker``: a Celery worker that runs shards of the nightly cycle.

It consumes the Respite queue (``RESPITE_CELERY_QUEUE``, default ``respite-cycle``) on the
broker named by ``RESPITE_BROKER_URL`` and writes to ``RESPITE_DATABASE_URL``; see
``respite.entrypoints.worker.celery_app`` for the settings and why redelivery is safe.
"""

from __future__ import annotations

import os
import socket
from typing import Annotated

import typer

from respite.errors import InputError

__all__ = ["worker"]

LOG_LEVELS = ("debug", "info", "warning", "error", "critical")


def worker(
    concurrency: Annotated[
        int, typer.Option(help="Worker processes, each running one shard at a time.")
    ] = 1,
    loglevel: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "info",
) -> None:
    """Run a Celery worker for `respite cycle --executor celery` (stops on Ctrl-C / SIGTERM)."""
    if concurrency < 1:
        raise InputError("must be at least 1", field="--concurrency")
    level = loglevel.strip().lower()
    if level not in LOG_LEVELS:
        raise InputError(
            f"must be one of {', '.join(LOG_LEVELS)}, got {loglevel!r}", field="--loglevel"
        )
    from respite.entrypoints.worker.celery_app import app, queue_name

    app.worker_main(
        [
            "worker",
            f"--loglevel={level}",
            f"--concurrency={concurrency}",
            "--pool=prefork",
            f"--queues={queue_name()}",
            # Unique per process, so that several workers on one machine can be told apart.
            f"--hostname=respite-{os.getpid()}@{socket.gethostname()}",
            # No cluster chatter: shards need neither gossip nor the start-up sync.
            "--without-gossip",
            "--without-mingle",
        ]
    )
