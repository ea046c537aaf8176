"""Budget statements in the database (SQLite and PostgreSQL): stored in cents, flagged,
and the latest capacity of a person across their debtor records."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import Engine, insert, select

from respite.adapters.db.models import BudgetStatement, Debtor
from respite.domain.affordability import Household, Statement
from respite.domain.money import Currency, Money
from respite.errors import InputError, ValidationError
from respite.services.affordability import latest_capacity, record_statement


def debtor(engine: Engine, key: str, country: str = "NL", person_id: int | None = None) -> int:
    with engine.begin() as conn:
        return int(
            conn.execute(
                insert(Debtor)
                .values(
                    identity_key=key,
                    kind="consumer",
                    name=key,
                    country=country,
                    language="nl",
                    timezone="Europe/Amsterdam",
                    created_at=datetime(2025, 1, 1, tzinfo=UTC),
                    person_id=person_id,
                )
                .returning(Debtor.id)
            ).scalar_one()
        )


def statement(wages: str, food: str = "300.00") -> Statement:
    return Statement.from_lines(
        Household.SINGLE,
        Currency.EUR,
        {
            "wages": Money.of(wages),
            "housing": Money.of("700.00"),
            "energy": Money.of("120.00"),
            "food": Money.of(food),
        },
        savings=Money.of("10.00"),
    )


def test_a_statement_is_stored_in_cents_with_its_flags(db_engine: Engine) -> None:
    d = debtor(db_engine, "a")
    with db_engine.begin() as conn:
        summary = record_statement(
            conn,
            d,
            statement("2400.00", food="40.00"),
            household=Household.SINGLE,
            on=date(2025, 3, 1),
            source="portal",
            confirmed=False,
        )
    assert summary["needs_confirmation"] is True
    assert summary["capacity"]["capacity"] == "328.76"
    with db_engine.connect() as conn:
        row = conn.execute(select(BudgetStatement.__table__)).one()
    assert row.lines == {
        "wages": 240000,
        "housing": 70000,
        "energy": 12000,
        "food": 4000,
        "savings": 1000,
    }
    assert (row.income_cents, row.expenditure_cents) == (240000, 86000)
    assert (row.protected_cents, row.capacity_cents) == (207124, 32876)
    assert [f["code"] for f in row.flags] == ["below_reference"]
    assert (row.household, row.source, row.confirmed) == ("single", "portal", False)


def test_latest_capacity_covers_every_debtor_record_of_the_person(db_engine: Engine) -> None:
    first = debtor(db_engine, "p1")
    second = debtor(db_engine, "p1-other-creditor", person_id=first)
    with db_engine.begin() as conn:
        assert latest_capacity(conn, [first, second], date(2025, 3, 1)) is None
        record_statement(
            conn, first, statement("1200.00"), household=Household.SINGLE,
            on=date(2025, 2, 1), source="agent", confirmed=True,
        )  # fmt: skip
        record_statement(
            conn, second, statement("1500.00"), household=Household.SINGLE,
            on=date(2025, 3, 1), source="counsellor", confirmed=True,
        )  # fmt: skip
        # 1200 net (low income): 5 % = 60.00 < surplus 70.00.
        assert latest_capacity(conn, [first, second], date(2025, 2, 15)) == 6000
        # 1500 net: surplus 370.00, 95 % = 1425.00 leaves 75.00.
        assert latest_capacity(conn, [first, second], date(2025, 3, 1)) == 7500
        assert latest_capacity(conn, [], date(2025, 3, 1)) is None


def test_bad_input_is_refused_before_anything_is_stored(db_engine: Engine) -> None:
    d = debtor(db_engine, "b", country="DE")
    with db_engine.begin() as conn:
        with pytest.raises(ValidationError, match="jurisdiction"):
            record_statement(
                conn, d, statement("2000"), household=Household.SINGLE,
                on=date(2025, 3, 1), source="portal", confirmed=False,
            )  # fmt: skip
        with pytest.raises(ValidationError, match="not couple"):
            record_statement(
                conn, d, statement("2000"), household=Household.COUPLE,
                on=date(2025, 3, 1), source="portal", confirmed=False, jurisdiction="NL",
            )  # fmt: skip
        with pytest.raises(ValidationError, match="source"):
            record_statement(
                conn, d, statement("2000"), household=Household.SINGLE,
                on=date(2025, 3, 1), source="robot", confirmed=False, jurisdiction="NL",
            )  # fmt: skip
        with pytest.raises(InputError, match="no debtor"):
            record_statement(
                conn, 999_999, statement("2000"), household=Household.SINGLE,
                on=date(2025, 3, 1), source="portal", confirmed=False,
            )  # fmt: skip
    with db_engine.connect() as conn:
        assert conn.execute(select(BudgetStatement.id)).first() is None
