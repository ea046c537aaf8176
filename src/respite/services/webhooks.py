"""Webhooks: a creditor's status events posted to its own HTTPS endpoint, signed.

A creditor registers an endpoint (URL, optionally the event kinds it wants) and receives
its signing secret once; the secret is kept sealed (:mod:`respite.adapters.crypto`)
because Respite must read it back to sign. Then two steps, run by
``respite webhooks deliver`` (from cron or a worker, every minute or so):

1. :func:`enqueue` — every status event of the creditor's cases recorded since the
   endpoint was registered becomes one ``webhook_deliveries`` row per endpoint. The pair
   (endpoint, event) is unique, so running it twice, or in two processes, queues an event
   once. Events are those a creditor may see in the API timeline, masked the same way
   (:func:`respite.services.creditor_api.public_event`).
2. :func:`deliver_due` — every pending delivery whose time has come is POSTed as JSON,
   signed; a 2xx answer marks it delivered. Anything else (an error status, a timeout, a
   refused connection, a redirect: redirects are not followed) schedules the next attempt
   after an exponential backoff, ``BASE_DELAY × 2^(attempts−1)`` capped at ``MAX_DELAY``;
   after ``MAX_ATTEMPTS`` attempts the delivery is ``failed`` and stays visible.

The signature (header ``Respite-Signature: t=<unix time>,v1=<hex>``) is HMAC-SHA256 with
the endpoint's secret over ``"<t>." + body``, as Stripe does: the receiver recomputes it
over the raw body, compares in constant time, and refuses a ``t`` older than a few
minutes (a replayed request). ``Respite-Event-Id`` (also ``id`` in the body) is the same
on every retry of one event, so a receiver can drop duplicates: delivery is *at least
once* (a receiver that answers too late is tried again).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy import Connection, Engine, exists, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from respite.adapters.clock import as_utc
from respite.adapters.crypto import open_sealed, seal
from respite.adapters.db.models import Case, Event, WebhookDelivery, WebhookEndpoint
from respite.errors import ValidationError
from respite.services.creditor_api import (
    CREDITOR_EVENT_KINDS,
    NotFound,
    creditor_visible,
    public_event,
)

__all__ = [
    "BASE_DELAY",
    "MAX_ATTEMPTS",
    "MAX_DELAY",
    "DeliveryReport",
    "add_endpoint",
    "backoff",
    "deliver_due",
    "enqueue",
    "list_endpoints",
    "remove_endpoint",
    "sign",
    "verify_signature",
]

BASE_DELAY = timedelta(minutes=1)
MAX_DELAY = timedelta(hours=12)
MAX_ATTEMPTS = 12  # about 1.5 days from the first try to giving up
TIMEOUT = 10.0  # seconds for one POST
# A delivery being sent is leased for this long: a second `deliver` running at the same
# time skips it, and one that crashed mid-send is retried after the lease.
LEASE = timedelta(minutes=5)
# Events committed late (a long nightly transaction records its events when it starts)
# are still picked up: each run looks back this far behind the newest event it queued.
LOOKBACK = timedelta(hours=6)
SIGNATURE_HEADER = "Respite-Signature"
TOLERANCE_SECONDS = 300


def backoff(attempts: int) -> timedelta:
    """The wait after the ``attempts``-th failed attempt (1, 2, 4, 8 ... minutes, capped)."""
    wait: timedelta = BASE_DELAY * (2 ** max(attempts - 1, 0))
    return min(wait, MAX_DELAY)


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The signature header value for ``body`` sent at ``timestamp`` (Unix seconds)."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify_signature(
    secret: str,
    body: bytes,
    header: str,
    *,
    now: float | None = None,
    tolerance: int = TOLERANCE_SECONDS,
) -> bool:
    """What a receiver does: the signature is right and not older than ``tolerance``."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        timestamp = int(parts["t"])
        given = parts["v1"]
    except (KeyError, ValueError):
        return False
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        return False
    expected = sign(secret, body, timestamp).split("v1=", 1)[1]
    return hmac.compare_digest(expected, given)


# --- endpoints ------------------------------------------------------------------------


def _check_url(url: str, *, allow_http: bool) -> str:
    url = url.strip()
    parts = urlsplit(url)
    if len(url) > 500 or not parts.netloc or parts.hostname is None:
        raise ValidationError("expected an absolute URL of at most 500 characters", field="url")
    if parts.scheme != "https" and not (allow_http and parts.scheme == "http"):
        raise ValidationError("must be an https:// URL", field="url")
    if parts.username or parts.password:
        raise ValidationError("must not carry a user name or password", field="url")
    if not allow_http:
        # An endpoint set through the API must not make Respite call into its own network.
        try:
            address = ipaddress.ip_address(parts.hostname)
        except ValueError:
            address = None
        if parts.hostname == "localhost" or (address is not None and not address.is_global):
            raise ValidationError("must be a public address", field="url")
    return url


def _kinds(event_kinds: Sequence[str] | None) -> list[str]:
    kinds = sorted({k.strip() for k in event_kinds or () if k.strip()})
    unknown = [k for k in kinds if k not in CREDITOR_EVENT_KINDS and not k.startswith("plan_")]
    if unknown:
        raise ValidationError(
            f"unknown event kind(s) {', '.join(unknown)}; the kinds are "
            f"{', '.join(sorted(CREDITOR_EVENT_KINDS))} and plan_*",
            field="event_kinds",
        )
    return kinds


def _endpoint_out(row: Any) -> dict[str, Any]:
    return {
        "id": int(row.id),
        "url": row.url,
        "event_kinds": list(row.event_kinds or []),
        "active": bool(row.active),
        "created_at": as_utc(row.created_at),
    }


def add_endpoint(
    conn: Connection,
    creditor_id: int,
    url: str,
    *,
    event_kinds: Sequence[str] | None = None,
    now: datetime,
    allow_http: bool = False,
) -> dict[str, Any]:
    """Register an endpoint; the result holds its signing ``secret``, shown only here.

    ``allow_http`` (the operator's CLI) also takes http:// and private addresses; through
    the API only public https:// URLs are taken.
    """
    clean = _check_url(url, allow_http=allow_http)
    kinds = _kinds(event_kinds)
    secret = f"whsec_{secrets.token_hex(32)}"
    result = conn.execute(
        insert(WebhookEndpoint).values(
            creditor_id=creditor_id,
            url=clean,
            secret_ciphertext=seal(secret),
            event_kinds=kinds,
            active=True,
            created_at=now,
        )
    )
    endpoint_id = int(result.inserted_primary_key[0])  # type: ignore[index]
    row = conn.execute(select(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id)).one()
    return {**_endpoint_out(row), "secret": secret}


def list_endpoints(conn: Connection, creditor_id: int) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(WebhookEndpoint)
        .where(WebhookEndpoint.creditor_id == creditor_id, WebhookEndpoint.active.is_(True))
        .order_by(WebhookEndpoint.id)
    ).all()
    return [_endpoint_out(r) for r in rows]


def remove_endpoint(conn: Connection, creditor_id: int, endpoint_id: int) -> None:
    """Stop posting to the endpoint; its pending deliveries are dropped as failed."""
    found = conn.execute(
        update(WebhookEndpoint)
        .where(
            WebhookEndpoint.id == endpoint_id,
            WebhookEndpoint.creditor_id == creditor_id,
            WebhookEndpoint.active.is_(True),
        )
        .values(active=False)
    ).rowcount
    if not found:
        raise NotFound(f"no webhook endpoint {endpoint_id}")
    conn.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.endpoint_id == endpoint_id, WebhookDelivery.status == "pending")
        .values(status="failed", last_error="endpoint removed")
    )


# --- enqueue --------------------------------------------------------------------------


def enqueue(conn: Connection, *, now: datetime) -> int:
    """Queue every new status event for every active endpoint; the number queued."""
    queued = 0
    endpoints = conn.execute(
        select(
            WebhookEndpoint.id,
            WebhookEndpoint.creditor_id,
            WebhookEndpoint.event_kinds,
            WebhookEndpoint.created_at,
        ).where(WebhookEndpoint.active.is_(True))
    ).all()
    for ep in endpoints:
        newest = conn.execute(
            select(func.max(Event.recorded_at))
            .join(WebhookDelivery, WebhookDelivery.event_id == Event.id)
            .where(WebhookDelivery.endpoint_id == ep.id)
        ).scalar()
        since = (
            ep.created_at
            if newest is None
            else max(as_utc(ep.created_at), as_utc(newest) - LOOKBACK)
        )
        query = (
            select(
                Event.id,
                Case.reference,
                Event.kind,
                Event.business_date,
                Event.recorded_at,
                Event.actor,
                Event.reason,
                Event.before,
                Event.after,
            )
            .join(Case, Case.id == Event.case_id)
            .where(Case.creditor_id == ep.creditor_id, creditor_visible())
            .where(Event.recorded_at >= since)
            .where(
                ~exists().where(
                    WebhookDelivery.endpoint_id == ep.id, WebhookDelivery.event_id == Event.id
                )
            )
            .order_by(Event.id)
        )
        if ep.event_kinds:
            query = query.where(Event.kind.in_(list(ep.event_kinds)))
        rows = [
            {
                "endpoint_id": ep.id,
                "event_id": e.id,
                "payload": _payload(e),
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": now,
            }
            for e in conn.execute(query)
        ]
        for start in range(0, len(rows), 1000):
            stmt = (pg_insert if conn.dialect.name == "postgresql" else sqlite_insert)(
                WebhookDelivery
            )
            conn.execute(
                stmt.on_conflict_do_nothing(index_elements=["endpoint_id", "event_id"]),
                rows[start : start + 1000],
            )
        queued += len(rows)
    return queued


def _payload(e: Any) -> dict[str, Any]:
    event = public_event(
        int(e.id),
        e.reference,
        e.kind,
        e.business_date,
        as_utc(e.recorded_at),
        e.actor,
        e.reason,
        e.before,
        e.after,
    )
    body: dict[str, Any] = json.loads(json.dumps(event, default=_iso))
    body["type"] = f"case.{e.kind}"
    return body


def _iso(value: Any) -> str:
    return str(value.isoformat())


# --- deliver --------------------------------------------------------------------------


@dataclass
class DeliveryReport:
    attempted: int = 0
    delivered: int = 0
    retrying: int = 0
    failed: int = 0

    def as_dict(self) -> dict[str, int]:
        return {
            "attempted": self.attempted,
            "delivered": self.delivered,
            "retrying": self.retrying,
            "failed": self.failed,
        }


def deliver_due(
    engine: Engine,
    *,
    now: datetime,
    client: httpx.Client | None = None,
    ignore_schedule: bool = False,
    max_attempts: int = MAX_ATTEMPTS,
    limit: int = 1000,
) -> DeliveryReport:
    """POST every pending delivery that is due (all pending ones with ``ignore_schedule``)."""
    report = DeliveryReport()
    own_client = client is None
    http = client or httpx.Client(timeout=TIMEOUT, follow_redirects=False)
    secrets_by_endpoint: dict[int, str] = {}
    try:
        with engine.connect() as conn:
            query = (
                select(
                    WebhookDelivery.id,
                    WebhookDelivery.attempts,
                    WebhookDelivery.event_id,
                    WebhookDelivery.payload,
                    WebhookEndpoint.id.label("endpoint_id"),
                    WebhookEndpoint.url,
                    WebhookEndpoint.secret_ciphertext,
                )
                .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
                .where(WebhookDelivery.status == "pending", WebhookEndpoint.active.is_(True))
                .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
                .limit(limit)
            )
            if not ignore_schedule:
                query = query.where(WebhookDelivery.next_attempt_at <= now)
            due = conn.execute(query).all()
        for d in due:
            if not _lease(engine, d.id, d.attempts, now):
                continue  # another run took it
            report.attempted += 1
            secret = secrets_by_endpoint.get(d.endpoint_id)
            if secret is None:
                secret = secrets_by_endpoint[d.endpoint_id] = open_sealed(d.secret_ciphertext)
            error = _post(http, d.url, secret, d.event_id, d.id, d.payload, now)
            _settle(engine, d.id, d.attempts + 1, error, now, max_attempts, report)
    finally:
        if own_client:
            http.close()
    return report


def _lease(engine: Engine, delivery_id: int, attempts: int, now: datetime) -> bool:
    with engine.begin() as conn:
        taken = conn.execute(
            update(WebhookDelivery)
            .where(
                WebhookDelivery.id == delivery_id,
                WebhookDelivery.attempts == attempts,
                WebhookDelivery.status == "pending",
            )
            .values(attempts=attempts + 1, next_attempt_at=now + LEASE)
        ).rowcount
    return bool(taken)


def _post(
    http: httpx.Client,
    url: str,
    secret: str,
    event_id: int,
    delivery_id: int,
    payload: dict[str, Any],
    now: datetime,
) -> str | None:
    """None when the endpoint took it (2xx), else what went wrong (no response body:
    the receiver's text is not ours to store)."""
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Respite-Webhooks/1",
        SIGNATURE_HEADER: sign(secret, body, int(now.timestamp())),
        "Respite-Event-Id": f"evt_{event_id}",
        "Respite-Delivery-Id": str(delivery_id),
    }
    try:
        response = http.post(url, content=body, headers=headers)
    except httpx.HTTPError as exc:
        return f"{type(exc).__name__}"
    if 200 <= response.status_code < 300:
        return None
    return f"HTTP {response.status_code}"


def _settle(
    engine: Engine,
    delivery_id: int,
    attempts: int,
    error: str | None,
    now: datetime,
    max_attempts: int,
    report: DeliveryReport,
) -> None:
    if error is None:
        values: dict[str, Any] = {"status": "delivered", "delivered_at": now, "last_error": None}
        report.delivered += 1
    elif attempts >= max_attempts:
        values = {"status": "failed", "last_error": error}
        report.failed += 1
    else:
        values = {"last_error": error, "next_attempt_at": now + backoff(attempts)}
        report.retrying += 1
    with engine.begin() as conn:
        conn.execute(
            update(WebhookDelivery).where(WebhookDelivery.id == delivery_id).values(**values)
        )
