"""The synthetic portfolio: deterministic, skewed like a real book, with a sound schedule.

Every test runs on SQLite and PostgreSQL (``db_engine``). Sizes stay small (a few
hundred debtors) so that the whole file runs in seconds; speed is measured elsewhere.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import typer
from schwifty import IBAN
from sqlalchemy import Engine, text
from typer.testing import CliRunner

from respite.adapters.db.engine import make_engine, upgrade
from respite.adapters.db.models import Base
from respite.entrypoints.cli.demodata import demo_data
from respite.errors import ValidationError
from respite.services.demo_data import SEGMENTS, PortfolioSummary, generate_portfolio

ON = date(2025, 3, 3)
NOW = datetime(2025, 3, 3, 6, tzinfo=UTC)
TABLES = ("creditors", "debtors", "cases", "claims", "ledger_entries", "events", "payments")


def _generate(
    engine: Engine,
    *,
    seed: int = 11,
    debtors: int = 300,
    creditors: int = 13,
    horizon_days: int = 120,
    chunk_size: int = 20_000,
) -> PortfolioSummary:
    return generate_portfolio(
        engine,
        debtors=debtors,
        creditors=creditors,
        seed=seed,
        on=ON,
        now=NOW,
        horizon_days=horizon_days,
        chunk_size=chunk_size,
    )


def _rows(engine: Engine) -> dict[str, list[tuple[object, ...]]]:
    with engine.connect() as conn:
        return {
            t: [tuple(r) for r in conn.execute(text(f"SELECT * FROM {t} ORDER BY id"))]  # noqa: S608
            for t in TABLES
        }


@pytest.fixture
def empty_again(db_engine: Engine, tmp_path: Path) -> Iterator[Callable[[], Engine]]:
    """After a first run: an empty database of the same kind for a second run.

    SQLite gets a new file; PostgreSQL (one scratch database per session) is emptied.
    """
    made: list[Engine] = []

    def fresh() -> Engine:
        if db_engine.dialect.name == "sqlite":
            engine = make_engine(f"sqlite:///{tmp_path / f'again{len(made)}.db'}")
            upgrade(engine)
            made.append(engine)
            return engine
        tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
        with db_engine.begin() as conn:
            # Append-only triggers refuse DELETE row by row; TRUNCATE is a test-only reset.
            conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        return db_engine

    yield fresh
    for engine in made:
        engine.dispose()


def test_same_seed_gives_identical_rows_in_a_fresh_database(
    db_engine: Engine, empty_again: Callable[[], Engine]
) -> None:
    first_summary = _generate(db_engine, chunk_size=120)
    first = _rows(db_engine)
    again = empty_again()
    second_summary = _generate(again, chunk_size=120)
    assert _rows(again) == first
    assert second_summary == first_summary
    assert all(first[t] for t in TABLES)


def test_another_seed_gives_another_portfolio(
    db_engine: Engine, empty_again: Callable[[], Engine]
) -> None:
    _generate(db_engine, seed=11)
    first = _rows(db_engine)
    again = empty_again()
    _generate(again, seed=12)
    second = _rows(again)
    for table in ("debtors", "claims", "payments"):
        assert second[table] != first[table], table


def test_a_reused_seed_is_refused(db_engine: Engine) -> None:
    _generate(db_engine, debtors=20)
    with pytest.raises(ValidationError, match="was used before"):
        _generate(db_engine, debtors=20)


def test_claim_amounts_are_skewed_like_a_real_portfolio(db_engine: Engine) -> None:
    _generate(db_engine)
    with db_engine.connect() as conn:
        eur = [
            int(c)
            for (c,) in conn.execute(
                text("SELECT principal_cents FROM claims WHERE currency = 'EUR'")
            )
        ]
        pln = conn.execute(text("SELECT count(*) FROM claims WHERE currency = 'PLN'")).scalar()
    assert pln, "Polish creditors bill in PLN"
    assert statistics.median(eur) < statistics.mean(eur)  # a long tail of large claims
    assert any(c > 200_000 for c in eur)  # some above €2,000
    assert sum(c < 40_000 for c in eur) > 0.75 * len(eur)  # most below €400
    assert 8_000 <= statistics.median(eur) <= 20_000  # the middle of the book: €80-200


def test_claims_are_overdue_and_typed_by_debtor(db_engine: Engine) -> None:
    _generate(db_engine)
    with db_engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT cl.issue_date, cl.due_date, cl.interest_kind, d.kind, c.opened_on,"
                " cl.currency, cr.currency"
                " FROM claims cl JOIN cases c ON c.id = cl.case_id"
                " JOIN debtors d ON d.id = c.debtor_id JOIN creditors cr ON cr.id = c.creditor_id"
            )
        ).all()
    for issue, due, interest_kind, kind, opened_on, currency, creditor_currency in rows:
        issue, due, opened_on = (_day(v) for v in (issue, due, opened_on))
        assert opened_on == ON
        assert 30 <= (ON - issue).days <= 300
        assert 14 <= (due - issue).days <= 30
        assert due < ON
        assert interest_kind == ("commercial" if kind == "business" else "consumer")
        assert currency == creditor_currency


def test_debtors_look_real_and_some_owe_several_creditors_of_their_country(
    db_engine: Engine,
) -> None:
    summary = _generate(db_engine)
    with db_engine.connect() as conn:
        debtors = conn.execute(
            text(
                "SELECT kind, country, language, timezone, email, iban, birth_date, postcode"
                " FROM debtors"
            )
        ).all()
        spread = conn.execute(
            text(
                "SELECT c.debtor_id, count(DISTINCT c.creditor_id), count(DISTINCT cr.jurisdiction)"
                " FROM cases c JOIN creditors cr ON cr.id = c.creditor_id"
                " GROUP BY c.debtor_id HAVING count(DISTINCT c.creditor_id) >= 2"
            )
        ).all()
        foreign = conn.execute(
            text(
                "SELECT count(*) FROM cases c JOIN debtors d ON d.id = c.debtor_id"
                " JOIN creditors cr ON cr.id = c.creditor_id WHERE d.country <> cr.jurisdiction"
            )
        ).scalar()
    assert len(debtors) == summary.debtors == 300
    assert len(spread) == summary.cross_creditor_debtors
    assert 0.08 * len(debtors) <= len(spread) <= 0.20 * len(debtors)
    assert all(countries == 1 for _, _, countries in spread)
    assert foreign == 0
    businesses = [d for d in debtors if d.kind == "business"]
    assert 0.02 * len(debtors) <= len(businesses) <= 0.15 * len(debtors)
    assert all(d.birth_date is None for d in businesses)
    assert all(d.birth_date is not None for d in debtors if d.kind == "consumer")
    assert {d.country for d in debtors} == {"NL", "BE", "PL"}
    assert {(d.country, d.language) for d in debtors} == {
        ("NL", "nl"),
        ("BE", "nl"),
        ("BE", "fr"),
        ("PL", "pl"),
    }
    zones = {"NL": "Europe/Amsterdam", "BE": "Europe/Brussels", "PL": "Europe/Warsaw"}
    assert all(d.timezone == zones[d.country] for d in debtors)
    emails = [d.email for d in debtors if d.email]
    ibans = [d.iban for d in debtors if d.iban]
    assert len(emails) > 0.7 * len(debtors)
    assert len(ibans) > 0.6 * len(debtors)
    # Fictional by construction: reserved e-mail domains (RFC 2606), valid IBANs.
    assert all(e.rsplit(".", 1)[0].endswith("example") for e in emails)
    for iban in ibans:
        assert str(IBAN(iban).compact) == iban
        assert iban[:2] == next(d.country for d in debtors if d.iban == iban)


def test_scheduled_payments_belong_to_cases_within_the_horizon(db_engine: Engine) -> None:
    summary = _generate(db_engine, horizon_days=90)
    with db_engine.connect() as conn:
        payments = conn.execute(
            text(
                "SELECT p.case_id, p.received_on, p.amount_cents, p.source_ref, p.booked, c.id"
                " FROM payments p LEFT JOIN cases c ON c.id = p.case_id"
            )
        ).all()
        totals = conn.execute(
            text(
                "SELECT c.id, (SELECT sum(principal_cents) FROM claims WHERE case_id = c.id),"
                " (SELECT coalesce(sum(amount_cents), 0) FROM payments WHERE case_id = c.id),"
                " (SELECT count(*) FROM payments WHERE case_id = c.id)"
                " FROM cases c"
            )
        ).all()
    assert len(payments) == summary.scheduled_payments > 0
    refs = set()
    for case_id, received_on, amount, ref, booked, found in payments:
        assert found == case_id
        assert ON < _day(received_on) <= ON + timedelta(days=90)
        assert amount > 0
        assert not booked
        assert ref.startswith(f"demo-11-{case_id}-")
        refs.add(ref)
    assert len(refs) == len(payments)
    for _case_id, principal, paid, _count in totals:
        assert paid <= principal  # nobody pays more than the principal
    full = [t for t in totals if t[3] == 1 and t[2] == t[1]]
    partial = [t for t in totals if 0 < t[2] < t[1]]
    unpaid = [t for t in totals if t[3] == 0]
    assert full, "some pay in full"
    assert partial, "some pay part"
    assert unpaid, "some pay nothing"
    # Full payers are the early payers and those paying after the notice (one payment
    # each); a completed short plan can also reach the principal.
    assert len(full) >= summary.segments["early_payer"] + summary.segments["after_notice"]


def test_summary_matches_the_database(db_engine: Engine) -> None:
    summary = _generate(db_engine)
    with db_engine.connect() as conn:
        counts = {
            t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar()  # noqa: S608
            for t in ("creditors", "debtors", "cases", "claims", "payments")
        }
        principal: dict[str, int] = dict(
            conn.execute(
                text("SELECT currency, sum(principal_cents) FROM claims GROUP BY currency")
            ).all()
        )
        scheduled: dict[str, int] = dict(
            conn.execute(
                text(
                    "SELECT cl.currency, sum(p.amount_cents) FROM payments p"
                    " JOIN cases c ON c.id = p.case_id"
                    " JOIN (SELECT DISTINCT case_id, currency FROM claims) cl"
                    " ON cl.case_id = c.id GROUP BY cl.currency"
                )
            ).all()
        )
    assert counts == {
        "creditors": summary.creditors,
        "debtors": summary.debtors,
        "cases": summary.cases,
        "claims": summary.claims,
        "payments": summary.scheduled_payments,
    }
    assert {k: int(v) for k, v in principal.items()} == summary.principal_cents
    assert {k: int(v) for k, v in scheduled.items()} == summary.scheduled_cents
    assert sum(summary.segments.values()) == summary.cases
    assert set(summary.segments) == set(SEGMENTS)
    assert all(summary.segments[s] > 0 for s in SEGMENTS)


def _app() -> typer.Typer:
    app = typer.Typer()
    app.command("demo-data")(demo_data)

    @app.callback()
    def _root() -> None:
        """Keep demo-data a subcommand, as in the respite CLI."""

    return app


def test_cli_writes_a_portfolio_and_refuses_a_database_with_cases(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RESPITE_DATABASE_URL", db_url)
    runner = CliRunner()
    args = ["demo-data", "--debtors", "60", "--creditors", "4", "--date", "2025-03-03"]
    first = runner.invoke(_app(), [*args, "--seed", "3", "--quiet"])
    assert first.exit_code == 0, first.output
    assert "demo portfolio handed over on 2025-03-03" in first.stdout
    assert "debtors: 60" in first.stdout

    refused = runner.invoke(_app(), [*args, "--seed", "4", "--quiet"])
    assert refused.exit_code == 2
    assert refused.stderr.strip().count("\n") == 0
    assert "already holds" in refused.stderr
    assert "--append" in refused.stderr

    appended = runner.invoke(_app(), [*args, "--seed", "4", "--quiet", "--append"])
    assert appended.exit_code == 0, appended.output
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            debtors = conn.execute(text("SELECT count(*) FROM debtors")).scalar()
    finally:
        engine.dispose()
    assert debtors == 120


def _day(value: object) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))
