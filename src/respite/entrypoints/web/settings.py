"""Web settings from the environment, with the defaults a single machine wants."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import urlsplit

from respite.errors import InputError

__all__ = ["WebSettings"]


def _flag(name: str) -> bool | None:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return None
    return raw.strip().lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class WebSettings:
    # The business date the web sees. Unset: today in the agency's time zone. The demo sets
    # it to the last simulated day so that its letters' codes are still valid.
    business_date: date | None = None
    # None: Secure cookies whenever the request came over https (also behind a TLS proxy
    # that sets X-Forwarded-Proto); True forces them, False never sets them.
    secure_cookies: bool | None = None
    portal_idle: timedelta = timedelta(minutes=20)
    console_idle: timedelta = timedelta(hours=8)
    upload_dir: Path = Path("uploads")
    max_upload_bytes: int = 5 * 1024 * 1024
    # The payment provider's base URL and the secret its webhooks are signed with.
    payment_provider_url: str = "http://127.0.0.1:8001"
    payment_webhook_secret: str = "demo-webhook-secret-change-me"  # noqa: S105 - demo default
    payment_provider_key: str | None = None
    public_url: str = "http://127.0.0.1:8000"
    # Signs login links (the QR on a letter): a link cannot be made up or altered.
    link_secret: str = "demo-link-secret-change-me"  # noqa: S105 - demo default
    default_language: str = "nl"

    @classmethod
    def from_env(cls) -> WebSettings:
        raw_date = os.environ.get("RESPITE_BUSINESS_DATE")
        try:
            business_date = date.fromisoformat(raw_date) if raw_date else None
        except ValueError as exc:
            raise InputError(
                f"RESPITE_BUSINESS_DATE: {raw_date!r} is not a date (YYYY-MM-DD)",
                field="RESPITE_BUSINESS_DATE",
            ) from exc
        defaults = cls()
        return cls(
            business_date=business_date,
            secure_cookies=_flag("RESPITE_SECURE_COOKIES"),
            upload_dir=Path(os.environ.get("RESPITE_UPLOAD_DIR", str(defaults.upload_dir))),
            payment_provider_url=os.environ.get(
                "RESPITE_PAYMENT_PROVIDER_URL", defaults.payment_provider_url
            ).rstrip("/"),
            payment_webhook_secret=os.environ.get(
                "RESPITE_PAYMENT_WEBHOOK_SECRET", defaults.payment_webhook_secret
            ),
            payment_provider_key=os.environ.get("RESPITE_PAYMENT_PROVIDER_KEY") or None,
            public_url=os.environ.get("RESPITE_PORTAL_URL", defaults.public_url).rstrip("/"),
            link_secret=os.environ.get("RESPITE_LINK_SECRET", defaults.link_secret),
        )

    @property
    def form_origins(self) -> tuple[str, ...]:
        """Origins a form may post or redirect to besides our own (the payment provider)."""
        parts = urlsplit(self.payment_provider_url)
        return (f"{parts.scheme}://{parts.netloc}",)
