"""One debtor, many debts: identity resolution across creditors and the debtor-360 view."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import Connection, Engine, func, insert, select

from respite.adapters.db.models import Debtor, IdentityLink, Plan, PlanCase, Referral
from respite.domain.lifecycle import CloseReason, HoldKind, Stage
from respite.domain.money import Money
from respite.errors import ConflictError
from respite.services import cases as case_service
from respite.services import identity
from respite.services.debtor360 import debtor_360
from respite.services.people import debtor_ids_of_person, person_of
from respite.services.store import (
    NewCase,
    NewClaim,
    NewDebtor,
    case_reference,
    ensure_creditor,
    identity_key,
    open_cases,
    upsert_debtors,
)

NOW = datetime(2025, 3, 1, 6, tzinfo=UTC)
ON = date(2025, 3, 1)
DOB = date(1980, 5, 1)


@dataclass(frozen=True)
class Person:
    name: str
    birth_date: date | None = None
    street: str | None = None
    postcode: str | None = None
    email: str | None = None
    phone: str | None = None
    iban: str | None = None


def _add(conn: Connection, creditor: str, person: Person, *amounts: str) -> tuple[int, int]:
    """One creditor's debtor record and one case with a claim per amount: (debtor, case)."""
    creditor_id = ensure_creditor(conn, creditor, jurisdiction="NL", currency="EUR", now=NOW)
    key = identity_key(person.name, birth_date=person.birth_date, postcode=person.postcode)
    debtor = NewDebtor(
        key,
        "consumer",
        person.name,
        "NL",
        "nl",
        "Europe/Amsterdam",
        email=person.email,
        phone=person.phone,
        iban=person.iban,
        street=person.street,
        postcode=person.postcode,
        city="Utrecht",
        birth_date=person.birth_date,
    )
    ids = upsert_debtors(conn, [debtor], now=NOW)
    claims = tuple(
        NewClaim(
            f"{creditor}-{key}-{n}", date(2024, 11, 1), date(2024, 12, 1), Money.of(amount, "EUR")
        )
        for n, amount in enumerate(amounts)
    )
    (case_id,) = open_cases(
        conn,
        creditor_id,
        [NewCase(key, claims)],
        ids,
        on=ON,
        actor="test",
        reason="test import",
        now=NOW,
    )
    return ids[key], case_id


# Three creditors' spellings of one person, and a namesake at the same address.
WATER = Person(
    "Jan de Vries",
    DOB,
    "Kerkstraat 12a",
    "1234 AB",
    email="jan.devries@example.nl",
    phone="06-12345678",
)
ENERGY = Person("J. de Vries", DOB, "Kerkstraat 12 A", "1234ab")
PHONE_CO = Person("Vries, Jan de", email="Jan.deVries@example.nl", phone="+31 6 1234 5678")
FATHER = Person("Jan de Vries", date(1952, 2, 9), "Kerkstraat 12a", "1234 AB")
# A borderline pair: the same name and account, nothing else.
MARIA_1 = Person("Maria Jansen", iban="NL91ABNA0417164300")
MARIA_2 = Person("Maria Jansen", iban="NL91 ABNA 0417 1643 00", postcode="9999 ZZ")


@pytest.fixture
def spellings(db_engine: Engine) -> dict[str, tuple[int, int]]:
    with db_engine.begin() as conn:
        return {
            "water": _add(conn, "Waterbedrijf", WATER, "100.00", "25.50"),
            "energy": _add(conn, "Energie BV", ENERGY, "200.00"),
            "phone": _add(conn, "Telecom NV", PHONE_CO, "50.01"),
            "father": _add(conn, "Waterbedrijf", FATHER, "999.99"),
            "maria_1": _add(conn, "Energie BV", MARIA_1, "10.00"),
            "maria_2": _add(conn, "Telecom NV", MARIA_2, "20.00"),
        }


def test_three_creditors_spellings_become_one_person_and_the_namesake_stays_apart(
    db_engine: Engine, spellings: dict[str, tuple[int, int]]
) -> None:
    with db_engine.begin() as conn:
        links = identity.resolve_all(conn, at=NOW)
    water, energy, phone, father = (spellings[k][0] for k in ("water", "energy", "phone", "father"))
    linked = {
        (link["debtor_id"], link["other_debtor_id"]) for link in links if link["status"] == "linked"
    }
    assert (energy, water) in linked
    assert (phone, water) in linked
    with db_engine.connect() as conn:
        assert debtor_ids_of_person(conn, water) == [water, energy, phone]
        assert person_of(conn, phone) == water
        assert person_of(conn, father) == father
        # The namesake was a candidate (same address) but never a link nor a review item.
        statuses = conn.execute(
            select(IdentityLink.status).where(
                (IdentityLink.debtor_id == father) | (IdentityLink.other_debtor_id == father)
            )
        ).scalars()
        assert list(statuses) == []
    for link in links:
        assert link["reasons"], "every stored link says why"
        assert link["score"] == max(0, min(100, sum(r["points"] for r in link["reasons"])))


def test_a_borderline_pair_waits_for_review_and_an_accept_links_it(
    db_engine: Engine, spellings: dict[str, tuple[int, int]]
) -> None:
    maria_1, maria_2 = spellings["maria_1"][0], spellings["maria_2"][0]
    with db_engine.begin() as conn:
        identity.resolve_all(conn, at=NOW)
    with db_engine.connect() as conn:
        queue = identity.review_queue(conn)
        assert person_of(conn, maria_2) == maria_2
    (item,) = [q for q in queue if {q["debtor"]["id"], q["other"]["id"]} == {maria_1, maria_2}]
    assert item["score"] == 60
    assert {r["signal"] for r in item["reasons"]} == {"name", "iban"}
    assert item["debtor"]["name"] == "Maria Jansen"
    with db_engine.begin() as conn:
        result = identity.decide(conn, item["link_id"], True, actor="agent:anna", at=NOW)
    assert result["status"] == "linked"
    with db_engine.connect() as conn:
        assert person_of(conn, maria_2) == maria_1
        assert all(q["link_id"] != item["link_id"] for q in identity.review_queue(conn))
        decided_by = conn.execute(
            select(IdentityLink.decided_by).where(IdentityLink.id == item["link_id"])
        ).scalar_one()
        assert decided_by == "agent:anna"
    with db_engine.begin() as conn, pytest.raises(ConflictError, match="already decided"):
        identity.decide(conn, item["link_id"], False, actor="agent:bob", at=NOW)


def test_a_rejected_pair_is_not_queued_again(
    db_engine: Engine, spellings: dict[str, tuple[int, int]]
) -> None:
    with db_engine.begin() as conn:
        identity.resolve_all(conn, at=NOW)
    with db_engine.connect() as conn:
        (item,) = [q for q in identity.review_queue(conn) if q["debtor"]["name"] == "Maria Jansen"]
    with db_engine.begin() as conn:
        identity.decide(conn, item["link_id"], False, actor="agent:anna", at=NOW)
    with db_engine.begin() as conn:
        before = conn.execute(select(func.count()).select_from(IdentityLink)).scalar_one()
        again = identity.resolve_all(conn, at=NOW)
        assert again == []
        assert person_of(conn, spellings["maria_2"][0]) == spellings["maria_2"][0]
        after = conn.execute(select(func.count()).select_from(IdentityLink)).scalar_one()
        assert after == before
        status = conn.execute(
            select(IdentityLink.status).where(IdentityLink.id == item["link_id"])
        ).scalar_one()
        assert status == "rejected"


def test_a_new_record_is_matched_on_its_own_and_joins_the_person(
    db_engine: Engine, spellings: dict[str, tuple[int, int]]
) -> None:
    water = spellings["water"][0]
    with db_engine.begin() as conn:
        identity.resolve_all(conn, at=NOW)
        newcomer, _ = _add(
            conn,
            "Gemeente",
            Person(
                "Jan P. de Vries",
                DOB,
                email="jan.devries@example.nl",
                iban="NL02RABO0123456789",
                phone="0031612345678",
            ),
            "75.00",
        )
        links = identity.resolve(conn, newcomer, at=NOW)
        assert {link["status"] for link in links} == {"linked"}
        assert person_of(conn, newcomer) == water
        # The father shares the name and nothing else that blocks: no pair at all.
        assert all(
            spellings["father"][0] not in (lk["debtor_id"], lk["other_debtor_id"]) for lk in links
        )


def test_debtor_360_shows_every_case_across_creditors_with_the_totals(
    db_engine: Engine, spellings: dict[str, tuple[int, int]]
) -> None:
    water_debtor, water_case = spellings["water"]
    energy_case, phone_case = spellings["energy"][1], spellings["phone"][1]
    with db_engine.begin() as conn:
        identity.resolve_all(conn, at=NOW)
        case_service.place_hold_in(
            conn,
            case_reference(energy_case),
            HoldKind.DISPUTE,
            on=ON,
            actor="agent:anna",
            reason="disputes the meter reading",
            until=date(2025, 3, 31),
            at=NOW,
        )
        plan_id = conn.execute(
            insert(Plan)
            .values(
                debtor_id=water_debtor,
                status="active",
                created_on=ON,
                first_due=date(2025, 4, 1),
                months=10,
                instalment_cents=3000,
                total_cents=30000,
                currency="EUR",
                max_misses=2,
                proposed_by="debtor",
            )
            .returning(Plan.id)
        ).scalar_one()
        conn.execute(
            insert(PlanCase),
            [
                {
                    "plan_id": plan_id,
                    "case_id": water_case,
                    "share_cents": 1000,
                    "total_cents": 10000,
                },
                {
                    "plan_id": plan_id,
                    "case_id": phone_case,
                    "share_cents": 2000,
                    "total_cents": 20000,
                },
            ],
        )
        conn.execute(
            insert(Referral).values(
                debtor_id=spellings["phone"][0],
                created_on=ON,
                reasons=["several creditors"],
                municipality="Utrecht",
                contact={"phone": "14 030"},
                status="open",
                created_by="agent:anna",
            )
        )
    with db_engine.connect() as conn:
        by_reference = debtor_360(conn, case_reference(phone_case), on=date(2025, 3, 15))
        by_id = debtor_360(conn, str(spellings["energy"][0]), on=date(2025, 3, 15))
        after_hold = debtor_360(conn, water_debtor, on=date(2025, 4, 1))
    assert by_reference == by_id
    view = by_reference
    assert view["person"] == water_debtor
    assert [c["creditor"] for c in view["cases"]] == ["Waterbedrijf", "Energie BV", "Telecom NV"]
    assert [c["total_open"] for c in view["cases"]] == ["125.50", "200.00", "50.01"]
    assert view["cases"][0]["principal_open"] == "125.50"
    assert view["total_debt"] == {
        "EUR": {
            "principal": "375.51",
            "interest": "0.00",
            "costs": "0.00",
            "total": "375.51",
            "credit": "0.00",
        }
    }
    assert [h["kind"] for h in view["cases"][1]["holds"]] == ["dispute"]
    assert view["cases_on_hold"] == 1
    assert after_hold["cases_on_hold"] == 0
    (plan,) = view["plans"]
    assert (plan["status"], plan["instalment"], plan["months"]) == ("active", "30.00", 10)
    assert [(c["reference"], c["instalment_share"]) for c in plan["cases"]] == [
        (case_reference(water_case), "10.00"),
        (case_reference(phone_case), "20.00"),
    ]
    assert [r["municipality"] for r in view["referrals"]] == ["Utrecht"]
    assert "999.99" not in {c["total_open"] for c in view["cases"]}


def test_a_closed_case_is_shown_but_not_counted_in_the_total_debt(
    db_engine: Engine, spellings: dict[str, tuple[int, int]]
) -> None:
    with db_engine.begin() as conn:
        identity.resolve_all(conn, at=NOW)
    case_service.move_case(
        db_engine,
        case_reference(spellings["phone"][1]),
        Stage.CLOSED,
        on=ON,
        actor="agent:anna",
        reason="recalled by the creditor",
        close_reason=CloseReason.RECALLED,
        at=NOW,
    )
    with db_engine.connect() as conn:
        view = debtor_360(conn, spellings["water"][0], on=ON)
        assert (
            conn.execute(
                select(Debtor.person_id).where(Debtor.id == spellings["water"][0])
            ).scalar()
            is None
        )
    assert [c["closed"] for c in view["cases"]] == [False, False, True]
    assert view["total_debt"]["EUR"]["total"] == "325.50"
    assert view["open_cases"] == 2
