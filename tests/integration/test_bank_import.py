"""Bank import: matching rules and their reasons, allocation, refunds, reversals, once-only."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, insert, select, text, update

from respite.adapters.bank.model import BankTransaction, ParsedStatement
from respite.adapters.db.engine import make_engine, upgrade
from respite.adapters.db.models import (
    BankEntry,
    Case,
    Claim,
    DirectDebit,
    DirectDebitBatch,
    Instalment,
    LedgerEntry,
    Mandate,
    Payment,
    Refund,
)
from respite.domain.references import case_payment_references
from respite.errors import NotAllowed
from respite.services.bank_import import assign, import_statements, review_queue
from respite.services.payments import NewPayment, book_payment, book_payments, reverse_payment

from .portfolio import build, snapshot

OPENED = date(2025, 1, 15)
PAID = date(2025, 2, 3)
NOW = datetime(2025, 2, 3, 8, tzinfo=UTC)
ACCOUNT = "NL91ABNA0417164300"


def tx(n: int, cents: int, **kw: Any) -> BankTransaction:
    base: dict[str, Any] = {
        "key": f"acct-svcr:T{n}",
        "account": ACCOUNT,
        "booking_date": PAID,
        "value_date": PAID,
        "direction": "CRDT",
        "amount_cents": cents,
        "currency": "EUR",
        "acct_svcr_ref": f"T{n}",
    }
    base.update(kw)
    return BankTransaction(**base)


def statement(*txs: BankTransaction, sid: str = "S1", closing_diff: int = 0) -> ParsedStatement:
    total = sum(t.amount_cents if t.direction == "CRDT" else -t.amount_cents for t in txs)
    return ParsedStatement(
        kind="camt.053.001.02",
        message_id="M-" + sid,
        statement_id=sid,
        account=ACCOUNT,
        currency="EUR",
        opening_cents=100_000,
        closing_cents=100_000 + total + closing_diff,
        transactions=tuple(txs),
        entries_sum_cents=total,
    )


def run(engine: Engine, *stmts: ParsedStatement, sha: str = "f1", **kw: Any) -> Any:
    return import_statements(engine, list(stmts), filename=f"{sha}.xml", sha256=sha, now=NOW, **kw)


def balance(engine: Engine, case_id: int) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                select(
                    func.sum(
                        Claim.open_principal_cents
                        + Claim.open_interest_cents
                        + Claim.open_costs_cents
                    )
                ).where(Claim.case_id == case_id)
            ).scalar_one()
        )


def entries(engine: Engine) -> dict[str, Any]:
    with engine.connect() as conn:
        return {r.entry_key: r for r in conn.execute(select(BankEntry)).all()}


def count(engine: Engine, model: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(model)).scalar_one())


@pytest.fixture
def cases(db_engine: Engine) -> list[int]:
    return build(db_engine, cases=12, on=OPENED)


def test_each_reference_rule_matches_its_case_and_says_why(
    db_engine: Engine, cases: list[int]
) -> None:
    c = cases
    refs = {i: case_payment_references(c[i]) for i in range(8)}
    bk = refs[3].betalingskenmerk
    rf = refs[4].rf
    report = run(
        db_engine,
        statement(
            tx(1, 1000, structured_refs=(refs[0].rf,)),
            tx(2, 1000, structured_refs=(refs[1].betalingskenmerk,)),
            tx(3, 1000, structured_refs=(refs[2].ogm,)),
            tx(4, 1000, remittance=f"betaling {bk[:4]}.{bk[4:8]}.{bk[8:12]}.{bk[12:]} dank"),
            tx(5, 1000, remittance=f"ref {rf[:4]} {rf[4:8]} {rf[8:]} thanks"),
            tx(6, 1000, remittance=f"communicatie {refs[5].ogm} factuur"),
            tx(7, 1000, remittance=f"factuur R{c[6]:09d} januari"),
            tx(8, 1000, end_to_end_id="NOTOURS", remittance=f"invoice r {c[7]:09d}"),
        ),
    )
    got = entries(db_engine)
    expected = [
        ("rf", "structured remittance"),
        ("betalingskenmerk", "structured remittance"),
        ("ogm", "structured remittance"),
        ("text-bk", "free text"),
        ("text-rf", "free text"),
        ("text-ogm", "free text"),
        ("text-case", "free text"),
        ("text-case", "free text"),
    ]
    for n, (rule, where) in enumerate(expected, start=1):
        e = got[f"acct-svcr:T{n}"]
        assert (e.status, e.match_rule, e.case_id) == ("booked", rule, c[n - 1]), e.match_reason
        assert where in e.match_reason
        assert f"R{c[n - 1]:09d}" in e.match_reason
    assert got["acct-svcr:T1"].match_reason == (
        f"RF reference {refs[0].rf} in the structured remittance = case R{c[0]:09d}"
    )
    assert report.booked == 8
    assert report.booked_cents == 8000
    assert report.principal_cents == 8000
    assert report.review == 0
    assert count(db_engine, Payment) == 8
    for i in range(8):
        assert balance(db_engine, c[i]) == (50 + (i * 37) % 2000) * 100 - 1000


def test_an_invalid_check_digit_is_not_a_match(db_engine: Engine, cases: list[int]) -> None:
    good = case_payment_references(cases[0])
    bad_rf = good.rf[:2] + ("00" if good.rf[2:4] != "00" else "01") + good.rf[4:]
    bad_bk = ("9" if good.betalingskenmerk[0] != "9" else "8") + good.betalingskenmerk[1:]
    report = run(
        db_engine,
        statement(
            tx(1, 700, structured_refs=(bad_rf,)),
            tx(2, 700, structured_refs=(bad_bk,)),
        ),
    )
    got = entries(db_engine)
    assert got["acct-svcr:T1"].status == "review"
    assert "fails its check digits" in got["acct-svcr:T1"].match_reason
    assert got["acct-svcr:T2"].status == "review"
    assert "fails its check digit" in got["acct-svcr:T2"].match_reason
    assert "no reference, no candidate" in got["acct-svcr:T2"].match_reason
    assert report.booked == 0
    assert report.review == 2
    assert count(db_engine, Payment) == 0


def test_a_name_and_amount_go_to_review_and_an_agent_books_them(
    db_engine: Engine, cases: list[int]
) -> None:
    owed = balance(db_engine, cases[2])
    run(db_engine, statement(tx(1, owed, counterparty_name="DEBTOR 2", remittance="betaling")))
    queue = review_queue_of(db_engine)
    assert len(queue) == 1
    item = queue[0]
    assert item["match_rule"] == "fuzzy"
    assert item["proposed_case"] == f"R{cases[2]:09d}"
    assert item["match_score"] == 100
    assert "resembles debtor 'Debtor 2'" in item["match_reason"]
    assert count(db_engine, Payment) == 0  # never booked automatically
    with db_engine.begin() as conn:
        result = assign(conn, item["id"], f"R{cases[2]:09d}", actor="agent A", on=PAID, now=NOW)
    assert result["status"] == "booked"
    assert result["principal_cents"] == owed
    assert balance(db_engine, cases[2]) == 0
    e = entries(db_engine)["acct-svcr:T1"]
    assert (e.status, e.match_rule) == ("booked", "agent")
    assert "agent A" in e.match_reason


def review_queue_of(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return review_queue(conn)


def test_no_reference_and_no_candidate_is_said_so(db_engine: Engine, cases: list[int]) -> None:
    run(db_engine, statement(tx(1, 123, counterparty_name="Somebody Else")))
    e = entries(db_engine)["acct-svcr:T1"]
    assert (e.status, e.match_reason) == ("review", "no reference, no candidate")


def test_an_overpayment_is_booked_and_the_rest_queued_for_refund(
    db_engine: Engine, cases: list[int]
) -> None:
    owed = balance(db_engine, cases[1])
    rf = case_payment_references(cases[1]).rf
    report = run(
        db_engine,
        statement(
            tx(1, owed + 2500, structured_refs=(rf,), counterparty_iban="NL02ABNA0123456789")
        ),
    )
    assert report.refunds == 1
    assert report.refund_cents == 2500
    e = entries(db_engine)["acct-svcr:T1"]
    assert e.status == "refund"
    assert "25.00 more than the case owed" in e.match_reason
    with db_engine.connect() as conn:
        r = conn.execute(select(Refund)).one()
        credit = conn.execute(
            select(func.sum(Claim.credit_cents)).where(Claim.case_id == cases[1])
        ).scalar_one()
    assert (r.amount_cents, r.iban, r.status, r.case_id) == (
        2500,
        "NL02ABNA0123456789",
        "queued",
        cases[1],
    )
    assert credit == 2500
    assert balance(db_engine, cases[1]) == 0


def test_the_same_file_twice_books_nothing_the_second_time(
    db_engine: Engine, cases: list[int]
) -> None:
    rf = case_payment_references(cases[0]).rf
    stmt = statement(tx(1, 500, structured_refs=(rf,)), tx(2, 600, structured_refs=(rf,)))
    first = run(db_engine, stmt)
    before = snapshot(db_engine)
    second = run(db_engine, stmt)
    assert first.booked == 2
    assert second.booked == 0
    assert second.seen_before
    assert second.already_imported == 2
    assert snapshot(db_engine) == before
    assert count(db_engine, Payment) == 2
    assert count(db_engine, BankEntry) == 2


def test_overlapping_statements_book_each_entry_once(db_engine: Engine, cases: list[int]) -> None:
    refs = [case_payment_references(c).rf for c in cases[:4]]
    a = statement(*(tx(n, 100 * n, structured_refs=(refs[n - 1],)) for n in (1, 2, 3)), sid="A")
    b = statement(*(tx(n, 100 * n, structured_refs=(refs[n - 1],)) for n in (2, 3, 4)), sid="B")
    first = run(db_engine, a, sha="fa")
    second = run(db_engine, b, sha="fb")
    both_in_one = run(db_engine, a, b, sha="fab")
    assert (first.booked, second.booked, both_in_one.booked) == (3, 1, 0)
    assert second.already_imported == 2
    assert both_in_one.already_imported == 6
    with db_engine.connect() as conn:
        refs_booked = conn.execute(select(Payment.source_ref)).scalars().all()
    assert sorted(refs_booked) == [f"bank:acct-svcr:T{n}" for n in (1, 2, 3, 4)]


def _direct_debit(engine: Engine, case_id: int, e2e: str) -> int:
    with engine.begin() as conn:
        debtor = conn.execute(select(Case.debtor_id).where(Case.id == case_id)).scalar_one()
        mandate = conn.execute(
            insert(Mandate).values(
                mandate_id="MNDT-1",
                debtor_id=debtor,
                case_id=case_id,
                signed_on=OPENED,
                iban="NL02ABNA0123456789",
                holder="Debtor",
                recurring=True,
                status="active",
            )
        ).inserted_primary_key[0]  # type: ignore[index]
        batch = conn.execute(
            insert(DirectDebitBatch).values(
                message_id="DD-1",
                created_on=OPENED,
                collection_date=PAID,
                version="pain.008.001.02",
                transactions=1,
                total_cents=4000,
                sha256="x" * 64,
            )
        ).inserted_primary_key[0]  # type: ignore[index]
        instalment = conn.execute(
            insert(Instalment).values(
                case_id=case_id, due_date=PAID, amount_cents=4000, paid_cents=0, status="missed"
            )
        ).inserted_primary_key[0]  # type: ignore[index]
        conn.execute(
            insert(DirectDebit).values(
                batch_id=batch,
                mandate_id=mandate,
                case_id=case_id,
                instalment_id=instalment,
                end_to_end_id=e2e,
                sequence="FRST",
                amount_cents=4000,
                status="sent",
            )
        )
        return int(instalment)


def _state(engine: Engine, case_id: int) -> list[tuple[object, ...]]:
    with engine.connect() as conn:
        claims = conn.execute(
            text(
                "SELECT id, open_principal_cents, open_interest_cents, open_costs_cents, "
                "credit_cents FROM claims WHERE case_id = :c ORDER BY id"
            ),
            {"c": case_id},
        ).all()
        inst = conn.execute(
            text("SELECT id, paid_cents, status FROM instalments WHERE case_id = :c ORDER BY id"),
            {"c": case_id},
        ).all()
    return [tuple(r) for r in [*claims, *inst]]


def test_a_returned_direct_debit_restores_the_exact_previous_state(
    db_engine: Engine, cases: list[int]
) -> None:
    case = cases[5]
    _direct_debit(db_engine, case, "E2E-R-1")
    before = _state(db_engine, case)
    run(db_engine, statement(tx(1, 4000, end_to_end_id="E2E-R-1", mandate_id="MNDT-1")))
    paid = _state(db_engine, case)
    assert paid != before
    assert paid[-1][1:] == (4000, "paid")
    returned = tx(
        2,
        4000,
        direction="DBIT",
        end_to_end_id="E2E-R-1",
        return_reason="AM04",
        booking_date=date(2025, 2, 6),
    )
    report = run(db_engine, statement(returned), sha="f2")
    assert report.returned == 1
    assert _state(db_engine, case) == before
    got = entries(db_engine)
    assert got["acct-svcr:T1"].status == "reversed"
    assert got["acct-svcr:T2"].status == "returned"
    assert got["acct-svcr:T2"].match_rule == "e2e"
    assert "AM04" in got["acct-svcr:T2"].match_reason
    with db_engine.connect() as conn:
        dd = conn.execute(select(DirectDebit.status, DirectDebit.return_reason)).one()
        ledger = conn.execute(
            select(LedgerEntry.kind, LedgerEntry.reverses, LedgerEntry.amount_cents)
            .join(Claim, Claim.id == LedgerEntry.claim_id)
            .where(Claim.case_id == case)
            .order_by(LedgerEntry.claim_id, LedgerEntry.seq)
        ).all()
    assert tuple(dd) == ("returned", "AM04")
    # history is appended: charge, payment, allocation, then the two reversals
    assert [(k, r) for k, r, _ in ledger] == [
        ("charge", None),
        ("payment", None),
        ("allocation", None),
        ("reversal", 3),
        ("reversal", 2),
    ]
    again = run(db_engine, statement(returned), sha="f3")  # the return once more: nothing
    assert again.returned == 0
    assert _state(db_engine, case) == before


def test_a_reversal_indicator_undoes_the_booked_payment(
    db_engine: Engine, cases: list[int]
) -> None:
    rf = case_payment_references(cases[3]).rf
    before = _state(db_engine, cases[3])
    run(db_engine, statement(tx(1, 900, structured_refs=(rf,))))
    run(
        db_engine,
        statement(tx(2, 900, direction="DBIT", reversal=True, structured_refs=(rf,))),
        sha="f2",
    )
    assert _state(db_engine, cases[3]) == before
    got = entries(db_engine)
    assert (got["acct-svcr:T1"].status, got["acct-svcr:T2"].status) == ("reversed", "returned")


def test_money_out_that_is_not_ours_is_ignored(db_engine: Engine, cases: list[int]) -> None:
    report = run(db_engine, statement(tx(1, 1250, direction="DBIT", remittance="bank costs")))
    assert report.ignored == 1
    assert entries(db_engine)["acct-svcr:T1"].status == "ignored"


def test_block_on_difference_books_nothing_of_a_statement_that_does_not_add_up(
    db_engine: Engine, cases: list[int]
) -> None:
    rf = case_payment_references(cases[0]).rf
    bad = statement(tx(1, 500, structured_refs=(rf,)), closing_diff=-1)
    blocked = run(db_engine, bad, block_on_difference=True)
    assert blocked.booked == 0
    assert blocked.blocked == 1
    assert not blocked.adds_up
    assert blocked.statements[0].difference_cents == -1
    assert any("DOES NOT ADD UP" in m for m in blocked.messages)
    assert count(db_engine, Payment) == 0
    assert count(db_engine, BankEntry) == 0
    allowed = run(db_engine, bad)  # without the setting: booked, difference still reported
    assert allowed.booked == 1
    assert any("DOES NOT ADD UP" in m for m in allowed.messages)


def test_a_dry_run_stores_nothing(db_engine: Engine, cases: list[int]) -> None:
    rf = case_payment_references(cases[0]).rf
    before = snapshot(db_engine)
    report = run(db_engine, statement(tx(1, 500, structured_refs=(rf,))), dry_run=True)
    assert report.booked == 1
    assert snapshot(db_engine) == before
    assert count(db_engine, BankEntry) == 0


def test_reversing_a_payment_on_a_closed_case_is_refused(
    db_engine: Engine, cases: list[int]
) -> None:
    with db_engine.begin() as conn:
        book_payment(conn, cases[0], 100, PAID, "p-1", now=NOW, jurisdiction="NL")
        conn.execute(update(Case).where(Case.id == cases[0]).values(closed=True))
        with pytest.raises(NotAllowed, match="closed"):
            reverse_payment(conn, "p-1", on=PAID, reason="test", now=NOW)


def _payments(case_ids: list[int]) -> list[NewPayment]:
    out = []
    for n in range(40):
        case = case_ids[n % len(case_ids)]
        cents = 20_000 if n % 9 == 0 else 700 + 113 * n  # some pay more than they owe
        out.append(NewPayment(case, cents, PAID, f"ref-{n}"))
    return out


def test_the_batched_path_books_exactly_what_book_payment_books(
    db_engine: Engine, tmp_path: Path
) -> None:
    reference = make_engine(f"sqlite:///{tmp_path / 'reference.db'}")
    upgrade(reference)
    ids = []
    for engine in (db_engine, reference):
        ids = build(engine, cases=6, on=OPENED)
        with engine.begin() as conn:  # accrued interest to post first
            conn.execute(text("UPDATE claims SET interest_carry_micros = 3456789"))
    with db_engine.begin() as conn:
        booked = book_payments(conn, _payments(ids), now=NOW)
    with reference.begin() as conn:
        for p in _payments(ids):
            book_payment(
                conn, p.case_id, p.amount_cents, p.on, p.source_ref, now=NOW, jurisdiction="NL"
            )
    assert len(booked) == 40
    assert any(b.credit_cents for b in booked)
    assert _plain(snapshot(db_engine)) == _plain(snapshot(reference))
    query = "SELECT case_id, reason, after FROM events ORDER BY case_id, id"
    with db_engine.connect() as a, reference.connect() as b:
        events = [tuple(r) for r in a.execute(text(query))]
        assert _plain(events) == _plain([tuple(r) for r in b.execute(text(query))])
    reference.dispose()


def _plain(value: Any) -> Any:
    """The same rows from PostgreSQL and SQLite compare equal (dates, booleans, JSON)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, str) and value.startswith(("{", "[")):
        import json

        return _plain(json.loads(value))
    if isinstance(value, date):
        return value.isoformat()
    return value


@pytest.mark.parametrize("cents", [1, 999, 2500, 5000, 5001, 123_456])
def test_the_single_claim_fast_path_allocates_as_the_domain_does(cents: int) -> None:
    from respite.domain.allocation import Bucket, ClaimBalance, allocate_across_claims
    from respite.domain.money import Currency, Money
    from respite.rules.loader import load_pack
    from respite.services.payments import _allocate_single

    claim = {
        "id": 7,
        "due_date": date(2025, 1, 1),
        "open_principal_cents": 4000,
        "open_interest_cents": 600,
        "open_costs_cents": 400,
        "credit_cents": 0,
        "last_seq": 3,
    }
    order = tuple(load_pack("NL").allocation.value_at(PAID))
    eur = Currency.EUR
    domain = allocate_across_claims(
        Money.from_minor_units(cents, eur),
        [
            ClaimBalance(
                "7",
                claim["due_date"],  # type: ignore[arg-type]
                {
                    Bucket.PRINCIPAL: Money.from_minor_units(4000, eur),
                    Bucket.INTEREST: Money.from_minor_units(600, eur),
                    Bucket.COSTS: Money.from_minor_units(400, eur),
                },
            )
        ],
        order,
        on=PAID,
    )
    fast = _allocate_single(claim, NewPayment(1, cents, PAID, "r"), order)
    share = domain.shares[0].allocation
    assert (fast.costs_cents, fast.interest_cents, fast.principal_cents) == (
        share.to(Bucket.COSTS).minor_units,
        share.to(Bucket.INTEREST).minor_units,
        share.to(Bucket.PRINCIPAL).minor_units,
    )
    assert fast.credit_cents == domain.unallocated.minor_units
    assert fast.reasons == domain.reasons
