"""The SMS channel against the fake provider (a real HTTP server on loopback)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from respite.adapters.channels.base import Outgoing
from respite.adapters.channels.fake_sms import FakeSmsProvider
from respite.adapters.channels.sms import SmsHttpChannel, is_e164
from respite.errors import InputError

KEY = "sk_test_0123456789"


@pytest.fixture
def provider(tmp_path: Path) -> Iterator[FakeSmsProvider]:
    with FakeSmsProvider(api_key=KEY, log_path=tmp_path / "sms.jsonl") as running:
        yield running


@pytest.fixture
def channel(provider: FakeSmsProvider) -> Iterator[SmsHttpChannel]:
    with SmsHttpChannel(provider.url, KEY, sender="Incasso", timeout=2) as sms:
        yield sms


def sms(to: str = "+31612345678", message_id: int = 5, text: str = "Betaal € 12,50") -> Outgoing:
    return Outgoing(
        message_id=message_id,
        channel="sms",
        to=to,
        sender_name="Incasso",
        sender_email="noreply@incasso.example",
        text=text,
        reference=f"respite-{message_id}",
    )


def test_accepted_sms_is_sent_with_the_provider_id(
    provider: FakeSmsProvider, channel: SmsHttpChannel, tmp_path: Path
) -> None:
    result = channel.send(sms())
    assert result.status == "sent"
    assert result.provider_ref == "sms_000001"
    [stored] = provider.messages
    assert {k: stored[k] for k in ("to", "from", "text", "reference")} == {
        "to": "+31612345678",
        "from": "Incasso",
        "text": "Betaal € 12,50",
        "reference": "respite-5",
    }
    logged = [json.loads(line) for line in (tmp_path / "sms.jsonl").read_text("utf-8").splitlines()]
    assert [entry["id"] for entry in logged] == ["sms_000001"]
    assert logged[0]["text"] == "Betaal € 12,50"


def test_polling_reports_delivered_after_the_provider_delivers(
    provider: FakeSmsProvider, channel: SmsHttpChannel
) -> None:
    provider.deliver_after_polls = 2
    ref = channel.send(sms()).provider_ref
    assert ref is not None
    assert [channel.status(ref) for _ in range(3)] == ["sent", "sent", "delivered"]


def test_an_undeliverable_number_is_reported_as_bounced_when_polled(
    provider: FakeSmsProvider, channel: SmsHttpChannel
) -> None:
    provider.undeliverable_numbers.add("+31600000000")
    ref = channel.send(sms(to="+31600000000")).provider_ref
    assert ref is not None
    assert channel.status(ref) == "bounced"


def test_status_of_an_unknown_id_is_unknown(channel: SmsHttpChannel) -> None:
    assert channel.status("sms_999999") is None
    assert channel.status("../../etc/passwd") is None


@pytest.mark.parametrize("number", ["0612345678", "+0612345678", "+3161234", "+31 6 1234 5678", ""])
def test_a_malformed_number_bounces_without_calling_the_provider(
    provider: FakeSmsProvider, channel: SmsHttpChannel, number: str
) -> None:
    result = channel.send(sms(to=number))
    assert result.status == "bounced"
    assert result.detail == "invalid number"
    assert provider.requests == 0


def test_a_number_the_provider_calls_invalid_bounces(
    provider: FakeSmsProvider, channel: SmsHttpChannel
) -> None:
    provider.invalid_numbers.add("+31611111111")
    result = channel.send(sms(to="+31611111111"))
    assert result.status == "bounced"
    assert "+316" not in result.detail
    assert provider.messages == []


def test_provider_unavailable_503_is_retried_and_then_sent(
    provider: FakeSmsProvider, channel: SmsHttpChannel
) -> None:
    provider.fail_next = 2
    assert channel.send(sms()).status == "retry"
    assert channel.send(sms()).status == "retry"
    assert channel.send(sms()).status == "sent"
    assert len(provider.messages) == 1


def test_a_retry_with_the_same_reference_does_not_send_twice(
    provider: FakeSmsProvider, channel: SmsHttpChannel
) -> None:
    first = channel.send(sms())
    second = channel.send(sms())  # e.g. the acceptance was lost on the way back
    assert first.provider_ref == second.provider_ref
    assert len(provider.messages) == 1


def test_a_wrong_api_key_is_a_configuration_failure(provider: FakeSmsProvider) -> None:
    with SmsHttpChannel(provider.url, "wrong-key") as channel:
        result = channel.send(sms())
    assert result.status == "failed"
    assert "configuration" in result.detail
    assert "401" in result.detail
    assert provider.messages == []


def test_a_provider_slower_than_the_timeout_is_retried(provider: FakeSmsProvider) -> None:
    provider.delay = 1.0
    with SmsHttpChannel(provider.url, KEY, timeout=0.2) as channel:
        result = channel.send(sms())
    assert result.status == "retry"
    assert "timeout" in result.detail


def test_provider_down_is_retried(provider: FakeSmsProvider) -> None:
    url = provider.url
    provider.stop()
    with SmsHttpChannel(url, KEY) as channel:
        result = channel.send(sms())
    assert result.status == "retry"
    assert "unreachable" in result.detail


def test_rate_limited_429_is_retried() -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(429, json={"error": "slow"}))
    with httpx.Client(transport=transport) as client:
        channel = SmsHttpChannel("https://sms.example", KEY, client=client)
        assert channel.send(sms()).status == "retry"


def test_a_request_the_provider_rejects_for_another_reason_fails() -> None:
    transport = httpx.MockTransport(
        lambda request: httpx.Response(422, json={"error": "text_too_long"})
    )
    with httpx.Client(transport=transport) as client:
        result = SmsHttpChannel("https://sms.example", KEY, client=client).send(sms())
    assert result.status == "failed"
    assert "text_too_long" in result.detail


def test_request_carries_bearer_key_json_and_idempotency_key() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(202, json={"id": "abc", "status": "accepted"})

    with httpx.Client(transport=httpx.MockTransport(answer)) as client:
        result = SmsHttpChannel("https://sms.example/", KEY, client=client).send(sms())
    assert (result.status, result.provider_ref) == ("sent", "abc")
    [request] = seen
    assert str(request.url) == "https://sms.example/v1/messages"
    assert request.headers["Authorization"] == f"Bearer {KEY}"
    assert request.headers["Idempotency-Key"] == "respite-5"
    assert json.loads(request.content) == {
        "to": "+31612345678",
        "from": "Respite",
        "text": "Betaal € 12,50",
        "reference": "respite-5",
    }


@pytest.mark.parametrize("sender", ["", "TwelveChars1", "Ünicode", "+0123"])
def test_a_sender_id_that_no_network_accepts_is_refused_at_setup(sender: str) -> None:
    with pytest.raises(InputError, match="sender"):
        SmsHttpChannel("https://sms.example", KEY, sender=sender)


def test_e164_accepts_country_code_and_up_to_15_digits() -> None:
    assert is_e164("+31612345678")
    assert is_e164("+48123456789012")
    assert not is_e164("+4812345678901234")  # 16 digits
