"""Benchmark: the debtor portal's case page and plan offer under load on loopback.

    make bench-portal
    .venv/bin/python bench/portal.py --debtors 2000 --rate 200 --seconds 20

Builds a demo portfolio on SQLite (WAL) in a temporary directory and runs ten nightly cycles,
logs a debtor with cases at several creditors in (a real portal session), then serves
``respite serve --workers 2`` (one worker per core; ``--workers 1`` to compare; uvicorn,
uvloop + httptools) and, in the same run, a bare FastAPI route
on the same server settings: the floor no page can beat. For each it measures

1. a steady load of ``--rate`` requests per second for ``--seconds``: 20 ``hey`` streams of
   one connection each, started evenly spaced so that requests arrive every 1/rate s,
   reporting p50 and p99 latency over all requests and the error count;
2. the most it can serve (``wrk``, 32 connections, 10 s), requests per second.

Target (issue 7): p99 < 100 ms at 200 requests per second for the case page and the plan
offer. ``hey`` and ``wrk`` come from Debian (``make bench-portal`` installs them); the load
generator shares the machine's two cores with the server, as it would on a small VM.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import func, select

from respite.adapters.db.engine import make_engine, upgrade
from respite.adapters.db.models import Case, Debtor
from respite.entrypoints.web import sessions
from respite.services.cycle import run_cycle
from respite.services.demo_data import generate_portfolio

ON = date(2025, 1, 15)
DAYS = 10
HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
STREAMS = 20  # load generators, each one connection at rate/STREAMS requests per second


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait(url: str, cookie: str | None = None) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, cookies={"respite_portal": cookie} if cookie else None).is_success:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"server at {url} did not answer")


def _hey(url: str, rate: int, seconds: int, cookie: str | None) -> dict[str, float]:
    """A steady ``rate`` of arrivals: one ``hey`` per connection at rate/STREAMS each, the
    streams started evenly spaced. (One ``hey -c N -q R`` ticks all its connections at the
    same instant, which sends bursts of N requests instead of a steady rate.) Every request
    opens its own connection, as 200 different debtors would: kept-alive connections stick
    to one server worker and would load the workers unevenly."""
    per = rate / STREAMS
    header = ["-H", f"Cookie: respite_portal={cookie}"] if cookie else []
    procs = []
    for _ in range(STREAMS):
        cmd = ["hey", "-z", f"{seconds}s", "-c", "1", "-q", str(per), "-disable-keepalive"]
        cmd += ["-o", "csv", *header, url]
        procs.append(subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True))
        time.sleep(1 / rate)
    times: list[float] = []
    errors = 0
    for proc in procs:
        out, _ = proc.communicate()
        for line in out.splitlines()[1:]:
            fields = line.split(",")
            if len(fields) >= 7:
                times.append(float(fields[0]))
                errors += fields[6] != "200"
    times.sort()
    n = len(times)
    return {
        "rps": n / seconds,
        "p50": times[n // 2] * 1000,
        "p99": times[min(n - 1, int(n * 0.99))] * 1000,
        "ok": n - errors,
        "errors": errors,
    }


def _wrk(url: str, cookie: str | None) -> float:
    cmd = ["wrk", "-t2", "-c32", "-d10s"]
    if cookie:
        cmd += ["-H", f"Cookie: respite_portal={cookie}"]
    out = subprocess.run([*cmd, url], capture_output=True, text=True, check=True).stdout
    if "Non-2xx" in out:
        raise SystemExit(f"wrk saw errors on {url}:\n{out}")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]


def _serve(cmd: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--debtors", type=int, default=2000)
    parser.add_argument("--rate", type=int, default=200)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    for tool in ("hey", "wrk"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is missing: `make bench-portal` installs it")
    work = Path(tempfile.mkdtemp(prefix="respite-bench-portal-"))
    url = f"sqlite:///{work / 'bench.db'}"
    engine = make_engine(url)
    upgrade(engine)
    t0 = time.perf_counter()
    generate_portfolio(
        engine, debtors=args.debtors, creditors=8, seed=7, on=ON, now=datetime.now(UTC)
    )
    for day in range(DAYS):
        run_cycle(engine, ON + timedelta(days=day))
    on = ON + timedelta(days=DAYS - 1)
    with engine.begin() as conn:
        person = func.coalesce(Debtor.person_id, Debtor.id)
        busiest = conn.execute(
            select(person.label("p"), func.min(Case.id).label("case"), func.count().label("n"))
            .join(Debtor, Debtor.id == Case.debtor_id)
            .group_by(person)
            .order_by(func.count().desc(), person)
            .limit(1)
        ).one()
        reference = conn.execute(select(Case.reference).where(Case.id == busiest.case)).scalar_one()
        cookie = sessions.create(
            conn,
            "portal",
            now=datetime.now(UTC),
            idle=timedelta(hours=4),
            person_id=int(busiest.p),
            case_id=int(busiest.case),
            language="nl",
        )
    engine.dispose()
    print(
        f"portfolio of {args.debtors} debtors, {DAYS} nights: {time.perf_counter() - t0:.1f} s; "
        f"logged in as the person with the most cases ({busiest.n}), case {reference}"
    )
    env = {
        **os.environ,
        "RESPITE_DATABASE_URL": url,
        "RESPITE_BUSINESS_DATE": on.isoformat(),
        "RESPITE_DATA_KEY_FILE": str(work / "data.key"),
    }
    port, bare_port = _port(), _port()
    workers = str(args.workers)
    app = _serve([str(BIN / "respite"), "serve", "--port", str(port), "--workers", workers], env)
    bare = _serve(
        [
            str(BIN / "uvicorn"),
            "bare_app:app",
            "--app-dir",
            str(HERE),
            "--port",
            str(bare_port),
            "--workers",
            workers,
            "--no-access-log",
            "--log-level",
            "warning",
        ],
        env,
    )
    base = f"http://127.0.0.1:{port}"
    targets = {
        "bare FastAPI route": (f"http://127.0.0.1:{bare_port}/", None),
        "case page": (f"{base}/cases/{reference}", cookie),
        "plan offer": (f"{base}/plan", cookie),
    }
    try:
        for address, token in targets.values():
            _wait(address, token)
        rows = []
        for target, (address, token) in targets.items():
            httpx.get(address, cookies={"respite_portal": token} if token else None)
            fixed = _hey(address, args.rate, args.seconds, token)
            most = _wrk(address, token)
            rows.append((target, fixed, most))
    finally:
        for proc in (app, bare):
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=20)
        shutil.rmtree(work, ignore_errors=True)
    floor = rows[0][2]
    print(
        f"\n{args.workers} worker(s) each; fixed load {args.rate} req/s for {args.seconds} s (hey), max by wrk"
    )
    print(
        f"{'':22} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} {'max req/s':>10} {'floor/x':>8}"
    )
    for target, fixed, most in rows:
        print(
            f"{target:22} {fixed['rps']:8.1f} {fixed['p50']:8.1f} {fixed['p99']:8.1f} "
            f"{int(fixed['errors']):7d} {most:10.0f} {floor / most:8.1f}"
        )
    verdicts = [
        f"{t}: p99 {f['p99']:.1f} ms {'<' if f['p99'] < 100 else '>='} 100 ms"
        for t, f, _ in rows[1:]
    ]
    print("target p99 < 100 ms at", args.rate, "req/s —", "; ".join(verdicts))


if __name__ == "__main__":
    main()
