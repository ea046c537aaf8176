"""Portal: Dispute with an attachment, I need help (debt-help referral), disclosure of circumstances."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
