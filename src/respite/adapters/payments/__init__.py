"""Payment providers: the port (:mod:`.base`), an HTTP client (:mod:`.http_provider`) and a
local fake with a hosted page and signed webhooks (:mod:`.fake_provider`)."""

from respite.adapters.payments.base import (
    SIGNATURE_HEADER,
    TOLERANCE,
    BadSignature,
    Checkout,
    PaymentProvider,
    ProviderUnavailable,
    sign,
    signature_header,
    verify,
)
from respite.adapters.payments.http_provider import HttpPaymentProvider

__all__ = [
    "SIGNATURE_HEADER",
    "TOLERANCE",
    "BadSignature",
    "Checkout",
    "HttpPaymentProvider",
    "PaymentProvider",
    "ProviderUnavailable",
    "sign",
    "signature_header",
    "verify",
]
