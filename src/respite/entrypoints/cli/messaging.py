"""``respite send``, ``letter``, ``messages``, ``contact`` and ``calls``: communications.

Where messages go is configured by the environment (README, "Communications"):
``RESPITE_SMTP_*`` for e-mail, ``RESPITE_SMS_*`` for the SMS provider, ``RESPITE_PRINT_DIR``
for letters. ``respite mail-sink`` runs a local SMTP sink to try it out.
"""

from __future__ import annotations

import json
import time as time_module
from contextlib import ExitStack
from datetime import UTC, datetime, time
from pathlib import Path
from typing import Annotated, Any

import typer

from respite.entrypoints.cli.options import date_or_today, open_database, parse_date
from respite.errors import InputError
from respite.services import messaging

messages_app = typer.Typer(
    help="Messages: what was sent, deferred or blocked, and why.", no_args_is_help=True
)
contact_app = typer.Typer(
    help="Contact by an agent, and a person's channel choices (consent, opt-out, preferred).",
    no_args_is_help=True,
)
calls_app = typer.Typer(
    help="The agent's call queue: call tasks with their script.", no_args_is_help=True
)

At = Annotated[
    str, typer.Option("--at", help="Local time of the run in the agency's time zone (HH:MM).")
]


def _emit(result: Any) -> None:
    typer.echo(json.dumps(result, indent=2, ensure_ascii=False, default=str))


def _time(value: str) -> time:
    try:
        return time.fromisoformat(value.strip())
    except ValueError:
        raise InputError(f"expected a time as HH:MM, got {value!r}", field="--at") from None


def build_channels(stack: ExitStack) -> tuple[dict[str, Any], Path]:
    """The channels of the environment; letters always (to the print folder)."""
    from respite.adapters.channels.config import channels_from_env
    from respite.adapters.channels.letters import LetterChannel

    config = channels_from_env()
    channels: dict[str, Any] = {"post": LetterChannel(config.print_dir / "spool")}
    if config.smtp_host:
        from respite.adapters.channels.smtp import SmtpChannel

        smtp = SmtpChannel(
            config.smtp_host,
            config.smtp_port,
            starttls=config.smtp_starttls,
            ssl=config.smtp_ssl,
            username=config.smtp_username,
            password=config.smtp_password,
        )
        stack.enter_context(smtp.session())
        channels["email"] = smtp
    if config.sms_url:
        from respite.adapters.channels.sms import SmsHttpChannel

        channels["sms"] = SmsHttpChannel(
            config.sms_url, config.sms_api_key or "", sender=config.sms_sender
        )
    return channels, config.print_dir


def send(
    on: Annotated[str, typer.Option("--date", help="The business date whose outbox to deliver.")],
    at: At = "09:00",
) -> None:
    """Deliver the outbox the cycle produced up to --date, behind the contact guardrails."""
    day = parse_date(on, "--date")
    settings = messaging.settings_from_env()
    with open_database() as engine, ExitStack() as stack:
        channels, print_dir = build_channels(stack)
        report = messaging.send_day(
            engine, day, _time(at), channels, settings, print_dir=print_dir / "batches"
        )
    _emit(report.as_dict())


def letter(
    reference: str,
    out: Annotated[Path, typer.Option("--out", help="Where to write the PDF.")],
    on: Annotated[str | None, typer.Option("--date", help="Letter date (default: today).")] = None,
) -> None:
    """Render the current letter of one case as PDF (no login code: it is not sent)."""
    from respite.adapters.channels.letters import render_pdf

    day = date_or_today(on, "--date")
    settings = messaging.settings_from_env()
    with open_database() as engine:
        rendered = messaging.current_letter(engine, reference, day, settings)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(render_pdf(rendered.html or ""))
    _emit(
        {"case": reference, "step": rendered.step, "language": rendered.language, "pdf": str(out)}
    )


def print_batch(
    on: Annotated[str, typer.Option("--date", help="The business date of the letters.")],
) -> None:
    """Lay out the day's spooled letters as one PDF with a CSV manifest for the print shop."""
    day = parse_date(on, "--date")
    with open_database() as engine, ExitStack() as stack:
        channels, print_dir = build_channels(stack)
        result = messaging.make_print_batch(
            engine, channels["post"], day, print_dir / "batches", now=datetime.now(UTC)
        )
    _emit(result or {"business_date": day.isoformat(), "letters": 0})


@messages_app.command("list")
def list_messages(
    case: Annotated[str | None, typer.Option("--case", help="Only this case's person.")] = None,
    status: Annotated[str | None, typer.Option("--status", help="Only this status.")] = None,
    limit: Annotated[int, typer.Option("--limit")] = 50,
) -> None:
    """The newest messages with their guardrail decisions."""
    with open_database() as engine:
        _emit(messaging.list_messages(engine, case_reference=case, status=status, limit=limit))


@contact_app.command("request")
def request(
    reference: str,
    channel: Annotated[str, typer.Option("--channel", help="email, sms, post or phone.")],
    template: Annotated[str, typer.Option("--template", help="The step, e.g. friendly_reminder.")],
    by: Annotated[str, typer.Option("--by", help="The agent (stored in the timeline).")],
    on: Annotated[
        str | None, typer.Option("--date", help="Business date (default: today).")
    ] = None,
    at: Annotated[str | None, typer.Option("--at", help="Local time HH:MM (default: now).")] = None,
) -> None:
    """An agent asks to contact a debtor: the same guardrails as every strategy step."""
    day = date_or_today(on, "--date")
    settings = messaging.settings_from_env()
    now = (
        messaging.send_moment(day, _time(at), settings)
        if at is not None
        else datetime.now(UTC)  # the edge: an agent acts now
    )
    with open_database() as engine, ExitStack() as stack:
        channels, _ = build_channels(stack)
        _emit(
            messaging.request_contact(
                engine,
                reference,
                channel=channel,
                template=template,
                source="agent",
                actor=by,
                on=day,
                now=now,
                channels=channels,
                settings=settings,
            )
        )


@contact_app.command("preference")
def preference(
    reference: str,
    channel: Annotated[str, typer.Option("--channel", help="email, sms, post or phone.")],
    status: Annotated[str, typer.Option("--status", help="consented, opted_out or preferred.")],
    by: Annotated[str, typer.Option("--by", help="Who records it.")] = "agent",
    on: Annotated[
        str | None, typer.Option("--date", help="Business date (default: today).")
    ] = None,
) -> None:
    """Record the person's consent, opt-out or preferred channel (all their cases)."""
    day = date_or_today(on, "--date")
    with open_database() as engine:
        _emit(messaging.record_preference(engine, reference, channel, status, day, by))


@calls_app.command("list")
def calls(
    all_tasks: Annotated[
        bool, typer.Option("--all", help="Also the calls already logged.")
    ] = False,
) -> None:
    """Open call tasks (oldest first) with their script."""
    with open_database() as engine:
        _emit(messaging.call_tasks(engine, open_only=not all_tasks))


@calls_app.command("log")
def log(
    task: int,
    outcome: Annotated[str, typer.Option("--outcome", help=", ".join(messaging.CALL_OUTCOMES))],
    agent: Annotated[str, typer.Option("--agent", help="Who called.")],
    note: Annotated[str, typer.Option("--note")] = "",
) -> None:
    """Log how a call went (a conversation pauses calls where the law says so)."""
    with open_database() as engine:
        _emit(
            messaging.log_call(
                engine, task, outcome=outcome, agent=agent, at=datetime.now(UTC), note=note
            )
        )


def mail_sink(
    folder: Annotated[
        Path, typer.Option("--dir", help="Where to store each message (.eml).")
    ] = Path("demo-output/mail"),
    port: Annotated[int, typer.Option("--port")] = 8025,
) -> None:
    """Run a local SMTP sink on 127.0.0.1 that stores every message it receives (Ctrl-C stops)."""
    from respite.adapters.channels.mail_sink import MailSink

    with MailSink(folder, port=port) as sink:
        typer.echo(f"SMTP sink on {sink.host}:{sink.port}, storing into {folder}")
        typer.echo(f"export RESPITE_SMTP_HOST={sink.host} RESPITE_SMTP_PORT={sink.port}")
        try:
            while True:
                time_module.sleep(3600)
        except KeyboardInterrupt:
            pass


def print_send_totals(reports: list[messaging.SendReport]) -> None:
    """A few lines on what the days' runs delivered (for `simulate --send`)."""
    from collections import Counter

    sent: Counter[str] = Counter()
    rules: Counter[str] = Counter()
    for r in reports:
        sent.update(r.sent)
        rules.update({k: v for k, v in r.decisions.items() if not k.startswith("send:")})
    batches = [r.print_batch for r in reports if r.print_batch]
    typer.echo(
        "  messages sent:      "
        + (", ".join(f"{c} {n}" for c, n in sorted(sent.items())) or "none")
    )
    typer.echo(
        f"  guardrails:         {sum(r.deferred for r in reports)} deferred, "
        f"{sum(r.blocked for r in reports)} blocked"
        + (" (" + ", ".join(f"{k} {v}" for k, v in rules.most_common(5)) + ")" if rules else "")
    )
    typer.echo(
        f"  delivery:           {sum(r.retried for r in reports)} retried, "
        f"{sum(r.bounced for r in reports)} bounced, {sum(r.fallbacks for r in reports)} "
        f"fallback letters, {sum(r.delivered for r in reports)} SMS delivered"
    )
    if batches:
        typer.echo(
            f"  print batches:      {len(batches)} days, "
            f"{sum(int(b['letters']) for b in batches)} letters; last: {batches[-1]['pdf_path']}"
        )
