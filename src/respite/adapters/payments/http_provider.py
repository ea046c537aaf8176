"""A payment provider over HTTP (httpx): the API the portal speaks.

The API (:mod:`.fake_provider` implements it locally for tests and the demo)::

    POST {base_url}/v1/checkouts        Authorization: Bearer <key>   (when a key is set)
         Idempotency-Key: <our checkout token>
         {"amount": "12.34", "currency": "EUR", "description": "...",
          "return_url": "https://portal/payments/<token>",
          "webhook_url": "https://portal/webhooks/payments",
          "metadata": {"token": "...", "reference": "R000000042"}}
      200/201 {"id": "chk_...", "redirect_url": "https://provider/checkout/chk_..."}
      anything else, a timeout, a connection error  → ProviderUnavailable

    The provider later posts to webhook_url, signed (see :mod:`.base`):
         {"type": "checkout.paid" | "checkout.cancelled", "checkout": "chk_...",
          "amount": "12.34", "currency": "EUR", "metadata": {...}}

The same ``Idempotency-Key`` on a retry lets the provider return the first checkout
instead of opening a second one. Amounts travel as strings with two decimals, never as
JSON numbers (floats).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import httpx

from respite.adapters.payments.base import Checkout, ProviderUnavailable
from respite.domain.money import Money
from respite.errors import InputError

__all__ = ["HttpPaymentProvider"]


def _http_url(value: str, what: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ProviderUnavailable(f"the payment provider gave an unusable {what}")
    return value


class HttpPaymentProvider:
    """Pass ``client`` to share a connection pool (it is then not closed by :meth:`close`)."""

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        name: str | None = None,
        timeout: float = 10,
        client: httpx.Client | None = None,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise InputError(
                f"the payment provider URL must start with http(s)://: {base_url!r}",
                field="RESPITE_PAYMENT_PROVIDER_URL",
            )
        self.base_url = base_url.rstrip("/")
        # Recorded with each checkout (and in the timeline's actor): the provider's host.
        self._name = (name or urlsplit(base_url).hostname or "provider")[:40]
        self._api_key = api_key
        self._own_client = client is None
        self._client = client if client is not None else httpx.Client(timeout=timeout)

    def __repr__(self) -> str:  # never the key
        return f"HttpPaymentProvider({self.base_url!r})"

    @property
    def name(self) -> str:
        return self._name

    def create_checkout(
        self,
        *,
        amount: Money,
        description: str,
        return_url: str,
        webhook_url: str,
        metadata: Mapping[str, str],
        idempotency_key: str,
    ) -> Checkout:
        headers = {"Idempotency-Key": idempotency_key}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        body = {
            "amount": f"{amount.amount:.2f}",
            "currency": amount.currency.code,
            "description": description,
            "return_url": return_url,
            "webhook_url": webhook_url,
            "metadata": dict(metadata),
        }
        try:
            response = self._client.post(
                f"{self.base_url}/v1/checkouts", json=body, headers=headers
            )
        except httpx.TimeoutException:
            raise ProviderUnavailable("the payment provider did not answer in time") from None
        except httpx.HTTPError as exc:
            raise ProviderUnavailable(
                f"the payment provider cannot be reached ({type(exc).__name__})"
            ) from None
        if response.status_code not in (200, 201):
            raise ProviderUnavailable(
                f"the payment provider refused the checkout (HTTP {response.status_code})"
            )
        try:
            data: Any = response.json()
            provider_ref = data["id"]
            redirect_url = data["redirect_url"]
        except (ValueError, KeyError, TypeError):
            raise ProviderUnavailable("the payment provider's answer is not understood") from None
        if not isinstance(provider_ref, str) or not 0 < len(provider_ref) <= 100:
            raise ProviderUnavailable("the payment provider gave an unusable checkout id")
        if not isinstance(redirect_url, str):
            raise ProviderUnavailable("the payment provider gave an unusable redirect URL")
        return Checkout(provider_ref, _http_url(redirect_url, "redirect URL"))

    def close(self) -> None:
        if self._own_client:
            self._client.close()

    def __enter__(self) -> HttpPaymentProvider:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
