"""The portal's routes: each flow in its own module, all behind the CSRF guard."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from respite.entrypoints.portal import arrangements, care, cases, login, pay
from respite.entrypoints.web.security import csrf_protect

router = APIRouter(dependencies=[Depends(csrf_protect)], include_in_schema=False)
for module in (login, cases, pay, arrangements, care):
    router.include_router(module.router)
