"""Console routes (placeholder until the console lands)."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from respite.entrypoints.web.security import csrf_protect

router = APIRouter(dependencies=[Depends(csrf_protect)], include_in_schema=False)
