"""The payment provider port, and how its webhooks are signed.

A provider hosts the page where the debtor pays (card, iDEAL, Bancontact, BLIK …). The
portal asks it for a *checkout* (amount, where to send the browser back, where to post the
result) and sends the browser to the checkout's ``redirect_url``. The provider then tells
us the outcome server to server: a webhook, signed with a secret both sides know.

Signature scheme (the shape Stripe and most providers use)::

    Respite-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>

The timestamp is part of what is signed, so an old webhook cannot be replayed with a fresh
time; a webhook older (or newer) than ``TOLERANCE`` is refused; the comparison is constant
time (:func:`hmac.compare_digest`). Several ``v1=`` values may be given (a provider rolling
its secret signs with both); one match is enough.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from respite.domain.money import Money
from respite.errors import NotAllowed, RespiteError

__all__ = [
    "SIGNATURE_HEADER",
    "TOLERANCE",
    "BadSignature",
    "Checkout",
    "PaymentProvider",
    "ProviderUnavailable",
    "sign",
    "signature_header",
    "verify",
]

SIGNATURE_HEADER = "Respite-Signature"
TOLERANCE = timedelta(minutes=5)
_MAX_HEADER = 1024


class BadSignature(NotAllowed):
    """A webhook whose signature is missing, malformed, wrong or too old: nothing happens."""


class ProviderUnavailable(RespiteError):
    """The provider could not be reached or refused the checkout; the payment did not start."""


@dataclass(frozen=True, slots=True)
class Checkout:
    """What the provider answered: its id for the checkout and where to send the browser."""

    provider_ref: str
    redirect_url: str


class PaymentProvider(Protocol):
    """A payment provider: creates hosted checkouts; tells the outcome by signed webhook."""

    @property
    def name(self) -> str: ...

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
        """Start a checkout for ``amount``; :class:`ProviderUnavailable` when it cannot."""
        ...


def _unix(at: datetime | int) -> int:
    return at if isinstance(at, int) else int(at.timestamp())


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The hex HMAC-SHA256 of ``"<timestamp>." + body`` under ``secret``."""
    if not secret:
        raise ValueError("the webhook secret is empty")
    message = str(int(timestamp)).encode("ascii") + b"." + body
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def signature_header(secret: str, body: bytes, at: datetime | int) -> str:
    """The ``Respite-Signature`` header value for ``body`` sent at ``at``."""
    timestamp = _unix(at)
    return f"t={timestamp},v1={sign(secret, timestamp, body)}"


def verify(
    secret: str,
    header: str | None,
    body: bytes,
    now: datetime | int,
    *,
    tolerance: timedelta = TOLERANCE,
) -> int:
    """The webhook's timestamp when ``header`` signs ``body`` under ``secret`` within
    ``tolerance`` of ``now``; :class:`BadSignature` otherwise (the message never repeats the
    header or the secret)."""
    if not secret:
        raise BadSignature("no webhook secret is configured")
    if not header or len(header) > _MAX_HEADER:
        raise BadSignature(f"the {SIGNATURE_HEADER} header is missing or too long")
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep:
            raise BadSignature(f"the {SIGNATURE_HEADER} header is malformed")
        if key == "t":
            if timestamp is not None or not value.isdigit() or len(value) > 12:
                raise BadSignature(f"the {SIGNATURE_HEADER} timestamp is malformed")
            timestamp = int(value)
        elif key == "v1":
            candidates.append(value)
    if timestamp is None or not candidates:
        raise BadSignature(f"the {SIGNATURE_HEADER} header lacks t= or v1=")
    if abs(_unix(now) - timestamp) > tolerance.total_seconds():
        raise BadSignature("the webhook is too old (or from the future): refused against replay")
    expected = sign(secret, timestamp, body)
    # Every candidate is compared (no early exit), each in constant time.
    matched = False
    for candidate in candidates:
        given = candidate.lower().encode("ascii", "replace")
        matched |= hmac.compare_digest(expected.encode("ascii"), given)
    if not matched:
        raise BadSignature("the webhook signature does not match")
    return timestamp
