"""The console's services on SQLite and PostgreSQL: users and login throttling, search and
the debtor-360 with their audit entries, plans and holds within authority, sealed
vulnerability notes, the creditor dashboard's exact figures and the audit log."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select, update

from respite.adapters.crypto import open_sealed
from respite.adapters.db.models import AuditEntry, Case, Event, Hold, Plan, SensitiveNote, User
from respite.errors import ConflictError, InputError, NotAllowed
from respite.services import console, users
from respite.services.authority import Actor
from respite.services.payments import book_payment
from respite.services.throttle import Policy
from tests.e2e.portal_data import Portfolio, seed

AT = datetime(2025, 2, 20, 9, 30, tzinfo=UTC)
PASSWORD = "correct horse battery staple"  # noqa: S105 - test users only
AGENT = Actor("alice", "agent", plan_limit_cents=100_000)  # EUR 1,000.00
SUPERVISOR = Actor("sam", "supervisor", plan_limit_cents=500_000)
JUNIOR_SUPERVISOR = Actor("jo", "supervisor", plan_limit_cents=10_000)
COMPLIANCE = Actor("cora", "compliance")
ADMIN = Actor("ada", "admin", plan_limit_cents=500_000)


@pytest.fixture(autouse=True)
def data_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RESPITE_DATA_KEY", raising=False)
    monkeypatch.setenv("RESPITE_DATA_KEY_FILE", str(tmp_path / "data.key"))


@pytest.fixture
def portfolio(db_engine: Engine) -> Portfolio:
    return seed(db_engine)


def audit_rows(engine: Engine, action: str | None = None) -> list[Any]:
    query = select(AuditEntry).order_by(AuditEntry.id)
    if action is not None:
        query = query.where(AuditEntry.action == action)
    with engine.connect() as conn:
        return list(conn.execute(query))


def person(engine: Engine, reference: str) -> int:
    with engine.connect() as conn:
        found = console.person_of_case(conn, reference)
    assert found is not None
    return found


def make_user(engine: Engine, username: str, role: str = "agent", **kw: Any) -> users.UserRecord:
    with engine.begin() as conn:
        return users.create_user(conn, username, PASSWORD, role=role, now=AT, **kw)


# --- users and login ------------------------------------------------------------------


def test_a_password_is_kept_only_as_an_argon2id_hash_with_owasp_parameters(
    db_engine: Engine,
) -> None:
    make_user(db_engine, "alice")
    with db_engine.connect() as conn:
        stored = conn.execute(select(User.password_hash)).scalar_one()
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert PASSWORD not in stored
    login = users.authenticate(db_engine, "Alice", PASSWORD, address="10.0.0.1", now=AT)
    assert login.user is not None
    assert login.user.username == "alice"
    assert [r.action for r in audit_rows(db_engine)] == ["create_user", "console_login"]


def test_an_unknown_user_and_a_wrong_password_get_the_same_answer(db_engine: Engine) -> None:
    make_user(db_engine, "alice")
    wrong = users.authenticate(db_engine, "alice", "not the password", address="a", now=AT)
    unknown = users.authenticate(db_engine, "mallory", PASSWORD, address="b", now=AT)
    assert wrong == unknown == users.Login(None)


def test_five_wrong_passwords_lock_the_username_even_against_the_right_one(
    db_engine: Engine,
) -> None:
    make_user(db_engine, "alice")
    for n in range(users.USER_POLICY.limit):
        users.authenticate(db_engine, "alice", f"guess number {n}", address=f"10.0.0.{n}", now=AT)
    locked = users.authenticate(db_engine, "alice", PASSWORD, address="10.9.9.9", now=AT)
    assert locked.user is None
    assert locked.locked_until == AT + users.USER_POLICY.lockout
    later = AT + users.USER_POLICY.lockout + timedelta(seconds=1)
    assert users.authenticate(db_engine, "alice", PASSWORD, address="10.9.9.9", now=later).ok


def test_an_unknown_username_is_locked_like_a_known_one(db_engine: Engine) -> None:
    for n in range(users.USER_POLICY.limit):
        users.authenticate(db_engine, "ghost", f"guess {n}", address=f"10.1.0.{n}", now=AT)
    assert users.authenticate(db_engine, "ghost", "x", address="10.2.0.1", now=AT).locked_until


def test_one_address_trying_many_usernames_is_locked(
    db_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        users, "ADDRESS_POLICY", Policy(3, timedelta(minutes=15), timedelta(minutes=15))
    )
    make_user(db_engine, "alice")
    for name in ("bob", "carol", "dave"):
        users.authenticate(db_engine, name, "guess guess", address="203.0.113.9", now=AT)
    assert users.authenticate(
        db_engine, "alice", PASSWORD, address="203.0.113.9", now=AT
    ).locked_until
    assert users.authenticate(db_engine, "alice", PASSWORD, address="198.51.100.1", now=AT).ok


def test_a_successful_login_forgets_the_earlier_failures(db_engine: Engine) -> None:
    make_user(db_engine, "alice")
    for n in range(users.USER_POLICY.limit - 1):
        users.authenticate(db_engine, "alice", f"guess {n}", address="a", now=AT)
    assert users.authenticate(db_engine, "alice", PASSWORD, address="a", now=AT).ok
    for n in range(users.USER_POLICY.limit - 1):
        users.authenticate(db_engine, "alice", f"again {n}", address="a", now=AT)
    assert users.authenticate(db_engine, "alice", PASSWORD, address="a", now=AT).ok


def test_a_disabled_user_cannot_log_in(db_engine: Engine) -> None:
    make_user(db_engine, "alice")
    with db_engine.begin() as conn:
        conn.execute(update(User).values(active=False))
    assert users.authenticate(db_engine, "alice", PASSWORD, address="a", now=AT).user is None


def test_user_rules_short_password_duplicate_name_and_creditor_binding(
    db_engine: Engine, portfolio: Portfolio
) -> None:
    with pytest.raises(InputError, match="password"), db_engine.begin() as conn:
        users.create_user(conn, "bob", "short", role="agent", now=AT)
    make_user(db_engine, "alice")
    with pytest.raises(ConflictError, match="exists"):
        make_user(db_engine, "alice")
    with pytest.raises(InputError, match="creditor"):
        make_user(db_engine, "stroom", role="creditor")
    with pytest.raises(InputError, match="only a user with role creditor"):
        make_user(db_engine, "carl", role="agent", creditor="Stroom & Water BV")
    bound = make_user(db_engine, "stroom", role="creditor", creditor="Stroom & Water BV")
    assert bound.creditor_id == portfolio.utility_creditor
    with db_engine.connect() as conn:
        listed = users.list_users(conn)
    assert [u["username"] for u in listed] == ["alice", "stroom"]
    assert all("password_hash" not in u for u in listed)


# --- reading personal data is audited ---------------------------------------------------


def test_search_finds_by_name_reference_and_postcode_and_audits_each_person_shown(
    db_engine: Engine, portfolio: Portfolio
) -> None:
    anna = person(db_engine, portfolio.utility_case)
    by_name = console.search(db_engine, "de vries", actor=AGENT, at=AT, client="10.0.0.7")
    assert {r["reference"] for r in by_name} == {portfolio.utility_case, portfolio.telecom_case}
    assert {r["person"] for r in by_name} == {anna}
    by_ref = console.search(db_engine, portfolio.other_case.lower(), actor=AGENT, at=AT)
    assert [r["name"] for r in by_ref] == ["Piet Jansen"]
    by_postcode = console.search(db_engine, "3511ab", actor=AGENT, at=AT)
    assert {r["name"] for r in by_postcode} == {"Anna de Vries"}
    entries = audit_rows(db_engine, "search_debtors")
    assert (entries[0].actor, entries[0].subject_type, entries[0].subject_id) == (
        "user:alice",
        "debtor",
        str(anna),
    )
    assert len(entries) == 3  # one per person per search: Anna, Piet, Anna
    assert entries[0].client == "10.0.0.7"
    with pytest.raises(NotAllowed):
        console.search(db_engine, "de vries", actor=Actor("c", "creditor", creditor_id=1), at=AT)


def test_the_debtor_page_is_one_audited_read_of_the_whole_person(
    db_engine: Engine, portfolio: Portfolio
) -> None:
    anna = person(db_engine, portfolio.telecom_case)
    view = console.debtor_page(db_engine, anna, on=portfolio.on, actor=AGENT, at=AT)
    assert {c["reference"] for c in view["cases"]} == {
        portfolio.utility_case,
        portfolio.telecom_case,
    }
    assert portfolio.other_case not in {c["reference"] for c in view["cases"]}
    assert view["timeline"][0]["reference"] in {portfolio.utility_case, portfolio.telecom_case}
    [entry] = audit_rows(db_engine, "read_debtor_360")
    assert (entry.actor, entry.subject_id, entry.purpose) == (
        "user:alice",
        str(anna),
        "debtor-360 page",
    )
    with pytest.raises(NotAllowed):
        console.debtor_page(
            db_engine, anna, on=portfolio.on, actor=Actor("c", "creditor", creditor_id=1), at=AT
        )
    assert len(audit_rows(db_engine, "read_debtor_360")) == 1


# --- holds and plans within authority ----------------------------------------------------


def test_an_agent_places_a_hold_and_only_a_supervisor_lifts_it(
    db_engine: Engine, portfolio: Portfolio
) -> None:
    ref = portfolio.utility_case
    console.place_hold(
        db_engine, ref, "dispute", reason="meter reading", until=None, on=portfolio.on,
        actor=AGENT, at=AT,
    )  # fmt: skip
    with pytest.raises(NotAllowed):
        console.lift_hold(
            db_engine, ref, "dispute", reason="resolved", on=portfolio.on, actor=AGENT, at=AT
        )
    console.lift_hold(
        db_engine, ref, "dispute", reason="resolved", on=portfolio.on, actor=SUPERVISOR, at=AT
    )
    with db_engine.connect() as conn:
        kinds = [
            (e.kind, e.actor)
            for e in conn.execute(
                select(Event.kind, Event.actor)
                .join(Case, Case.id == Event.case_id)
                .where(Case.reference == ref, Event.kind.like("hold_%"))
                .order_by(Event.id)
            )
        ]
    assert kinds == [("hold_placed", "user:alice"), ("hold_lifted", "user:sam")]


def test_an_agent_is_refused_a_plan_above_their_limit_and_nothing_is_stored(
    db_engine: Engine, portfolio: Portfolio
) -> None:
    with pytest.raises(
        NotAllowed, match=r"EUR 1,6\d\d\.\d\d, above your authority of EUR 1,000\.00"
    ):
        console.propose_plan(
            db_engine, portfolio.utility_case, instalment_cents=10_000, all_cases=True,
            payday=None, on=portfolio.on, actor=AGENT, at=AT,
        )  # fmt: skip
    with db_engine.connect() as conn:
        assert conn.execute(select(Plan.id)).first() is None


def test_a_plan_outside_policy_waits_for_a_supervisor_within_their_own_limit(
    db_engine: Engine, portfolio: Portfolio
) -> None:
    # EUR 10 a month for EUR 281.45 is 29 months: longer than the policy's 24.
    result = console.propose_plan(
        db_engine, portfolio.utility_case, instalment_cents=1_000, all_cases=False,
        payday=None, on=portfolio.on, actor=AGENT, at=AT,
    )  # fmt: skip
    assert result["status"] == "pending_review"
    [pending] = console.pending_plans(db_engine, actor=SUPERVISOR, at=AT)
    assert pending["plan"] == result["plan"]
    assert pending["total_cents"] > JUNIOR_SUPERVISOR.plan_limit_cents
    with pytest.raises(NotAllowed, match="above your authority"):
        console.decide_plan(
            db_engine, result["plan"], approve=True, reason="", on=portfolio.on,
            actor=JUNIOR_SUPERVISOR, at=AT,
        )  # fmt: skip
    with pytest.raises(NotAllowed):
        console.decide_plan(
            db_engine, result["plan"], approve=True, reason="", on=portfolio.on,
            actor=AGENT, at=AT,
        )  # fmt: skip
    console.decide_plan(
        db_engine, result["plan"], approve=True, reason="", on=portfolio.on,
        actor=SUPERVISOR, at=AT,
    )  # fmt: skip
    with db_engine.connect() as conn:
        plan = conn.execute(select(Plan).where(Plan.id == result["plan"])).one()
    assert (plan.status, plan.proposed_by, plan.decided_by) == ("active", "user:alice", "user:sam")
    assert console.pending_plans(db_engine, actor=SUPERVISOR, at=AT) == []
    anna = person(db_engine, portfolio.utility_case)
    [review] = audit_rows(db_engine, "read_plan_reviews")
    assert (review.actor, review.subject_id) == ("user:sam", str(anna))


# --- vulnerability --------------------------------------------------------------------


def test_a_vulnerability_note_is_sealed_and_only_compliance_opens_it_with_a_reason(
    db_engine: Engine, portfolio: Portfolio
) -> None:
    anna = person(db_engine, portfolio.utility_case)
    text = "Lost her job last month; says she is under treatment for depression."
    result = console.record_vulnerability(
        db_engine, anna, text, consent=True, hold=True, on=portfolio.on, actor=AGENT, at=AT
    )
    assert result["held"] == [portfolio.utility_case, portfolio.telecom_case]
    with db_engine.connect() as conn:
        sealed = conn.execute(select(SensitiveNote.ciphertext)).scalar_one()
        reasons = list(conn.execute(select(Event.reason, Event.after)).all())
        held = conn.execute(select(Hold.kind)).scalars().all()
    assert "depression" not in sealed
    assert open_sealed(sealed) == text
    assert all("depression" not in r.reason and "depression" not in str(r.after) for r in reasons)
    assert held == ["vulnerability_review", "vulnerability_review"]
    [note] = console.debtor_page(db_engine, anna, on=portfolio.on, actor=AGENT, at=AT)["notes"]
    assert set(note) == {"id", "kind", "recorded_at", "recorded_by", "consent", "reference"}
    for who in (AGENT, SUPERVISOR, ADMIN):
        with pytest.raises(NotAllowed):
            console.read_vulnerability(db_engine, note["id"], reason="complaint", actor=who, at=AT)
    with pytest.raises(InputError, match="why"):
        console.read_vulnerability(db_engine, note["id"], reason="", actor=COMPLIANCE, at=AT)
    assert audit_rows(db_engine, "read_vulnerability") == []
    opened = console.read_vulnerability(
        db_engine, note["id"], reason="complaint", actor=COMPLIANCE, at=AT, client="10.0.0.3"
    )
    assert opened["text"] == text
    [entry] = audit_rows(db_engine, "read_vulnerability")
    assert (entry.actor, entry.subject_id, entry.client) == ("user:cora", str(anna), "10.0.0.3")
    assert entry.purpose == f"vulnerability note {note['id']}: handling a complaint"


def test_recording_again_does_not_stack_a_second_review_hold(
    db_engine: Engine, portfolio: Portfolio
) -> None:
    anna = person(db_engine, portfolio.utility_case)
    for _ in range(2):
        console.record_vulnerability(
            db_engine, anna, "noticed", consent=False, hold=True, on=portfolio.on, actor=AGENT,
            at=AT,
        )  # fmt: skip
    with db_engine.connect() as conn:
        assert len(conn.execute(select(Hold.id)).all()) == 2  # one per case, not four


# --- creditor dashboard ---------------------------------------------------------------


def open_cents(engine: Engine, reference: str, portfolio: Portfolio) -> int:
    """What the debtor-360 (its own query) says a case still owes, in cents."""
    view = console.debtor_page(
        engine, person(engine, reference), on=portfolio.on, actor=AGENT, at=AT
    )
    [case] = [c for c in view["cases"] if c["reference"] == reference]
    return int(case["total_open"].replace(".", ""))


def test_the_dashboard_shows_placed_collected_open_in_plan_and_on_hold_to_the_cent(
    db_engine: Engine, portfolio: Portfolio
) -> None:
    with db_engine.begin() as conn:
        ids = dict(conn.execute(select(Case.reference, Case.id)).all())
        book_payment(
            conn, ids[portfolio.utility_case], 5_000, portfolio.on, "bank-1", now=AT,
            jurisdiction="NL",
        )  # fmt: skip
    console.place_hold(
        db_engine, portfolio.other_case, "debt_counselling", reason="referred", until=None,
        on=portfolio.on, actor=AGENT, at=AT,
    )  # fmt: skip
    before = console.creditor_dashboard(db_engine, portfolio.utility_creditor, on=portfolio.on)
    assert before is not None
    piet_open = open_cents(db_engine, portfolio.other_case, portfolio)
    anna_open = open_cents(db_engine, portfolio.utility_case, portfolio)
    # The payment posted the interest carried below a cent first, then paid EUR 50.00.
    assert 28_145 - 5_000 <= anna_open < 28_145 - 5_000 + 100
    assert (before.placed.count, before.placed.cents) == (2, 24_000 + 9_550)
    assert (before.collected.count, before.collected.cents) == (1, 5_000)
    assert (before.on_hold.count, before.on_hold.cents) == (1, piet_open)
    assert (before.in_plan.count, before.in_plan.cents) == (0, 0)
    assert before.open.count == 2
    assert before.open.cents == piet_open + anna_open
    assert sum(cents for _, _, cents in before.by_stage) == before.open.cents
    console.propose_plan(
        db_engine, portfolio.utility_case, instalment_cents=5_000, all_cases=False,
        payday=None, on=portfolio.on, actor=AGENT, at=AT,
    )  # fmt: skip
    after = console.creditor_dashboard(db_engine, portfolio.utility_creditor, on=portfolio.on)
    assert after is not None
    assert after.in_plan.count == 1
    assert after.in_plan.cents == after.open.cents - piet_open
    telecom = console.creditor_dashboard(db_engine, portfolio.telecom_creditor, on=portfolio.on)
    assert telecom is not None
    assert (telecom.placed.count, telecom.placed.cents) == (1, 115_000)
    assert (telecom.collected.count, telecom.collected.cents, telecom.on_hold.count) == (0, 0, 0)
    assert console.creditor_dashboard(db_engine, 999, on=portfolio.on) is None


# --- the audit log --------------------------------------------------------------------


def test_reading_and_exporting_the_audit_log_are_audited_too(
    db_engine: Engine, portfolio: Portfolio
) -> None:
    anna = person(db_engine, portfolio.utility_case)
    console.debtor_page(db_engine, anna, on=portfolio.on, actor=AGENT, at=AT)
    rows = console.audit_log(
        db_engine, since=None, until=None, actor_filter="user:alice", subject=f"debtor:{anna}",
        actor=SUPERVISOR, at=AT + timedelta(minutes=1),
    )  # fmt: skip
    assert [r["action"] for r in rows] == ["read_debtor_360"]
    with pytest.raises(NotAllowed):
        console.audit_log(
            db_engine, since=None, until=None, actor_filter=None, subject=None, actor=AGENT, at=AT
        )
    body, count = console.export_audit(
        db_engine, since=AT.date(), until=AT.date(), actor=COMPLIANCE, at=AT + timedelta(minutes=2)
    )
    exported = list(csv.DictReader(io.StringIO(body)))
    assert count == len(exported) == 3
    assert [e["action"] for e in exported] == [
        "read_debtor_360",
        "read_audit_log",
        "export_audit_log",
    ]
    assert exported[1]["actor"] == "user:sam"
    assert exported[2]["actor"] == "user:cora"
    nothing, none = console.export_audit(
        db_engine, since=AT.date() + timedelta(days=1), until=None, actor="cli", at=AT
    )
    assert none == 0  # the export itself is dated AT, before the period
    assert nothing.splitlines() == [",".join(("id", "at", "actor", "action", "subject_type",
                                              "subject_id", "purpose", "client"))]  # fmt: skip


def test_the_demo_operators_log_in_with_the_printed_passwords_renewed_on_every_run(
    db_engine: Engine,
) -> None:
    first = users.ensure_demo_operators(db_engine, now=AT)
    second = users.ensure_demo_operators(db_engine, now=AT)
    assert [(u, r) for u, r, _ in second] == [(u, r) for u, r, _ in first]
    assert {r for _, r, _ in first} == {"agent", "supervisor", "compliance", "admin"}
    for (username, _, old), (_, _, new) in zip(first, second, strict=True):
        assert old != new
        assert users.authenticate(db_engine, username, new, address="demo", now=AT).ok
        assert not users.authenticate(db_engine, username, old, address="demo2", now=AT).ok
    with db_engine.connect() as conn:
        assert len(users.list_users(conn)) == 4
