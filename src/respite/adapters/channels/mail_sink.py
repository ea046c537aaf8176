"""A local SMTP sink (aiosmtpd) for the demo and the tests: it accepts mail on loopback and
keeps every message as an ``.eml`` file that any mail program opens.

It never relays anything. Recipients can be refused on purpose, to show what a bounce
(``550 5.1.1``) or a temporary refusal (``451 4.3.0``) does to delivery::

    with MailSink(folder) as sink:
        channel = SmtpChannel(sink.host, sink.port)
        ...
        sink.messages[0].message["Subject"]
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from types import TracebackType
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

__all__ = ["MailSink", "ReceivedMail"]

REJECT_PERMANENT = "550 5.1.1 Mailbox unavailable"
REJECT_TEMPORARY = "451 4.3.0 Mailbox temporarily unavailable, try again later"


@dataclass(frozen=True, slots=True)
class ReceivedMail:
    """One message as the sink received it (``data``: the raw bytes of the DATA phase)."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes
    path: Path | None

    @property
    def message(self) -> EmailMessage:
        parsed = email.message_from_bytes(self.data, policy=email.policy.default)
        if not isinstance(parsed, EmailMessage):  # pragma: no cover - the default policy
            raise TypeError("expected an EmailMessage")
        return parsed


class _Handler:
    def __init__(self, sink: MailSink) -> None:
        self.sink = sink

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        refusal = self.sink._refusal(address)
        if refusal is not None:
            return refusal
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        data = envelope.original_content or envelope.content
        if isinstance(data, str):  # pragma: no cover - decode_data is off
            data = data.encode("utf-8")
        self.sink._store(str(envelope.mail_from), tuple(envelope.rcpt_tos), bytes(data))
        return "250 2.0.0 Message accepted"


class _LoopbackController(Controller):
    """aiosmtpd's Controller, bound to an ephemeral port (port 0 → the port the OS chose)."""

    def _create_server(self) -> Any:
        async def create() -> asyncio.AbstractServer:
            server = await self.loop.create_server(
                self._factory_invoker, host=self.hostname, port=self.port
            )
            self.port = server.sockets[0].getsockname()[1]
            return server

        return create()


class MailSink:
    """An SMTP server on ``host``:``port`` that stores what it receives in ``folder``.

    ``reject_permanent`` / ``reject_temporary``: recipient addresses answered with 550 /
    451 at RCPT (case-insensitive); change them later with :meth:`reject` and
    :meth:`accept`. ``folder=None`` keeps the messages in memory only. ``login``: a
    (user, password) pair the sink accepts for AUTH PLAIN/LOGIN — without TLS, which is
    acceptable on loopback only; a client that does not log in is still served.
    """

    def __init__(
        self,
        folder: Path | str | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        reject_permanent: Iterable[str] = (),
        reject_temporary: Iterable[str] = (),
        login: tuple[str, str] | None = None,
    ) -> None:
        self.folder = Path(folder) if folder is not None else None
        self._host = host
        self._port = port
        self._lock = threading.Lock()
        self._messages: list[ReceivedMail] = []
        self._rejects: dict[str, str] = {}
        for address in reject_permanent:
            self.reject(address)
        for address in reject_temporary:
            self.reject(address, temporary=True)
        self._controller: _LoopbackController | None = None
        self._login = login

    # -- control ------------------------------------------------------------------------

    def reject(self, address: str, *, temporary: bool = False) -> None:
        """Refuse ``address`` from now on: 451 when ``temporary``, else 550."""
        with self._lock:
            self._rejects[address.lower()] = REJECT_TEMPORARY if temporary else REJECT_PERMANENT

    def accept(self, address: str) -> None:
        """Accept ``address`` again."""
        with self._lock:
            self._rejects.pop(address.lower(), None)

    def start(self) -> MailSink:
        if self._controller is not None:
            raise RuntimeError("the mail sink is already running")
        if self.folder is not None:
            self.folder.mkdir(parents=True, exist_ok=True)
            with self._lock:
                self._sequence = len(list(self.folder.glob("*.eml")))
        auth: dict[str, Any] = {}
        if self._login is not None:
            auth = {"authenticator": self._authenticate, "auth_require_tls": False}
        controller = _LoopbackController(
            _Handler(self), hostname=self._host, port=self._port, ready_timeout=10, **auth
        )
        controller.start()
        self._controller = controller
        return self

    def stop(self) -> None:
        controller, self._controller = self._controller, None
        if controller is not None:
            controller.stop()

    def __enter__(self) -> MailSink:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- what the tests and the demo read -----------------------------------------------

    @property
    def host(self) -> str:
        return self._host

    @property
    def port(self) -> int:
        if self._controller is None:
            raise RuntimeError("the mail sink is not running")
        return int(self._controller.port)

    @property
    def messages(self) -> list[ReceivedMail]:
        """Every message received since start, oldest first (a copy)."""
        with self._lock:
            return list(self._messages)

    # -- called from the server thread --------------------------------------------------

    _sequence = 0

    def _authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        ok = (
            self._login is not None
            and isinstance(auth_data, LoginPassword)
            and auth_data.login.decode() == self._login[0]
            and auth_data.password.decode() == self._login[1]
        )
        return AuthResult(success=ok, handled=False)

    def _refusal(self, address: str) -> str | None:
        with self._lock:
            return self._rejects.get(address.lower())

    def _store(self, mail_from: str, rcpt_tos: tuple[str, ...], data: bytes) -> None:
        with self._lock:
            self._sequence += 1
            path = None
            if self.folder is not None:
                path = self.folder / f"{self._sequence:06d}.eml"
                tmp = path.with_suffix(".eml.tmp")
                tmp.write_bytes(data)
                tmp.replace(path)
            self._messages.append(ReceivedMail(mail_from, rcpt_tos, data, path))
