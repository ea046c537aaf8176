"""Exactly once: kill -9 a running bank import, import again, every entry booked once."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, func, select, text

from respite.adapters.bank.camt_writer import write_camt053
from respite.adapters.bank.model import BankTransaction
from respite.adapters.db.engine import make_engine, upgrade
from respite.adapters.db.models import BankEntry, Payment
from respite.domain.references import case_payment_references

from .portfolio import build, snapshot

OPENED = date(2025, 1, 15)
PAID = date(2025, 2, 3)
CASES = 1500
ENTRIES = 3000  # two payments per case: the second meets what the first left
BATCH = 50


def _write_file(path: Path, case_ids: list[int]) -> None:
    def txs() -> list[BankTransaction]:
        out = []
        for n in range(ENTRIES):
            case = case_ids[n % len(case_ids)]
            refs = case_payment_references(case)
            out.append(
                BankTransaction(
                    key="",
                    account="NL91ABNA0417164300",
                    booking_date=PAID + timedelta(days=n // len(case_ids)),
                    value_date=None,
                    direction="CRDT",
                    amount_cents=1500 + (n * 7919) % 9000,
                    currency="EUR",
                    acct_svcr_ref=f"CRASH-{n:06d}",
                    structured_refs=(refs.rf if n % 2 else refs.betalingskenmerk,),
                    counterparty_name=f"Debtor {n}",
                )
            )
        return out

    write_camt053(
        path,
        account="NL91ABNA0417164300",
        currency="EUR",
        opening_cents=0,
        transactions=txs(),
        message_id="CRASH-1",
        statement_id="CRASH-1",
        created=datetime(2025, 2, 5, tzinfo=UTC),
    )


def _import(url: str, path: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "RESPITE_DATABASE_URL": url}
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "respite",
            "bank",
            "import",
            str(path),
            "--json",
            "--batch-size",
            str(BATCH),
            "--date",
            "2025-02-05",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _entries(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(BankEntry)).scalar_one())


def test_kill_9_mid_import_then_import_again_books_every_entry_exactly_once(
    tmp_path: Path,
) -> None:
    db = tmp_path / "crash.db"
    url = f"sqlite:///{db}"
    engine = make_engine(url)
    upgrade(engine)
    ids = build(engine, cases=CASES, on=OPENED)
    engine.dispose()
    shutil.copy(db, tmp_path / "clean.db")
    clean_url = f"sqlite:///{tmp_path / 'clean.db'}"
    big = tmp_path / "big.xml"
    _write_file(big, ids)

    engine = make_engine(url)
    proc = _import(url, big)
    deadline = time.monotonic() + 60
    seen = 0
    while time.monotonic() < deadline and proc.poll() is None:
        seen = _entries(engine)
        if seen >= BATCH:  # at least one batch committed
            break
        time.sleep(0.005)
    assert proc.poll() is None, "the import finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    partial = _entries(engine)
    assert BATCH <= partial < ENTRIES
    assert partial % BATCH == 0

    again = _import(url, big)
    _out, err = again.communicate(timeout=120)
    assert again.returncode == 0, err

    clean = _import(clean_url, big)
    _, err = clean.communicate(timeout=120)
    assert clean.returncode == 0, err

    reference = make_engine(clean_url)
    with engine.connect() as conn:
        payments = conn.execute(select(func.count()).select_from(Payment)).scalar_one()
        distinct = conn.execute(select(func.count(func.distinct(Payment.source_ref)))).scalar()
        matched = conn.execute(
            select(func.count()).select_from(BankEntry).where(BankEntry.status != "review")
        ).scalar_one()
        statuses = conn.execute(
            text("SELECT status, count(*) FROM bank_entries GROUP BY status ORDER BY status")
        ).all()
    assert _entries(engine) == ENTRIES
    assert payments == distinct == matched == ENTRIES
    with reference.connect() as conn:
        ref_statuses = conn.execute(
            text("SELECT status, count(*) FROM bank_entries GROUP BY status ORDER BY status")
        ).all()
    assert statuses == ref_statuses
    got, want = snapshot(engine), snapshot(reference)
    assert got["claims"] == want["claims"]
    assert got["ledger"] == want["ledger"]
    assert got["events"] == want["events"]
    engine.dispose()
    reference.dispose()
