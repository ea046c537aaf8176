"""The one interface every delivery channel implements.

CONTRACT (written by the lead). The messaging service hands a channel an :class:`Outgoing`
and gets a :class:`DeliveryResult` back; it never sees SMTP, HTTP or PDF details. A
channel raises nothing for a delivery problem: it reports it, so the service can retry
(``retry``: temporary, e.g. SMTP 4xx, HTTP 5xx, timeout) or fall back to another channel
(``bounced``: the address does not exist / the number is invalid; ``failed``: refused
for another permanent reason). ``sent``: handed over (SMTP accepted, provider accepted,
letter spooled for printing); ``delivered``: the provider confirmed delivery.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Protocol

__all__ = ["Channel", "DeliveryResult", "Outgoing", "Status"]

Status = str  # "sent" | "delivered" | "retry" | "bounced" | "failed"


@dataclass(frozen=True, slots=True)
class Outgoing:
    message_id: int
    channel: str  # email | sms | post
    to: str  # e-mail address, E.164 phone number, or the name for a letter
    sender_name: str
    sender_email: str
    text: str
    subject: str | None = None
    html: str | None = None
    address_lines: tuple[str, ...] = ()  # letters: the window address
    reply_to: str | None = None
    headers: dict[str, str] = field(default_factory=dict)  # extra e-mail headers
    reference: str = ""  # the provider-side reference (e.g. "respite-123")
    # Added by the channels helper (optional, for letters): the business date the letter
    # is spooled under (its print batch), and the window address's postcode and country
    # for the print manifest (guessed from ``address_lines`` when left empty).
    business_date: date | None = None
    postcode: str = ""
    country: str = ""


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    status: Status
    provider_ref: str | None = None
    detail: str = ""


class Channel(Protocol):
    name: str

    def send(self, message: Outgoing) -> DeliveryResult: ...
