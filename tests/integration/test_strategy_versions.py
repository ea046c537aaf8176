"""A running case keeps the strategy version it started under."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from respite import strategies
from respite.adapters.db.models import Case, OutboxMessage
from respite.services.cycle import run_cycle

from .portfolio import build

START = date(2025, 1, 15)


@pytest.fixture
def strategy_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    target = tmp_path / "strategies"
    shutil.copytree(strategies.HERE / "standard", target / "standard")
    monkeypatch.setattr(strategies, "HERE", target)
    strategies.load_strategy.cache_clear()
    strategies.latest_version.cache_clear()
    yield target
    strategies.load_strategy.cache_clear()
    strategies.latest_version.cache_clear()


def test_a_new_version_applies_to_new_cases_only(db_engine: Engine, strategy_dir: Path) -> None:
    (old_case,) = build(db_engine, cases=1, on=START)
    v1 = (strategy_dir / "standard" / "v1.toml").read_text()
    v2 = v1.replace("version = 1", "version = 2", 1).replace(
        'id = "friendly-nudge"\nstage = "friendly_reminder"\nafter_days = 6',
        'id = "friendly-nudge"\nstage = "friendly_reminder"\nafter_days = 2',
    )
    assert v2 != v1
    (strategy_dir / "standard" / "v2.toml").write_text(v2)
    strategies.latest_version.cache_clear()
    (new_case,) = build(db_engine, cases=1, on=START, kind="business")
    for n in range(7):
        run_cycle(db_engine, START + timedelta(days=n))
    with db_engine.connect() as conn:
        versions = dict(conn.execute(select(Case.id, Case.strategy_version)).all())
        nudges = dict(
            conn.execute(
                select(OutboxMessage.case_id, OutboxMessage.business_date).where(
                    OutboxMessage.template == "friendly_nudge"
                )
            ).all()
        )
    assert versions == {old_case: 1, new_case: 2}
    assert nudges == {old_case: START + timedelta(days=6), new_case: START + timedelta(days=2)}
