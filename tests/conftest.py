"""Shared test fixtures: where the repository and the shared data folder are."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# CI lays a copy of shared/ beside the clone; so does every developer checkout.
SHARED = REPO.parent / "shared"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    data = SHARED / "data"
    if not data.is_dir():
        pytest.skip(reason=f"shared test data not found at {data} (it lies beside the repository)")
    return data


# --- databases ---------------------------------------------------------------------
# Storage tests run against SQLite and PostgreSQL. PostgreSQL is the machine's server at
# 127.0.0.1:5432 (trust auth); RESPITE_TEST_PG_URL points elsewhere. When it cannot be
# reached the PostgreSQL variants are skipped with a reason that says so.

import os  # noqa: E402
import shutil  # noqa: E402
import uuid  # noqa: E402
from collections.abc import Iterator  # noqa: E402

from sqlalchemy import Engine, text  # noqa: E402

PG_ADMIN_URL = os.environ.get("RESPITE_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
_pg_state: dict[str, object] = {}


def _pg_available() -> str | None:
    """None when PostgreSQL answers, else the reason it does not."""
    if "reason" not in _pg_state:
        from respite.adapters.db.engine import make_engine

        try:
            eng = make_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 3})
            with eng.connect() as conn:
                conn.execute(text("SELECT 1"))
            eng.dispose()
            _pg_state["reason"] = None
        except Exception as exc:
            _pg_state["reason"] = (
                f"PostgreSQL at {PG_ADMIN_URL} is unreachable: {type(exc).__name__}"
            )
    reason = _pg_state["reason"]
    return reason if isinstance(reason, str) else None


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from respite.adapters.db.engine import make_engine, upgrade

    path = tmp_path_factory.mktemp("db") / "template.db"
    eng = make_engine(f"sqlite:///{path}")
    upgrade(eng)
    eng.dispose()
    return path


@pytest.fixture(scope="session")
def _pg_database() -> Iterator[str]:
    """One scratch database for the session, created and dropped by the tests."""
    from sqlalchemy.engine import make_url

    from respite.adapters.db.engine import make_engine, upgrade

    reason = _pg_available()
    if reason:
        pytest.skip(reason)
    name = f"respite_test_{uuid.uuid4().hex[:10]}"
    admin = make_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    eng = make_engine(url)
    upgrade(eng)
    eng.dispose()
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _truncate_all(url: str) -> None:
    from respite.adapters.db.engine import make_engine
    from respite.adapters.db.models import Base

    eng = make_engine(url)
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with eng.begin() as conn:
        # Append-only triggers refuse DELETE row by row; TRUNCATE is a test-only reset.
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    eng.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty, migrated database: SQLite file or PostgreSQL."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("_sqlite_template")
        target = tmp_path / "respite.db"
        shutil.copy(template, target)
        return f"sqlite:///{target}"
    url: str = request.getfixturevalue("_pg_database")
    _truncate_all(url)
    return url


@pytest.fixture
def db_engine(db_url: str) -> Iterator[Engine]:
    from respite.adapters.db.engine import make_engine

    eng = make_engine(db_url)
    yield eng
    eng.dispose()
