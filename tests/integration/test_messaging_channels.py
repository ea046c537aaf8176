"""The messaging engine end to end against real local servers: an aiosmtpd SMTP sink, the
HTTP SMS provider, and WeasyPrint letters in a print batch whose EPC QR is decoded."""

from __future__ import annotations

import csv
import subprocess
from datetime import time, timedelta
from pathlib import Path
from typing import Any

import zxingcpp
from PIL import Image
from sqlalchemy import Engine

from respite.adapters.channels.fake_sms import FakeSmsProvider
from respite.adapters.channels.letters import LetterChannel
from respite.adapters.channels.mail_sink import MailSink
from respite.adapters.channels.sms import SmsHttpChannel
from respite.adapters.channels.smtp import SmtpChannel
from respite.services import messaging

from .test_messaging import DAY, SETTINGS, messages, person_with_cases, queue


def test_email_sms_and_letters_reach_real_local_servers(db_engine: Engine, tmp_path: Path) -> None:
    refs = person_with_cases(db_engine)
    messaging.record_preference(db_engine, refs[0], "sms", "consented", DAY, "portal")
    with (
        MailSink(tmp_path / "mail") as sink,
        FakeSmsProvider(api_key="k", log_path=tmp_path / "sms.jsonl") as provider,
    ):
        smtp = SmtpChannel(sink.host, sink.port)
        channels: dict[str, Any] = {
            "email": smtp,
            "sms": SmsHttpChannel(provider.url, "k"),
            "post": LetterChannel(tmp_path / "spool"),
        }
        # Day 1: the agency-branded formal notice for all three cases (one letter);
        # day 2: a reminder by e-mail; day 3: a nudge by SMS.
        queue(db_engine, refs, "formal_notice", "post")
        with smtp.session():
            first = messaging.send_day(
                db_engine, DAY, time(10), channels, SETTINGS, print_dir=tmp_path / "batches"
            )
        assert first.sent == {"post": 1}
        assert first.print_batch is not None
        queue_day(db_engine, refs[:1], "friendly_reminder", "email", 1)
        messaging.send_day(db_engine, DAY + timedelta(days=1), time(10), channels, SETTINGS)
        queue_day(db_engine, refs[:1], "friendly_nudge", "sms", 2)
        third = messaging.send_day(db_engine, DAY + timedelta(days=2), time(10), channels, SETTINGS)
        assert third.sent == {"sms": 1}
        assert third.delivered == 1  # the provider's delivery report was polled
        [mail] = sink.messages
        message = mail.message
        assert message.get_content_type() == "multipart/alternative"
        assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]
        plain = message.get_body(("plain",))
        assert plain is not None
        assert refs[0] in plain.get_content()
        assert list(mail.rcpt_tos) == ["anna@example.org"]
        [sms] = provider.messages
        assert sms["to"] == "+31612345678"
        assert SETTINGS.portal_url in sms["text"]
    statuses = {(m.channel, m.status) for m in messages(db_engine)}
    assert statuses == {("post", "sent"), ("email", "sent"), ("sms", "delivered")}
    # Every message sent carries its readability score; all three are at B1.
    assert all(m.b1 for m in messages(db_engine))
    assert all(m.readability_centi for m in messages(db_engine))
    # The print batch: one PDF with the letter, a manifest row, and a QR a bank app reads.
    batch = first.print_batch
    pdf = Path(batch["pdf_path"])
    with Path(batch["manifest_path"]).open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 1
    assert rows[0]["recipient_name"] == "Anna de Vries"
    text = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert all(ref in text for ref in refs)
    assert "127.0.0.1:8000" in text  # the portal address

    subprocess.run(
        ["pdftoppm", "-r", "200", "-png", str(pdf), str(tmp_path / "page")],
        check=True,
    )
    [code] = [
        b
        for png in sorted(tmp_path.glob("page*.png"))
        for b in zxingcpp.read_barcodes(Image.open(png))
        if b.text.startswith("BCD\n")
    ]
    lines = code.text.split("\n")
    assert lines[:4] == ["BCD", "002", "1", "SCT"]
    assert lines[6] == "NL91ABNA0417164300"  # the agency's account (demo default)
    assert lines[7] == "EUR100"  # one case's exact open amount
    assert lines[9].startswith("RF")


def test_a_bounce_at_the_smtp_server_becomes_a_letter(db_engine: Engine, tmp_path: Path) -> None:
    refs = person_with_cases(db_engine, creditors=1)
    queue(db_engine, refs, "friendly_reminder", "email")
    with MailSink(tmp_path / "mail", reject_permanent=("anna@example.org",)) as sink:
        channels: dict[str, Any] = {
            "email": SmtpChannel(sink.host, sink.port),
            "post": LetterChannel(tmp_path / "spool"),
        }
        report = messaging.send_day(db_engine, DAY, time(10), channels, SETTINGS)
    assert report.bounced == 1
    assert report.fallbacks == 1
    assert report.sent == {"post": 1}
    bounced, letter = messages(db_engine)
    assert bounced.status == "bounced"
    assert "550" in (bounced.error or "")
    assert "anna" not in (bounced.error or "")  # no personal data in the error
    assert letter.fallback_of == bounced.id


def queue_day(engine: Engine, refs: list[str], template: str, channel: str, day: int) -> None:
    from sqlalchemy import select

    from respite.adapters.db.models import Case
    from respite.services.store import outbox_row, queue_outbox

    with engine.begin() as conn:
        ids = dict(conn.execute(select(Case.reference, Case.id)).all())
        queue_outbox(
            conn,
            [
                outbox_row(
                    ids[r],
                    DAY + timedelta(days=day),
                    "message",
                    channel,
                    template,
                    f"{r}:{template}:{day}",
                    {},
                )
                for r in refs
            ],
        )
