"""The console's routes: login, the agent's work and oversight, each in its own module.

Every route is behind the CSRF guard and renders in English; every page but the login
depends on ``console_user`` / ``need(permission)`` (see ``auth.py``), which the tests
check for every route and role.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends

from respite.entrypoints.console import login, oversight, work
from respite.entrypoints.web.security import csrf_protect

router = APIRouter(dependencies=[Depends(csrf_protect)], include_in_schema=False)
for module in (login, work, oversight):
    router.include_router(module.router)
