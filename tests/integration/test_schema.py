"""The schema on both databases: migrations, constraints, append-only history."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from respite.adapters.db.engine import alembic_config, session_scope, upgrade
from respite.adapters.db.models import Base, Case, Claim, Creditor, Debtor, Event

HEAD = ScriptDirectory.from_config(alembic_config(None)).get_current_head()  # type: ignore[arg-type]
NOW = datetime(2026, 1, 5, 12, tzinfo=UTC)
DAY = date(2026, 1, 5)


def seed(engine: Engine) -> None:
    with session_scope(engine) as s:
        s.add(
            Creditor(id=1, name="Waterbedrijf", jurisdiction="NL", currency="EUR", created_at=NOW)
        )
        s.add(
            Debtor(
                id=1,
                identity_key="k1",
                kind="consumer",
                name="A. Jansen",
                country="NL",
                language="nl",
                timezone="Europe/Amsterdam",
                created_at=NOW,
            )
        )
        s.flush()
        s.add(
            Case(
                id=1,
                reference="R-1",
                creditor_id=1,
                debtor_id=1,
                stage="friendly_reminder",
                stage_since=DAY,
                opened_on=DAY,
            )
        )
        s.flush()
        s.add(
            Claim(
                id=1,
                case_id=1,
                creditor_id=1,
                external_ref="INV-1",
                issue_date=DAY,
                due_date=DAY,
                currency="EUR",
                principal_cents=10000,
                default_start=DAY,
                interest_accrued_to=DAY,
                open_principal_cents=10000,
            )
        )
        s.add(
            Event(
                case_id=1,
                business_date=DAY,
                recorded_at=NOW,
                actor="test",
                kind="opened",
                reason="test",
                before={},
                after={"stage": "friendly_reminder"},
            )
        )


def test_migrations_are_idempotent(db_engine: Engine) -> None:
    upgrade(db_engine)
    upgrade(db_engine)
    with db_engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == HEAD


def test_the_migrations_build_exactly_the_models(db_engine: Engine) -> None:
    """Autogenerate finds nothing to do: the models and the migrations agree."""
    upgrade(db_engine)
    with db_engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_the_event_timeline_is_append_only(db_engine: Engine) -> None:
    seed(db_engine)
    for statement in ("UPDATE events SET reason = 'rewritten'", "DELETE FROM events"):
        with pytest.raises(DBAPIError, match="append-only"), db_engine.begin() as conn:
            conn.execute(text(statement))
    with db_engine.connect() as conn:
        assert conn.execute(text("SELECT reason FROM events")).scalar() == "test"


def test_balances_cannot_go_negative_in_the_database(db_engine: Engine) -> None:
    seed(db_engine)
    with pytest.raises(IntegrityError), db_engine.begin() as conn:
        conn.execute(text("UPDATE claims SET open_principal_cents = -1"))


def test_an_external_reference_is_unique_per_creditor(db_engine: Engine) -> None:
    seed(db_engine)
    with pytest.raises(IntegrityError), session_scope(db_engine) as s:
        s.add(
            Claim(
                case_id=1,
                creditor_id=1,
                external_ref="INV-1",
                issue_date=DAY,
                due_date=DAY,
                currency="EUR",
                principal_cents=500,
                default_start=DAY,
                interest_accrued_to=DAY,
                open_principal_cents=500,
            )
        )


def test_sqlite_runs_in_wal_mode(db_engine: Engine) -> None:
    if db_engine.dialect.name != "sqlite":
        pytest.skip(reason="the WAL journal mode is a SQLite setting; PostgreSQL has none")
    with db_engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
