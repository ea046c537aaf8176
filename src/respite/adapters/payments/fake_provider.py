"""A local fake payment provider implementing the API of :mod:`.http_provider`.

For tests and the demo: ``http.server.ThreadingHTTPServer`` in a daemon thread on
loopback. ``POST /v1/checkouts`` opens a checkout (the same ``Idempotency-Key`` returns the
first one); ``GET /checkout/{id}`` is the hosted page, showing the amount with a *Pay* and a
*Cancel* button (plain HTML forms, no JavaScript). *Pay* posts the signed
``checkout.paid`` webhook to the checkout's ``webhook_url`` (server to server, httpx), then
sends the browser back to its ``return_url`` (303); *Cancel* does the same with
``checkout.cancelled``. A finished checkout is not paid twice: its buttons only send the
browser back. :meth:`FakePaymentProvider.deliver_again` re-sends a checkout's last webhook
(what a real provider does when it is not sure we got it).

Nothing is logged: the amounts and descriptions are a debtor's.
"""

from __future__ import annotations

import html
import json
import re
import secrets
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import urlsplit

import httpx

from respite.adapters.loopback import LoopbackServer
from respite.adapters.payments.base import SIGNATURE_HEADER, signature_header

__all__ = ["DEFAULT_SECRET", "FakePaymentProvider"]

DEFAULT_SECRET = "demo-webhook-secret-change-me"  # noqa: S105 - the demo's default, as WebSettings
_PAGE = re.compile(r"^/checkout/(chk_[A-Za-z0-9]+)(?:/(pay|cancel))?/?$")
_AMOUNT = re.compile(r"^\d{1,9}\.\d{2}$")
_MAX_BODY = 64 * 1024


def _is_http_url(value: object) -> bool:
    if not isinstance(value, str):
        return False
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


class FakePaymentProvider(LoopbackServer):
    """``webhook_secret`` signs the webhooks (the portal's ``payment_webhook_secret``);
    ``api_key``, when set, must come as a bearer token; ``now`` gives the signing time (a
    test with a fixed clock passes the same clock here)."""

    name = "fake"

    label = "the fake payment provider"

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        webhook_secret: str = DEFAULT_SECRET,
        api_key: str | None = None,
        now: Callable[[], datetime] | None = None,
        webhook_timeout: float = 10,
        webhook_attempts: int = 3,
    ) -> None:
        if not webhook_secret:
            raise ValueError("the fake provider needs a webhook secret")
        super().__init__(host, port)
        self.webhook_secret = webhook_secret
        self.api_key = api_key
        self._now = now or (lambda: datetime.now(UTC))
        self.webhook_timeout = webhook_timeout
        self.webhook_attempts = max(1, webhook_attempts)
        self._lock = threading.Lock()
        self._checkouts: dict[str, dict[str, Any]] = {}
        self._by_key: dict[str, str] = {}
        self._deliveries: list[dict[str, Any]] = []

    # -- lifecycle ----------------------------------------------------------------------

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        return _handler_for(self)

    # -- what tests look at ---------------------------------------------------------------

    @property
    def checkouts(self) -> list[dict[str, Any]]:
        """Every checkout, oldest first (copies): id, amount, currency, status, urls."""
        with self._lock:
            return [dict(c) for c in self._checkouts.values()]

    @property
    def deliveries(self) -> list[dict[str, Any]]:
        """Every webhook sent: checkout, type, and the HTTP status (or the error)."""
        with self._lock:
            return [dict(d) for d in self._deliveries]

    def pay(self, checkout_id: str) -> str:
        """What the *Pay* button does; returns the URL the browser is sent back to."""
        return self._finish(checkout_id, "paid")

    def cancel(self, checkout_id: str) -> str:
        """What the *Cancel* button does; returns the URL the browser is sent back to."""
        return self._finish(checkout_id, "cancelled")

    def deliver_again(self, checkout_id: str) -> int | None:
        """Send a finished checkout's webhook once more; the answer's status (None: none)."""
        with self._lock:
            checkout = dict(self._checkouts[checkout_id])
        if checkout["status"] == "open":
            raise RuntimeError(f"checkout {checkout_id} is not finished")
        return self._deliver(checkout)

    # -- the API ------------------------------------------------------------------------

    def _create(self, headers: Any, raw: bytes) -> tuple[int, dict[str, Any]]:
        try:
            body = json.loads(raw)
        except ValueError:
            return 400, {"error": "invalid_json"}
        if not isinstance(body, dict):
            return 400, {"error": "invalid_json"}
        amount = body.get("amount")
        if not isinstance(amount, str) or not _AMOUNT.match(amount) or Decimal(amount) <= 0:
            return 422, {"error": "invalid_field", "field": "amount"}
        currency = body.get("currency")
        if not isinstance(currency, str) or not re.fullmatch(r"[A-Z]{3}", currency):
            return 422, {"error": "invalid_field", "field": "currency"}
        for name in ("return_url", "webhook_url"):
            if not _is_http_url(body.get(name)):
                return 422, {"error": "invalid_field", "field": name}
        description = body.get("description", "")
        metadata = body.get("metadata", {})
        if not isinstance(description, str) or len(description) > 200:
            return 422, {"error": "invalid_field", "field": "description"}
        if not isinstance(metadata, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()
        ):
            return 422, {"error": "invalid_field", "field": "metadata"}
        key = headers.get("Idempotency-Key") or ""
        with self._lock:
            if key and key in self._by_key:
                first = self._checkouts[self._by_key[key]]
                return 200, {"id": first["id"], "redirect_url": first["redirect_url"]}
            # Random ids: a restarted provider must not hand out an id the portal knows.
            checkout_id = f"chk_{secrets.token_hex(8)}"
            checkout = {
                "id": checkout_id,
                "amount": amount,
                "currency": currency,
                "description": description,
                "return_url": body["return_url"],
                "webhook_url": body["webhook_url"],
                "metadata": dict(metadata),
                "status": "open",
                "redirect_url": f"{self.url}/checkout/{checkout_id}",
            }
            self._checkouts[checkout_id] = checkout
            if key:
                self._by_key[key] = checkout_id
        return 201, {"id": checkout_id, "redirect_url": checkout["redirect_url"]}

    def _finish(self, checkout_id: str, status: str) -> str:
        with self._lock:
            checkout = self._checkouts.get(checkout_id)
            if checkout is None:
                raise KeyError(checkout_id)
            first_time = checkout["status"] == "open"
            if first_time:
                checkout["status"] = status
            snapshot = dict(checkout)
        if first_time:
            self._deliver(snapshot)
        return str(snapshot["return_url"])

    def _deliver(self, checkout: dict[str, Any]) -> int | None:
        event = {
            "type": f"checkout.{checkout['status']}",
            "checkout": checkout["id"],
            "amount": checkout["amount"],
            "currency": checkout["currency"],
            "metadata": checkout["metadata"],
        }
        body = json.dumps(event, separators=(",", ":")).encode("utf-8")
        status: int | None = None
        error = ""
        for attempt in range(self.webhook_attempts):
            headers = {
                "Content-Type": "application/json",
                SIGNATURE_HEADER: signature_header(self.webhook_secret, body, self._now()),
            }
            try:
                response = httpx.post(
                    checkout["webhook_url"],
                    content=body,
                    headers=headers,
                    timeout=self.webhook_timeout,
                )
            except httpx.HTTPError as exc:
                status, error = None, type(exc).__name__
            else:
                status, error = response.status_code, ""
                if status < 500:
                    break
            if attempt + 1 < self.webhook_attempts:
                time.sleep(0.2 * (attempt + 1))
        with self._lock:
            self._deliveries.append(
                {
                    "checkout": checkout["id"],
                    "type": event["type"],
                    "status": status,
                    "error": error,
                }
            )
        return status

    def _page(self, checkout_id: str) -> tuple[int, str]:
        with self._lock:
            checkout = self._checkouts.get(checkout_id)
            checkout = dict(checkout) if checkout is not None else None
        if checkout is None:
            return 404, _html("Unknown payment", "<h1>Unknown payment</h1><p>No such checkout.</p>")
        amount = html.escape(f"{checkout['currency']} {checkout['amount']}")
        description = html.escape(checkout["description"])
        back = html.escape(checkout["return_url"], quote=True)
        if checkout["status"] != "open":
            body = (
                f"<h1>This payment is {html.escape(checkout['status'])}</h1>"
                f'<p><a href="{back}">Back to the shop</a></p>'
            )
            return 200, _html("Payment finished", body)
        body = (
            f"<h1>Pay {amount}</h1>"
            f'<dl><dt>Amount</dt><dd id="amount">{amount}</dd>'
            f"<dt>For</dt><dd>{description}</dd></dl>"
            f'<form method="post" action="/checkout/{checkout_id}/pay">'
            f'<button type="submit">Pay {amount}</button></form>'
            f'<form method="post" action="/checkout/{checkout_id}/cancel">'
            '<button type="submit" class="secondary">Cancel</button></form>'
        )
        return 200, _html(f"Pay {amount}", body)


_STYLE = (
    "body{font-family:system-ui,sans-serif;margin:0;color:#1a1a1a;background:#fff;"
    "line-height:1.5}header{background:#16325c;color:#fff;padding:.75rem 1rem}"
    "header p{margin:0;font-weight:700}main{padding:1rem;max-width:32rem}"
    "dt{font-weight:700}dd{margin:0 0 .5rem}form{margin:0 0 .75rem}"
    "button{min-height:44px;min-width:44px;padding:.6rem 1.2rem;font-size:1.1rem;"
    "border:2px solid #16325c;background:#16325c;color:#fff;border-radius:6px;cursor:pointer}"
    "button.secondary{background:#fff;color:#16325c}"
    "button:focus-visible,a:focus-visible{outline:3px solid #b35c00;outline-offset:2px}"
    "a{color:#16325c}"
)


def _html(title: str, body: str) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)} · FakePay</title><style>{_STYLE}</style></head>"
        "<body><header><p>FakePay · test payment provider</p></header>"
        f"<main>{body}</main></body></html>"
    )


def _handler_for(provider: FakePaymentProvider) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # quiet: debtors' amounts
            return

        def _send(self, status: int, data: bytes, content_type: str, **extra: str) -> None:
            try:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Cache-Control", "no-store")
                for key, value in extra.items():
                    self.send_header(key.replace("_", "-"), value)
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True

        def _json(self, status: int, body: dict[str, Any]) -> None:
            self._send(status, json.dumps(body).encode("utf-8"), "application/json")

        def _read(self) -> bytes | None:
            length = int(self.headers.get("Content-Length") or 0)
            if length > _MAX_BODY:
                self.close_connection = True
                self._json(413, {"error": "too_large"})
                return None
            return self.rfile.read(length)

        def do_POST(self) -> None:
            raw = self._read()
            if raw is None:
                return
            if self.path == "/v1/checkouts":
                if provider.api_key and (
                    self.headers.get("Authorization") != f"Bearer {provider.api_key}"
                ):
                    self._json(401, {"error": "unauthorized"})
                    return
                self._json(*provider._create(self.headers, raw))
                return
            match = _PAGE.match(self.path)
            if match is None or match.group(2) is None:
                self._json(404, {"error": "not_found"})
                return
            try:
                if match.group(2) == "pay":
                    back = provider.pay(match.group(1))
                else:
                    back = provider.cancel(match.group(1))
            except KeyError:
                self._json(404, {"error": "not_found"})
                return
            self._send(303, b"", "text/plain", Location=back)

        def do_GET(self) -> None:
            match = _PAGE.match(self.path)
            if match is None or match.group(2) is not None:
                self._json(404, {"error": "not_found"})
                return
            status, page = provider._page(match.group(1))
            self._send(status, page.encode("utf-8"), "text/html; charset=utf-8")

    return Handler
