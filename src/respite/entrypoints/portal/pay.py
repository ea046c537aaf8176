"""Portal: Paying: in full or in part at the payment provider, its signed webhook, and the EPC QR."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
# Server-to-server calls from the payment provider: signed with HMAC, not CSRF-guarded
# (the app includes this router outside the portal's CSRF dependency).
webhook_router = APIRouter(include_in_schema=False)
