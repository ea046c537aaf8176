"""Referral to debt counselling on a real database: holds, idempotency, statement files."""

from __future__ import annotations

import csv
import shutil
import subprocess
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, update

from respite.adapters.db.models import Case, Debtor, Event, Hold, Referral
from respite.adapters.documents.claim_statement import CSV_HEADER, write_csv, write_pdf
from respite.domain.lifecycle import CloseReason, HoldKind, Stage
from respite.domain.money import Money
from respite.domain.referral import Reason, ReasonCode
from respite.errors import ConflictError, NotAllowed
from respite.services import cases, referrals
from respite.services.store import (
    NewCase,
    NewClaim,
    NewDebtor,
    case_reference,
    ensure_creditor,
    open_cases,
    upsert_debtors,
)

NOW = datetime(2025, 3, 1, 9, tzinfo=UTC)
ON = date(2025, 3, 1)
LATER = date(2025, 6, 1)
REASONS = (Reason(ReasonCode.SEVERAL_CREDITORS, "The person owes 3 creditors."),)


def _debtor(key: str, name: str) -> NewDebtor:
    return NewDebtor(
        key,
        "consumer",
        name,
        "NL",
        "nl",
        "Europe/Amsterdam",
        street="Coolsingel 40",
        postcode="3011 AD",
        city="Rotterdam",
    )


def _claim(ref: str, euros: str) -> NewClaim:
    return NewClaim(ref, date(2024, 11, 1), date(2024, 12, 1), Money.of(euros), f"Invoice {ref}")


@dataclass(frozen=True)
class World:
    person: int
    linked: int
    open: list[str]
    closed: str
    other: str


def build(engine: Engine) -> World:
    """One person with two debtor records (linked), four cases with three creditors, and a
    stranger with one case; the person's fourth case is closed."""
    with engine.begin() as conn:
        water = ensure_creditor(conn, "Waterbedrijf", jurisdiction="NL", currency="EUR", now=NOW)
        phone = ensure_creditor(conn, "Telecom BV", jurisdiction="NL", currency="EUR", now=NOW)
        power = ensure_creditor(conn, "Energie NV", jurisdiction="NL", currency="EUR", now=NOW)
        ids = upsert_debtors(
            conn,
            [
                _debtor("p:anna", "Anna de Vries"),
                _debtor("p:anna-2", "A. de Vries"),
                _debtor("p:other", "Bram Jansen"),
            ],
            now=NOW,
        )
        # Identity resolution linked the second spelling to the first record.
        conn.execute(
            update(Debtor).where(Debtor.id == ids["p:anna-2"]).values(person_id=ids["p:anna"])
        )

        def opened(creditor: int, new: list[NewCase]) -> list[int]:
            return open_cases(conn, creditor, new, ids, on=ON, actor="test", reason="h", now=NOW)

        (w1,) = opened(
            water, [NewCase("p:anna", (_claim("W-1", "120.50"), _claim("W-2", "80.25")))]
        )
        (t1,) = opened(phone, [NewCase("p:anna-2", (_claim("T-1", "310.00"),))])
        e1, e2 = opened(
            power,
            [
                NewCase("p:anna", (_claim("E-1", "999.99"),)),
                NewCase("p:anna", (_claim("E-2", "5.00"),)),
            ],
        )
        (other,) = opened(water, [NewCase("p:other", (_claim("W-9", "50.00"),))])
    cases.move_case(
        engine,
        case_reference(e2),
        Stage.CLOSED,
        on=ON,
        actor="test",
        reason="paid",
        close_reason=CloseReason.PAID,
        at=NOW,
    )
    return World(
        person=ids["p:anna"],
        linked=ids["p:anna-2"],
        open=[case_reference(c) for c in (w1, t1, e1)],
        closed=case_reference(e2),
        other=case_reference(other),
    )


def _active_holds(engine: Engine, on: date) -> set[str]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(Case.reference)
            .join(Hold, Hold.case_id == Case.id)
            .where(Hold.kind == "debt_counselling", Hold.start <= on)
            .where((Hold.until.is_(None)) | (Hold.until >= on))
        ).scalars()
        return set(rows)


def _count(engine: Engine, model: type[Event] | type[Referral] | type[Hold]) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(model)).scalar_one())


def test_a_referral_holds_every_open_case_of_the_person_with_every_creditor(
    db_engine: Engine,
) -> None:
    world = build(db_engine)
    events_before = _count(db_engine, Event)
    with db_engine.begin() as conn:
        result = referrals.refer(
            conn,
            world.linked,
            on=ON,
            reasons=REASONS,
            actor="agent:anna",
            at=NOW,
        )
    assert result["created"] is True
    assert result["person"] == world.person
    assert sorted(result["cases_on_hold"]) == sorted(world.open)
    assert result["municipality"] == "Rotterdam"
    assert result["contact"]["phone"] == "14 010"
    assert result["reasons"] == [
        {"code": "several_creditors", "explanation": REASONS[0].explanation}
    ]
    assert _active_holds(db_engine, ON) == set(world.open)
    # One event per held case; the closed case and the stranger's case are untouched.
    assert _count(db_engine, Event) == events_before + 3
    timeline = cases.timeline(db_engine, world.open[0])
    assert timeline[-1]["what"] == "hold_placed"
    assert "referral" in timeline[-1]["why"]
    assert timeline[-1]["actor"] == "agent:anna"
    with pytest.raises(NotAllowed, match="on hold"):
        cases.move_case(
            db_engine,
            world.open[0],
            Stage.FORMAL_NOTICE,
            on=ON,
            actor="t",
            reason="t",
            at=NOW,
        )


def test_referring_again_returns_the_open_referral_and_changes_nothing(db_engine: Engine) -> None:
    world = build(db_engine)
    with db_engine.begin() as conn:
        first = referrals.refer(conn, world.person, on=ON, reasons=REASONS, actor="a", at=NOW)
    counts = (_count(db_engine, Referral), _count(db_engine, Hold), _count(db_engine, Event))
    with db_engine.begin() as conn:
        again = referrals.refer(conn, world.linked, on=LATER, reasons=REASONS, actor="b", at=NOW)
    assert again["created"] is False
    assert again["referral_id"] == first["referral_id"]
    assert again["cases_on_hold"] == []
    assert (
        _count(db_engine, Referral),
        _count(db_engine, Hold),
        _count(db_engine, Event),
    ) == counts


def test_a_case_already_in_debt_counselling_is_not_held_twice(db_engine: Engine) -> None:
    world = build(db_engine)
    held = world.open[1]
    cases.place_hold(
        db_engine, held, HoldKind.DEBT_COUNSELLING, on=ON, actor="a", reason="municipality", at=NOW
    )
    with db_engine.begin() as conn:
        result = referrals.refer(conn, world.person, on=ON, reasons=REASONS, actor="a", at=NOW)
    assert result["already_on_hold"] == [held]
    assert held not in result["cases_on_hold"]
    assert _active_holds(db_engine, ON) == set(world.open)


def test_closing_the_referral_lifts_the_holds_and_cannot_be_done_twice(db_engine: Engine) -> None:
    world = build(db_engine)
    with db_engine.begin() as conn:
        made = referrals.refer(conn, world.person, on=ON, reasons=REASONS, actor="a", at=NOW)
    with db_engine.begin() as conn:
        closed = referrals.close_referral(
            conn, made["referral_id"], on=LATER, actor="a", reason="settlement reached", at=NOW
        )
    assert closed["status"] == "closed"
    assert closed["closed_on"] == LATER.isoformat()
    assert sorted(closed["holds_lifted"]) == sorted(world.open)
    assert _active_holds(db_engine, LATER) == set()
    assert _active_holds(db_engine, ON) == set(world.open)  # history stays
    cases.move_case(
        db_engine,
        world.open[0],
        Stage.FORMAL_NOTICE,
        on=LATER,
        actor="t",
        reason="t",
        at=NOW,
    )
    with db_engine.begin() as conn, pytest.raises(ConflictError, match="already closed"):
        referrals.close_referral(
            conn, made["referral_id"], on=LATER, actor="a", reason="again", at=NOW
        )
    with db_engine.begin() as conn:
        fresh = referrals.refer(conn, world.person, on=LATER, reasons=REASONS, actor="a", at=NOW)
    assert fresh["created"] is True
    assert fresh["referral_id"] != made["referral_id"]


def test_assessment_counts_creditors_and_debt_across_the_persons_records(db_engine: Engine) -> None:
    world = build(db_engine)
    with db_engine.connect() as conn:
        reasons = referrals.assess(
            conn,
            world.linked,
            on=ON,
            capacity_cents=10_000,
            max_months=18,
            vulnerable=False,
        )
        assert [r.code for r in reasons] == ["several_creditors"]
        assert "3 creditors" in reasons[0].explanation
        reasons = referrals.assess(
            conn,
            world.person,
            on=ON,
            capacity_cents=80,
            max_months=18,
            vulnerable=False,
        )
        # 120.50 + 80.25 + 310.00 + 999.99 open (the closed 5.00 does not count).
        assert "total debt of EUR 1510.74" in reasons[0].explanation


def test_refer_case_refuses_without_a_reason_unless_an_agent_gives_one(db_engine: Engine) -> None:
    world = build(db_engine)
    stranger = world.other
    with db_engine.begin() as conn, pytest.raises(NotAllowed, match="no reason to refer"):
        referrals.refer_case(conn, stranger, on=ON, actor="a", at=NOW, capacity_cents=5_000)
    with db_engine.begin() as conn:
        made = referrals.refer_case(
            conn,
            stranger,
            on=ON,
            actor="a",
            at=NOW,
            capacity_cents=5_000,
            agent_reason="Told us about a serious illness.",
        )
    assert [r["code"] for r in made["reasons"]] == ["agent"]
    assert made["cases_on_hold"] == [stranger]


def test_the_statement_totals_are_the_open_balances_and_the_csv_reads_back(
    db_engine: Engine, tmp_path: Path
) -> None:
    world = build(db_engine)
    with db_engine.begin() as conn:
        referrals.refer(conn, world.person, on=ON, reasons=REASONS, actor="a", at=NOW)
    with db_engine.connect() as conn:
        view = referrals.claim_statement(conn, world.linked, on=ON)
    assert view.debtor.name == "Anna de Vries"
    assert [b.creditor for b in view.creditors] == ["Energie NV", "Telecom BV", "Waterbedrijf"]
    assert len(view.lines) == 4  # W-1, W-2, T-1, E-1; the closed E-2 is not on it
    assert str(view.totals.open) == "1510.74"
    assert view.totals.open == sum((line.open for line in view.lines), Money.of("0"))
    for line in view.lines:
        assert (
            line.principal + line.interest + line.costs - line.paid - line.written_off == line.open
        )
    assert view.contact is not None
    assert view.contact.municipality == "Rotterdam"

    path = write_csv(view, tmp_path / "statement.csv")
    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert tuple(rows[0]) == CSV_HEADER
    assert sum(Decimal(r["open"]) for r in rows) == Decimal("1510.74")
    assert {r["invoice_reference"] for r in rows} == {"W-1", "W-2", "T-1", "E-1"}
    assert {r["case_reference"] for r in rows} == set(world.open)


def test_the_pdf_statement_is_a_real_pdf_with_the_debtor_and_the_total(
    db_engine: Engine, tmp_path: Path
) -> None:
    world = build(db_engine)
    with db_engine.connect() as conn:
        view = referrals.claim_statement(conn, world.person, on=ON)
    path = write_pdf(view, tmp_path / "statement.pdf")
    assert path.read_bytes().startswith(b"%PDF-")
    if shutil.which("pdftotext") is None:
        pytest.skip(reason="pdftotext (poppler-utils) is not installed; the text was not checked")
    text = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True, text=True
    ).stdout
    assert "Claim statement / Vorderingenoverzicht" in text
    assert "Anna de Vries" in text
    assert "1,510.74" in text
    assert "Hulpteam Geldzaken" in text
