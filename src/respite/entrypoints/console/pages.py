"""Rendering console pages: the layout's menu for the user's role, notices after actions,
and the small parsers the forms share."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse

from respite.adapters.clock import as_utc
from respite.domain.money import Currency, Money, parse_amount
from respite.entrypoints.console.auth import ConsoleUser
from respite.entrypoints.web.templating import render
from respite.errors import InputError
from respite.services.authority import Permission, allows
from respite.services.messaging import CALL_OUTCOMES

__all__ = ["NOTICES", "OUTCOME_LABELS", "cents", "day", "done", "menu", "page"]

P = Permission

# The console's menu: (path, label, any permission that shows it).
MENU: tuple[tuple[str, str, tuple[Permission, ...]], ...] = (
    ("/console/", "Start", ()),
    ("/console/calls", "Call queue", (P.WORK_QUEUE,)),
    ("/console/search", "Search", (P.SEARCH,)),
    ("/console/plans", "Plan reviews", (P.DECIDE_PLAN,)),
    ("/console/creditors", "Creditors", (P.VIEW_DASHBOARDS, P.VIEW_OWN_DASHBOARD)),
    ("/console/reports/social", "Social report", (P.VIEW_SOCIAL_REPORT,)),
    ("/console/audit", "Audit log", (P.VIEW_AUDIT,)),
    ("/console/users", "Users", (P.MANAGE_USERS,)),
)

# What a page says after an action (``?done=<key>``): fixed texts, nothing from the URL.
NOTICES = {
    "call_logged": "The call is logged.",
    "call_logged_vulnerable": "The call is logged. Record what you noticed below.",
    "hold_placed": "The hold is placed.",
    "hold_lifted": "The hold is lifted.",
    "plan_active": "The plan is agreed and active.",
    "plan_review": "The plan is outside policy: it waits for a supervisor's decision.",
    "plan_approved": "The plan is approved and active.",
    "plan_rejected": "The plan is rejected.",
    "note_recorded": "The note is recorded and sealed.",
    "note_recorded_held": "The note is recorded and sealed; the open cases are on hold for review.",
    "user_created": "The user is created.",
    "logged_out": "You are logged out.",
}

_LABELS = {
    "promise_to_pay": "Promise to pay",
    "plan": "Plan agreed or to propose",
    "vulnerability_noticed": "Vulnerability noticed",
    "reached": "Reached, other",
    "voicemail": "Voicemail left",
}
# Every outcome messaging.log_call accepts, in its order, with a label for people.
OUTCOME_LABELS = {o: _LABELS.get(o, o.replace("_", " ").capitalize()) for o in CALL_OUTCOMES}


AGENCY_ZONE = ZoneInfo("Europe/Amsterdam")


def when(value: datetime | None) -> str:
    """A moment in the agency's time zone, to the minute."""
    if value is None:
        return ""
    return as_utc(value).astimezone(AGENCY_ZONE).strftime("%Y-%m-%d %H:%M")


def money(cents: int, currency: str) -> str:
    """Exact cents in the console's English format: EUR 1,234.56."""
    return f"{currency} {Money.from_minor_units(int(cents), Currency.of(currency)).amount:,}"


def number(value: str | int) -> str:
    """An amount string of the services ("1150.00") with thousands separators."""
    return f"{Decimal(value):,}"


def menu(user: ConsoleUser | None, path: str) -> list[dict[str, Any]]:
    if user is None:
        return []
    items = []
    for href, label, perms in MENU:
        if perms and not any(allows(user.role, p) for p in perms):
            continue
        current = path == href if href == "/console/" else path.startswith(href)
        items.append({"href": href, "label": label, "current": current})
    return items


def page(
    request: Request,
    template: str,
    user: ConsoleUser | None,
    *,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    notice = NOTICES.get(request.query_params.get("done", ""))
    return render(
        request,
        f"console/{template}",
        status_code=status_code,
        user=user,
        menu=menu(user, request.url.path),
        notice=notice,
        brand_name="Respite console",
        when=when,
        money=money,
        number=number,
        **context,
    )


def done(path: str, key: str, anchor: str = "") -> RedirectResponse:
    """After a POST: 303 to the page that shows the result, with its notice."""
    return RedirectResponse(f"{path}?done={key}{anchor}", status_code=303)


def cents(value: str, field: str, currency: str = "EUR") -> int:
    try:
        amount = Money(parse_amount(value, Currency.of(currency)), Currency.of(currency))
    except InputError as exc:
        raise InputError(str(exc), field=field) from None
    if amount.minor_units <= 0:
        raise InputError("must be more than zero", field=field)
    return amount.minor_units


def day(value: str | None, field: str) -> date | None:
    if value is None or not value.strip():
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise InputError("a date as YYYY-MM-DD", field=field) from None
