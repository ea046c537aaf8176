"""Portal: Login with the letter code or a signed link, logout.

``POST /login`` checks the case reference and code (:func:`respite.services.portal_access.log_in`:
throttled, the same answer for every kind of failure) and, in the same transaction,
replaces any old session with a new one. ``GET /login/link`` only fills in the form: mail
scanners fetch links, so a GET never logs anyone in. After login the browser goes to the
page it asked for (``next``) when that is a path on this site, else to the overview.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import Connection

from respite.entrypoints.web import deps, sessions
from respite.entrypoints.web.templating import language_of, render
from respite.services import portal_access

router = APIRouter()

HOME = "/overview"


def safe_next(target: str | None) -> str:
    """``target`` if it is a path on this site, else the overview (no open redirect).

    ``//host`` and ``/\\host`` are other sites to a browser, and browsers drop tabs and
    newlines from URLs (``/\\t/host`` becomes ``//host``): anything but a plain local
    path is refused.
    """
    if (
        not target
        or len(target) > 500
        or not target.startswith("/")
        or target.startswith(("//", "/\\"))
        or any(ch.isspace() or ch == "\\" or ord(ch) < 32 or ord(ch) == 127 for ch in target)
        or target.startswith(("/login", "/logout"))
    ):
        return HOME
    return target


def _kept(target: str) -> str:
    """What to carry in the form's hidden ``next`` field: a safe path, or nothing."""
    path = safe_next(target)
    return "" if path == HOME else path


def _logged_in(request: Request) -> bool:
    token = sessions.token_of(request, "portal")
    if not token:
        return False
    idle = deps.settings(request).portal_idle
    with deps.engine(request).begin() as conn:
        row = sessions.load(conn, "portal", token, now=deps.now(request), idle=idle)
    return row is not None


def _form(request: Request, status: int = 200, **ctx: object) -> Response:
    ctx.setdefault("reference", "")
    ctx.setdefault("code", "")
    ctx.setdefault("next", "")
    return render(request, "portal/login.html", status_code=status, **ctx)


@router.get("/")
def home(request: Request) -> Response:
    if _logged_in(request):
        return RedirectResponse(HOME, status_code=303)
    return _form(request)


@router.get("/login")
def login_form(request: Request, next: str = "", logged_out: str = "") -> Response:
    notice = "logged_out" if logged_out else None
    return _form(request, next=_kept(next), notice=notice)


@router.get("/login/link")
def login_link(
    request: Request, ref: str = "", code: str = "", exp: str = "", sig: str = ""
) -> Response:
    found = portal_access.read_link(
        ref,
        code,
        exp,
        sig,
        secret=deps.settings(request).link_secret,
        on=deps.business_date(request),
    )
    if found is None:
        return _form(request, notice="bad_link")
    reference, letter_code = found
    return _form(request, reference=reference, code=letter_code, notice="link")


@router.post("/login")
def log_in(
    request: Request,
    reference: Annotated[str, Form()] = "",
    code: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "",
) -> Response:
    missing = [
        name for name, value in (("reference", reference), ("code", code)) if not value.strip()
    ]
    if missing:
        return _form(request, 400, reference=reference[:40], next=_kept(next), missing=missing)
    with deps.engine(request).begin() as conn:
        token = _start_session(request, conn, reference, code)
    if token is None:
        return _form(request, 400, reference=reference[:40], next=_kept(next), failed=True)
    response = RedirectResponse(safe_next(next), status_code=303)
    forced = deps.settings(request).secure_cookies
    sessions.set_cookie(response, request, "portal", token, forced_secure=forced)
    return response


def _start_session(request: Request, conn: Connection, reference: str, code: str) -> str | None:
    """The new session's token if the reference and code let the person in, else None."""
    who = portal_access.log_in(
        conn,
        reference,
        code,
        client=deps.client_address(request),
        on=deps.business_date(request),
        now=deps.now(request),
    )
    if who is None:
        return None
    sessions.destroy(conn, sessions.token_of(request, "portal"))  # no session fixation
    return sessions.create(
        conn,
        "portal",
        now=deps.now(request),
        idle=deps.settings(request).portal_idle,
        person_id=who.person_id,
        case_id=who.case_id,
        language=language_of(request),
    )


@router.post("/logout")
def log_out(request: Request) -> Response:
    with deps.engine(request).begin() as conn:
        sessions.destroy(conn, sessions.token_of(request, "portal"))
    response = RedirectResponse("/login?logged_out=1", status_code=303)
    sessions.clear_cookie(response, "portal")
    return response
