"""Benchmark: the social collection report over 1,000,000 cases and a year of events.

    make bench-social                     # 1,000,000 cases on SQLite (built once, cached)
    .venv/bin/python bench/social_report.py --cases 100000
    .venv/bin/python bench/social_report.py --db postgresql   # also on PostgreSQL

The portfolio: N cases of 20 creditors (NL/BE in EUR, PL in PLN), opened from October
2024 to December 2025, about 9% of people with two cases, and a year of timeline events
generated deterministically per case: the opening, strategy transitions, costs, messages
on four channels (with B1 flags), guardrail deferrals and blocks, payments, plans started,
broken and completed, holds (dispute, deferral, debt counselling, vulnerability review),
screenings, legal handovers, closes (paid, settled, written off, recalled), portal logins,
satisfaction scores and interest not charged, plus cost waivers. The events are stored in
business-date order, as a real timeline grows. Claims and ledgers are not built: the
report does not read them.

The SQLite database is cached in ``bench/.work/`` (ignored by git) and reused while its
size matches. Prints the report's wall time for the whole agency over 2025, events per
second, and the ratio to a lower bound measured in the same run on the same data: one
bare ``SELECT kind, count(*) FROM events GROUP BY kind`` (a scan of every event).
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url

from respite.adapters.db.engine import analyze, make_engine, upgrade
from respite.services.social_report import social_report

HERE = Path(__file__).resolve().parent
YEAR_FROM, YEAR_TO = date(2025, 1, 1), date(2025, 12, 31)
FIRST_OPEN = date(2024, 10, 1)
OPEN_SPAN = (YEAR_TO - FIRST_OPEN).days + 1
CREDITORS = 20
STAMP = "2025-01-01 00:00:00.000000"
CLOSE_REASONS = ("paid", "paid", "paid", "settled", "settled", "written_off", "recalled")
CHANNELS = ("email", "email", "email", "post", "sms", "phone")
EVENT_COLUMNS = (
    "case_id",
    "business_date",
    "recorded_at",
    "actor",
    "kind",
    "reason",
    "before",
    "after",
)


def _rng(seed: int) -> Iterator[int]:
    x = seed * 2654435761 % (1 << 61) + 1
    while True:
        x = (x * 6364136223846793005 + 1442695040888963407) % (1 << 64)
        yield x >> 17


def _events(
    case_id: int, opened: date, message_ids: Iterator[int]
) -> tuple[list[tuple[object, ...]], date | None]:
    """One case's timeline: (business_date, actor, kind, before, after) rows."""
    r = _rng(case_id)
    out: list[tuple[date, str, str, str, str]] = []

    def add(day: date, kind: str, after: str, before: str = "{}", actor: str = "cycle") -> None:
        out.append((day, actor, kind, before, after))

    def message(day: date) -> None:
        mid = next(message_ids)
        channel = CHANNELS[next(r) % len(CHANNELS)]
        b1 = "true" if next(r) % 10 else "false"
        add(
            day,
            "message_sent",
            f'{{"message_id": {mid}, "channel": "{channel}", "b1": {b1}}}',
            actor="messaging",
        )
        roll = next(r) % 100
        if roll < 25:
            add(
                day,
                "contact_deferred",
                f'{{"message_id": {mid}, "rule": "quiet_hours", "channel": "{channel}"}}',
                actor="messaging",
            )
        elif roll < 30:
            add(
                day,
                "contact_blocked",
                f'{{"message_id": {mid}, "rule": "hold", "channel": "{channel}"}}',
                actor="messaging",
            )

    add(opened, "opened", '{"stage": "friendly_reminder"}', actor="intake")
    message(opened)
    day = opened + timedelta(days=14)
    add(day, "transition", '{"stage": "formal_notice"}', '{"stage": "friendly_reminder"}')
    message(day)
    day = opened + timedelta(days=28)
    add(day, "costs_charged", '{"costs": "EUR 40.00"}')
    add(day, "transition", '{"stage": "amicable"}', '{"stage": "formal_notice"}')
    for k in range(next(r) % 4):
        message(opened + timedelta(days=35 + 15 * k))
    for _ in range(next(r) % 4):
        cents = 1000 + next(r) % 30000
        add(
            opened + timedelta(days=5 + next(r) % 300),
            "payment_received",
            f'{{"amount_cents": {cents}}}',
            actor="payments",
        )
    roll = next(r) % 1000
    holds: list[str] = []
    if roll < 30:
        holds.append("dispute")
    elif roll < 50:
        holds.append("debt_counselling")
    elif roll < 60:
        holds.append("vulnerability_review")
    elif roll < 90:
        holds.append("deferral")
    for h in holds:
        placed = opened + timedelta(days=20 + next(r) % 20)
        actor = "portal:debtor" if h == "deferral" and next(r) % 5 < 2 else "agent:bench"
        add(placed, "hold_placed", f'{{"holds": "{h}"}}', '{"holds": ""}', actor=actor)
        if h in ("dispute", "deferral") and next(r) % 10 < 7:
            add(
                placed + timedelta(days=25),
                "hold_lifted",
                '{"holds": ""}',
                f'{{"holds": "{h}"}}',
                actor="agent:bench",
            )
    if next(r) % 100 < 15:
        start = opened + timedelta(days=40)
        plan = case_id
        frozen = "true" if next(r) % 5 else "false"
        actor = "portal:debtor" if next(r) % 3 == 0 else "agent:bench"
        add(start, "transition", '{"stage": "arrangement"}', '{"stage": "amicable"}', actor=actor)
        add(
            start,
            "plan_started",
            f'{{"plan": {plan}, "months": 7, "interest_frozen": {frozen}}}',
            actor=actor,
        )
        if frozen == "true":
            for k in range(1, 7):
                add(
                    start + timedelta(days=30 * k),
                    "interest_not_charged",
                    f'{{"amount_cents": {50 + next(r) % 400}}}',
                )
        fate = next(r) % 100
        if fate < 30:
            broke = start + timedelta(days=60 + next(r) % 150)
            add(broke, "plan_broken", f'{{"plan": {plan}}}')
            add(broke, "transition", '{"stage": "amicable"}', '{"stage": "arrangement"}')
        elif fate < 55:
            add(start + timedelta(days=213), "plan_completed", f'{{"plan": {plan}}}')
    if next(r) % 100 < 3:
        day = opened + timedelta(days=90)
        add(day, "transition", '{"stage": "legal_screening"}', '{"stage": "amicable"}')
        negative = next(r) % 10 < 7
        outcome = "do_not_proceed" if negative else "proceed"
        avoided = 150000 if negative else 0
        add(
            day + timedelta(days=3),
            "screening",
            f'{{"outcome": "{outcome}", "court_costs_avoided_cents": {avoided}, "currency": "EUR"}}',
            actor="agent:bench",
        )
        if not negative:
            add(
                day + timedelta(days=5),
                "transition",
                '{"stage": "legal_handover"}',
                '{"stage": "legal_screening"}',
            )
    if next(r) % 100 < 20:
        add(opened + timedelta(days=3 + next(r) % 60), "portal_login", "{}", actor="portal:debtor")
    if next(r) % 100 < 10:
        add(
            opened + timedelta(days=10 + next(r) % 60),
            "satisfaction",
            f'{{"score": {1 + next(r) % 5}}}',
            actor="portal:debtor",
        )
    closed: date | None = None
    if next(r) % 100 < 45:
        closed = opened + timedelta(days=10 + next(r) % 300)
        reason = CLOSE_REASONS[next(r) % len(CLOSE_REASONS)]
        out = [e for e in out if e[0] <= closed]
        add(
            closed,
            "transition",
            f'{{"stage": "closed", "close_reason": "{reason}"}}',
            '{"stage": "amicable"}',
        )
    rows = [
        (case_id, d.isoformat(), STAMP, actor, kind, "benchmark", before, after)
        for d, actor, kind, before, after in out
        if d <= YEAR_TO
    ]
    return rows, closed


def generate(cases: int) -> Iterator[tuple[str, list[tuple[object, ...]]]]:
    """Rows for every table, in chunks: ("creditors"|"debtors"|"cases"|..., rows)."""
    yield (
        "creditors",
        [
            (
                i,
                f"Bench creditor {i:02d}",
                ("NL", "BE", "PL")[i % 3] if i % 5 else "PL",
                "PLN" if i % 5 == 0 else "EUR",
                0,
                "standard",
                "{}",
                "{}",
                STAMP,
            )
            for i in range(1, CREDITORS + 1)
        ],
    )
    people = max(1, cases * 10 // 11)  # about 9% of people have a second case
    chunk = 50_000
    message_ids = iter(range(1, 1 << 62))
    for lo in range(0, people, chunk):
        yield (
            "debtors",
            [
                (
                    i,
                    f"bench-{i}",
                    "business" if i % 11 == 0 else "consumer",
                    f"Debtor {i}",
                    "NL",
                    "nl",
                    "Europe/Amsterdam",
                    STAMP,
                )
                for i in range(lo + 1, min(people, lo + chunk) + 1)
            ],
        )
    for lo in range(0, cases, chunk):
        case_rows, event_rows, waivers = [], [], []
        for i in range(lo + 1, min(cases, lo + chunk) + 1):
            r = _rng(i * 7 + 3)
            opened = FIRST_OPEN + timedelta(days=next(r) % OPEN_SPAN)
            creditor = 1 + next(r) % CREDITORS
            debtor = (i - 1) % people + 1
            rows, closed = _events(i, opened, message_ids)
            event_rows += rows
            stage = "closed" if closed and closed <= YEAR_TO else "amicable"
            case_rows.append(
                (
                    i,
                    f"R{i:09d}",
                    creditor,
                    debtor,
                    stage,
                    opened.isoformat(),
                    int(stage == "closed"),
                    opened.isoformat(),
                    0,
                    1,
                )
            )
            if next(r) % 100 < 5:
                day = min(opened + timedelta(days=28), YEAR_TO)
                waivers.append(
                    (
                        i,
                        day.isoformat(),
                        500 + next(r) % 4000,
                        ("aggregation", "policy_cap", "replan")[next(r) % 3],
                        "",
                    )
                )
        yield "cases", case_rows
        yield "events", event_rows
        yield "cost_waivers", waivers


INSERTS = {
    "creditors": "INSERT INTO creditors (id, name, jurisdiction, currency, vat_uplift_declared, strategy, policy, branding, created_at) VALUES ({})",
    "debtors": "INSERT INTO debtors (id, identity_key, kind, name, country, language, timezone, created_at) VALUES ({})",
    "cases": "INSERT INTO cases (id, reference, creditor_id, debtor_id, stage, stage_since, closed, opened_on, interest_frozen, strategy_version) VALUES ({})",
    "events_raw": "INSERT INTO events_raw (case_id, business_date, recorded_at, actor, kind, reason, before, after) VALUES ({})",
    "cost_waivers": "INSERT INTO cost_waivers (case_id, on_date, amount_cents, reason, detail) VALUES ({})",
}


def _sql(table: str, marker: str) -> str:
    columns = INSERTS[table].split("(", 2)[1].split(")")[0]
    return INSERTS[table].format(", ".join([marker] * len(columns.split(","))))


def build_sqlite(path: Path, cases: int) -> int:
    """Build the SQLite portfolio (schema by the migrations); returns the events written."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=OFF")
    db.execute("PRAGMA synchronous=OFF")
    db.execute("PRAGMA cache_size=-1000000")
    # The timeline is appended in business-date order; build it unordered, then copy it
    # over sorted (and index once at the end).
    db.execute("CREATE TEMP TABLE events_raw AS SELECT * FROM events WHERE 0")
    for name in ("ix_events_case", "ix_events_kind_date"):
        db.execute(f"DROP INDEX IF EXISTS {name}")
    written = 0
    for table, rows in generate(cases):
        target = "events_raw" if table == "events" else table
        db.executemany(_sql(target, "?"), rows)
        written += len(rows) if table == "events" else 0
    cols = ", ".join(EVENT_COLUMNS)
    db.execute(
        f"INSERT INTO events ({cols}) SELECT {cols} FROM events_raw ORDER BY business_date, case_id"
    )
    db.execute("DROP TABLE events_raw")
    db.execute("CREATE INDEX ix_events_case ON events (case_id, id)")
    db.execute("CREATE INDEX ix_events_kind_date ON events (kind, business_date, case_id)")
    db.execute("CREATE TABLE bench_meta (cases INTEGER, events INTEGER)")
    db.execute("INSERT INTO bench_meta VALUES (?, ?)", (cases, written))
    db.commit()
    db.execute("ANALYZE")
    db.execute("PRAGMA journal_mode=WAL")
    db.close()
    return written


def cached_sqlite(cases: int, work: Path) -> tuple[str, int, float]:
    path = work / f"social-{cases}.db"
    if path.exists():
        db = sqlite3.connect(path)
        try:
            found = db.execute("SELECT cases, events FROM bench_meta").fetchone()
        except sqlite3.Error:
            found = None
        db.close()
        if found and found[0] == cases:
            engine = make_engine(f"sqlite:///{path}")
            upgrade(engine)  # the cached copy follows later migrations
            engine.dispose()
            return f"sqlite:///{path}", int(found[1]), 0.0
    t = time.perf_counter()
    written = build_sqlite(path, cases)
    return f"sqlite:///{path}", written, time.perf_counter() - t


def build_postgresql(url: str, cases: int) -> tuple[int, float]:
    """Copy the same portfolio into a fresh PostgreSQL database (COPY, then index)."""
    t = time.perf_counter()
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    import psycopg

    plain = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    written = 0
    with psycopg.connect(plain) as conn:
        conn.execute("DROP INDEX IF EXISTS ix_events_case")
        conn.execute("DROP INDEX IF EXISTS ix_events_kind_date")
        for table, rows in generate(cases):
            cols = (
                INSERTS["events_raw" if table == "events" else table].split("(", 2)[1].split(")")[0]
            )
            with conn.cursor().copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            written += len(rows) if table == "events" else 0
        conn.execute("CREATE INDEX ix_events_case ON events (case_id, id)")
        conn.execute("CREATE INDEX ix_events_kind_date ON events (kind, business_date, case_id)")
        conn.execute("CREATE TABLE bench_meta (cases INTEGER, events INTEGER)")
        conn.execute("INSERT INTO bench_meta VALUES (%s, %s)", (cases, written))
        conn.commit()
    analyze(make_engine(url))
    return written, time.perf_counter() - t


PG_DATABASE = "respite_bench_social"


def pg_scratch_url() -> str:
    admin_url = os.environ.get("RESPITE_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
    return make_url(admin_url).set(database=PG_DATABASE).render_as_string(hide_password=False)


def cached_postgresql(cases: int) -> tuple[str, int, float]:
    """The PostgreSQL portfolio: reused while it holds the same number of cases (and is
    migrated to the current schema), else built afresh in its own database."""
    url = pg_scratch_url()
    admin_url = os.environ.get("RESPITE_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
    admin = make_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.execute(
            text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": PG_DATABASE}
        ).first()
    if exists:
        engine = make_engine(url)
        try:
            with engine.connect() as conn:
                found = conn.execute(text("SELECT cases, events FROM bench_meta")).first()
        except Exception:  # an unfinished build: start again
            found = None
        engine.dispose()
        if found and int(found[0]) == cases:
            engine = make_engine(url)
            upgrade(engine)
            engine.dispose()
            return url, int(found[1]), 0.0
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{PG_DATABASE}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{PG_DATABASE}"'))
    admin.dispose()
    written, built = build_postgresql(url, cases)
    return url, written, built


def measure(url: str, events: int, label: str) -> None:
    engine = make_engine(url)
    with engine.connect() as conn:  # the bound: one scan of every event, grouped by kind
        t = time.perf_counter()
        kinds = conn.execute(text("SELECT kind, count(*) FROM events GROUP BY kind")).all()
        bound = time.perf_counter() - t
    t = time.perf_counter()
    report = social_report(engine, YEAR_FROM, YEAR_TO)
    wall = time.perf_counter() - t
    engine.dispose()
    total = sum(int(n) for _, n in kinds)
    print(f"[{label}] {total:,} events of {len(kinds)} kinds; {len(report.scopes) - 1} creditors")
    print(
        f"[{label}] social report, whole agency, {YEAR_FROM} to {YEAR_TO}: {wall:.1f} s "
        f"= {total / wall:,.0f} events/s (target <= 30 s)"
    )
    print(
        f"[{label}] lower bound (SELECT kind, count(*) FROM events GROUP BY kind): {bound:.1f} s; "
        f"ratio {wall / bound:.1f}x"
    )
    figures = [
        "dossiers_handled",
        "dossiers_closed",
        "debt_free_private",
        "debt_free_business",
        "arrangements_made",
        "arrangements_kept_6m",
        "messages_sent",
        "messages_b1_share",
        "resolution_days_other",
        "resolution_days_vulnerable",
    ]
    shown = ", ".join(f"{m} {report.value(m)}" for m in figures)
    collected = " + ".join(
        f"{f.currency} {f.value}" for f in report.figures_of("amount_collected") if f.currency
    )
    print(f"[{label}] figures: {shown}, collected {collected}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--db", action="append", choices=["sqlite", "postgresql"])
    args = parser.parse_args()
    work = HERE / ".work"
    work.mkdir(exist_ok=True)
    kinds = args.db or (
        ["sqlite", "postgresql"]
        if os.environ.get("RESPITE_DATABASE_URL", "").startswith("postgresql")
        else ["sqlite"]
    )
    print(
        f"social report benchmark: {args.cases:,} cases, a year of events, {os.cpu_count()} cores"
    )
    for kind in kinds:
        if kind == "sqlite":
            url, events, built = cached_sqlite(args.cases, work)
            how = f"built in {built:.0f} s" if built else "reused"
            print(
                f"\n[sqlite] portfolio {how}: {events:,} events in {url.removeprefix('sqlite:///')}"
            )
        else:
            url, events, built = cached_postgresql(args.cases)
            how = f"built in {built:.0f} s" if built else "reused"
            print(f"\n[postgresql] portfolio {how}: {events:,} events in {PG_DATABASE}")
        measure(url, events, kind)


if __name__ == "__main__":
    main()
