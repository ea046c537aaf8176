"""Portal: The overview of every debt and the page that explains one case."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
