"""Crash safety: kill -9 a running cycle, run it again, and get what one run gives."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path

from sqlalchemy import Engine, func, select, text
from sqlalchemy.engine import make_url

from respite.adapters.db.engine import make_engine, upgrade
from respite.adapters.db.models import Case
from respite.services.cycle import run_cycle

from ..conftest import PG_ADMIN_URL
from .portfolio import build, snapshot

DAY = date(2025, 2, 20)
OPENED = date(2025, 1, 15)
CASES = 4000


def _prepare(engine: Engine) -> None:
    build(engine, cases=CASES, on=OPENED)
    run_cycle(engine, date(2025, 2, 19))  # a realistic state: notices, costs pending


def _second_url(first_url: str) -> Iterator[str]:
    if first_url.startswith("sqlite"):
        path = Path(make_url(first_url).database or "")
        copy = path.with_name("reference.db")
        yield f"sqlite:///{copy}"
        return
    name = f"respite_ref_{uuid.uuid4().hex[:8]}"
    admin = make_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _done(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                select(func.count()).select_from(Case).where(Case.last_cycle_date == DAY)
            ).scalar()
            or 0
        )


def test_kill_9_mid_cycle_then_rerun_equals_one_uninterrupted_run(
    db_url: str, tmp_path: Path
) -> None:
    engine = make_engine(db_url)
    _prepare(engine)
    for ref_url in _second_url(db_url):
        if ref_url.startswith("sqlite"):
            engine.dispose()
            shutil.copy(make_url(db_url).database or "", make_url(ref_url).database or "")
            reference = make_engine(ref_url)
        else:
            reference = make_engine(ref_url)
            upgrade(reference)
            _prepare(reference)
        run_cycle(reference, DAY)
        expected = snapshot(reference)
        reference.dispose()

        env = {**os.environ, "RESPITE_DATABASE_URL": db_url}
        cmd = [
            sys.executable,
            "-m",
            "respite",
            "cycle",
            "--date",
            DAY.isoformat(),
            "--batch-size",
            "40",
            "--quiet",
        ]
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 120
        while _done(engine) < CASES // 4:
            assert proc.poll() is None, (
                f"the cycle ended before it could be killed: {proc.stderr.read() if proc.stderr else ''!r}"
            )
            assert time.monotonic() < deadline
            time.sleep(0.005)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        killed_at = _done(engine)
        assert 0 < killed_at < CASES, "the kill must land in the middle of the run"

        rerun = subprocess.run(
            cmd, env=env, capture_output=True, text=True, timeout=300, check=False
        )
        assert rerun.returncode == 0, rerun.stderr
        assert _done(engine) == CASES
        assert snapshot(engine) == expected
    engine.dispose()
