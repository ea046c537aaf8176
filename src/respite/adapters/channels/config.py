"""Channel settings from the environment, checked once at start-up.

=========================  ===============================================================
``RESPITE_SMTP_HOST``      SMTP server; unset: no e-mail channel
``RESPITE_SMTP_PORT``      default 465 with SSL, 587 with STARTTLS, else 25
``RESPITE_SMTP_USERNAME``  login (with ``RESPITE_SMTP_PASSWORD``; both or neither)
``RESPITE_SMTP_PASSWORD``  only over TLS, unless the host is loopback
``RESPITE_SMTP_STARTTLS``  ``1``/``true``/``yes``/``on`` or ``0``/``false``/``no``/``off``
``RESPITE_SMTP_SSL``       implicit TLS (port 465); not together with STARTTLS
``RESPITE_SMS_URL``        the SMS provider's API base URL; unset: no SMS channel;
                           ``https://`` unless the host is loopback
``RESPITE_SMS_API_KEY``    required with ``RESPITE_SMS_URL``
``RESPITE_SMS_SENDER``     sender ID, 1–11 letters/digits or an E.164 number (``Respite``)
``RESPITE_PRINT_DIR``      letter spool and print batches (default ``./print``)
=========================  ===============================================================

A bad value is an :class:`~respite.errors.InputError` naming the variable, so a typo stops
the service at start-up instead of at the first message.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from respite.adapters.channels.base import Channel
from respite.adapters.channels.sms import SENDER, is_e164
from respite.errors import InputError

__all__ = ["DEFAULT_PRINT_DIR", "ChannelSettings", "build_channels", "channels_from_env"]

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"", "0", "false", "no", "off"})
_LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})
DEFAULT_PRINT_DIR = Path("print")


@dataclass(frozen=True, slots=True)
class ChannelSettings:
    """Flat, as the CLI reads them. ``smtp_host``/``sms_url`` ``None``: that channel is not
    configured. Letters always are: ``print_dir`` (default ``./print``) holds ``spool/``
    and ``batches/``. Secrets stay out of ``repr``."""

    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_username: str | None = None
    smtp_password: str | None = field(default=None, repr=False)
    smtp_starttls: bool = False
    smtp_ssl: bool = False
    sms_url: str | None = None
    sms_api_key: str | None = field(default=None, repr=False)
    sms_sender: str = "Respite"
    print_dir: Path = DEFAULT_PRINT_DIR


def _flag(env: Mapping[str, str], name: str) -> bool:
    value = env.get(name, "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise InputError(f"{name} must be 1/true/yes/on or 0/false/no/off, got {value!r}")


def _smtp(env: Mapping[str, str]) -> dict[str, Any]:
    host = env.get("RESPITE_SMTP_HOST", "").strip()
    if not host:
        for name in ("RESPITE_SMTP_USERNAME", "RESPITE_SMTP_PASSWORD", "RESPITE_SMTP_PORT"):
            if env.get(name):
                raise InputError(f"{name} is set but RESPITE_SMTP_HOST is not")
        return {}
    starttls = _flag(env, "RESPITE_SMTP_STARTTLS")
    ssl = _flag(env, "RESPITE_SMTP_SSL")
    if starttls and ssl:
        raise InputError(
            "RESPITE_SMTP_STARTTLS and RESPITE_SMTP_SSL are both on; choose one "
            "(SSL for port 465, STARTTLS for 587)"
        )
    raw_port = env.get("RESPITE_SMTP_PORT", "").strip()
    if raw_port:
        if not raw_port.isdigit() or not 0 < int(raw_port) < 65536:
            raise InputError(f"RESPITE_SMTP_PORT must be a port number 1–65535, got {raw_port!r}")
        port = int(raw_port)
    else:
        port = 465 if ssl else 587 if starttls else 25
    username = env.get("RESPITE_SMTP_USERNAME") or None
    password = env.get("RESPITE_SMTP_PASSWORD") or None
    if (username is None) != (password is None):
        raise InputError("set both RESPITE_SMTP_USERNAME and RESPITE_SMTP_PASSWORD, or neither")
    if password is not None and not (starttls or ssl) and host.lower() not in _LOOPBACK:
        raise InputError(
            "RESPITE_SMTP_PASSWORD would travel unencrypted: set RESPITE_SMTP_STARTTLS=1 "
            "or RESPITE_SMTP_SSL=1"
        )
    return {
        "smtp_host": host,
        "smtp_port": port,
        "smtp_username": username,
        "smtp_password": password,
        "smtp_starttls": starttls,
        "smtp_ssl": ssl,
    }


def _sms(env: Mapping[str, str]) -> dict[str, Any]:
    url = env.get("RESPITE_SMS_URL", "").strip()
    key = env.get("RESPITE_SMS_API_KEY", "").strip()
    sender = env.get("RESPITE_SMS_SENDER", "").strip() or "Respite"
    if not url:
        if key:
            raise InputError("RESPITE_SMS_API_KEY is set but RESPITE_SMS_URL is not")
        return {}
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InputError(f"RESPITE_SMS_URL must be an http(s) URL, got {url!r}")
    if parts.scheme == "http" and parts.hostname not in _LOOPBACK:
        raise InputError(
            "RESPITE_SMS_URL must use https:// (the API key would travel unencrypted); "
            "plain http:// is for a local fake provider only"
        )
    if not key:
        raise InputError("RESPITE_SMS_URL is set but RESPITE_SMS_API_KEY is empty")
    if not (SENDER.match(sender) or is_e164(sender)):
        raise InputError(
            f"RESPITE_SMS_SENDER must be 1 to 11 letters/digits or an E.164 number, got {sender!r}"
        )
    return {"sms_url": url.rstrip("/"), "sms_api_key": key, "sms_sender": sender}


def _print_dir(env: Mapping[str, str]) -> Path:
    raw = env.get("RESPITE_PRINT_DIR", "").strip()
    if not raw:
        return DEFAULT_PRINT_DIR
    path = Path(raw).expanduser()
    if path.exists() and not path.is_dir():
        raise InputError(f"RESPITE_PRINT_DIR is not a folder: {raw!r}")
    return path


def channels_from_env(env: Mapping[str, str] | None = None) -> ChannelSettings:
    """The channel settings in ``env`` (default: ``os.environ``)."""
    source = os.environ if env is None else env
    return ChannelSettings(**_smtp(source), **_sms(source), print_dir=_print_dir(source))


def build_channels(
    settings: ChannelSettings, *, message_id_domain: str = "respite.local"
) -> dict[str, Channel]:
    """The configured channels by name (``email``, ``sms``, ``post`` — always); letters
    are spooled under ``print_dir/spool`` (batches belong in ``print_dir/batches``)."""
    from respite.adapters.channels.letters import LetterChannel
    from respite.adapters.channels.sms import SmsHttpChannel
    from respite.adapters.channels.smtp import SmtpChannel

    s = settings
    channels: dict[str, Channel] = {"post": LetterChannel(s.print_dir / "spool")}
    if s.smtp_host is not None:
        channels["email"] = SmtpChannel(
            s.smtp_host,
            s.smtp_port,
            starttls=s.smtp_starttls,
            ssl=s.smtp_ssl,
            username=s.smtp_username,
            password=s.smtp_password,
            message_id_domain=message_id_domain,
        )
    if s.sms_url is not None and s.sms_api_key is not None:
        channels["sms"] = SmsHttpChannel(s.sms_url, s.sms_api_key, sender=s.sms_sender)
    return channels
