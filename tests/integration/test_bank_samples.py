"""Every real bank file in ../shared/data imports end to end (not only parses)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine, func, select

from respite.adapters.bank.camt import read_statements
from respite.adapters.db.models import BankEntry, BankStatement
from respite.entrypoints.cli.bank import render
from respite.services.bank_import import import_statements

NOW = datetime(2026, 11, 26, tzinfo=UTC)


def samples(shared_data: Path) -> list[Path]:
    return sorted(
        p
        for folder in ("camt053", "camt054")
        for p in (shared_data / folder).iterdir()
        if p.is_file() and p.name != "SOURCES.md"
    )


def test_every_sample_statement_imports_and_a_second_import_books_nothing(
    db_engine: Engine, shared_data: Path
) -> None:
    """Nothing in the samples matches our cases: entries land in review or are ignored,
    every one is recorded once, and importing all files again adds nothing."""
    files = samples(shared_data)
    assert len(files) >= 18
    totals = []
    for _ in range(2):
        for path in files:
            statements = read_statements(path)
            report = import_statements(
                db_engine,
                statements,
                filename=path.name,
                sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
                now=NOW,
            )
            assert report.booked == 0
        with db_engine.connect() as conn:
            totals.append(
                (
                    conn.execute(select(func.count()).select_from(BankEntry)).scalar_one(),
                    conn.execute(select(func.count()).select_from(BankStatement)).scalar_one(),
                )
            )
    assert totals[0] == totals[1]
    assert totals[0][0] > 50


def test_a_statement_that_does_not_add_up_says_so_and_can_be_blocked(
    db_engine: Engine, shared_data: Path
) -> None:
    path = shared_data / "camt053" / "valid_example_with_batch.xml"
    statements = read_statements(path)
    assert statements[0].difference_cents == 1277414  # published file: +12,774.14
    report = import_statements(
        db_engine,
        statements,
        filename=path.name,
        sha256="blocked-" + hashlib.sha256(path.read_bytes()).hexdigest()[:50],
        now=NOW,
        block_on_difference=True,
    )
    assert report.blocked == report.read
    assert report.booked == 0
    assert "DOES NOT ADD UP" in render(report)
