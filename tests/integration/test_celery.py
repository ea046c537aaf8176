"""The cycle on Celery: two real `respite worker` processes, RabbitMQ or Redis, PostgreSQL.

Each test builds one portfolio twice: in the database the workers write to, and in a
reference database that runs the cycle in-process. The two must end up identical, also
when a worker is killed (SIGKILL, the whole process group) in the middle of a shard: its
shard is redelivered to the other worker, which does exactly the rest.

Skipped, with the reason, when PostgreSQL or the broker cannot be reached.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.engine import make_url

from respite.adapters.db.engine import make_engine, upgrade
from respite.adapters.db.models import CycleRun, LedgerEntry
from respite.services.cycle import run_cycle

from ..conftest import PG_ADMIN_URL, _pg_available
from .portfolio import build, snapshot

OPENED = date(2025, 1, 15)
PREVIOUS = date(2025, 1, 20)  # the friendly reminder is out
DAY = date(2025, 2, 1)  # January's interest is posted; the formal notice goes out
CASES = 3000
SHARDS = 4
SHARD_CASES = CASES // SHARDS

RABBITMQ = "amqp://guest:guest@127.0.0.1:5672//"
REDIS = "redis://127.0.0.1:6379/15"
BROKERS = [pytest.param(RABBITMQ, id="rabbitmq"), pytest.param(REDIS, id="redis")]

# The report's figures that do not depend on how the work was split.
FIGURES = (
    "cases",
    "interest_posted",
    "costs_charged",
    "transitions",
    "actions",
    "missed_instalments",
    "closed",
    "reviews",
)
DONE = re.compile(r"shard (\d+)/(\d+) of \S+: done, (\d+) cases")
STARTING = re.compile(r"shard (\d+)/(\d+) of \S+: starting")

_brokers: dict[str, str | None] = {}


def _kombu() -> Any:
    """kombu, untyped: its partial annotations add nothing to these few calls."""
    return importlib.import_module("kombu")


def _broker_unreachable(url: str) -> str | None:
    """None when the broker answers, else why not (checked once per session)."""
    if url not in _brokers:
        try:
            with _kombu().Connection(url, connect_timeout=3) as conn:
                conn.ensure_connection(max_retries=1, interval_start=0, timeout=3)
            _brokers[url] = None
        except Exception as exc:
            _brokers[url] = f"broker at {url} is unreachable: {type(exc).__name__}: {exc}"
    return _brokers[url]


@pytest.fixture(params=BROKERS)
def broker(request: pytest.FixtureRequest) -> str:
    url: str = request.param
    reason = _broker_unreachable(url)
    if reason:
        pytest.skip(reason)
    return url


@pytest.fixture
def queue(broker: str) -> Iterator[str]:
    """A queue of this test's own, so that no other worker can take its shards."""
    kombu = _kombu()
    name = f"respite-test-{uuid.uuid4().hex[:10]}"
    yield name
    with suppress(Exception), kombu.Connection(broker, connect_timeout=3) as conn:
        # Declared as Celery declares it, so that Redis's emulation knows what to remove too.
        exchange = kombu.Exchange(name, type="direct")
        bound = kombu.Queue(name, exchange, routing_key=name)(conn.default_channel)
        bound.declare()
        bound.delete()
        bound.exchange.delete()


@dataclass
class Databases:
    url: str  # the one the workers write to
    reference_url: str  # the in-process reference


@pytest.fixture
def databases() -> Iterator[Databases]:
    reason = _pg_available()
    if reason:
        pytest.skip(reason)
    admin = make_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    names = [f"respite_celery_{uuid.uuid4().hex[:8]}", f"respite_ref_{uuid.uuid4().hex[:8]}"]
    urls = []
    try:
        for name in names:
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            urls.append(
                make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
            )
        yield Databases(*urls)
    finally:
        with admin.connect() as conn:
            for name in names:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _prepare(url: str) -> Engine:
    engine = make_engine(url)
    upgrade(engine)
    build(engine, cases=CASES, on=OPENED)
    run_cycle(engine, PREVIOUS)  # a realistic state: reminders out, interest accruing
    return engine


def _reference(url: str) -> tuple[dict[str, Any], dict[str, list[tuple[object, ...]]]]:
    """The in-process run of the cycle, in one shard: its report and the database after."""
    engine = _prepare(url)
    try:
        report = run_cycle(engine, DAY).as_dict()
        return report, snapshot(engine)
    finally:
        engine.dispose()


# --- workers -----------------------------------------------------------------------


@dataclass
class Worker:
    proc: subprocess.Popen[bytes]
    log: Path

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def shards_done(self) -> list[tuple[int, int]]:
        """(shard, cases) for every shard this worker finished, in order."""
        return [(int(m[1]), int(m[3])) for m in DONE.finditer(self.text())]

    def shards_started(self) -> list[int]:
        return [int(m[1]) for m in STARTING.finditer(self.text())]


def _env(db_url: str, broker: str, queue: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RESPITE_")}
    env.update(
        RESPITE_DATABASE_URL=db_url,
        RESPITE_BROKER_URL=broker,
        RESPITE_CELERY_QUEUE=queue,
        **extra,
    )
    return env


def _start_workers(env: dict[str, str], tmp_path: Path, count: int) -> list[Worker]:
    workers = []
    for n in range(count):
        log = tmp_path / f"worker-{n}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "respite", "worker", "--concurrency", "1"],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                # Its own process group: Celery forks a pool child even for concurrency 1,
                # and killing a worker means killing both.
                start_new_session=True,
            )
        workers.append(Worker(proc, log))
    return workers


def _wait_ready(workers: list[Worker], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    for w in workers:
        while " ready." not in w.text():
            assert w.proc.poll() is None, f"worker exited early:\n{w.text()}"
            assert time.monotonic() < deadline, f"worker not ready in {timeout} s:\n{w.text()}"
            time.sleep(0.1)


def _kill(worker: Worker) -> None:
    with suppress(ProcessLookupError):
        os.killpg(worker.proc.pid, signal.SIGKILL)
    worker.proc.wait()


def _stop(workers: list[Worker]) -> None:
    """Warm shutdown (SIGTERM), then SIGKILL for any worker that does not go in time."""
    for w in workers:
        if w.proc.poll() is None:
            with suppress(ProcessLookupError):
                os.killpg(w.proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + 10
    for w in workers:
        try:
            w.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            _kill(w)
        # The pool child may outlive its parent for a moment; the group goes entirely.
        with suppress(ProcessLookupError):
            os.killpg(w.proc.pid, signal.SIGKILL)


def _cycle_command(batch_size: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "respite",
        "cycle",
        "--date",
        DAY.isoformat(),
        "--executor",
        "celery",
        "--shards",
        str(SHARDS),
        "--batch-size",
        str(batch_size),
        "--json",
    ]


def _cycle_runs(engine: Engine) -> dict[int, tuple[str, int]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(CycleRun.shard, CycleRun.status, CycleRun.cases).where(
                CycleRun.business_date == DAY
            )
        ).all()
    return {int(shard): (str(status), int(cases)) for shard, status, cases in rows}


def _assert_booked_once(engine: Engine) -> None:
    with engine.connect() as conn:
        dupes = conn.execute(
            select(LedgerEntry.claim_id, LedgerEntry.seq)
            .group_by(LedgerEntry.claim_id, LedgerEntry.seq)
            .having(func.count() > 1)
        ).all()
    assert dupes == []
    runs = _cycle_runs(engine)
    assert {s: status for s, (status, _) in runs.items()} == dict.fromkeys(range(SHARDS), "done")
    assert sum(cases for _, cases in runs.values()) == CASES  # every case counted once


# --- the tests -----------------------------------------------------------------------


def test_two_workers_give_the_in_process_result(
    broker: str, queue: str, databases: Databases, tmp_path: Path
) -> None:
    expected_report, expected = _reference(databases.reference_url)
    engine = _prepare(databases.url)
    env = _env(databases.url, broker, queue)
    workers = _start_workers(env, tmp_path, 2)
    try:
        _wait_ready(workers)
        run = subprocess.run(
            _cycle_command(batch_size=50),
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert run.returncode == 0, run.stderr
        report = json.loads(run.stdout)
        done = [w.shards_done() for w in workers]
    finally:
        _stop(workers)
    try:
        assert {k: report[k] for k in FIGURES} == {k: expected_report[k] for k in FIGURES}
        assert snapshot(engine) == expected
        _assert_booked_once(engine)
        assert all(done), f"each worker must take a shard: {done}"
        assert sorted(s for d in done for s, _ in d) == list(range(SHARDS))
    finally:
        engine.dispose()


def test_a_worker_killed_mid_shard_loses_nothing_and_books_nothing_twice(
    broker: str, queue: str, databases: Databases, tmp_path: Path
) -> None:
    _, expected = _reference(databases.reference_url)
    engine = _prepare(databases.url)
    # Redis hands out an unacknowledged task again after the visibility timeout only.
    env = _env(databases.url, broker, queue, RESPITE_REDIS_VISIBILITY_TIMEOUT="5")
    workers = _start_workers(env, tmp_path, 2)
    victim, survivor = workers
    try:
        _wait_ready(workers)
        cycle = subprocess.Popen(
            _cycle_command(batch_size=3),  # a shard takes a few seconds
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            deadline = time.monotonic() + 30
            while True:  # wait until the victim is well into a shard, then kill it
                assert time.monotonic() < deadline, f"no progress:\n{victim.text()}"
                assert cycle.poll() is None, "the cycle ended before a worker could be killed"
                started = victim.shards_started()
                if started:
                    status, done = _cycle_runs(engine).get(started[-1], ("", 0))
                    if status == "running" and done >= SHARD_CASES // 5:
                        break
                time.sleep(0.02)
            shard = started[-1]
            _kill(victim)
            status, killed_at = _cycle_runs(engine)[shard]
            assert status == "running"
            assert 0 < killed_at < SHARD_CASES, "the kill must land in the middle of a shard"
            out, err = cycle.communicate(timeout=60)
        finally:
            if cycle.poll() is None:
                cycle.kill()
                cycle.wait()
        assert cycle.returncode == 0, err
        report = json.loads(out)
        redone = survivor.shards_done()
    finally:
        _stop(workers)
    try:
        assert report["cases"] == CASES
        # The survivor took the lost shard over and did exactly what was left of it.
        # (On Redis a copy may run again after the visibility timeout; it finds nothing.)
        again = [cases for s, cases in redone if s == shard]
        assert again, f"shard {shard} was not redelivered:\n{survivor.text()}"
        assert sum(again) == SHARD_CASES - killed_at
        assert snapshot(engine) == expected
        _assert_booked_once(engine)
    finally:
        engine.dispose()


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize(
    "template",
    ["amqp://guest:secret@127.0.0.1:{port}//", "redis://:secret@127.0.0.1:{port}/0"],
    ids=["rabbitmq", "redis"],
)
def test_an_unreachable_broker_is_one_line_that_names_it(template: str, tmp_path: Path) -> None:
    port = _closed_port()
    env = _env(f"sqlite:///{tmp_path / 'respite.db'}", template.format(port=port), "unused")
    run = subprocess.run(
        _cycle_command(batch_size=50),
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 1
    (line,) = run.stderr.strip().splitlines()
    assert "unreachable" in line
    assert f"127.0.0.1:{port}" in line
    assert "secret" not in line  # the password is masked


def test_two_copies_of_one_shard_at_once_do_its_work_once(
    databases: Databases, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Redis hands out a still-running task again after the visibility timeout: the copy
    waits for the shard's advisory lock, then finds nothing left to do."""
    from concurrent.futures import ThreadPoolExecutor

    from respite.entrypoints.worker import celery_app

    reference = _prepare(databases.reference_url)
    run_cycle(reference, DAY, shard=0, shards=SHARDS)
    expected = snapshot(reference)
    reference.dispose()
    engine = _prepare(databases.url)
    monkeypatch.setenv("RESPITE_DATABASE_URL", databases.url)
    try:
        with ThreadPoolExecutor(2) as pool:
            copies = [
                pool.submit(celery_app.run_shard, DAY.isoformat(), 0, SHARDS, 3) for _ in range(2)
            ]
            reports = [c.result(timeout=60) for c in copies]
        assert sorted(r["cases"] for r in reports) == [0, SHARD_CASES]
        assert snapshot(engine) == expected
    finally:
        engine.dispose()
        for eng in celery_app._engines.values():
            eng.dispose()
        celery_app._engines.clear()
