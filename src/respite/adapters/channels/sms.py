"""SMS through a provider's HTTP API (httpx).

The API (the shape most SMS gateways share; :mod:`.fake_sms` implements it locally)::

    POST {base_url}/v1/messages          Authorization: Bearer <key>
         Idempotency-Key: <reference>
         {"to": "+31612345678", "from": "Respite", "text": "...", "reference": "respite-7"}
      201/202 {"id": "...", "status": "accepted"}
      400/422 {"error": "invalid_number"}            → bounced
      400/422 {"error": "<other>"}                   → failed (the request was wrong)
      401/403                                        → failed (API key: configuration)
      429, 5xx, timeout, connection error            → retry
    GET  {base_url}/v1/messages/{id}
      200 {"status": "queued|accepted|delivered|undeliverable|failed"}

Numbers are checked before sending against E.164 (ITU-T E.164: ``+``, a country code that
does not start with 0, at most 15 digits in all); a strict pattern, not a numbering plan
(``phonenumbers`` is not a dependency). The same ``Idempotency-Key`` on a retry lets the
provider drop a duplicate when an acceptance was lost on the way back. Details never
contain the number or the text.
"""

from __future__ import annotations

import re
from types import TracebackType
from typing import Any
from urllib.parse import quote

import httpx

from respite.adapters.channels.base import DeliveryResult, Outgoing, Status
from respite.errors import InputError

__all__ = ["E164", "SENDER", "SmsHttpChannel", "is_e164"]

E164 = re.compile(r"^\+[1-9]\d{7,14}$")
# An alphanumeric sender ID has at most 11 characters (GSM 03.40); a numeric one is E.164.
SENDER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 .\-]{0,10}$")

_PROVIDER_STATUS: dict[str, Status] = {
    "queued": "sent",
    "accepted": "sent",
    "sent": "sent",
    "delivered": "delivered",
    "undeliverable": "bounced",
    "failed": "failed",
}


def is_e164(number: str) -> bool:
    return bool(E164.match(number))


def _error_code(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, str) else ""


class SmsHttpChannel:
    """The ``sms`` channel. Pass ``client`` to share a connection pool (it is then not
    closed by :meth:`close`)."""

    name = "sms"

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        sender: str = "Respite",
        timeout: float = 10,
        client: httpx.Client | None = None,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise InputError(f"the SMS API URL must start with http(s)://: {base_url!r}")
        if not api_key:
            raise InputError("the SMS API key is empty")
        if not (SENDER.match(sender) or is_e164(sender)):
            raise InputError(
                f"an SMS sender is 1 to 11 letters/digits or an E.164 number: {sender!r}",
                field="sender",
            )
        self.base_url = base_url.rstrip("/")
        self.sender = sender
        self._api_key = api_key
        self._own_client = client is None
        self._client = client if client is not None else httpx.Client(timeout=timeout)
        self._timeout = timeout

    def __repr__(self) -> str:  # no key
        return f"SmsHttpChannel({self.base_url!r}, sender={self.sender!r})"

    def _headers(self, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._api_key}", "Accept": "application/json", **extra}

    def send(self, message: Outgoing) -> DeliveryResult:
        if not is_e164(message.to):
            return DeliveryResult("bounced", detail="invalid number")
        reference = message.reference or f"respite-{message.message_id}"
        payload = {
            "to": message.to,
            "from": self.sender,
            "text": message.text,
            "reference": reference,
        }
        try:
            response = self._client.post(
                f"{self.base_url}/v1/messages",
                json=payload,
                headers=self._headers(**{"Idempotency-Key": reference}),
                timeout=self._timeout,
            )
        except httpx.TimeoutException:
            return DeliveryResult("retry", detail="SMS provider timeout")
        except httpx.TransportError as exc:
            return DeliveryResult("retry", detail=f"SMS provider unreachable: {type(exc).__name__}")
        return self._outcome(response)

    def _outcome(self, response: httpx.Response) -> DeliveryResult:
        code = response.status_code
        if code in (200, 201, 202):
            try:
                body: Any = response.json()
                provider_id = body["id"]
            except (ValueError, KeyError, TypeError):
                # Accepted but unreadable: retrying is safe thanks to the Idempotency-Key.
                return DeliveryResult("retry", detail=f"unreadable provider answer (HTTP {code})")
            return DeliveryResult("sent", provider_ref=str(provider_id))
        if code in (400, 422):
            error = _error_code(response)
            if error == "invalid_number":
                return DeliveryResult("bounced", detail=f"invalid number (HTTP {code})")
            return DeliveryResult(
                "failed",
                detail=f"the provider refused the request: {error or 'no reason'} (HTTP {code})",
            )
        if code in (401, 403):
            return DeliveryResult(
                "failed",
                detail=f"configuration error: the SMS provider refused the API key (HTTP {code})",
            )
        if code == 429 or 500 <= code < 600:
            return DeliveryResult("retry", detail=f"SMS provider busy (HTTP {code})")
        return DeliveryResult("failed", detail=f"unexpected SMS provider answer (HTTP {code})")

    def status(self, provider_ref: str) -> Status | None:
        """The delivery status the provider reports: ``sent`` (still on its way),
        ``delivered``, ``bounced`` (undeliverable) or ``failed``; ``None`` when the provider
        cannot tell now (unknown id, error, timeout)."""
        try:
            response = self._client.get(
                f"{self.base_url}/v1/messages/{quote(provider_ref, safe='')}",
                headers=self._headers(),
                timeout=self._timeout,
            )
        except httpx.HTTPError:
            return None
        if response.status_code != 200:
            return None
        try:
            body: Any = response.json()
            return _PROVIDER_STATUS.get(str(body["status"]))
        except (ValueError, KeyError, TypeError):
            return None

    def close(self) -> None:
        if self._own_client:
            self._client.close()

    def __enter__(self) -> SmsHttpChannel:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
