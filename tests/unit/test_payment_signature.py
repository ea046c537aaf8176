"""The payment webhook signature: what one side signs the other verifies, and nothing else.

``Respite-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>``, five minutes
of tolerance either way, constant-time comparison.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from respite.adapters.payments.base import (
    TOLERANCE,
    BadSignature,
    sign,
    signature_header,
    verify,
)
from respite.errors import NotAllowed

secrets_ = st.text(min_size=1, max_size=64)
bodies = st.binary(max_size=2048)
times = st.integers(min_value=1_000_000_000, max_value=4_000_000_000)
TOL = int(TOLERANCE.total_seconds())


@given(secret=secrets_, body=bodies, at=times, delay=st.integers(min_value=-TOL, max_value=TOL))
def test_any_body_signed_with_any_secret_verifies_within_the_tolerance(
    secret: str, body: bytes, at: int, delay: int
) -> None:
    """verify(sign(x)) holds for every body, secret and arrival within five minutes."""
    header = signature_header(secret, body, at)
    assert verify(secret, header, body, at + delay) == at


@given(secret=secrets_, body=bodies, other=bodies, at=times)
def test_a_changed_body_fails(secret: str, body: bytes, other: bytes, at: int) -> None:
    """A signature covers the exact bytes: any other body is refused."""
    assume(other != body)
    header = signature_header(secret, body, at)
    with pytest.raises(BadSignature):
        verify(secret, header, other, at)


@given(secret=secrets_, other=secrets_, body=bodies, at=times)
def test_a_different_secret_fails(secret: str, other: str, body: bytes, at: int) -> None:
    """Only the holder of the secret can sign."""
    assume(other != secret)
    header = signature_header(other, body, at)
    with pytest.raises(BadSignature):
        verify(secret, header, body, at)


@given(secret=secrets_, body=bodies, at=times, shift=st.integers(min_value=1, max_value=TOL))
def test_a_changed_timestamp_fails(secret: str, body: bytes, at: int, shift: int) -> None:
    """The timestamp is signed: moving it (to dodge the replay window) breaks the signature."""
    digest = sign(secret, at, body)
    for moved in (at + shift, at - shift):
        with pytest.raises(BadSignature):
            verify(secret, f"t={moved},v1={digest}", body, moved)


@given(secret=secrets_, body=bodies, at=times, late=st.integers(min_value=TOL + 1, max_value=10**7))
def test_an_old_or_future_webhook_fails(secret: str, body: bytes, at: int, late: int) -> None:
    """A correctly signed webhook outside the five minutes is a replay: refused."""
    header = signature_header(secret, body, at)
    with pytest.raises(BadSignature, match="too old"):
        verify(secret, header, body, at + late)
    with pytest.raises(BadSignature, match="too old"):
        verify(secret, header, body, at - late)


def test_the_tolerance_is_five_minutes_to_the_second() -> None:
    sent = datetime(2025, 2, 20, 12, 0, tzinfo=UTC)
    header = signature_header("s3cret", b"{}", sent)
    assert verify("s3cret", header, b"{}", sent + timedelta(minutes=5)) == int(sent.timestamp())
    with pytest.raises(BadSignature):
        verify("s3cret", header, b"{}", sent + timedelta(minutes=5, seconds=1))


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "garbage",
        "t=,v1=00",
        "t=abc,v1=00",
        "v1=" + "0" * 64,  # no timestamp
        "t=1700000000",  # no signature
        "t=1700000000,t=1700000000,v1=" + "0" * 64,  # two timestamps
        "t=1700000000,v1=ü" + "0" * 63,  # not ASCII: refused, not a crash
        "t=1700000000,v1=" + "0" * 2000,  # too long
    ],
)
def test_a_malformed_header_is_refused_as_not_allowed(header: str | None) -> None:
    with pytest.raises(NotAllowed):
        verify("s3cret", header, b"{}", 1_700_000_000)


def test_one_matching_signature_among_several_is_enough_for_a_secret_roll() -> None:
    body = b'{"type":"checkout.paid"}'
    old = sign("old-secret", 1_700_000_000, body)
    new = sign("new-secret", 1_700_000_000, body)
    header = f"t=1700000000,v1={old},v1={new}"
    assert verify("new-secret", header, body, 1_700_000_000) == 1_700_000_000
    with pytest.raises(BadSignature):
        verify("third-secret", header, body, 1_700_000_000)


def test_the_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    # From openssl, not from Python: printf '1700000000.{}' | openssl dgst -sha256 -hmac key
    expected = "9d713ed406bb7076d4123f0dc2c39d2df5c654ed4b0cd56b52c8b4c940bd63ae"
    assert sign("key", 1_700_000_000, b"{}") == expected
    assert signature_header("key", b"{}", 1_700_000_000) == f"t=1700000000,v1={expected}"


def test_an_empty_secret_never_verifies() -> None:
    with pytest.raises(BadSignature):
        verify("", "t=1700000000,v1=" + "0" * 64, b"{}", 1_700_000_000)
