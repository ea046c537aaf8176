"""Portal: Paying: in full or in part at the payment provider, its signed webhook, and the EPC QR."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
