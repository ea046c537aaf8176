"""A local fake of the SMS provider API that :mod:`.sms` talks to, for tests and the demo.

It runs ``http.server.ThreadingHTTPServer`` in a daemon thread on loopback and implements
exactly the API described in :mod:`.sms`: bearer-key check, JSON validation, ids, the
``Idempotency-Key`` (a repeated key returns the first message), and status polling. It can
be told to misbehave: numbers that are ``invalid_number`` (refused at once) or
``undeliverable`` (accepted, then reported undeliverable), the next N posts answered with
503, and a delay before every answer (for timeouts). Accepted messages are kept in memory
and, when ``log_path`` is given, appended as JSON lines so a person can read what was sent.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

from respite.adapters.loopback import LoopbackServer

__all__ = ["FakeSmsProvider"]

_E164 = re.compile(r"^\+[1-9]\d{7,14}$")
_MESSAGE_PATH = re.compile(r"^/v1/messages/([A-Za-z0-9_\-]+)$")
_MAX_BODY = 64 * 1024


class FakeSmsProvider(LoopbackServer):
    """``deliver_after_polls``: a message reports ``accepted`` for that many status polls,
    then ``delivered`` (0: delivered on the first poll). ``fail_next``: the next N POSTs
    answer 503 (an attribute; set it again at any time). ``delay``: seconds to wait before
    every answer."""

    label = "the fake SMS provider"

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        api_key: str = "test-key",
        *,
        deliver_after_polls: int = 0,
        invalid_numbers: Iterable[str] = (),
        undeliverable_numbers: Iterable[str] = (),
        fail_next: int = 0,
        delay: float = 0.0,
        log_path: Path | str | None = None,
    ) -> None:
        super().__init__(host, port)
        self.api_key = api_key
        self.deliver_after_polls = deliver_after_polls
        self.invalid_numbers = set(invalid_numbers)
        self.undeliverable_numbers = set(undeliverable_numbers)
        self.fail_next = fail_next
        self.delay = delay
        self.log_path = Path(log_path) if log_path is not None else None
        self.requests = 0  # every request answered, including refusals
        self._lock = threading.Lock()
        self._messages: dict[str, dict[str, Any]] = {}
        self._by_key: dict[str, str] = {}

    # -- lifecycle ----------------------------------------------------------------------

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        return _handler_for(self)

    @property
    def messages(self) -> list[dict[str, Any]]:
        """Accepted messages, oldest first (copies): id, to, from, text, reference, status."""
        with self._lock:
            return [dict(m) for m in self._messages.values()]

    # -- the API ------------------------------------------------------------------------

    def _post(self, headers: Any, raw: bytes) -> tuple[int, dict[str, Any]]:
        with self._lock:
            if self.fail_next > 0:
                self.fail_next -= 1
                return 503, {"error": "unavailable"}
        try:
            body = json.loads(raw)
        except ValueError:
            return 400, {"error": "invalid_json"}
        if not isinstance(body, dict):
            return 400, {"error": "invalid_json"}
        for name in ("to", "from", "text"):
            if not isinstance(body.get(name), str) or not body[name]:
                return 422, {"error": "missing_field", "field": name}
        reference = body.get("reference", "")
        if not isinstance(reference, str):
            return 422, {"error": "invalid_field", "field": "reference"}
        to = body["to"]
        if not _E164.match(to) or to in self.invalid_numbers:
            return 400, {"error": "invalid_number"}
        key = headers.get("Idempotency-Key") or ""
        with self._lock:
            if key and key in self._by_key:
                return 200, {"id": self._by_key[key], "status": "accepted"}
            message_id = f"sms_{len(self._messages) + 1:06d}"
            message = {
                "id": message_id,
                "to": to,
                "from": body["from"],
                "text": body["text"],
                "reference": reference,
                "status": "accepted",
                "polls": 0,
            }
            self._messages[message_id] = message
            if key:
                self._by_key[key] = message_id
            if self.log_path is not None:
                self.log_path.parent.mkdir(parents=True, exist_ok=True)
                with self.log_path.open("a", encoding="utf-8") as fh:
                    record = {k: v for k, v in message.items() if k != "polls"}
                    fh.write(json.dumps(record, ensure_ascii=False) + "\n")
        return 201, {"id": message_id, "status": "accepted"}

    def _get(self, message_id: str) -> tuple[int, dict[str, Any]]:
        with self._lock:
            message = self._messages.get(message_id)
            if message is None:
                return 404, {"error": "not_found"}
            message["polls"] += 1
            if message["polls"] > self.deliver_after_polls:
                message["status"] = (
                    "undeliverable" if message["to"] in self.undeliverable_numbers else "delivered"
                )
            return 200, {"id": message_id, "status": message["status"]}


def _handler_for(provider: FakeSmsProvider) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # quiet: no numbers in logs
            return

        def _answer(self, status: int, body: dict[str, Any]) -> None:
            if provider.delay:
                time.sleep(provider.delay)
            with provider._lock:
                provider.requests += 1
            data = json.dumps(body).encode("utf-8")
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout)
                self.close_connection = True

        def _authorised(self) -> bool:
            if self.headers.get("Authorization") == f"Bearer {provider.api_key}":
                return True
            self._answer(401, {"error": "unauthorized"})
            return False

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length > _MAX_BODY:
                self.close_connection = True
                self._answer(413, {"error": "too_large"})
                return
            raw = self.rfile.read(length)
            if self.path != "/v1/messages":
                self._answer(404, {"error": "not_found"})
                return
            if not self._authorised():
                return
            self._answer(*provider._post(self.headers, raw))

        def do_GET(self) -> None:
            match = _MESSAGE_PATH.match(self.path)
            if match is None:
                self._answer(404, {"error": "not_found"})
                return
            if not self._authorised():
                return
            self._answer(*provider._get(match.group(1)))

    return Handler
