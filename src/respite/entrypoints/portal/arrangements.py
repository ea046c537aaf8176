"""Portal: income and expenditure (a short wizard and the budget overview with its chart),
the plan offer or an own proposal, deferral, and the satisfaction question.

Thin routes: parse the form, check that the case is the person's, call
:mod:`respite.services.portal_arrangements`, render or redirect (POST → 303 → GET, so
every flow works without JavaScript and a reload never posts twice).

The wizard keeps what was filled in so far in a cookie sealed with the data key
(:mod:`respite.adapters.crypto`: encrypted and authenticated, so it can be neither read
nor altered in the browser), bound to the login session and limited to ``/budget``. Back
links are plain links, and every step shows what was saved before.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from decimal import Decimal
from typing import Annotated, Any

from babel.numbers import get_currency_symbol, get_decimal_symbol
from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup

from respite.adapters.crypto import DecryptionError, open_sealed, seal
from respite.adapters.documents.budget_chart import Bar, budget_chart_svg
from respite.entrypoints.portal.auth import PortalUser, portal_user
from respite.entrypoints.web import deps, sessions
from respite.entrypoints.web.i18n import translator
from respite.entrypoints.web.templating import language_of, render
from respite.errors import ConflictError
from respite.services import portal_arrangements as svc
from respite.services.portal_arrangements import N_

router = APIRouter()

DRAFT_COOKIE = "respite_budget"


# Labels and hints of every category of the statement, and the steps' titles.
CATEGORY_TEXT: dict[str, tuple[str, str | None]] = {
    "wages": (N_("Net wages"), N_("What is paid into your account, after tax.")),
    "benefits": (N_("Benefits"), N_("For example unemployment benefit or social assistance.")),
    "allowances": (
        N_("Allowances"),
        N_("For example rent allowance, healthcare allowance or child benefit."),
    ),
    "pension": (N_("Pension"), None),
    "maintenance": (N_("Maintenance you receive"), N_("Money from an ex-partner.")),
    "other_income": (N_("Other income"), None),
    "housing": (N_("Rent or mortgage"), None),
    "local_taxes": (N_("Local taxes"), N_("Municipal and water board taxes.")),
    "energy": (N_("Gas and electricity"), None),
    "water": (N_("Water"), None),
    "phone_internet": (N_("Phone, internet and TV"), None),
    "insurance": (N_("Insurance"), N_("For example health insurance and home insurance.")),
    "health": (N_("Healthcare costs"), N_("Costs your insurance does not pay.")),
    "transport": (N_("Transport"), N_("Public transport, car or bicycle.")),
    "childcare": (N_("Childcare"), None),
    "education": (N_("School and study costs"), None),
    "other_debts": (N_("Other debts you pay off"), N_("Debts that are not with us.")),
    "other_fixed": (N_("Other fixed costs"), None),
    "food": (N_("Food and drinks"), None),
    "clothing": (N_("Clothes and shoes"), None),
    "personal_care": (N_("Personal care"), N_("For example the hairdresser and toiletries.")),
    "household": (N_("Household items"), N_("For example cleaning products and repairs.")),
    "leisure": (N_("Going out and hobbies"), None),
    "other_flexible": (N_("Other living costs"), None),
}
HOUSING_LABEL = {"rent": N_("Rent"), "own": N_("Mortgage"), "other": N_("Housing costs")}
STEP_TITLE = {
    "household": N_("Your household"),
    "income": N_("Your income"),
    "home": N_("Your home"),
    "fixed": N_("Other fixed costs"),
    "living": N_("Daily living costs"),
}
STEP_INTRO = {
    "income": N_("Fill in what you receive each month."),
    "home": N_("Fill in what your home costs each month."),
    "fixed": N_("Fill in the other costs you pay each month."),
    "living": N_("Fill in about how much you spend each month."),
}
# The statement's remarks in plain words (the service's own texts are for agents).
FLAG_TEXT = {
    "missing_expected": N_("You did not fill in: %(category)s. Is that right?"),
    "below_reference": N_("%(category)s is lower than usual for your household. Is that right?"),
    "above_reference": N_("%(category)s is higher than usual for your household. Is that right?"),
    "fixed_costs_share_high": N_(
        "Your fixed costs are more than half of your income. Is that right?"
    ),
    "no_income": N_("You did not fill in any income. Is that right?"),
    "expenditure_exceeds_income": N_("Your costs are higher than your income. Is that right?"),
}
OTHER_FLAG = N_("Please check the amounts. Is everything right?")


async def _form(request: Request) -> dict[str, str]:
    form = await request.form()
    return {k: v for k, v in form.items() if isinstance(v, str)}


Form = Annotated[dict[str, str], Depends(_form)]
User = Annotated[PortalUser, Depends(portal_user)]


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _not_found() -> HTTPException:
    # Exactly what an unknown reference gets: another person's case is not confirmed.
    return HTTPException(status_code=404)


def _errors(errors: Sequence[svc.FieldError]) -> dict[str, svc.FieldError]:
    return {e.name: e for e in errors}


def _separator(request: Request) -> str:
    return str(get_decimal_symbol(translator(language_of(request)).locale))


def _amount_text(request: Request, cents: int | None) -> str:
    if cents is None:
        return ""
    return translator(language_of(request)).number(Decimal(cents).scaleb(-2))


# -- the wizard's draft -------------------------------------------------------------------


def _sid(user: PortalUser) -> str:
    return hashlib.sha256(user.session_token.encode("ascii")).hexdigest()[:32]


def _load_draft(request: Request, user: PortalUser) -> svc.BudgetDraft:
    raw = request.cookies.get(DRAFT_COOKIE)
    if raw:
        try:
            data = json.loads(open_sealed(raw))
        except (DecryptionError, ValueError):
            data = None
        if isinstance(data, dict) and data.get("sid") == _sid(user):
            return svc.BudgetDraft.from_json(data.get("draft"))
    return svc.draft_from_latest(deps.engine(request), user.person_id)


def _keep_draft(
    response: Response, request: Request, user: PortalUser, draft: svc.BudgetDraft
) -> None:
    response.set_cookie(
        DRAFT_COOKIE,
        seal(json.dumps({"sid": _sid(user), "draft": draft.to_json()})),
        httponly=True,
        samesite="lax",
        secure=sessions.secure(request, deps.settings(request).secure_cookies),
        path="/budget",
    )


def _step_url(step: str, back_to_check: bool = False) -> str:
    return f"/budget/{step}" + ("?back=check" if back_to_check else "")


def _step_page(
    request: Request,
    user: PortalUser,
    step: str,
    draft: svc.BudgetDraft,
    *,
    typed: dict[str, str] | None = None,
    errors: Sequence[svc.FieldError] = (),
) -> HTMLResponse:
    """A wizard step: what was saved before (or what was just typed, with the errors)."""
    index = svc.STEPS.index(step)
    back_to_check = request.query_params.get("back") == "check"
    previous = _step_url(svc.STEPS[index - 1]) if index else "/budget"
    context: dict[str, Any] = {
        "user": user,
        "step_title": STEP_TITLE[step],
        "number": index + 1,
        "steps": len(svc.STEPS) + 1,
        "back_url": "/budget/check" if back_to_check else previous,
        "action": _step_url(step, back_to_check),
        "errors": _errors(errors),
    }
    status = 400 if errors else 200
    if step == "household":
        values = typed or {
            "adults": "" if draft.adults is None else str(draft.adults),
            "children": "" if draft.children is None else str(draft.children),
            "housing": draft.housing or "",
        }
        return render(request, "portal/budget_household.html", status, values=values, **context)
    currency = svc.budget_currency(deps.engine(request), user.person_id)
    return render(
        request,
        "portal/budget_amounts.html",
        status,
        fields=[_amount_field(request, c, draft, typed) for c in svc.STEP_CATEGORIES[step]],
        intro=STEP_INTRO[step],
        symbol=get_currency_symbol(currency.code, translator(language_of(request)).locale),
        **context,
    )


def _amount_field(
    request: Request, category: str, draft: svc.BudgetDraft, typed: dict[str, str] | None
) -> dict[str, str | None]:
    label, hint = CATEGORY_TEXT[category]
    if category == "housing" and draft.housing in HOUSING_LABEL:
        label = HOUSING_LABEL[draft.housing]  # "Rent" or "Mortgage", as answered
    if typed is not None:
        value = typed.get(category, "")
    else:
        value = _amount_text(request, draft.amounts.get(category))
    return {"name": category, "label": label, "hint": hint, "value": value}


# -- budget: overview, wizard, check -------------------------------------------------------


@router.get("/budget")
def budget(request: Request, user: User) -> HTMLResponse:
    """The latest statement with the chart and the table; an invitation without one."""
    view = svc.budget_view(deps.engine(request), user.person_id)
    saved = request.query_params.get("saved") == "1" and view is not None
    t = translator(language_of(request))
    chart = None if view is None else Markup(_chart(view, t))  # noqa: S704 - escaped SVG
    return render(
        request,
        "portal/budget.html",
        user=user,
        view=view,
        chart=chart,
        category_text=CATEGORY_TEXT,
        flashes=[("ok", t.gettext("Your budget is saved."))] if saved else [],
        ask_feedback="budget" if saved else None,
    )


def _chart(view: svc.BudgetView, t: Any) -> str:
    cur = view.currency
    figures = [
        ("income", t.gettext("Income"), view.income_cents),
        ("fixed", t.gettext("Fixed costs"), view.fixed_cents),
        ("living", t.gettext("Daily living costs"), view.living_cents),
        ("protected", t.gettext("Protected by law"), view.protected_cents),
        ("capacity", t.gettext("You can pay"), view.capacity_cents),
    ]
    bars = [Bar(key, label, cents, t.money(cents, cur)) for key, label, cents in figures]
    description = "; ".join(f"{b.label}: {b.amount}" for b in bars)
    return budget_chart_svg(
        bars, title=t.gettext("Your budget per month"), description=description + "."
    )


@router.get("/budget/check")
def budget_check_page(request: Request, user: User) -> Response:
    draft = _load_draft(request, user)
    missing = draft.first_missing_step()
    if missing is not None:
        return _redirect(_step_url(missing))
    return _check_page(request, user, draft)


def _check_page(
    request: Request,
    user: PortalUser,
    draft: svc.BudgetDraft,
    *,
    errors: Sequence[svc.FieldError] = (),
) -> HTMLResponse:
    check = svc.budget_check(
        deps.engine(request), user.person_id, draft, on=deps.business_date(request)
    )
    t = translator(language_of(request))
    remarks = []
    for flag in check.flags:
        label = CATEGORY_TEXT.get(flag["category"], ("", None))[0]
        text = FLAG_TEXT.get(flag["code"], OTHER_FLAG)
        remarks.append(t.gettext(text, category=t.gettext(label)) if label else t.gettext(text))
    sections = [
        (STEP_TITLE[step], step, [(c, draft.amounts.get(c, 0)) for c in svc.STEP_CATEGORIES[step]])
        for step in svc.STEP_CATEGORIES
    ]
    return render(
        request,
        "portal/budget_check.html",
        status_code=400 if errors else 200,
        user=user,
        draft=draft,
        check=check,
        remarks=remarks,
        sections=sections,
        category_text=CATEGORY_TEXT,
        housing_label=HOUSING_LABEL.get(draft.housing or ""),
        errors=_errors(errors),
        number=len(svc.STEPS) + 1,
        steps=len(svc.STEPS) + 1,
    )


@router.post("/budget/check")
def budget_save(request: Request, user: User, form: Form) -> Response:
    draft = _load_draft(request, user)
    missing = draft.first_missing_step()
    if missing is not None:
        return _redirect(_step_url(missing))
    engine, on = deps.engine(request), deps.business_date(request)
    flagged = bool(svc.budget_check(engine, user.person_id, draft, on=on).flags)
    confirmed = form.get("confirm") == "yes"
    if flagged and not confirmed:
        error = svc.FieldError(
            "confirm", N_("Check the amounts, and tick the box if they are right.")
        )
        return _check_page(request, user, draft, errors=[error])
    svc.save_budget(engine, user.person_id, draft, on=on, at=deps.now(request), confirmed=flagged)
    response = _redirect("/budget?saved=1")
    response.delete_cookie(DRAFT_COOKIE, path="/budget")
    return response


@router.get("/budget/{step}")
def budget_step(request: Request, user: User, step: str) -> HTMLResponse:
    if step not in svc.STEPS:
        raise _not_found()
    return _step_page(request, user, step, _load_draft(request, user))


@router.post("/budget/{step}")
def budget_step_save(request: Request, user: User, step: str, form: Form) -> Response:
    if step not in svc.STEPS:
        raise _not_found()
    draft = _load_draft(request, user)
    if step == "household":
        values, errors = svc.parse_household(form)
        if not errors:
            draft.adults, draft.children = values["adults"], values["children"]
            draft.housing = values["housing"]
    else:
        currency = svc.budget_currency(deps.engine(request), user.person_id)
        amounts, errors = svc.parse_amount_step(step, form, currency, _separator(request))
        if not errors:
            for category in svc.STEP_CATEGORIES[step]:
                draft.amounts.pop(category, None)
            draft.amounts.update(amounts)
    if errors:
        return _step_page(request, user, step, draft, typed=form, errors=errors)
    draft.mark_done(step)
    later = svc.STEPS[svc.STEPS.index(step) + 1 :]
    back_to_check = request.query_params.get("back") == "check"
    response = _redirect(_step_url(later[0]) if later and not back_to_check else "/budget/check")
    _keep_draft(response, request, user, draft)
    return response


# -- the plan ---------------------------------------------------------------------------


def _payday(raw: str | None) -> int | None:
    return int(raw) if raw and raw.isdigit() and 1 <= int(raw) <= 31 else None


def _plan_page(
    request: Request,
    user: PortalUser,
    *,
    status_code: int = 200,
    own: str = "",
    errors: Sequence[svc.FieldError] = (),
    notice: str | None = None,
    payday: int | None = None,
) -> HTMLResponse:
    page = svc.plan_page(
        deps.engine(request), user.person_id, on=deps.business_date(request), payday=payday
    )
    t = translator(language_of(request))
    symbol = get_currency_symbol(page.offer.currency, t.locale) if page.offer else ""
    done = request.query_params.get("done")
    flashes = [("warn", t.gettext(notice))] if notice else []
    if done == "active":
        flashes.append(("ok", t.gettext("Your plan is active.")))
    elif done == "review":
        flashes.append(("ok", t.gettext("We have received your proposal.")))
    return render(
        request,
        "portal/plan.html",
        status_code=status_code,
        user=user,
        page=page,
        payday=payday,
        own=own,
        symbol=symbol,
        errors=_errors(errors),
        flashes=flashes,
        reply_days=svc.REVIEW_REPLY_DAYS,
        ask_feedback="plan" if done in ("active", "review") else None,
    )


@router.get("/plan")
def plan(request: Request, user: User) -> HTMLResponse:
    return _plan_page(request, user, payday=_payday(request.query_params.get("payday")))


def _whole(raw: str | None) -> int | None:
    text = (raw or "").strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) < 12 else None


@router.post("/plan")
def plan_choose(request: Request, user: User, form: Form) -> Response:
    """An offered option (``option`` + the ``instalment`` shown) or an own amount (``own``)."""
    engine, on, at = deps.engine(request), deps.business_date(request), deps.now(request)
    payday = _payday(form.get("payday"))
    try:
        if "own" in form:
            currency = svc.offer_currency(engine, user.person_id)
            cents, errors = svc.parse_money("own", form["own"], currency, _separator(request))
            if errors or cents is None:
                errors = errors or [svc.FieldError("own", N_("Fill in the amount you can pay."))]
                return _plan_page(
                    request, user, status_code=400, own=form["own"], errors=errors, payday=payday
                )
            outcome = svc.propose_own(
                engine, user.person_id, on=on, at=at, instalment_cents=cents, payday=payday
            )
        else:
            outcome = svc.choose_option(
                engine,
                user.person_id,
                on=on,
                at=at,
                label=form.get("option", ""),
                instalment_cents=_whole(form.get("instalment")) or 0,
                payday=payday,
            )
    except ConflictError:
        notice = N_("This offer has changed. Please look at it again and choose.")
        return _plan_page(request, user, status_code=409, notice=notice, payday=payday)
    return _redirect("/plan?done=" + ("active" if outcome.status == "active" else "review"))


# -- deferral ---------------------------------------------------------------------------


def _defer_page(
    request: Request,
    user: PortalUser,
    reference: str,
    *,
    status_code: int = 200,
    typed: dict[str, str] | None = None,
    errors: Sequence[svc.FieldError] = (),
) -> HTMLResponse:
    try:
        page = svc.deferral_page(
            deps.engine(request), user.person_id, reference, on=deps.business_date(request)
        )
    except svc.NotFound:
        raise _not_found() from None
    done = request.query_params.get("done")
    return render(
        request,
        "portal/defer.html",
        status_code=status_code,
        user=user,
        page=page,
        done=done,
        values=typed or {},
        errors=_errors(errors),
        reply_days=svc.REVIEW_REPLY_DAYS,
        ask_feedback=f"defer:{page.reference}" if done in ("granted", "review") else None,
    )


@router.get("/cases/{reference}/defer")
def defer(request: Request, user: User, reference: str) -> HTMLResponse:
    return _defer_page(request, user, reference)


@router.post("/cases/{reference}/defer")
def defer_request(request: Request, user: User, reference: str, form: Form) -> Response:
    weeks = _whole(form.get("weeks"))
    reason = form.get("reason", "")
    errors = svc.check_deferral_form(weeks, reason)
    if errors:
        return _defer_page(request, user, reference, status_code=400, typed=form, errors=errors)
    try:
        outcome = svc.request_deferral(
            deps.engine(request),
            user.person_id,
            reference,
            on=deps.business_date(request),
            at=deps.now(request),
            weeks=weeks or 0,
            reason=reason,
        )
    except svc.NotFound:
        raise _not_found() from None
    except ConflictError:
        return _redirect(f"/cases/{reference}/defer")
    return _redirect(f"/cases/{reference}/defer?done={outcome.status}")


# -- the satisfaction question --------------------------------------------------------------


@router.post("/feedback")
def feedback(request: Request, user: User, form: Form) -> Response:
    answer, errors = svc.parse_feedback(form)
    if answer is None:
        return render(
            request,
            "portal/feedback.html",
            status_code=400,
            user=user,
            values=form,
            errors=_errors(errors),
        )
    try:
        svc.record_feedback(
            deps.engine(request),
            user.person_id,
            answer,
            on=deps.business_date(request),
            at=deps.now(request),
        )
    except svc.NotFound:
        raise _not_found() from None
    return _redirect("/feedback/thanks")


@router.get("/feedback/thanks")
def feedback_thanks(request: Request, user: User) -> HTMLResponse:
    thanks = translator(language_of(request)).gettext("Thank you for your answer.")
    return render(request, "portal/feedback_thanks.html", user=user, flashes=[("ok", thanks)])
