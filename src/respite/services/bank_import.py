"""Importing bank statements: check, match, allocate, book — each entry exactly once.

Steps, per file:

1. **Balance check.** Every statement must add up: opening + Σ entries = closing. A
   difference is reported prominently; with ``block_on_difference`` (the CLI's
   ``--block-on-difference`` or ``RESPITE_BANK_BLOCK_ON_DIFFERENCE=1``) a statement that
   does not add up is recorded but none of its entries is booked.
2. **Statement rows.** One :class:`BankStatement` per statement. The file's SHA-256 is
   unique in that table, so the first statement of a file carries the file's hash and
   the n-th (n ≥ 1) carries ``sha256(file hash + "#n")``. Importing a file again finds its
   rows ("seen before") and carries on where it stopped.
3. **Entries in batches**, one database transaction per batch: entries whose key is in
   ``bank_entries`` already (an earlier import of the same or an overlapping statement)
   are skipped; the others are matched, booked and stored with their status, rule and
   reason *in the same transaction*. A crash between batches leaves whole batches; the
   next import books exactly the rest.

Matching, in order (each match stores ``match_rule`` and a plain ``match_reason``):

- ``e2e``: the EndToEndId is one of our direct debits → that case (a DBIT or a return
  with that EndToEndId is a returned collection and is reversed);
- ``rf`` / ``betalingskenmerk`` / ``ogm``: a structured reference (Strd) that passes its
  check digits and decodes to an existing case (an invalid check digit never matches);
- ``text-rf`` / ``text-bk`` / ``text-ogm`` / ``text-case``: the same references, or the
  case reference ``R`` + nine digits, typed in the free text (spaces, dots, ``+++``
  tolerated);
- ``fuzzy``: the counterparty's name against debtor names (rapidfuzz token_sort_ratio)
  among open cases whose open balance or a due instalment equals the amount: never
  booked automatically; status ``review`` with the score and reason.

Only status BOOK entries are recorded (a pending entry comes back booked, under the same
key). Money in (CRDT) that matches a case is booked through
:func:`respite.services.payments.book_payments` (6:43/6:44 BW, ``source_ref`` =
``bank:`` + entry key); what exceeds the case's balance stays as credit and is queued as
a :class:`Refund`. Money out (DBIT) that is not a return of ours is ``ignored``.
A return or reversal (RvslInd, a returned direct debit with its reason code) reverses the
booked payment exactly (:func:`respite.services.payments.reverse_payment`); on a closed
case it goes to review instead (a closed case is final; an agent decides).

Entry statuses: ``booked`` | ``refund`` (booked, and an overpayment is queued for refund,
or sent to the refund queue by an agent) | ``review`` | ``ignored`` | ``reversed`` (booked
earlier, undone by a later entry) | ``returned`` (the entry that undid one).
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from rapidfuzz import fuzz, utils
from sqlalchemy import Connection, Engine, func, insert, or_, select, update

from respite.adapters.bank.model import BankTransaction, ParsedStatement
from respite.adapters.db.bulk import bulk_insert
from respite.adapters.db.models import (
    BankEntry,
    BankStatement,
    Case,
    Claim,
    Creditor,
    Debtor,
    DirectDebit,
    Event,
    Instalment,
    Refund,
)
from respite.domain.references import (
    validate_betalingskenmerk,
    validate_ogm,
    validate_rf,
)
from respite.errors import ConflictError, InputError, NotAllowed, ValidationError
from respite.services.payments import Booked, NewPayment, book_payments, reverse_payment
from respite.services.store import chunks

__all__ = [
    "EntryOutcome",
    "ImportReport",
    "StatementCheck",
    "assign",
    "demo_statement",
    "entry_key",
    "import_statements",
    "refund",
    "review_queue",
]

FUZZY_MIN_SCORE = 60  # name similarity (0-100) below which a candidate is not proposed
_CASE_REF = re.compile(r"^R(\d{9})$")


# --- report -------------------------------------------------------------------------


@dataclass(slots=True)
class StatementCheck:
    """Whether one statement adds up: closing − opening − Σ entries."""

    statement_id: str
    account: str
    currency: str
    entries: int
    opening_cents: int | None
    closing_cents: int | None
    entries_sum_cents: int
    difference_cents: int | None  # None: the file has no balances (e.g. CAMT.054)
    blocked: bool = False
    deviations: list[str] = field(default_factory=list)

    @property
    def adds_up(self) -> bool:
        return self.difference_cents in (0, None)


@dataclass(slots=True)
class EntryOutcome:
    key: str
    where: str
    direction: str
    amount_cents: int
    status: str
    case_reference: str | None
    rule: str | None
    reason: str
    score: int | None = None


@dataclass(slots=True)
class ImportReport:
    filename: str
    sha256: str
    dry_run: bool
    seen_before: bool = False  # this file (same SHA-256) was imported before
    statements: list[StatementCheck] = field(default_factory=list)
    read: int = 0  # transactions in the file
    not_booked_by_bank: int = 0  # PDNG / INFO entries: not recorded
    already_imported: int = 0  # keys booked by an earlier import (or twice in this file)
    blocked: int = 0  # entries of statements that do not add up, not booked (setting)
    matched: Counter[str] = field(default_factory=Counter)  # rule -> entries
    booked: int = 0
    booked_cents: int = 0
    costs_cents: int = 0
    interest_cents: int = 0
    principal_cents: int = 0
    refunds: int = 0
    refund_cents: int = 0
    review: int = 0
    review_cents: int = 0
    ignored: int = 0
    ignored_cents: int = 0
    returned: int = 0
    returned_cents: int = 0
    outcomes: list[EntryOutcome] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)

    @property
    def adds_up(self) -> bool:
        return all(s.adds_up for s in self.statements)

    def as_dict(self, *, entries: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "filename": self.filename,
            "sha256": self.sha256,
            "dry_run": self.dry_run,
            "seen_before": self.seen_before,
            "adds_up": self.adds_up,
            "statements": [{**asdict(s), "adds_up": s.adds_up} for s in self.statements],
            "read": self.read,
            "not_booked_by_bank": self.not_booked_by_bank,
            "already_imported": self.already_imported,
            "blocked": self.blocked,
            "matched": dict(sorted(self.matched.items())),
            "booked": self.booked,
            "booked_cents": self.booked_cents,
            "allocated_cents": {
                "costs": self.costs_cents,
                "interest": self.interest_cents,
                "principal": self.principal_cents,
            },
            "refunds": self.refunds,
            "refund_cents": self.refund_cents,
            "review": self.review,
            "review_cents": self.review_cents,
            "ignored": self.ignored,
            "ignored_cents": self.ignored_cents,
            "returned": self.returned,
            "returned_cents": self.returned_cents,
            "messages": self.messages,
        }
        if entries:
            out["entries"] = [asdict(o) for o in self.outcomes]
        return out


# --- keys and references ------------------------------------------------------------


def entry_key(tx: BankTransaction) -> str:
    """The stored key (at most 64 characters): the parser's key, hashed when longer."""
    if len(tx.key) <= 64:
        return tx.key
    return "h:" + hashlib.sha256(tx.key.encode()).hexdigest()[:62]


def _statement_hash(file_sha: str, index: int) -> str:
    if index == 0:
        return file_sha
    return hashlib.sha256(f"{file_sha}#{index}".encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class _Ref:
    rule: str
    case_id: int | None
    written: str
    problem: str = ""  # why it is not a match (check digit, not ours)


def _decode_structured(text: str, *, in_text: bool) -> _Ref | None:
    """Our case behind one reference as written, or why not; None: not a reference."""
    raw = text.strip()
    compact = re.sub(r"[\s.+*/]", "", raw).upper()
    prefix = "text-" if in_text else ""
    if compact.startswith("RF"):
        try:
            valid = validate_rf(compact)
        except ValidationError:
            return _Ref(prefix + "rf", None, raw, f"RF reference {raw} fails its check digits")
        m = _CASE_REF.match(valid[4:])
        if m is None:
            return _Ref(prefix + "rf", None, raw, f"RF reference {raw} is not one of ours")
        return _Ref(prefix + "rf", int(m.group(1)), valid)
    if not compact.isdigit():
        m = _CASE_REF.match(compact)
        if m is not None:
            return _Ref("text-case" if in_text else "case", int(m.group(1)), compact)
        return None
    if len(compact) == 16:
        rule = "text-bk" if in_text else "betalingskenmerk"
        try:
            valid = validate_betalingskenmerk(compact)
        except ValidationError:
            return _Ref(rule, None, raw, f"betalingskenmerk {raw} fails its check digit")
        return _Ref(rule, int(valid[1:]), valid)
    if len(compact) == 12:
        rule = "text-ogm" if in_text else "ogm"
        try:
            valid = validate_ogm(compact)
        except ValidationError:
            return _Ref(rule, None, raw, f"OGM/VCS {raw} fails its check digits")
        return _Ref(rule, int(valid[:10]), valid)
    return None


_TEXT_PATTERNS = (
    re.compile(r"RF\s?\d\d(?:[\s.]?[0-9A-Z]){1,21}", re.IGNORECASE),
    re.compile(r"(?:\+\+\+|\*\*\*)\s*\d{3}\s*/\s*\d{4}\s*/\s*\d{5}\s*(?:\+\+\+|\*\*\*)"),
    re.compile(r"(?<![\d/])\d{3}/\d{4}/\d{5}(?![\d/])"),
    re.compile(r"(?<![\d.])\d(?:[\s.]?\d){15}(?![\d.])"),
    re.compile(r"(?<![0-9A-Za-z])R[\s.]?\d{9}(?!\d)", re.IGNORECASE),
)


def _text_refs(text: str) -> list[_Ref]:
    """References typed into the free text, in the order of the patterns."""
    out: list[_Ref] = []
    for pattern in _TEXT_PATTERNS:
        for m in pattern.finditer(text):
            found = _decode_structured(m.group(0), in_text=True)
            if found is None:
                continue
            if found.rule == "text-rf" and found.case_id is None:
                # The RF pattern may have swallowed a following word: try shorter forms.
                compact = re.sub(r"[\s.]", "", m.group(0)).upper()
                for end in range(len(compact) - 1, 4, -1):
                    shorter = _decode_structured(compact[:end], in_text=True)
                    if shorter is not None and shorter.case_id is not None:
                        found = shorter
                        break
            out.append(found)
    return out


# --- the import -----------------------------------------------------------------------


def import_statements(
    engine: Engine,
    statements: Sequence[ParsedStatement],
    *,
    filename: str,
    sha256: str,
    now: datetime,
    on: date | None = None,
    dry_run: bool = False,
    block_on_difference: bool = False,
    batch_size: int = 2000,
    keep_outcomes: int = 1000,
) -> ImportReport:
    """Import parsed statements: check, store, match, book; see the module docstring.

    ``on`` is the business date of refunds and agent events (default: each entry's
    booking date). ``dry_run`` does everything in one transaction and rolls it back.
    ``keep_outcomes`` caps the per-entry outcomes kept in the report.
    """
    if batch_size < 1:
        raise InputError("the batch size must be at least 1", field="batch_size")
    report = ImportReport(filename=filename, sha256=sha256, dry_run=dry_run)
    for s in statements:
        check = StatementCheck(
            statement_id=s.statement_id,
            account=s.account,
            currency=s.currency,
            entries=len(s.transactions),
            opening_cents=s.opening_cents,
            closing_cents=s.closing_cents,
            entries_sum_cents=s.entries_sum_cents,
            difference_cents=s.difference_cents,
            deviations=[f"{d.where}: {d.message}" for d in s.deviations],
        )
        check.blocked = block_on_difference and not check.adds_up
        report.statements.append(check)
        if not check.adds_up:
            report.messages.append(
                f"statement {s.statement_id} DOES NOT ADD UP: opening {_fmt(s.opening_cents)} "
                f"+ entries {_fmt(s.entries_sum_cents)} ≠ closing {_fmt(s.closing_cents)} "
                f"(difference {_fmt(check.difference_cents)})"
                + (": nothing of it is booked (block on difference)" if check.blocked else "")
            )
    session = _Session(report, keep_outcomes, on, now)
    conn = engine.connect()
    try:
        trans = conn.begin()
        ids = _store_statements(conn, statements, report, filename, sha256, now)
        if not dry_run:
            trans.commit()
            trans = conn.begin()
        work: list[tuple[int, BankTransaction]] = []
        for s, check, sid in zip(statements, report.statements, ids, strict=True):
            report.read += len(s.transactions)
            if check.blocked:
                report.blocked += len(s.transactions)
                continue
            for tx in s.transactions:
                if tx.status != "BOOK":
                    report.not_booked_by_bank += 1
                    continue
                work.append((sid, tx))
        for start in range(0, len(work), batch_size):
            session.run_batch(conn, work[start : start + batch_size])
            if not dry_run:
                trans.commit()
                trans = conn.begin()
        if dry_run:
            trans.rollback()
        else:
            trans.commit()
    finally:
        conn.close()
    return report


def _fmt(cents: int | None) -> str:
    if cents is None:
        return "unknown"
    sign = "-" if cents < 0 else ""
    return f"{sign}{abs(cents) // 100:,}.{abs(cents) % 100:02d}"


def _store_statements(
    conn: Connection,
    statements: Sequence[ParsedStatement],
    report: ImportReport,
    filename: str,
    sha256: str,
    now: datetime,
) -> list[int]:
    hashes = [_statement_hash(sha256, i) for i in range(len(statements))]
    known = dict(
        conn.execute(
            select(BankStatement.sha256, BankStatement.id).where(BankStatement.sha256.in_(hashes))
        ).all()
    )
    report.seen_before = sha256 in known
    if report.seen_before:
        report.messages.append(
            f"{filename} was imported before: only entries not booked then are booked now"
        )
    ids: list[int] = []
    for s, h, check in zip(statements, hashes, report.statements, strict=True):
        if h in known:
            ids.append(int(known[h]))
            continue
        result = conn.execute(
            insert(BankStatement).values(
                sha256=h,
                filename=filename[:300],
                kind=s.kind[:40],
                message_id=s.message_id[:140],
                statement_id=s.statement_id[:140],
                account=s.account[:70],
                currency=s.currency[:3],
                opening_cents=s.opening_cents,
                closing_cents=s.closing_cents,
                difference_cents=check.difference_cents,
                entries=len(s.transactions),
                deviations=[
                    {"where": d.where, "message": d.message, "severity": d.severity}
                    for d in s.deviations
                ],
                imported_at=now,
            )
        )
        ids.append(int(result.inserted_primary_key[0]))  # type: ignore[index]
    return ids


@dataclass(slots=True)
class _Entry:
    """One transaction on its way through a batch."""

    statement_id: int
    tx: BankTransaction
    key: str
    status: str = "review"
    case_id: int | None = None
    rule: str | None = None
    reason: str = ""
    score: int | None = None
    payment_ref: str | None = None
    undo: bool = False  # a return or reversal of an earlier entry


@dataclass(slots=True)
class _CaseInfo:
    id: int
    reference: str
    closed: bool
    currency: str
    debtor: str


class _Session:
    def __init__(self, report: ImportReport, keep: int, on: date | None, now: datetime) -> None:
        self.report = report
        self.keep = keep
        self.on = on
        self.now = now

    # one batch, inside the caller's transaction ------------------------------------
    def run_batch(self, conn: Connection, batch: Sequence[tuple[int, BankTransaction]]) -> None:
        report = self.report
        keys = [entry_key(tx) for _, tx in batch]
        seen = set(
            conn.execute(select(BankEntry.entry_key).where(BankEntry.entry_key.in_(keys)))
            .scalars()
            .all()
        )
        entries: list[_Entry] = []
        for (sid, tx), key in zip(batch, keys, strict=True):
            if key in seen:
                report.already_imported += 1
                continue
            seen.add(key)  # the same entry twice in one file (overlapping statements)
            entries.append(_Entry(sid, tx, key))
        if not entries:
            return
        self._match(conn, entries)
        booked = self._book(conn, entries)
        ids = self._insert(conn, entries)
        self._refunds(conn, entries, booked, ids)
        for e in entries:
            if e.undo:
                self._undo(conn, e, ids[e.key])
        for e in entries:
            self._count(e, booked.get(e.key))

    # matching -----------------------------------------------------------------------
    def _match(self, conn: Connection, entries: list[_Entry]) -> None:
        e2e = {e.tx.end_to_end_id for e in entries if e.tx.end_to_end_id}
        dds: dict[str, tuple[int, int]] = {}
        for chunk in chunks(sorted(e2e), 2000):
            for r in conn.execute(
                select(DirectDebit.end_to_end_id, DirectDebit.case_id, DirectDebit.id).where(
                    DirectDebit.end_to_end_id.in_(chunk)
                )
            ):
                dds[r.end_to_end_id] = (int(r.case_id), int(r.id))
        refs: dict[str, list[_Ref]] = {}
        wanted: set[int] = {case for case, _ in dds.values()}
        for e in entries:
            found = [
                r
                for r in (_decode_structured(s, in_text=False) for s in e.tx.structured_refs)
                if r is not None
            ]
            if e.tx.remittance:
                found += _text_refs(e.tx.remittance)
            refs[e.key] = found
            wanted.update(r.case_id for r in found if r.case_id is not None)
        cases = _load_cases(conn, wanted)
        unmatched: list[_Entry] = []
        for e in entries:
            tx = e.tx
            dd = dds.get(tx.end_to_end_id or "")
            is_undo = tx.direction == "DBIT" or tx.reversal or tx.return_reason is not None
            if is_undo:
                if tx.direction == "CRDT" and tx.reversal:
                    e.status, e.reason = "review", "a reversed debit: money came back to us"
                elif dd is not None or tx.reversal or tx.return_reason:
                    e.undo = True  # resolved after the batch's credits are stored
                else:
                    e.status = "ignored"
                    e.reason = "money out that is not a return or reversal of a payment to us"
                continue
            if dd is not None and dd[0] in cases:
                self._matched(
                    e,
                    cases[dd[0]],
                    "e2e",
                    f"EndToEndId {tx.end_to_end_id} is our direct debit for case "
                    f"{cases[dd[0]].reference}",
                )
                continue
            problems: list[str] = []
            for ref in refs[e.key]:
                if ref.case_id is None:
                    problems.append(ref.problem)
                    continue
                case = cases.get(ref.case_id)
                if case is None:
                    problems.append(
                        f"{ref.written} decodes to case {ref.case_id}, which is unknown"
                    )
                    continue
                where = (
                    "the free text" if ref.rule.startswith("text-") else "the structured remittance"
                )
                name = {
                    "rf": "RF reference",
                    "betalingskenmerk": "betalingskenmerk",
                    "ogm": "OGM/VCS",
                    "case": "case reference",
                }[ref.rule.removeprefix("text-").replace("bk", "betalingskenmerk")]
                self._matched(
                    e, case, ref.rule, f"{name} {ref.written} in {where} = case {case.reference}"
                )
                break
            else:
                e.reason = "; ".join(problems)
                unmatched.append(e)
        if unmatched:
            self._fuzzy(conn, unmatched)

    def _matched(self, e: _Entry, case: _CaseInfo, rule: str, reason: str) -> None:
        e.case_id, e.rule, e.reason = case.id, rule, reason
        if e.tx.currency != case.currency:
            e.status = "review"
            e.reason += f", but the payment is in {e.tx.currency} and the case in {case.currency}"
            return
        e.status = "booked"
        e.payment_ref = "bank:" + e.key

    def _fuzzy(self, conn: Connection, entries: list[_Entry]) -> None:
        amounts = sorted({e.tx.amount_cents for e in entries})
        by_amount: dict[int, set[int]] = {}
        for chunk in chunks(amounts, 500):
            balance = (
                func.sum(Claim.open_principal_cents)
                + func.sum(Claim.open_interest_cents)
                + func.sum(Claim.open_costs_cents)
            )
            rows = conn.execute(
                select(Claim.case_id, balance.label("b"))
                .join(Case, Case.id == Claim.case_id)
                .where(Case.closed.is_(False))
                .group_by(Claim.case_id)
                .having(balance.in_(chunk))
            )
            for r in rows:
                by_amount.setdefault(int(r.b), set()).add(int(r.case_id))
            due = Instalment.amount_cents - Instalment.paid_cents
            rows = conn.execute(
                select(Instalment.case_id, due.label("b")).where(
                    Instalment.status.in_(("open", "missed")), due.in_(chunk)
                )
            )
            for r in rows:
                by_amount.setdefault(int(r.b), set()).add(int(r.case_id))
        cases = _load_cases(conn, {c for ids in by_amount.values() for c in ids})
        for e in entries:
            prefix = e.reason + "; " if e.reason else ""
            candidates = [
                cases[c] for c in sorted(by_amount.get(e.tx.amount_cents, ())) if c in cases
            ]
            name = e.tx.counterparty_name or ""
            best: tuple[int, _CaseInfo] | None = None
            for c in candidates:
                score = round(
                    fuzz.token_sort_ratio(name, c.debtor, processor=utils.default_process)
                )
                if best is None or score > best[0]:
                    best = (score, c)
            if best is None or best[0] < FUZZY_MIN_SCORE or not name:
                e.status, e.rule = "review", None
                e.reason = prefix + "no reference, no candidate"
                continue
            score, case = best
            e.status, e.rule, e.case_id, e.score = "review", "fuzzy", case.id, score
            e.reason = (
                prefix + f"no reference; name {name!r} resembles debtor {case.debtor!r} "
                f"(score {score}) and {_fmt(e.tx.amount_cents)} equals what is due on case "
                f"{case.reference} ({len(candidates)} case(s) with that amount): check and assign"
            )

    # booking ------------------------------------------------------------------------
    def _book(self, conn: Connection, entries: list[_Entry]) -> dict[str, Booked]:
        todo = [
            NewPayment(e.case_id, e.tx.amount_cents, e.tx.booking_date, e.payment_ref)
            for e in entries
            if e.status == "booked" and e.case_id is not None and e.payment_ref is not None
        ]
        by_ref = {b.source_ref: b for b in book_payments(conn, todo, now=self.now)}
        out: dict[str, Booked] = {}
        for e in entries:
            if e.payment_ref in by_ref:
                b = by_ref[e.payment_ref]
                out[e.key] = b
                if b.credit_cents:
                    e.status = "refund"
                    e.reason += (
                        f"; {_fmt(b.credit_cents)} more than the case owed: queued for refund"
                        + (f" to {e.tx.counterparty_iban}" if e.tx.counterparty_iban else "")
                    )
        return out

    def _insert(self, conn: Connection, entries: list[_Entry]) -> dict[str, int]:
        rows = [
            {
                "statement_id": e.statement_id,
                "entry_key": e.key,
                "acct_svcr_ref": _cut(e.tx.acct_svcr_ref, 140),
                "booking_date": e.tx.booking_date,
                "value_date": e.tx.value_date,
                "direction": e.tx.direction,
                "amount_cents": e.tx.amount_cents,
                "currency": e.tx.currency[:3],
                "reversal": e.tx.reversal,
                "end_to_end_id": _cut(e.tx.end_to_end_id, 140),
                "structured_ref": _cut(
                    e.tx.structured_refs[0] if e.tx.structured_refs else None, 140
                ),
                "remittance": e.tx.remittance,
                "counterparty_name": _cut(e.tx.counterparty_name, 140),
                "counterparty_iban": _cut(e.tx.counterparty_iban, 34),
                "return_reason": _cut(e.tx.return_reason, 10),
                "status": "review" if e.undo else e.status,
                "case_id": e.case_id,
                "match_rule": e.rule,
                "match_reason": e.reason,
                "match_score": e.score,
                "payment_ref": e.payment_ref,
            }
            for e in entries
        ]
        for chunk in chunks(rows, 5000):
            bulk_insert(conn, BankEntry, chunk)
        need = [e.key for e in entries if e.undo or e.status == "refund"]
        ids: dict[str, int] = {}
        for chunk in chunks(need, 2000):
            for r in conn.execute(
                select(BankEntry.entry_key, BankEntry.id).where(BankEntry.entry_key.in_(chunk))
            ):
                ids[r.entry_key] = int(r.id)
        return ids

    def _refunds(
        self,
        conn: Connection,
        entries: list[_Entry],
        booked: dict[str, Booked],
        ids: dict[str, int],
    ) -> None:
        rows = [
            {
                "bank_entry_id": ids[e.key],
                "case_id": e.case_id,
                "amount_cents": booked[e.key].credit_cents,
                "currency": e.tx.currency,
                "iban": _cut(e.tx.counterparty_iban, 34),
                "reason": f"overpayment: {e.reason}",
                "status": "queued",
                "created_on": self.on or e.tx.booking_date,
            }
            for e in entries
            if e.status == "refund" and e.key in booked
        ]
        if rows:
            conn.execute(insert(Refund), rows)

    def _undo(self, conn: Connection, e: _Entry, entry_id: int) -> None:
        """A return or reversal: find the entry it undoes and reverse that payment."""
        tx = e.tx
        original = _find_original(conn, tx, entry_id)
        what = f"return ({tx.return_reason})" if tx.return_reason else "reversal"
        dd = None
        if tx.end_to_end_id:
            dd = conn.execute(
                select(DirectDebit.id, DirectDebit.case_id).where(
                    DirectDebit.end_to_end_id == tx.end_to_end_id
                )
            ).first()
        if original is None:
            e.status, e.rule = "review", "e2e" if dd is not None else None
            e.case_id = int(dd.case_id) if dd is not None else None
            e.reason = (
                f"a {what} of {_fmt(tx.amount_cents)}"
                + (f" for our direct debit {tx.end_to_end_id}" if dd is not None else "")
                + ", but no booked payment to us matches it"
            )
        else:
            e.case_id = int(original.case_id) if original.case_id is not None else None
            e.rule = "e2e" if dd is not None else "reversal"
            try:
                # reverse_payment checks everything before it writes: no savepoint needed.
                reverse_payment(
                    conn,
                    original.payment_ref,
                    on=tx.booking_date,
                    reason=f"bank {what}, entry {e.key}",
                    now=self.now,
                )
            except (NotAllowed, ConflictError) as exc:
                e.status = "review"
                e.reason = f"a {what} of entry {original.entry_key}, not reversed: {exc}"
            else:
                e.status = "returned"
                e.payment_ref = original.payment_ref
                e.reason = (
                    f"{what} of entry {original.entry_key}"
                    + (f" (our direct debit {tx.end_to_end_id})" if dd is not None else "")
                    + f": payment {original.payment_ref} reversed"
                )
                conn.execute(
                    update(BankEntry).where(BankEntry.id == original.id).values(status="reversed")
                )
                conn.execute(
                    update(Refund)
                    .where(Refund.bank_entry_id == original.id, Refund.status == "queued")
                    .values(status="cancelled")
                )
                if dd is not None:
                    conn.execute(
                        update(DirectDebit)
                        .where(DirectDebit.id == dd.id)
                        .values(status="returned", return_reason=_cut(tx.return_reason, 10))
                    )
        conn.execute(
            update(BankEntry)
            .where(BankEntry.id == entry_id)
            .values(
                status=e.status,
                case_id=e.case_id,
                match_rule=e.rule,
                match_reason=e.reason,
                payment_ref=e.payment_ref,
            )
        )

    def _count(self, e: _Entry, booked: Booked | None) -> None:
        r = self.report
        cents = e.tx.amount_cents
        if e.rule is not None and e.status != "review":
            r.matched[e.rule] += 1
        if booked is not None:
            r.booked += 1
            r.booked_cents += cents
            r.costs_cents += booked.costs_cents
            r.interest_cents += booked.interest_cents
            r.principal_cents += booked.principal_cents
            if booked.credit_cents:
                r.refunds += 1
                r.refund_cents += booked.credit_cents
        elif e.status == "review":
            r.review += 1
            r.review_cents += cents
        elif e.status == "ignored":
            r.ignored += 1
            r.ignored_cents += cents
        elif e.status == "returned":
            r.returned += 1
            r.returned_cents += cents
        if len(r.outcomes) < self.keep:
            r.outcomes.append(
                EntryOutcome(
                    e.key,
                    e.tx.where,
                    e.tx.direction,
                    cents,
                    e.status,
                    None if e.case_id is None else f"R{e.case_id:09d}",
                    e.rule,
                    e.reason,
                    e.score,
                )
            )


def _find_original(conn: Connection, tx: BankTransaction, own_id: int) -> Any:
    """The booked money-in entry a return or reversal undoes (latest first)."""
    cols = (
        BankEntry.id,
        BankEntry.entry_key,
        BankEntry.case_id,
        BankEntry.payment_ref,
    )
    base = select(*cols).where(
        BankEntry.id != own_id,
        BankEntry.direction == "CRDT",
        BankEntry.reversal.is_(False),
        BankEntry.status.in_(("booked", "refund")),
        BankEntry.payment_ref.is_not(None),
        BankEntry.amount_cents == tx.amount_cents,
    )
    conditions = []
    if tx.end_to_end_id:
        conditions.append(BankEntry.end_to_end_id == tx.end_to_end_id)
    if tx.acct_svcr_ref:
        conditions.append(BankEntry.acct_svcr_ref == tx.acct_svcr_ref)
    if tx.structured_refs:
        conditions.append(BankEntry.structured_ref == tx.structured_refs[0])
    if not conditions:
        return None
    return conn.execute(base.where(or_(*conditions)).order_by(BankEntry.id.desc()).limit(1)).first()


def _load_cases(conn: Connection, ids: Iterable[int]) -> dict[int, _CaseInfo]:
    out: dict[int, _CaseInfo] = {}
    for chunk in chunks(sorted(set(ids)), 2000):
        rows = conn.execute(
            select(Case.id, Case.reference, Case.closed, Creditor.currency, Debtor.name)
            .join(Creditor, Creditor.id == Case.creditor_id)
            .join(Debtor, Debtor.id == Case.debtor_id)
            .where(Case.id.in_(chunk))
        )
        for r in rows:
            out[int(r.id)] = _CaseInfo(int(r.id), r.reference, bool(r.closed), r.currency, r.name)
    return out


def _cut(value: str | None, size: int) -> str | None:
    return None if value is None else value[:size]


# --- the review queue -----------------------------------------------------------------


def review_queue(conn: Connection, *, limit: int = 500) -> list[dict[str, Any]]:
    """Entries waiting for an agent, oldest first, with the proposed case and why."""
    rows = conn.execute(
        select(
            BankEntry.id,
            BankEntry.booking_date,
            BankEntry.direction,
            BankEntry.amount_cents,
            BankEntry.currency,
            BankEntry.counterparty_name,
            BankEntry.counterparty_iban,
            BankEntry.structured_ref,
            BankEntry.remittance,
            BankEntry.case_id,
            BankEntry.match_rule,
            BankEntry.match_score,
            BankEntry.match_reason,
        )
        .where(BankEntry.status == "review")
        .order_by(BankEntry.id)
        .limit(limit)
    )
    return [
        {
            **dict(r._mapping),
            "booking_date": r.booking_date.isoformat(),
            "proposed_case": None if r.case_id is None else f"R{r.case_id:09d}",
        }
        for r in rows
    ]


def _review_entry(conn: Connection, entry_id: int) -> Any:
    row = conn.execute(select(BankEntry).where(BankEntry.id == entry_id)).first()
    if row is None:
        raise InputError(f"no bank entry {entry_id}", field="entry_id")
    if row.status != "review":
        raise ConflictError(f"bank entry {entry_id} is {row.status}, not waiting for review")
    if row.direction != "CRDT" or row.reversal:
        raise NotAllowed(f"bank entry {entry_id} is not money paid to us; it cannot be booked")
    return row


def assign(
    conn: Connection,
    entry_id: int,
    case_reference: str,
    *,
    actor: str,
    on: date,
    now: datetime,
) -> dict[str, Any]:
    """An agent books a reviewed entry to a case (6:43/6:44 as any payment)."""
    row = _review_entry(conn, entry_id)
    case = conn.execute(
        select(Case.id, Case.reference, Creditor.currency)
        .join(Creditor, Creditor.id == Case.creditor_id)
        .where(Case.reference == case_reference.strip().upper())
    ).first()
    if case is None:
        raise InputError(f"no case {case_reference!r}", field="case_reference")
    if case.currency != row.currency:
        raise NotAllowed(
            f"the entry is in {row.currency} and case {case.reference} in {case.currency}"
        )
    ref = "bank:" + row.entry_key
    done = book_payments(
        conn, [NewPayment(int(case.id), row.amount_cents, row.booking_date, ref)], now=now
    )
    if not done:
        raise ConflictError(f"payment {ref} was booked before")
    booked = done[0]
    reason = f"assigned to case {case.reference} by {actor}" + (
        f" (proposed: {row.match_reason})" if row.match_reason else ""
    )
    status = "booked"
    if booked.credit_cents:
        status = "refund"
        reason += f"; {_fmt(booked.credit_cents)} more than the case owed: queued for refund"
        conn.execute(
            insert(Refund).values(
                bank_entry_id=entry_id,
                case_id=int(case.id),
                amount_cents=booked.credit_cents,
                currency=row.currency,
                iban=row.counterparty_iban,
                reason=f"overpayment: {reason}",
                status="queued",
                created_on=on,
            )
        )
    conn.execute(
        update(BankEntry)
        .where(BankEntry.id == entry_id)
        .values(
            status=status,
            case_id=int(case.id),
            match_rule="agent",
            match_reason=reason,
            payment_ref=ref,
        )
    )
    conn.execute(
        insert(Event).values(
            case_id=int(case.id),
            business_date=on,
            recorded_at=now,
            actor=actor,
            kind="bank_entry_assigned",
            reason=reason,
            before={},
            after={"bank_entry": entry_id, "amount_cents": row.amount_cents},
        )
    )
    return {
        "entry": entry_id,
        "case": case.reference,
        "status": status,
        "costs_cents": booked.costs_cents,
        "interest_cents": booked.interest_cents,
        "principal_cents": booked.principal_cents,
        "refund_cents": booked.credit_cents,
        "reason": reason,
    }


def refund(conn: Connection, entry_id: int, *, actor: str, on: date, reason: str) -> dict[str, Any]:
    """An agent sends a reviewed entry that matches no debt back to the payer."""
    row = _review_entry(conn, entry_id)
    why = f"refunded by {actor}: {reason}"
    result = conn.execute(
        insert(Refund).values(
            bank_entry_id=entry_id,
            case_id=None,
            amount_cents=row.amount_cents,
            currency=row.currency,
            iban=row.counterparty_iban,
            reason=why,
            status="queued",
            created_on=on,
        )
    )
    conn.execute(
        update(BankEntry)
        .where(BankEntry.id == entry_id)
        .values(status="refund", match_rule="agent", match_reason=why)
    )
    return {
        "entry": entry_id,
        "refund": int(result.inserted_primary_key[0]),  # type: ignore[index]
        "amount_cents": row.amount_cents,
        "iban": row.counterparty_iban,
        "status": "queued",
    }


# --- a statement for the demo ----------------------------------------------------------

DEMO_ACCOUNT = "NL91ABNA0417164300"  # the textbook example IBAN (valid check digits)


def demo_statement(
    conn: Connection, on: date, path: Path, *, every: int = 7, limit: int = 300
) -> dict[str, int]:
    """Write a CAMT.053.001.02 with what the demo's debtors pay on ``on``; returns counts.

    Deterministic: every ``every``-th open euro case (by id, at most ``limit``) pays. Most
    quote their RF reference or (Dutch debtors) betalingskenmerk / (Belgian) OGM in the
    structured remittance and pay the open balance or a part of it; every tenth types
    "factuur R000000123" in the free text; every tenth gives only a name and the amount
    (→ review); the first overpays by €25 (→ refund); and one bank charge goes out
    (→ ignored). AcctSvcrRefs derive from the date, so writing the same day twice gives
    the same entries (imported once).
    """
    from respite.adapters.bank.camt_writer import write_camt053
    from respite.domain.references import case_payment_references

    balance = (
        func.sum(Claim.open_principal_cents)
        + func.sum(Claim.open_interest_cents)
        + func.sum(Claim.open_costs_cents)
    ).label("balance")
    rows = conn.execute(
        select(Case.id, Debtor.name, Debtor.iban, Debtor.country, balance)
        .join(Claim, Claim.case_id == Case.id)
        .join(Debtor, Debtor.id == Case.debtor_id)
        .join(Creditor, Creditor.id == Case.creditor_id)
        .where(Case.closed.is_(False), Creditor.currency == "EUR", Case.id % every == 0)
        .group_by(Case.id, Debtor.name, Debtor.iban, Debtor.country)
        .having(balance > 0)
        .order_by(Case.id)
        .limit(limit)
    ).all()
    counts = Counter[str]()
    txs: list[BankTransaction] = []
    for n, r in enumerate(rows):
        refs = case_payment_references(int(r.id))
        amount = int(r.balance) if n % 3 else max(100, int(r.balance) // 4)
        structured: tuple[str, ...] = ()
        text = ""
        kind = n % 10
        if n == 0:
            amount, structured, what = int(r.balance) + 2500, (refs.rf,), "overpaid"
        elif kind == 7:
            text, what = f"factuur R{int(r.id):09d}", "text"
        elif kind == 8:
            amount, text, what = int(r.balance), "betaling", "name-only"
        elif kind in (5, 6) and r.country in ("NL", "BE"):
            structured = (refs.betalingskenmerk if r.country == "NL" else refs.ogm,)
            what = "betalingskenmerk" if r.country == "NL" else "ogm"
        else:
            structured, what = (refs.rf,), "rf"
        counts[what] += 1
        txs.append(
            BankTransaction(
                key="",
                account=DEMO_ACCOUNT,
                booking_date=on,
                value_date=on,
                direction="CRDT",
                amount_cents=amount,
                currency="EUR",
                acct_svcr_ref=f"DEMO-{on:%Y%m%d}-{n + 1:06d}",
                structured_refs=structured,
                remittance=text,
                counterparty_name=r.name,
                counterparty_iban=r.iban,
            )
        )
    txs.append(
        BankTransaction(
            key="",
            account=DEMO_ACCOUNT,
            booking_date=on,
            value_date=on,
            direction="DBIT",
            amount_cents=1250,
            currency="EUR",
            acct_svcr_ref=f"DEMO-{on:%Y%m%d}-costs",
            remittance="bank charges",
            counterparty_name="Demo Bank",
        )
    )
    counts["bank-charge"] += 1
    write_camt053(
        path,
        account=DEMO_ACCOUNT,
        currency="EUR",
        opening_cents=1_000_000,
        transactions=txs,
        message_id=f"DEMO-{on:%Y%m%d}",
        statement_id=f"DEMO-{on:%Y%m%d}-1",
        created=datetime.combine(on, datetime.min.time()).replace(hour=22),
    )
    counts["entries"] = len(txs)
    return dict(counts)
