"""What the operator console reads and does: search, the debtor-360 page, the call queue,
plans and holds within authority, vulnerability notes, creditor dashboards, the social
report's figures and the audit log.

Every read that shows a debtor's personal data writes an audit entry (who, when, what,
why) in the same transaction as the read (:mod:`respite.services.audit`), one per person
shown. Two pages are not audited because they identify nobody: the call queue (due times,
case references, person numbers: opening a task is audited) and the creditor dashboards
(aggregates). Every change goes through the service that owns
it (:mod:`~respite.services.cases`, :mod:`~respite.services.plans`,
:mod:`~respite.services.messaging`), which writes the case's timeline; this module adds
the authority checks (:mod:`respite.services.authority`) and the audit entries.

Vulnerability notes are special-category data: the text is sealed (Fernet) before it is
stored; the list shows kind, date and author only; opening the text needs the compliance
role and a stated reason, and is audited.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, and_, case, func, insert, or_, select

from respite.adapters.clock import as_utc
from respite.adapters.crypto import DecryptionError, open_sealed, seal
from respite.adapters.db.models import (
    AuditEntry,
    CallTask,
    Case,
    Claim,
    Creditor,
    Debtor,
    Event,
    Hold,
    Message,
    Plan,
    PlanCase,
    SensitiveNote,
)
from respite.adapters.documents.social_report import format_figure
from respite.domain.lifecycle import HoldKind
from respite.domain.money import Money
from respite.domain.social_report import METRICS, SECTIONS, Report, Unit
from respite.errors import InputError, NotAllowed
from respite.services import audit, cases, plans
from respite.services.authority import (
    Actor,
    Permission,
    require,
    require_plan_decision,
    require_plan_proposal,
)
from respite.services.debtor360 import debtor_360
from respite.services.people import debtor_ids_of_person, open_case_ids_of_person, person_key
from respite.services.store import event_row

__all__ = [
    "HOLD_KINDS",
    "READ_REASONS",
    "Dashboard",
    "audit_log",
    "call_person",
    "call_queue",
    "call_task",
    "creditor_dashboard",
    "creditors",
    "debtor_page",
    "decide_plan",
    "export_audit",
    "lift_hold",
    "pending_plans",
    "person_exists",
    "person_of_case",
    "place_hold",
    "propose_plan",
    "read_vulnerability",
    "record_vulnerability",
    "report_sections",
    "search",
    "vulnerability_notes",
    "work_counts",
]

SEARCH_LIMIT = 25
TIMELINE_LIMIT = 100
AUDIT_PAGE = 200
NOTE_MAX = 4000
# Why a compliance officer opens a vulnerability note: chosen from a list, so the audit
# log can be read per purpose; "other" needs the reason written out.
READ_REASONS = {
    "complaint": "handling a complaint",
    "access_request": "answering the debtor's access request",
    "quality_review": "quality review of the handling",
    "care_check": "checking the case is handled with care",
    "other": "other",
}
HOLD_KINDS = {
    HoldKind.DISPUTE.value: "Dispute",
    HoldKind.DEFERRAL.value: "Deferral (pause)",
    HoldKind.BREATHING_SPACE.value: "Breathing space",
    HoldKind.DEBT_COUNSELLING.value: "Debt counselling",
    HoldKind.VULNERABILITY_REVIEW.value: "Vulnerability review",
    HoldKind.DECEASED.value: "Deceased",
}
REFERENCE = re.compile(r"^R\d{3,}$", re.IGNORECASE)


# --- people and search --------------------------------------------------------------


def person_exists(conn: Connection, person_id: int) -> bool:
    """A person key: a debtor record that is its own person (not linked to another)."""
    row = conn.execute(
        select(Debtor.id).where(Debtor.id == person_id, Debtor.person_id.is_(None))
    ).first()
    return row is not None


def person_of_case(conn: Connection, reference: str) -> int | None:
    row = conn.execute(
        select(person_key())
        .select_from(Case)
        .join(Debtor, Debtor.id == Case.debtor_id)
        .where(Case.reference == reference.strip().upper())
    ).first()
    return None if row is None else int(row[0])


def _audit_people(
    conn: Connection,
    people: Sequence[int],
    *,
    actor: Actor,
    action: str,
    purpose: str,
    at: datetime,
    client: str | None,
) -> None:
    if not people:
        return
    conn.execute(
        insert(AuditEntry),
        [
            {
                "at": at,
                "actor": actor.name[:100],
                "action": action,
                "subject_type": "debtor",
                "subject_id": str(p),
                "purpose": purpose,
                "client": client and client[:64],
            }
            for p in sorted(set(people))
        ],
    )


def search(
    engine: Engine,
    query: str,
    *,
    actor: Actor,
    at: datetime,
    client: str | None = None,
    limit: int = SEARCH_LIMIT,
) -> list[dict[str, Any]]:
    """Cases by reference, claim number, debtor name, e-mail, phone or postcode.

    Every person shown is audited (``search_debtors``): the results carry names.
    """
    require(actor, Permission.SEARCH)
    q = " ".join(query.split())
    if len(q) < 2:
        raise InputError("type at least 2 characters", field="q")
    if len(q) > 100:
        raise InputError("at most 100 characters", field="q")
    digits = re.sub(r"\D", "", q)
    compact = q.replace(" ", "").upper()
    if REFERENCE.match(q):
        where: Any = Case.reference == q.upper()
    else:
        pattern = "%" + q.lower().replace("\\", "").replace("%", "").replace("_", "") + "%"
        conditions = [
            func.lower(Debtor.name).like(pattern),
            func.lower(Debtor.email) == q.lower(),
            func.upper(func.replace(Debtor.postcode, " ", "")) == compact,
            Case.id.in_(select(Claim.case_id).where(Claim.external_ref == q)),
        ]
        if len(digits) >= 6:
            conditions.append(Debtor.phone.like(f"%{digits[-9:]}"))
        where = or_(*conditions)
    with engine.begin() as conn:
        rows = conn.execute(
            select(
                Case.reference,
                Case.stage,
                Case.closed,
                Creditor.name.label("creditor"),
                Debtor.name,
                Debtor.city,
                person_key().label("person"),
            )
            .join(Debtor, Debtor.id == Case.debtor_id)
            .join(Creditor, Creditor.id == Case.creditor_id)
            .where(where)
            .order_by(Case.closed, Debtor.name, Case.id)
            .limit(limit)
        ).all()
        found = [dict(r._mapping) | {"person": int(r.person)} for r in rows]
        _audit_people(
            conn,
            [r["person"] for r in found],
            actor=actor,
            action="search_debtors",
            purpose="console search results",
            at=at,
            client=client,
        )
    return found


# --- the debtor-360 page ---------------------------------------------------------------


def _timeline(conn: Connection, case_ids: Sequence[int]) -> list[dict[str, Any]]:
    if not case_ids:
        return []
    rows = conn.execute(
        select(
            Event.business_date,
            Event.recorded_at,
            Event.actor,
            Event.kind,
            Event.reason,
            Case.reference,
        )
        .join(Case, Case.id == Event.case_id)
        .where(Event.case_id.in_(case_ids))
        .order_by(Event.id.desc())
        .limit(TIMELINE_LIMIT)
    )
    return [dict(r._mapping) for r in rows]


def _messages(conn: Connection, person: int) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(
            Message.business_date,
            Message.channel,
            Message.template,
            Message.status,
            Message.source,
            Message.case_ids,
        )
        .where(Message.person_id == person)
        .order_by(Message.id.desc())
        .limit(30)
    ).all()
    ids = sorted({int(c) for r in rows for c in r.case_ids})
    refs = dict(conn.execute(select(Case.id, Case.reference).where(Case.id.in_(ids))).all())
    return [
        dict(r._mapping) | {"cases": [refs.get(int(c), str(c)) for c in r.case_ids]} for r in rows
    ]


def _calls(conn: Connection, person: int) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(CallTask.id, CallTask.due_at, CallTask.status, CallTask.outcome, CallTask.agent)
        .where(CallTask.person_id == person)
        .order_by(CallTask.due_at.desc(), CallTask.id.desc())
        .limit(20)
    )
    return [dict(r._mapping) | {"due_at": as_utc(r.due_at)} for r in rows]


def vulnerability_notes(conn: Connection, person: int) -> list[dict[str, Any]]:
    """The person's notes without their text: kind, when, by whom, consent, case."""
    rows = conn.execute(
        select(
            SensitiveNote.id,
            SensitiveNote.kind,
            SensitiveNote.recorded_at,
            SensitiveNote.recorded_by,
            SensitiveNote.consent,
            Case.reference,
        )
        .outerjoin(Case, Case.id == SensitiveNote.case_id)
        .where(SensitiveNote.person_id == person)
        .order_by(SensitiveNote.recorded_at.desc(), SensitiveNote.id.desc())
    )
    return [dict(r._mapping) | {"recorded_at": as_utc(r.recorded_at)} for r in rows]


def debtor_page(
    engine: Engine,
    person: int,
    *,
    on: date,
    actor: Actor,
    at: datetime,
    client: str | None = None,
) -> dict[str, Any]:
    """Everything about one person on ``on``, read in one transaction with its audit entry."""
    require(actor, Permission.VIEW_DEBTOR)
    with engine.begin() as conn:
        if not person_exists(conn, person):
            raise InputError(f"no person {person}", field="person")
        view = debtor_360(conn, person, on=on)
        ids = debtor_ids_of_person(conn, person)
        case_ids = [
            int(c) for c in conn.execute(select(Case.id).where(Case.debtor_id.in_(ids))).scalars()
        ]
        view |= {
            "timeline": _timeline(conn, case_ids),
            "messages": _messages(conn, person),
            "calls": _calls(conn, person),
            "notes": vulnerability_notes(conn, person),
        }
        audit.record(
            conn,
            actor=actor.name,
            action="read_debtor_360",
            subject_type="debtor",
            subject_id=person,
            purpose="debtor-360 page",
            at=at,
            client=client,
        )
    return view


# --- the call queue -------------------------------------------------------------------


def call_queue(engine: Engine, *, limit: int = 100) -> list[dict[str, Any]]:
    """Open call tasks, the longest waiting first: case references and creditors, no names."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(CallTask.id, CallTask.due_at, CallTask.person_id, CallTask.case_ids)
            .where(CallTask.status == "open")
            .order_by(CallTask.due_at, CallTask.id)
            .limit(limit)
        ).all()
        ids = sorted({int(c) for r in rows for c in r.case_ids})
        info = {
            int(r.id): (r.reference, r.creditor)
            for r in conn.execute(
                select(Case.id, Case.reference, Creditor.name.label("creditor"))
                .join(Creditor, Creditor.id == Case.creditor_id)
                .where(Case.id.in_(ids))
            )
        }
    return [
        {
            "task": int(r.id),
            "due_at": as_utc(r.due_at),
            "person": int(r.person_id),
            "cases": [info.get(int(c), (str(c), "")) for c in r.case_ids],
        }
        for r in rows
    ]


def call_task(
    engine: Engine,
    task_id: int,
    *,
    on: date,
    actor: Actor,
    at: datetime,
    client: str | None = None,
) -> dict[str, Any] | None:
    """One call task with the person to call, their cases and the script; audited."""
    require(actor, Permission.WORK_QUEUE)
    with engine.begin() as conn:
        task = conn.execute(select(CallTask).where(CallTask.id == task_id)).first()
        if task is None:
            return None
        person = int(task.person_id)
        who = conn.execute(
            select(Debtor.name, Debtor.phone, Debtor.language, Debtor.timezone).where(
                Debtor.id == person
            )
        ).one()
        view = debtor_360(conn, person, on=on)
        refs = set(
            conn.execute(select(Case.reference).where(Case.id.in_(list(task.case_ids)))).scalars()
        )
        audit.record(
            conn,
            actor=actor.name,
            action="read_call_task",
            subject_type="debtor",
            subject_id=person,
            purpose=f"call task {task_id}",
            at=at,
            client=client,
        )
    return {
        "task": int(task.id),
        "status": task.status,
        "outcome": task.outcome,
        "agent": task.agent,
        "due_at": as_utc(task.due_at),
        "script": task.script,
        "person": person,
        "name": who.name,
        "phone": who.phone,
        "language": who.language,
        "timezone": who.timezone,
        "cases": [c for c in view["cases"] if c["reference"] in refs],
        "other_cases": [c for c in view["cases"] if c["reference"] not in refs and not c["closed"]],
        "total_debt": view["total_debt"],
    }


def call_person(engine: Engine, task_id: int) -> int | None:
    with engine.connect() as conn:
        found = conn.execute(select(CallTask.person_id).where(CallTask.id == task_id)).scalar()
    return None if found is None else int(found)


def work_counts(engine: Engine) -> dict[str, int]:
    """How much work waits: open call tasks and plan proposals to decide."""
    with engine.connect() as conn:
        calls = conn.execute(
            select(func.count()).select_from(CallTask).where(CallTask.status == "open")
        ).scalar_one()
        reviews = conn.execute(
            select(func.count()).select_from(Plan).where(Plan.status == "pending_review")
        ).scalar_one()
    return {"calls": int(calls), "reviews": int(reviews)}


# --- holds and plans within authority ----------------------------------------------------


def _hold_kind(kind: str) -> HoldKind:
    try:
        return HoldKind(kind)
    except ValueError:
        known = ", ".join(k.value for k in HoldKind)
        raise InputError(f"must be one of {known}", field="kind") from None


def place_hold(
    engine: Engine,
    reference: str,
    kind: str,
    *,
    reason: str,
    until: date | None,
    on: date,
    actor: Actor,
    at: datetime,
) -> dict[str, Any]:
    require(actor, Permission.PLACE_HOLD)
    if not reason.strip():
        raise InputError("say why the case is put on hold", field="reason")
    return cases.place_hold(
        engine,
        reference,
        _hold_kind(kind),
        on=on,
        actor=actor.name,
        reason=reason.strip()[:2000],
        until=until,
        at=at,
    )


def lift_hold(
    engine: Engine, reference: str, kind: str, *, reason: str, on: date, actor: Actor, at: datetime
) -> dict[str, Any]:
    require(actor, Permission.LIFT_HOLD)
    if not reason.strip():
        raise InputError("say why the hold is lifted", field="reason")
    return cases.lift_hold(
        engine,
        reference,
        _hold_kind(kind),
        on=on,
        actor=actor.name,
        reason=reason.strip()[:2000],
        at=at,
    )


def propose_plan(
    engine: Engine,
    reference: str,
    *,
    instalment_cents: int,
    all_cases: bool,
    payday: int | None,
    on: date,
    actor: Actor,
    at: datetime,
) -> dict[str, Any]:
    """A plan proposed by a user: refused above the user's plan limit.

    The limit is checked against the plan's total as :func:`plans.offer` computes it for
    the same cases on the same day (what :func:`plans.propose` will store). Within policy
    the plan starts at once; outside policy it waits for a supervisor.
    """
    require(actor, Permission.PROPOSE_PLAN)
    if payday is not None and not 1 <= payday <= 28:
        raise InputError("a payday between 1 and 28", field="payday")
    offer = plans.offer(engine, reference, on=on, all_cases=all_cases, payday=payday)
    currency = _currency_of_case(engine, reference)
    total = _cents(offer["total"], currency)
    require_plan_proposal(actor, total, currency)
    return plans.propose(
        engine,
        reference,
        on=on,
        instalment_cents=instalment_cents,
        at=at,
        proposed_by=actor.name,
        all_cases=all_cases,
        payday=payday,
    )


def _cents(amount: str, currency: str) -> int:
    return Money.of(amount, currency).minor_units


def _currency_of_case(engine: Engine, reference: str) -> str:
    with engine.connect() as conn:
        found = conn.execute(
            select(Creditor.currency)
            .join(Case, Case.creditor_id == Creditor.id)
            .where(Case.reference == reference)
        ).scalar()
    return str(found or "EUR")


def pending_plans(
    engine: Engine, *, actor: Actor, at: datetime, client: str | None = None
) -> list[dict[str, Any]]:
    """Plan proposals waiting for a decision: references, amounts, the policy's reasons.

    No names, but a person's debts and budget reasons: each person shown is audited."""
    require(actor, Permission.DECIDE_PLAN)
    with engine.begin() as conn:
        rows = conn.execute(
            select(Plan).where(Plan.status == "pending_review").order_by(Plan.id)
        ).all()
        shares: dict[int, list[tuple[str, str]]] = defaultdict(list)
        for r in conn.execute(
            select(PlanCase.plan_id, Case.reference, Creditor.name)
            .join(Case, Case.id == PlanCase.case_id)
            .join(Creditor, Creditor.id == Case.creditor_id)
            .where(PlanCase.plan_id.in_([p.id for p in rows]))
            .order_by(PlanCase.plan_id, Case.id)
        ):
            shares[int(r.plan_id)].append((r.reference, r.name))
        _audit_people(
            conn,
            [int(p.debtor_id) for p in rows],
            actor=actor,
            action="read_plan_reviews",
            purpose="plan reviews page",
            at=at,
            client=client,
        )
    return [
        {
            "plan": int(p.id),
            "person": int(p.debtor_id),
            "created_on": p.created_on,
            "months": int(p.months),
            "instalment_cents": int(p.instalment_cents),
            "total_cents": int(p.total_cents),
            "currency": p.currency,
            "proposed_by": p.proposed_by,
            "reasons": p.reason,
            "cases": shares[int(p.id)],
        }
        for p in rows
    ]


def decide_plan(
    engine: Engine,
    plan_id: int,
    *,
    approve: bool,
    reason: str,
    on: date,
    actor: Actor,
    at: datetime,
) -> dict[str, Any]:
    """Approve or reject a proposal; both need the plan's total within the user's limit."""
    with engine.connect() as conn:
        plan = conn.execute(
            select(Plan.total_cents, Plan.currency, Plan.status).where(Plan.id == plan_id)
        ).first()
    if plan is None:
        raise InputError(f"no plan {plan_id}", field="plan")
    require_plan_decision(actor, int(plan.total_cents), plan.currency)
    if approve:
        return plans.approve_plan(engine, plan_id, on=on, actor=actor.name, at=at)
    return plans.reject_plan(engine, plan_id, on=on, actor=actor.name, reason=reason, at=at)


# --- vulnerability --------------------------------------------------------------------


def record_vulnerability(
    engine: Engine,
    person: int,
    text: str,
    *,
    consent: bool,
    hold: bool,
    on: date,
    actor: Actor,
    at: datetime,
    client: str | None = None,
) -> dict[str, Any]:
    """Seal and store a vulnerability note; optionally put the person's open cases on a
    ``vulnerability_review`` hold. The timeline says *that* a note was made, never what."""
    require(actor, Permission.RECORD_VULNERABILITY)
    body = text.strip()
    if not body:
        raise InputError("write down what you noticed", field="text")
    if len(body) > NOTE_MAX:
        raise InputError(f"at most {NOTE_MAX} characters", field="text")
    sealed = seal(body)
    held: list[str] = []
    with engine.begin() as conn:
        if not person_exists(conn, person):
            raise InputError(f"no person {person}", field="person")
        open_ids = open_case_ids_of_person(conn, person)
        note_id = conn.execute(
            insert(SensitiveNote)
            .values(
                person_id=person,
                case_id=None,  # about the person, whichever creditor's case
                kind="vulnerability",
                ciphertext=sealed,
                consent=consent,
                recorded_at=at,
                recorded_by=actor.name,
            )
            .returning(SensitiveNote.id)
        ).scalar_one()
        if open_ids:
            conn.execute(
                insert(Event),
                [
                    event_row(
                        c,
                        on,
                        at,
                        actor.name,
                        "vulnerability_recorded",
                        "vulnerability recorded (details restricted)",
                        {"note": int(note_id), "consent": consent},
                    )
                    for c in open_ids
                ],
            )
        if hold:
            held = _hold_for_review(conn, open_ids, on=on, actor=actor, at=at)
        audit.record(
            conn,
            actor=actor.name,
            action="record_vulnerability",
            subject_type="debtor",
            subject_id=person,
            purpose=f"vulnerability note {note_id}",
            at=at,
            client=client,
        )
    return {"note": int(note_id), "held": held}


def _hold_for_review(
    conn: Connection, case_ids: Sequence[int], *, on: date, actor: Actor, at: datetime
) -> list[str]:
    kind = HoldKind.VULNERABILITY_REVIEW
    under_review = select(Hold.case_id).where(
        Hold.kind == kind.value, Hold.start <= on, or_(Hold.until.is_(None), Hold.until >= on)
    )
    refs = list(
        conn.execute(
            select(Case.reference)
            .where(Case.id.in_(list(case_ids)), Case.id.not_in(under_review))
            .order_by(Case.id)
        ).scalars()
    )
    for ref in refs:
        cases.place_hold_in(
            conn,
            ref,
            kind,
            on=on,
            actor=actor.name,
            reason="vulnerability noticed: review before collecting further",
            at=at,
        )
    return refs


def read_vulnerability(
    engine: Engine,
    note_id: int,
    *,
    reason: str,
    detail: str = "",
    actor: Actor,
    at: datetime,
    client: str | None = None,
) -> dict[str, Any]:
    """Open a note's text for a compliance officer with a stated reason; audited first."""
    require(actor, Permission.READ_VULNERABILITY)
    if reason not in READ_REASONS:
        raise InputError("choose why you open the note", field="reason")
    why = READ_REASONS[reason]
    if reason == "other":
        if len(detail.strip()) < 5:
            raise InputError("write down why you open the note", field="detail")
        why = f"other: {detail.strip()[:300]}"
    with engine.begin() as conn:
        note = conn.execute(select(SensitiveNote).where(SensitiveNote.id == note_id)).first()
        if note is None:
            raise InputError(f"no note {note_id}", field="note")
        audit.record(
            conn,
            actor=actor.name,
            action="read_vulnerability",
            subject_type="debtor",
            subject_id=int(note.person_id),
            purpose=f"vulnerability note {note_id}: {why}",
            at=at,
            client=client,
        )
    try:
        text = open_sealed(note.ciphertext)
    except DecryptionError as exc:
        raise NotAllowed(
            "the note cannot be opened with the configured data key; ask the administrator"
        ) from exc
    return {
        "note": int(note.id),
        "person": int(note.person_id),
        "kind": note.kind,
        "recorded_at": as_utc(note.recorded_at),
        "recorded_by": note.recorded_by,
        "consent": bool(note.consent),
        "text": text,
        "reason": why,
    }


# --- creditor dashboard ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Figure:
    count: int
    cents: int


@dataclass(frozen=True, slots=True)
class Dashboard:
    creditor_id: int
    name: str
    currency: str
    on: date
    placed: Figure  # cases handed over up to ``on``; the principal they carried
    collected: Figure  # payments received up to ``on`` net of reversals (count: payments)
    open: Figure  # open cases and what they still owe (principal + interest + costs)
    in_plan: Figure  # open cases in an active plan
    on_hold: Figure  # open cases with a hold active on ``on``
    closed: int
    by_stage: tuple[tuple[str, int, int], ...]  # open cases per stage: (stage, count, cents)


def creditors(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [
            dict(r._mapping)
            for r in conn.execute(
                select(Creditor.id, Creditor.name, Creditor.currency).order_by(Creditor.name)
            )
        ]


def creditor_dashboard(engine: Engine, creditor_id: int, *, on: date) -> Dashboard | None:
    """Placed, collected, open, in plan and on hold for one creditor on ``on``, in cents."""
    with engine.connect() as conn:
        creditor = conn.execute(
            select(Creditor.name, Creditor.currency).where(Creditor.id == creditor_id)
        ).first()
        if creditor is None:
            return None
        per_case = (
            select(
                Claim.case_id,
                func.sum(Claim.principal_cents).label("principal"),
                func.sum(
                    Claim.open_principal_cents + Claim.open_interest_cents + Claim.open_costs_cents
                ).label("open"),
            )
            .where(Claim.creditor_id == creditor_id)
            .group_by(Claim.case_id)
            .subquery()
        )
        in_plan = (
            select(PlanCase.case_id)
            .join(Plan, Plan.id == PlanCase.plan_id)
            .where(Plan.status == "active")
        )
        on_hold = select(Hold.case_id).where(
            Hold.start <= on, or_(Hold.until.is_(None), Hold.until >= on)
        )
        is_open = Case.closed.is_(False)
        planned = and_(is_open, Case.id.in_(in_plan))
        held = and_(is_open, Case.id.in_(on_hold))

        def count_if(cond: Any) -> Any:
            return func.sum(case((cond, 1), else_=0))

        def cents_if(cond: Any) -> Any:
            return func.sum(case((cond, per_case.c.open), else_=0))

        row = conn.execute(
            select(
                func.count(),
                func.coalesce(func.sum(per_case.c.principal), 0),
                count_if(is_open),
                cents_if(is_open),
                count_if(planned),
                cents_if(planned),
                count_if(held),
                cents_if(held),
                count_if(Case.closed.is_(True)),
            )
            .select_from(Case)
            .join(per_case, per_case.c.case_id == Case.id)
            .where(Case.creditor_id == creditor_id, Case.opened_on <= on)
        ).one()
        stages = conn.execute(
            select(Case.stage, func.count(), func.coalesce(func.sum(per_case.c.open), 0))
            .join(per_case, per_case.c.case_id == Case.id)
            .where(Case.creditor_id == creditor_id, Case.opened_on <= on, is_open)
            .group_by(Case.stage)
            .order_by(Case.stage)
        ).all()
        amount = Event.after["amount_cents"].as_integer()
        money = conn.execute(
            select(
                Event.kind,
                func.count(),
                func.coalesce(func.sum(amount), 0),
            )
            .join(Case, Case.id == Event.case_id)
            .where(
                Event.kind.in_(("payment_received", "payment_reversed")),
                Event.business_date <= on,
                Case.creditor_id == creditor_id,
            )
            .group_by(Event.kind)
        ).all()
    got = {kind: (int(n), int(c)) for kind, n, c in money}
    received = got.get("payment_received", (0, 0))
    reversed_ = got.get("payment_reversed", (0, 0))
    n = [int(v or 0) for v in row]
    return Dashboard(
        creditor_id=creditor_id,
        name=creditor.name,
        currency=creditor.currency,
        on=on,
        placed=Figure(n[0], n[1]),
        collected=Figure(received[0] - reversed_[0], received[1] - reversed_[1]),
        open=Figure(n[2], n[3]),
        in_plan=Figure(n[4], n[5]),
        on_hold=Figure(n[6], n[7]),
        closed=n[8],
        by_stage=tuple((str(s), int(c), int(v)) for s, c, v in stages),
    )


# --- social report --------------------------------------------------------------------


def report_sections(report: Report) -> list[dict[str, Any]]:
    """The report's figures for its primary scope, section by section, each with its
    definition, formatted as the PDF report formats them."""
    out = []
    for title in SECTIONS:
        rows = []
        for m in METRICS:
            if m.section != title:
                continue
            figures = report.figures_of(m.id)
            if m.unit is Unit.MONEY:
                shown = [format_figure(f) for f in figures if f.value]
                value = " · ".join(shown) if shown else "0"
            else:
                value = format_figure(figures[0]) if figures else "—"
            part = figures[0] if figures and m.unit is Unit.PERCENT else None
            rows.append(
                {
                    "id": m.id,
                    "title": m.title.lstrip("… "),
                    "sub": m.title.startswith("…"),
                    "value": value,
                    "note": f"{part.part or 0:,} of {part.whole or 0:,}" if part else "",
                    "definition": m.definition,
                    # `backticked` words are event kinds and fields: shown as code
                    "definition_parts": [
                        (chunk, i % 2 == 1) for i, chunk in enumerate(m.definition.split("`"))
                    ],
                }
            )
        out.append({"title": title, "rows": rows})
    return out


# --- the audit log --------------------------------------------------------------------


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


def audit_log(
    engine: Engine,
    *,
    since: date | None,
    until: date | None,
    actor_filter: str | None,
    subject: str | None,
    actor: Actor,
    at: datetime,
    client: str | None = None,
    limit: int = AUDIT_PAGE,
) -> list[dict[str, Any]]:
    """The newest audit entries matching the filters; the reading is itself audited."""
    require(actor, Permission.VIEW_AUDIT)
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if since is not None:
        query = query.where(AuditEntry.at >= _day_start(since))
    if until is not None:
        query = query.where(AuditEntry.at < _day_start(until + timedelta(days=1)))
    if actor_filter:
        query = query.where(AuditEntry.actor == actor_filter.strip())
    if subject:
        kind, _, ident = subject.strip().partition(":")
        if not ident:
            raise InputError("a subject as type:id, e.g. debtor:42", field="subject")
        query = query.where(AuditEntry.subject_type == kind, AuditEntry.subject_id == ident)
    with engine.begin() as conn:
        # Recorded first: the reader sees their own reading at the top of the page.
        audit.record(
            conn,
            actor=actor.name,
            action="read_audit_log",
            subject_type="audit_log",
            subject_id=subject or "all",
            purpose=_filters(since, until, actor_filter, subject) or "audit log page",
            at=at,
            client=client,
        )
        rows = [dict(r._mapping) | {"at": as_utc(r.at)} for r in conn.execute(query)]
    return rows


def _filters(since: date | None, until: date | None, actor: str | None, subject: str | None) -> str:
    parts = [
        f"from {since.isoformat()}" if since else "",
        f"to {until.isoformat()}" if until else "",
        f"actor {actor}" if actor else "",
        f"subject {subject}" if subject else "",
    ]
    return "audit log: " + ", ".join(p for p in parts if p) if any(parts) else ""


def export_audit(
    engine: Engine,
    *,
    since: date | None,
    until: date | None,
    actor: Actor | str,
    at: datetime,
    client: str | None = None,
) -> tuple[str, int]:
    """The audit log (of a period) as CSV and its number of entries; the export is
    recorded before it is read, so it is in the file itself."""
    name = actor if isinstance(actor, str) else actor.name
    if isinstance(actor, Actor):
        require(actor, Permission.EXPORT_AUDIT)
    with engine.begin() as conn:
        audit.record(
            conn,
            actor=name,
            action="export_audit_log",
            subject_type="audit_log",
            subject_id="all",
            purpose=_filters(since, until, None, None) or "audit log export",
            at=at,
            client=client,
        )
        rows = audit.entries(
            conn,
            since=_day_start(since) if since else None,
            until=_day_start(until + timedelta(days=1)) if until else None,
        )
    return audit.export_csv(rows), len(rows)
