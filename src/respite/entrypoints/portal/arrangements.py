"""Portal: Income and expenditure, the plan offer or proposal, deferral, the budget overview, the satisfaction question."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
