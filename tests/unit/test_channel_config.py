"""Channel settings from the environment: defaults, and a clear error for every bad value."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest

from respite.adapters.channels.config import (
    DEFAULT_PRINT_DIR,
    ChannelSettings,
    build_channels,
    channels_from_env,
)
from respite.adapters.channels.letters import LetterChannel
from respite.adapters.channels.sms import SmsHttpChannel
from respite.adapters.channels.smtp import SmtpChannel
from respite.errors import InputError


def test_nothing_configured_means_letters_only_into_the_default_print_folder() -> None:
    settings = channels_from_env({})
    assert settings == ChannelSettings()
    assert (settings.smtp_host, settings.sms_url, settings.print_dir) == (
        None,
        None,
        DEFAULT_PRINT_DIR,
    )
    channels = build_channels(settings)
    assert list(channels) == ["post"]


@pytest.mark.parametrize(
    ("env", "port"),
    [
        ({}, 25),
        ({"RESPITE_SMTP_STARTTLS": "yes"}, 587),
        ({"RESPITE_SMTP_SSL": "1"}, 465),
        ({"RESPITE_SMTP_PORT": "2525"}, 2525),
    ],
)
def test_smtp_port_defaults_follow_the_tls_mode(env: dict[str, str], port: int) -> None:
    settings = channels_from_env({"RESPITE_SMTP_HOST": "mail.example", **env})
    assert settings.smtp_port == port


def test_full_configuration_builds_all_three_channels(tmp_path: Path) -> None:
    secret = secrets.token_hex(8)
    settings = channels_from_env(
        {
            "RESPITE_SMTP_HOST": "smtp.example",
            "RESPITE_SMTP_STARTTLS": "true",
            "RESPITE_SMTP_USERNAME": "respite",
            "RESPITE_SMTP_PASSWORD": secret,
            "RESPITE_SMS_URL": "https://sms.example/",
            "RESPITE_SMS_API_KEY": "key",
            "RESPITE_SMS_SENDER": "Incasso",
            "RESPITE_PRINT_DIR": str(tmp_path),
        }
    )
    assert settings == ChannelSettings(
        smtp_host="smtp.example",
        smtp_port=587,
        smtp_username="respite",
        smtp_password=secret,
        smtp_starttls=True,
        smtp_ssl=False,
        sms_url="https://sms.example",
        sms_api_key="key",
        sms_sender="Incasso",
        print_dir=tmp_path,
    )
    assert secret not in repr(settings)
    assert "'key'" not in repr(settings)
    channels = build_channels(settings)
    assert isinstance(channels["email"], SmtpChannel)
    assert isinstance(channels["sms"], SmsHttpChannel)
    assert isinstance(channels["post"], LetterChannel)
    assert channels["post"].spool_dir == tmp_path / "spool"
    assert secret not in repr(channels["email"])


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"RESPITE_SMTP_HOST": "h", "RESPITE_SMTP_PORT": "abc"}, "RESPITE_SMTP_PORT"),
        ({"RESPITE_SMTP_HOST": "h", "RESPITE_SMTP_PORT": "70000"}, "RESPITE_SMTP_PORT"),
        ({"RESPITE_SMTP_HOST": "h", "RESPITE_SMTP_SSL": "maybe"}, "RESPITE_SMTP_SSL"),
        (
            {"RESPITE_SMTP_HOST": "h", "RESPITE_SMTP_SSL": "1", "RESPITE_SMTP_STARTTLS": "1"},
            "choose one",
        ),
        ({"RESPITE_SMTP_HOST": "h", "RESPITE_SMTP_USERNAME": "u"}, "or neither"),
        (
            {"RESPITE_SMTP_HOST": "h", "RESPITE_SMTP_USERNAME": "u", "RESPITE_SMTP_PASSWORD": "p"},
            "unencrypted",
        ),
        ({"RESPITE_SMTP_PORT": "25"}, "RESPITE_SMTP_HOST is not"),
        ({"RESPITE_SMS_URL": "ftp://sms.example", "RESPITE_SMS_API_KEY": "k"}, "http"),
        ({"RESPITE_SMS_URL": "http://sms.example", "RESPITE_SMS_API_KEY": "k"}, "https://"),
        ({"RESPITE_SMS_URL": "https://sms.example"}, "RESPITE_SMS_API_KEY"),
        ({"RESPITE_SMS_API_KEY": "k"}, "RESPITE_SMS_URL is not"),
        (
            {
                "RESPITE_SMS_URL": "https://sms.example",
                "RESPITE_SMS_API_KEY": "k",
                "RESPITE_SMS_SENDER": "Far too long a sender",
            },
            "RESPITE_SMS_SENDER",
        ),
    ],
)
def test_a_bad_value_is_an_input_error_naming_the_variable(
    env: dict[str, str], message: str
) -> None:
    with pytest.raises(InputError, match=message):
        channels_from_env(env)


def test_loopback_may_use_plain_smtp_login_and_http_sms() -> None:
    settings = channels_from_env(
        {
            "RESPITE_SMTP_HOST": "127.0.0.1",
            "RESPITE_SMTP_USERNAME": "u",
            "RESPITE_SMTP_PASSWORD": "p",
            "RESPITE_SMS_URL": "http://127.0.0.1:8099",
            "RESPITE_SMS_API_KEY": "k",
        }
    )
    assert settings.smtp_host == "127.0.0.1"
    assert settings.sms_url == "http://127.0.0.1:8099"


def test_print_dir_that_is_a_file_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "file.txt"
    target.write_text("x")
    with pytest.raises(InputError, match="RESPITE_PRINT_DIR"):
        channels_from_env({"RESPITE_PRINT_DIR": str(target)})
