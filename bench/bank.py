"""Benchmark: import a CAMT.053 with 100,000 entries (parse, match, allocate, commit).

    make bench-bank
    .venv/bin/python bench/bank.py --entries 100000

Builds a portfolio of N open euro cases on SQLite in a temporary directory, writes a
CAMT.053.001.02 in which every case is paid once with its reference (RF, betalingskenmerk
or the case reference typed in the free text): 70% pay what they owe, 28% part of it,
2% more than they owe (a refund). Then it measures in the same run:

1. a bare ``lxml.etree.iterparse`` over the file, clearing each element (the floor for
   reading the XML at all);
2. our parser alone (``read_statements``);
3. the full ``respite bank import`` as a subprocess (parse + balance check + match +
   6:43/6:44 allocation + ledger, payments, events, bank entries, committed in batches),
   with its peak RSS.

Prints the figures and the ratio of the import to the bare iterparse. Target: ≤ 20 s.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from lxml import etree  # type: ignore[import-untyped]  # no stubs for lxml
from sqlalchemy import text

from respite.adapters.bank.camt import read_statements
from respite.adapters.bank.camt_writer import write_camt053
from respite.adapters.bank.model import BankTransaction
from respite.adapters.db.engine import make_engine, upgrade
from respite.domain.money import Currency, Money
from respite.domain.references import case_payment_references
from respite.services.store import (
    NewCase,
    NewClaim,
    NewDebtor,
    ensure_creditor,
    open_cases,
    upsert_debtors,
)

OPENED = date(2025, 1, 15)
PAID = date(2025, 3, 3)
NOW = datetime(2025, 1, 15, tzinfo=UTC)
CHUNK = 50_000
ACCOUNT = "NL91ABNA0417164300"

PROBE = (
    "import resource, sys, json, time\n"
    "from respite.entrypoints.cli import main as m\n"
    "t = time.perf_counter()\n"
    "try:\n    m.main(sys.argv[1:])\nexcept SystemExit as e:\n    code = e.code\n"
    "print(json.dumps({'seconds': time.perf_counter() - t, 'code': code,"
    " 'maxrss_kb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}), file=sys.stderr)\n"
)


def build(url: str, cases: int) -> list[int]:
    engine = make_engine(url)
    upgrade(engine)
    with engine.begin() as conn:
        creditor = ensure_creditor(conn, "Bench NL", jurisdiction="NL", currency="EUR", now=NOW)
    ids: list[int] = []
    made = 0
    while made < cases:
        size = min(CHUNK, cases - made)
        debtors = [
            NewDebtor(f"bank-{i}", "consumer", f"Debtor {i}", "NL", "nl", "Europe/Amsterdam")
            for i in range(made, made + size)
        ]
        new = []
        for i in range(made, made + size):
            claims = [
                NewClaim(
                    f"B{i}-1",
                    OPENED - timedelta(days=40),
                    OPENED - timedelta(days=10 + i % 20),
                    Money.from_minor_units(1500 + (i * 7919) % 25000, Currency.EUR),
                )
            ]
            if i % 5 == 0:
                claims.append(
                    NewClaim(
                        f"B{i}-2",
                        OPENED - timedelta(days=30),
                        OPENED - timedelta(days=5),
                        Money.from_minor_units(2000 + i % 9000, Currency.EUR),
                    )
                )
            new.append(NewCase(f"bank-{i}", tuple(claims)))
        with engine.begin() as conn:
            known = upsert_debtors(conn, debtors, now=NOW)
            ids += open_cases(
                conn, creditor, new, known, on=OPENED, actor="bench", reason="bench", now=NOW
            )
        made += size
    with engine.begin() as conn:  # some accrued interest, posted when a payment arrives
        conn.execute(text("UPDATE claims SET interest_carry_micros = (id % 7) * 1234567"))
    engine.dispose()
    return ids


def owed(i: int) -> int:
    """The principal of portfolio case number ``i`` (as :func:`build` made it)."""
    return 1500 + (i * 7919) % 25000 + (2000 + i % 9000 if i % 5 == 0 else 0)


def paid(n: int) -> int:
    """What debtor ``n`` pays: like a real statement, most pay what the letter says, some
    pay part (an instalment), one in fifty pays more than owed (a refund)."""
    if n % 50 == 0:
        return owed(n) + 2500
    if n % 10 < 7:
        return owed(n)
    return max(500, owed(n) // 3)


def transactions(ids: list[int]) -> list[BankTransaction]:
    out = []
    for n, case in enumerate(ids):
        refs = case_payment_references(case)
        structured: tuple[str, ...] = ()
        remittance = ""
        if n % 10 < 6:
            structured = (refs.rf,)
        elif n % 10 < 9:
            structured = (refs.betalingskenmerk,)
        else:
            remittance = f"factuur R{case:09d} dank u"
        out.append(
            BankTransaction(
                key="",
                account=ACCOUNT,
                booking_date=PAID,
                value_date=PAID,
                direction="CRDT",
                amount_cents=paid(n),
                currency="EUR",
                acct_svcr_ref=f"BENCH-{n:08d}",
                structured_refs=structured,
                remittance=remittance,
                counterparty_name=f"Debtor {n}",
                counterparty_iban="NL02ABNA0123456789",
            )
        )
    return out


def bare_iterparse(path: Path) -> tuple[float, int]:
    start = time.perf_counter()
    count = 0
    for _, elem in etree.iterparse(
        str(path), events=("end",), resolve_entities=False, no_network=True, load_dtd=False
    ):
        if elem.tag.endswith("}Ntry"):
            count += 1
            elem.clear()
            parent = elem.getparent()
            while parent is not None and elem.getprevious() is not None:
                del parent[0]
    return time.perf_counter() - start, count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--batch-size", type=int, default=5000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="respite-bench-bank-") as tmp:
        folder = Path(tmp)
        url = f"sqlite:///{folder / 'bench.db'}"
        t = time.perf_counter()
        ids = build(url, args.entries)
        print(f"portfolio: {len(ids):,} open cases in {time.perf_counter() - t:.1f} s")
        path = folder / "statement.xml"
        t = time.perf_counter()
        write_camt053(
            path,
            account=ACCOUNT,
            currency="EUR",
            opening_cents=0,
            transactions=transactions(ids),
            message_id="BENCH-1",
            statement_id="BENCH-1",
            created=datetime(2025, 3, 3, 22, tzinfo=UTC),
        )
        size = path.stat().st_size
        print(
            f"CAMT.053: {args.entries:,} entries, {size / 1e6:.1f} MB in {time.perf_counter() - t:.1f} s"
        )
        bare, counted = bare_iterparse(path)
        assert counted == args.entries, counted
        t = time.perf_counter()
        parsed = read_statements(path, max_bytes=max(size + 1, 1 << 30))
        ours = time.perf_counter() - t
        assert sum(len(s.transactions) for s in parsed) == args.entries
        del parsed
        env = {**os.environ, "RESPITE_DATABASE_URL": url}
        t = time.perf_counter()
        proc = subprocess.run(
            [
                sys.executable,
                "-c",
                PROBE,
                "bank",
                "import",
                str(path),
                "--json",
                "--batch-size",
                str(args.batch_size),
                "--date",
                PAID.isoformat(),
            ],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        wall = time.perf_counter() - t
        probe = json.loads(proc.stderr.strip().splitlines()[-1])
        if proc.returncode != 0 or probe["code"] not in (0, None):
            sys.exit(f"import failed: {proc.stderr[-2000:]}")
        report = json.loads(proc.stdout)
        inside = probe["seconds"]
        print(f"bare lxml iterparse:   {bare:6.2f} s")
        print(f"read_statements:       {ours:6.2f} s ({ours / bare:.1f}x iterparse)")
        print(
            f"respite bank import:   {inside:6.2f} s in the command, {wall:.2f} s wall "
            f"({inside / bare:.1f}x iterparse), {args.entries / inside:,.0f} entries/s, "
            f"peak RSS {probe['maxrss_kb'] / 1024:.0f} MB"
        )
        print(
            f"  booked {report['booked']:,}, matched {report['matched']}, review "
            f"{report['review']}, refunds {report['refunds']}, allocated "
            f"{report['allocated_cents']}"
        )
        target = "OK" if wall <= 20 else "OVER TARGET"
        print(f"target <= 20 s: {target}")
        print(
            f"(benchmark process peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB)"
        )


if __name__ == "__main__":
    main()
