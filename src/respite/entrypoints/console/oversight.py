"""Console: oversight — plan reviews, the audit log and its export, creditor dashboards,
the social report's figures and user management."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from fastapi.responses import RedirectResponse, Response

from respite.entrypoints.console.auth import ConsoleUser, console_user, need
from respite.entrypoints.console.pages import cents, day, done, page
from respite.entrypoints.web import deps
from respite.errors import InputError, NotAllowed
from respite.services import console, users
from respite.services.authority import ROLES, Permission, allows, require, require_creditor
from respite.services.social_report import social_report

router = APIRouter()
P = Permission

Decider = Annotated[ConsoleUser, Depends(need(P.DECIDE_PLAN))]
Auditor = Annotated[ConsoleUser, Depends(need(P.VIEW_AUDIT))]
Exporter = Annotated[ConsoleUser, Depends(need(P.EXPORT_AUDIT))]
Reporter = Annotated[ConsoleUser, Depends(need(P.VIEW_SOCIAL_REPORT))]
Admin = Annotated[ConsoleUser, Depends(need(P.MANAGE_USERS))]
Anyone = Annotated[ConsoleUser, Depends(console_user)]
Field = Annotated[str, Form(max_length=200)]
From = Annotated[str, Query(alias="from", max_length=20)]
To = Annotated[str, Query(max_length=20)]

# The social report reads the timeline of the period; a page answers within a second or
# two for a month of a large agency. Longer periods: `respite report social`.
DEFAULT_DAYS = 30
MAX_DAYS = 366


@router.get("/plans")
def plan_reviews(request: Request, user: Decider) -> Response:
    pending = console.pending_plans(
        deps.engine(request),
        actor=user.actor,
        at=deps.now(request),
        client=deps.client_address(request),
    )
    return page(request, "plans.html", user, pending=pending)


@router.post("/plans/{plan_id}")
def decide_plan(
    request: Request,
    plan_id: int,
    user: Decider,
    decision: Annotated[str, Form(max_length=10)] = "",
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    if decision not in ("approve", "reject"):
        raise InputError("choose approve or reject", field="decision")
    console.decide_plan(
        deps.engine(request),
        plan_id,
        approve=decision == "approve",
        reason=reason,
        on=deps.business_date(request),
        actor=user.actor,
        at=deps.now(request),
    )
    return done("/console/plans", "plan_approved" if decision == "approve" else "plan_rejected")


@router.get("/audit")
def audit_log(
    request: Request,
    user: Auditor,
    since: From = "",
    to: To = "",
    actor: Annotated[str, Query(max_length=100)] = "",
    subject: Annotated[str, Query(max_length=100)] = "",
) -> Response:
    first, last = day(since, "from"), day(to, "to")
    rows = console.audit_log(
        deps.engine(request),
        since=first,
        until=last,
        actor_filter=actor or None,
        subject=subject or None,
        actor=user.actor,
        at=deps.now(request),
        client=deps.client_address(request),
    )
    return page(
        request,
        "audit.html",
        user,
        rows=rows,
        filters={"from": since, "to": to, "actor": actor, "subject": subject},
        can_export=allows(user.role, P.EXPORT_AUDIT),
    )


@router.get("/audit.csv")
def audit_csv(request: Request, user: Exporter, since: From = "", to: To = "") -> Response:
    first, last = day(since, "from"), day(to, "to")
    body, _ = console.export_audit(
        deps.engine(request),
        since=first,
        until=last,
        actor=user.actor,
        at=deps.now(request),
        client=deps.client_address(request),
    )
    name = f"audit-{deps.business_date(request).isoformat()}.csv"
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get("/creditors")
def creditor_list(request: Request, user: Anyone) -> Response:
    if not allows(user.role, P.VIEW_DASHBOARDS):
        if user.creditor_id is not None and allows(user.role, P.VIEW_OWN_DASHBOARD):
            return RedirectResponse(f"/console/creditors/{user.creditor_id}", status_code=303)
        require(user.actor, P.VIEW_DASHBOARDS)
    found = console.creditors(deps.engine(request))
    return page(request, "creditors.html", user, creditors=found)


@router.get("/creditors/{creditor_id}")
def dashboard(request: Request, creditor_id: int, user: Anyone) -> Response:
    require_creditor(user.actor, creditor_id)
    figures = console.creditor_dashboard(
        deps.engine(request), creditor_id, on=deps.business_date(request)
    )
    if figures is None:
        raise HTTPException(404, "There is no such creditor.")
    return page(request, "dashboard.html", user, d=figures)


@router.get("/reports/social")
def social(
    request: Request,
    user: Reporter,
    since: From = "",
    to: To = "",
    creditor: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    engine = deps.engine(request)
    last = day(to, "to") or deps.business_date(request)
    first = day(since, "from") or last - timedelta(days=DEFAULT_DAYS - 1)
    if (last - first).days + 1 > MAX_DAYS:
        raise InputError(f"at most {MAX_DAYS} days; use `respite report social`", field="from")
    known = console.creditors(engine)
    if user.role == "creditor":
        known = [c for c in known if c["id"] == user.creditor_id]
        if not known or creditor not in ("", known[0]["name"]):
            raise NotAllowed("you may only see your own creditor's figures")
        creditor = known[0]["name"]
    report = social_report(engine, first, last, creditor or None)
    return page(
        request,
        "social.html",
        user,
        report=report,
        sections=console.report_sections(report),
        creditors=known,
        chosen=creditor,
        period={"from": first, "to": last},
    )


@router.get("/users")
def user_list(request: Request, user: Admin) -> Response:
    with deps.engine(request).connect() as conn:
        found = users.list_users(conn)
    return page(
        request,
        "users.html",
        user,
        users=found,
        roles=ROLES,
        creditors=console.creditors(deps.engine(request)),
    )


@router.post("/users")
def create_user(
    request: Request,
    user: Admin,
    username: Field = "",
    display_name: Field = "",
    role: Annotated[str, Form(max_length=20)] = "",
    password: Annotated[str, Form(max_length=2000)] = "",
    plan_limit: Annotated[str, Form(max_length=30)] = "0",
    writeoff_limit: Annotated[str, Form(max_length=30)] = "0",
    creditor: Field = "",
) -> Response:
    with deps.engine(request).begin() as conn:
        users.create_user(
            conn,
            username,
            password,
            role=role,
            now=deps.now(request),
            display_name=display_name or None,
            plan_limit_cents=_limit(plan_limit, "plan_limit"),
            writeoff_limit_cents=_limit(writeoff_limit, "writeoff_limit"),
            creditor=creditor or None,
            created_by=user.actor.name,
            client=deps.client_address(request),
        )
    return done("/console/users", "user_created")


def _limit(value: str, field: str) -> int:
    return 0 if value.strip() in ("", "0") else cents(value, field)
