"""Portal login at the service level, on SQLite and PostgreSQL: codes, expiry, throttling,
no enumeration (same answer, same work, about the same time), signed links."""

from __future__ import annotations

import math
import statistics
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import Engine, select

from respite.adapters.db.models import AccessCode, Event, LoginThrottle
from respite.domain.money import Money
from respite.errors import InputError
from respite.services import messaging, portal_access, throttle
from respite.services.portal_access import Policies
from respite.services.store import (
    NewCase,
    NewClaim,
    NewDebtor,
    ensure_creditor,
    open_cases,
    upsert_debtors,
)

ON = date(2025, 3, 3)
NOW = datetime(2025, 3, 3, 9, 30, tzinfo=UTC)
LOOSE = Policies(
    throttle.Policy(10_000, timedelta(minutes=15), timedelta(minutes=15)),
    throttle.Policy(10_000, timedelta(minutes=15), timedelta(minutes=15)),
)


@dataclass(frozen=True)
class Book:
    engine: Engine
    refs: tuple[str, ...]  # one case per person, all with no code yet
    ids: tuple[int, ...]


@pytest.fixture
def book(db_engine: Engine) -> Book:
    people = [
        NewDebtor(f"p:person {i}", "consumer", f"Person {i}", "NL", "nl", "Europe/Amsterdam")
        for i in range(6)
    ]
    with db_engine.begin() as conn:
        creditor = ensure_creditor(conn, "Water NV", jurisdiction="NL", currency="EUR", now=NOW)
        ids = upsert_debtors(conn, people, now=NOW)
        case_ids = open_cases(
            conn,
            creditor,
            [
                NewCase(
                    p.identity_key,
                    (
                        NewClaim(
                            f"INV-{i}",
                            date(2025, 1, 1),
                            date(2025, 1, 31),
                            Money.of("100.00"),
                        ),
                    ),
                )
                for i, p in enumerate(people)
            ],
            ids,
            on=ON,
            actor="creditor",
            reason="handed over",
            now=NOW,
        )
    return Book(db_engine, tuple(f"R{c:09d}" for c in case_ids), tuple(case_ids))


def _issue(book: Book, case: int, on: date = ON, days: int = 30) -> str:
    with book.engine.begin() as conn:
        return messaging.issue_login_code(conn, book.ids[case], on, days, None)


def _try(
    book: Book,
    ref: str,
    code: str,
    *,
    client: str = "203.0.113.7",
    on: date = ON,
    now: datetime = NOW,
    policies: Policies = portal_access.DEFAULT_POLICIES,
) -> portal_access.LoggedIn | None:
    with book.engine.begin() as conn:
        return portal_access.log_in(
            conn, ref, code, client=client, on=on, now=now, policies=policies
        )


def _locked(book: Book, key: str, now: datetime = NOW) -> datetime | None:
    with book.engine.connect() as conn:
        return throttle.locked(conn, [key], now)


def _wrong(code: str) -> str:
    """Another valid-looking code: the same alphabet and length, one symbol changed."""
    alphabet = messaging.CODE_ALPHABET
    return alphabet[(alphabet.index(code[0]) + 1) % len(alphabet)] + code[1:]


# --- codes -------------------------------------------------------------------------------


def test_codes_carry_at_least_60_bits_of_entropy() -> None:
    alphabet = messaging.CODE_ALPHABET
    assert len(set(alphabet)) == len(alphabet) == 32
    assert not set("IO01") & set(alphabet)  # no look-alikes
    assert messaging.CODE_LENGTH * math.log2(len(alphabet)) >= 60
    codes = {messaging.new_login_code() for _ in range(200)}
    assert len(codes) == 200
    assert all(len(c) == 12 and set(c) <= set(alphabet) for c in codes)


def test_only_an_argon2id_hash_of_the_code_is_stored(book: Book) -> None:
    code = _issue(book, 0)
    with book.engine.connect() as conn:
        stored = conn.execute(select(AccessCode.code_hash)).scalar_one()
    assert stored.startswith("$argon2id$")
    assert code not in stored


def test_the_right_code_logs_the_person_in_and_every_login_is_on_the_timeline(book: Book) -> None:
    code = _issue(book, 0)
    first = _try(book, book.refs[0], code)
    second = _try(book, book.refs[0], code, now=NOW + timedelta(hours=1))
    assert first is not None
    assert second == first  # the code stays valid until it expires
    assert (first.case_id, first.reference, first.language) == (book.ids[0], book.refs[0], "nl")
    with book.engine.connect() as conn:
        used = conn.execute(select(AccessCode.used_at)).scalar_one()
        logins = conn.execute(
            select(Event.actor, Event.after).where(Event.kind == "portal_login")
        ).all()
    assert used is not None
    assert used.replace(tzinfo=UTC) == NOW
    # One event per login (the social report counts them), the first use marked; never
    # the code itself.
    assert [(a, after["first_use"], code in str(after)) for a, after in logins] == [
        ("debtor:portal", True, False),
        ("debtor:portal", False, False),
    ]


def test_reference_and_code_are_accepted_as_people_type_them(book: Book) -> None:
    code = _issue(book, 0)
    typed = f" {code[:4].lower()}-{code[4:8]} {code[8:].lower()} "
    assert _try(book, f" {book.refs[0].lower()} ", typed) is not None


def test_a_code_with_a_symbol_the_alphabet_leaves_out_is_wrong(book: Book) -> None:
    # A letter printed as "0" typed as "O" is not silently mapped: it is a wrong code.
    code = _issue(book, 0)
    assert _try(book, book.refs[0], "O" + code[1:]) is None
    assert _try(book, book.refs[0], code[:11] + "1") is None


def test_a_code_is_valid_up_to_its_expiry_date_and_not_a_day_longer(book: Book) -> None:
    code = _issue(book, 0, days=10)
    assert _try(book, book.refs[0], code, on=ON + timedelta(days=10)) is not None
    assert _try(book, book.refs[0], code, on=ON + timedelta(days=11)) is None


def test_a_code_works_only_for_its_own_case(book: Book) -> None:
    code = _issue(book, 0)
    assert _try(book, book.refs[1], code) is None


def test_the_three_newest_live_codes_are_checked(book: Book) -> None:
    oldest = _issue(book, 0, on=ON - timedelta(days=3))
    newer = [_issue(book, 0, on=ON - timedelta(days=d)) for d in (2, 1, 0)]
    for code in newer:
        assert _try(book, book.refs[0], code) is not None
    # A fourth, older code falls outside the K verifications every attempt runs.
    assert _try(book, book.refs[0], oldest) is None


# --- no enumeration -------------------------------------------------------------------------


def test_unknown_reference_wrong_code_and_expired_code_are_refused_alike(book: Book) -> None:
    live = _issue(book, 0)
    expired = _issue(book, 1, on=ON - timedelta(days=40), days=30)
    attempts = {
        "unknown": ("R999999999", live),
        "wrong": (book.refs[0], _wrong(live)),
        "expired": (book.refs[1], expired),
    }
    results = {name: _try(book, ref, code) for name, (ref, code) in attempts.items()}
    assert results == dict.fromkeys(attempts)
    with book.engine.connect() as conn:
        counted = dict(conn.execute(select(LoginThrottle.key, LoginThrottle.failures)).all())
    # Every failure counts, for known and unknown references alike.
    assert counted == {
        "ref:R999999999": 1,
        f"ref:{book.refs[0]}": 1,
        f"ref:{book.refs[1]}": 1,
        "ip:203.0.113.7": 3,
    }


def test_every_attempt_runs_exactly_three_hash_verifications(
    book: Book, monkeypatch: pytest.MonkeyPatch
) -> None:
    code = _issue(book, 0)
    calls: list[str] = []
    real = portal_access._verify

    def counting(code_hash: str, candidate: str) -> bool:
        calls.append(code_hash)
        return real(code_hash, candidate)

    monkeypatch.setattr(portal_access, "_verify", counting)
    counts = {}
    for name, ref, attempt in [
        ("unknown reference", "R999999999", code),
        ("wrong code", book.refs[0], _wrong(code)),
        ("no code issued", book.refs[2], code),
        ("right code", book.refs[0], code),
    ]:
        calls.clear()
        _try(book, ref, attempt)
        counts[name] = len(calls)
    for _ in range(5):
        _try(book, book.refs[3], code)  # locks R3
    calls.clear()
    _try(book, book.refs[3], code)
    counts["locked"] = len(calls)
    assert set(counts.values()) == {portal_access.VERIFICATIONS}, counts
    assert portal_access.VERIFICATIONS == 3


def test_an_unknown_reference_takes_as_long_as_a_wrong_code(book: Book) -> None:
    code = _issue(book, 0)
    wrong = _wrong(code)
    timings: dict[str, list[float]] = {"unknown": [], "wrong": []}
    _try(book, "R999999998", wrong, policies=LOOSE)  # warm caches (dummy hash, statements)
    for _ in range(10):  # interleaved, so load on the machine hits both alike
        for name, ref in (("unknown", "R999999999"), ("wrong", book.refs[0])):
            start = time.perf_counter()
            assert _try(book, ref, wrong, policies=LOOSE) is None
            timings[name].append(time.perf_counter() - start)
    ratio = statistics.median(timings["unknown"]) / statistics.median(timings["wrong"])
    assert 0.6 < ratio < 1.6, (ratio, timings)


# --- throttling --------------------------------------------------------------------------


def test_five_wrong_codes_lock_the_reference_even_against_the_right_code(book: Book) -> None:
    code = _issue(book, 0)
    for i in range(5):
        assert _try(book, book.refs[0], _wrong(code), now=NOW + timedelta(seconds=i)) is None
    locked_at = NOW + timedelta(seconds=4)
    assert _locked(book, f"ref:{book.refs[0]}") == locked_at + timedelta(minutes=15)
    # Another address does not help: the reference itself is locked.
    assert _try(book, book.refs[0], code, client="198.51.100.1", now=locked_at) is None
    assert _try(book, book.refs[0], code, now=locked_at + timedelta(minutes=14)) is None
    after = locked_at + timedelta(minutes=15, seconds=1)
    assert _try(book, book.refs[0], code, now=after) is not None
    assert _locked(book, f"ref:{book.refs[0]}", after) is None


def test_a_success_clears_the_reference_count_but_not_the_address_count(book: Book) -> None:
    code = _issue(book, 0)
    for _ in range(4):
        _try(book, book.refs[0], _wrong(code))
    assert _try(book, book.refs[0], code) is not None
    with book.engine.connect() as conn:
        counted = dict(conn.execute(select(LoginThrottle.key, LoginThrottle.failures)).all())
    assert counted == {"ip:203.0.113.7": 4}
    # The count started afresh: four more wrong codes do not lock the reference yet.
    for _ in range(4):
        _try(book, book.refs[0], _wrong(code), client="198.51.100.2")
    assert _try(book, book.refs[0], code, client="198.51.100.2") is not None


def test_failures_older_than_the_window_are_forgotten(book: Book) -> None:
    code = _issue(book, 0)
    for _ in range(4):
        _try(book, book.refs[0], _wrong(code))
    later = NOW + timedelta(minutes=16)
    _try(book, book.refs[0], _wrong(code), now=later)  # a new window: 1 failure, not 5
    assert _locked(book, f"ref:{book.refs[0]}", later) is None
    assert _try(book, book.refs[0], code, now=later) is not None


def test_unknown_references_are_locked_exactly_like_known_ones(book: Book) -> None:
    code = _issue(book, 0)
    for ref in ("R999999999", book.refs[0]):
        for _ in range(5):
            _try(book, ref, _wrong(code), client=f"198.51.100.{len(ref)}")
    known = _locked(book, f"ref:{book.refs[0]}")
    unknown = _locked(book, "ref:R999999999")
    assert known is not None
    assert known == unknown


def test_twenty_failures_from_one_address_lock_it_for_every_reference(book: Book) -> None:
    code = _issue(book, 5)
    # Four tries on each of five references: no reference reaches its limit, the address does.
    for n in range(20):
        _try(book, book.refs[n % 5], "AAAAAAAAAAAA", client="192.0.2.50")
    assert all(_locked(book, f"ref:{r}") is None for r in book.refs)
    assert _locked(book, "ip:192.0.2.50") == NOW + timedelta(minutes=15)
    assert _try(book, book.refs[5], code, client="192.0.2.50") is None
    assert _try(book, book.refs[5], code, client="192.0.2.51") is not None


# --- codes for agents -------------------------------------------------------------------


def test_an_agent_issues_a_code_that_logs_in_and_the_timeline_says_so(book: Book) -> None:
    with book.engine.begin() as conn:
        issued = portal_access.issue_code(
            conn, book.refs[0].lower(), on=ON, days=14, at=NOW, actor="agent:anna"
        )
        events = conn.execute(
            select(Event.actor, Event.after).where(Event.kind == "login_code_issued")
        ).all()
    assert (issued.reference, issued.expires_on) == (book.refs[0], ON + timedelta(days=14))
    assert events == [("agent:anna", {"expires_on": "2025-03-17"})]
    assert _try(book, book.refs[0], issued.code) is not None


def test_a_code_for_an_unknown_case_is_refused_with_a_clear_message(book: Book) -> None:
    with book.engine.begin() as conn, pytest.raises(InputError, match="R999999999"):
        portal_access.issue_code(conn, "R999999999", on=ON, days=14, at=NOW, actor="agent")


# --- signed links -------------------------------------------------------------------------

SECRET = "test-secret"  # noqa: S105 - a test key


def _link_params(link: str) -> dict[str, str]:
    from urllib.parse import parse_qsl, urlsplit

    parts = urlsplit(link)
    assert parts.path == "/login/link"
    return dict(parse_qsl(parts.query))


def _read(p: dict[str, str], *, secret: str = SECRET, on: date = ON) -> tuple[str, str] | None:
    return portal_access.read_link(p["ref"], p["code"], p["exp"], p["sig"], secret=secret, on=on)


def test_a_signed_link_carries_the_reference_and_code() -> None:
    link = portal_access.login_link(
        "https://portal.example/", "r000000042", "abcd-efgh-jkmn", ON, SECRET
    )
    assert link.startswith("https://portal.example/login/link?")
    assert _read(_link_params(link)) == ("R000000042", "ABCDEFGHJKMN")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("ref", "R000000043"),
        ("code", "ABCDEFGHJKMP"),
        ("exp", "2025-12-31"),
        ("exp", "not a date"),
        ("sig", "0" * 64),
        ("sig", ""),
        ("sig", "é" * 64),
    ],
)
def test_a_link_with_any_part_changed_is_refused(field: str, value: str) -> None:
    params = _link_params(
        portal_access.login_link("https://p.example", "R000000042", "ABCDEFGHJKMN", ON, SECRET)
    )
    params[field] = value
    assert _read(params) is None


def test_a_link_made_with_another_secret_or_past_its_date_is_refused() -> None:
    params = _link_params(
        portal_access.login_link("https://p.example", "R000000042", "ABCDEFGHJKMN", ON, SECRET)
    )
    assert _read(params, secret="another-secret") is None  # noqa: S106
    assert _read(params, on=ON) is not None  # valid on its last day
    assert _read(params, on=ON + timedelta(days=1)) is None
