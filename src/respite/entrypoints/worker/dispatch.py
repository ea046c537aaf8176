"""``respite cycle --executor celery``: send the shards to the workers and wait for them.

One task per shard goes out as a Celery group; each ``respite worker`` takes one shard at a
time. When every shard has reported, the reports are merged. The case count is then taken
from ``cycle_runs`` (before and after): a worker killed mid-shard has committed some
batches that its report never brought back, and the redelivered task reports only the
rest, but each batch counted itself in ``cycle_runs`` inside its own transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from sqlalchemy import Engine, select

from respite.adapters.db.engine import make_engine
from respite.adapters.db.models import CycleRun
from respite.domain.money import Currency, Money
from respite.errors import ConflictError, RespiteError
from respite.services.cycle import CycleReport

__all__ = ["run_on_celery"]

CONNECT_TIMEOUT = 5.0


def run_on_celery(on: date, *, shards: int, batch_size: int, timeout: float = 3600) -> CycleReport:
    """Run the cycle for ``on`` as ``shards`` Celery tasks; the merged report."""
    from celery import group
    from celery.exceptions import TimeoutError as CeleryTimeout
    from kombu.exceptions import OperationalError

    from respite.entrypoints.worker.celery_app import app, cycle_shard, queue_name

    where = _check_broker(app)
    engine = make_engine()
    try:
        before = _counts(engine, on, shards)
        tasks = group(cycle_shard.s(on.isoformat(), s, shards, batch_size) for s in range(shards))
        try:
            result = tasks.apply_async()
        except OperationalError as exc:
            raise ConflictError(
                f"could not send the cycle's shards to the Celery broker at {where}: {exc}"
            ) from None
        try:
            values = result.join(timeout=timeout, propagate=False)
        except CeleryTimeout:
            raise ConflictError(
                f"the cycle for {on.isoformat()} did not finish within {timeout:g} s on queue "
                f"{queue_name()!r} at {where}; is a `respite worker` running? Run the cycle "
                "again to finish it (finished batches are kept)"
            ) from None
        report = CycleReport(on, 0, shards)
        for shard, (child, value) in enumerate(zip(result.results, values, strict=True)):
            if child.failed() or isinstance(value, BaseException):
                _raise_failure(shard, shards, value)
            report.merge(_report(on, value))
        after = _counts(engine, on, shards)
    finally:
        engine.dispose()
    report.cases = sum(after.values()) - sum(before.values())
    return report


def _check_broker(app: Any) -> str:
    """The broker's URL (password masked) once it answers; else a one-line ConflictError."""
    from kombu.utils.url import maybe_sanitize_url

    where = str(maybe_sanitize_url(app.conf.broker_url))
    with app.connection_for_write() as conn:
        try:
            conn.ensure_connection(max_retries=1, interval_start=0, timeout=CONNECT_TIMEOUT)
        except Exception as exc:
            raise ConflictError(
                f"the Celery broker at {where} is unreachable ({type(exc).__name__}: {exc}); "
                "start it or set RESPITE_BROKER_URL"
            ) from None
    return where


def _counts(engine: Engine, on: date, shards: int) -> dict[int, int]:
    """Cases done so far per shard for ``on``, as each batch counted them."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(CycleRun.shard, CycleRun.cases).where(
                CycleRun.business_date == on, CycleRun.shard < shards
            )
        ).all()
    return {int(shard): int(cases) for shard, cases in rows}


def _raise_failure(shard: int, shards: int, error: object) -> None:
    if isinstance(error, RespiteError):
        raise error
    raise ConflictError(
        f"shard {shard}/{shards} failed on a worker: {type(error).__name__}: {error}"
    )


def _cents(amounts: Mapping[str, str]) -> dict[str, int]:
    return {code: Money.of(v, Currency.of(code)).minor_units for code, v in amounts.items()}


def _report(on: date, d: Mapping[str, Any]) -> CycleReport:
    """A shard's report back from its ``as_dict()`` form."""
    part = CycleReport(on, int(d["shard"]), int(d["shards"]))
    part.cases = int(d["cases"])
    part.batches = int(d["batches"])
    part.interest_posted_cents.update(_cents(d["interest_posted"]))
    part.interest_not_charged_cents.update(_cents(d.get("interest_not_charged", {})))
    part.costs_charged_cents.update(_cents(d["costs_charged"]))
    part.transitions.update({k: int(v) for k, v in d["transitions"].items()})
    part.actions.update({k: int(v) for k, v in d["actions"].items()})
    part.missed_instalments = int(d["missed_instalments"])
    part.plans.update({k: int(v) for k, v in d.get("plans", {}).items()})
    part.closed = int(d["closed"])
    part.reviews = int(d["reviews"])
    return part
