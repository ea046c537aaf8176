"""The creditor API, ``/api/v1``: routes parse, authorise and call
:mod:`respite.services.creditor_api` (reads and commands) and :mod:`respite.services.webhooks`.

Every command (POST) takes an optional ``Idempotency-Key`` header: the first successful
response is stored with the key in the command's own transaction and replayed for a
retry of the same request (same method, path, query and body); the same key with another
request is a 409. A request that failed changed nothing and is not stored, so its retry
simply runs again.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, HTTPException, Path, Query, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel
from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError
from starlette.concurrency import run_in_threadpool

from respite.entrypoints.api import schemas
from respite.entrypoints.api.auth import principal, require
from respite.entrypoints.web import deps
from respite.services import creditor_api, webhooks
from respite.services.api_keys import ApiPrincipal
from respite.services.creditor_api import NotFound, PageRequest
from respite.services.intake import IntakeRejected

__all__ = ["MAX_BODY_BYTES", "MAX_JSON_CLAIMS", "router"]

MAX_BODY_BYTES = 64 * 1024 * 1024  # a 100,000-row CSV is about 25 MB
MAX_JSON_CLAIMS = 10_000  # more at once: send CSV


class _ApiRoute(APIRoute):
    """Maps "not yours or not there" to 404 and a rejected claims file to 422 + report."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except NotFound as exc:
                return JSONResponse({"detail": str(exc)}, status_code=404)
            except IntakeRejected as exc:
                body = {"detail": str(exc), **exc.as_dict()}
                return JSONResponse(jsonable_encoder(body), status_code=422)

        return route


_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": schemas.Error, "description": "The request is wrong; `detail` says how"},
    401: {"model": schemas.Error, "description": "Missing, unknown or revoked API key"},
    403: {"model": schemas.Error, "description": "The key lacks the scope this needs"},
}
_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": schemas.Error, "description": "No such object for this creditor"}
}
_CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {
        "model": schemas.Error,
        "description": "Contradicts the current state, or the Idempotency-Key was used "
        "for another request",
    }
}
_TOO_LARGE: dict[int | str, dict[str, Any]] = {
    413: {"model": schemas.Error, "description": f"Body over {MAX_BODY_BYTES} bytes"}
}
_REJECTED: dict[int | str, dict[str, Any]] = {
    422: {
        "model": schemas.IntakeRejected,
        "description": "At least one claim is wrong: every problem of every row, nothing applied",
    }
}

router = APIRouter(route_class=_ApiRoute, responses=_ERRORS)

IdempotencyKey = Annotated[
    str | None,
    # Checked by the service (400), not here: a FastAPI 422 would not match the claims
    # routes' declared 422 (the intake report).
    Header(
        alias="Idempotency-Key",
        description="At most 200 characters. Makes a retry safe: the first response is "
        "replayed; the same key with another request is a 409",
    ),
]
Pages = Annotated[int, Query(ge=1, le=1_000_000, description="1 for the first page")]
PerPage = Annotated[int, Query(ge=1, le=creditor_api.MAX_PER_PAGE)]
CaseRef = Annotated[str, Path(min_length=1, max_length=30, examples=["R000000042"])]
ExternalRef = Annotated[str, Path(min_length=1, max_length=100)]
RowId = Annotated[int, Path(ge=1, le=2**53)]


def _client(request: Request) -> str:
    return deps.client_address(request)


def _command(
    request: Request,
    caller: ApiPrincipal,
    key: str | None,
    body: bytes,
    run: Callable[[Connection], tuple[int, BaseModel]],
) -> JSONResponse:
    """Run a command in one transaction, idempotently when the client sent a key."""
    engine = deps.engine(request)
    fingerprint = creditor_api.request_fingerprint(
        request.method, request.url.path, request.url.query, body
    )
    try:
        with engine.begin() as conn:
            if key is not None:
                replay = creditor_api.replayed_response(conn, caller.creditor_id, key, fingerprint)
                if replay is not None:
                    return JSONResponse(
                        replay[1], replay[0], headers={"Idempotent-Replayed": "true"}
                    )
            status, model = run(conn)
            content = model.model_dump(mode="json", by_alias=True)
            if key is not None:
                creditor_api.remember_response(
                    conn,
                    caller.creditor_id,
                    key,
                    fingerprint,
                    status,
                    content,
                    now=deps.now(request),
                )
    except IntegrityError:
        if key is None:
            raise
        # A twin request with the same key committed first: answer as it did.
        with engine.connect() as conn:
            replay = creditor_api.replayed_response(conn, caller.creditor_id, key, fingerprint)
        if replay is None:
            raise
        return JSONResponse(replay[1], replay[0], headers={"Idempotent-Replayed": "true"})
    return JSONResponse(content, status)


async def _read_limited(request: Request) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise HTTPException(413, f"the body is over {MAX_BODY_BYTES} bytes")
    parts: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise HTTPException(413, f"the body is over {MAX_BODY_BYTES} bytes")
        parts.append(chunk)
    return b"".join(parts)


async def _csv_body(request: Request) -> tuple[bytes, str]:
    """The CSV file from a text/csv body or the ``file`` field of a multipart form."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "multipart/form-data":
        return await _read_limited(request), "claims.csv"
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise HTTPException(413, f"the body is over {MAX_BODY_BYTES} bytes")
    form = await request.form(max_files=1, max_fields=10)
    upload = form.get("file")
    if upload is None or isinstance(upload, str):
        raise HTTPException(400, "file: send the CSV file in a form field called file")
    data = await upload.read(MAX_BODY_BYTES + 1)
    if len(data) > MAX_BODY_BYTES:
        raise HTTPException(413, f"the body is over {MAX_BODY_BYTES} bytes")
    name = (upload.filename or "claims.csv").replace("\\", "/").rsplit("/", 1)[-1][:200]
    return data, name if name.lower().endswith(".csv") else f"{name}.csv"


def _intake(
    request: Request, caller: ApiPrincipal, key: str | None, data: bytes, name: str
) -> JSONResponse:
    on, now = deps.business_date(request), deps.now(request)

    def run(conn: Connection) -> tuple[int, BaseModel]:
        result = creditor_api.submit_claims(
            conn,
            caller.creditor_id,
            data,
            filename=name,
            on=on,
            now=now,
            max_rows=MAX_JSON_CLAIMS if name.endswith(".json") else None,
        )
        return 201, schemas.IntakeAccepted.model_validate(result.as_dict())

    return _command(request, caller, key, data, run)


# --- who am I -------------------------------------------------------------------------


@router.get("/me", response_model=schemas.Me, summary="The calling key: its creditor and scopes")
def me(request: Request, caller: Annotated[ApiPrincipal, Depends(principal)]) -> dict[str, Any]:
    with deps.engine(request).connect() as conn:
        name = creditor_api.creditor_name(conn, caller.creditor_id)
    return {"key_id": caller.key_id, "creditor": name, "scopes": sorted(caller.scopes)}


# --- claims ---------------------------------------------------------------------------


@router.post(
    "/claims",
    status_code=201,
    response_model=schemas.IntakeAccepted,
    responses={**_CONFLICT, **_TOO_LARGE, **_REJECTED},
    summary="Submit one claim or many (JSON)",
    description=(
        'One claim object, a list of claims, or `{"claims": [...]}` (at most '
        f"{MAX_JSON_CLAIMS}; send more as CSV). Every claim is checked; when any is wrong the "
        "answer is 422 with every problem, and nothing is taken in. Claims of one debtor "
        "become one case."
    ),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": schemas.claims_body_schema(MAX_JSON_CLAIMS)}
            },
        }
    },
)
async def submit_claims(
    request: Request,
    caller: Annotated[ApiPrincipal, Depends(require("claims:write"))],
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    data = await _read_limited(request)
    return await run_in_threadpool(_intake, request, caller, idempotency_key, data, "claims.json")


@router.post(
    "/claims/csv",
    status_code=201,
    response_model=schemas.IntakeAccepted,
    responses={**_CONFLICT, **_TOO_LARGE, **_REJECTED},
    summary="Submit a CSV file of claims",
    description=(
        "The CSV of `respite import claims` (UTF-8, a header row, `,` or `;`), as a "
        "`text/csv` body or as the `file` field of a multipart form. All or nothing: when "
        "any row is wrong the answer is 422 with every problem of every row."
    ),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {"file": {"type": "string", "format": "binary"}},
                        "required": ["file"],
                    }
                },
            },
        }
    },
)
async def submit_claims_csv(
    request: Request,
    caller: Annotated[ApiPrincipal, Depends(require("claims:write"))],
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    data, name = await _csv_body(request)
    return await run_in_threadpool(_intake, request, caller, idempotency_key, data, name)


@router.get(
    "/claims/{external_ref}",
    response_model=schemas.ClaimStatus,
    responses=_NOT_FOUND,
    summary="A claim by your own invoice number, with its case",
)
def read_claim(
    request: Request,
    external_ref: ExternalRef,
    caller: Annotated[ApiPrincipal, Depends(require("claims:read"))],
) -> dict[str, Any]:
    with deps.engine(request).connect() as conn:
        return creditor_api.claim_status(conn, caller.creditor_id, external_ref)


@router.post(
    "/claims/{external_ref}/correction",
    response_model=schemas.ClaimStatus,
    responses={**_NOT_FOUND, **_CONFLICT},
    summary="Correct a claim: a lower principal, or the due date",
    description=(
        "The principal can only go down (written off in the ledger as a correction); not "
        "below what was already paid, and not once collection costs were charged. The due "
        "date can be corrected only before interest has accrued. Otherwise 409: the "
        "agency corrects such a claim."
    ),
)
def correct_claim(
    request: Request,
    external_ref: ExternalRef,
    body: schemas.CorrectionIn,
    caller: Annotated[ApiPrincipal, Depends(require("claims:write"))],
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    on, now = deps.business_date(request), deps.now(request)

    def run(conn: Connection) -> tuple[int, BaseModel]:
        status = creditor_api.correct_claim(
            conn,
            caller.creditor_id,
            external_ref,
            amount=body.amount,
            due_date=body.due_date,
            reason=body.reason,
            on=on,
            actor=caller.actor,
            at=now,
        )
        return 200, schemas.ClaimStatus.model_validate(status)

    return _command(request, caller, idempotency_key, _canonical(body), run)


# --- cases ----------------------------------------------------------------------------


@router.get("/cases", response_model=schemas.CaseList, summary="Your cases, oldest first")
def list_cases(
    request: Request,
    caller: Annotated[ApiPrincipal, Depends(require("cases:read"))],
    status: Annotated[schemas.CaseStatusFilter | None, Query()] = None,
    page: Pages = 1,
    per_page: PerPage = 100,
) -> dict[str, Any]:
    with deps.engine(request).connect() as conn:
        return creditor_api.list_cases(
            conn,
            caller.creditor_id,
            status=status.value if status else None,
            page=PageRequest(page, per_page),
        )


@router.get(
    "/cases/{reference}",
    response_model=schemas.CaseStatus,
    responses=_NOT_FOUND,
    summary="A case's status: stage, holds, claims, balances (the read is audited)",
)
def read_case(
    request: Request,
    reference: CaseRef,
    caller: Annotated[ApiPrincipal, Depends(require("cases:read"))],
) -> dict[str, Any]:
    with deps.engine(request).begin() as conn:
        return creditor_api.case_status(
            conn,
            caller.creditor_id,
            reference,
            on=deps.business_date(request),
            actor=caller.actor,
            at=deps.now(request),
            client=_client(request),
        )


@router.get(
    "/cases/{reference}/timeline",
    response_model=schemas.Timeline,
    responses=_NOT_FOUND,
    summary="A case's status events, oldest first (the read is audited)",
)
def read_timeline(
    request: Request,
    reference: CaseRef,
    caller: Annotated[ApiPrincipal, Depends(require("cases:read"))],
    page: Pages = 1,
    per_page: PerPage = 100,
) -> dict[str, Any]:
    with deps.engine(request).begin() as conn:
        return creditor_api.case_timeline(
            conn,
            caller.creditor_id,
            reference,
            page=PageRequest(page, per_page),
            actor=caller.actor,
            at=deps.now(request),
            client=_client(request),
        )


@router.post(
    "/cases/{reference}/recall",
    response_model=schemas.CaseStatus,
    responses={**_NOT_FOUND, **_CONFLICT},
    summary="Recall a case: it closes as recalled, with your reason",
    description=(
        "Allowed in every open stage, also on hold and after payments (collected money is "
        "remitted as usual). 409 when the case is closed or with a court or bailiff."
    ),
)
def recall_case(
    request: Request,
    reference: CaseRef,
    body: schemas.RecallIn,
    caller: Annotated[ApiPrincipal, Depends(require("claims:write"))],
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    on, now = deps.business_date(request), deps.now(request)

    def run(conn: Connection) -> tuple[int, BaseModel]:
        status = creditor_api.recall_case(
            conn,
            caller.creditor_id,
            reference,
            reason=body.reason,
            on=on,
            actor=caller.actor,
            at=now,
        )
        return 200, schemas.CaseStatus.model_validate(status)

    return _command(request, caller, idempotency_key, _canonical(body), run)


# --- money ----------------------------------------------------------------------------


@router.get(
    "/collections",
    response_model=schemas.Collections,
    summary="Money collected on your cases in a period, day by day",
)
def read_collections(
    request: Request,
    caller: Annotated[ApiPrincipal, Depends(require("remittances:read"))],
    date_from: Annotated[date, Query(alias="from", description="First day (YYYY-MM-DD)")],
    date_to: Annotated[date, Query(alias="to", description="Last day, at most 366 days on")],
) -> dict[str, Any]:
    with deps.engine(request).connect() as conn:
        return creditor_api.collections(
            conn, caller.creditor_id, date_from=date_from, date_to=date_to
        )


@router.get(
    "/remittances",
    response_model=schemas.RemittanceList,
    summary="Your remittance statements (payouts), newest first",
)
def list_remittances(
    request: Request,
    caller: Annotated[ApiPrincipal, Depends(require("remittances:read"))],
    page: Pages = 1,
    per_page: PerPage = 100,
) -> dict[str, Any]:
    with deps.engine(request).connect() as conn:
        return creditor_api.remittances(conn, caller.creditor_id, page=PageRequest(page, per_page))


@router.get(
    "/remittances/{remittance_id}",
    response_model=schemas.RemittanceDetail,
    responses=_NOT_FOUND,
    summary="One remittance statement with a line per case",
)
def read_remittance(
    request: Request,
    remittance_id: RowId,
    caller: Annotated[ApiPrincipal, Depends(require("remittances:read"))],
) -> dict[str, Any]:
    with deps.engine(request).connect() as conn:
        return creditor_api.remittance(conn, caller.creditor_id, remittance_id)


# --- webhooks -------------------------------------------------------------------------


@router.get("/webhooks", response_model=schemas.WebhookList, summary="Your webhook endpoints")
def list_webhooks(
    request: Request, caller: Annotated[ApiPrincipal, Depends(require("webhooks:manage"))]
) -> dict[str, Any]:
    with deps.engine(request).connect() as conn:
        return {"items": webhooks.list_endpoints(conn, caller.creditor_id)}


@router.post(
    "/webhooks",
    status_code=201,
    response_model=schemas.WebhookCreated,
    responses=_CONFLICT,
    summary="Register a webhook endpoint; the answer holds its signing secret, once",
    description=(
        "Status events of your cases are POSTed to the URL (public https only) as JSON, "
        'signed: `Respite-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>">`. '
        "A non-2xx answer is retried with exponential backoff."
    ),
)
def add_webhook(
    request: Request,
    body: schemas.WebhookIn,
    caller: Annotated[ApiPrincipal, Depends(require("webhooks:manage"))],
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    now = deps.now(request)

    def run(conn: Connection) -> tuple[int, BaseModel]:
        created = webhooks.add_endpoint(
            conn, caller.creditor_id, body.url, event_kinds=body.event_kinds, now=now
        )
        return 201, schemas.WebhookCreated.model_validate(created)

    return _command(request, caller, idempotency_key, _canonical(body), run)


@router.delete(
    "/webhooks/{webhook_id}",
    status_code=204,
    response_class=Response,
    responses=_NOT_FOUND,
    summary="Remove a webhook endpoint (its pending deliveries are dropped)",
)
def remove_webhook(
    request: Request,
    webhook_id: RowId,
    caller: Annotated[ApiPrincipal, Depends(require("webhooks:manage"))],
) -> Response:
    with deps.engine(request).begin() as conn:
        webhooks.remove_endpoint(conn, caller.creditor_id, webhook_id)
    return Response(status_code=204)


def _canonical(body: BaseModel) -> bytes:
    """The request body as a fingerprint sees it: the parsed values, not their spelling."""
    return body.model_dump_json().encode()
