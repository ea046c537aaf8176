"""Payment arrangements: offer, propose, approve, defer, re-plan, follow up, pay.

A plan covers one case or all of a person's open cases with every creditor (a
*coordinated* plan): the debtor pays one monthly amount, shared pro rata by outstanding
principal (:mod:`respite.domain.distribution`); each case's share is stored per month as
``instalments`` rows. The pure rules (options, policy checks, what to do about a missed
instalment) live in :mod:`respite.domain.plans`; this module loads, stores and writes the
events.

While a plan runs the cases are in the ``arrangement`` stage and, when every creditor's
policy says so, their interest is frozen (``cases.interest_frozen``; the cycle accrues
nothing for them). Costs are never charged again: a plan or re-plan writes no cost entry.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, func, insert, select, update

from respite.adapters.db.models import (
    BudgetStatement,
    Case,
    Claim,
    Creditor,
    Event,
    Hold,
    Instalment,
    LedgerEntry,
    OutboxMessage,
    Plan,
    PlanCase,
)
from respite.domain.distribution import coordinated_schedule
from respite.domain.lifecycle import HoldKind, Stage
from respite.domain.money import Currency, Money
from respite.domain.plans import (
    FollowUp,
    PlanPolicy,
    Route,
    add_months,
    evaluate_deferral,
    evaluate_proposal,
    first_due_date,
    follow_up,
    plan_options,
)
from respite.errors import ConflictError, InputError, NotAllowed
from respite.services.cases import move_case_in, place_hold_in
from respite.services.people import debtor_ids_of_person, person_of
from respite.services.store import event_row, outbox_row, post_accrued_interest, queue_outbox

__all__ = [
    "approve_plan",
    "book_plan_payment",
    "defer",
    "follow_up_plans",
    "offer",
    "plan_summary",
    "propose",
    "reject_plan",
    "replan",
]

ACTIVE = "active"
DEFAULTS = PlanPolicy()
LIVE_STATUSES = ("active", "pending_review")


def _cents(v: int, currency: str = "EUR") -> str:
    return str(Money.from_minor_units(v, Currency.of(currency)).amount)


@dataclass
class _CaseDebt:
    case_id: int
    reference: str
    creditor: str
    currency: str
    stage: str
    principal: int
    balance: int
    policy: PlanPolicy


@dataclass
class _Position:
    person: int
    debtor_ids: list[int]
    cases: list[_CaseDebt]
    capacity: int | None
    statement_id: int | None

    @property
    def total(self) -> int:
        return sum(c.balance for c in self.cases)

    @property
    def policy(self) -> PlanPolicy:
        return PlanPolicy.strictest([c.policy for c in self.cases])


_CASE_BY_REFERENCE = select(Case.id, Case.debtor_id, Case.closed).where(
    Case.reference == bindparam("reference")
)


def _case_id(conn: Connection, reference: str) -> tuple[int, int]:
    row = conn.execute(_CASE_BY_REFERENCE, {"reference": reference}).first()
    if row is None:
        raise InputError(f"no case with reference {reference!r}", field="CASE_REF")
    if row.closed:
        raise NotAllowed(f"case {reference} is closed; there is nothing to arrange")
    return int(row.id), int(row.debtor_id)


def _position_query(*where: Any) -> Any:
    sums = (
        select(
            Claim.case_id,
            func.min(Claim.currency).label("currency"),
            func.sum(Claim.open_principal_cents).label("principal"),
            func.sum(
                Claim.open_principal_cents
                + Claim.open_interest_cents
                + Claim.open_costs_cents
                + Claim.interest_carry_micros // 1_000_000
            ).label("balance"),
        )
        .where(Claim.case_id.in_(select(Case.id).where(*where)))
        .group_by(Claim.case_id)
        .subquery()
    )
    return (
        select(
            Case.id,
            Case.reference,
            Case.stage,
            Creditor.name,
            Creditor.policy,
            sums.c.currency,
            sums.c.principal,
            sums.c.balance,
        )
        .join(Creditor, Creditor.id == Case.creditor_id)
        .join(sums, sums.c.case_id == Case.id)
        .where(*where)
        .order_by(Case.id)
    )


# Built once: the portal's plan page asks for a position on every view, and building these
# expressions cost more than running them.
_POSITION_ALL = _position_query(
    Case.debtor_id.in_(bindparam("debtors", expanding=True)), Case.closed.is_(False)
)
_POSITION_ONE = _position_query(Case.id == bindparam("case"))
_LATEST_STATEMENT = (
    select(BudgetStatement.id, BudgetStatement.capacity_cents)
    .where(BudgetStatement.debtor_id.in_(bindparam("debtors", expanding=True)))
    .order_by(BudgetStatement.submitted_on.desc(), BudgetStatement.id.desc())
    .limit(1)
)


def _position(
    conn: Connection, reference: str, *, all_cases: bool, capacity_cents: int | None
) -> _Position:
    case_id, debtor_id = _case_id(conn, reference)
    person = person_of(conn, debtor_id)
    ids = debtor_ids_of_person(conn, person)
    if all_cases:
        rows = conn.execute(_POSITION_ALL, {"debtors": ids}).all()
    else:
        rows = conn.execute(_POSITION_ONE, {"case": case_id}).all()
    cases = [
        _CaseDebt(
            int(r.id),
            r.reference,
            r.name,
            r.currency,
            r.stage,
            int(r.principal or 0),
            int(r.balance or 0),
            PlanPolicy.from_policy(r.policy),
        )
        for r in rows
        if int(r.balance or 0) > 0
    ]
    if not cases:
        raise NotAllowed("nothing is owed on the case(s): no plan is needed")
    currencies = {c.currency for c in cases}
    if len(currencies) > 1:
        raise NotAllowed(
            f"the cases are in different currencies ({', '.join(sorted(currencies))}); "
            "arrange them separately"
        )
    statement = conn.execute(_LATEST_STATEMENT, {"debtors": ids}).first()
    capacity = capacity_cents
    if capacity is None and statement is not None:
        capacity = int(statement.capacity_cents)
    return _Position(
        person, ids, cases, capacity, int(statement.id) if statement is not None else None
    )


def offer(
    engine: Engine,
    reference: str,
    *,
    on: date,
    all_cases: bool = False,
    capacity_cents: int | None = None,
    payday: int | None = None,
) -> dict[str, Any]:
    """The plans the debtor can choose from, each within policy and within capacity."""
    with engine.connect() as conn:
        pos = _position(conn, reference, all_cases=all_cases, capacity_cents=capacity_cents)
    policy = pos.policy
    first = first_due_date(on, payday, policy.min_days_to_first_due)
    cur = pos.cases[0].currency
    options = plan_options(pos.total, capacity_cents=pos.capacity, policy=policy, first_due=first)
    return {
        "cases": [
            {
                "reference": c.reference,
                "creditor": c.creditor,
                "principal": _cents(c.principal, cur),
                "balance": _cents(c.balance, cur),
            }
            for c in pos.cases
        ],
        "total": _cents(pos.total, cur),
        "capacity": None if pos.capacity is None else _cents(pos.capacity, cur),
        "policy": {
            "max_months": policy.max_months,
            "min_instalment": _cents(policy.min_instalment_cents, cur),
            "interest_frozen": policy.freeze_interest,
        },
        "options": [
            {
                "label": o.label,
                "months": o.months,
                "instalment": _cents(o.instalment_cents, cur),
                "last_instalment": _cents(o.last_instalment_cents, cur),
                "total": _cents(o.total_cents, cur),
                "discount": _cents(o.discount_cents, cur),
                "first_due": o.first_due.isoformat(),
                "interest_frozen": o.interest_frozen,
            }
            for o in options
        ],
        "advice": (
            None
            if options
            else "no plan fits the policy and the capacity: an agent should call, and debt "
            "counselling may be the better route"
        ),
    }


def _post_interest_now(conn: Connection, case_ids: Sequence[int], on: date) -> None:
    """Post whole cents of carried interest so the plan total equals the ledger balance."""
    rows = [
        dict(r._mapping)
        for r in conn.execute(
            select(Claim).where(Claim.case_id.in_(case_ids), Claim.interest_carry_micros > 0)
        )
    ]
    for claim in rows:
        entry = post_accrued_interest(claim, on, "interest up to the start of the plan")
        if entry is None:
            continue
        conn.execute(insert(LedgerEntry).values(**entry))
        conn.execute(
            update(Claim)
            .where(Claim.id == claim["id"])
            .values(
                interest_carry_micros=claim["interest_carry_micros"],
                open_interest_cents=claim["open_interest_cents"],
                interest_year_cents=claim["interest_year_cents"],
                last_seq=claim["last_seq"],
            )
        )


def _live_plan_of(conn: Connection, case_ids: Sequence[int]) -> int | None:
    row = conn.execute(
        select(Plan.id)
        .join(PlanCase, PlanCase.plan_id == Plan.id)
        .where(PlanCase.case_id.in_(case_ids), Plan.status.in_(LIVE_STATUSES))
        .limit(1)
    ).first()
    return None if row is None else int(row.id)


def propose(
    engine: Engine,
    reference: str,
    *,
    on: date,
    instalment_cents: int,
    at: datetime,
    proposed_by: str,
    all_cases: bool = False,
    payday: int | None = None,
    capacity_cents: int | None = None,
    replaces: int | None = None,
) -> dict[str, Any]:
    """A plan proposal: active at once within policy, else queued for an agent.

    The monthly amount is shared over the cases pro rata by principal; each case gets its
    own monthly instalments. The statement the capacity came from travels with a review.
    """
    with engine.begin() as conn:
        return _propose(
            conn,
            reference,
            on=on,
            instalment_cents=instalment_cents,
            at=at,
            proposed_by=proposed_by,
            all_cases=all_cases,
            payday=payday,
            capacity_cents=capacity_cents,
            replaces=replaces,
        )


def _propose(
    conn: Connection,
    reference: str,
    *,
    on: date,
    instalment_cents: int,
    at: datetime,
    proposed_by: str,
    all_cases: bool,
    payday: int | None,
    capacity_cents: int | None,
    replaces: int | None,
) -> dict[str, Any]:
    if not proposed_by.strip():
        raise InputError("say who proposes the plan", field="--actor")
    if instalment_cents <= 0:
        raise InputError("the instalment must be a positive amount", field="--instalment")
    pos = _position(conn, reference, all_cases=all_cases, capacity_cents=capacity_cents)
    case_ids = [c.case_id for c in pos.cases]
    existing = _live_plan_of(conn, case_ids)
    if existing is not None and existing != replaces:
        raise ConflictError(
            f"plan {existing} already covers one of these cases; re-plan it instead"
        )
    _post_interest_now(conn, case_ids, on)
    pos = _position(conn, reference, all_cases=all_cases, capacity_cents=capacity_cents)
    policy = pos.policy
    cur = pos.cases[0].currency
    first = first_due_date(on, payday, policy.min_days_to_first_due)
    # Within a schedule each month asks exactly the instalment; compute it with a ceiling
    # wide enough to report a too-long plan as such instead of failing.
    schedule = coordinated_schedule(
        instalment_cents,
        [c.reference for c in pos.cases],
        [c.principal for c in pos.cases],
        [c.balance for c in pos.cases],
        max_months=max(600, policy.max_months),
    )
    shares = dict(schedule[0].amounts)
    decision = evaluate_proposal(
        total_cents=pos.total,
        instalment_cents=min(instalment_cents, pos.total),
        policy=policy,
        capacity_cents=pos.capacity,
        share_cents=shares,
        case_minimums={c.reference: c.policy.min_instalment_cents for c in pos.cases}
        if len(pos.cases) > 1
        else None,
    )
    if len(schedule) > policy.max_months and not any("longer" in r for r in decision.reasons):
        decision = type(decision)(
            Route.REVIEW,
            (*decision.reasons, f"{len(schedule)} months is longer than the policy allows"),
        )
    status = ACTIVE if decision.route is Route.ACCEPT else "pending_review"
    plan_id = int(
        conn.execute(
            insert(Plan)
            .values(
                debtor_id=pos.person,
                status=status,
                created_on=on,
                first_due=first,
                months=len(schedule),
                instalment_cents=min(instalment_cents, pos.total),
                total_cents=pos.total,
                currency=cur,
                interest_frozen=policy.freeze_interest,
                misses=0,
                max_misses=policy.max_misses,
                statement_id=pos.statement_id,
                replaces_plan_id=replaces,
                proposed_by=proposed_by,
                decided_by="policy" if status == ACTIVE else None,
                reason="; ".join(decision.reasons),
            )
            .returning(Plan.id)
        ).scalar_one()
    )
    per_case: dict[str, int] = defaultdict(int)
    instalments = []
    by_ref = {c.reference: c for c in pos.cases}
    for month in schedule:
        due = add_months(first, month.index)
        for ref, cents in month.amounts.items():
            per_case[ref] += cents
            instalments.append(
                {
                    "case_id": by_ref[ref].case_id,
                    "plan_id": plan_id,
                    "due_date": due,
                    "amount_cents": cents,
                    "paid_cents": 0,
                    "status": "open" if status == ACTIVE else "proposed",
                }
            )
    conn.execute(
        insert(PlanCase),
        [
            {
                "plan_id": plan_id,
                "case_id": c.case_id,
                "share_cents": shares.get(c.reference, 0),
                "total_cents": per_case[c.reference],
            }
            for c in pos.cases
        ],
    )
    conn.execute(insert(Instalment), instalments)
    summary = {
        "plan": plan_id,
        "status": status,
        "months": len(schedule),
        "instalment": _cents(min(instalment_cents, pos.total), cur),
        "total": _cents(pos.total, cur),
        "first_due": first.isoformat(),
        "interest_frozen": policy.freeze_interest,
        "shares": {ref: _cents(v, cur) for ref, v in shares.items()},
        "review_reasons": list(decision.reasons),
    }
    if status == ACTIVE:
        _activate(conn, plan_id, on=on, at=at, actor=proposed_by, replaces=replaces)
    else:
        anchor = pos.cases[0].case_id
        conn.execute(
            insert(OutboxMessage).values(
                **outbox_row(
                    anchor,
                    on,
                    "review",
                    "agent",
                    "plan_review",
                    f"plan-review:{plan_id}",
                    {
                        "plan": plan_id,
                        "statement": pos.statement_id,
                        "reasons": list(decision.reasons),
                    },
                )
            )
        )
        conn.execute(
            insert(Event),
            [
                event_row(
                    c.case_id,
                    on,
                    at,
                    proposed_by,
                    "plan_proposed",
                    "plan proposal outside policy: an agent decides",
                    {"plan": plan_id, "reasons": "; ".join(decision.reasons)},
                )
                for c in pos.cases
            ],
        )
    return summary


def _activate(
    conn: Connection, plan_id: int, *, on: date, at: datetime, actor: str, replaces: int | None
) -> None:
    plan = conn.execute(select(Plan).where(Plan.id == plan_id)).one()
    cases = conn.execute(
        select(Case.id, Case.reference, Case.stage)
        .join(PlanCase, PlanCase.case_id == Case.id)
        .where(PlanCase.plan_id == plan_id)
        .order_by(Case.id)
    ).all()
    if replaces is not None:
        _end_plan(conn, replaces, "superseded", on=on, at=at, actor=actor, reason="re-planned")
    for c in cases:
        if c.stage != Stage.ARRANGEMENT.value:
            move_case_in(
                conn,
                c.reference,
                Stage.ARRANGEMENT,
                on=on,
                actor=actor,
                reason=f"payment plan {plan_id} agreed",
                at=at,
            )
    conn.execute(
        update(Instalment)
        .where(Instalment.plan_id == plan_id, Instalment.status == "proposed")
        .values(status="open")
    )
    conn.execute(update(Plan).where(Plan.id == plan_id).values(status=ACTIVE))
    if plan.interest_frozen:
        conn.execute(
            update(Case).where(Case.id.in_([c.id for c in cases])).values(interest_frozen=True)
        )
    conn.execute(
        insert(Event),
        [
            event_row(
                c.id,
                on,
                at,
                actor,
                "plan_started",
                "payment plan active"
                + ("; interest frozen while the plan is kept" if plan.interest_frozen else ""),
                {
                    "plan": plan_id,
                    "months": plan.months,
                    "instalment": _cents(plan.instalment_cents, plan.currency),
                    "first_due": plan.first_due.isoformat(),
                    "interest_frozen": bool(plan.interest_frozen),
                },
            )
            for c in cases
        ],
    )


def _end_plan(
    conn: Connection, plan_id: int, status: str, *, on: date, at: datetime, actor: str, reason: str
) -> list[int]:
    """End a plan: cancel what is still to come; return its case ids."""
    conn.execute(
        update(Instalment)
        .where(Instalment.plan_id == plan_id, Instalment.status.in_(("open", "proposed")))
        .values(status="cancelled")
    )
    conn.execute(update(Plan).where(Plan.id == plan_id).values(status=status))
    case_ids = [
        int(r)
        for r in conn.execute(select(PlanCase.case_id).where(PlanCase.plan_id == plan_id)).scalars()
    ]
    conn.execute(
        insert(Event),
        [
            event_row(cid, on, at, actor, f"plan_{status}", reason, {"plan": plan_id})
            for cid in case_ids
        ],
    )
    return case_ids


def _plan_row(conn: Connection, plan_id: int) -> Any:
    row = conn.execute(select(Plan).where(Plan.id == plan_id)).first()
    if row is None:
        raise InputError(f"no plan with id {plan_id}", field="PLAN_ID")
    return row


def _pending_review(conn: Connection, plan_id: int) -> Any:
    plan = _plan_row(conn, plan_id)
    if plan.status != "pending_review":
        raise ConflictError(f"plan {plan_id} is {plan.status}, not waiting for review")
    return plan


def _close_review(conn: Connection, plan_id: int) -> None:
    """The agent's review item for a proposal is done once it is decided."""
    conn.execute(
        update(OutboxMessage)
        .where(OutboxMessage.dedupe_key == f"plan-review:{plan_id}")
        .values(status="done")
    )


def approve_plan(
    engine: Engine, plan_id: int, *, on: date, actor: str, at: datetime
) -> dict[str, Any]:
    """An agent approves a proposal that was outside policy."""
    with engine.begin() as conn:
        plan = _pending_review(conn, plan_id)
        if not actor.strip():
            raise InputError("say who approves the plan", field="--actor")
        conn.execute(update(Plan).where(Plan.id == plan_id).values(decided_by=actor))
        _activate(conn, plan_id, on=on, at=at, actor=actor, replaces=plan.replaces_plan_id)
        _close_review(conn, plan_id)
    return {"plan": plan_id, "status": ACTIVE, "approved_by": actor}


def reject_plan(
    engine: Engine, plan_id: int, *, on: date, actor: str, reason: str, at: datetime
) -> dict[str, Any]:
    """An agent turns a proposal down, with the reason the debtor will hear."""
    if not reason.strip():
        raise InputError("give the reason the debtor will be told", field="--reason")
    with engine.begin() as conn:
        _pending_review(conn, plan_id)
        conn.execute(update(Plan).where(Plan.id == plan_id).values(decided_by=actor))
        _end_plan(conn, plan_id, "rejected", on=on, at=at, actor=actor, reason=reason)
        _close_review(conn, plan_id)
    return {"plan": plan_id, "status": "rejected"}


def replan(
    engine: Engine,
    plan_id: int,
    *,
    on: date,
    instalment_cents: int,
    at: datetime,
    actor: str,
    payday: int | None = None,
    capacity_cents: int | None = None,
) -> dict[str, Any]:
    """A new schedule for what is still owed on a plan's cases; never new costs."""
    with engine.begin() as conn:
        plan = _plan_row(conn, plan_id)
        if plan.status not in (ACTIVE, "broken"):
            raise ConflictError(
                f"plan {plan_id} is {plan.status}; only a running or broken plan is re-planned"
            )
        refs = (
            conn.execute(
                select(Case.reference)
                .join(PlanCase, PlanCase.case_id == Case.id)
                .where(PlanCase.plan_id == plan_id, Case.closed.is_(False))
                .order_by(Case.id)
            )
            .scalars()
            .all()
        )
        if not refs:
            raise NotAllowed(f"every case of plan {plan_id} is closed")
        return _propose(
            conn,
            refs[0],
            on=on,
            instalment_cents=instalment_cents,
            at=at,
            proposed_by=actor,
            all_cases=len(refs) > 1,
            payday=payday,
            capacity_cents=capacity_cents,
            replaces=plan_id if plan.status == ACTIVE else None,
        )


def defer(
    engine: Engine,
    reference: str,
    *,
    on: date,
    days: int,
    actor: str,
    reason: str,
    at: datetime,
) -> dict[str, Any]:
    """A temporary postponement: a deferral hold (interest and contact stop) within policy.

    Instalments of a running plan that fall inside the deferral move back by its length,
    so the debtor is not reminded of an instalment that was postponed.
    """
    with engine.begin() as conn:
        case_id, _ = _case_id(conn, reference)
        policy = PlanPolicy.from_policy(
            conn.execute(
                select(Creditor.policy)
                .join(Case, Case.creditor_id == Creditor.id)
                .where(Case.id == case_id)
            ).scalar_one()
        )
        decision = evaluate_deferral(on=on, days=days, policy=policy)
        if decision.route is Route.REVIEW:
            # A second request on the same day joins the review already queued.
            queue_outbox(
                conn,
                [
                    outbox_row(
                        case_id,
                        on,
                        "review",
                        "agent",
                        "deferral_review",
                        f"deferral-review:{case_id}:{on.isoformat()}",
                        {"days": days, "reasons": list(decision.reasons)},
                    )
                ],
            )
            conn.execute(
                insert(Event).values(
                    **event_row(
                        case_id,
                        on,
                        at,
                        actor,
                        "deferral_requested",
                        "deferral longer than policy: an agent decides",
                        {"days": days, "reasons": "; ".join(decision.reasons)},
                    )
                )
            )
            return {"reference": reference, "status": "review", "reasons": list(decision.reasons)}
        until = decision.until - timedelta(days=1)
        place_hold_in(
            conn,
            reference,
            HoldKind.DEFERRAL,
            on=on,
            actor=actor,
            reason=reason or f"deferral of {days} days",
            until=until,
            at=at,
        )
        plan_id = _live_plan_of(conn, [case_id])
        moved = 0
        if plan_id is not None:
            rows = conn.execute(
                select(Instalment.id, Instalment.due_date).where(
                    Instalment.plan_id == plan_id,
                    Instalment.status == "open",
                    Instalment.due_date <= until,
                )
            ).all()
            for r in rows:
                conn.execute(
                    update(Instalment)
                    .where(Instalment.id == r.id)
                    .values(due_date=r.due_date + timedelta(days=days))
                )
            moved = len(rows)
        return {
            "reference": reference,
            "status": "granted",
            "until": until.isoformat(),
            "instalments_moved": moved,
        }


def follow_up_plans(conn: Connection, on: date, at: datetime) -> dict[str, int]:
    """The cycle's plan phase: reminders, re-plan offers, breaks and completions.

    One decision per plan and due date (a coordinated plan has one instalment date for all
    its cases), one message per debtor. Cases on hold are left alone: no reminder during a
    dispute, counselling or deferral. Idempotent: it acts on state, and a second run on the
    same date finds nothing new.
    """
    counts = {"reminders": 0, "replan_offers": 0, "broken": 0, "completed": 0}
    plans = conn.execute(select(Plan).where(Plan.status == ACTIVE).order_by(Plan.id)).all()
    if not plans:
        return counts
    plan_ids = [p.id for p in plans]
    inst = conn.execute(
        select(Instalment).where(
            Instalment.plan_id.in_(plan_ids), Instalment.status.in_(("open", "missed"))
        )
    ).all()
    plan_cases: dict[int, list[int]] = defaultdict(list)
    for pid, cid in conn.execute(
        select(PlanCase.plan_id, PlanCase.case_id).where(PlanCase.plan_id.in_(plan_ids))
    ):
        plan_cases[pid].append(cid)
    all_cases = [c for v in plan_cases.values() for c in v]
    held_cases = set(
        conn.execute(
            select(Hold.case_id).where(
                Hold.case_id.in_(all_cases),
                Hold.start <= on,
                (Hold.until.is_(None)) | (Hold.until >= on),
            )
        ).scalars()
    )
    open_cases: set[int] = set()
    policy_of: dict[int, dict[str, Any]] = {}
    for cid, closed, creditor_policy in conn.execute(
        select(Case.id, Case.closed, Creditor.policy)
        .join(Creditor, Creditor.id == Case.creditor_id)
        .where(Case.id.in_(all_cases))
    ):
        policy_of[cid] = creditor_policy or {}
        if not closed:
            open_cases.add(cid)
    by_plan: dict[int, dict[date, list[Any]]] = defaultdict(lambda: defaultdict(list))
    for i in inst:
        by_plan[i.plan_id][i.due_date].append(i)
    events: list[dict[str, Any]] = []
    outbox: list[dict[str, Any]] = []
    for plan in plans:
        cases = sorted(plan_cases[plan.id])
        if not any(c in open_cases for c in cases):
            conn.execute(update(Plan).where(Plan.id == plan.id).values(status="completed"))
            events += [
                event_row(
                    c, on, at, "cycle", "plan_completed", "every instalment paid", {"plan": plan.id}
                )
                for c in cases
            ]
            counts["completed"] += 1
            continue
        if any(c in held_cases for c in cases):
            continue
        policies = [policy_of[c] for c in cases]
        policy = PlanPolicy(
            grace_days=_policy_value(policies, "grace_days", DEFAULTS.grace_days),
            replan_offer_days=_policy_value(
                policies, "replan_offer_days", DEFAULTS.replan_offer_days
            ),
            max_misses=plan.max_misses,
        )
        misses = plan.misses
        for due, rows in sorted(by_plan[plan.id].items()):
            unpaid = sum(r.amount_cents - r.paid_cents for r in rows)
            status = "missed" if any(r.status == "missed" for r in rows) else "open"
            offered = any(r.replan_offered_on is not None for r in rows)
            action = follow_up(
                due=due,
                unpaid_cents=unpaid,
                status=status,
                replan_offered=offered,
                misses_before=misses,
                on=on,
                policy=policy,
            )
            ids = [r.id for r in rows]
            anchor = min(r.case_id for r in rows)
            cur = plan.currency
            if action is FollowUp.REMIND:
                misses += 1
                conn.execute(
                    update(Instalment)
                    .where(Instalment.id.in_(ids), Instalment.status == "open")
                    .values(status="missed", missed_on=on)
                )
                outbox.append(
                    outbox_row(
                        anchor,
                        on,
                        "message",
                        "email",
                        "missed_instalment_friendly",
                        f"{plan.id}:missed:{due}",
                        {
                            "plan": plan.id,
                            "due_date": due.isoformat(),
                            "unpaid": _cents(unpaid, cur),
                        },
                    )
                )
                events += [
                    event_row(
                        c,
                        on,
                        at,
                        "cycle",
                        "instalment_missed",
                        f"instalment due {due.isoformat()} not paid after the grace period "
                        f"(miss {misses} of {plan.max_misses} allowed)",
                        {"plan": plan.id, "due_date": due.isoformat()},
                    )
                    for c in {r.case_id for r in rows}
                ]
                counts["reminders"] += 1
            elif action is FollowUp.OFFER_REPLAN:
                conn.execute(
                    update(Instalment).where(Instalment.id.in_(ids)).values(replan_offered_on=on)
                )
                outbox.append(
                    outbox_row(
                        anchor,
                        on,
                        "message",
                        "email",
                        "offer_replan",
                        f"{plan.id}:replan:{due}",
                        {"plan": plan.id, "due_date": due.isoformat()},
                    )
                )
                events.append(
                    event_row(
                        anchor,
                        on,
                        at,
                        "cycle",
                        "replan_offered",
                        "instalment still unpaid: offered to adjust the plan",
                        {"plan": plan.id},
                    )
                )
                counts["replan_offers"] += 1
            elif action is FollowUp.BREAK:
                misses += 1
                conn.execute(
                    update(Instalment)
                    .where(Instalment.id.in_(ids), Instalment.status == "open")
                    .values(status="missed", missed_on=on)
                )
                conn.execute(update(Plan).where(Plan.id == plan.id).values(misses=misses))
                _break(conn, plan, cases, open_cases, on=on, at=at)
                outbox.append(
                    outbox_row(
                        anchor,
                        on,
                        "message",
                        "email",
                        "plan_ended",
                        f"{plan.id}:broken",
                        {"plan": plan.id},
                    )
                )
                counts["broken"] += 1
                break
        else:
            if misses != plan.misses:
                conn.execute(update(Plan).where(Plan.id == plan.id).values(misses=misses))
    if events:
        conn.execute(insert(Event), events)
    queue_outbox(conn, outbox)
    return counts


def _policy_value(policies: Sequence[dict[str, Any]], key: str, default: int) -> int:
    """The most patient of the creditors' settings (the largest) for a shared plan."""
    values = [int(str(p[key])) for p in policies if key in p]
    return max(values, default=default)


def _break(
    conn: Connection,
    plan: Any,
    cases: Sequence[int],
    open_cases: set[int],
    *,
    on: date,
    at: datetime,
) -> None:
    """A plan breaks after the policy's misses: back to amicable collection, interest runs."""
    reason = f"{plan.max_misses} instalments missed; the plan has ended"
    _end_plan(conn, plan.id, "broken", on=on, at=at, actor="cycle", reason=reason)
    refs = conn.execute(
        select(Case.reference, Case.stage).where(Case.id.in_([c for c in cases if c in open_cases]))
    ).all()
    for r in refs:
        if r.stage == Stage.ARRANGEMENT.value:
            move_case_in(
                conn, r.reference, Stage.AMICABLE, on=on, actor="cycle", reason=reason, at=at
            )
    conn.execute(update(Case).where(Case.id.in_(cases)).values(interest_frozen=False))


def book_plan_payment(
    conn: Connection, plan_id: int, amount_cents: int, on: date, source_ref: str, *, now: datetime
) -> dict[int, int]:
    """One payment for a coordinated plan, split over its cases by what each has due.

    The oldest unpaid instalment date is served first, each case getting its own part of
    it; anything beyond goes pro rata by share. Each part is booked per case (6:43/6:44 BW
    inside the case) with ``source_ref#case``, so a repeated booking is a no-op.
    """
    from respite.services.payments import book_payment

    rows = conn.execute(
        select(
            Instalment.case_id, Instalment.due_date, Instalment.amount_cents, Instalment.paid_cents
        )
        .where(Instalment.plan_id == plan_id, Instalment.status.in_(("open", "missed")))
        .order_by(Instalment.due_date, Instalment.case_id)
    ).all()
    parts: dict[int, int] = defaultdict(int)
    left = amount_cents
    for r in rows:
        if left <= 0:
            break
        take = min(left, r.amount_cents - r.paid_cents)
        parts[r.case_id] += take
        left -= take
    if left > 0:
        anchor = min(parts, default=None) or int(
            conn.execute(select(PlanCase.case_id).where(PlanCase.plan_id == plan_id))
            .scalars()
            .first()
            or 0
        )
        parts[anchor] += left
    juris = dict(
        conn.execute(
            select(Case.id, Creditor.jurisdiction)
            .join(Creditor, Creditor.id == Case.creditor_id)
            .where(Case.id.in_(list(parts)))
        ).all()
    )
    for case_id, cents in parts.items():
        if cents > 0:
            book_payment(
                conn,
                case_id,
                cents,
                on,
                f"{source_ref}#{case_id}",
                now=now,
                jurisdiction=juris[case_id],
            )
    return dict(parts)


def plan_summary(engine: Engine, plan_id: int) -> dict[str, Any]:
    """A plan with its cases and schedule (due dates, amounts, what is paid)."""
    with engine.connect() as conn:
        plan = _plan_row(conn, plan_id)
        cases = conn.execute(
            select(Case.reference, Creditor.name, PlanCase.share_cents, PlanCase.total_cents)
            .join(Case, Case.id == PlanCase.case_id)
            .join(Creditor, Creditor.id == Case.creditor_id)
            .where(PlanCase.plan_id == plan_id)
            .order_by(Case.id)
        ).all()
        inst = conn.execute(
            select(
                Instalment.due_date,
                func.sum(Instalment.amount_cents),
                func.sum(Instalment.paid_cents),
                func.min(Instalment.status),
                func.max(Instalment.status),
            )
            .where(Instalment.plan_id == plan_id)
            .group_by(Instalment.due_date)
            .order_by(Instalment.due_date)
        ).all()
    cur = plan.currency
    return {
        "plan": plan.id,
        "status": plan.status,
        "created_on": plan.created_on.isoformat(),
        "first_due": plan.first_due.isoformat(),
        "months": plan.months,
        "instalment": _cents(plan.instalment_cents, cur),
        "total": _cents(plan.total_cents, cur),
        "interest_frozen": plan.interest_frozen,
        "misses": plan.misses,
        "max_misses": plan.max_misses,
        "proposed_by": plan.proposed_by,
        "decided_by": plan.decided_by,
        "reason": plan.reason,
        "cases": [
            {
                "reference": c.reference,
                "creditor": c.name,
                "share": _cents(c.share_cents, cur),
                "total": _cents(c.total_cents, cur),
            }
            for c in cases
        ],
        "schedule": [
            {
                "due_date": d.isoformat(),
                "amount": _cents(int(a), cur),
                "paid": _cents(int(p), cur),
                "status": hi if lo == hi else f"{lo}/{hi}",
            }
            for d, a, p, lo, hi in inst
        ],
    }
