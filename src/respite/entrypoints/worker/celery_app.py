"""The Celery application behind ``respite worker`` and ``respite cycle --executor celery``.

Configured from the environment, so the dispatcher and every worker agree without a file:

``RESPITE_BROKER_URL``
    RabbitMQ (``amqp://…``) or Redis (``redis://…``); default
    ``amqp://guest:guest@127.0.0.1:5672//``.
``RESPITE_RESULT_BACKEND``
    Where shard reports go back to the dispatcher; default ``rpc://`` for an AMQP broker
    and the broker itself for Redis.
``RESPITE_CELERY_QUEUE``
    The queue the shards travel on (default ``respite-cycle``); tests use their own.
``RESPITE_REDIS_VISIBILITY_TIMEOUT``
    Redis only: seconds before a task taken by a worker that never acknowledged it (it was
    killed) is handed out again; default 60.
``RESPITE_DATABASE_URL``
    The PostgreSQL database every worker writes to.

Redelivery is what makes a lost worker lose nothing, so the settings are chosen for it:
a task is acknowledged only when it has finished (``task_acks_late``), requeued when the
pool child running it dies (``task_reject_on_worker_lost``), and each worker process holds
one task at a time (``worker_prefetch_multiplier = 1``), so a dead worker strands at most
the shard it was running. RabbitMQ requeues an unacknowledged message as soon as the
worker's connection drops; Redis has no connections to watch and instead hands a message
out again when it has stayed unacknowledged for the visibility timeout. Only JSON crosses
the broker (no pickle: a broker is not a place to accept code from).

Two limits to size shards by (more shards make each one shorter):

* Redis hands out a task that is *still running* once it passes the visibility timeout.
  The copy is harmless — it waits on the shard's advisory lock, then finds nothing left —
  but it holds a worker while it waits; keep the timeout above the longest shard's run
  time, at the cost of a slower return for a killed worker's shard.
* RabbitMQ closes the channel of a consumer that holds a message longer than its
  ``consumer_timeout`` (30 minutes by default) and requeues it. Nothing is lost (the new
  run resumes after the last committed batch), but a shard should finish well inside it,
  or the broker's limit should be raised.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

from celery import Celery
from celery.utils.log import get_task_logger
from sqlalchemy import Engine, text

from respite.adapters.db.engine import make_engine
from respite.services.cycle import run_cycle

__all__ = [
    "DEFAULT_BROKER_URL",
    "DEFAULT_QUEUE",
    "app",
    "broker_url",
    "cycle_shard",
    "queue_name",
    "result_backend",
    "run_shard",
]

DEFAULT_BROKER_URL = "amqp://guest:guest@127.0.0.1:5672//"
DEFAULT_QUEUE = "respite-cycle"
DEFAULT_VISIBILITY_TIMEOUT = 60
TASK_NAME = "respite.cycle_shard"

logger = get_task_logger(__name__)


def broker_url() -> str:
    return os.environ.get("RESPITE_BROKER_URL") or DEFAULT_BROKER_URL


def _is_redis(url: str) -> bool:
    return url.split(":", 1)[0].lower() in ("redis", "rediss", "redis+socket", "sentinel")


def result_backend(broker: str) -> str:
    configured = os.environ.get("RESPITE_RESULT_BACKEND")
    if configured:
        return configured
    return broker if _is_redis(broker) else "rpc://"


def queue_name() -> str:
    return os.environ.get("RESPITE_CELERY_QUEUE") or DEFAULT_QUEUE


def _transport_options(broker: str) -> dict[str, Any]:
    if not _is_redis(broker):
        return {}
    raw = os.environ.get("RESPITE_REDIS_VISIBILITY_TIMEOUT") or str(DEFAULT_VISIBILITY_TIMEOUT)
    try:
        visibility = max(1, int(raw))
    except ValueError:
        visibility = DEFAULT_VISIBILITY_TIMEOUT
    return {
        "visibility_timeout": visibility,
        # kombu looks for expired messages every interval × throttle seconds (100 s by
        # default): check often enough that a dead worker's shard comes back promptly.
        "unacked_restore_interval": max(1, min(10, visibility // 5)),
        "unacked_restore_throttle": 1,
    }


def _configure(celery: Celery) -> None:
    broker = broker_url()
    celery.conf.update(
        broker_url=broker,
        result_backend=result_backend(broker),
        broker_transport_options=_transport_options(broker),
        broker_connection_retry_on_startup=True,
        task_default_queue=queue_name(),  # its exchange and routing key are named alike
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        # A worker cut off from the broker stops its running shard: the broker hands the
        # unacknowledged task out again, and one copy at a time is enough.
        worker_cancel_long_running_tasks_on_connection_loss=True,
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        result_accept_content=["json"],
        result_expires=24 * 3600,
        enable_utc=True,
    )


app = Celery("respite")
_configure(app)


# --- the task ------------------------------------------------------------------------

_engines: dict[int, Engine] = {}


def _engine() -> Engine:
    """One engine per worker process (keyed by pid: a forked pool child builds its own)."""
    pid = os.getpid()
    engine = _engines.get(pid)
    if engine is None:
        _engines.clear()  # an engine inherited through fork is never used by the child
        engine = _engines[pid] = make_engine()
    return engine


def _lock_key(on: date, shard: int, shards: int) -> int:
    digest = hashlib.blake2b(
        f"respite.cycle:{on.isoformat()}:{shard}/{shards}".encode(), digest_size=8
    ).digest()
    return int.from_bytes(digest, "big", signed=True)


@contextmanager
def _shard_lock(engine: Engine, on: date, shard: int, shards: int) -> Iterator[None]:
    """Hold a PostgreSQL advisory lock on (date, shard) while the shard runs.

    A broker may hand a task out while its first copy still runs (Redis after the
    visibility timeout; RabbitMQ after a lost connection). The second copy waits here,
    then finds the shard done. The lock is the database session's, so it goes with a
    killed worker's connection.
    """
    if engine.dialect.name != "postgresql":
        yield
        return
    key = _lock_key(on, shard, shards)
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT")
        if not conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar():
            logger.warning(
                "shard %d/%d of %s is running elsewhere; waiting for it", shard, shards, on
            )
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": key})
        try:
            yield
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})


def run_shard(business_date: str, shard: int, shards: int, batch_size: int) -> dict[str, Any]:
    """Run shard ``shard`` of ``shards`` of the cycle for ``business_date``; its report.

    Safe to run twice, or again after a worker died half-way through it:
    ``run_cycle`` only picks cases of this shard whose ``last_cycle_date`` is before the
    date, and each batch — ledger entries, events, outbox, case updates, the new
    ``last_cycle_date`` and the ``cycle_runs`` count — commits in one transaction. A
    killed worker therefore leaves whole batches done or not done; the redelivered task
    skips the done ones and does exactly the rest, and a duplicate delivery of a finished
    shard finds nothing to do. Two copies never run side by side on PostgreSQL (the
    advisory lock in ``_shard_lock``). The returned report covers only the work of this
    run; the dispatcher takes the case count from ``cycle_runs``.
    """
    on = date.fromisoformat(business_date)
    engine = _engine()
    logger.info("shard %d/%d of %s: starting (pid %d)", shard, shards, on, os.getpid())
    with _shard_lock(engine, on, shard, shards):
        report = run_cycle(engine, on, shard=shard, shards=shards, batch_size=batch_size)
    logger.info(
        "shard %d/%d of %s: done, %d cases in %d batches (pid %d)",
        shard,
        shards,
        on,
        report.cases,
        report.batches,
        os.getpid(),
    )
    return report.as_dict()


#: The Celery task (``respite.cycle_shard``) around ``run_shard``.
cycle_shard = app.task(name=TASK_NAME)(run_shard)
