"""A debt counsellor accepts a referred person: one ``referral_accepted`` event per open
case, the holds stay, and the social report counts the acceptances per creditor."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from respite.adapters.db.engine import make_engine, upgrade
from respite.adapters.db.models import Case, Event
from respite.errors import ConflictError, ValidationError
from respite.services import referrals
from respite.services.social_report import social_report

from .test_referrals import LATER, NOW, ON, REASONS, _active_holds, build

ACCEPTED = date(2025, 3, 20)


def _refer(engine: Engine, person: int) -> int:
    with engine.begin() as conn:
        made = referrals.refer(conn, person, on=ON, reasons=REASONS, actor="agent:a", at=NOW)
    return int(made["referral_id"])


def _accept(engine: Engine, referral_id: int, on: date = ACCEPTED) -> dict[str, Any]:
    with engine.begin() as conn:
        return referrals.accept_referral(
            conn, referral_id, on=on, actor="agent:a", reason="intake done", at=NOW
        )


def _acceptances(engine: Engine) -> list[tuple[str, date, dict[str, Any]]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(Case.reference, Event.business_date, Event.after)
            .join(Case, Case.id == Event.case_id)
            .where(Event.kind == "referral_accepted")
            .order_by(Case.reference)
        ).all()
    return [(r, d, dict(a)) for r, d, a in rows]


def test_accepting_a_referral_records_each_open_case_of_the_person_and_keeps_the_holds(
    db_engine: Engine,
) -> None:
    world = build(db_engine)
    referral = _refer(db_engine, world.linked)
    result = _accept(db_engine, referral)
    assert result["status"] == "open"  # counselling runs on; closing ends it
    assert result["accepted_on"] == ACCEPTED.isoformat()
    assert sorted(result["cases"]) == sorted(world.open)
    # Every open case of the person (both debtor records, three creditors); not the closed
    # case, not the stranger's.
    assert _acceptances(db_engine) == [
        (ref, ACCEPTED, {"referral": referral}) for ref in sorted(world.open)
    ]
    assert _active_holds(db_engine, ACCEPTED) == set(world.open)


def test_a_referral_is_accepted_once_only_while_open_and_not_before_it_was_made(
    db_engine: Engine,
) -> None:
    world = build(db_engine)
    referral = _refer(db_engine, world.person)
    with pytest.raises(ValidationError, match="before the referral was made"):
        _accept(db_engine, referral, on=date(2025, 2, 1))
    _accept(db_engine, referral)
    with pytest.raises(ConflictError, match="already accepted on 2025-03-20"):
        _accept(db_engine, referral, on=LATER)
    with db_engine.begin() as conn:
        referrals.close_referral(conn, referral, on=LATER, actor="a", reason="done", at=NOW)
    with pytest.raises(ConflictError, match="closed"):
        _accept(db_engine, referral, on=LATER)
    assert len(_acceptances(db_engine)) == len(world.open)


def test_the_report_counts_the_accepted_cases_per_creditor(db_engine: Engine) -> None:
    world = build(db_engine)
    _accept(db_engine, _refer(db_engine, world.person))
    march = social_report(db_engine, date(2025, 3, 1), date(2025, 3, 31))
    # One open case at each of the three creditors (Energie NV's second case is closed).
    assert march.value("referrals_accepted") == 3
    for creditor in ("Waterbedrijf", "Telecom BV", "Energie NV"):
        assert march.value("referrals_accepted", creditor) == 1
    assert (
        social_report(db_engine, date(2025, 3, 1), date(2025, 3, 19)).value("referrals_accepted")
        == 0
    )


def test_respite_referral_accept_prints_the_accepted_cases(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'respite.db'}"
    engine = make_engine(url)
    upgrade(engine)
    world = build(engine)
    referral = _refer(engine, world.person)
    engine.dispose()
    done = _cli(url, "accept", str(referral), "--date", "2025-03-20", "--actor", "agent:b")
    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout)
    assert printed["accepted_on"] == "2025-03-20"
    assert sorted(printed["cases"]) == sorted(world.open)
    again = _cli(url, "accept", str(referral))
    assert again.returncode == 1  # a refusal, as for closing twice
    assert "already accepted" in again.stderr


def _cli(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "respite", "referral", *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={"RESPITE_DATABASE_URL": url, "PATH": "/usr/bin:/bin"},
    )
