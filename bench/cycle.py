"""Benchmark: one nightly cycle over N open cases, on SQLite and on PostgreSQL.

    make bench                      # 1,000,000 cases on SQLite and PostgreSQL
    .venv/bin/python bench/cycle.py --cases 200000 --db sqlite

Prints, per database: cases per second, wall time, peak memory (RSS of the `respite cycle`
process), and the ratio to a vectorised lower bound measured in the same run on the same
data: the same interest and cost arithmetic done in one columnar pass with NumPy, both
alone and with its I/O (a columnar read of the inputs and one set-based UPDATE writing the
interest back, rolled back afterwards).

The portfolio is deterministic and mid-collection: cases spread over the stages and over
the last 60 days, so that on the measured night some cases get a strategy step, some their
collection costs, and every claim a night of interest.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from respite.adapters.db.engine import analyze, make_engine, upgrade
from respite.domain.money import Currency, Money
from respite.services.store import (
    NewCase,
    NewClaim,
    NewDebtor,
    ensure_creditor,
    open_cases,
    upsert_debtors,
)

NIGHT = date(2025, 3, 3)
OPENED = NIGHT - timedelta(days=60)
NOW = datetime(2025, 1, 2, tzinfo=UTC)
HERE = Path(__file__).resolve().parent
CHUNK = 50_000
MIX = (("NL", "EUR", 70), ("BE", "EUR", 20), ("PL", "PLN", 10))


def _lcg(seed: int) -> int:
    return (seed * 6364136223846793005 + 1442695040888963407) % (1 << 63)


def build(engine: Engine, cases: int) -> None:
    """Deterministic portfolio: N cases, one or two claims each, mid-collection."""
    with engine.begin() as conn:
        creditors = {
            j: ensure_creditor(conn, f"Bench {j}", jurisdiction=j, currency=c, now=NOW)
            for j, c, _ in MIX
        }
    made = 0
    while made < cases:
        size = min(CHUNK, cases - made)
        by_creditor: dict[str, list[NewCase]] = {j: [] for j, _, _ in MIX}
        debtors = []
        for i in range(made, made + size):
            r = _lcg(i + 1)
            pick = r % 100
            j, cur, _ = MIX[0] if pick < 70 else MIX[1] if pick < 90 else MIX[2]
            kind = "business" if r % 13 == 0 else "consumer"
            key = f"bench-{i}"
            debtors.append(NewDebtor(key, kind, f"Debtor {i}", j, "nl", "Europe/Amsterdam"))
            # Skewed amounts: most bills small, a long tail of large ones.
            cents = 1500 + (r >> 8) % 25000 if r % 10 < 8 else 30000 + (r >> 8) % 2_000_000
            claims = [
                NewClaim(
                    f"B{i}-1",
                    OPENED - timedelta(days=40),
                    OPENED - timedelta(days=10 + r % 20),
                    Money.from_minor_units(cents, Currency.of(cur)),
                    interest_kind="commercial" if kind == "business" else "consumer",
                )
            ]
            if r % 5 == 0:
                claims.append(
                    NewClaim(
                        f"B{i}-2",
                        OPENED - timedelta(days=30),
                        OPENED - timedelta(days=5),
                        Money.from_minor_units(2000 + r % 9000, claims[0].principal.currency),
                        interest_kind=claims[0].interest_kind,
                    )
                )
            by_creditor[j].append(NewCase(key, tuple(claims)))
        with engine.begin() as conn:
            ids = upsert_debtors(conn, debtors, now=NOW)
            for j, new in by_creditor.items():
                open_cases(
                    conn,
                    creditors[j],
                    new,
                    ids,
                    on=OPENED,
                    actor="bench",
                    reason="benchmark portfolio",
                    now=NOW,
                )
        made += size
    # Mid-collection state: the night before was cycled; stages and days in stage spread.
    yesterday = NIGHT - timedelta(days=1)
    with engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE cases SET last_cycle_date = :y, "
                "stage = CASE WHEN id % 4 = 0 THEN 'friendly_reminder' WHEN id % 4 = 1 THEN 'formal_notice' "
                "WHEN id % 4 = 2 THEN 'amicable' ELSE 'arrangement' END"
            ),
            {"y": yesterday},
        )
        for k in range(60):  # stage_since spread over the last 60 days
            conn.execute(
                text("UPDATE cases SET stage_since = :d WHERE id % 60 = :k"),
                {"d": NIGHT - timedelta(days=k), "k": k},
            )
        conn.execute(
            text(
                "UPDATE cases SET notice_sent_on = stage_since, costs_chargeable_from = :n "
                "WHERE stage = 'formal_notice' AND id % 7 = 0"
            ),
            {"n": NIGHT},
        )
        conn.execute(text("UPDATE claims SET interest_accrued_to = :y"), {"y": yesterday})
    # As autovacuum would before any real night: PostgreSQL plans badly without statistics.
    analyze(engine)


def measure_cycle(url: str) -> dict[str, float]:
    probe = (
        "import resource, sys, json;"
        "from respite.entrypoints.cli.main import main\n"
        "try:\n main(sys.argv[1:])\nexcept SystemExit as e:\n code = e.code\n"
        "print(json.dumps({'maxrss_kb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, 'code': code}), file=sys.stderr)"
    )
    env = {**os.environ, "RESPITE_DATABASE_URL": url}
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", probe, "cycle", "--date", NIGHT.isoformat(), "--json", "--quiet"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - start
    tail = json.loads(proc.stderr.strip().splitlines()[-1])
    if tail["code"] not in (0, None):
        raise SystemExit(f"cycle failed: {proc.stderr}")
    report = json.loads(proc.stdout)
    return {
        "wall": wall,
        "cases": report["cases"],
        "peak_mb": tail["maxrss_kb"] / 1024,
        "report": report,
    }


def lower_bound(engine: Engine) -> dict[str, float]:
    """The same arithmetic in one columnar pass (NumPy), alone and with its I/O."""
    t0 = time.perf_counter()
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT c.open_principal_cents, c.interest_carry_micros, k.id % 7 "
                "FROM claims c JOIN cases k ON k.id = c.case_id WHERE k.closed = false"
            )
        ).all()
    principal = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    carry = np.fromiter((r[1] for r in rows), dtype=np.int64, count=len(rows))
    t1 = time.perf_counter()
    # One night of interest at one rate (bp) for every claim, in micro-cents, with carry.
    total = carry + principal * 400 * 100 // 365
    posted, carry = np.divmod(total, 1_000_000)
    # The NL staffel over every claim's principal (as if each hit its cost date tonight).
    x = principal / 100
    costs = np.select(
        [x <= 2500, x <= 5000, x <= 10000, x <= 200000],
        [0.15 * x, 375 + 0.10 * (x - 2500), 625 + 0.05 * (x - 5000), 875 + 0.01 * (x - 10000)],
        2775 + 0.005 * (x - 200000),
    )
    costs = np.clip(np.round(costs, 2), 40, 6775)  # float-ok: a timing bound, not money
    t2 = time.perf_counter()
    with engine.connect() as conn:
        tx = conn.begin()
        conn.execute(
            text(
                "UPDATE claims SET interest_carry_micros = interest_carry_micros + open_principal_cents * 400 * 100 / 365"
            )
        )
        t3 = time.perf_counter()
        tx.rollback()
    del posted, costs
    return {
        "arithmetic": t2 - t1,
        "with_io": (t1 - t0) + (t2 - t1) + (t3 - t2),
        "claims": float(len(rows)),
    }


def scratch_url(kind: str, work: Path) -> str:
    if kind == "sqlite":
        path = work / "cycle-bench.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        return f"sqlite:///{path}"
    admin_url = os.environ.get("RESPITE_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
    admin = make_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text('DROP DATABASE IF EXISTS "respite_bench" WITH (FORCE)'))
        conn.execute(text('CREATE DATABASE "respite_bench"'))
    admin.dispose()
    return make_url(admin_url).set(database="respite_bench").render_as_string(hide_password=False)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--db", action="append", choices=["sqlite", "postgresql"])
    args = parser.parse_args()
    work = HERE / ".work"
    work.mkdir(exist_ok=True)
    print(
        f"nightly cycle benchmark: {args.cases:,} open cases, night of {NIGHT}, {os.cpu_count()} cores"
    )
    for kind in args.db or ["sqlite", "postgresql"]:
        url = scratch_url(kind, work)
        engine = make_engine(url)
        upgrade(engine)
        t = time.perf_counter()
        build(engine, args.cases)
        print(f"\n[{kind}] portfolio built in {time.perf_counter() - t:.1f} s")
        cycle = measure_cycle(url)
        bound = lower_bound(engine)
        engine.dispose()
        cps = cycle["cases"] / cycle["wall"]
        print(
            f"[{kind}] cycle: {cycle['cases']:,} cases in {cycle['wall']:.1f} s = {cps:,.0f} cases/s; "
            f"peak memory {cycle['peak_mb']:.0f} MB"
        )
        print(
            f"[{kind}] vectorised bound over {bound['claims']:,.0f} claims: arithmetic {bound['arithmetic'] * 1000:.0f} ms, "
            f"with columnar read + one UPDATE {bound['with_io']:.2f} s"
        )
        print(
            f"[{kind}] ratio to the bound: {cycle['wall'] / bound['with_io']:.1f}x with I/O, "
            f"{cycle['wall'] / bound['arithmetic']:.0f}x arithmetic only "
            f"(targets: <= 60 s, <= 1.5 GB, ratio <= 5)"
        )
        r = cycle["report"]
        print(
            f"[{kind}] the night: transitions {r['transitions']}, actions {r['actions']}, costs {r['costs_charged']}"
        )


if __name__ == "__main__":
    main()
