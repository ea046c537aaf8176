"""The SMTP channel against a real SMTP server (aiosmtpd) on loopback."""

from __future__ import annotations

import email
import email.policy
import secrets
import socket
import threading
from collections.abc import Iterator
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest

from respite.adapters.channels.base import Outgoing
from respite.adapters.channels.mail_sink import MailSink
from respite.adapters.channels.smtp import SmtpChannel


@pytest.fixture
def sink(tmp_path: Path) -> Iterator[MailSink]:
    with MailSink(tmp_path / "mail") as running:
        yield running


def message(to: str = "zoe@example.nl", message_id: int = 42, **changes: object) -> Outgoing:
    fields: dict[str, object] = {
        "message_id": message_id,
        "channel": "email",
        "to": to,
        "sender_name": "Incassobureau Zuidoost – Zoë’s team",
        "sender_email": "noreply@incasso.example",
        "subject": "Uw betaling van € 12,50 – bedankt",
        "text": "Beste Zoë,\n\nWe hebben € 12,50 ontvangen.",
        "html": "<p>Beste Zoë,</p><p>We hebben € 12,50 ontvangen.</p>",
        "reply_to": "hulp@incasso.example",
        "headers": {"List-Id": "<betalingen.incasso.example>"},
    }
    fields.update(changes)
    return Outgoing(**fields)  # type: ignore[arg-type]


def only(sink: MailSink) -> EmailMessage:
    assert len(sink.messages) == 1
    return sink.messages[0].message


def test_accepted_mail_is_sent_with_its_message_id(sink: MailSink) -> None:
    result = SmtpChannel(sink.host, sink.port).send(message())
    assert result.status == "sent"
    received = only(sink)
    assert result.provider_ref == received["Message-ID"]
    assert received["Message-ID"].endswith("@respite.local>")
    assert sink.messages[0].rcpt_tos == ("zoe@example.nl",)
    assert sink.messages[0].mail_from == "noreply@incasso.example"


def test_mail_is_multipart_alternative_text_then_html_in_utf8(sink: MailSink) -> None:
    SmtpChannel(sink.host, sink.port).send(message())
    received = only(sink)
    assert received.get_content_type() == "multipart/alternative"
    parts = list(received.iter_parts())
    # RFC 2046 §5.1.4: the richest alternative comes last.
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    assert [p.get_content_charset() for p in parts] == ["utf-8", "utf-8"]
    # On the wire lines end in CRLF (RFC 5321 §2.3.8).
    assert parts[0].get_content().splitlines() == ["Beste Zoë,", "", "We hebben € 12,50 ontvangen."]
    assert "<p>We hebben € 12,50 ontvangen.</p>" in parts[1].get_content()


def test_mail_without_html_is_a_single_text_part(sink: MailSink) -> None:
    SmtpChannel(sink.host, sink.port).send(message(html=None))
    received = only(sink)
    assert received.get_content_type() == "text/plain"
    assert received.get_content_charset() == "utf-8"


def test_headers_are_set_and_non_ascii_is_rfc2047_encoded(sink: MailSink) -> None:
    SmtpChannel(sink.host, sink.port, message_id_domain="mail.incasso.example").send(message())
    raw = sink.messages[0].data
    head = raw.split(b"\r\n\r\n", 1)[0]
    assert head.isascii()  # every non-ASCII header is an encoded-word
    assert b"=?utf-8?" in head
    received = only(sink)
    assert received["From"].addresses[0].display_name == "Incassobureau Zuidoost – Zoë’s team"
    assert received["From"].addresses[0].addr_spec == "noreply@incasso.example"
    assert received["To"] == "zoe@example.nl"
    assert received["Subject"] == "Uw betaling van € 12,50 – bedankt"
    assert received["Reply-To"] == "hulp@incasso.example"
    assert received["Auto-Submitted"] == "auto-generated"
    assert received["X-Respite-Message"] == "42"
    assert received["List-Id"] == "<betalingen.incasso.example>"
    assert received["Message-ID"].endswith("@mail.incasso.example>")
    assert parsedate_to_datetime(received["Date"]).tzinfo is not None


def test_the_eml_file_in_the_sink_folder_is_the_received_message(
    sink: MailSink, tmp_path: Path
) -> None:
    SmtpChannel(sink.host, sink.port).send(message())
    files = sorted((tmp_path / "mail").glob("*.eml"))
    assert [f.name for f in files] == ["000001.eml"]
    parsed = email.message_from_bytes(files[0].read_bytes(), policy=email.policy.default)
    assert parsed["Subject"] == "Uw betaling van € 12,50 – bedankt"


@pytest.mark.parametrize("to", ["not an address", "a@b@c", "", "x@y.nl\r\nBcc: z@q.example"])
def test_a_malformed_address_bounces_without_reaching_the_server(sink: MailSink, to: str) -> None:
    result = SmtpChannel(sink.host, sink.port).send(message(to=to))
    assert (result.status, result.detail) == ("bounced", "invalid address")
    assert sink.messages == []


def test_a_malformed_sender_address_fails(sink: MailSink) -> None:
    result = SmtpChannel(sink.host, sink.port).send(message(sender_email="noreply"))
    assert result.status == "failed"
    assert sink.messages == []


def test_a_header_the_channel_owns_cannot_be_overridden(sink: MailSink) -> None:
    result = SmtpChannel(sink.host, sink.port).send(message(headers={"From": "x@y.example"}))
    assert result.status == "failed"
    assert sink.messages == []


def test_a_header_with_a_line_break_is_refused_not_injected(sink: MailSink) -> None:
    result = SmtpChannel(sink.host, sink.port).send(
        message(headers={"X-Campaign": "a\r\nBcc: victim@example.org"})
    )
    assert result.status == "failed"
    assert sink.messages == []


def test_recipient_refused_with_550_is_a_bounce_without_the_address(sink: MailSink) -> None:
    sink.reject("gone@example.nl")
    result = SmtpChannel(sink.host, sink.port).send(message(to="gone@example.nl"))
    assert result.status == "bounced"
    assert "550" in result.detail
    assert "gone" not in result.detail
    assert sink.messages == []


def test_recipient_refused_with_451_is_retried_later(sink: MailSink) -> None:
    sink.reject("busy@example.nl", temporary=True)
    channel = SmtpChannel(sink.host, sink.port)
    result = channel.send(message(to="busy@example.nl"))
    assert result.status == "retry"
    assert "451" in result.detail
    sink.accept("busy@example.nl")
    assert channel.send(message(to="busy@example.nl")).status == "sent"


def test_login_with_the_right_password_sends(tmp_path: Path) -> None:
    secret = secrets.token_hex(8)
    with MailSink(tmp_path, login=("respite", secret)) as sink:
        channel = SmtpChannel(sink.host, sink.port, username="respite", password=secret)
        assert channel.send(message()).status == "sent"


def test_a_refused_login_is_a_configuration_failure(tmp_path: Path) -> None:
    secret, wrong = secrets.token_hex(8), secrets.token_hex(8)
    with MailSink(tmp_path, login=("respite", secret)) as sink:
        channel = SmtpChannel(sink.host, sink.port, username="respite", password=wrong)
        result = channel.send(message())
        assert result.status == "failed"
        assert "535" in result.detail
        assert wrong not in result.detail
        assert sink.messages == []


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_server_down_is_retried_later() -> None:
    result = SmtpChannel("127.0.0.1", _closed_port(), timeout=2).send(message())
    assert result.status == "retry"
    assert "ConnectionRefused" in result.detail


def test_a_server_that_never_answers_is_a_timeout_to_retry() -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)  # accepts the TCP connection but never greets
    try:
        result = SmtpChannel("127.0.0.1", listener.getsockname()[1], timeout=0.5).send(message())
    finally:
        listener.close()
    assert result.status == "retry"


def test_one_connection_serves_a_batch_and_a_bounce_does_not_break_it(
    sink: MailSink,
) -> None:
    sink.reject("gone@example.nl")
    channel = SmtpChannel(sink.host, sink.port)
    connects = 0
    connect = channel._connect

    def counting() -> object:
        nonlocal connects
        connects += 1
        return connect()

    channel._connect = counting  # type: ignore[method-assign,assignment]
    with channel.session():
        statuses = [
            channel.send(message(to=to, message_id=n)).status
            for n, to in enumerate(["a@example.nl", "gone@example.nl", "b@example.nl"])
        ]
    assert statuses == ["sent", "bounced", "sent"]
    assert connects == 1
    assert [m.rcpt_tos for m in sink.messages] == [("a@example.nl",), ("b@example.nl",)]


def test_a_connection_dropped_between_messages_is_reopened(sink: MailSink) -> None:
    channel = SmtpChannel(sink.host, sink.port)
    with channel.session():
        assert channel.send(message(message_id=1)).status == "sent"
        assert channel._smtp is not None
        assert channel._smtp.sock is not None
        channel._smtp.sock.shutdown(socket.SHUT_RDWR)  # as if the server timed us out
        assert channel.send(message(message_id=2)).status == "sent"
    assert [m.message["X-Respite-Message"] for m in sink.messages] == ["1", "2"]


def test_messages_from_two_threads_reach_the_sink(sink: MailSink) -> None:
    """Separate channels per thread (a channel holds one connection)."""
    results: list[str] = []

    def send(n: int) -> None:
        results.append(SmtpChannel(sink.host, sink.port).send(message(message_id=n)).status)

    threads = [threading.Thread(target=send, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == ["sent"] * 4
    assert sorted(m.message["X-Respite-Message"] for m in sink.messages) == ["0", "1", "2", "3"]
