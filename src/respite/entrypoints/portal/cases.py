"""Portal: The overview of every debt and the page that explains one case.

Both pages only read (:mod:`respite.services.portal_view`). A case reference that is not
the logged-in person's answers exactly like an unknown one: 404, the same page.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import Response

from respite.entrypoints.portal.auth import PortalUser, portal_user
from respite.entrypoints.web import deps
from respite.entrypoints.web.templating import render
from respite.services import portal_view

router = APIRouter()

User = Annotated[PortalUser, Depends(portal_user)]


@router.get("/overview")
def overview(request: Request, user: User) -> Response:
    on = deps.business_date(request)
    with deps.engine(request).connect() as conn:
        view = portal_view.overview(conn, user.person_id, on=on)
    return render(request, "portal/overview.html", user=user, view=view, on=on)


@router.get("/cases/{ref}")
def case_page(request: Request, ref: str, user: User) -> Response:
    on = deps.business_date(request)
    with deps.engine(request).connect() as conn:
        case = portal_view.case_detail(conn, user.person_id, ref, on=on)
    if case is None:
        raise HTTPException(status_code=404)
    return render(request, "portal/case.html", user=user, case=case, on=on)
