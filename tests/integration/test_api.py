"""The creditor API on real SQLite and PostgreSQL: keys, intake, status, commands, money.

"Done when" of the issue, as a test: a creditor is created, gets a key, uploads claims
and follows them (``test_a_creditor_with_a_new_key_uploads_claims_and_follows_them``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, insert, select
from typer.testing import CliRunner

from respite.adapters.clock import FixedClock
from respite.adapters.db.models import (
    ApiKey,
    AuditEntry,
    Base,
    Case,
    Claim,
    Event,
    LedgerEntry,
)
from respite.domain.lifecycle import HoldKind, Stage
from respite.entrypoints.web.app import create_app
from respite.entrypoints.web.settings import WebSettings
from respite.services.api_keys import SCOPES, create_key, revoke_key
from respite.services.cases import move_case, place_hold
from respite.services.intake import register_creditor
from respite.services.payments import book_payment

DATA = Path(__file__).resolve().parents[1] / "data"
ON = date(2026, 1, 5)
NOW = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
WATER, PHONE = "Waterbedrijf Oost", "Telecom Noord"


@dataclass
class Api:
    client: TestClient
    engine: Engine
    keys: dict[str, str]  # creditor name -> plaintext key with every scope

    def headers(self, creditor: str = WATER, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[creditor]}", **extra}

    def get(self, path: str, creditor: str = WATER) -> Any:
        return self.client.get(f"/api/v1{path}", headers=self.headers(creditor))

    def post(self, path: str, creditor: str = WATER, **kw: Any) -> Any:
        extra = kw.pop("headers", {})
        return self.client.post(f"/api/v1{path}", headers=self.headers(creditor, **extra), **kw)


def new_key(engine: Engine, creditor: str, scopes: str | tuple[str, ...] = SCOPES) -> str:
    with engine.begin() as conn:
        return create_key(conn, creditor, scopes, label="test", now=NOW).key


def make_app(engine: Engine, on: date = ON, now: datetime = NOW) -> TestClient:
    app = create_app(engine, WebSettings(business_date=on), FixedClock(now))
    return TestClient(app)


@pytest.fixture
def api(db_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Api]:
    monkeypatch.setenv("RESPITE_DATA_KEY_FILE", str(tmp_path / "data.key"))
    monkeypatch.delenv("RESPITE_DATA_KEY", raising=False)
    for name in (WATER, PHONE):
        register_creditor(db_engine, name, jurisdiction="NL", now=NOW)
    keys = {name: new_key(db_engine, name) for name in (WATER, PHONE)}
    with make_app(db_engine) as client:
        yield Api(client, db_engine, keys)


def counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            t.name: int(conn.execute(select(func.count()).select_from(t)).scalar_one())
            for t in Base.metadata.sorted_tables
            if t.name not in ("api_keys", "audit_log", "alembic_version")
        }


def upload_csv(
    api: Api, path: Path = DATA / "claims_ok.csv", creditor: str = WATER, **kw: Any
) -> Any:
    files = {"file": (path.name, path.read_bytes(), "text/csv")}
    return api.post("/claims/csv", creditor, files=files, **kw)


# --- the whole journey ----------------------------------------------------------------


def test_a_creditor_with_a_new_key_uploads_claims_and_follows_them(api: Api) -> None:
    register_creditor(api.engine, "Gemeente Zuid", jurisdiction="NL", now=NOW)
    key = new_key(api.engine, "Gemeente Zuid", ("claims:write", "cases:read"))
    auth = {"Authorization": f"Bearer {key}"}

    sent = api.client.post(
        "/api/v1/claims/csv",
        headers={**auth, "Content-Type": "text/csv"},
        content=(DATA / "claims_ok.csv").read_bytes(),
    )
    assert sent.status_code == 201, sent.text
    result = sent.json()
    assert (result["rows_imported"], result["cases_opened"]) == (6, 4)
    assert result["creditor"] == "Gemeente Zuid"

    listed = api.client.get("/api/v1/cases?status=open", headers=auth).json()
    assert [c["reference"] for c in listed["items"]] == result["cases"]
    first = listed["items"][0]
    assert first["external_refs"] == ["WBO-2025-10231", "WBO-2025-11187"]
    assert (first["principal"], first["outstanding"]) == ("100.85", "100.85")

    status = api.client.get(f"/api/v1/cases/{first['reference']}", headers=auth).json()
    assert status["stage"] == "friendly_reminder"
    assert status["debtor"] == {"name": "Anna de Vries", "kind": "consumer", "country": "NL"}
    assert status["open"] == {
        "principal": "100.85",
        "interest": "0.00",
        "costs": "0.00",
        "total": "100.85",
    }
    timeline = api.client.get(f"/api/v1/cases/{first['reference']}/timeline", headers=auth).json()
    assert [e["kind"] for e in timeline["items"]] == ["opened"]
    assert timeline["items"][0]["after"]["claims"] == "WBO-2025-10231,WBO-2025-11187"


def test_a_csv_with_a_bad_row_is_refused_whole_with_every_problem(api: Api) -> None:
    before = counts(api.engine)
    response = upload_csv(api, DATA / "claims_bad.csv")
    assert response.status_code == 422
    body = response.json()
    assert body["imported"] is False
    assert (body["rows_total"], body["rows_invalid"]) == (5, 1)
    assert {(p["row"], p["field"]) for p in body["problems"]} == {
        (4, "debtor_iban"),
        (4, "amount"),
    }
    assert "nothing imported" in body["detail"]
    assert counts(api.engine) == before


def test_json_takes_one_claim_a_list_or_a_claims_object(api: Api) -> None:
    claims = json.loads((DATA / "claims.json").read_text())["claims"]
    one = api.post("/claims", json=claims[0])
    listed = api.post("/claims", json=[claims[1]])
    wrapped = api.post("/claims", json={"claims": [claims[2]]})
    assert [r.status_code for r in (one, listed, wrapped)] == [201, 201, 201]
    with api.engine.connect() as conn:
        refs = set(conn.execute(select(Claim.external_ref)).scalars())
    assert refs == {"TEL-884120", "TEL-884121", "TEL-884122"}
    # a JSON number is read as a decimal, never a float: 412.35 stays 41235 cents
    assert api.get("/claims/TEL-884121").json()["principal"] == "412.35"


def test_a_bad_json_claim_is_reported_by_its_position(api: Api) -> None:
    claims = json.loads((DATA / "claims.json").read_text())["claims"]
    claims[1]["amount"] = "-3"
    claims[2]["debtor_type"] = "alien"
    response = api.post("/claims", json={"claims": claims})
    assert response.status_code == 422
    assert {(p["row"], p["field"]) for p in response.json()["problems"]} == {
        (2, "amount"),
        (3, "debtor_type"),
    }
    assert api.get("/cases").json()["total"] == 0


def test_too_many_json_claims_at_once_are_refused_in_favour_of_csv(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    from respite.entrypoints.api import routes

    monkeypatch.setattr(routes, "MAX_JSON_CLAIMS", 2)
    response = api.post("/claims", content=(DATA / "claims.json").read_bytes())
    assert response.status_code == 400
    assert "at most 2" in response.json()["detail"]
    assert api.get("/cases").json()["total"] == 0


def test_a_body_that_is_not_a_claims_file_is_a_400_naming_the_problem(api: Api) -> None:
    response = api.post("/claims", content=b'{"claims": [1, 2')
    assert response.status_code == 400
    assert "not valid JSON" in response.json()["detail"]


# --- keys -----------------------------------------------------------------------------


def test_missing_malformed_unknown_wrong_and_revoked_keys_get_the_same_401(api: Api) -> None:
    key_id = api.keys[WATER].split("_")[1]
    wrong_secret = f"rsp_{key_id}_{'0' * 64}"
    unknown = f"rsp_{'0' * 16}_{'0' * 64}"
    revoked = new_key(api.engine, WATER)
    with api.engine.begin() as conn:
        revoke_key(conn, revoked.split("_")[1], now=NOW)
    answers = [
        api.client.get("/api/v1/cases"),
        api.client.get("/api/v1/cases", headers={"Authorization": "Bearer nonsense"}),
        api.client.get("/api/v1/cases", headers={"Authorization": f"Basic {api.keys[WATER]}"}),
        *(
            api.client.get("/api/v1/cases", headers={"Authorization": f"Bearer {k}"})
            for k in (unknown, wrong_secret, revoked)
        ),
    ]
    assert {r.status_code for r in answers} == {401}
    assert {r.text for r in answers} == {'{"detail":"missing, unknown or revoked API key"}'}
    assert all(r.headers["www-authenticate"] == "Bearer" for r in answers)
    assert api.get("/cases").status_code == 200  # the right key still works


def test_a_key_without_the_scope_gets_403_and_changes_nothing(api: Api) -> None:
    reader = new_key(api.engine, WATER, ("cases:read",))
    before = counts(api.engine)
    response = api.client.post(
        "/api/v1/claims/csv",
        headers={"Authorization": f"Bearer {reader}", "Content-Type": "text/csv"},
        content=(DATA / "claims_ok.csv").read_bytes(),
    )
    assert response.status_code == 403
    assert response.json() == {"detail": "this API key lacks the scope claims:write"}
    assert counts(api.engine) == before


def test_only_the_argon2id_hash_of_a_key_secret_is_stored(api: Api) -> None:
    secret = api.keys[WATER].split("_")[2]
    with api.engine.connect() as conn:
        stored = conn.execute(select(ApiKey.secret_hash, ApiKey.key_id)).all()
    assert all(h.startswith("$argon2id$") for h, _ in stored)
    assert not any(secret in h or secret in k for h, k in stored)


def test_the_key_cli_prints_a_key_once_and_lists_only_ids(
    api: Api, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from respite.entrypoints.cli.creditors import creditor_app

    monkeypatch.setenv("RESPITE_DATABASE_URL", db_url)
    runner = CliRunner()
    made = runner.invoke(creditor_app, ["key", "create", WATER, "--scopes", "cases:read"])
    assert made.exit_code == 0, made.output
    key = json.loads(made.output)["key"]
    assert (
        api.client.get("/api/v1/cases", headers={"Authorization": f"Bearer {key}"}).status_code
        == 200
    )
    listed = runner.invoke(creditor_app, ["key", "list", WATER])
    assert listed.exit_code == 0
    assert key.split("_")[2] not in listed.output
    assert key.split("_")[1] in listed.output
    revoked = runner.invoke(creditor_app, ["key", "revoke", key.split("_")[1]])
    assert revoked.exit_code == 0
    assert (
        api.client.get("/api/v1/cases", headers={"Authorization": f"Bearer {key}"}).status_code
        == 401
    )


def test_last_use_is_stamped_but_never_waited_for(api: Api) -> None:
    key_id = api.keys[WATER].split("_")[1]

    def last_used() -> Any:
        with api.engine.connect() as conn:
            return conn.execute(
                select(ApiKey.last_used_at).where(ApiKey.key_id == key_id)
            ).scalar_one()

    assert last_used() is None
    with api.engine.connect() as blocker:  # another writer holds the lock meanwhile
        if blocker.dialect.name == "sqlite":
            blocker.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            blocker.execute(select(ApiKey.id).where(ApiKey.key_id == key_id).with_for_update())
        started = time.monotonic()
        assert api.get("/cases").status_code == 200
        assert time.monotonic() - started < 5  # SQLite's busy timeout is 30 s
        blocker.rollback()
    assert last_used() is None
    assert api.get("/cases").status_code == 200
    assert last_used() is not None


# --- idempotency ----------------------------------------------------------------------


def test_a_retry_with_the_same_idempotency_key_replays_the_first_answer(api: Api) -> None:
    first = upload_csv(api, headers={"Idempotency-Key": "batch-2026-01-05"})
    after_first = counts(api.engine)
    again = upload_csv(api, headers={"Idempotency-Key": "batch-2026-01-05"})
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert counts(api.engine) == after_first  # nothing imported twice


def test_an_idempotency_key_reused_for_another_request_is_a_conflict(api: Api) -> None:
    assert upload_csv(api, headers={"Idempotency-Key": "k1"}).status_code == 201
    before = counts(api.engine)
    other = api.post(
        "/claims",
        json=json.loads((DATA / "claims.json").read_text()),
        headers={"Idempotency-Key": "k1"},
    )
    assert other.status_code == 409
    assert counts(api.engine) == before
    # keys are per creditor: another creditor may use the same one
    assert upload_csv(api, creditor=PHONE, headers={"Idempotency-Key": "k1"}).status_code == 201


def test_a_failed_request_is_not_remembered_so_its_corrected_retry_runs(api: Api) -> None:
    refused = upload_csv(api, DATA / "claims_bad.csv", headers={"Idempotency-Key": "k2"})
    assert refused.status_code == 422
    again = upload_csv(api, DATA / "claims_bad.csv", headers={"Idempotency-Key": "k2"})
    assert again.status_code == 422
    assert "idempotent-replayed" not in again.headers


# --- reads and the audit log ----------------------------------------------------------


def audit_rows(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(select(AuditEntry).order_by(AuditEntry.id)).all())


def test_reading_a_case_or_its_timeline_is_audited_with_key_debtor_and_purpose(api: Api) -> None:
    ref = upload_csv(api).json()["cases"][0]
    key_id = api.keys[WATER].split("_")[1]
    assert api.get("/cases").status_code == 200  # a list carries no personal data
    assert audit_rows(api.engine) == []
    api.get(f"/cases/{ref}")
    api.get(f"/cases/{ref}/timeline")
    with api.engine.connect() as conn:
        debtor = conn.execute(select(Case.debtor_id).where(Case.reference == ref)).scalar_one()
    rows = audit_rows(api.engine)
    assert [(r.actor, r.action, r.subject_type, r.subject_id) for r in rows] == [
        (f"api:{key_id}", "read_debtor", "debtor", str(debtor)),
        (f"api:{key_id}", "read_case_timeline", "debtor", str(debtor)),
    ]
    assert all(ref in r.purpose for r in rows)
    assert all(r.client for r in rows)


def test_cases_are_paged_and_filtered_by_status(api: Api) -> None:
    refs = upload_csv(api).json()["cases"]
    page1 = api.get("/cases?per_page=3").json()
    page2 = api.get("/cases?per_page=3&page=2").json()
    assert [c["reference"] for c in page1["items"] + page2["items"]] == refs
    assert (page1["next_page"], page2["next_page"], page1["total"]) == (2, None, 4)
    api.post(f"/cases/{refs[1]}/recall", json={"reason": "sold the claim"})
    assert [c["reference"] for c in api.get("/cases?status=closed").json()["items"]] == [refs[1]]
    assert len(api.get("/cases?status=open").json()["items"]) == 3
    assert api.get("/cases?per_page=501").status_code == 422


def test_a_protected_hold_shows_as_protected_without_its_reason(api: Api) -> None:
    ref = upload_csv(api).json()["cases"][0]
    place_hold(
        api.engine,
        ref,
        HoldKind.VULNERABILITY_REVIEW,
        on=ON,
        actor="agent:sam",
        reason="debtor told us about a serious illness",
        at=NOW,
    )
    status = api.get(f"/cases/{ref}").json()
    assert status["on_hold"] is True
    assert [h["kind"] for h in status["holds"]] == ["protected"]
    text = api.get(f"/cases/{ref}/timeline").text
    assert "illness" not in text
    assert "vulnerability" not in text
    placed = api.get(f"/cases/{ref}/timeline").json()["items"][-1]
    assert (placed["kind"], placed["reason"], placed["after"]) == (
        "hold_placed",
        None,
        {"holds": "protected"},
    )


def test_events_about_the_debtors_own_conduct_are_not_in_the_creditors_timeline(api: Api) -> None:
    ref = upload_csv(api).json()["cases"][0]
    with api.engine.begin() as conn:
        case_id = conn.execute(select(Case.id).where(Case.reference == ref)).scalar_one()
        for kind in ("portal_login", "circumstances_disclosed", "contact_preference"):
            conn.execute(
                insert(Event).values(
                    case_id=case_id,
                    business_date=ON,
                    recorded_at=NOW,
                    actor="debtor:portal",
                    kind=kind,
                    reason="private",
                    before={},
                    after={},
                )
            )
    kinds = [e["kind"] for e in api.get(f"/cases/{ref}/timeline").json()["items"]]
    assert kinds == ["opened"]


# --- recall ---------------------------------------------------------------------------


def test_recall_closes_the_case_as_recalled_with_the_reason_in_the_timeline(api: Api) -> None:
    ref = upload_csv(api).json()["cases"][0]
    key_id = api.keys[WATER].split("_")[1]
    response = api.post(f"/cases/{ref}/recall", json={"reason": "customer paid us directly"})
    assert response.status_code == 200
    assert (response.json()["stage"], response.json()["close_reason"]) == ("closed", "recalled")
    last = api.get(f"/cases/{ref}/timeline").json()["items"][-1]
    assert (last["kind"], last["actor"]) == ("transition", f"api:{key_id}")
    assert last["reason"] == "recalled by the creditor: customer paid us directly"
    again = api.post(f"/cases/{ref}/recall", json={"reason": "twice"})
    assert again.status_code == 409


def test_recall_is_allowed_on_hold_and_refused_during_legal_handover(api: Api) -> None:
    held, legal = upload_csv(api).json()["cases"][:2]
    place_hold(api.engine, held, HoldKind.DISPUTE, on=ON, actor="agent:a", reason="x", at=NOW)
    assert api.post(f"/cases/{held}/recall", json={"reason": "settled"}).status_code == 200
    for stage in (Stage.FORMAL_NOTICE, Stage.AMICABLE, Stage.LEGAL_SCREENING, Stage.LEGAL_HANDOVER):
        move_case(api.engine, legal, stage, on=ON, actor="agent:a", reason="test", at=NOW)
    response = api.post(f"/cases/{legal}/recall", json={"reason": "too late"})
    assert response.status_code == 409
    assert "court or bailiff" in response.json()["detail"]
    assert api.get(f"/cases/{legal}").json()["stage"] == "legal_handover"


def test_a_recall_without_a_reason_is_refused(api: Api) -> None:
    ref = upload_csv(api).json()["cases"][0]
    assert api.post(f"/cases/{ref}/recall", json={"reason": "   "}).status_code == 400
    assert api.post(f"/cases/{ref}/recall", json={}).status_code == 422
    assert api.get(f"/cases/{ref}").json()["closed"] is False


# --- correction -----------------------------------------------------------------------


def ledger(engine: Engine, external_ref: str) -> list[tuple[str, str | None, int, str]]:
    with engine.connect() as conn:
        return [
            (r.kind, r.bucket, r.amount_cents, r.memo)
            for r in conn.execute(
                select(LedgerEntry)
                .join(Claim, Claim.id == LedgerEntry.claim_id)
                .where(Claim.external_ref == external_ref)
                .order_by(LedgerEntry.seq)
            )
        ]


def test_a_lower_principal_is_written_off_in_the_ledger_with_an_event(api: Api) -> None:
    upload_csv(api)
    response = api.post(
        "/claims/WBO-2025-10877/correction", json={"amount": "1.200,00", "reason": "credit note 7"}
    )
    assert response.status_code == 200, response.text
    claim = response.json()
    assert (claim["principal"], claim["open_principal"]) == ("1200.00", "1200.00")
    assert ledger(api.engine, "WBO-2025-10877") == [
        ("charge", "principal", 123456, "principal of WBO-2025-10877"),
        ("write_off", "principal", 3456, "correction by the creditor: credit note 7"),
    ]
    event = api.get(f"/cases/{claim['case_reference']}/timeline").json()["items"][-1]
    assert event["kind"] == "claim_corrected"
    assert (event["before"]["principal"], event["after"]["principal"]) == ("1234.56", "1200.00")


def test_a_correction_cannot_raise_the_principal_nor_take_back_what_was_paid(api: Api) -> None:
    ref = upload_csv(api).json()["cases"][1]  # WBO-2025-10877, 1234.56
    higher = api.post("/claims/WBO-2025-10877/correction", json={"amount": "1300", "reason": "x"})
    assert higher.status_code == 400
    with api.engine.begin() as conn:
        case_id = conn.execute(select(Case.id).where(Case.reference == ref)).scalar_one()
        book_payment(conn, case_id, 100_000, ON, "bank-1", now=NOW, jurisdiction="NL")
    below_paid = api.post(
        "/claims/WBO-2025-10877/correction", json={"amount": "200.00", "reason": "x"}
    )
    assert below_paid.status_code == 409
    assert "already paid" in below_paid.json()["detail"]
    ok = api.post("/claims/WBO-2025-10877/correction", json={"amount": "1000.00", "reason": "x"})
    assert ok.status_code == 200
    assert (ok.json()["principal"], ok.json()["open_principal"]) == ("1000.00", "0.00")


def test_a_due_date_is_corrected_only_before_interest_accrues(api: Api) -> None:
    upload_csv(api)
    moved = api.post(
        "/claims/WBO-2025-10231/correction", json={"due_date": "2025-10-31", "reason": "typo"}
    )
    assert moved.status_code == 200
    assert moved.json()["due_date"] == "2025-10-31"
    with api.engine.connect() as conn:
        start = conn.execute(
            select(Claim.default_start).where(Claim.external_ref == "WBO-2025-10231")
        ).scalar_one()
    assert start == date(2025, 11, 1)  # interest runs from the day after the new due date
    future = api.post(
        "/claims/WBO-2025-10231/correction", json={"due_date": "2026-02-01", "reason": "x"}
    )
    assert future.status_code == 400
    from respite.services.cycle import run_cycle

    run_cycle(api.engine, ON + timedelta(days=1), now=lambda: NOW)
    late = api.post(
        "/claims/WBO-2025-10231/correction", json={"due_date": "2025-10-20", "reason": "x"}
    )
    assert late.status_code == 409
    assert "interest has already accrued" in late.json()["detail"]


def test_a_principal_is_not_corrected_once_collection_costs_were_charged(
    db_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.e2e.portal_data import seed

    portfolio = seed(db_engine)  # 36 nights of the cycle: formal notice costs are charged
    key = new_key(db_engine, "Stroom & Water BV")
    with make_app(db_engine, on=portfolio.on) as client:
        response = client.post(
            "/api/v1/claims/UTIL-1001/correction",
            headers={"Authorization": f"Bearer {key}"},
            json={"amount": "200.00", "reason": "x"},
        )
    assert response.status_code == 409
    assert "collection costs were already charged" in response.json()["detail"]


# --- money ----------------------------------------------------------------------------


def test_collections_and_remittances_show_the_creditors_own_money(api: Api) -> None:
    from respite.services import payouts
    from tests.integration.test_sepa import AGENCY

    refs = upload_csv(api).json()["cases"]
    phone = api.post("/claims", PHONE, content=(DATA / "claims.json").read_bytes())
    phone_ref = phone.json()["cases"][0]
    with api.engine.begin() as conn:
        conn.execute(
            Base.metadata.tables["creditors"]
            .update()
            .values(
                policy={"payout_iban": "DE89370400440532013000", "commission_basis_points": 1500}
            )
        )
        ids = dict(conn.execute(select(Case.reference, Case.id)).all())
        book_payment(conn, ids[refs[0]], 5000, date(2026, 1, 6), "b-1", now=NOW, jurisdiction="NL")
        book_payment(conn, ids[refs[1]], 2500, date(2026, 1, 7), "b-2", now=NOW, jurisdiction="NL")
        book_payment(conn, ids[phone_ref], 999, date(2026, 1, 7), "b-3", now=NOW, jurisdiction="NL")
        payouts.run_payouts(
            conn,
            date(2026, 1, 1),
            date(2026, 1, 31),
            version="09",
            on=date(2026, 2, 2),
            at=NOW,
            agency=AGENCY,
        )
    got = api.get("/collections?from=2026-01-01&to=2026-01-31").json()
    assert (got["collected"], got["net"], got["payments"]) == ("75.00", "75.00", 2)
    assert [(d["date"], d["collected"]) for d in got["days"]] == [
        ("2026-01-06", "50.00"),
        ("2026-01-07", "25.00"),
    ]
    listed = api.get("/remittances").json()["items"]
    assert [(r["collected"], r["commission"], r["payout"]) for r in listed] == [
        ("75.00", "11.25", "63.75")
    ]
    detail = api.get(f"/remittances/{listed[0]['id']}").json()
    assert [(line["case_reference"], line["net"]) for line in detail["lines"]] == [
        (refs[0], "50.00"),
        (refs[1], "25.00"),
    ]
    assert api.get("/collections?from=2026-02-01&to=2026-01-01").status_code == 400


# --- webhooks and the published contract ----------------------------------------------


def test_a_webhook_endpoint_through_the_api_must_be_public_https(api: Api) -> None:
    for url in (
        "http://example.com/h",
        "https://127.0.0.1/h",
        "https://localhost/h",
        "https://10.0.0.8/h",
    ):
        assert api.post("/webhooks", json={"url": url}).status_code == 400, url
    made = api.post(
        "/webhooks", json={"url": "https://erp.example.com/h", "event_kinds": ["transition"]}
    )
    assert made.status_code == 201
    assert made.json()["secret"].startswith("whsec_")
    listed = api.get("/webhooks").json()["items"]
    assert [(w["url"], w["event_kinds"]) for w in listed] == [
        ("https://erp.example.com/h", ["transition"])
    ]
    assert "secret" not in listed[0]
    assert (
        api.client.delete(
            f"/api/v1/webhooks/{made.json()['id']}", headers=api.headers()
        ).status_code
        == 204
    )
    assert api.get("/webhooks").json()["items"] == []
    assert (
        api.post(
            "/webhooks", json={"url": "https://e.example/h", "event_kinds": ["portal_login"]}
        ).status_code
        == 400
    )


def test_the_openapi_document_is_3_1_and_covers_every_api_route(api: Api) -> None:
    doc = api.client.get("/api/v1/openapi.json").json()
    assert doc["openapi"].startswith("3.1")
    assert set(doc["paths"]) == {
        "/api/v1/me",
        "/api/v1/claims",
        "/api/v1/claims/csv",
        "/api/v1/claims/{external_ref}",
        "/api/v1/claims/{external_ref}/correction",
        "/api/v1/cases",
        "/api/v1/cases/{reference}",
        "/api/v1/cases/{reference}/timeline",
        "/api/v1/cases/{reference}/recall",
        "/api/v1/collections",
        "/api/v1/remittances",
        "/api/v1/remittances/{remittance_id}",
        "/api/v1/webhooks",
        "/api/v1/webhooks/{webhook_id}",
    }
    assert "ApiKey" in doc["components"]["securitySchemes"]
