"""Benchmark: one morning's messages (`respite send`) and a day's print batch.

    make bench-send
    .venv/bin/python bench/messaging.py --debtors 5000

Builds a demo portfolio of N debtors on SQLite in a temporary directory and runs the
first nightly cycle (a friendly reminder for every case). Then it measures:

1. `send_day` for that morning: outbox → consolidated messages → guardrail decisions →
   rendering (templates, readability) → delivery, with e-mail and SMS going to a local
   SMTP sink (aiosmtpd, in this process) and the HTTP SMS provider on loopback, and
   letters spooled; figures per message;
2. the day's print batch: every spooled letter laid out (WeasyPrint) in one PDF, on every
   core, per letter.

Lower bound printed beside it: rendering one message's templates alone (Jinja2 + Babel),
the part no delivery path can avoid.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from datetime import UTC, date, datetime
from datetime import time as clock
from pathlib import Path
from typing import Any

from respite.adapters.channels.fake_sms import FakeSmsProvider
from respite.adapters.channels.letters import LetterChannel
from respite.adapters.channels.mail_sink import MailSink
from respite.adapters.channels.sms import SmsHttpChannel
from respite.adapters.channels.smtp import SmtpChannel
from respite.adapters.db.engine import make_engine, upgrade
from respite.services import messaging
from respite.services.cycle import run_cycle
from respite.services.demo_data import generate_portfolio

ON = date(2025, 1, 15)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--debtors", type=int, default=5000)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="respite-bench-send-"))
    engine = make_engine(f"sqlite:///{work / 'bench.db'}")
    upgrade(engine)
    t0 = time.perf_counter()
    generate_portfolio(
        engine, debtors=args.debtors, creditors=8, seed=11, on=ON, now=datetime.now(UTC)
    )
    run_cycle(engine, ON)
    print(
        f"portfolio of {args.debtors} debtors and its first night: {time.perf_counter() - t0:.1f} s"
    )
    settings = messaging.settings_from_env({})
    letters = LetterChannel(work / "spool")
    with (
        MailSink(work / "mail") as sink,
        FakeSmsProvider(api_key="k") as provider,
    ):
        smtp = SmtpChannel(sink.host, sink.port)
        channels: dict[str, Any] = {
            "email": smtp,
            "sms": SmsHttpChannel(provider.url, "k"),
            "post": letters,
        }
        with smtp.session():
            t0 = time.perf_counter()
            report = messaging.send_day(engine, ON, clock(9), channels, settings)
            send_s = time.perf_counter() - t0
    sent = sum(report.sent.values())
    decided = report.prepared
    print(
        f"send_day: {decided} messages prepared and decided, {sent} sent {dict(report.sent)}, "
        f"{report.deferred} deferred, {report.blocked} blocked: {send_s:.1f} s, "
        f"{send_s / max(decided, 1) * 1000:.1f} ms per message"
    )
    t0 = time.perf_counter()
    batch = messaging.make_print_batch(engine, letters, ON, work / "batches", now=datetime.now(UTC))
    batch_s = time.perf_counter() - t0
    if batch:
        print(
            f"print batch: {batch['letters']} letters, {batch['pages']} pages on "
            f"{len(os.sched_getaffinity(0))} cores: {batch_s:.1f} s, "
            f"{batch_s / batch['letters'] * 1000:.0f} ms per letter"
        )
    bound = _render_bound(engine, settings)
    print(
        f"lower bound (templates alone): {bound * 1000:.1f} ms per message; send_day is "
        f"{send_s / max(decided, 1) / bound:.1f}x"
    )
    print(f"work folder (delete when done): {work}")


def _render_bound(engine: Any, settings: messaging.MessagingSettings) -> float:
    """Seconds to render one e-mail's templates, from a real context (median of 200)."""
    from sqlalchemy import select

    from respite.adapters.db.models import Message
    from respite.adapters.messages.render import render
    from respite.services.agency import agency_from_env

    with engine.connect() as conn:
        rows = list(
            conn.execute(
                select(*messaging._MESSAGE_COLUMNS)
                .where(Message.channel == "email", Message.status == "sent")
                .limit(200)
            )
        )
        now = messaging.send_moment(ON, clock(9), settings)
        batch = messaging._load_batch(conn, rows, ON, now)
    agency = agency_from_env({})
    times = []
    for row in rows:
        ctx = messaging._context(row, "email", batch, settings, agency, ON)
        t0 = time.perf_counter()
        render(ctx, "email")
        times.append(time.perf_counter() - t0)
    times.sort()
    return times[len(times) // 2]


if __name__ == "__main__":
    main()
