"""Benchmark: 100,000 claims by CSV through the creditor API (``POST /api/v1/claims/csv``).

    make bench-api
    .venv/bin/python bench/api_intake.py --rows 100000

Writes a CSV of N valid claims in the intake format (every debtor different, so N cases),
then measures in the same run, each on a fresh SQLite database (WAL) in a temporary
directory:

1. the API: ``respite serve`` (uvicorn) as a subprocess, a creditor with a fresh key, and
   one ``POST /api/v1/claims/csv`` of the file with httpx over loopback, timed from the
   first byte sent to the last byte of the answer (upload, parse, validate every row,
   write cases, claims, ledger, events, answer with every case reference);
2. the floor: the intake service called directly on the same file
   (``respite.services.intake.apply_intake``, what ``respite import claims`` runs).

Prints seconds, rows per second and the ratio of the API to the direct import.
Target (issue 8): ≤ 30 s for 100,000 rows on this machine.
"""

from __future__ import annotations

import argparse
import csv
import os
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

import httpx
from schwifty import IBAN

from respite.adapters.db.engine import make_engine, upgrade
from respite.services.api_keys import create_key
from respite.services.intake import FIELDS, apply_intake, register_creditor

ON = date(2025, 3, 3)
NOW = datetime(2025, 3, 3, 7, tzinfo=UTC)
CREDITOR = "Bench Water NL"
BIN = Path(sys.executable).parent
TARGET_SECONDS = 30.0


def write_csv(path: Path, rows: int) -> None:
    """N valid claims, one per debtor, with every optional field filled in."""
    ibans = [
        str(IBAN.generate("NL", bank_code="ABNA", account_code=str(400_000_000 + i)).compact)
        for i in range(1000)
    ]
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(FIELDS)
        for i in range(rows):
            writer.writerow(
                [
                    f"INV-{i:07d}",
                    "consumer",
                    f"Debtor {i} de Vries",
                    f"debtor{i}@example.org",
                    "06 12345678",
                    ibans[i % len(ibans)],
                    f"Kerkstraat {1 + i % 300}",
                    f"{1000 + i % 8999} AB",
                    "Utrecht",
                    "NL",
                    "nl",
                    f"{1940 + i % 60}-{1 + i % 12:02d}-{1 + i % 28:02d}",
                    "",
                    "Waterrekening",
                    "2025-01-01",
                    "2025-01-15",
                    f"{10 + i % 990}.{i % 100:02d}",
                    "EUR",
                ]
            )


def fresh_database(path: Path) -> str:
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    upgrade(engine)
    register_creditor(engine, CREDITOR, jurisdiction="NL", now=NOW)
    engine.dispose()
    return url


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def through_api(url: str, csv_path: Path, workdir: Path) -> tuple[float, int]:
    engine = make_engine(url)
    with engine.begin() as conn:
        key = create_key(conn, CREDITOR, "claims:write", label="bench", now=NOW).key
    engine.dispose()
    port = free_port()
    env = {
        **os.environ,
        "RESPITE_DATABASE_URL": url,
        "RESPITE_BUSINESS_DATE": ON.isoformat(),
        "RESPITE_DATA_KEY_FILE": str(workdir / "data.key"),
    }
    server = subprocess.Popen(
        [str(BIN / "respite"), "serve", "--port", str(port)],
        env=env,
        cwd=workdir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("respite serve did not start")
            time.sleep(0.2)
        body = csv_path.read_bytes()
        started = time.perf_counter()
        response = httpx.post(
            f"{base}/api/v1/claims/csv",
            content=body,
            headers={"Authorization": f"Bearer {key}", "Content-Type": "text/csv"},
            timeout=600,
        )
        seconds = time.perf_counter() - started
    finally:
        server.terminate()
        server.wait(timeout=30)
    if response.status_code != 201:
        raise SystemExit(f"the API answered {response.status_code}: {response.text[:500]}")
    return seconds, int(response.json()["rows_imported"])


def direct(url: str, csv_path: Path) -> tuple[float, int]:
    engine = make_engine(url)
    started = time.perf_counter()
    result = apply_intake(engine, CREDITOR, csv_path, on=ON, skip_invalid=False, now=NOW)
    seconds = time.perf_counter() - started
    engine.dispose()
    return seconds, result.rows_imported


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="respite-bench-api-") as tmp:
        work = Path(tmp)
        csv_path = work / "claims.csv"
        write_csv(csv_path, args.rows)
        size_mb = csv_path.stat().st_size / 1e6
        print(f"{args.rows:,} claims, {size_mb:.1f} MB of CSV")
        api_s, api_rows = through_api(fresh_database(work / "api.db"), csv_path, work)
        floor_s, floor_rows = direct(fresh_database(work / "direct.db"), csv_path)
    assert api_rows == floor_rows == args.rows, (api_rows, floor_rows)
    print(f"API  POST /api/v1/claims/csv   {api_s:7.2f} s   {args.rows / api_s:9,.0f} rows/s")
    print(f"direct intake service         {floor_s:7.2f} s   {args.rows / floor_s:9,.0f} rows/s")
    print(f"ratio API / direct             {api_s / floor_s:7.2f}")
    scaled = api_s * 100_000 / args.rows
    verdict = "within" if scaled <= TARGET_SECONDS else "OVER"
    print(f"target ≤ {TARGET_SECONDS:.0f} s per 100,000 rows: {scaled:.1f} s, {verdict}")


if __name__ == "__main__":
    main()
