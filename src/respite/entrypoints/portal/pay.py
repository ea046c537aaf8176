"""Portal: Paying: in full or in part at the payment provider, its signed webhook, and the EPC QR.

``GET /cases/{ref}/pay`` shows what is open, the amount form and the bank transfer (EPC QR
and the same details as text); ``POST`` starts a checkout and sends the browser to the
provider (303). The provider sends the browser back to ``GET /payments/{token}`` and posts
the outcome to ``POST /webhooks/payments`` (signed; outside the CSRF guard). The provider
is ``app.state.payment_provider`` when a test or the demo put one there, else an HTTP
client of ``WebSettings.payment_provider_url``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from respite.adapters.payments.base import (
    SIGNATURE_HEADER,
    BadSignature,
    PaymentProvider,
    ProviderUnavailable,
)
from respite.adapters.payments.http_provider import HttpPaymentProvider
from respite.entrypoints.portal.auth import LoginRequired, PortalUser, portal_user
from respite.entrypoints.web import deps
from respite.entrypoints.web.templating import language_of, render
from respite.errors import ConflictError, InputError
from respite.services import portal_payments as service

router = APIRouter()
# Server-to-server calls from the payment provider: signed with HMAC, not CSRF-guarded
# (the app includes this router outside the portal's CSRF dependency).
webhook_router = APIRouter(include_in_schema=False)

MAX_WEBHOOK_BYTES = 64 * 1024
CurrentUser = Annotated[PortalUser, Depends(portal_user)]


@contextmanager
def _provider(request: Request) -> Iterator[PaymentProvider]:
    injected: PaymentProvider | None = getattr(request.app.state, "payment_provider", None)
    if injected is not None:
        yield injected
        return
    settings = deps.settings(request)
    with HttpPaymentProvider(
        settings.payment_provider_url, api_key=settings.payment_provider_key
    ) as client:
        yield client


def _case(request: Request, user: PortalUser, reference: str) -> service.PayableCase:
    try:
        with deps.engine(request).connect() as conn:
            return service.payable_case(conn, user.person_id, reference)
    except service.UnknownCase:
        raise HTTPException(status_code=404, detail="Not Found") from None


def _pay_page(
    request: Request,
    user: PortalUser,
    case: service.PayableCase,
    status_code: int = 200,
    **extra: Any,
) -> Response:
    amount = extra.pop("amount", None)
    if amount is None and case.payable:
        amount = f"{case.open_cents // 100}{_decimal_mark(request)}{case.open_cents % 100:02d}"
    return render(
        request,
        "portal/pay.html",
        status_code=status_code,
        user=user,
        case=case,
        transfer=service.bank_transfer(case),
        amount=amount or "",
        **extra,
    )


def _decimal_mark(request: Request) -> str:
    return "." if language_of(request) == "en" else ","


@router.get("/cases/{reference}/pay")
def pay_page(request: Request, reference: str, user: CurrentUser) -> Response:
    return _pay_page(request, user, _case(request, user, reference))


@router.post("/cases/{reference}/pay")
def start_payment(
    request: Request,
    reference: str,
    user: CurrentUser,
    amount: Annotated[str, Form()] = "",
) -> Response:
    case = _case(request, user, reference)
    base = deps.settings(request).public_url.rstrip("/")
    try:
        with deps.engine(request).begin() as conn, _provider(request) as provider:
            started = service.start_checkout(
                conn,
                provider,
                user.person_id,
                case.reference,
                amount,
                on=deps.business_date(request),
                now=deps.now(request),
                return_base_url=base,
                webhook_url=f"{base}/webhooks/payments",
            )
    except service.AmountError as exc:
        return _pay_page(request, user, case, 400, amount=amount, error=exc)
    except service.NothingToPay:
        return _pay_page(request, user, _case(request, user, reference), 409)
    except ProviderUnavailable:
        return _pay_page(request, user, case, 503, amount=amount, provider_down=True)
    return RedirectResponse(started.redirect_url, status_code=303)


def _user_or_none(request: Request) -> PortalUser | None:
    try:
        return portal_user(request)
    except LoginRequired:
        return None


@router.get("/payments/{token}")
def payment_return(request: Request, token: str) -> Response:
    with deps.engine(request).connect() as conn:
        view = service.checkout_status(conn, token)
    if view is None:
        raise HTTPException(status_code=404, detail="Not Found")
    user = _user_or_none(request)
    owner = user is not None and user.person_id == view.person_id
    return render(
        request,
        "portal/pay_return.html",
        user=user,
        view=view,
        owner=owner,
        ask_feedback="pay" if owner and view.status == "paid" else None,
    )


async def _body(request: Request) -> bytes | None:
    """The request body, or None when it is larger than a webhook can be."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_WEBHOOK_BYTES:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_WEBHOOK_BYTES:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


@webhook_router.post("/webhooks/payments")
async def payment_webhook(request: Request) -> Response:
    raw = await _body(request)
    if raw is None:
        return JSONResponse({"detail": "the webhook is too large"}, status_code=413)
    settings = deps.settings(request)
    try:
        outcome = await run_in_threadpool(
            service.handle_webhook,
            deps.engine(request),
            raw,
            request.headers.get(SIGNATURE_HEADER),
            settings.payment_webhook_secret,
            deps.business_date(request),
            deps.now(request),
        )
    except BadSignature:
        return JSONResponse({"detail": "invalid signature"}, status_code=403)
    except service.UnknownCheckout as exc:
        return JSONResponse({"detail": str(exc)}, status_code=404)
    except InputError as exc:
        return JSONResponse({"detail": str(exc)}, status_code=400)
    except ConflictError as exc:
        return JSONResponse({"detail": str(exc)}, status_code=409)
    return JSONResponse({"status": outcome.status, "checkout": outcome.checkout})
