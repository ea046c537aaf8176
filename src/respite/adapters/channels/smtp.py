"""E-mail over SMTP (stdlib ``smtplib`` + ``email.message.EmailMessage``).

The message is ``multipart/alternative`` (RFC 2046 §5.1.4: the plain text part first, the
HTML part last, both UTF-8) or a single ``text/plain`` part when there is no HTML. Headers
are encoded by the ``email`` package (RFC 2047 for non-ASCII display names and subjects);
``Auto-Submitted: auto-generated`` (RFC 3834) keeps auto-responders from answering, and
``X-Respite-Message`` carries only the outbox id, never personal data.

Outcomes (the contract in :mod:`.base`): accepted → ``sent`` (``provider_ref`` = the
Message-ID); the recipient refused with 5xx → ``bounced``; any 4xx, a dropped connection,
a refused connection or a timeout → ``retry``; any other 5xx, a refused login or a TLS
problem → ``failed``. Details carry the reply code (and the enhanced status code, RFC
3463) but never the server's text, which often repeats the address.

One connection serves a batch: inside ``with channel.session():`` the connection is opened
on the first message and kept until the block ends; outside a session each ``send`` opens
and closes its own. A connection the server dropped between messages is reopened once.
"""

from __future__ import annotations

import re
import smtplib
import ssl as ssl_module
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from email.errors import MessageError
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from types import TracebackType

from respite.adapters.channels.base import DeliveryResult, Outgoing
from respite.errors import InputError

__all__ = ["SmtpChannel", "build_message"]

# Headers the channel sets itself; Outgoing.headers may replace only the custom ones.
_OWN_HEADERS = frozenset(
    {"from", "to", "cc", "bcc", "subject", "date", "message-id", "mime-version", "content-type"}
    | {"content-transfer-encoding", "reply-to", "sender", "return-path"}
)
_ENHANCED = re.compile(rb"^\s*([245]\.\d{1,3}\.\d{1,3})\b")


def build_message(message: Outgoing, *, message_id_domain: str = "respite.local") -> EmailMessage:
    """The MIME message for ``message`` (raises ``ValueError`` on a malformed address or a
    header value with a line break)."""
    msg = EmailMessage()
    msg["From"] = Address(display_name=message.sender_name, addr_spec=message.sender_email)
    msg["To"] = Address(addr_spec=message.to)
    msg["Subject"] = message.subject or ""
    msg["Date"] = format_datetime(datetime.now(UTC))
    msg["Message-ID"] = make_msgid(
        idstring=f"respite.{message.message_id}", domain=message_id_domain
    )
    if message.reply_to:
        msg["Reply-To"] = Address(addr_spec=message.reply_to)
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Respite-Message"] = str(message.message_id)
    for name, value in message.headers.items():
        if name.lower() in _OWN_HEADERS:
            raise ValueError(f"header {name} is set by the channel, not by Outgoing.headers")
        del msg[name]
        msg[name] = value
    # quoted-printable: 7-bit safe through any relay, still readable in the raw message.
    msg.set_content(message.text, subtype="plain", charset="utf-8", cte="quoted-printable")
    if message.html:
        msg.add_alternative(message.html, subtype="html", charset="utf-8", cte="quoted-printable")
    return msg


def _code(code: int, text: bytes | str) -> str:
    """``550 5.1.1``: the reply code and the enhanced status code, without the text."""
    match = _ENHANCED.match(text if isinstance(text, bytes) else text.encode("utf-8", "replace"))
    return f"{code} {match.group(1).decode()}" if match else str(code)


def _by_code(code: int, what: str, detail: str) -> DeliveryResult:
    if 400 <= code < 500:
        return DeliveryResult("retry", detail=f"{what}: {detail} (temporary)")
    return DeliveryResult("failed", detail=f"{what}: {detail}")


class SmtpChannel:
    """The ``email`` channel: one SMTP server (a relay or the provider's submission port)."""

    name = "email"

    def __init__(
        self,
        host: str,
        port: int,
        *,
        starttls: bool = False,
        ssl: bool = False,
        username: str | None = None,
        password: str | None = None,
        timeout: float = 10,
        local_hostname: str | None = None,
        message_id_domain: str = "respite.local",
        ssl_context: ssl_module.SSLContext | None = None,
    ) -> None:
        if starttls and ssl:
            raise InputError("choose STARTTLS or implicit TLS (ssl), not both", field="smtp")
        if (username is None) != (password is None):
            raise InputError("give both an SMTP user name and a password, or neither")
        self.host = host
        self.port = port
        self.starttls = starttls
        self.ssl = ssl
        self.username = username
        self._password = password
        self.timeout = timeout
        self.local_hostname = local_hostname
        self.message_id_domain = message_id_domain
        self._ssl_context = ssl_context
        self._smtp: smtplib.SMTP | None = None
        self._sessions = 0

    def __repr__(self) -> str:  # no password
        return (
            f"SmtpChannel({self.host!r}, {self.port!r}, starttls={self.starttls}, ssl={self.ssl})"
        )

    # -- connection ---------------------------------------------------------------------

    def _context(self) -> ssl_module.SSLContext:
        if self._ssl_context is None:
            self._ssl_context = ssl_module.create_default_context()
        return self._ssl_context

    def _connect(self) -> smtplib.SMTP:
        smtp: smtplib.SMTP
        if self.ssl:
            smtp = smtplib.SMTP_SSL(
                self.host,
                self.port,
                local_hostname=self.local_hostname,
                timeout=self.timeout,
                context=self._context(),
            )
        else:
            smtp = smtplib.SMTP(
                self.host, self.port, local_hostname=self.local_hostname, timeout=self.timeout
            )
        try:
            smtp.ehlo()
            if self.starttls:
                smtp.starttls(context=self._context())
                smtp.ehlo()
            if self.username is not None and self._password is not None:
                smtp.login(self.username, self._password)
        except BaseException:
            smtp.close()
            raise
        return smtp

    def close(self) -> None:
        """Say QUIT and close the connection, if one is open."""
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            smtp.close()

    @contextmanager
    def session(self) -> Iterator[SmtpChannel]:
        """Keep one connection open for every ``send`` inside the block."""
        with self:
            yield self

    def __enter__(self) -> SmtpChannel:
        self._sessions += 1
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._sessions -= 1
        if self._sessions == 0:
            self.close()

    # -- sending ------------------------------------------------------------------------

    def send(self, message: Outgoing) -> DeliveryResult:
        try:
            Address(addr_spec=message.to)
        except (ValueError, IndexError, MessageError):
            # Not an address at all: as final as a 550 for the recipient.
            return DeliveryResult("bounced", detail="invalid address")
        try:
            msg = build_message(message, message_id_domain=self.message_id_domain)
        except (ValueError, TypeError, IndexError, MessageError) as exc:
            # A malformed address or header: permanent, and the service's to fix.
            return DeliveryResult("failed", detail=f"malformed message: {type(exc).__name__}")
        try:
            return self._deliver(msg, message)
        finally:
            if self._sessions == 0:
                self.close()

    def _deliver(self, msg: EmailMessage, message: Outgoing) -> DeliveryResult:
        reused = self._smtp is not None
        try:
            if self._smtp is None:
                self._smtp = self._connect()
            try:
                self._smtp.send_message(msg, from_addr=message.sender_email, to_addrs=[message.to])
            except smtplib.SMTPServerDisconnected:
                self._drop()
                if not reused:
                    raise
                # The server closed an idle connection between two messages: once more.
                self._smtp = self._connect()
                self._smtp.send_message(msg, from_addr=message.sender_email, to_addrs=[message.to])
        except smtplib.SMTPRecipientsRefused as exc:
            code, text = next(iter(exc.recipients.values()))
            if 500 <= code < 600:
                return DeliveryResult("bounced", detail=f"recipient refused: {_code(code, text)}")
            return _by_code(code, "recipient refused", _code(code, text))
        except smtplib.SMTPAuthenticationError as exc:
            self._drop()
            return DeliveryResult(
                "failed",
                detail=f"SMTP login refused: {_code(exc.smtp_code, exc.smtp_error)} (check user name/password)",
            )
        except smtplib.SMTPSenderRefused as exc:
            return _by_code(exc.smtp_code, "sender refused", _code(exc.smtp_code, exc.smtp_error))
        except smtplib.SMTPDataError as exc:
            return _by_code(exc.smtp_code, "message refused", _code(exc.smtp_code, exc.smtp_error))
        except smtplib.SMTPResponseException as exc:  # HELO, STARTTLS, other commands
            self._drop()
            return _by_code(
                exc.smtp_code, "SMTP server refused", _code(exc.smtp_code, exc.smtp_error)
            )
        except smtplib.SMTPNotSupportedError:
            self._drop()
            return DeliveryResult(
                "failed", detail="the SMTP server does not offer STARTTLS or AUTH as configured"
            )
        except ssl_module.SSLError as exc:
            self._drop()
            return DeliveryResult("failed", detail=f"TLS error: {type(exc).__name__}")
        except smtplib.SMTPServerDisconnected as exc:
            self._drop()
            return DeliveryResult("retry", detail=f"SMTP connection lost: {type(exc).__name__}")
        except TimeoutError:
            self._drop()
            return DeliveryResult("retry", detail="SMTP timeout")
        except OSError as exc:  # refused, unreachable, DNS
            self._drop()
            return DeliveryResult("retry", detail=f"SMTP connection failed: {type(exc).__name__}")
        except smtplib.SMTPException as exc:
            self._drop()
            return DeliveryResult("retry", detail=f"SMTP error: {type(exc).__name__}")
        return DeliveryResult("sent", provider_ref=str(msg["Message-ID"]))

    def _drop(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            with suppress(OSError):
                smtp.close()
