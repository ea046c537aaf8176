"""Request-scoped things every route may ask for: the engine, the business date, now."""

from __future__ import annotations

from datetime import date, datetime

from fastapi import Request
from sqlalchemy import Engine

from respite.adapters.clock import Clock
from respite.entrypoints.web.settings import WebSettings

__all__ = ["business_date", "client_address", "clock", "engine", "now", "settings"]


def engine(request: Request) -> Engine:
    value: Engine = request.app.state.engine
    return value


def settings(request: Request) -> WebSettings:
    value: WebSettings = request.app.state.settings
    return value


def clock(request: Request) -> Clock:
    value: Clock = request.app.state.clock
    return value


def business_date(request: Request) -> date:
    """The business date: fixed by RESPITE_BUSINESS_DATE (the demo), else today."""
    fixed = settings(request).business_date
    return fixed if fixed is not None else clock(request).today()


def now(request: Request) -> datetime:
    return clock(request).now()


def client_address(request: Request) -> str:
    # Behind a proxy, uvicorn's --forwarded-allow-ips puts the real client here.
    return request.client.host if request.client else "unknown"
