"""Portal: Login with the letter code or a signed link, logout."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
