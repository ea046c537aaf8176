"""Portal: Dispute with an attachment, I need help (debt-help referral), disclosure of circumstances.

Each flow is a plain form: POST → 303 → a confirmation page (GET ``?sent=``) that asks the
satisfaction question. A form with a mistake comes back with the message beside the field
and what was typed kept (a chosen file cannot be kept: the page says to choose it again).
A case reference that is not the person's answers 404, exactly like an unknown one. The
work is in :mod:`respite.services.portal_care`.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, HTTPException, Request, UploadFile
from fastapi.responses import RedirectResponse, Response

from respite.entrypoints.portal.auth import PortalUser, portal_user
from respite.entrypoints.web import deps
from respite.entrypoints.web.i18n import translator
from respite.entrypoints.web.templating import language_of, render
from respite.services import portal_care
from respite.services.portal_care import FormErrors, OwnCase, Upload

router = APIRouter()

User = Annotated[PortalUser, Depends(portal_user)]


def _messages(request: Request, exc: FormErrors) -> dict[str, str]:
    t = translator(language_of(request))
    return {name: t.gettext(text, **values) for name, (text, values) in exc.errors.items()}


def _see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


# -- dispute ------------------------------------------------------------------------------


def _case(request: Request, user: PortalUser, ref: str) -> tuple[OwnCase, date | None]:
    """The person's case and the start of its open dispute; 404 when it is not theirs."""
    with deps.engine(request).connect() as conn:
        case = portal_care.own_case(conn, user.person_id, ref)
        if case is None:
            raise HTTPException(status_code=404)
        since = portal_care.open_dispute_since(conn, case.id, deps.business_date(request))
    return case, since


def _dispute_page(
    request: Request,
    user: PortalUser,
    case: OwnCase,
    since: date | None,
    status: int = 200,
    **ctx: Any,
) -> Response:
    return render(
        request,
        "portal/dispute.html",
        status_code=status,
        user=user,
        case=case,
        since=since,
        reasons=portal_care.DISPUTE_REASONS,
        max_text=portal_care.MAX_TEXT,
        max_mb=max(1, round(deps.settings(request).max_upload_bytes / (1024 * 1024))),
        values=ctx.pop("values", {}),
        errors=ctx.pop("errors", {}),
        **ctx,
    )


@router.get("/cases/{ref}/dispute")
def dispute_form(request: Request, ref: str, user: User, sent: str | None = None) -> Response:
    case, since = _case(request, user, ref)
    if sent in ("new", "added") and since is not None:
        return render(
            request,
            "portal/dispute_sent.html",
            user=user,
            case=case,
            added=sent == "added",
            reply_by=since + timedelta(days=portal_care.REPLY_DAYS),
            ask_feedback="dispute",
        )
    return _dispute_page(request, user, case, since)


@router.post("/cases/{ref}/dispute")
def dispute_submit(
    request: Request,
    ref: str,
    user: User,
    reason: Annotated[str, Form()] = "",
    explanation: Annotated[str, Form()] = "",
    attachment: Annotated[UploadFile | None, File()] = None,
) -> Response:
    case, since = _case(request, user, ref)
    if case.closed:
        return _dispute_page(request, user, case, since, 409)
    settings = deps.settings(request)
    upload = None if attachment is None else Upload(attachment.filename, attachment.file)
    try:
        filed = portal_care.file_dispute(
            deps.engine(request),
            user.person_id,
            case.reference,
            reason=reason,
            explanation=explanation,
            upload=upload,
            upload_dir=settings.upload_dir,
            max_upload_bytes=settings.max_upload_bytes,
            on=deps.business_date(request),
            at=deps.now(request),
        )
    except FormErrors as exc:
        values = {"reason": reason, "explanation": explanation}
        errors = _messages(request, exc)
        return _dispute_page(
            request, user, case, since, 400, values=values, errors=errors, had_file=bool(upload)
        )
    return _see_other(f"/cases/{filed.reference}/dispute?sent={'added' if filed.added else 'new'}")


# -- I need help --------------------------------------------------------------------------


def _help_page(request: Request, user: PortalUser, status: int = 200, **ctx: Any) -> Response:
    with deps.engine(request).connect() as conn:
        state = portal_care.help_state(conn, user.person_id)
    referral = state.referral
    sent = bool(ctx.pop("sent", False)) and referral is not None
    return render(
        request,
        "portal/help_sent.html" if sent else "portal/help.html",
        status_code=status,
        user=user,
        contact=state.contact,
        referral=referral,
        referred_on=date.fromisoformat(referral["created_on"]) if referral else None,
        ask_feedback="help" if sent else None,
        errors=ctx.pop("errors", {}),
    )


@router.get("/help")
def help_page(request: Request, user: User, sent: str | None = None) -> Response:
    return _help_page(request, user, sent=bool(sent))


@router.post("/help")
def help_submit(request: Request, user: User, consent: Annotated[str, Form()] = "") -> Response:
    try:
        with deps.engine(request).begin() as conn:
            result = portal_care.ask_for_help(
                conn,
                user.person_id,
                consent=consent == "yes",
                on=deps.business_date(request),
                at=deps.now(request),
                client=deps.client_address(request),
            )
    except FormErrors as exc:
        return _help_page(request, user, 400, errors=_messages(request, exc))
    # Already referred: the help page says since when, instead of a new confirmation.
    return _see_other("/help?sent=1" if result["created"] else "/help")


# -- circumstances ------------------------------------------------------------------------


def _circumstances_page(
    request: Request, user: PortalUser, status: int = 200, **ctx: Any
) -> Response:
    ctx.setdefault("values", {"categories": [], "text": ""})
    ctx.setdefault("errors", {})
    return render(
        request,
        "portal/circumstances.html",
        status_code=status,
        user=user,
        categories=portal_care.CIRCUMSTANCES,
        max_text=portal_care.MAX_TEXT,
        **ctx,
    )


@router.get("/circumstances")
def circumstances_form(request: Request, user: User, sent: str | None = None) -> Response:
    if sent:
        with deps.engine(request).connect() as conn:
            disclosed = portal_care.has_disclosed(conn, user.person_id)
        if disclosed:
            return render(
                request,
                "portal/circumstances_sent.html",
                user=user,
                ask_feedback="circumstances",
            )
    return _circumstances_page(request, user)


@router.post("/circumstances")
def circumstances_submit(
    request: Request,
    user: User,
    categories: Annotated[list[str] | None, Form()] = None,
    text: Annotated[str, Form()] = "",
    consent: Annotated[str, Form()] = "",
) -> Response:
    try:
        with deps.engine(request).begin() as conn:
            portal_care.disclose_circumstances(
                conn,
                user.person_id,
                categories=categories or [],
                text=text,
                consent=consent == "yes",
                on=deps.business_date(request),
                at=deps.now(request),
                client=deps.client_address(request),
            )
    except FormErrors as exc:
        # Not consenting is a choice, not a mistake: nothing is stored and the page says so.
        only_consent = set(exc.errors) == {"consent"}
        return _circumstances_page(
            request,
            user,
            200 if only_consent else 400,
            values={"categories": categories or [], "text": text},
            errors=_messages(request, exc),
        )
    return _see_other("/circumstances?sent=1")
