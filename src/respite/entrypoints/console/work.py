"""Console: the agent's work — start page, call queue, search, the debtor-360 page, holds,
plan proposals and vulnerability notes. Routes parse, authorise (``need``), call
:mod:`respite.services.console` and render; every change ends in a 303 to a page."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response

from respite.entrypoints.console.auth import ConsoleUser, console_user, need
from respite.entrypoints.console.pages import OUTCOME_LABELS, cents, day, done, page
from respite.entrypoints.web import deps
from respite.errors import InputError
from respite.services import console, messaging
from respite.services.authority import Permission, allows

router = APIRouter()
P = Permission

Agent = Annotated[ConsoleUser, Depends(need(P.WORK_QUEUE))]
Searcher = Annotated[ConsoleUser, Depends(need(P.SEARCH))]
Viewer = Annotated[ConsoleUser, Depends(need(P.VIEW_DEBTOR))]
HoldPlacer = Annotated[ConsoleUser, Depends(need(P.PLACE_HOLD))]
HoldLifter = Annotated[ConsoleUser, Depends(need(P.LIFT_HOLD))]
Proposer = Annotated[ConsoleUser, Depends(need(P.PROPOSE_PLAN))]
Recorder = Annotated[ConsoleUser, Depends(need(P.RECORD_VULNERABILITY))]
Reader = Annotated[ConsoleUser, Depends(need(P.READ_VULNERABILITY))]
Text = Annotated[str, Form(max_length=4000)]


def _can(user: ConsoleUser) -> dict[str, bool]:
    return {p.value: allows(user.role, p) for p in Permission}


@router.get("/")
def home(request: Request, user: Annotated[ConsoleUser, Depends(console_user)]) -> Response:
    if user.role == "creditor" and user.creditor_id is not None:
        return RedirectResponse(f"/console/creditors/{user.creditor_id}", status_code=303)
    counts = console.work_counts(deps.engine(request))
    return page(request, "home.html", user, counts=counts, can=_can(user))


@router.get("/calls")
def calls(request: Request, user: Agent) -> Response:
    tasks = console.call_queue(deps.engine(request))
    return page(request, "calls.html", user, tasks=tasks)


@router.get("/calls/{task_id}")
def call(request: Request, task_id: int, user: Agent) -> Response:
    task = console.call_task(
        deps.engine(request),
        task_id,
        on=deps.business_date(request),
        actor=user.actor,
        at=deps.now(request),
        client=deps.client_address(request),
    )
    if task is None:
        raise HTTPException(404, "There is no such call task.")
    return page(request, "call.html", user, task=task, outcomes=OUTCOME_LABELS)


@router.post("/calls/{task_id}")
def log_call(
    request: Request,
    task_id: int,
    user: Agent,
    outcome: Annotated[str, Form(max_length=40)] = "",
    note: Text = "",
) -> Response:
    if outcome not in OUTCOME_LABELS:
        raise InputError("choose how the call went", field="outcome")
    engine = deps.engine(request)
    messaging.log_call(
        engine, task_id, outcome=outcome, agent=user.actor.name, at=deps.now(request), note=note
    )
    person = console.call_person(engine, task_id)
    follow_up = {
        "vulnerability_noticed": ("call_logged_vulnerable", "#vulnerability"),
        "plan": ("call_logged", "#plans"),
        "dispute": ("call_logged", "#holds"),
        "promise_to_pay": ("call_logged", "#cases"),
    }
    if outcome in follow_up and person is not None:
        key, anchor = follow_up[outcome]
        return done(f"/console/debtors/{person}", key, anchor)
    return done("/console/calls", "call_logged")


@router.get("/search")
def search(request: Request, user: Searcher, q: str = "") -> Response:
    results = None
    if q.strip():
        results = console.search(
            deps.engine(request),
            q,
            actor=user.actor,
            at=deps.now(request),
            client=deps.client_address(request),
        )
    return page(request, "search.html", user, q=q, results=results)


@router.get("/cases/{reference}")
def case(request: Request, reference: str, user: Viewer) -> Response:
    with deps.engine(request).connect() as conn:
        person = console.person_of_case(conn, reference)
    if person is None:
        raise HTTPException(404, "There is no case with this reference.")
    return RedirectResponse(f"/console/debtors/{person}", status_code=303)


@router.get("/debtors/{person}")
def debtor(request: Request, person: int, user: Viewer) -> Response:
    engine = deps.engine(request)
    with engine.connect() as conn:
        if not console.person_exists(conn, person):
            raise HTTPException(404, "There is no such person.")
    view = console.debtor_page(
        engine,
        person,
        on=deps.business_date(request),
        actor=user.actor,
        at=deps.now(request),
        client=deps.client_address(request),
    )
    return page(
        request,
        "debtor.html",
        user,
        v=view,
        can=_can(user),
        hold_kinds=console.HOLD_KINDS,
        read_reasons=console.READ_REASONS,
    )


def _case_of(request: Request, reference: str, person: int | None = None) -> str:
    """The 360 page of the case's person; 404 for an unknown case or another person's."""
    with deps.engine(request).connect() as conn:
        found = console.person_of_case(conn, reference)
    if found is None or (person is not None and found != person):
        raise HTTPException(404, "There is no case with this reference.")
    return f"/console/debtors/{found}"


@router.post("/debtors/{person}/holds")
def place_hold(
    request: Request,
    person: int,
    user: HoldPlacer,
    case: Annotated[str, Form(max_length=30)] = "",
    kind: Annotated[str, Form(max_length=40)] = "",
    reason: Text = "",
    until: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    back = _case_of(request, case, person)
    console.place_hold(
        deps.engine(request),
        case,
        kind,
        reason=reason,
        until=day(until, "until"),
        on=deps.business_date(request),
        actor=user.actor,
        at=deps.now(request),
    )
    return done(back, "hold_placed", "#holds")


@router.post("/cases/{reference}/holds/{kind}/lift")
def lift_hold(
    request: Request, reference: str, kind: str, user: HoldLifter, reason: Text = ""
) -> Response:
    back = _case_of(request, reference)
    console.lift_hold(
        deps.engine(request),
        reference,
        kind,
        reason=reason,
        on=deps.business_date(request),
        actor=user.actor,
        at=deps.now(request),
    )
    return done(back, "hold_lifted", "#holds")


@router.post("/debtors/{person}/plans")
def propose_plan(
    request: Request,
    person: int,
    user: Proposer,
    case: Annotated[str, Form(max_length=30)] = "",
    instalment: Annotated[str, Form(max_length=30)] = "",
    all_cases: Annotated[bool, Form()] = False,
    payday: Annotated[str, Form(max_length=2)] = "",
) -> Response:
    back = _case_of(request, case, person)
    result = console.propose_plan(
        deps.engine(request),
        case,
        instalment_cents=cents(instalment, "instalment"),
        all_cases=all_cases,
        payday=int(payday) if payday.strip().isdigit() else None,
        on=deps.business_date(request),
        actor=user.actor,
        at=deps.now(request),
    )
    return done(back, "plan_active" if result["status"] == "active" else "plan_review", "#plans")


@router.post("/debtors/{person}/notes")
def record_note(
    request: Request,
    person: int,
    user: Recorder,
    text: Text = "",
    consent: Annotated[bool, Form()] = False,
    hold: Annotated[bool, Form()] = False,
) -> Response:
    result = console.record_vulnerability(
        deps.engine(request),
        person,
        text,
        consent=consent,
        hold=hold,
        on=deps.business_date(request),
        actor=user.actor,
        at=deps.now(request),
        client=deps.client_address(request),
    )
    key = "note_recorded_held" if result["held"] else "note_recorded"
    return done(f"/console/debtors/{person}", key, "#vulnerability")


@router.post("/notes/{note_id}/read")
def read_note(
    request: Request,
    note_id: int,
    user: Reader,
    reason: Annotated[str, Form(max_length=40)] = "",
    detail: Annotated[str, Form(max_length=300)] = "",
) -> Response:
    # Shown in the answer to the POST, never at a URL: opening a note always needs a
    # reason, and every opening is in the audit log.
    note = console.read_vulnerability(
        deps.engine(request),
        note_id,
        reason=reason,
        detail=detail,
        actor=user.actor,
        at=deps.now(request),
        client=deps.client_address(request),
    )
    return page(request, "note.html", user, note=note)
