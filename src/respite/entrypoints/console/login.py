"""Console: log in with a username and password, log out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from respite.entrypoints.console.auth import current_user, safe_next
from respite.entrypoints.console.pages import page
from respite.entrypoints.web import deps, sessions
from respite.services import users

router = APIRouter()

FAILED = "The username or password is not right."
LOCKED = "Too many attempts. Wait 15 minutes and try again, or ask an administrator."


@router.get("/login")
def login_form(request: Request, next: str | None = None) -> Response:
    if current_user(request) is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return page(request, "login.html", None, next=safe_next(next), error=None, username="")


@router.post("/login")
def login(
    request: Request,
    username: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=2000)] = "",
    next: Annotated[str, Form(max_length=500)] = "/console/",
) -> Response:
    now = deps.now(request)
    result = users.authenticate(
        deps.engine(request), username, password, address=deps.client_address(request), now=now
    )
    if result.user is None:
        locked = result.locked_until is not None
        return page(
            request,
            "login.html",
            None,
            status_code=429 if locked else 400,
            next=safe_next(next),
            error=LOCKED if locked else FAILED,
            username=username[:100],
        )
    settings = deps.settings(request)
    with deps.engine(request).begin() as conn:
        sessions.destroy(conn, sessions.token_of(request, "console"))
        token = sessions.create(
            conn,
            "console",
            now=now,
            idle=settings.console_idle,
            user_id=result.user.id,
            language="en",
        )
    response = RedirectResponse(safe_next(next), status_code=303)
    sessions.set_cookie(response, request, "console", token, forced_secure=settings.secure_cookies)
    return response


@router.post("/logout")
def logout(request: Request) -> Response:
    with deps.engine(request).begin() as conn:
        sessions.destroy(conn, sessions.token_of(request, "console"))
    response = RedirectResponse("/console/login?done=logged_out", status_code=303)
    sessions.clear_cookie(response, "console")
    return response
