"""What a creditor can read and do through the API, for its own claims only.

Tenant isolation is built into every function here: each takes the calling key's
``creditor_id`` and every query filters on it. A case, claim, remittance or webhook
endpoint of another creditor raises :class:`NotFound`, exactly like one that does not
exist, so a key cannot even learn that someone else's reference is in use.

Commands and the rules they follow:

**Claim intake** (JSON or CSV) is :mod:`respite.services.intake`: every row is checked,
the report lists every problem of every row, and nothing is written unless all rows are
good (one transaction).

**Recall** closes a case with close reason ``recalled`` (the creditor takes it back),
with the creditor's reason in the timeline. Allowed in every open stage, also while the
case is on hold (closing is not a collection action) and after money came in: what was
collected stays collected and is remitted with the next payout. Refused (409) when the
case is already closed, and in ``legal_handover``: a court or bailiff procedure is
running and must be withdrawn through the agency first, or the debtor would face costs
for a claim nobody pursues.

**Correction** of a claim, for mistakes in what the creditor sent:

* the principal may only go *down* (a higher amount is a new claim). The difference is
  written off the principal in the ledger (``write_off``, memo "correction by the
  creditor") and the claim's principal becomes the corrected amount. Refused (409) when
  the case is closed; when the correction would take away principal that was already
  paid (that would need a refund: the agency handles it); and once collection costs have
  been charged, because those were computed over the old principal and lowering it would
  leave the costs too high — the agency corrects such a case, costs included.
* the due date may be corrected (not after the business date, not before the issue
  date) only while no interest has accrued on the claim, i.e. before the nightly cycle
  has run for it: interest runs from the day after the due date, and rewriting history
  under accrued interest would make the ledger lie.

Both write a ``claim_corrected`` event with before and after in the same transaction.

**Reads of personal data are audited.** A case's status names its debtor, and its
timeline tells what happened to that debtor: both write an audit entry (actor
``api:<key id>``, what, which debtor, why) in the read's transaction. Lists, claims,
collections and remittances carry no personal data and are not audited.

**What a creditor sees of the timeline** is a fixed list of status events (opened,
stage changes, holds, costs, payments, plans, corrections, write-offs, legal decisions).
Events about the debtor's own conduct or circumstances (portal logins, contact
preferences, disclosures of vulnerability, requests for debt help) are not shown. A
``vulnerability_review`` hold shows as ``protected`` and its reason is withheld: that
the debtor may be vulnerable is special-category data the creditor has no need to know;
it only needs to know that collection is paused.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Connection, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from respite.adapters.clock import as_utc
from respite.adapters.db.models import (
    Case,
    Claim,
    Creditor,
    Debtor,
    Event,
    Hold,
    IdempotencyKey,
    LedgerEntry,
    Payment,
    Payout,
    Refund,
)
from respite.domain.lifecycle import CloseReason, Stage
from respite.domain.money import Currency, Money, parse_amount
from respite.errors import ConflictError, InputError, ValidationError
from respite.services import audit
from respite.services.cases import move_case_in
from respite.services.intake import ClaimsFile, IntakeResult, parse_claims
from respite.services.store import chunks, event_row, ledger_row

__all__ = [
    "CASE_STATUSES",
    "CREDITOR_EVENT_KINDS",
    "MAX_PER_PAGE",
    "NotFound",
    "PageRequest",
    "case_status",
    "case_timeline",
    "claim_status",
    "collections",
    "correct_claim",
    "creditor_name",
    "creditor_visible",
    "list_cases",
    "public_event",
    "recall_case",
    "remember_response",
    "remittance",
    "remittances",
    "replayed_response",
    "request_fingerprint",
    "submit_claims",
]

MAX_PER_PAGE = 500
CASE_STATUSES = ("open", "closed", *(s.value for s in Stage))
# Status events a creditor sees in the timeline and by webhook (see the module docstring).
CREDITOR_EVENT_KINDS = frozenset(
    {
        "opened",
        "transition",
        "hold_placed",
        "hold_lifted",
        "costs_charged",
        "payment_received",
        "payment_reversed",
        "written_off",
        "claim_corrected",
        "instalment_missed",
        "legal_handover_approved",
        "legal_handover_declined",
    }
)
_PLAN_EVENTS = "plan_"  # plan_proposed, plan_started, plan_completed, plan_broken, ...
PROTECTED_HOLDS = frozenset({"vulnerability_review"})
_PROTECTED = "protected"
_MAX_COLLECTION_DAYS = 366


class NotFound(Exception):
    """No such object for this creditor (whether or not another creditor has one)."""


@dataclass(frozen=True, slots=True)
class PageRequest:
    page: int = 1
    per_page: int = 100

    def __post_init__(self) -> None:
        if self.page < 1:
            raise ValidationError("must be 1 or more", field="page")
        if not 1 <= self.per_page <= MAX_PER_PAGE:
            raise ValidationError(f"must be 1 to {MAX_PER_PAGE}", field="per_page")

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page

    def wrap(self, items: list[dict[str, Any]], total: int) -> dict[str, Any]:
        more = self.offset + len(items) < total
        return {
            "items": items,
            "page": self.page,
            "per_page": self.per_page,
            "total": total,
            "next_page": self.page + 1 if more else None,
        }


def _money(cents: int | None, currency: str) -> str:
    return str(Money.from_minor_units(int(cents or 0), Currency.of(currency)))


def creditor_name(conn: Connection, creditor_id: int) -> str:
    return str(_creditor(conn, creditor_id).name)


def _creditor(conn: Connection, creditor_id: int) -> Any:
    row = conn.execute(
        select(Creditor.id, Creditor.name, Creditor.currency).where(Creditor.id == creditor_id)
    ).first()
    if row is None:  # the key outlived its creditor: nothing to show
        raise NotFound("creditor")
    return row


# --- idempotency ----------------------------------------------------------------------


def request_fingerprint(method: str, path: str, query: str, body: bytes) -> str:
    """What makes two requests "the same" for an idempotency key."""
    digest = hashlib.sha256()
    for part in (method.upper().encode(), path.encode(), query.encode()):
        digest.update(part + b"\n")
    digest.update(body)
    return digest.hexdigest()


def _check_key(key: str) -> str:
    key = key.strip()
    if not 1 <= len(key) <= 200:
        raise ValidationError("must be 1 to 200 characters", field="Idempotency-Key")
    return key


def replayed_response(
    conn: Connection, creditor_id: int, key: str, fingerprint: str
) -> tuple[int, dict[str, Any]] | None:
    """The stored first response to this key, or None; another request under it: 409."""
    row = conn.execute(
        select(IdempotencyKey.request_sha256, IdempotencyKey.status_code, IdempotencyKey.response)
        .where(IdempotencyKey.creditor_id == creditor_id)
        .where(IdempotencyKey.key == _check_key(key))
    ).first()
    if row is None:
        return None
    if row.request_sha256 != fingerprint:
        raise ConflictError(
            "this Idempotency-Key was already used for a different request; "
            "use a new key for a new request"
        )
    return int(row.status_code), dict(row.response)


def remember_response(
    conn: Connection,
    creditor_id: int,
    key: str,
    fingerprint: str,
    status_code: int,
    response: Mapping[str, Any],
    *,
    now: datetime,
) -> None:
    """Store a successful response in the command's own transaction (unique per creditor:
    a concurrent request with the same key fails here and its whole command rolls back)."""
    conn.execute(
        insert(IdempotencyKey).values(
            creditor_id=creditor_id,
            key=_check_key(key),
            request_sha256=fingerprint,
            status_code=status_code,
            response=dict(response),
            created_at=now,
        )
    )


# --- intake ---------------------------------------------------------------------------


def submit_claims(
    conn: Connection,
    creditor_id: int,
    data: bytes,
    *,
    filename: str,
    on: date,
    now: datetime,
    max_rows: int | None = None,
) -> IntakeResult:
    """Take in a JSON (one claim, a list, or ``{"claims": [...]}``) or CSV body, whole or
    not at all: raises :class:`~respite.services.intake.IntakeRejected` with the report."""
    # Only the intake service's own apply step is used, so that a file through the API
    # and the same file through `respite import claims` are treated exactly alike.
    from respite.services.intake import apply_claims_file

    creditor = _creditor(conn, creditor_id)
    if filename.endswith(".json"):
        data = _as_claim_list(data)
    rows = parse_claims(data, filename)
    if max_rows is not None and len(rows) > max_rows:
        raise ValidationError(
            f"{filename}: {len(rows)} claims; send at most {max_rows} at once, or a CSV file"
        )
    claims_file = ClaimsFile(filename, hashlib.sha256(data).hexdigest(), rows)
    try:
        return apply_claims_file(
            conn, creditor.name, claims_file, on=on, skip_invalid=False, now=now
        )
    except IntegrityError:
        raise ConflictError(
            "another request wrote the same claims at the same time; nothing imported, "
            "send it again"
        ) from None


def _as_claim_list(data: bytes) -> bytes:
    """One claim object becomes a list of one; anything else is left to the parser."""
    if data.lstrip()[:1] != b"{":
        return data
    try:
        doc = json.loads(data)
    except ValueError:
        return data  # parse_claims reports where the JSON is broken
    if isinstance(doc, dict) and "claims" not in doc:
        return b"[" + data + b"]"
    return data


# --- cases ----------------------------------------------------------------------------


def _case_filter(status: str | None) -> list[ColumnElement[bool]]:
    if status is None or status == "":
        return []
    if status == "open":
        return [Case.closed.is_(False)]
    if status == "closed":
        return [Case.closed.is_(True)]
    if status in CASE_STATUSES:
        return [Case.stage == status]
    raise ValidationError(f"must be one of {', '.join(CASE_STATUSES)}", field="status")


def list_cases(
    conn: Connection, creditor_id: int, *, status: str | None, page: PageRequest
) -> dict[str, Any]:
    """The creditor's cases, oldest first, with their balances (no personal data)."""
    where = [Case.creditor_id == creditor_id, *_case_filter(status)]
    total = conn.execute(select(func.count()).select_from(Case).where(*where)).scalar_one()
    rows = conn.execute(
        select(
            Case.id,
            Case.reference,
            Case.stage,
            Case.stage_since,
            Case.closed,
            Case.close_reason,
            Case.opened_on,
        )
        .where(*where)
        .order_by(Case.id)
        .limit(page.per_page)
        .offset(page.offset)
    ).all()
    sums = _case_sums(conn, creditor_id, [int(r.id) for r in rows])
    items = []
    for r in rows:
        s = sums.get(int(r.id))
        currency = s["currency"] if s else _creditor(conn, creditor_id).currency
        items.append(
            {
                **_case_head(r),
                "currency": currency,
                "external_refs": s["refs"] if s else [],
                "principal": _money(s["principal"] if s else 0, currency),
                "outstanding": _money(s["outstanding"] if s else 0, currency),
            }
        )
    return page.wrap(items, int(total))


def _case_head(r: Any) -> dict[str, Any]:
    return {
        "reference": r.reference,
        "stage": r.stage,
        "stage_since": r.stage_since,
        "closed": bool(r.closed),
        "close_reason": r.close_reason,
        "opened_on": r.opened_on,
    }


def _case_sums(conn: Connection, creditor_id: int, case_ids: Sequence[int]) -> dict[int, Any]:
    out: dict[int, dict[str, Any]] = {}
    for chunk in chunks(list(case_ids), 1000):
        for c in conn.execute(
            select(
                Claim.case_id,
                Claim.external_ref,
                Claim.currency,
                Claim.principal_cents,
                Claim.open_principal_cents,
                Claim.open_interest_cents,
                Claim.open_costs_cents,
            )
            .where(Claim.creditor_id == creditor_id, Claim.case_id.in_(chunk))
            .order_by(Claim.id)
        ):
            entry = out.setdefault(
                int(c.case_id),
                {"currency": c.currency, "refs": [], "principal": 0, "outstanding": 0},
            )
            entry["refs"].append(c.external_ref)
            entry["principal"] += int(c.principal_cents)
            entry["outstanding"] += int(
                c.open_principal_cents + c.open_interest_cents + c.open_costs_cents
            )
    return out


def _own_case(conn: Connection, creditor_id: int, reference: str) -> Any:
    row = conn.execute(
        select(
            Case.id,
            Case.reference,
            Case.debtor_id,
            Case.stage,
            Case.stage_since,
            Case.closed,
            Case.close_reason,
            Case.opened_on,
        ).where(Case.reference == reference.strip().upper(), Case.creditor_id == creditor_id)
    ).first()
    if row is None:
        raise NotFound(f"no case {reference}")
    return row


def case_status(
    conn: Connection,
    creditor_id: int,
    reference: str,
    *,
    on: date,
    actor: str,
    at: datetime,
    client: str | None = None,
) -> dict[str, Any]:
    """One case: stage, holds, claims with balances, collected; names its debtor (audited)."""
    case = _own_case(conn, creditor_id, reference)
    status = _status(conn, creditor_id, case, on)
    audit.record(
        conn,
        actor=actor,
        action="read_debtor",
        subject_type="debtor",
        subject_id=int(case.debtor_id),
        purpose=f"creditor API: status of case {case.reference}",
        at=at,
        client=client,
    )
    return status


def _status(conn: Connection, creditor_id: int, case: Any, on: date) -> dict[str, Any]:
    debtor = conn.execute(
        select(Debtor.name, Debtor.kind, Debtor.country).where(Debtor.id == case.debtor_id)
    ).one()
    currency = _creditor(conn, creditor_id).currency
    claims = []
    totals = dict.fromkeys(("principal", "interest", "costs", "credit"), 0)
    for c in conn.execute(
        select(Claim)
        .where(Claim.case_id == case.id, Claim.creditor_id == creditor_id)
        .order_by(Claim.id)
    ).all():
        currency = c.currency
        claims.append(_claim_out(c))
        totals["principal"] += c.open_principal_cents
        totals["interest"] += c.open_interest_cents
        totals["costs"] += c.open_costs_cents
        totals["credit"] += c.credit_cents
    holds = [
        {
            "kind": _PROTECTED if h.kind in PROTECTED_HOLDS else h.kind,
            "since": h.start,
            "until": h.until,
        }
        for h in conn.execute(
            select(Hold.kind, Hold.start, Hold.until)
            .where(Hold.case_id == case.id, Hold.start <= on)
            .where(or_(Hold.until.is_(None), Hold.until >= on))
            .order_by(Hold.start, Hold.id)
        )
    ]
    collected = conn.execute(
        select(func.coalesce(func.sum(Payment.amount_cents), 0)).where(
            Payment.case_id == case.id, Payment.booked.is_(True)
        )
    ).scalar_one()
    return {
        **_case_head(case),
        "currency": currency,
        "debtor": {"name": debtor.name, "kind": debtor.kind, "country": debtor.country},
        "on_hold": bool(holds),
        "holds": holds,
        "claims": claims,
        "open": {
            "principal": _money(totals["principal"], currency),
            "interest": _money(totals["interest"], currency),
            "costs": _money(totals["costs"], currency),
            "total": _money(totals["principal"] + totals["interest"] + totals["costs"], currency),
        },
        "credit": _money(totals["credit"], currency),
        "collected": _money(collected, currency),
    }


def _claim_out(c: Any) -> dict[str, Any]:
    cur = c.currency
    return {
        "external_ref": c.external_ref,
        "description": c.description,
        "issue_date": c.issue_date,
        "due_date": c.due_date,
        "principal": _money(c.principal_cents, cur),
        "open_principal": _money(c.open_principal_cents, cur),
        "open_interest": _money(c.open_interest_cents, cur),
        "open_costs": _money(c.open_costs_cents, cur),
        "outstanding": _money(
            c.open_principal_cents + c.open_interest_cents + c.open_costs_cents, cur
        ),
    }


def creditor_visible() -> ColumnElement[bool]:
    """SQL: the events a creditor may see (see the module docstring)."""
    return or_(
        Event.kind.in_(sorted(CREDITOR_EVENT_KINDS)),
        Event.kind.like(f"{_PLAN_EVENTS}%"),
    )


def _mask(values: Mapping[str, Any] | None) -> dict[str, Any]:
    """The values with protected hold kinds shown as ``protected``."""
    out = dict(values or {})
    holds = out.get("holds")
    if isinstance(holds, str) and holds:
        out["holds"] = ",".join(_PROTECTED if k in PROTECTED_HOLDS else k for k in holds.split(","))
    return out


def public_event(
    event_id: int,
    reference: str,
    kind: str,
    business_date: date,
    recorded_at: datetime,
    actor: str,
    reason: str,
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """An event as a creditor sees it: protected hold kinds masked; the reason of placing
    or lifting a protected hold withheld (it would say why the debtor may be vulnerable)."""
    return {
        "id": f"evt_{event_id}",
        "case_reference": reference,
        "kind": kind,
        "date": business_date,
        "recorded_at": as_utc(recorded_at),
        "actor": actor,
        "reason": None if _protected_change(before, after) else reason,
        "before": _mask(before),
        "after": _mask(after),
    }


def _protected_change(before: Mapping[str, Any] | None, after: Mapping[str, Any] | None) -> bool:
    def kinds(values: Mapping[str, Any] | None) -> set[str]:
        holds = (values or {}).get("holds")
        return set(holds.split(",")) if isinstance(holds, str) and holds else set()

    return bool((kinds(before) ^ kinds(after)) & PROTECTED_HOLDS)


def case_timeline(
    conn: Connection,
    creditor_id: int,
    reference: str,
    *,
    page: PageRequest,
    actor: str,
    at: datetime,
    client: str | None = None,
) -> dict[str, Any]:
    """The case's status events, oldest first (audited: it tells what happened to whom)."""
    case = _own_case(conn, creditor_id, reference)
    where = [Event.case_id == case.id, creditor_visible()]
    total = conn.execute(select(func.count()).select_from(Event).where(*where)).scalar_one()
    rows = conn.execute(
        select(
            Event.id,
            Event.kind,
            Event.business_date,
            Event.recorded_at,
            Event.actor,
            Event.reason,
            Event.before,
            Event.after,
        )
        .where(*where)
        .order_by(Event.id)
        .limit(page.per_page)
        .offset(page.offset)
    )
    items = [
        public_event(
            int(e.id),
            case.reference,
            e.kind,
            e.business_date,
            e.recorded_at,
            e.actor,
            e.reason,
            e.before,
            e.after,
        )
        for e in rows
    ]
    audit.record(
        conn,
        actor=actor,
        action="read_case_timeline",
        subject_type="debtor",
        subject_id=int(case.debtor_id),
        purpose=f"creditor API: timeline of case {case.reference}",
        at=at,
        client=client,
    )
    return {"reference": case.reference, **page.wrap(items, int(total))}


def claim_status(conn: Connection, creditor_id: int, external_ref: str) -> dict[str, Any]:
    """One claim by the creditor's own reference, with its case (no personal data)."""
    claim = conn.execute(
        select(Claim).where(Claim.creditor_id == creditor_id, Claim.external_ref == external_ref)
    ).first()
    if claim is None:
        raise NotFound(f"no claim {external_ref}")
    case = conn.execute(
        select(Case.reference, Case.stage, Case.closed, Case.close_reason).where(
            Case.id == claim.case_id
        )
    ).one()
    return {
        **_claim_out(claim),
        "currency": claim.currency,
        "case_reference": case.reference,
        "stage": case.stage,
        "closed": bool(case.closed),
        "close_reason": case.close_reason,
    }


# --- commands -------------------------------------------------------------------------


def recall_case(
    conn: Connection,
    creditor_id: int,
    reference: str,
    *,
    reason: str,
    on: date,
    actor: str,
    at: datetime,
) -> dict[str, Any]:
    """Close the case as recalled by the creditor (rules in the module docstring)."""
    case = _own_case(conn, creditor_id, reference)
    why = " ".join(reason.split())
    if not why:
        raise ValidationError("say why the case is recalled", field="reason")
    if case.closed:
        raise ConflictError(f"case {case.reference} is already closed ({case.close_reason})")
    if case.stage == Stage.LEGAL_HANDOVER.value:
        raise ConflictError(
            f"case {case.reference} is with a court or bailiff (legal handover); the agency "
            "must withdraw that procedure before the case can be recalled"
        )
    move_case_in(
        conn,
        case.reference,
        Stage.CLOSED,
        on=on,
        actor=actor,
        reason=f"recalled by the creditor: {why}",
        close_reason=CloseReason.RECALLED,
        at=at,
    )
    return _status(conn, creditor_id, _own_case(conn, creditor_id, reference), on)


def correct_claim(
    conn: Connection,
    creditor_id: int,
    external_ref: str,
    *,
    amount: str | None,
    due_date: date | None,
    reason: str,
    on: date,
    actor: str,
    at: datetime,
) -> dict[str, Any]:
    """Lower a claim's principal and/or correct its due date (rules in the module docstring)."""
    claim = conn.execute(
        select(Claim).where(Claim.creditor_id == creditor_id, Claim.external_ref == external_ref)
    ).first()
    if claim is None:
        raise NotFound(f"no claim {external_ref}")
    why = " ".join(reason.split())
    if not why:
        raise ValidationError("say what was wrong", field="reason")
    if amount is None and due_date is None:
        raise ValidationError("give the corrected amount, due date or both", field="amount")
    case = conn.execute(
        select(Case.id, Case.reference, Case.closed).where(Case.id == claim.case_id)
    ).one()
    if case.closed:
        raise ConflictError(f"case {case.reference} is closed; its claims cannot be corrected")
    values: dict[str, Any] = {}
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    ledger: list[dict[str, Any]] = []
    if amount is not None:
        costs = conn.execute(
            select(func.count())
            .select_from(LedgerEntry)
            .where(LedgerEntry.claim_id == claim.id, LedgerEntry.kind == "charge")
            .where(LedgerEntry.bucket == "costs")
        ).scalar_one()
        _lower_principal(claim, amount, bool(costs), why, on, values, before, after, ledger)
    if due_date is not None:
        _move_due_date(claim, due_date, on, values, before, after)
    if not after:
        raise ValidationError("the correction changes nothing", field="amount")
    conn.execute(update(Claim).where(Claim.id == claim.id).values(**values))
    if ledger:
        conn.execute(insert(LedgerEntry), ledger)
    conn.execute(
        insert(Event).values(
            event_row(
                case.id,
                on,
                at,
                actor,
                "claim_corrected",
                f"corrected by the creditor: {why}",
                {"claim": claim.external_ref, **after},
                {"claim": claim.external_ref, **before},
            )
        )
    )
    return claim_status(conn, creditor_id, external_ref)


def _lower_principal(
    claim: Any,
    amount: str,
    costs_charged: bool,
    why: str,
    on: date,
    values: dict[str, Any],
    before: dict[str, Any],
    after: dict[str, Any],
    ledger: list[dict[str, Any]],
) -> None:
    currency = Currency.of(claim.currency)
    try:
        new = Money(parse_amount(amount, currency), currency)
    except InputError as exc:
        raise ValidationError(str(exc), field="amount") from None
    old = Money.from_minor_units(claim.principal_cents, currency)
    if not new.is_positive:
        raise ValidationError(
            "must be more than zero; to withdraw the whole claim, recall the case",
            field="amount",
        )
    if new == old:
        return
    if new > old:
        raise ValidationError(
            f"a correction can only lower the principal ({old}); send a higher amount "
            "as a new claim",
            field="amount",
        )
    if costs_charged:
        raise ConflictError(
            f"collection costs were already charged on {claim.external_ref} over the principal "
            f"of {old}; ask the agency to correct it, costs included"
        )
    cut = old.minor_units - new.minor_units
    if cut > claim.open_principal_cents:
        paid = Money.from_minor_units(claim.principal_cents - claim.open_principal_cents, currency)
        raise ConflictError(
            f"{paid} of the principal of {claim.external_ref} was already paid; a principal "
            f"below that needs a refund, which the agency arranges"
        )
    seq = claim.last_seq + 1
    ledger.append(
        ledger_row(
            {"id": claim.id, "last_seq": seq},
            "write_off",
            "principal",
            cut,
            on,
            f"correction by the creditor: {why}",
        )
    )
    values.update(
        principal_cents=new.minor_units,
        open_principal_cents=claim.open_principal_cents - cut,
        last_seq=seq,
    )
    before["principal"] = str(old)
    after["principal"] = str(new)


def _move_due_date(
    claim: Any,
    due: date,
    on: date,
    values: dict[str, Any],
    before: dict[str, Any],
    after: dict[str, Any],
) -> None:
    if due == claim.due_date:
        return
    if due < claim.issue_date:
        raise ValidationError(f"is before the issue date {claim.issue_date}", field="due_date")
    if due >= on:
        raise ValidationError(f"is not yet overdue on {on}", field="due_date")
    accrued = (
        claim.interest_accrued_to > claim.default_start
        or claim.interest_carry_micros
        or claim.open_interest_cents
        or claim.interest_year_cents
        or claim.capitalised_cents
    )
    if accrued:
        raise ConflictError(
            f"interest has already accrued on {claim.external_ref} from its due date; "
            "ask the agency to correct it"
        )
    start = due + timedelta(days=1)
    values.update(due_date=due, default_start=start, interest_accrued_to=start)
    before["due_date"] = claim.due_date.isoformat()
    after["due_date"] = due.isoformat()


# --- money ----------------------------------------------------------------------------


def collections(
    conn: Connection, creditor_id: int, *, date_from: date, date_to: date
) -> dict[str, Any]:
    """Money collected on the creditor's cases in ``[date_from, date_to]``, day by day.

    Collected = booked payments received in the period; refunded = refunds (queued or
    paid) created in the period; net = collected − refunded, as in the remittance.
    """
    if date_from > date_to:
        raise ValidationError(f"is after to ({date_to})", field="from")
    if (date_to - date_from).days >= _MAX_COLLECTION_DAYS:
        raise ValidationError(
            f"a period is at most {_MAX_COLLECTION_DAYS} days; ask for it in parts", field="to"
        )
    currency = _creditor(conn, creditor_id).currency
    own = select(Case.id).where(Case.creditor_id == creditor_id).scalar_subquery()
    by_day = conn.execute(
        select(Payment.received_on, func.sum(Payment.amount_cents), func.count())
        .where(Payment.case_id.in_(own), Payment.booked.is_(True))
        .where(Payment.received_on >= date_from, Payment.received_on <= date_to)
        .group_by(Payment.received_on)
        .order_by(Payment.received_on)
    ).all()
    refunded = conn.execute(
        select(func.coalesce(func.sum(Refund.amount_cents), 0))
        .where(Refund.case_id.in_(own), Refund.status.in_(("queued", "paid")))
        .where(Refund.created_on >= date_from, Refund.created_on <= date_to)
    ).scalar_one()
    collected = sum(int(r[1]) for r in by_day)
    return {
        "from": date_from,
        "to": date_to,
        "currency": currency,
        "payments": sum(int(r[2]) for r in by_day),
        "collected": _money(collected, currency),
        "refunded": _money(refunded, currency),
        "net": _money(collected - int(refunded), currency),
        "days": [
            {"date": d, "payments": int(n), "collected": _money(cents, currency)}
            for d, cents, n in by_day
        ],
    }


def _payout_out(p: Any) -> dict[str, Any]:
    return {
        "id": int(p.id),
        "period_from": p.period_from,
        "period_to": p.period_to,
        "currency": p.currency,
        "collected": _money(p.collected_cents, p.currency),
        "commission": _money(p.commission_cents, p.currency),
        "payout": _money(p.payout_cents, p.currency),
        "transfer_message_id": p.message_id,
        "created_on": p.created_on,
    }


def remittances(conn: Connection, creditor_id: int, *, page: PageRequest) -> dict[str, Any]:
    """The creditor's remittance statements (payouts), newest first."""
    total = conn.execute(
        select(func.count()).select_from(Payout).where(Payout.creditor_id == creditor_id)
    ).scalar_one()
    rows = conn.execute(
        select(Payout)
        .where(Payout.creditor_id == creditor_id)
        .order_by(Payout.period_to.desc(), Payout.id.desc())
        .limit(page.per_page)
        .offset(page.offset)
    ).all()
    return page.wrap([_payout_out(p) for p in rows], int(total))


def remittance(conn: Connection, creditor_id: int, payout_id: int) -> dict[str, Any]:
    """One remittance statement with its lines per case (as in `respite payout`)."""
    payout = conn.execute(
        select(Payout).where(Payout.id == payout_id, Payout.creditor_id == creditor_id)
    ).first()
    if payout is None:
        raise NotFound(f"no remittance {payout_id}")
    own = select(Case.id).where(Case.creditor_id == creditor_id).scalar_subquery()
    paid = _sum_by_case(
        conn,
        select(Payment.case_id, func.sum(Payment.amount_cents))
        .where(Payment.case_id.in_(own), Payment.booked.is_(True))
        .where(Payment.received_on >= payout.period_from, Payment.received_on <= payout.period_to)
        .group_by(Payment.case_id),
    )
    back = _sum_by_case(
        conn,
        select(Refund.case_id, func.sum(Refund.amount_cents))
        .where(Refund.case_id.in_(own), Refund.status.in_(("queued", "paid")))
        .where(Refund.created_on >= payout.period_from, Refund.created_on <= payout.period_to)
        .group_by(Refund.case_id),
    )
    ids = sorted(set(paid) | set(back))
    refs = _references(conn, creditor_id, ids)
    sums = _case_sums(conn, creditor_id, ids)
    cur = payout.currency
    lines = [
        {
            "case_reference": refs[i],
            "external_refs": sums[i]["refs"] if i in sums else [],
            "collected": _money(paid.get(i, 0), cur),
            "refunded": _money(back.get(i, 0), cur),
            "net": _money(paid.get(i, 0) - back.get(i, 0), cur),
        }
        for i in ids
    ]
    return {**_payout_out(payout), "lines": lines}


def _sum_by_case(conn: Connection, query: Any) -> dict[int, int]:
    return {int(c): int(s or 0) for c, s in conn.execute(query) if c is not None}


def _references(conn: Connection, creditor_id: int, ids: Iterable[int]) -> dict[int, str]:
    out: dict[int, str] = {}
    for chunk in chunks(list(ids), 1000):
        out.update(
            {
                int(i): r
                for i, r in conn.execute(
                    select(Case.id, Case.reference).where(
                        Case.id.in_(chunk), Case.creditor_id == creditor_id
                    )
                )
            }
        )
    return out
