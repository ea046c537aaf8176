"""Claim intake into real SQLite and PostgreSQL: all or nothing, per file."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import typer
from sqlalchemy import Engine, func, select
from typer.testing import CliRunner, Result

from respite.adapters.db.models import (
    Base,
    Case,
    Claim,
    Creditor,
    Debtor,
    Event,
    ImportBatch,
    LedgerEntry,
)
from respite.entrypoints.cli.creditors import creditor_app
from respite.entrypoints.cli.intake import import_app
from respite.errors import ConflictError, ValidationError
from respite.services.intake import (
    IntakeRejected,
    IntakeResult,
    apply_intake,
    list_creditors,
    register_creditor,
)

DATA = Path(__file__).resolve().parents[1] / "data"
OK, BAD, JSON_FILE = DATA / "claims_ok.csv", DATA / "claims_bad.csv", DATA / "claims.json"
ON = date(2026, 1, 5)
NOW = datetime(2026, 1, 5, 7, 30, tzinfo=UTC)
WATER, PHONE = "Waterbedrijf Oost", "Telecom Noord"


@pytest.fixture
def engine(db_engine: Engine) -> Engine:
    for name in (WATER, PHONE):
        register_creditor(db_engine, name, jurisdiction="NL", now=NOW)
    return db_engine


def counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            t.name: int(conn.execute(select(func.count()).select_from(t)).scalar_one())
            for t in Base.metadata.sorted_tables
        }


def take_in(
    engine: Engine, path: Path, creditor: str = WATER, *, skip: bool = False
) -> IntakeResult:
    return apply_intake(engine, creditor, path, on=ON, skip_invalid=skip, now=NOW)


def test_a_good_file_opens_cases_with_claims_ledger_entries_and_events(engine: Engine) -> None:
    result = take_in(engine, OK)
    assert (result.rows_total, result.rows_imported, result.rows_skipped) == (6, 6, 0)
    assert (len(result.cases), result.claims, result.debtors_new, result.debtors_known) == (
        4,
        6,
        4,
        0,
    )
    with engine.connect() as conn:
        claims = conn.execute(select(Claim).order_by(Claim.id)).all()
        ledger = conn.execute(select(LedgerEntry).order_by(LedgerEntry.claim_id)).all()
        events = conn.execute(select(Event).order_by(Event.case_id)).all()
        cases = conn.execute(select(Case.reference).order_by(Case.id)).scalars().all()
        batch = conn.execute(select(ImportBatch)).one()
    assert [c.principal_cents for c in claims] == [4875, 5210, 123456, 231040, 36500, 6195]
    assert [c.interest_kind for c in claims] == ["consumer"] * 3 + ["commercial"] * 2 + ["consumer"]
    # One principal charge per claim, for exactly its principal.
    assert [(e.kind, e.bucket, e.amount_cents) for e in ledger] == [
        ("charge", "principal", c.principal_cents) for c in claims
    ]
    assert [e.kind for e in events] == ["opened"] * 4
    assert {e.actor for e in events} == {"import:claims_ok.csv"}
    assert events[0].after["claims"] == "WBO-2025-10231,WBO-2025-11187"
    assert tuple(cases) == result.cases
    assert batch.sha256 == hashlib.sha256(OK.read_bytes()).hexdigest()
    assert (batch.rows_total, batch.rows_imported, batch.rows_skipped) == (6, 6, 0)


def test_claims_of_one_debtor_in_one_file_share_one_case(engine: Engine) -> None:
    take_in(engine, OK)
    with engine.connect() as conn:
        per_case = conn.execute(
            select(Claim.case_id, func.count()).group_by(Claim.case_id).order_by(Claim.case_id)
        ).all()
    assert [n for _, n in per_case] == [2, 1, 2, 1]


def test_a_file_with_one_bad_row_imports_nothing(engine: Engine) -> None:
    before = counts(engine)
    with pytest.raises(IntakeRejected) as caught:
        take_in(engine, BAD)
    assert counts(engine) == before
    report = caught.value.report
    assert report.invalid_rows == (4,)
    assert {(p.field, p.value) for p in report.problems} == {
        ("debtor_iban", "NL91ABNA0417164301"),
        ("amount", "-5,00"),
    }
    assert "nothing imported" in str(caught.value)


def test_skip_invalid_imports_only_the_valid_rows(engine: Engine) -> None:
    before = counts(engine)
    result = take_in(engine, BAD, skip=True)
    after = counts(engine)
    assert (result.rows_total, result.rows_imported, result.rows_skipped) == (5, 4, 1)
    assert {p.row for p in result.skipped} == {4}
    assert after["claims"] - before["claims"] == 4
    assert after["ledger_entries"] - before["ledger_entries"] == 4
    with engine.connect() as conn:
        refs = set(conn.execute(select(Claim.external_ref)).scalars())
        batch = conn.execute(select(ImportBatch)).one()
    assert "EN-2025-5003" not in refs
    assert (batch.rows_imported, batch.rows_skipped) == (4, 1)


def test_skip_invalid_with_no_valid_row_imports_nothing(engine: Engine, tmp_path: Path) -> None:
    lines = BAD.read_text().splitlines()
    only_bad = tmp_path / "only_bad.csv"
    only_bad.write_text(f"{lines[0]}\n{lines[3]}\n")
    before = counts(engine)
    with pytest.raises(IntakeRejected):
        take_in(engine, only_bad, skip=True)
    assert counts(engine) == before


def test_importing_the_same_file_again_reports_every_row_as_a_duplicate(engine: Engine) -> None:
    take_in(engine, OK)
    before = counts(engine)
    with pytest.raises(IntakeRejected) as caught:
        take_in(engine, OK)
    assert counts(engine) == before
    problems = caught.value.report.problems
    assert [(p.row, p.field) for p in problems] == [(row, "external_ref") for row in range(2, 8)]
    assert all("already imported" in p.message for p in problems)


def test_the_same_references_for_another_creditor_are_not_duplicates(engine: Engine) -> None:
    take_in(engine, OK, WATER)
    result = take_in(engine, OK, PHONE)
    assert result.rows_imported == 6
    assert result.debtors_known == 4


def test_one_debtor_of_two_creditors_is_one_debtor_with_two_cases(engine: Engine) -> None:
    take_in(engine, OK, WATER)
    result = take_in(engine, JSON_FILE, PHONE)
    assert (result.debtors_new, result.debtors_known) == (2, 1)
    with engine.connect() as conn:
        anna = conn.execute(select(Debtor.id).where(Debtor.name == "Anna de Vries")).scalars().all()
        creditors = conn.execute(
            select(Creditor.name)
            .join(Case, Case.creditor_id == Creditor.id)
            .where(Case.debtor_id == anna[0])
            .order_by(Creditor.name)
        ).scalars()
        assert list(creditors) == [PHONE, WATER]
    assert len(anna) == 1


def test_an_unknown_creditor_is_a_clear_error(engine: Engine) -> None:
    before = counts(engine)
    with pytest.raises(ValidationError, match="unknown creditor 'Nobody'; create it with"):
        take_in(engine, OK, "Nobody")
    assert counts(engine) == before


def test_adding_a_creditor_again_is_a_no_op_and_other_terms_conflict(db_engine: Engine) -> None:
    first, created = register_creditor(db_engine, "Gemeente Tilburg", jurisdiction="nl", now=NOW)
    again, created_again = register_creditor(
        db_engine, "Gemeente Tilburg", jurisdiction="NL", now=NOW
    )
    assert (created, created_again) == (True, False)
    assert first == again
    with pytest.raises(ConflictError, match="already exists"):
        register_creditor(db_engine, "Gemeente Tilburg", jurisdiction="BE", now=NOW)


def test_a_creditor_takes_its_currency_from_the_rule_pack(db_engine: Engine) -> None:
    info, _ = register_creditor(db_engine, "Wodociągi Kraków", jurisdiction="PL", now=NOW)
    assert info.currency == "PLN"
    assert [c.name for c in list_creditors(db_engine)] == ["Wodociągi Kraków"]
    with pytest.raises(ValidationError, match="jurisdiction"):
        register_creditor(db_engine, "Stadtwerke", jurisdiction="DE", now=NOW)


# --- the command line ------------------------------------------------------------------

cli = typer.Typer()
cli.add_typer(import_app, name="import")
cli.add_typer(creditor_app, name="creditor")


Run = Callable[..., Result]


@pytest.fixture
def run(db_url: str) -> Run:
    runner = CliRunner()

    def invoke(*args: str) -> Result:
        return runner.invoke(cli, list(args), env={"RESPITE_DATABASE_URL": db_url})

    return invoke


def test_cli_adds_and_lists_creditors(run: Run) -> None:
    added = run("creditor", "add", WATER, "--jurisdiction", "NL", "--vat-uplift-declared")
    assert added.exit_code == 0, added.output
    assert json.loads(added.stdout)["creditor"]["vat_uplift_declared"] is True
    listed = json.loads(run("creditor", "list").stdout)
    assert [c["name"] for c in listed["creditors"]] == [WATER]


def test_cli_imports_a_file_and_prints_a_summary(run: Run) -> None:
    run("creditor", "add", WATER, "-j", "NL")
    done = run("import", "claims", str(OK), "--creditor", WATER, "--date", "2026-01-05")
    assert done.exit_code == 0, done.output
    assert "rows read     6" in done.stdout
    assert "cases opened  4" in done.stdout
    assert "debtors       4 new, 0 known" in done.stdout


def test_cli_reports_every_problem_and_exits_2(run: Run, db_engine: Engine) -> None:
    run("creditor", "add", WATER, "-j", "NL")
    before = counts(db_engine)
    done = run("import", "claims", str(BAD), "--creditor", WATER, "--date", "2026-01-05")
    assert done.exit_code == 2
    assert done.stderr.splitlines()[1:] == [
        "row 4, debtor_iban: 'NL91ABNA0417164301' — malformed IBAN: invalid checksum digits",
        "row 4, amount: '-5,00' — must be more than zero",
    ]
    assert "nothing imported" in done.stderr
    assert counts(db_engine) == before


def test_cli_skip_invalid_prints_json(run: Run) -> None:
    run("creditor", "add", WATER, "-j", "NL")
    args = ("import", "claims", str(BAD), "--creditor", WATER, "--date", "2026-01-05")
    done = run(*args, "--skip-invalid", "--json")
    assert done.exit_code == 0, done.output
    result = json.loads(done.stdout)
    assert (result["rows_imported"], result["rows_skipped"]) == (4, 1)
    assert [p["field"] for p in result["problems"]] == ["debtor_iban", "amount"]
    assert done.stderr.startswith("skipped row 4, debtor_iban")
