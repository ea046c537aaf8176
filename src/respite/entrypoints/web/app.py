"""The ASGI application: portal at ``/``, creditor API at ``/api/v1``, console at ``/console``.

``create_app()`` reads the environment (database, settings); tests pass their own engine,
settings and clock. ``respite serve`` runs it with uvicorn.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine
from starlette.exceptions import HTTPException as StarletteHTTPException

from respite.adapters.clock import Clock, SystemClock
from respite.entrypoints.portal.auth import LoginRequired
from respite.entrypoints.web.security import SecurityMiddleware
from respite.entrypoints.web.settings import WebSettings
from respite.entrypoints.web.templating import render
from respite.errors import ConflictError, InputError, NotAllowed, RespiteError

__all__ = ["create_app"]

STATIC = Path(__file__).resolve().parent / "static"
_STATUS = {InputError: 400, NotAllowed: 403, ConflictError: 409}


def _status_of(exc: RespiteError) -> int:
    for kind, status in _STATUS.items():
        if isinstance(exc, kind):
            return status
    return 400


def _error_page(request: Request) -> str:
    path = request.url.path
    return "console/error.html" if path.startswith("/console") else "error.html"


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def create_app(
    engine: Engine | None = None, settings: WebSettings | None = None, clock: Clock | None = None
) -> FastAPI:
    from respite.adapters.db.engine import make_engine
    from respite.entrypoints.api.routes import router as api_router
    from respite.entrypoints.console.routes import router as console_router
    from respite.entrypoints.portal.pay import webhook_router
    from respite.entrypoints.portal.routes import router as portal_router

    settings = settings or WebSettings.from_env()
    app = FastAPI(
        title="Respite",
        version="1.0.0",
        summary="Social debt collection: the creditor API",
        # Only the creditor API is published; the HTML pages are not part of the contract.
        openapi_url="/api/v1/openapi.json",
        docs_url="/api/v1/docs",
        redoc_url=None,
    )
    app.state.engine = engine or make_engine()
    app.state.settings = settings
    app.state.clock = clock or SystemClock()
    app.add_middleware(
        SecurityMiddleware,
        form_origins=settings.form_origins,
        max_form_bytes=settings.max_upload_bytes + 64 * 1024,
    )
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> PlainTextResponse:
        return PlainTextResponse("ok")

    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, exc: LoginRequired) -> Response:
        return RedirectResponse(f"/login?{urlencode({'next': exc.next_path})}", status_code=303)

    @app.exception_handler(RespiteError)
    async def domain_error(request: Request, exc: RespiteError) -> Response:
        status = _status_of(exc)
        if _is_api(request):
            return JSONResponse({"detail": str(exc)}, status_code=status)
        return render(request, _error_page(request), status_code=status, message=str(exc))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if _is_api(request):
            return JSONResponse(
                {"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers
            )
        response = render(
            request, _error_page(request), status_code=exc.status_code, message=exc.detail
        )
        for key, value in (exc.headers or {}).items():
            response.headers[key] = value
        return response

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        if _is_api(request):
            return JSONResponse({"detail": jsonable(exc.errors())}, status_code=422)
        fields = ", ".join(".".join(str(p) for p in e["loc"][1:]) for e in exc.errors())
        return render(
            request,
            _error_page(request),
            status_code=422,
            message=f"Please check: {fields or 'the form'}",
        )

    app.include_router(api_router, prefix="/api/v1")
    app.include_router(console_router, prefix="/console")
    app.include_router(webhook_router)
    app.include_router(portal_router)
    return app


def jsonable(errors: object) -> object:
    from fastapi.encoders import jsonable_encoder

    return jsonable_encoder(errors)
