"""Tenant isolation: a creditor's key can never read or change another creditor's data.

Every route of ``/api/v1`` is taken from the app itself and tried with creditor B's key
(every scope) on creditor A's objects. A route with an object in its path must answer 404
exactly as for an object that does not exist; a route without one must not show any of
A's data; and A's data must be the same afterwards, byte for byte. A route added to the
API without an entry in ``ATTEMPTS`` fails the test: isolation is checked by construction.

A and B share a debtor (Anna owes both), so "B sees nothing of A" is tested where it is
hardest: the same person, another creditor.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, text

from respite.adapters.db.models import (
    AuditEntry,
    Case,
    Claim,
    Event,
    Hold,
    IdempotencyKey,
    LedgerEntry,
    Payout,
    WebhookEndpoint,
)
from respite.services import payouts
from respite.services.payments import book_payment
from tests.e2e.portal_data import Portfolio, seed
from tests.integration.test_api import NOW, make_app, new_key
from tests.integration.test_sepa import AGENCY

A_NAME, B_NAME = "Stroom & Water BV", "Bel Mobiel NV"


@dataclass
class World:
    client: TestClient
    engine: Engine
    portfolio: Portfolio
    a_key: str
    b_key: str
    a_payout: int
    a_webhook: int

    def call(self, key: str, method: str, path: str, **kw: Any) -> Any:
        headers = {"Authorization": f"Bearer {key}", **kw.pop("headers", {})}
        return self.client.request(method, f"/api/v1{path}", headers=headers, **kw)


@pytest.fixture
def world(db_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> World:
    monkeypatch.setenv("RESPITE_DATA_KEY_FILE", str(tmp_path / "data.key"))
    portfolio = seed(db_engine)
    on = portfolio.on
    with db_engine.begin() as conn:
        conn.execute(
            text("UPDATE creditors SET policy = :p WHERE id = :id"),
            {
                "p": json.dumps(
                    {"payout_iban": "DE89370400440532013000", "commission_basis_points": 1000}
                ),
                "id": portfolio.utility_creditor,
            },
        )
        case_id = conn.execute(
            select(Case.id).where(Case.reference == portfolio.utility_case)
        ).scalar_one()
        book_payment(conn, case_id, 5000, date(2025, 2, 3), "bank-a", now=NOW, jurisdiction="NL")
        payouts.run_payouts(
            conn, date(2025, 2, 1), date(2025, 2, 10), version="09", on=on, at=NOW, agency=AGENCY
        )
        payout = conn.execute(select(Payout.id)).scalar_one()
    a_key, b_key = new_key(db_engine, A_NAME), new_key(db_engine, B_NAME)
    client = make_app(db_engine, on=on)
    hook = client.post(
        "/api/v1/webhooks",
        headers={"Authorization": f"Bearer {a_key}"},
        json={"url": "https://a.example.com/hooks"},
    )
    assert hook.status_code == 201
    # A used an idempotency key; B using the same one must not get A's answer.
    first = client.post(
        "/api/v1/claims",
        headers={"Authorization": f"Bearer {a_key}", "Idempotency-Key": "shared-key"},
        json=_claim("A-ONLY-1"),
    )
    assert first.status_code == 201
    return World(client, db_engine, portfolio, a_key, b_key, payout, int(hook.json()["id"]))


def _claim(ref: str) -> dict[str, str]:
    return {
        "external_ref": ref,
        "debtor_type": "consumer",
        "debtor_name": "Kees Bakker",
        "debtor_birth_date": "1990-01-01",
        "issue_date": "2025-01-01",
        "due_date": "2025-01-15",
        "amount": "10.00",
    }


def snapshot_of_a(world: World) -> dict[str, list[Any]]:
    """Everything of creditor A, as stored."""
    a = world.portfolio.utility_creditor
    with world.engine.connect() as conn:
        cases = select(Case.id).where(Case.creditor_id == a).scalar_subquery()
        claims = select(Claim.id).where(Claim.creditor_id == a).scalar_subquery()
        queries = {
            "cases": select(Case).where(Case.creditor_id == a).order_by(Case.id),
            "claims": select(Claim).where(Claim.creditor_id == a).order_by(Claim.id),
            "ledger": select(LedgerEntry)
            .where(LedgerEntry.claim_id.in_(claims))
            .order_by(LedgerEntry.id),
            "events": select(Event).where(Event.case_id.in_(cases)).order_by(Event.id),
            "holds": select(Hold).where(Hold.case_id.in_(cases)).order_by(Hold.id),
            "payouts": select(Payout).where(Payout.creditor_id == a).order_by(Payout.id),
            "webhooks": select(WebhookEndpoint)
            .where(WebhookEndpoint.creditor_id == a)
            .order_by(WebhookEndpoint.id),
            "idempotency": select(IdempotencyKey)
            .where(IdempotencyKey.creditor_id == a)
            .order_by(IdempotencyKey.id),
        }
        return {name: [tuple(r) for r in conn.execute(q)] for name, q in queries.items()}


def a_identifiers(world: World) -> set[str]:
    """Strings that would betray A's data in an answer to B."""
    p = world.portfolio
    return {
        p.utility_case,
        p.other_case,
        "UTIL-1001",
        "UTIL-2002",
        "A-ONLY-1",
        "Piet Jansen",
        A_NAME,
        "a.example.com",
        "bank-a",
    }


# --- one attempt per route --------------------------------------------------------------
# Each returns (response to B on A's object, response to B on an object that does not
# exist, or None when the route has no object in its path).

Attempt = Callable[[World], tuple[Any, Any | None]]


def _pair(method: str, template: str, real: str, missing: str, **kw: Any) -> Attempt:
    def attempt(w: World) -> tuple[Any, Any]:
        value = real.format(w=w, p=w.portfolio)
        return (
            w.call(w.b_key, method, template.format(value), **kw),
            w.call(w.b_key, method, template.format(missing), **kw),
        )

    return attempt


def _alone(method: str, path: str, **kw: Any) -> Attempt:
    def attempt(w: World) -> tuple[Any, None]:
        return w.call(w.b_key, method, path, **kw), None

    return attempt


def _csv_with_a_refs(w: World) -> tuple[Any, None]:
    # B may use the same invoice numbers as A: they are B's own claims then.
    claim = _claim("UTIL-2002")  # not the one the claim routes below are tried on
    body = ",".join(claim) + "\n" + ",".join(claim.values()) + "\n"
    return (
        w.call(w.b_key, "POST", "/claims/csv", content=body, headers={"Content-Type": "text/csv"}),
        None,
    )


def _json_with_shared_idempotency_key(w: World) -> tuple[Any, None]:
    response = w.call(
        w.b_key,
        "POST",
        "/claims",
        json=_claim("A-ONLY-1"),
        headers={"Idempotency-Key": "shared-key"},
    )
    return response, None


ATTEMPTS: dict[tuple[str, str], Attempt] = {
    ("GET", "/api/v1/me"): _alone("GET", "/me"),
    ("POST", "/api/v1/claims"): _json_with_shared_idempotency_key,
    ("POST", "/api/v1/claims/csv"): _csv_with_a_refs,
    ("GET", "/api/v1/claims/{external_ref}"): _pair(
        "GET", "/claims/{}", "UTIL-1001", "NO-SUCH-REF"
    ),
    ("POST", "/api/v1/claims/{external_ref}/correction"): _pair(
        "POST",
        "/claims/{}/correction",
        "UTIL-1001",
        "NO-SUCH-REF",
        json={"amount": "1.00", "reason": "mine now"},
    ),
    ("GET", "/api/v1/cases"): _alone("GET", "/cases?per_page=500"),
    ("GET", "/api/v1/cases/{reference}"): _pair(
        "GET", "/cases/{}", "{p.utility_case}", "R999999999"
    ),
    ("GET", "/api/v1/cases/{reference}/timeline"): _pair(
        "GET", "/cases/{}/timeline", "{p.utility_case}", "R999999999"
    ),
    ("POST", "/api/v1/cases/{reference}/recall"): _pair(
        "POST", "/cases/{}/recall", "{p.utility_case}", "R999999999", json={"reason": "mine"}
    ),
    ("GET", "/api/v1/collections"): _alone("GET", "/collections?from=2025-01-01&to=2025-12-31"),
    ("GET", "/api/v1/remittances"): _alone("GET", "/remittances"),
    ("GET", "/api/v1/remittances/{remittance_id}"): _pair(
        "GET", "/remittances/{}", "{w.a_payout}", "999999"
    ),
    ("GET", "/api/v1/webhooks"): _alone("GET", "/webhooks"),
    ("POST", "/api/v1/webhooks"): _alone(
        "POST", "/webhooks", json={"url": "https://b.example.com/hooks"}
    ),
    ("DELETE", "/api/v1/webhooks/{webhook_id}"): _pair(
        "DELETE", "/webhooks/{}", "{w.a_webhook}", "999999"
    ),
}


# The published contract itself: no key, no data.
PUBLIC = {("GET", "/api/v1/openapi.json"), ("GET", "/api/v1/docs")}


def api_routes(client: TestClient) -> set[tuple[str, str]]:
    """(method, path) of every route under /api/v1, however the routers are nested.

    FastAPI 0.16x keeps an included router as one entry of ``app.routes`` and exposes
    its routes through ``effective_route_contexts()``; plain routes sit there directly.
    """
    found: set[tuple[str, str]] = set()
    for entry in client.app.routes:  # type: ignore[attr-defined]
        contexts = getattr(entry, "effective_route_contexts", None)
        routes = (
            [(c.path, c.original_route) for c in contexts()]
            if contexts
            else [(getattr(entry, "path", ""), entry)]
        )
        for path, route in routes:
            if path.startswith("/api/v1"):
                methods = getattr(route, "methods", None) or {"GET"}
                found.update((m, path) for m in set(methods) - {"HEAD"})
    return found - PUBLIC


def test_every_api_route_has_a_cross_tenant_attempt(world: World) -> None:
    routes = api_routes(world.client)
    assert routes, "no API routes found"
    missing = routes - set(ATTEMPTS)
    assert not missing, f"routes without a cross-tenant test: {sorted(missing)}"
    assert not set(ATTEMPTS) - routes, "attempts for routes that no longer exist"
    for method, path in PUBLIC:
        assert world.client.request(method, path).status_code == 200


def test_creditor_b_cannot_read_or_change_creditor_as_data_on_any_route(world: World) -> None:
    """Every route in turn, on one portfolio; every failure of every route is listed."""
    b_actor = f"api:{world.b_key.split('_')[1]}"
    failures: list[str] = []
    for route, attempt in sorted(ATTEMPTS.items()):
        before, reads = snapshot_of_a(world), _reads_by(world, b_actor)
        answer, unknown = attempt(world)
        failures.extend(f"{route[0]} {route[1]}: {p}" for p in _problems(world, answer, unknown))
        if snapshot_of_a(world) != before:
            failures.append(f"{route[0]} {route[1]}: A's data changed")
        if _reads_by(world, b_actor) != reads:
            failures.append(f"{route[0]} {route[1]}: B read a debtor's data")
    assert not failures, "\n".join(failures)


def _reads_by(world: World, actor: str) -> int:
    """B's audited reads (no attempt reads B's own case: a new one was of A's debtor)."""
    with world.engine.connect() as conn:
        return len(conn.execute(select(AuditEntry.id).where(AuditEntry.actor == actor)).all())


def _problems(world: World, answer: Any, unknown: Any | None) -> list[str]:
    if unknown is None:
        if answer.status_code >= 400:
            return [f"B's own request failed: {answer.status_code} {answer.text[:200]}"]
        leaked = sorted(s for s in a_identifiers(world) if s in answer.text)
        return [f"showed A's data to B: {leaked}"] if leaked else []
    if answer.status_code != 404:
        return [f"answered {answer.status_code} on A's object, not 404"]
    # the same answer as for an object that does not exist, apart from the id asked
    if answer.json().keys() != {"detail"} or unknown.status_code != 404:
        return ["the 404 differs from the one for an unknown object"]
    if answer.json()["detail"].split()[:-1] != unknown.json()["detail"].split()[:-1]:
        return ["the 404 message differs from the one for an unknown object"]
    return []


def test_a_shared_idempotency_key_gives_b_its_own_answer_not_as(world: World) -> None:
    answer, _ = _json_with_shared_idempotency_key(world)
    assert answer.status_code == 201
    assert answer.json()["creditor"] == B_NAME
    assert "idempotent-replayed" not in answer.headers
