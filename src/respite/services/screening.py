"""Legal screening of a case, and the four-eyes approval of a legal handover.

:func:`screen_case` gathers every figure the pure screening (:mod:`respite.domain.screening`)
weighs — the case's open balance, the court and bailiff costs for the date
(:mod:`respite.rules.court_costs`), the person's latest income & expenditure statement and
protected minimum, their other open debts with every creditor, holds, debt counselling,
vulnerability, plans, payments, calls — runs it with the creditor's policy and stores the
result as a ``screening`` event on the case (money as integer cents).

:func:`approve_handover` is the second person: someone other than the screener, with
authority for at least the case's open amount, approves a ``proceed`` screening; the case
moves to ``legal_handover`` with a ``legal_handover_approved`` event. The protections are
checked again at approval time — a case that is held, in debt counselling, flagged
vulnerable or in a kept plan is refused, whatever the screening said — and so is the Wki
registration. :func:`decline_handover` sends a screened case back to amicable collection.

:func:`screen_pending` screens, in the nightly cycle, every case that entered
``legal_screening`` and has no screening since it did.

Creditor policy keys read here: ``screening`` (thresholds, see
:class:`~respite.domain.screening.Thresholds`), ``commitments``
(:func:`~respite.domain.compliance.parse_commitments`), ``sector`` (housing, energy,
water, telecom, lender, public, other) and ``claimant`` (``legal`` by default, or
``natural``: the creditor's kind for the court fee).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, and_, exists, func, insert, or_, select

from respite.adapters.db.models import (
    BudgetStatement,
    Case,
    Claim,
    Creditor,
    Debtor,
    Event,
    Hold,
    Payment,
    Plan,
    PlanCase,
)
from respite.domain.affordability import Household, protected_income
from respite.domain.compliance import parse_commitments
from respite.domain.court_costs import Claimant, CourtCosts, court_costs
from respite.domain.lifecycle import HoldKind, Stage
from respite.domain.money import Currency, Money
from respite.domain.screening import (
    Outcome,
    ProtectedStatus,
    Screening,
    ScreeningInputs,
    Sector,
    Thresholds,
    blocking_reasons,
    screen,
)
from respite.errors import ConflictError, InputError, NotAllowed, RuleCoverageError
from respite.rules.affordability import load_protected_income
from respite.rules.court_costs import load_court_costs
from respite.rules.debt_help import repayment_term_months
from respite.services.cases import move_case_in
from respite.services.compliance import case_collection_allowed
from respite.services.people import debtor_ids_of_person, open_case_ids_of_person, person_of
from respite.services.referrals import flagged_vulnerable, open_referral_of
from respite.services.store import event_row

__all__ = [
    "APPROVED",
    "DECLINED",
    "SCREENING",
    "approve_handover",
    "decline_handover",
    "latest_screening",
    "screen_case",
    "screen_pending",
]

SCREENING = "screening"
APPROVED = "legal_handover_approved"
DECLINED = "legal_handover_declined"
CYCLE_ACTOR = "cycle"
# The lowest-income regimes of the protected-minimum rules: the whole income is protected
# (NL: at or below the bijstandsnorm; BE/PL: below the first seizable slice).
MINIMUM_REGIMES = ("low_income", "fully_protected")


@dataclass(frozen=True, slots=True)
class _Case:
    id: int
    reference: str
    stage: str
    stage_since: date
    closed: bool
    debtor_id: int
    debtor_kind: str
    debtor_country: str
    creditor: str
    jurisdiction: str
    policy: dict[str, Any]


def _case(conn: Connection, reference: str) -> _Case:
    row = conn.execute(
        select(
            Case.id,
            Case.reference,
            Case.stage,
            Case.stage_since,
            Case.closed,
            Case.debtor_id,
            Debtor.kind,
            Debtor.country,
            Creditor.name,
            Creditor.jurisdiction,
            Creditor.policy,
        )
        .join(Debtor, Debtor.id == Case.debtor_id)
        .join(Creditor, Creditor.id == Case.creditor_id)
        .where(Case.reference == reference.strip())
    ).first()
    if row is None:
        raise InputError(f"no case with reference {reference!r}", field="CASE_REF")
    return _Case(
        int(row.id),
        row.reference,
        row.stage,
        row.stage_since,
        bool(row.closed),
        int(row.debtor_id),
        row.kind,
        row.country or "",
        row.name,
        row.jurisdiction,
        dict(row.policy or {}),
    )


def _open_amounts(conn: Connection, case_ids: list[int]) -> dict[int, tuple[str, int, int, int]]:
    if not case_ids:
        return {}
    rows = conn.execute(
        select(
            Claim.case_id,
            func.min(Claim.currency),
            func.sum(Claim.open_principal_cents),
            func.sum(Claim.open_interest_cents),
            func.sum(Claim.open_costs_cents),
        )
        .where(Claim.case_id.in_(case_ids))
        .group_by(Claim.case_id)
    )
    return {int(r[0]): (r[1], int(r[2] or 0), int(r[3] or 0), int(r[4] or 0)) for r in rows}


def _gather(conn: Connection, case: _Case, on: date) -> tuple[ScreeningInputs, Thresholds]:
    policy = case.policy
    where = f"creditor {case.creditor}: policy"
    try:
        commitments = parse_commitments(policy.get("commitments"))
        thresholds = Thresholds.parse(policy.get("screening"), commitments)
        sector = Sector.parse(policy.get("sector"))
        claimant = Claimant.parse(str(policy.get("claimant", "legal")))
    except InputError as exc:
        raise InputError(str(exc), field=where) from None
    amounts = _open_amounts(conn, [case.id])
    if case.id not in amounts:
        raise InputError(f"case {case.reference} has no claims", field="CASE_REF")
    code, principal, interest, costs = amounts[case.id]
    cur = Currency.of(code)

    def m(cents: int) -> Money:
        return Money.from_minor_units(cents, cur)

    outstanding = m(principal + interest + costs)
    costs_known: CourtCosts | None = None
    unknown = ""
    try:
        if outstanding.is_positive:
            costs_known = court_costs(
                load_court_costs(case.jurisdiction), outstanding, claimant, on
            )
        else:
            unknown = "nothing is outstanding"
    except InputError as exc:  # out of coverage, above the kanton limit, no table
        unknown = str(exc)

    person = person_of(conn, case.debtor_id)
    ids = debtor_ids_of_person(conn, person)
    statement = conn.execute(
        select(BudgetStatement.__table__)
        .where(BudgetStatement.debtor_id.in_(ids), BudgetStatement.submitted_on <= on)
        .order_by(BudgetStatement.submitted_on.desc(), BudgetStatement.id.desc())
        .limit(1)
    ).first()
    capacity: Money | None = None
    capacity_source = "no income & expenditure statement on file"
    protected = ProtectedStatus.UNKNOWN
    protected_source = capacity_source
    if statement is not None:
        if statement.currency != cur.code:
            raise InputError(
                f"the latest statement is in {statement.currency}, the case in {cur.code}",
                field="statement",
            )
        capacity = m(statement.capacity_cents)
        capacity_source = (
            f"income & expenditure statement {statement.id} of "
            f"{statement.submitted_on.isoformat()} ({statement.source})"
        )
        protected, protected_source = _protected_status(statement, case.debtor_country, cur)

    others = [c for c in open_case_ids_of_person(conn, person) if c != case.id]
    other_amounts = _open_amounts(conn, others)
    other_total = sum(p + i + c for code_, p, i, c in other_amounts.values() if code_ == cur.code)
    creditors = int(
        conn.execute(
            select(func.count(func.distinct(Case.creditor_id))).where(
                Case.id.in_([*others, case.id])
            )
        ).scalar_one()
    )
    active = [
        HoldKind(k)
        for k in conn.execute(
            select(Hold.kind).where(
                Hold.case_id == case.id,
                Hold.start <= on,
                or_(Hold.until.is_(None), Hold.until >= on),
            )
        ).scalars()
    ]
    in_counselling = (
        HoldKind.DEBT_COUNSELLING in active or open_referral_of(conn, person) is not None
    )
    vulnerable = flagged_vulnerable(conn, case.debtor_id, on=on)
    holds = tuple(
        k.value
        for k in HoldKind
        if k in active and k not in (HoldKind.DEBT_COUNSELLING, HoldKind.VULNERABILITY_REVIEW)
    )
    kept_plan = (
        conn.execute(
            select(Plan.id)
            .join(PlanCase, PlanCase.plan_id == Plan.id)
            .where(PlanCase.case_id == case.id, Plan.status == "active")
            .limit(1)
        ).first()
        is not None
    )
    since = on - timedelta(days=365)
    paid = conn.execute(
        select(func.count(Payment.id), func.coalesce(func.sum(Payment.amount_cents), 0)).where(
            Payment.case_id == case.id, Payment.received_on > since, Payment.received_on <= on
        )
    ).one()
    # Any logged call attempt counts as a personal contact attempt (Schuldeiserscoalitie:
    # "een persoonlijke contactpoging" before a summons).
    person_cases = [
        int(c) for c in conn.execute(select(Case.id).where(Case.debtor_id.in_(ids))).scalars()
    ]
    contact = (
        conn.execute(
            select(Event.id)
            .where(
                Event.case_id.in_(person_cases),
                Event.kind == "call_logged",
                Event.business_date <= on,
            )
            .limit(1)
        ).first()
        is not None
    )
    try:
        term = repayment_term_months(case.debtor_country or case.jurisdiction, on)
        term_source = f"debt-help term of {case.debtor_country} on {on.isoformat()} (rules)"
    except InputError as exc:
        term = thresholds.max_plan_months
        term_source = f"{exc}; the policy's max_plan_months is used"
    inputs = ScreeningInputs(
        currency=cur,
        principal=m(principal),
        interest=m(interest),
        costs=m(costs),
        court_costs=costs_known,
        court_costs_unknown=unknown,
        capacity=capacity,
        capacity_source=capacity_source,
        protected=protected,
        protected_source=protected_source,
        other_debts_count=len(others),
        other_debts_total=m(other_total),
        creditors=creditors,
        vulnerable=vulnerable,
        holds=holds,
        in_counselling=in_counselling,
        kept_plan=kept_plan,
        payments_last_12_months=int(paid[0]),
        paid_last_12_months=m(int(paid[1])),
        sector=sector,
        personal_contact=contact,
        commitments=commitments,
        referral_term_months=term,
        referral_term_source=term_source,
    )
    return inputs, thresholds


def _protected_status(statement: Any, country: str, cur: Currency) -> tuple[ProtectedStatus, str]:
    where = f"statement {statement.id}"
    if statement.capacity_cents <= 0:
        return ProtectedStatus.AT_MINIMUM, f"{where}: no capacity above the protected minimum"
    try:
        rule = load_protected_income(country)
        result = protected_income(
            rule,
            Household(statement.household),
            Money.from_minor_units(statement.income_cents, cur),
            statement.submitted_on,
        )
    except (InputError, ValueError) as exc:
        status = (
            ProtectedStatus.AT_MINIMUM
            if statement.income_cents <= statement.protected_cents
            else ProtectedStatus.ABOVE_MINIMUM
        )
        return status, f"{where}: income against the stored protected amount ({exc})"
    if result.regime in MINIMUM_REGIMES:
        return ProtectedStatus.AT_MINIMUM, f"{where}: {result.regime} ({result.sources[0]})"
    return ProtectedStatus.ABOVE_MINIMUM, f"{where}: {result.regime} ({result.sources[0]})"


def screen_case(
    conn: Connection, reference: str, *, on: date, actor: str, at: datetime
) -> dict[str, Any]:
    """Screen the case and store the ``screening`` event; returns the outcome, JSON-ready."""
    if not actor.strip():
        raise InputError("say who screens: the actor must not be blank", field="--by")
    case = _case(conn, reference)
    if case.closed:
        raise NotAllowed(f"case {case.reference} is closed; there is nothing to screen")
    inputs, thresholds = _gather(conn, case, on)
    result = screen(inputs, thresholds)
    _store(conn, case, result, on, actor, at)
    return _report(case, result, on, actor)


def _store(
    conn: Connection, case: _Case, result: Screening, on: date, actor: str, at: datetime
) -> None:
    conn.execute(
        insert(Event).values(
            event_row(
                case.id,
                on,
                at,
                actor.strip(),
                SCREENING,
                result.summary,
                result.event_after(),
                {"stage": case.stage},
            )
        )
    )


def _report(case: _Case, result: Screening, on: date, actor: str) -> dict[str, Any]:
    return {
        "case": case.reference,
        "creditor": case.creditor,
        "stage": case.stage,
        "on": on.isoformat(),
        "screened_by": actor.strip(),
        **result.as_dict(),
    }


def latest_screening(conn: Connection, case_id: int) -> Any:
    """The latest ``screening`` event since the case last entered ``legal_screening``."""
    entered = conn.execute(
        select(func.max(Event.id)).where(
            Event.case_id == case_id,
            Event.kind == "transition",
            Event.after["stage"].as_string() == Stage.LEGAL_SCREENING.value,
        )
    ).scalar()
    query = select(Event.__table__).where(Event.case_id == case_id, Event.kind == SCREENING)
    if entered is not None:
        query = query.where(Event.id > entered)
    return conn.execute(query.order_by(Event.id.desc()).limit(1)).first()


def approve_handover(
    conn: Connection,
    reference: str,
    *,
    on: date,
    approver: str,
    authority: Money,
    at: datetime,
) -> dict[str, Any]:
    """The second person approves a ``proceed``: the case moves to ``legal_handover``.

    Refused (``NotAllowed``) when the case is not in ``legal_screening``, has no ``proceed``
    screening since it entered that stage, was screened by the nightly cycle only (a person
    must screen it), the approver is the screener, the approver's authority is below the
    open amount, the agency may not collect from this debtor (Wki), or — checked again
    now — the case is held, in debt counselling, flagged vulnerable or in a kept plan.
    """
    who = approver.strip()
    if not who:
        raise InputError("say who approves: the approver must not be blank", field="--approver")
    case = _case(conn, reference)
    if case.stage != Stage.LEGAL_SCREENING.value:
        raise NotAllowed(
            f"case {case.reference} is in {case.stage}, not legal_screening: only a screened "
            "case can be handed over"
        )
    event = latest_screening(conn, case.id)
    if event is None:
        raise NotAllowed(
            f"case {case.reference} has not been screened since it entered legal_screening"
        )
    outcome = (event.after or {}).get("outcome")
    if outcome != Outcome.PROCEED.value:
        raise NotAllowed(
            f"the latest screening of {case.reference} ({event.business_date.isoformat()}) is "
            f"{outcome}, not proceed: {event.reason}"
        )
    if event.actor == CYCLE_ACTOR:
        raise NotAllowed(
            f"case {case.reference} was screened by the nightly cycle only: a person must "
            f"screen it (respite screen {case.reference} --by NAME) before a second person "
            "approves"
        )
    if event.actor.strip().casefold() == who.casefold():
        raise NotAllowed(
            f"{who} screened {case.reference}; the approval needs a second person (four eyes)"
        )
    inputs, _ = _gather(conn, case, on)
    blocks = blocking_reasons(inputs)
    if blocks:
        raise NotAllowed(f"case {case.reference} can never be handed over now: {'; '.join(blocks)}")
    permission = case_collection_allowed(conn, case.id, on)
    if not permission.allowed:
        raise NotAllowed(f"case {case.reference}: {permission.reason}")
    outstanding = inputs.outstanding
    if authority.currency is not outstanding.currency:
        raise InputError(
            f"the authority must be in {outstanding.currency.code}", field="--authority"
        )
    if authority < outstanding:
        raise NotAllowed(
            f"{who}'s authority of {authority} is below the open amount of {outstanding} on "
            f"{case.reference}; someone with more authority must approve"
        )
    moved = move_case_in(
        conn,
        case.reference,
        Stage.LEGAL_HANDOVER,
        on=on,
        actor=who,
        reason=f"legal handover approved by {who} after screening {event.id} by {event.actor}",
        at=at,
    )
    after = {
        "screening_event": int(event.id),
        "screened_by": event.actor,
        "approved_by": who,
        "authority_cents": authority.minor_units,
        "outstanding_cents": outstanding.minor_units,
        "upfront_costs_cents": (event.after or {}).get("upfront_costs_cents"),
        "currency": outstanding.currency.code,
    }
    conn.execute(
        insert(Event).values(
            event_row(case.id, on, at, who, APPROVED, "four-eyes approval of a proceed", after)
        )
    )
    return {"case": case.reference, "stage": moved["after"]["stage"], **after}


def decline_handover(
    conn: Connection, reference: str, *, on: date, actor: str, reason: str, at: datetime
) -> dict[str, Any]:
    """Do not hand the case over: back to amicable collection, with the reason."""
    who = actor.strip()
    if not who:
        raise InputError("say who declines: the actor must not be blank", field="--by")
    if not reason.strip():
        raise InputError("say why: the reason must not be blank", field="--reason")
    case = _case(conn, reference)
    if case.stage != Stage.LEGAL_SCREENING.value:
        raise ConflictError(f"case {case.reference} is in {case.stage}, not legal_screening")
    event = latest_screening(conn, case.id)
    after: dict[str, Any] = {"screening_event": None, "outcome": None, "alternative": None}
    if event is not None:
        after = {
            "screening_event": int(event.id),
            "outcome": (event.after or {}).get("outcome"),
            "alternative": (event.after or {}).get("alternative"),
        }
    move_case_in(
        conn,
        case.reference,
        Stage.AMICABLE,
        on=on,
        actor=who,
        reason=f"legal handover declined: {reason.strip()}",
        at=at,
    )
    conn.execute(
        insert(Event).values(event_row(case.id, on, at, who, DECLINED, reason.strip(), after))
    )
    return {"case": case.reference, "stage": Stage.AMICABLE.value, **after}


def screen_pending(
    engine: Engine, on: date, *, at: datetime, shard: int = 0, shards: int = 1
) -> dict[str, int]:
    """Screen the cases that entered ``legal_screening`` and were not screened since.

    A case on hold tonight waits (its stage start moves on with the hold, so it is
    screened once the hold ends). Each case is screened in its own transaction; a case
    whose creditor policy is invalid is counted under ``errors`` and tried again the next
    night. Returns counts per outcome.
    """
    screened = (
        select(Event.id)
        .where(
            Event.case_id == Case.id,
            Event.kind == SCREENING,
            Event.business_date >= Case.stage_since,
        )
        .exists()
    )
    held = exists().where(
        Hold.case_id == Case.id,
        Hold.start <= on,
        or_(Hold.until.is_(None), Hold.until >= on),
    )
    with engine.connect() as conn:
        refs = list(
            conn.execute(
                select(Case.reference)
                .where(
                    and_(
                        Case.stage == Stage.LEGAL_SCREENING.value,
                        Case.closed.is_(False),
                        (Case.id % shards) == shard,
                        ~screened,
                        ~held,
                    )
                )
                .order_by(Case.id)
            ).scalars()
        )
    counts: Counter[str] = Counter()
    for ref in refs:
        try:
            with engine.begin() as conn:
                result = screen_case(conn, ref, on=on, actor=CYCLE_ACTOR, at=at)
            counts[str(result["outcome"])] += 1
        except (InputError, NotAllowed, RuleCoverageError):
            counts["errors"] += 1
    return dict(counts)
