"""API routes (placeholder until the API lands)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
