"""The floor for bench/portal.py: a bare FastAPI route on the same server settings."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import HTMLResponse

app = FastAPI()
PAGE = "<!doctype html><html lang=en><title>bare</title><main><h1>ok</h1></main></html>"


@app.get("/")
def bare() -> HTMLResponse:
    return HTMLResponse(PAGE)
