"""Webhooks against a real HTTP receiver on loopback: signed, retried with backoff after
errors, given up after the last attempt, and never sent twice once delivered."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, insert, select
from typer.testing import CliRunner

from respite.adapters.clock import as_utc
from respite.adapters.db.models import Case, Event, WebhookDelivery
from respite.domain.lifecycle import HoldKind, Stage
from respite.services import webhooks
from respite.services.cases import move_case, place_hold
from respite.services.intake import apply_intake, register_creditor

DATA = Path(__file__).resolve().parents[1] / "data"
ON = date(2026, 1, 5)
T0 = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)  # the endpoint is registered
T1 = T0 + timedelta(minutes=5)  # claims come in, cases move
WATER, PHONE = "Waterbedrijf Oost", "Telecom Noord"


@dataclass
class Receiver:
    """A creditor's endpoint: answers with ``statuses`` in turn (the last one repeats)."""

    statuses: list[int]
    delay: float = 0.0
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    url: str = ""

    def answer(self) -> int:
        n = len(self.received)
        return self.statuses[min(n - 1, len(self.statuses) - 1)]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    box = Receiver([200])
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            time.sleep(box.delay)
            with lock:
                box.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                status = box.answer()
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    box.url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield box
    server.shutdown()
    server.server_close()


@pytest.fixture
def engine(db_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Engine:
    monkeypatch.setenv("RESPITE_DATA_KEY_FILE", str(tmp_path / "data.key"))
    monkeypatch.delenv("RESPITE_DATA_KEY", raising=False)
    for name in (WATER, PHONE):
        register_creditor(db_engine, name, jurisdiction="NL", now=T0)
    return db_engine


def creditor_id(engine: Engine, name: str) -> int:
    from respite.services.api_keys import creditor_id_by_name

    with engine.connect() as conn:
        return creditor_id_by_name(conn, name)


def endpoint(engine: Engine, url: str, creditor: str = WATER, **kw: Any) -> dict[str, Any]:
    with engine.begin() as conn:
        return webhooks.add_endpoint(
            conn, creditor_id(engine, creditor), url, now=T0, allow_http=True, **kw
        )


def take_in(engine: Engine, creditor: str = WATER, at: datetime = T1) -> list[str]:
    result = apply_intake(
        engine, creditor, DATA / "claims_ok.csv", on=ON, skip_invalid=False, now=at
    )
    return list(result.cases)


def enqueue(engine: Engine, now: datetime = T1) -> int:
    with engine.begin() as conn:
        return webhooks.enqueue(conn, now=now)


def deliveries(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(select(WebhookDelivery).order_by(WebhookDelivery.id)).all())


def test_a_status_event_is_posted_with_a_signature_the_receiver_can_verify(
    engine: Engine, receiver: Receiver
) -> None:
    secret = endpoint(engine, receiver.url)["secret"]
    ref = take_in(engine)[0]
    move_case(engine, ref, Stage.FORMAL_NOTICE, on=ON, actor="cycle", reason="step", at=T1)
    enqueue(engine)
    now = datetime.now(UTC)
    report = webhooks.deliver_due(engine, now=now)
    assert (report.attempted, report.delivered) == (5, 5)  # 4 cases opened, 1 moved

    headers, body = receiver.received[-1]
    payload = json.loads(body)
    assert (payload["type"], payload["case_reference"]) == ("case.transition", ref)
    assert payload["after"] == {"stage": "formal_notice"}
    assert headers["respite-event-id"] == payload["id"]
    # verified as a receiver would, without Respite's code: HMAC-SHA256 over "<t>.<body>"
    parts = dict(p.split("=", 1) for p in headers["respite-signature"].split(","))
    expected = hmac.new(secret.encode(), f"{parts['t']}.".encode() + body, hashlib.sha256)
    assert hmac.compare_digest(parts["v1"], expected.hexdigest())
    assert abs(int(parts["t"]) - now.timestamp()) < 2
    assert webhooks.verify_signature(secret, body, headers["respite-signature"])
    assert not webhooks.verify_signature(secret, body + b" ", headers["respite-signature"])
    assert not webhooks.verify_signature("whsec_other", body, headers["respite-signature"])
    old = webhooks.sign(secret, body, int(now.timestamp()) - 3600)
    assert not webhooks.verify_signature(secret, body, old)  # a replayed old request


def test_a_failing_endpoint_is_retried_with_exponential_backoff_then_given_up(
    engine: Engine, receiver: Receiver
) -> None:
    receiver.statuses = [500]
    endpoint(engine, receiver.url, event_kinds=["opened"])
    take_in(engine)
    enqueue(engine)
    one = deliveries(engine)[0].id
    now = T1
    waits = []
    for _ in range(4):
        report = webhooks.deliver_due(engine, now=now, max_attempts=4)
        assert report.attempted == 4  # every case's "opened" event, each time
        row = next(d for d in deliveries(engine) if d.id == one)
        if row.status == "pending":
            due = as_utc(row.next_attempt_at)
            waits.append(due - now)
            # nothing is sent before its time
            early = webhooks.deliver_due(engine, now=due - timedelta(seconds=1), max_attempts=4)
            assert early.attempted == 0
            now = due
    assert waits == [timedelta(minutes=1), timedelta(minutes=2), timedelta(minutes=4)]
    rows = deliveries(engine)
    assert {(r.status, r.attempts, r.last_error) for r in rows} == {("failed", 4, "HTTP 500")}
    assert webhooks.deliver_due(engine, now=now + timedelta(days=3)).attempted == 0
    assert len(receiver.received) == 16
    # every retry of one event carries the same event id
    ids = [h["respite-event-id"] for h, _ in receiver.received]
    assert all(ids.count(i) == 4 for i in ids)


def test_a_retry_after_a_server_error_is_delivered(engine: Engine, receiver: Receiver) -> None:
    receiver.statuses = [503, 200]
    endpoint(engine, receiver.url, event_kinds=["transition"])
    ref = take_in(engine)[0]
    move_case(engine, ref, Stage.FORMAL_NOTICE, on=ON, actor="cycle", reason="step", at=T1)
    enqueue(engine)
    assert webhooks.deliver_due(engine, now=T1).retrying == 1
    assert webhooks.deliver_due(engine, now=T1 + timedelta(minutes=1)).delivered == 1
    (row,) = deliveries(engine)
    assert (row.status, row.attempts) == ("delivered", 2)


def test_queuing_twice_and_delivering_twice_sends_each_event_once(
    engine: Engine, receiver: Receiver
) -> None:
    endpoint(engine, receiver.url)
    take_in(engine)
    assert enqueue(engine) == 4
    assert enqueue(engine, T1 + timedelta(minutes=1)) == 0
    webhooks.deliver_due(engine, now=T1)
    webhooks.deliver_due(engine, now=T1 + timedelta(hours=1), ignore_schedule=True)
    assert len(receiver.received) == 4
    assert len({h["respite-event-id"] for h, _ in receiver.received}) == 4


def test_an_event_committed_after_a_newer_one_was_queued_is_still_queued(
    engine: Engine, receiver: Receiver
) -> None:
    endpoint(engine, receiver.url)
    refs = take_in(engine, at=T1 + timedelta(minutes=10))
    assert enqueue(engine, T1 + timedelta(minutes=11)) == 4
    # a long transaction stamped its event when it began, and commits only now
    move_case(engine, refs[0], Stage.FORMAL_NOTICE, on=ON, actor="cycle", reason="step", at=T1)
    assert enqueue(engine, T1 + timedelta(minutes=12)) == 1


def test_two_delivery_runs_at_the_same_time_send_each_delivery_once(
    engine: Engine, receiver: Receiver
) -> None:
    receiver.delay = 0.1
    endpoint(engine, receiver.url)
    take_in(engine)
    enqueue(engine)
    runs = [
        threading.Thread(target=webhooks.deliver_due, args=(engine,), kwargs={"now": T1})
        for _ in range(2)
    ]
    for run in runs:
        run.start()
    for run in runs:
        run.join()
    assert len(receiver.received) == 4
    assert {r.status for r in deliveries(engine)} == {"delivered"}


def test_only_the_creditors_own_visible_events_since_registration_are_queued(
    engine: Engine, receiver: Receiver
) -> None:
    take_in(engine, at=T0 - timedelta(hours=1))  # before the endpoint existed
    endpoint(engine, receiver.url)
    mine = take_in(engine, PHONE)  # the phone company's endpoint is not the water company's
    endpoint(engine, receiver.url, PHONE, event_kinds=["hold_placed"])
    place_hold(
        engine, mine[0], HoldKind.VULNERABILITY_REVIEW, on=ON, actor="a", reason="ill", at=T1
    )
    with engine.begin() as conn:
        case_id = conn.execute(select(Case.id).where(Case.reference == mine[1])).scalar_one()
        conn.execute(
            insert(Event).values(
                case_id=case_id,
                business_date=ON,
                recorded_at=T1,
                actor="debtor:portal",
                kind="portal_login",
                reason="",
                before={},
                after={},
            )
        )
    assert enqueue(engine) == 1
    webhooks.deliver_due(engine, now=T1)
    (payload,) = [json.loads(b) for _, b in receiver.received]
    assert (payload["kind"], payload["case_reference"]) == ("hold_placed", mine[0])
    assert (payload["after"], payload["reason"]) == ({"holds": "protected"}, None)


def test_an_unreachable_endpoint_counts_as_a_failed_attempt(engine: Engine) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    endpoint(engine, f"http://127.0.0.1:{port}/hooks", event_kinds=["opened"])
    take_in(engine)
    enqueue(engine)
    report = webhooks.deliver_due(engine, now=T1)
    assert (report.attempted, report.retrying) == (4, 4)
    assert {r.last_error for r in deliveries(engine)} == {"ConnectError"}


def test_a_removed_endpoint_gets_nothing_more(engine: Engine, receiver: Receiver) -> None:
    made = endpoint(engine, receiver.url)
    take_in(engine)
    enqueue(engine)
    with engine.begin() as conn:
        webhooks.remove_endpoint(conn, creditor_id(engine, WATER), made["id"])
    assert webhooks.deliver_due(engine, now=T1).attempted == 0
    assert enqueue(engine) == 0
    assert receiver.received == []
    assert {r.last_error for r in deliveries(engine)} == {"endpoint removed"}


def test_the_cli_registers_an_endpoint_and_delivers(
    engine: Engine, receiver: Receiver, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from respite.entrypoints.cli.main import app

    monkeypatch.setenv("RESPITE_DATABASE_URL", db_url)
    runner = CliRunner()
    added = runner.invoke(app, ["webhooks", "add", WATER, receiver.url])
    assert added.exit_code == 0, added.output
    secret = json.loads(added.output)["secret"]
    # the CLI stamps the endpoint with the real clock: these events come after it
    take_in(engine, at=datetime.now(UTC) + timedelta(seconds=1))
    sent = runner.invoke(app, ["webhooks", "deliver"])
    assert sent.exit_code == 0, sent.output
    assert json.loads(sent.output) == {
        "queued": 4,
        "attempted": 4,
        "delivered": 4,
        "retrying": 0,
        "failed": 0,
    }
    assert all(
        webhooks.verify_signature(secret, body, h["respite-signature"])
        for h, body in receiver.received
    )
