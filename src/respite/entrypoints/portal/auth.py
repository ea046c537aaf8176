"""Who is logged in to the portal: the ``portal_user`` dependency every portal page uses.

A portal session belongs to a *person* (every debtor record of theirs, across creditors),
entered through one case. A page that needs a login depends on ``portal_user``; without a
live session the visitor is sent to the login page (303), and the page they wanted is
remembered only as a path on this site (no open redirect).
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from respite.entrypoints.web import deps, sessions

__all__ = ["LoginRequired", "PortalUser", "portal_user"]


class LoginRequired(Exception):
    """Raised by ``portal_user``; the app answers with a redirect to the login page."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


@dataclass(frozen=True)
class PortalUser:
    person_id: int  # COALESCE(debtors.person_id, debtors.id) of the debtor who logged in
    case_id: int  # the case whose letter code was used
    reference: str  # that case's reference (R000000042)
    language: str | None
    session_token: str


def portal_user(request: Request) -> PortalUser:
    token = sessions.token_of(request, "portal")
    settings = deps.settings(request)
    with deps.engine(request).begin() as conn:
        row = sessions.load(conn, "portal", token, now=deps.now(request), idle=settings.portal_idle)
    reference = row.reference if row is not None else None
    if (
        token is None
        or row is None
        or row.person_id is None
        or row.case_id is None
        or reference is None
    ):
        path = request.url.path
        raise LoginRequired(path if path.startswith("/") and not path.startswith("//") else "/")
    return PortalUser(
        person_id=int(row.person_id),
        case_id=int(row.case_id),
        reference=str(reference),
        language=row.language,
        session_token=token,
    )
